//! What a release manager signs off: the runs a report covers, the
//! baseline x candidate columns across them, whether the whole set is
//! ready, what was not covered, and which way each divergence points.
//!
//! Pure functions over [`ResultsDocument`]s; every report format (HTML,
//! JUnit, Markdown) takes its words from here. Nothing here formats markup.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::event::{ScenarioResult, SkipCause};
use crate::judge::compare::Verdict;
use crate::report::ResultsDocument;
pub use crate::report::results::{SignOffRecord, SignOffState};
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
    /// Every scenario this host can run ran (`host_skipped` more could
    /// not run here under any runtime).
    Covered { ran: usize, host_skipped: usize },
    /// Some scenarios were skipped because the candidate was unavailable.
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
    /// Whether the run was told this candidate must be covered
    /// (`--require`).
    pub required: bool,
}

impl ColumnSummary {
    /// Whether every scenario the host can run ran under this column.
    pub fn covered(&self) -> bool {
        matches!(self.coverage, Coverage::Covered { .. })
    }
}

/// The verdict of the whole report.
#[derive(Debug, Clone, Serialize)]
pub struct SignOff {
    pub state: SignOffState,
    /// True only for [`SignOffState::Ready`].
    pub ready: bool,
    /// `READY`, `INCOMPLETE` or `NOT READY`.
    pub word: &'static str,
    /// `ready`, `incomplete` or `not-ready`: the HTML class.
    pub class: &'static str,
    /// Why, in one sentence.
    pub because: String,
    pub failures: usize,
    /// Each column not fully covered, with the reason: what a reader must
    /// see first.
    pub not_covered: Vec<String>,
    pub columns: Vec<ColumnSummary>,
}

impl SignOff {
    /// The exit status of `parity run` and `parity report --check`: 0 for
    /// READY and INCOMPLETE (a candidate this host lacks is not a failure
    /// unless `--require`d), 1 for NOT READY.
    pub fn exit_status(&self) -> i32 {
        match self.state {
            SignOffState::Ready | SignOffState::Incomplete => 0,
            SignOffState::NotReady => 1,
        }
    }

    /// The record kept in `results.json`.
    pub fn record(&self) -> SignOffRecord {
        SignOffRecord {
            state: self.state,
            word: self.word.to_string(),
            because: self.because.clone(),
            not_covered: self.not_covered.clone(),
        }
    }
}

/// `doc` with its sign-off record filled in, as written to `results.json`.
pub fn signed(mut doc: ResultsDocument) -> ResultsDocument {
    let s = sign_off(&[Source::from_doc(doc.clone())]);
    doc.signoff = Some(s.record());
    doc
}

/// READY when every configured candidate ran every scenario this host can
/// run and nothing failed; INCOMPLETE when nothing failed but a candidate
/// was not covered, or only partly; NOT READY on any failure, when nothing
/// ran, or when a required candidate was not fully covered.
pub fn sign_off(sources: &[Source]) -> SignOff {
    let summaries: Vec<ColumnSummary> = columns(sources)
        .into_iter()
        .map(|c| summarize(sources, c))
        .collect();
    let failures: usize = summaries.iter().map(|s| s.failures).sum();
    let ran: usize = summaries
        .iter()
        .map(|s| match s.coverage {
            Coverage::Covered { ran, .. } | Coverage::Partial { ran, .. } => ran,
            Coverage::NotCovered { .. } => 0,
        })
        .sum();
    let mut not_covered = not_covered_reasons(&summaries);
    let missing_required: Vec<&str> = summaries
        .iter()
        .filter(|s| s.required && !s.covered())
        .map(|s| s.column.label.as_str())
        .collect();
    let mut uncovered_names: Vec<&str> = summaries
        .iter()
        .filter(|s| !s.covered())
        .map(|s| s.column.label.as_str())
        .collect();
    let missing = missing_parts(sources);
    if !missing.is_empty() {
        not_covered.push(format!(
            "the selection was split with --partition and part(s) {} did not report: \
             run them and combine every part's results with `parity report`",
            missing.join(", ")
        ));
        uncovered_names.push("part(s) of the partitioned selection");
    }
    let (state, because) = if failures > 0 {
        let mut b = format!("{failures} scenario result(s) failed");
        if !uncovered_names.is_empty() {
            b.push_str(&format!(
                "; also not fully covered: {}",
                uncovered_names.join(", ")
            ));
        }
        (SignOffState::NotReady, b)
    } else if !missing_required.is_empty() {
        (
            SignOffState::NotReady,
            format!(
                "required candidate(s) not fully covered: {}",
                missing_required.join(", ")
            ),
        )
    } else if ran == 0 {
        (
            SignOffState::NotReady,
            "no scenario ran under any candidate".to_string(),
        )
    } else if !uncovered_names.is_empty() {
        (
            SignOffState::Incomplete,
            format!(
                "no failure, but not everything ran: {} not fully covered",
                uncovered_names.join(", ")
            ),
        )
    } else {
        (
            SignOffState::Ready,
            "every candidate ran every scenario this host can run, with no failure".to_string(),
        )
    };
    SignOff {
        state,
        ready: state == SignOffState::Ready,
        word: state.word(),
        class: state.class(),
        because,
        failures,
        not_covered,
        columns: summaries,
    }
}

