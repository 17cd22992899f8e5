//! What changed between two runs (`parity compare OLD.json NEW.json`):
//! per scenario and candidate, a verdict that changed, observations that
//! changed under the same verdict, and scenarios that are new or gone.
//!
//! Pure over two [`ResultsDocument`]s; the text form is here, the HTML
//! form renders `changes.html.j2`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::event::ScenarioResult;
use crate::judge::compare::Verdict;
use crate::load::scenario::Field;
use crate::report::ResultsDocument;
use crate::run::observe::Observation;

/// How one scenario under one candidate changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Verdict,
    Observations,
    Added,
    Removed,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub id: String,
    pub candidate: String,
    pub kind: ChangeKind,
    pub old: Option<Verdict>,
    pub new: Option<Verdict>,
    /// Observed fields that changed, as `field (runtime)`.
    pub fields: Vec<String>,
    /// The new run's reason, if any.
    pub reason: Option<String>,
    /// A verdict that became a failure.
    pub worse: bool,
    /// A failure that became a pass.
    pub better: bool,
}

/// Every change from `old` to `new`.
#[derive(Debug, Clone, Serialize)]
pub struct RunChanges {
    pub old_run: String,
    pub new_run: String,
    pub changes: Vec<Change>,
    pub unchanged: usize,
}

impl RunChanges {
    /// Whether any verdict became a failure: `parity compare` exits 1.
    pub fn got_worse(&self) -> bool {
        self.changes.iter().any(|c| c.worse)
    }
}

type Key = (String, String);

fn by_key(doc: &ResultsDocument) -> BTreeMap<Key, &ScenarioResult> {
    doc.results
        .iter()
        .map(|r| ((r.id.clone(), r.candidate.clone()), r))
        .collect()
}

fn field_texts(o: Option<&Observation>) -> BTreeMap<Field, String> {
    o.map(|o| {
        Field::ALL
            .iter()
            .filter_map(|f| o.text(*f).map(|t| (*f, t)))
            .collect()
    })
    .unwrap_or_default()
}

/// Fields whose first-run text changed on either side.
fn changed_fields(a: &ScenarioResult, b: &ScenarioResult) -> Vec<String> {
    let mut out = Vec::new();
    for (side, old, new, runtime) in [
        (
            "baseline",
            a.baseline_runs.first(),
            b.baseline_runs.first(),
            &b.baseline,
        ),
        (
            "candidate",
            a.candidate_runs.first(),
            b.candidate_runs.first(),
            &b.candidate,
        ),
    ] {
        let _ = side;
        let (old, new) = (field_texts(old), field_texts(new));
        for f in Field::ALL {
            if old.get(&f) != new.get(&f) {
                out.push(format!("{} ({runtime})", f.name()));
            }
        }
    }
    out
}

/// Compares two runs.
pub fn compare_runs(old: &ResultsDocument, new: &ResultsDocument) -> RunChanges {
    let (a, b) = (by_key(old), by_key(new));
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for (key, nr) in &b {
        let failure = nr.verdict.is_failure();
        match a.get(key) {
            None => changes.push(Change {
                id: key.0.clone(),
                candidate: key.1.clone(),
                kind: ChangeKind::Added,
                old: None,
                new: Some(nr.verdict),
                fields: Vec::new(),
                reason: nr.reason.clone(),
                worse: failure,
                better: false,
            }),
            Some(or) => {
                let fields = changed_fields(or, nr);
                let kind = if or.verdict != nr.verdict {
                    ChangeKind::Verdict
                } else if !fields.is_empty() {
                    ChangeKind::Observations
                } else {
                    unchanged += 1;
                    continue;
                };
                changes.push(Change {
                    id: key.0.clone(),
                    candidate: key.1.clone(),
                    kind,
                    old: Some(or.verdict),
                    new: Some(nr.verdict),
                    fields,
                    reason: nr.reason.clone(),
                    worse: failure && !or.verdict.is_failure(),
                    better: !failure && or.verdict.is_failure(),
                });
            }
        }
    }
    for (key, or) in &a {
        if !b.contains_key(key) {
            changes.push(Change {
                id: key.0.clone(),
                candidate: key.1.clone(),
                kind: ChangeKind::Removed,
                old: Some(or.verdict),
                new: None,
                fields: Vec::new(),
                reason: None,
                worse: false,
                better: false,
            });
        }
    }
    changes.sort_by(|x, y| {
        (!x.worse, x.kind, &x.id, &x.candidate).cmp(&(!y.worse, y.kind, &y.id, &y.candidate))
    });
    RunChanges {
        old_run: old.run_id.clone(),
        new_run: new.run_id.clone(),
        changes,
        unchanged,
    }
}

