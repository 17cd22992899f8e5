//! Comparison of normalized observations, and the verdict table.
//!
//! Owns [`Verdict`] (DESIGN.md's table), the per-field diff with `similar`,
//! the matching of differences against a scenario's declared divergences,
//! and the flakiness check across repeats. Pure: no engine, no output.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use similar::TextDiff;

use crate::load::scenario::{Divergence, Field};
use crate::run::observe::{Subject, Texts};

/// The verdict for one scenario under one candidate.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every observed field equal after normalization.
    Parity,
    /// Every difference is declared in `expect.diverges`.
    Expected,
    /// A difference nobody declared.
    Divergence,
    /// A declared divergence did not happen.
    Stale,
    /// Repeats under one runtime disagreed.
    Flaky,
    /// Harness or engine trouble.
    Error,
    /// Runtime unavailable or the host can't run it.
    Skipped,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Parity,
        Verdict::Expected,
        Verdict::Divergence,
        Verdict::Stale,
        Verdict::Flaky,
        Verdict::Error,
        Verdict::Skipped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Parity => "parity",
            Verdict::Expected => "expected",
            Verdict::Divergence => "divergence",
            Verdict::Stale => "stale",
            Verdict::Flaky => "flaky",
            Verdict::Error => "error",
            Verdict::Skipped => "skipped",
        }
    }

    /// Whether the verdict fails `cargo test` and `parity run`.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Verdict::Divergence | Verdict::Stale | Verdict::Flaky | Verdict::Error
        )
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One field that differed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldDiff {
    pub field: Field,
    /// The step the field belongs to; absent for the run's own fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The step is a stack's service.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub service: bool,
    /// Normalized text on the baseline (or the first repeat) side.
    pub left: String,
    /// Normalized text on the candidate (or the disagreeing repeat) side.
    pub right: String,
    /// A unified diff of the two texts.
    pub unified: String,
    /// Line-level summary, e.g. `mknod /tmp/n c 1:3: ok -> EPERM`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary: Vec<String>,
    /// Whether an `expect.diverges` entry covers this field.
    pub declared: bool,
}

/// The outcome of comparing two sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub verdict: Verdict,
    pub diffs: Vec<FieldDiff>,
    /// Why, in words, when the verdict is not self-explanatory.
    pub reason: Option<String>,
}

impl FieldDiff {
    /// For people: `exit_code`, or `step "info": exit_code`.
    pub fn label(&self) -> String {
        match &self.step {
            None => self.field.name().to_string(),
            Some(n) => format!("{} {n:?}: {}", self.word(), self.field),
        }
    }

    /// `step` or `service`.
    pub fn word(&self) -> &'static str {
        match self.service {
            true => "service",
            false => "step",
        }
    }
}

/// Diffs `left` and `right` subject by subject, in run order (the run's
/// own fields, then each step's).
pub fn diff_fields(
    left: &Texts,
    right: &Texts,
    left_name: &str,
    right_name: &str,
) -> Vec<FieldDiff> {
    let subjects: BTreeSet<&Subject> = left.keys().chain(right.keys()).collect();
    let absent = "(not observed)".to_string();
    subjects
        .into_iter()
        .filter_map(|subject| {
            let a = left.get(subject).unwrap_or(&absent);
            let b = right.get(subject).unwrap_or(&absent);
            let field = subject.field;
            (a != b).then(|| FieldDiff {
                field,
                step: subject.step_name().map(str::to_string),
                service: subject.service,
                left: a.clone(),
                right: b.clone(),
                unified: unified(a, b, left_name, right_name),
                summary: summarize(field, a, b),
                declared: false,
            })
        })
        .collect()
}

/// A unified diff with `left_name` and `right_name` as file headers.
pub fn unified(a: &str, b: &str, left_name: &str, right_name: &str) -> String {
    let a = with_newline(a);
    let b = with_newline(b);
    TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(left_name, right_name)
        .to_string()
}

fn with_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

