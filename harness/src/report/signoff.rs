//! What a release manager signs off: the runs a report covers, the
//! baseline x candidate columns across them, whether the whole set is
//! ready, what was not covered, and which way each divergence points.
//!
//! Pure functions over [`ResultsDocument`]s; every report format (HTML,
//! JUnit, Markdown) takes its words from here. Nothing here formats markup.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::event::ScenarioResult;
use crate::judge::compare::Verdict;
use crate::report::ResultsDocument;
use crate::run::observe::{EngineOutcome, ExitStatus, Observation};

/// One results document in a report, labelled by its file or run.
#[derive(Debug, Clone)]
pub struct Source {
    pub label: String,
    pub doc: ResultsDocument,
}

impl Source {
    /// A source labelled by its run id.
    pub fn from_doc(doc: ResultsDocument) -> Source {
        Source {
            label: doc.run_id.clone(),
            doc,
        }
    }
}

/// One baseline x candidate pair of one source: a column of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub source: usize,
    pub source_label: String,
    pub baseline: String,
    pub candidate: String,
    /// `sysbox-runc`, or `run-a: sysbox-runc` when several sources.
    pub label: String,
    /// `runc-vs-sysbox-runc`, the libtest kind and JUnit class name.
    pub pair: String,
}

/// The columns of `sources`: each source's candidates in order, then any
/// candidate its results name that its header does not.
pub fn columns(sources: &[Source]) -> Vec<Column> {
    let several = sources.len() > 1;
    let mut out = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let mut names: Vec<&str> = s.doc.candidates.iter().map(String::as_str).collect();
        for r in &s.doc.results {
            if !names.contains(&r.candidate.as_str()) {
                names.push(&r.candidate);
            }
        }
        for c in names {
            out.push(Column {
                source: i,
                source_label: s.label.clone(),
                baseline: s.doc.baseline.clone(),
                candidate: c.to_string(),
                label: if several {
                    format!("{}: {c}", s.label)
                } else {
                    c.to_string()
                },
                pair: format!("{}-vs-{c}", s.doc.baseline),
            });
        }
    }
    out
}

/// The results of one column.
pub fn column_results<'a>(
    sources: &'a [Source],
    col: &Column,
) -> impl Iterator<Item = &'a ScenarioResult> {
    let candidate = col.candidate.clone();
    sources[col.source]
        .doc
        .results
        .iter()
        .filter(move |r| r.candidate == candidate)
}

/// How much of a column actually ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Coverage {
    /// Every scenario ran.
    Covered { ran: usize },
    /// Some scenarios were skipped.
    Partial {
        ran: usize,
        skipped: usize,
        reason: String,
    },
    /// Nothing ran: the candidate was unavailable or the host could not.
    NotCovered { reason: String },
}

/// One column's totals and coverage.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnSummary {
    pub column: Column,
    pub by_verdict: BTreeMap<Verdict, usize>,
    pub failures: usize,
    pub coverage: Coverage,
    /// `sysbox-runc: not covered (skipped: ...)`, in words.
    pub coverage_text: String,
}

/// The verdict of the whole report.
#[derive(Debug, Clone, Serialize)]
pub struct SignOff {
    pub ready: bool,
    /// `READY` or `NOT READY`.
    pub word: &'static str,
    /// Why, in one sentence.
    pub because: String,
    pub failures: usize,
    pub columns: Vec<ColumnSummary>,
}

