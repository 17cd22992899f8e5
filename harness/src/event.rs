//! Suite events and the results they carry.
//!
//! Owns what the suite tells its consumers (terminal, JSON, reports, the
//! `cargo test` harness): a run started, a scenario started, progress
//! (image pulls and builds), a verdict landed, the run finished. Consumers implement [`Reporter`].

use serde::{Deserialize, Serialize};

use crate::judge::compare::{FieldDiff, Verdict};
use crate::judge::explain::LikelyCause;
use crate::judge::host::NotApplicable;
use crate::load::scenario::Divergence;
use crate::run::engine::{Decision, EngineInfo};
use crate::run::observe::Observation;

/// The verdict for one scenario under one candidate, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScenarioResult {
    /// Scenario id, e.g. `mounts/tmpfs`.
    pub id: String,
    pub path: String,
    pub description: String,
    pub tags: Vec<String>,
    pub baseline: String,
    pub candidate: String,
    pub verdict: Verdict,
    /// Why, in words (skip reason, error message, undeclared fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why a skipped result did not run: the candidate was unavailable, or
    /// this host cannot run the scenario under any runtime. Absent in
    /// older documents, where a skip counts as the candidate's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<SkipCause>,
    /// The fields that differed (baseline vs candidate, or between repeats
    /// when flaky), normalized.
    #[serde(default)]
    pub diffs: Vec<FieldDiff>,
    /// The divergences the scenario declares for this candidate that
    /// apply on this host (every one without a `host` condition, and
    /// those whose condition both sides' engines meet); for a result that
    /// did not run, every one declared.
    #[serde(default)]
    pub expected: Vec<Divergence>,
    /// The declared divergences that do not apply on this host, and why:
    /// they were not used to judge this result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_applicable: Vec<NotApplicable>,
    /// Probable reasons for the differences, from the candidate profile's
    /// `explain:` rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub likely_causes: Vec<LikelyCause>,
    /// Every run's observation on each side.
    #[serde(default)]
    pub baseline_runs: Vec<Observation>,
    #[serde(default)]
    pub candidate_runs: Vec<Observation>,
    /// The engine answer taken for trouble, not a refusal, that made this
    /// result an `error`: the side and how it was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trouble: Option<SideDecision>,
    /// The effective container create request on the candidate side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

/// How one side's engine answer was decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SideDecision {
    /// The runtime profile whose engine answered.
    pub runtime: String,
    #[serde(flatten)]
    pub decision: Decision,
}

/// What kept a scenario from running under a candidate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SkipCause {
    /// The candidate's engine did not answer or lacks its runtime: the
    /// candidate is not covered, and the sign-off says so.
    Unavailable,
    /// This host cannot run the scenario at all (e.g. privileged
    /// containers): no runtime could, so coverage does not count it.
    HostLimit,
}

impl ScenarioResult {
    /// Why this result was skipped, `None` when it ran; a skip from an
    /// older document without a cause is taken as the candidate's.
    pub fn skip_cause(&self) -> Option<SkipCause> {
        (self.verdict == Verdict::Skipped).then(|| self.skip.unwrap_or(SkipCause::Unavailable))
    }
}

/// Totals of one candidate's verdicts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Totals {
    pub candidate: String,
    pub by_verdict: std::collections::BTreeMap<Verdict, usize>,
}

/// What the suite reports as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        run_id: String,
        baseline: String,
        candidates: Vec<String>,
        scenarios: usize,
        engines: Vec<EngineInfo>,
    },
    ScenarioStarted {
        id: String,
    },
    /// Work that takes a while before a scenario runs (an image pull, build
    /// or copy between engines), in a line.
    Progress {
        message: String,
    },
    Verdict(Box<ScenarioResult>),
    Finished {
        results: Vec<ScenarioResult>,
    },
    /// The run's sign-off, once its results document is complete: the
    /// word (`READY`, `INCOMPLETE`, `NOT READY`), its class (`ready`,
    /// `incomplete`, `not-ready`), why, and each candidate not covered.
    SignedOff {
        word: String,
        class: String,
        because: String,
        not_covered: Vec<String>,
    },
}

/// A consumer of suite events.
pub trait Reporter: Send {
    fn on_event(&mut self, event: &Event);
}

/// Per-candidate totals, in candidate order.
pub fn totals(results: &[ScenarioResult], candidates: &[String]) -> Vec<Totals> {
    candidates
        .iter()
        .map(|c| {
            let mut t = Totals {
                candidate: c.clone(),
                ..Default::default()
            };
            for r in results.iter().filter(|r| &r.candidate == c) {
                *t.by_verdict.entry(r.verdict).or_default() += 1;
            }
            t
        })
        .collect()
}

/// The process exit status DESIGN.md gives: 1 when anything failed.
pub fn exit_status(results: &[ScenarioResult]) -> i32 {
    if results.iter().any(|r| r.verdict.is_failure()) {
        1
    } else {
        0
    }
}