/// For `key = outcome` line fields (syscalls), which keys changed outcome.
fn summarize(field: Field, a: &str, b: &str) -> Vec<String> {
    if field != Field::Syscalls {
        return Vec::new();
    }
    let split = |t: &str| -> BTreeMap<String, BTreeSet<String>> {
        let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for line in t.lines() {
            if let Some((k, v)) = line.rsplit_once(" = ") {
                m.entry(k.to_string()).or_default().insert(v.to_string());
            }
        }
        m
    };
    let (ma, mb) = (split(a), split(b));
    let join = |s: Option<&BTreeSet<String>>| {
        s.map(|s| s.iter().cloned().collect::<Vec<_>>().join("|"))
            .unwrap_or_else(|| "(not called)".into())
    };
    let keys: BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
    keys.into_iter()
        .filter(|k| ma.get(*k) != mb.get(*k))
        .map(|k| format!("{k}: {} -> {}", join(ma.get(k)), join(mb.get(k))))
        .collect()
}

/// The verdict for a candidate given the field differences from the
/// baseline and the divergences declared for that candidate.
pub fn judge(mut diffs: Vec<FieldDiff>, declared: &[&Divergence]) -> Comparison {
    let covers = |d: &Divergence, x: &FieldDiff| d.covers(x.field, x.step.as_deref());
    for diff in &mut diffs {
        diff.declared = declared.iter().any(|d| covers(d, diff));
    }
    let undeclared: Vec<&FieldDiff> = diffs.iter().filter(|d| !d.declared).collect();
    if !undeclared.is_empty() {
        let reason = format!("undeclared difference in {}", describe(&undeclared));
        return Comparison {
            verdict: Verdict::Divergence,
            reason: Some(reason),
            diffs,
        };
    }
    let unhappened: Vec<&&Divergence> = declared
        .iter()
        .filter(|d| !diffs.iter().any(|x| covers(d, x)))
        .collect();
    if let Some(d) = unhappened.first() {
        let fields = d.fields_text();
        return Comparison {
            verdict: Verdict::Stale,
            reason: Some(format!(
                "declared divergence in {fields} did not happen ({})",
                d.reason
            )),
            diffs,
        };
    }
    if diffs.is_empty() {
        Comparison {
            verdict: Verdict::Parity,
            diffs,
            reason: None,
        }
    } else {
        Comparison {
            verdict: Verdict::Expected,
            reason: declared.first().map(|d| d.reason.clone()),
            diffs,
        }
    }
}

/// Differences in run order, for people: the run's own fields, then each
/// step's, saying which step differs first:
/// `ready, exit_code; step "info" first (exit_code, stdout), then step "build" (stderr)`.
pub fn describe(diffs: &[&FieldDiff]) -> String {
    let own: Vec<&str> = diffs
        .iter()
        .filter(|d| d.step.is_none())
        .map(|d| d.field.name())
        .collect();
    let mut steps: Vec<(String, Vec<&str>)> = Vec::new();
    for d in diffs {
        if let Some(name) = &d.step {
            let name = format!("{} {name:?}", d.word());
            match steps.last_mut() {
                Some((n, fields)) if *n == name => fields.push(d.field.name()),
                _ => steps.push((name, vec![d.field.name()])),
            }
        }
    }
    let mut parts = Vec::new();
    if !own.is_empty() {
        parts.push(own.join(", "));
    }
    let step = |(n, f): &(String, Vec<&str>)| format!("{n} ({})", f.join(", "));
    if let Some((first, rest)) = steps.split_first() {
        let mut text = step(first);
        if own.is_empty() || !rest.is_empty() {
            text = format!("{} first ({})", first.0, first.1.join(", "));
        }
        if !rest.is_empty() {
            let rest: Vec<String> = rest.iter().map(step).collect();
            text.push_str(&format!(", then {}", rest.join(", ")));
        }
        parts.push(text);
    }
    parts.join("; ")
}