/// READY when no column has a failure verdict and something ran; skipped
/// columns are listed as not covered either way.
pub fn sign_off(sources: &[Source]) -> SignOff {
    let summaries: Vec<ColumnSummary> = columns(sources)
        .into_iter()
        .map(|c| summarize(sources, c))
        .collect();
    let failures: usize = summaries.iter().map(|s| s.failures).sum();
    let ran: usize = summaries
        .iter()
        .map(|s| match s.coverage {
            Coverage::Covered { ran } | Coverage::Partial { ran, .. } => ran,
            Coverage::NotCovered { .. } => 0,
        })
        .sum();
    let uncovered: Vec<&str> = summaries
        .iter()
        .filter(|s| matches!(s.coverage, Coverage::NotCovered { .. }))
        .map(|s| s.column.label.as_str())
        .collect();
    let (ready, because) = if failures > 0 {
        (false, format!("{failures} scenario result(s) failed"))
    } else if ran == 0 {
        (false, "no scenario ran under any candidate".to_string())
    } else if uncovered.is_empty() {
        (true, "no failure under any candidate".to_string())
    } else {
        (
            true,
            format!("no failure; not covered: {}", uncovered.join(", ")),
        )
    };
    SignOff {
        ready,
        word: if ready { "READY" } else { "NOT READY" },
        because,
        failures,
        columns: summaries,
    }
}

fn summarize(sources: &[Source], column: Column) -> ColumnSummary {
    let mut by_verdict = BTreeMap::new();
    let mut skip_reason: Option<String> = None;
    for r in column_results(sources, &column) {
        *by_verdict.entry(r.verdict).or_insert(0) += 1;
        if r.verdict == Verdict::Skipped && skip_reason.is_none() {
            skip_reason = Some(r.reason.clone().unwrap_or_else(|| "no reason given".into()));
        }
    }
    let total: usize = by_verdict.values().sum();
    let skipped = by_verdict.get(&Verdict::Skipped).copied().unwrap_or(0);
    let failures = by_verdict
        .iter()
        .filter(|(v, _)| v.is_failure())
        .map(|(_, n)| n)
        .sum();
    let reason = skip_reason.unwrap_or_else(|| "no results".into());
    let coverage = if total == skipped {
        Coverage::NotCovered { reason }
    } else if skipped > 0 {
        Coverage::Partial {
            ran: total - skipped,
            skipped,
            reason,
        }
    } else {
        Coverage::Covered { ran: total }
    };
    let coverage_text = match &coverage {
        Coverage::Covered { ran } => format!("{}: covered ({ran} scenario(s) ran)", column.label),
        Coverage::Partial {
            ran,
            skipped,
            reason,
        } => format!(
            "{}: partly covered ({ran} ran, {skipped} skipped: {reason})",
            column.label
        ),
        Coverage::NotCovered { reason } => {
            format!("{}: not covered (skipped: {reason})", column.label)
        }
    };
    ColumnSummary {
        column,
        by_verdict,
        failures,
        coverage,
        coverage_text,
    }
}

/// Whether a side's runs all started and exited 0; `None` without runs.
fn ran_fine(runs: &[Observation]) -> Option<bool> {
    if runs.is_empty() {
        return None;
    }
    Some(
        runs.iter().all(|o| {
            o.engine == EngineOutcome::Started && o.exit_code == Some(ExitStatus::Code(0))
        }),
    )
}

/// Whether an `expected` verdict rests on an expectation nobody measured
/// or documented (inferred, or how it is known is not stated): a sign-off
/// sees these apart.
pub fn rests_on_inference(r: &ScenarioResult) -> bool {
    r.verdict == Verdict::Expected && r.expected.iter().any(|d| d.rests_on_inference())
}

/// How the expectations behind `r` are known, for people:
/// `inferred; measured (Sysbox 0.7.0)`.
pub fn known_text(r: &ScenarioResult) -> String {
    let mut parts: Vec<String> = Vec::new();
    for d in &r.expected {
        let t = d.known_text();
        if !parts.contains(&t) {
            parts.push(t);
        }
    }
    parts.join("; ")
}

