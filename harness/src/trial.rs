//! The `cargo test` face of the suite: one libtest-mimic trial per scenario
//! and candidate, named by scenario id with the runtime pair as the kind,
//! so `cargo test -- mounts/` and `cargo test -- userns-remap` filter as
//! users expect.
//!
//! Owns the process-wide tokio runtime and the lazily prepared [`Suite`]
//! the trials share (engines are contacted for a run only when a trial
//! runs), the mapping of verdicts to pass, fail and ignored, and the rule
//! that a trial that cannot run never passes, whatever runs it:
//! - availability is decided when the trials are built (connect and `info`
//!   under a short deadline, cached for a few seconds in the target
//!   folder), so the trials of an unavailable runtime carry libtest's
//!   ignored flag in `--list` and nextest shows them as skipped;
//! - what only a run can tell (the host cannot start a privileged
//!   container) is ignored with the reason under libtest's own runner, and
//!   fails with the reason under nextest (one process per trial, where an
//!   ignored outcome would exit 0 and read as a pass), with
//!   `PARITY_STRICT_SKIP=1`, and whenever `--ignored` or
//!   `--include-ignored` asked for trials that cannot run.
//!
//! `PARITY_PARTITION=K/N` keeps the trials of part K of N of the
//! scenarios, as `parity run --partition K/N` does, for CI shards.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use libtest_mimic::{Arguments, Completion, Failed, Trial};

use crate::config::{Project, Selection};
use crate::event::ScenarioResult;
use crate::judge::compare::Verdict;
use crate::judge::snapshot::{self, Artifacts, Recording};
use crate::judge::snapshot_files;
use crate::judge::snapshot_key::SnapshotKey;
use crate::load::partition::Partition;
use crate::load::scenario::{Scenario, discover};
use crate::report::terminal::render_result;
use crate::suite::{Availability, Suite, SuiteOptions};

mod listing;
pub use listing::Mode;

/// What a trial checks beyond the verdict table.
#[derive(Debug, Clone)]
pub enum Check {
    /// A library scenario: parity or expected passes, and each runtime's
    /// observation must match its snapshot.
    Library,
    /// A meta-scenario: the verdict must be exactly this one.
    Verdict(Verdict),
}

/// The shared state of one test process.
pub struct Harness {
    runtime: tokio::runtime::Runtime,
    project: Project,
    options: SuiteOptions,
    suite: OnceLock<Result<Arc<Suite>, String>>,
    /// Results of finished trials, for reports written after the run.
    pub results: Mutex<Vec<ScenarioResult>>,
    /// Whether missing snapshots are written (off in CI).
    pub recording: Recording,
    /// Where snapshots that are not written into the checkout go (CI).
    pub artifacts: Option<Artifacts>,
    /// Which runner runs the trials, and how.
    pub mode: Mode,
    /// Scenarios whose baseline snapshot was checked in this process: the
    /// baseline is shared by every candidate, so it is checked once.
    baseline_snapshots: Mutex<HashSet<String>>,
    /// When this test process started, for its results document.
    started_at: String,
    /// Only the scenarios of this part (`PARITY_PARTITION`).
    partition: Option<Partition>,
}

impl Harness {
    /// For the project at `root`, with runtimes from parity.toml and the
    /// environment, for trials run with `args`.
    pub fn new(root: &Path, args: &Arguments) -> Result<Arc<Harness>, String> {
        let project = Project::find(Some(root)).map_err(|e| e.to_string())?;
        let options = SuiteOptions::new(&project, &Selection::default());
        let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
        let env = |k: &str| std::env::var(k).ok();
        let partition = env("PARITY_PARTITION")
            .map(|p| p.parse::<Partition>())
            .transpose()
            .map_err(|e| format!("PARITY_PARTITION: {e}"))?;
        Ok(Arc::new(Harness {
            partition,
            runtime,
            artifacts: Artifacts::from_env(&project.root, env),
            project,
            options,
            suite: OnceLock::new(),
            results: Mutex::new(Vec::new()),
            recording: Recording::from_env(env),
            mode: Mode::new(args, env),
            baseline_snapshots: Mutex::new(HashSet::new()),
            started_at: crate::report::results::now_rfc3339(),
        }))
    }