/// A refusal is compared as such: where the engine refused the run (or a
/// step, or a step was not run) on either side, only that `engine` text
/// is compared; the other side's output is evidence in the results, not
/// further differences.
pub fn compare_refusals_as_such(left: &mut Texts, right: &mut Texts) {
    let engine_of = |t: &Texts, step: &Option<(usize, String)>| {
        t.keys()
            .find(|s| s.field == Field::Engine && &s.step == step)
            .and_then(|s| t.get(s))
            .is_some_and(|e| e.starts_with("refused"))
    };
    let refused: BTreeSet<Option<String>> = left
        .keys()
        .chain(right.keys())
        .filter(|s| s.field == Field::Engine)
        .filter(|s| engine_of(left, &s.step) || engine_of(right, &s.step))
        .map(|s| s.step_name().map(str::to_string))
        .collect();
    if refused.contains(&None) {
        left.retain(|s, _| *s == Subject::from(Field::Engine));
        right.retain(|s, _| *s == Subject::from(Field::Engine));
        return;
    }
    let keep = |s: &Subject| {
        s.field == Field::Engine || !refused.contains(&s.step_name().map(str::to_string))
    };
    left.retain(|s, _| keep(s));
    right.retain(|s, _| keep(s));
}

/// The first disagreement among repeats of one runtime, if any.
pub fn flakiness(runs: &[Texts], runtime: &str) -> Option<Vec<FieldDiff>> {
    let first = runs.first()?;
    runs.iter().enumerate().skip(1).find_map(|(i, run)| {
        let diffs = diff_fields(
            first,
            run,
            &format!("{runtime} run 1"),
            &format!("{runtime} run {}", i + 1),
        );
        (!diffs.is_empty()).then_some(diffs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn obs(pairs: &[(Field, &str)]) -> Texts {
        pairs
            .iter()
            .map(|(f, s)| (Subject::from(*f), s.to_string()))
            .collect()
    }

    fn div(fields: Vec<Field>) -> Divergence {
        Divergence {
            runtime: "cand".into(),
            host: None,
            fields,
            steps: Vec::new(),
            reason: "because".into(),
            link: None,
            known: None,
            source: None,
            covers: Vec::new(),
        }
    }

    #[rstest]
    #[case::equal(&[(Field::ExitCode, "0")], &[(Field::ExitCode, "0")], vec![], Verdict::Parity)]
    #[case::undeclared(&[(Field::ExitCode, "0")], &[(Field::ExitCode, "1")], vec![], Verdict::Divergence)]
    #[case::declared(&[(Field::ExitCode, "0")], &[(Field::ExitCode, "1")], vec![div(vec![Field::ExitCode])], Verdict::Expected)]
    #[case::declared_any(&[(Field::Stdout, "a")], &[(Field::Stdout, "b")], vec![div(vec![])], Verdict::Expected)]
    #[case::wrong_field(&[(Field::Stdout, "a")], &[(Field::Stdout, "b")], vec![div(vec![Field::ExitCode])], Verdict::Divergence)]
    #[case::stale(&[(Field::ExitCode, "0")], &[(Field::ExitCode, "0")], vec![div(vec![Field::ExitCode])], Verdict::Stale)]
    #[case::partly_stale(
        &[(Field::ExitCode, "0"), (Field::Stdout, "a")],
        &[(Field::ExitCode, "1"), (Field::Stdout, "a")],
        vec![div(vec![Field::ExitCode]), div(vec![Field::Stdout])],
        Verdict::Stale
    )]
    #[case::one_entry_many_fields(
        &[(Field::ExitCode, "0"), (Field::Stderr, "")],
        &[(Field::ExitCode, "1"), (Field::Stderr, "")],
        vec![div(vec![Field::ExitCode, Field::Stderr])],
        Verdict::Expected
    )]
    #[case::refusal_on_one_side(
        &[(Field::Engine, "started"), (Field::ExitCode, "0")],
        &[(Field::Engine, "refused: no")],
        vec![],
        Verdict::Divergence
    )]
    fn verdict_table(
        #[case] a: &[(Field, &str)],
        #[case] b: &[(Field, &str)],
        #[case] declared: Vec<Divergence>,
        #[case] verdict: Verdict,
    ) {
        let diffs = diff_fields(&obs(a), &obs(b), "base", "cand");
        let refs: Vec<&Divergence> = declared.iter().collect();
        assert_eq!(judge(diffs, &refs).verdict, verdict);
    }

    fn step_texts(steps: &[(&str, Field, &str)]) -> Texts {
        let mut t = obs(&[(Field::Engine, "started")]);
        for (i, (n, f, v)) in steps.iter().enumerate() {
            t.insert(Subject::step(i / 4, n, *f), v.to_string());
        }
        t
    }

    #[test]
    fn a_step_not_run_on_one_side_is_one_difference() {
        let mut a = step_texts(&[
            ("s", Field::Engine, "started"),
            ("s", Field::ExitCode, "0"),
            ("s", Field::Stdout, "running"),
        ]);
        let mut b = step_texts(&[(
            "s",
            Field::Engine,
            "refused: not run: the service had exited",
        )]);
        compare_refusals_as_such(&mut a, &mut b);
        let d = diff_fields(&a, &b, "a", "b");
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].field, d[0].step.as_deref()),
            (Field::Engine, Some("s"))
        );
        let mut r = obs(&[(Field::Engine, "refused: no"), (Field::ExitCode, "x")]);
        let mut s = obs(&[(Field::Engine, "started"), (Field::ExitCode, "0")]);
        compare_refusals_as_such(&mut r, &mut s);
        assert_eq!(s.len(), 1, "a refused run compares its engine alone");
    }

    #[test]
    fn reasons_name_the_first_step_that_differs() {
        let d = |step: Option<&str>, field: Field| FieldDiff {
            service: false,
            field,
            step: step.map(str::to_string),
            left: String::new(),
            right: String::new(),
            unified: String::new(),
            summary: vec![],
            declared: false,
        };
        let all = [
            d(None, Field::Ready),
            d(Some("info"), Field::ExitCode),
            d(Some("info"), Field::Stdout),
            d(Some("build"), Field::Stderr),
        ];
        let refs: Vec<&FieldDiff> = all.iter().collect();
        assert_eq!(
            describe(&refs),
            "ready; step \"info\" first (exit_code, stdout), then step \"build\" (stderr)"
        );
        assert_eq!(
            describe(&refs[1..3]),
            "step \"info\" first (exit_code, stdout)"
        );
        assert_eq!(describe(&refs[..1]), "ready");
        let v = judge(all.to_vec(), &[]);
        assert!(
            v.reason
                .unwrap()
                .starts_with("undeclared difference in ready; step \"info\" first")
        );
    }

    #[test]
    fn unified_diff_names_both_sides() {
        let d = &diff_fields(
            &obs(&[(Field::Stdout, "a\nb")]),
            &obs(&[(Field::Stdout, "a\nc")]),
            "runc",
            "userns-remap",
        )[0];
        assert!(d.unified.contains("--- runc"), "{}", d.unified);
        assert!(d.unified.contains("+++ userns-remap"));
        assert!(d.unified.contains("-b\n+c\n"), "{}", d.unified);
    }

    #[test]
    fn syscall_outcome_changes_are_summarized() {
        let a = "mknod /tmp/n c 1:3 = ok\nwrite = ok\n";
        let b = "mknod /tmp/n c 1:3 = EPERM\nwrite = ok\nmount /x = EPERM\n";
        let d = &diff_fields(
            &obs(&[(Field::Syscalls, a)]),
            &obs(&[(Field::Syscalls, b)]),
            "a",
            "b",
        )[0];
        assert_eq!(
            d.summary,
            vec![
                "mknod /tmp/n c 1:3: ok -> EPERM",
                "mount /x: (not called) -> EPERM"
            ]
        );
    }

    #[test]
    fn repeats_that_disagree_are_flaky() {
        let runs = vec![
            obs(&[(Field::Stdout, "1")]),
            obs(&[(Field::Stdout, "1")]),
            obs(&[(Field::Stdout, "2")]),
        ];
        let d = flakiness(&runs, "runc").unwrap();
        assert!(d[0].unified.contains("runc run 3"));
        assert!(flakiness(&runs[..2], "runc").is_none());
    }
}
