//! A service scenario's readiness and steps as rows every report shows:
//! one row for readiness and one per step, each with what the baseline and
//! the candidate did side by side, and whether (and how) they differ.
//!
//! Owns the words of those rows (`exit 0`, `not run: ...`, `ready after
//! 120 ms`) for the terminal, HTML, JUnit and Markdown writers. It reads
//! results only; escaping stays with each format.

use serde::Serialize;

use crate::event::ScenarioResult;
use crate::run::observe::{EngineOutcome, Observation, StepObservation};

/// One row: readiness, or a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRow {
    /// `ready`, or the step's name.
    pub name: String,
    /// Whether this is the readiness row.
    pub readiness: bool,
    /// `step`, or `service` for a stack's service (its start, readiness,
    /// exit and output).
    pub kind: &'static str,
    /// What the baseline did, in words.
    pub baseline: String,
    /// What the candidate did, in words.
    pub candidate: String,
    /// The compared fields that differ (`exit_code`, `stdout`...).
    pub fields: Vec<String>,
    /// Every difference of this row is declared.
    pub declared: bool,
    /// The first row (in run order) with a difference.
    pub first: bool,
    /// One side ran the step and the other did not (it refused, or never
    /// got there), while nothing of it was compared: a run refused on one
    /// side is compared as a refusal, not step by step.
    pub uncompared: bool,
}

impl StepRow {
    pub fn differs(&self) -> bool {
        !self.fields.is_empty()
    }

    /// `same`, `differs in exit_code, stderr (declared)`.
    pub fn verdict_text(&self) -> String {
        if !self.differs() && self.uncompared {
            return "not compared: one side did not run it".into();
        }
        if !self.differs() {
            return "same".into();
        }
        let mut t = format!("differs in {}", self.fields.join(", "));
        if self.declared {
            t.push_str(" (declared)");
        }
        if self.first {
            t.push_str(": the first difference");
        }
        t
    }
}

/// The rows of `r` (empty for a one-shot scenario): readiness when either
/// side has it, then each step by name in the baseline's order (a step
/// only the candidate has comes last).
pub fn step_rows(r: &ScenarioResult) -> Vec<StepRow> {
    let (Some(b), Some(c)) = (r.baseline_runs.first(), r.candidate_runs.first()) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    if b.ready.is_some() || c.ready.is_some() {
        let fields: Vec<&crate::judge::compare::FieldDiff> = r
            .diffs
            .iter()
            .filter(|d| d.step.is_none() && d.field == crate::load::scenario::Field::Ready)
            .collect();
        rows.push(StepRow {
            name: "ready".into(),
            readiness: true,
            kind: "ready",
            baseline: ready_text(b),
            candidate: ready_text(c),
            fields: fields.iter().map(|d| d.field.name().to_string()).collect(),
            declared: !fields.is_empty() && fields.iter().all(|d| d.declared),
            first: false,
            uncompared: false,
        });
    }
    let mut names: Vec<&str> = b.steps.iter().map(|s| s.name.as_str()).collect();
    for s in &c.steps {
        if !names.contains(&s.name.as_str()) {
            names.push(&s.name);
        }
    }
    for name in names {
        let diffs: Vec<&crate::judge::compare::FieldDiff> = r
            .diffs
            .iter()
            .filter(|d| d.step.as_deref() == Some(name))
            .collect();
        let find = |o: &Observation| o.steps.iter().find(|s| s.name == name).map(step_text);
        let ran = |o: &Observation| {
            o.steps
                .iter()
                .find(|s| s.name == name)
                .is_some_and(|s| matches!(s.engine, EngineOutcome::Started))
        };
        let uncompared = ran(b) != ran(c);
        let kind = b
            .steps
            .iter()
            .chain(&c.steps)
            .find(|s| s.name == name)
            .map_or("step", |s| s.kind.word());
        rows.push(StepRow {
            name: name.to_string(),
            readiness: false,
            kind,
            baseline: find(b).unwrap_or_else(|| "(no such step)".into()),
            candidate: find(c).unwrap_or_else(|| "(no such step)".into()),
            fields: diffs.iter().map(|d| d.field.name().to_string()).collect(),
            declared: !diffs.is_empty() && diffs.iter().all(|d| d.declared),
            first: false,
            uncompared,
        });
    }
    if let Some(first) = rows.iter_mut().find(|r| r.differs()) {
        first.first = true;
    }
    rows
}

fn ready_text(o: &Observation) -> String {
    match &o.ready {
        Some(r) => format!("{} after {} ms", r.outcome, r.after_ms),
        None if o.refused_message().is_some() => "not started".into(),
        None => "not awaited".into(),
    }
}

/// What one step did, in words: `exit 0 · 92 ms`, or the refusal; for a
/// stack's service, its readiness first: `ready after 40 ms · running
/// (after the last step)`.
pub fn step_text(s: &StepObservation) -> String {
    let text = own_text(s);
    match (&s.ready, &s.engine) {
        (Some(r), EngineOutcome::Started) => {
            format!("{} after {} ms · {text}", r.outcome, r.after_ms)
        }
        _ => text,
    }
}