    /// The same harness writing (or not) missing snapshots, and putting
    /// those it does not write in `artifacts`, whatever the environment
    /// says.
    pub fn with_recording(
        self: Arc<Self>,
        recording: Recording,
        artifacts: Option<Artifacts>,
    ) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut h) => {
                h.recording = recording;
                h.artifacts = artifacts;
                Arc::new(h)
            }
            Err(shared) => shared,
        }
    }

    pub fn options(&self) -> &SuiteOptions {
        &self.options
    }

    pub fn project(&self) -> &Project {
        &self.project
    }

    fn suite(&self) -> Result<Arc<Suite>, String> {
        self.suite
            .get_or_init(|| {
                let profiles = self.project.profiles().map_err(|e| e.to_string())?;
                self.runtime
                    .block_on(Suite::prepare(
                        profiles,
                        self.options.clone(),
                        Default::default(),
                    ))
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
    }

    /// The results document of the trials run so far, with the suite's own
    /// run id, engines and host limits when the suite was prepared.
    /// Waits for the containers the trials' runs remove in the background
    /// (call once the trials are done, before the process exits).
    pub fn settle(&self) {
        if let Some(Ok(suite)) = self.suite.get() {
            self.runtime
                .block_on(suite.wait_tasks(std::time::Duration::from_secs(60)));
        }
    }

    pub fn results_document(&self) -> crate::report::ResultsDocument {
        let mut results = std::mem::take(&mut *self.results.lock().expect("results lock"));
        results.sort_by(|a, b| (&a.id, &a.candidate).cmp(&(&b.id, &b.candidate)));
        let suite = self.suite.get().and_then(|s| s.as_ref().ok());
        let run_id = suite.map_or_else(|| "cargo-test".to_string(), |s| s.run_id.clone());
        let engines = suite.map(|s| s.engine_infos()).unwrap_or_default();
        let limits = suite.map(|s| s.host_limits().clone()).unwrap_or_default();
        crate::report::ResultsDocument::new(
            &run_id,
            self.started_at.clone(),
            &self.options.baseline,
            &self.options.candidates,
            engines,
            crate::report::results::host_facts(&self.project.root, limits).with_devices(&results),
            results,
        )
    }

    /// Runs `f` on the shared runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Trials for every scenario under `dir` (scenario ids relative to
    /// `root`) and every configured candidate.
    pub fn trials(
        self: &Arc<Self>,
        root: &Path,
        dir: &Path,
        check: impl Fn(&Path) -> Check,
    ) -> Vec<Trial> {
        let candidates = self.options.candidates.clone();
        self.trials_for(root, dir, &candidates, check)
    }

    /// As [`Harness::trials`], for the given candidates only.
    pub fn trials_for(
        self: &Arc<Self>,
        root: &Path,
        dir: &Path,
        candidates: &[String],
        check: impl Fn(&Path) -> Check,
    ) -> Vec<Trial> {
        let files = match discover(dir) {
            Ok(f) => f,
            Err(e) => return vec![failing_trial(&dir.display().to_string(), e.to_string())],
        };
        let unavailable = self.unavailable(candidates);
        let mut trials = Vec::new();
        for file in files {
            let scenario = match Scenario::load(root, &file) {
                Ok(s) => s,
                Err(e) => {
                    trials.push(failing_trial(&file.display().to_string(), e.to_string()));
                    continue;
                }
            };
            let check = check(&file);
            if matches!(check, Check::Library) {
                self.remember_snapshots(&scenario);
            }
            // After remembering its snapshots: another part runs it.
            if self.partition.is_some_and(|p| !p.contains(&scenario.id)) {
                continue;
            }
            for candidate in candidates {
                let kind = format!("{}-vs-{candidate}", self.options.baseline);
                let (h, s, c, chk) = (
                    self.clone(),
                    scenario.clone(),
                    candidate.clone(),
                    check.clone(),
                );
                let flag = self
                    .mode
                    .ignored_flag(!unavailable.contains_key(candidate.as_str()));
                trials.push(
                    Trial::ignorable_test(scenario.id.clone(), move || h.run_trial(&s, &c, &chk))
                        .with_kind(kind)
                        .with_ignored_flag(flag),
                );
            }
        }
        trials
    }

    fn run_trial(
        &self,
        scenario: &Scenario,
        candidate: &str,
        check: &Check,
    ) -> Result<Completion, Failed> {
        let suite = match self.suite() {
            Ok(s) => s,
            Err(e) => return Err(format!("cannot prepare the suite: {e}").into()),
        };
        if let Availability::Unavailable(why) = suite.availability(&self.options.baseline) {
            return self
                .mode
                .cannot_run(format!("no engine for the baseline: {why}"));
        }
        let result = self.block_on(suite.judge(scenario, candidate));
        let shown = strip_ansi(&render_result(&result, true));
        self.results
            .lock()
            .expect("results lock")
            .push(result.clone());
        match check {
            Check::Verdict(want) if result.verdict == *want => Ok(Completion::Completed),
            Check::Verdict(_) if result.verdict == Verdict::Skipped => {
                self.mode.cannot_run(result.reason.unwrap_or_default())
            }
            Check::Verdict(want) => Err(format!("expected verdict {want}, got:\n{shown}").into()),
            Check::Library => {
                let drift = self.check_snapshots(&suite, scenario, &result);
                match result.verdict {
                    Verdict::Skipped => self.mode.cannot_run(result.reason.unwrap_or_default()),
                    v if v.is_failure() => Err(format!(
                        "{shown}{}",
                        drift.map(|d| format!("\n{d}")).unwrap_or_default()
                    )
                    .into()),
                    _ => match drift {
                        Some(d) => Err(d.into()),
                        None => Ok(Completion::Completed),
                    },
                }
            }
        }
    }

    /// Checks the snapshots of the runtimes a result observed (the baseline
    /// once per scenario and process); returns the failure text if any
    /// snapshot changed. Notes (new, missing) go to stderr.
    fn check_snapshots(
        &self,
        suite: &Suite,
        scenario: &Scenario,
        result: &ScenarioResult,
    ) -> Option<String> {
        if matches!(
            result.verdict,
            Verdict::Skipped | Verdict::Error | Verdict::Flaky
        ) {
            return None;
        }
        let first_baseline = self
            .baseline_snapshots
            .lock()
            .expect("snapshot lock")
            .insert(scenario.id.clone());
        let mut sides = Vec::new();
        if first_baseline {
            sides.push((result.baseline.as_str(), result.baseline_runs.first()));
        }
        sides.push((result.candidate.as_str(), result.candidate_runs.first()));
        let mut failures = Vec::new();
        for (runtime, run) in sides {
            let Some(run) = run else { continue };
            let Some(key) = snapshot_key(suite, runtime) else {
                failures.push(format!(
                    "cannot name the environment of {runtime}'s snapshot (no engine facts or default image)"
                ));
                continue;
            };
            let fields = match suite.comparable_texts(scenario, runtime, run) {
                Ok(f) => f,
                Err(e) => {
                    failures.push(format!("cannot normalize the {runtime} observation: {e}"));
                    continue;
                }
            };
            let outcome = snapshot::check(
                scenario,
                &key,
                runtime,
                &fields,
                &self.recording,
                self.artifacts.as_ref(),
            );
            match outcome.note(runtime) {
                Some(note) if outcome.is_failure() => failures.push(note),
                Some(note) => eprintln!("{}: {note}", scenario.id),
                None => {}
            }
        }
        (!failures.is_empty()).then(|| failures.join("\n"))
    }

    /// Marks the committed snapshots of the scenario (every environment and
    /// runtime) as referenced, so `cargo insta test --unreferenced=reject`
    /// flags only snapshots whose scenario is gone, not those of runtimes
    /// or environments this host does not have (`parity lint` flags unknown
    /// runtimes).
    fn remember_snapshots(&self, scenario: &Scenario) {
        if std::env::var_os("INSTA_SNAPSHOT_REFERENCES_FILE").is_none() {
            return;
        }
        for path in snapshot_files::snapshots_of(&scenario.path) {
            snapshot::remember_reference(&path);
        }
    }
}

/// The environment key of `runtime`'s observations in this suite.
fn snapshot_key(suite: &Suite, runtime: &str) -> Option<String> {
    let info = suite.engine_info(runtime)?;
    let image = suite.image_source()?;
    Some(SnapshotKey::new(info, &image.busybox).name())
}

fn failing_trial(name: &str, message: String) -> Trial {
    Trial::test(format!("load {name}"), move || Err(message.clone().into()))
}

/// Removes ANSI color sequences (test output is read in logs).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