/// The changes as plain text for a terminal (controls made visible).
pub fn changes_text(c: &RunChanges) -> String {
    let v = |v: Option<Verdict>| v.map_or("-", |v| v.name());
    let mut out = format!("comparing run {} with run {}\n", c.old_run, c.new_run);
    if c.changes.is_empty() {
        out.push_str(&format!(
            "no changes ({} result(s) unchanged)\n",
            c.unchanged
        ));
        return out;
    }
    for ch in &c.changes {
        let mark = if ch.worse {
            "WORSE "
        } else if ch.better {
            "BETTER"
        } else {
            "      "
        };
        let what = match ch.kind {
            ChangeKind::Verdict => format!("{} -> {}", v(ch.old), v(ch.new)),
            ChangeKind::Observations => format!("{}, observations changed", v(ch.new)),
            ChangeKind::Added => format!("new: {}", v(ch.new)),
            ChangeKind::Removed => format!("removed (was {})", v(ch.old)),
        };
        out.push_str(&format!("{mark} {} [{}]: {what}\n", ch.id, ch.candidate));
        if !ch.fields.is_empty() {
            out.push_str(&format!("         changed: {}\n", ch.fields.join(", ")));
        }
        if ch.worse {
            if let Some(r) = &ch.reason {
                out.push_str(&format!("         {}\n", r.lines().next().unwrap_or("")));
            }
        }
    }
    let worse = c.changes.iter().filter(|x| x.worse).count();
    out.push_str(&format!(
        "{} change(s), {worse} got worse, {} unchanged\n",
        c.changes.len(),
        c.unchanged
    ));
    crate::report::text::visible(&out).into_owned()
}

/// The changes as a self-contained HTML page.
pub fn changes_html(c: &RunChanges) -> Result<String, minijinja::Error> {
    #[derive(Serialize)]
    struct View<'a> {
        title: String,
        changes: &'a RunChanges,
    }
    let title = format!("parity: {} vs {}", c.old_run, c.new_run);
    crate::report::html::render("changes.html.j2", &View { title, changes: c })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn pair() -> (ResultsDocument, ResultsDocument) {
        let old = fixture::sample();
        let mut new = old.clone();
        new.run_id = "20260302-120000-cd34".into();
        for r in &mut new.results {
            match (r.id.as_str(), r.candidate.as_str()) {
                // parity -> divergence: worse
                ("basics/hello", "userns-remap") => {
                    r.verdict = Verdict::Divergence;
                    r.reason = Some("undeclared difference in stdout".into());
                    r.candidate_runs[0].stdout.text = "hullo\n".into();
                }
                // divergence -> parity: better
                ("security/only_in_candidate", "userns-remap") => r.verdict = Verdict::Parity,
                // same verdict, other output
                ("devices/mknod_null", "userns-remap") => {
                    r.candidate_runs[0].stderr.text = "mknod: EPERM\n".into()
                }
                _ => {}
            }
        }
        new.results.retain(|r| r.id != "images/missing");
        new.results
            .push(fixture::result("new/one", "userns-remap", Verdict::Parity));
        (old, new)
    }

    #[test]
    fn changes_are_classified() {
        let (old, new) = pair();
        let c = compare_runs(&old, &new);
        assert!(c.got_worse());
        let kinds: Vec<(&str, ChangeKind, bool)> = c
            .changes
            .iter()
            .map(|x| (x.id.as_str(), x.kind, x.worse))
            .collect();
        assert_eq!(
            kinds,
            [
                ("basics/hello", ChangeKind::Verdict, true),
                ("security/only_in_candidate", ChangeKind::Verdict, false),
                ("devices/mknod_null", ChangeKind::Observations, false),
                ("new/one", ChangeKind::Added, false),
                ("images/missing", ChangeKind::Removed, false),
                ("images/missing", ChangeKind::Removed, false),
            ]
        );
        assert_eq!(c.changes[2].fields, ["stderr (userns-remap)"]);
        let removed: Vec<&str> = c.changes[4..]
            .iter()
            .map(|x| x.candidate.as_str())
            .collect();
        assert_eq!(removed, ["sysbox-runc", "userns-remap"]);
        insta::assert_snapshot!("compare_text_sample", changes_text(&c));
    }

    #[test]
    fn the_same_run_has_no_changes() {
        let doc = fixture::sample();
        let c = compare_runs(&doc, &doc);
        assert!(c.changes.is_empty() && !c.got_worse());
        assert_eq!(c.unchanged, doc.results.len());
    }

    #[test]
    fn a_new_failing_scenario_is_worse_and_a_fixed_one_is_not() {
        let old = fixture::doc_with(&["c"], vec![fixture::result("a", "c", Verdict::Divergence)]);
        let mut new = fixture::doc_with(&["c"], vec![fixture::result("a", "c", Verdict::Error)]);
        assert!(
            !compare_runs(&old, &new).got_worse(),
            "failure to failure is not newly worse"
        );
        new.results.push(fixture::result("b", "c", Verdict::Stale));
        assert!(compare_runs(&old, &new).got_worse());
    }

    #[test]
    fn html_escapes_everything() {
        let (old, mut new) = pair();
        new.results[0].id = fixture::HOSTILE.into();
        let html = changes_html(&compare_runs(&old, &new)).unwrap();
        assert!(
            !html.contains("<script>alert") && !html.contains("<img"),
            "{html}"
        );
        assert!(!html.contains('\0'));
    }
}