fn own_text(s: &StepObservation) -> String {
    match (&s.engine, &s.exit_code) {
        (EngineOutcome::Refused { message, .. }, _) if message.starts_with("not run") => {
            message.clone()
        }
        (EngineOutcome::Refused { message, .. }, _) => format!("refused: {message}"),
        // Build steps have no timing (the builder reports none).
        (EngineOutcome::Started, Some(code)) if s.duration_ms == 0 => format!("exit {code}"),
        (EngineOutcome::Started, Some(code)) => format!("exit {code} · {} ms", s.duration_ms),
        (EngineOutcome::Started, None) => format!("ran · {} ms", s.duration_ms),
    }
}

/// The rows as plain text lines (for the terminal and JUnit), or nothing
/// for a one-shot scenario.
pub fn step_lines(r: &ScenarioResult) -> Vec<String> {
    let rows = step_rows(r);
    if rows.is_empty() {
        return Vec::new();
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).min(30);
    let stack = rows.iter().any(|r| r.kind == "service");
    let what = match stack {
        true => "services and steps",
        false => "steps",
    };
    let extra = if stack { 10 } else { 2 };
    let mut out = vec![format!("{what} ({} | {}):", r.baseline, r.candidate)];
    for row in rows {
        let mark = if row.differs() { "≠" } else { "=" };
        let name = if row.readiness {
            format!("{:width$}", row.name, width = width + extra)
        } else if stack {
            let kind = row.kind;
            format!(
                "{:width$}",
                format!("{kind} {:?}", row.name),
                width = width + extra
            )
        } else {
            format!(
                "{:width$}",
                format!("{:?}", row.name),
                width = width + extra
            )
        };
        out.push(format!(
            "  {mark} {name}  {} | {}  ({})",
            row.baseline,
            row.candidate,
            row.verdict_text()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::compare::{FieldDiff, Verdict};
    use crate::load::scenario::Field;
    use crate::run::observe::{Captured, ExitStatus, ReadyObservation, ReadyOutcome};

    fn step(name: &str, exit: Option<i64>) -> StepObservation {
        StepObservation {
            kind: Default::default(),
            ready: None,
            name: name.into(),
            engine: match exit {
                Some(_) => EngineOutcome::Started,
                None => EngineOutcome::Refused {
                    message: "not run: the service had exited".into(),
                    decision: None,
                },
            },
            exit_code: exit.map(ExitStatus::Code),
            stdout: Captured::default(),
            stderr: Captured::default(),
            probe: Default::default(),
            duration_ms: 5,
        }
    }

    fn service(runtime: &str, ready: ReadyOutcome, steps: Vec<StepObservation>) -> Observation {
        let mut o = crate::report::fixture::run(runtime, Some(0), "", "");
        o.ready = Some(ReadyObservation {
            outcome: ready,
            check: "file /run/x".into(),
            after_ms: 40,
            attempts: 2,
            last_check: None,
        });
        o.steps = steps;
        o
    }

    fn diff(step: Option<&str>, field: Field, declared: bool) -> FieldDiff {
        FieldDiff {
            service: false,
            field,
            step: step.map(str::to_string),
            left: "a".into(),
            right: "b".into(),
            unified: String::new(),
            summary: vec![],
            declared,
        }
    }

    #[test]
    fn rows_put_readiness_first_and_mark_the_first_difference() {
        let mut r =
            crate::report::fixture::result("services/s", "userns-remap", Verdict::Divergence);
        r.baseline_runs = vec![service(
            "runc",
            ReadyOutcome::Ready,
            vec![step("a", Some(0)), step("b", Some(0))],
        )];
        r.candidate_runs = vec![service(
            "userns-remap",
            ReadyOutcome::Ready,
            vec![step("a", Some(0)), step("b", None)],
        )];
        r.diffs = vec![diff(Some("b"), Field::Engine, false)];
        let rows = step_rows(&r);
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["ready", "a", "b"]
        );
        assert!(!rows[0].differs() && !rows[1].differs());
        assert_eq!(rows[2].candidate, "not run: the service had exited");
        assert_eq!(
            rows[2].verdict_text(),
            "differs in engine: the first difference"
        );
        assert_eq!(rows[0].baseline, "ready after 40 ms");
        let lines = step_lines(&r);
        assert_eq!(lines[0], "steps (runc | userns-remap):");
        assert!(lines[3].starts_with("  ≠ \"b\""), "{lines:?}");
    }

    #[test]
    fn one_shot_scenarios_have_no_rows() {
        let r = crate::report::fixture::result("a/b", "userns-remap", Verdict::Parity);
        assert!(step_rows(&r).is_empty());
        assert!(step_lines(&r).is_empty());
    }
}