/// Each reason a column is not fully covered, once, with every column it
/// applies to: `eci, sysbox-runc: not covered (skipped: ...)`.
fn not_covered_reasons(summaries: &[ColumnSummary]) -> Vec<String> {
    let mut grouped: Vec<(String, Vec<&str>)> = Vec::new();
    for s in summaries.iter().filter(|s| !s.covered()) {
        let label = s.column.label.as_str();
        let rest = s
            .coverage_text
            .strip_prefix(&format!("{label}: "))
            .unwrap_or(&s.coverage_text)
            .to_string();
        match grouped.iter_mut().find(|(r, _)| *r == rest) {
            Some((_, labels)) => labels.push(label),
            None => grouped.push((rest, vec![label])),
        }
    }
    grouped
        .into_iter()
        .map(|(rest, labels)| format!("{}: {rest}", labels.join(", ")))
        .collect()
}

/// The parts `K/N` of a partitioned selection that no source holds: for
/// every N a source names, each of 1..=N must be there.
fn missing_parts(sources: &[Source]) -> Vec<String> {
    let held: std::collections::BTreeSet<_> = sources
        .iter()
        .flat_map(|s| s.doc.parts.iter().map(|p| (p.count, p.index)))
        .collect();
    let counts: std::collections::BTreeSet<u64> = held.iter().map(|(n, _)| *n).collect();
    counts
        .into_iter()
        .flat_map(|n| (1..=n).map(move |k| (n, k)))
        .filter(|part| !held.contains(part))
        .map(|(n, k)| format!("{k}/{n}"))
        .collect()
}