/// Which way a difference points, in words, for results that differ.
pub fn direction(r: &ScenarioResult) -> Option<String> {
    match r.verdict {
        Verdict::Parity | Verdict::Skipped => return None,
        Verdict::Error if r.diffs.is_empty() => return None,
        Verdict::Flaky => return Some("behaves inconsistently between repeated runs".into()),
        Verdict::Stale => {
            return Some(format!(
                "the declared difference under {} no longer happens",
                r.candidate
            ));
        }
        _ => {}
    }
    Some(
        match (ran_fine(&r.baseline_runs), ran_fine(&r.candidate_runs)) {
            (Some(true), Some(false)) => format!(
                "works in production ({}), breaks under {}",
                r.baseline, r.candidate
            ),
            (Some(false), Some(true)) => {
                format!("works only under {}: will break in production", r.candidate)
            }
            _ => format!("behaves differently under {}", r.candidate),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use rstest::rstest;

    #[rstest]
    #[case::breaks(
        Some(0),
        Some(1),
        "works in production (runc), breaks under sysbox-runc"
    )]
    #[case::refused(Some(0), None, "works in production (runc), breaks under sysbox-runc")]
    #[case::only_candidate(
        Some(2),
        Some(0),
        "works only under sysbox-runc: will break in production"
    )]
    #[case::both_fail(Some(1), Some(2), "behaves differently under sysbox-runc")]
    #[case::both_fine(Some(0), Some(0), "behaves differently under sysbox-runc")]
    fn direction_in_words(
        #[case] base: Option<i64>,
        #[case] cand: Option<i64>,
        #[case] want: &str,
    ) {
        let mut r = fixture::result("x", "sysbox-runc", Verdict::Divergence);
        r.baseline_runs = vec![fixture::run("runc", base, "", "")];
        r.candidate_runs = vec![fixture::run("sysbox-runc", cand, "", "")];
        assert_eq!(direction(&r).as_deref(), Some(want));
    }

    #[test]
    fn parity_has_no_direction() {
        assert_eq!(direction(&fixture::result("x", "c", Verdict::Parity)), None);
    }

    #[test]
    fn any_failure_is_not_ready() {
        let mut doc = fixture::doc_with(&["c"], vec![fixture::result("a", "c", Verdict::Parity)]);
        assert!(sign_off(&[Source::from_doc(doc.clone())]).ready);
        doc.results.push(fixture::result("b", "c", Verdict::Flaky));
        let s = sign_off(&[Source::from_doc(doc)]);
        assert!(!s.ready);
        assert_eq!(s.word, "NOT READY");
        assert_eq!(s.failures, 1);
    }

    #[test]
    fn skipped_candidates_are_not_covered_but_do_not_fail() {
        let mut skipped = fixture::result("a", "sysbox-runc", Verdict::Skipped);
        skipped.reason = Some("sysbox-runc is not installed".into());
        let doc = fixture::doc_with(
            &["sysbox-runc", "userns-remap"],
            vec![
                skipped,
                fixture::result("a", "userns-remap", Verdict::Expected),
            ],
        );
        let s = sign_off(&[Source::from_doc(doc)]);
        assert!(s.ready);
        assert_eq!(
            s.columns[0].coverage_text,
            "sysbox-runc: not covered (skipped: sysbox-runc is not installed)"
        );
        assert_eq!(s.columns[1].coverage, Coverage::Covered { ran: 1 });
        assert!(
            s.because.contains("not covered: sysbox-runc"),
            "{}",
            s.because
        );
    }

    #[test]
    fn nothing_ran_is_not_ready() {
        let doc = fixture::doc_with(&["c"], vec![fixture::result("a", "c", Verdict::Skipped)]);
        assert!(!sign_off(&[Source::from_doc(doc)]).ready);
        assert!(!sign_off(&[]).ready);
    }

    #[test]
    fn several_sources_label_their_columns_and_all_count() {
        let a = fixture::doc_with(&["c"], vec![fixture::result("a", "c", Verdict::Parity)]);
        let b = fixture::doc_with(&["c"], vec![fixture::result("a", "c", Verdict::Divergence)]);
        let sources = [
            Source {
                label: "ubuntu".into(),
                doc: a,
            },
            Source {
                label: "debian".into(),
                doc: b,
            },
        ];
        let s = sign_off(&sources);
        assert!(!s.ready);
        let labels: Vec<&str> = s.columns.iter().map(|c| c.column.label.as_str()).collect();
        assert_eq!(labels, ["ubuntu: c", "debian: c"]);
    }
}