fn summarize(sources: &[Source], column: Column) -> ColumnSummary {
    let mut by_verdict = BTreeMap::new();
    let mut unavailable: Option<String> = None;
    let mut host_limit: Option<String> = None;
    let (mut total, mut skipped, mut host_skipped) = (0, 0, 0);
    for r in column_results(sources, &column) {
        *by_verdict.entry(r.verdict).or_insert(0) += 1;
        total += 1;
        let reason = || r.reason.clone().unwrap_or_else(|| "no reason given".into());
        match r.skip_cause() {
            Some(SkipCause::Unavailable) => {
                skipped += 1;
                unavailable.get_or_insert_with(reason);
            }
            Some(SkipCause::HostLimit) => {
                host_skipped += 1;
                host_limit.get_or_insert_with(reason);
            }
            None => {}
        }
    }
    let failures = by_verdict
        .iter()
        .filter(|(v, _)| v.is_failure())
        .map(|(_, n)| n)
        .sum();
    let ran = total - skipped - host_skipped;
    let coverage = if ran == 0 {
        Coverage::NotCovered {
            reason: unavailable
                .or(host_limit)
                .unwrap_or_else(|| "no results".into()),
        }
    } else if skipped > 0 {
        Coverage::Partial {
            ran,
            skipped,
            reason: unavailable.unwrap_or_default(),
        }
    } else {
        Coverage::Covered { ran, host_skipped }
    };
    let coverage_text = match &coverage {
        Coverage::Covered { ran, host_skipped } if *host_skipped > 0 => format!(
            "{}: covered ({ran} scenario(s) ran; {host_skipped} this host cannot run under any runtime)",
            column.label
        ),
        Coverage::Covered { ran, .. } => {
            format!("{}: covered ({ran} scenario(s) ran)", column.label)
        }
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
    let required = sources[column.source]
        .doc
        .required
        .contains(&column.candidate);
    ColumnSummary {
        column,
        by_verdict,
        failures,
        coverage,
        coverage_text,
        required,
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

/// How the engine's answers behind `r` were taken, in words, so a reader
/// tells a refusal from trouble: the side whose answer was taken for
/// trouble (an `error`), or each side the engine refused, with why.
/// `None` when every run started.
pub fn engine_answers(r: &ScenarioResult) -> Option<String> {
    if let Some(t) = &r.trouble {
        return Some(format!(
            "engine answer under {}: {}",
            t.runtime,
            t.decision.describe()
        ));
    }
    let side = |runtime: &str, runs: &[Observation]| {
        runs.iter().find_map(|o| match &o.engine {
            EngineOutcome::Refused {
                decision: Some(d), ..
            } => Some(format!("{runtime} {}", d.describe())),
            EngineOutcome::Refused { decision: None, .. } => Some(format!(
                "{runtime} refused (how it was decided is not recorded)"
            )),
            EngineOutcome::Started => None,
        })
    };
    let said: Vec<String> = [
        side(&r.baseline, &r.baseline_runs),
        side(&r.candidate, &r.candidate_runs),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!said.is_empty()).then(|| format!("engine answers: {}", said.join("; ")))
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

    #[test]
    fn the_engine_answers_line_tells_a_refusal_from_trouble() {
        use crate::run::engine::{Answer, Phase, Second, settle};
        let mut r = fixture::result("x", "userns-remap", Verdict::Parity);
        r.baseline_runs = vec![fixture::run("runc", Some(0), "", "")];
        r.candidate_runs = vec![fixture::run("userns-remap", Some(0), "", "")];
        assert_eq!(engine_answers(&r), None, "every run started");
        r.candidate_runs = vec![fixture::run("userns-remap", None, "", "no")];
        assert_eq!(
            engine_answers(&r).as_deref(),
            Some(
                "engine answers: userns-remap refused at start by the OCI runtime (HTTP 500): the same answer twice, word for word"
            )
        );
        let first = Answer::new(500, "something went wrong");
        let second = Second::Answered(Answer::new(500, "something else went wrong"));
        r.verdict = Verdict::Error;
        r.trouble = Some(crate::event::SideDecision {
            runtime: "runc".into(),
            decision: settle(Phase::Start, &first, &second),
        });
        let line = engine_answers(&r).unwrap();
        assert!(
            line.starts_with(
                "engine answer under runc: engine trouble at start, not a refusal (HTTP 500): a second attempt was answered differently"
            ),
            "{line}"
        );
    }

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

    fn skipped(id: &str, cand: &str, cause: SkipCause, why: &str) -> ScenarioResult {
        let mut r = fixture::result(id, cand, Verdict::Skipped);
        r.skip = Some(cause);
        r.reason = Some(why.into());
        r
    }

    #[test]
    fn an_unavailable_candidate_makes_it_incomplete_never_ready() {
        let doc = fixture::doc_with(
            &["sysbox-runc", "userns-remap"],
            vec![
                skipped(
                    "a",
                    "sysbox-runc",
                    SkipCause::Unavailable,
                    "sysbox-runc is not installed",
                ),
                fixture::result("a", "userns-remap", Verdict::Expected),
            ],
        );
        let s = sign_off(&[Source::from_doc(doc.clone())]);
        assert!(!s.ready);
        assert_eq!(s.state, SignOffState::Incomplete);
        assert_eq!(s.word, "INCOMPLETE");
        assert_eq!(s.exit_status(), 0);
        assert_eq!(
            s.not_covered,
            ["sysbox-runc: not covered (skipped: sysbox-runc is not installed)"]
        );
        assert_eq!(
            s.columns[1].coverage,
            Coverage::Covered {
                ran: 1,
                host_skipped: 0
            }
        );
        assert!(
            s.because.contains("sysbox-runc not fully covered"),
            "{}",
            s.because
        );

        // Required, the same run is NOT READY and exits 1.
        let mut required = doc;
        required.required = vec!["sysbox-runc".into()];
        let s = sign_off(&[Source::from_doc(required)]);
        assert_eq!(s.state, SignOffState::NotReady);
        assert_eq!(s.exit_status(), 1);
        assert!(s.because.contains("required"), "{}", s.because);
    }

    #[test]
    fn a_missing_part_of_a_partitioned_selection_is_never_ready() {
        use crate::load::partition::Partition;
        let part = |index, id: &str| {
            let mut doc =
                fixture::doc_with(&["c"], vec![fixture::result(id, "c", Verdict::Parity)]);
            doc.parts = vec![Partition { index, count: 3 }];
            Source::from_doc(doc)
        };
        // One shard alone, and two of three combined: incomplete, naming
        // the missing parts.
        let s = sign_off(&[part(1, "a")]);
        assert_eq!(s.state, SignOffState::Incomplete, "{}", s.because);
        assert!(s.not_covered[0].contains("2/3, 3/3"), "{:?}", s.not_covered);
        let s = sign_off(&[part(1, "a"), part(3, "c")]);
        assert_eq!(s.state, SignOffState::Incomplete, "{}", s.because);
        assert!(
            s.not_covered[0].contains("part(s) 2/3 did"),
            "{:?}",
            s.not_covered
        );
        // Every part: ready.
        let s = sign_off(&[part(1, "a"), part(2, "b"), part(3, "c")]);
        assert_eq!(s.state, SignOffState::Ready, "{}", s.because);
        assert!(s.not_covered.is_empty());
    }

    #[test]
    fn a_partly_run_candidate_is_incomplete() {
        let doc = fixture::doc_with(
            &["c"],
            vec![
                fixture::result("a", "c", Verdict::Parity),
                skipped(
                    "b",
                    "c",
                    SkipCause::Unavailable,
                    "c unavailable: engine went away",
                ),
            ],
        );
        let s = sign_off(&[Source::from_doc(doc)]);
        assert_eq!(s.state, SignOffState::Incomplete);
        assert_eq!(
            s.not_covered,
            ["c: partly covered (1 ran, 1 skipped: c unavailable: engine went away)"]
        );
    }

    #[test]
    fn host_limits_do_not_count_against_coverage() {
        let doc = fixture::doc_with(
            &["c"],
            vec![
                fixture::result("a", "c", Verdict::Parity),
                skipped(
                    "p",
                    "c",
                    SkipCause::HostLimit,
                    "this host cannot run privileged containers",
                ),
            ],
        );
        let s = sign_off(&[Source::from_doc(doc)]);
        assert_eq!(s.state, SignOffState::Ready, "{}", s.because);
        assert!(s.not_covered.is_empty());
        assert_eq!(
            s.columns[0].coverage_text,
            "c: covered (1 scenario(s) ran; 1 this host cannot run under any runtime)"
        );
    }

    #[test]
    fn an_old_skip_without_a_cause_counts_as_the_candidates() {
        let mut r = fixture::result("a", "c", Verdict::Skipped);
        r.reason = Some("c unavailable: down".into());
        let doc = fixture::doc_with(
            &["c", "d"],
            vec![r, fixture::result("a", "d", Verdict::Parity)],
        );
        assert_eq!(
            sign_off(&[Source::from_doc(doc)]).state,
            SignOffState::Incomplete
        );
    }

    #[test]
    fn failures_win_over_missing_coverage() {
        let doc = fixture::doc_with(
            &["c", "d"],
            vec![
                fixture::result("a", "c", Verdict::Divergence),
                skipped("a", "d", SkipCause::Unavailable, "d unavailable: down"),
            ],
        );
        let s = sign_off(&[Source::from_doc(doc)]);
        assert_eq!(s.state, SignOffState::NotReady);
        assert_eq!(
            s.because,
            "1 scenario result(s) failed; also not fully covered: d"
        );
    }

    #[test]
    fn the_record_in_results_json_says_the_same() {
        let doc = fixture::doc_with(&["c"], vec![fixture::result("a", "c", Verdict::Parity)]);
        let s = sign_off(&[Source::from_doc(doc.clone())]);
        let rec = signed(doc).signoff.unwrap();
        assert_eq!(
            (rec.state, rec.word.as_str()),
            (SignOffState::Ready, "READY")
        );
        assert_eq!(rec.because, s.because);
    }

    #[test]
    fn nothing_ran_is_not_ready() {
        let doc = fixture::doc_with(&["c"], vec![fixture::result("a", "c", Verdict::Skipped)]);
        let s = sign_off(&[Source::from_doc(doc)]);
        assert_eq!(s.state, SignOffState::NotReady);
        assert_eq!(s.exit_status(), 1);
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
