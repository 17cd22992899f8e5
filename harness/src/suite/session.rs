//! One `parity run`: select the scenarios, prepare the suite, run it with
//! the terminal (or JSON) reporter consuming its events (and, on a
//! terminal, the progress line below them), remove this run's
//! containers on Ctrl-C or SIGTERM, and write the reports. The CLI parses
//! the arguments into a [`RunRequest`]; everything after that is here.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::config::{ConfigError, Project, Selection};
use crate::event::{Event, Reporter};
use crate::load::partition::Partition;
use crate::report::TerminalReporter;
use crate::report::progress::{self, Progress};
use crate::report::results::{ResultsDocument, host_facts, now_rfc3339};
use crate::report::signoff::{Source, sign_off};
use crate::suite::{RunHandle, Suite, SuiteOptions};

/// What a `parity run` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub paths: Vec<PathBuf>,
    pub selection: Selection,
    /// Only scenarios whose id contains this text.
    pub filter: Option<String>,
    /// Only scenarios with one of these tags.
    pub tags: Vec<String>,
    pub jobs: Option<usize>,
    pub repeat: Option<u32>,
    pub no_trace: bool,
    /// Overrides the configured grace per container.
    pub grace: Option<std::time::Duration>,
    /// Print the results document on stdout (the verdicts go to stderr).
    pub json: bool,
    pub verbose: bool,
    /// Write every report format into this folder.
    pub report: Option<PathBuf>,
    /// Candidates that must run every scenario this host can run: one
    /// that does not makes the sign-off NOT READY (exit 1). Each is added
    /// to the candidates when not already among them.
    pub require: Vec<String>,
    /// Only this part of the selection (after paths, filter and tags).
    pub partition: Option<Partition>,
}

/// Runs the request; returns the exit status: the sign-off's (0 READY or
/// INCOMPLETE, 1 NOT READY), or 130/143 when interrupted.
pub async fn run(project: &Project, req: RunRequest) -> Result<i32, ConfigError> {
    let mut scenarios = project.scenarios(&req.paths)?;
    if let Some(f) = &req.filter {
        scenarios.retain(|s| s.id.contains(f.as_str()));
    }
    if !req.tags.is_empty() {
        scenarios.retain(|s| s.file.tags.iter().any(|t| req.tags.contains(t)));
    }
    if scenarios.is_empty() {
        return Err(ConfigError::Usage("no scenario matches".into()));
    }
    if let Some(p) = req.partition {
        let selected = scenarios.len();
        scenarios = p.select(scenarios);
        if scenarios.is_empty() {
            return Err(ConfigError::Usage(format!(
                "--partition {p}: none of the {selected} selected scenario(s) falls in this part; use fewer parts"
            )));
        }
        eprintln!(
            "partition {p}: {} of the {selected} selected scenario(s)",
            scenarios.len()
        );
    }
    let mut options = SuiteOptions::new(project, &req.selection);
    if let Some(j) = req.jobs {
        options.jobs = j.max(1);
    }
    options.repeat = req.repeat;
    options.plan.no_trace = req.no_trace;
    if let Some(g) = req.grace {
        options.plan.grace = g;
    }
    for name in &req.require {
        if !options.candidates.contains(name) {
            options.candidates.push(name.clone());
        }
    }
    if options.candidates.is_empty() {
        return Err(ConfigError::Usage("no candidate runtime given".into()));
    }
    let profiles = project.profiles()?;
    for note in profiles.policy_notes(&scenarios) {
        eprintln!("{note}");
    }
    let started_at = now_rfc3339();
    // The interrupt handler is in place before anything is created, so an
    // interrupt during start-up (the host probe's container) is handled.
    let run = RunHandle::default();
    let signal = Arc::new(std::sync::Mutex::new(None::<Interrupt>));
    let mut progress = Progress::new(progress::wanted(req.json, std::io::stderr().is_terminal()));
    let listener = {
        let (cancel, signal) = (run.cancel.clone(), signal.clone());
        let bar = progress.handle();
        tokio::spawn(async move {
            let first = interrupt().await;
            *signal.lock().expect("signal lock") = Some(first);
            cancel.cancel();
            bar.finish_and_clear();
            eprintln!("\ninterrupted ({first}): stopping, removing this run's containers");
            // A second interrupt stops waiting for the containers' own
            // cleanup; the sweep below still runs.
            interrupt().await
        })
    };
    let suite = Arc::new(Suite::prepare(profiles, options, run).await?);
    if suite.cancel.is_cancelled() {
        return Ok(finish_interrupted(&suite, &signal, listener).await);
    }
    let mut reporter: Box<dyn Reporter> = if req.json {
        let mut r = TerminalReporter::stderr();
        r.verbose = req.verbose;
        Box::new(r)
    } else {
        let mut r = TerminalReporter::stdout();
        r.verbose = req.verbose;
        Box::new(r)
    };

    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let runner = {
        let suite = suite.clone();
        let scenarios = scenarios.clone();
        tokio::spawn(async move { suite.run_all(&scenarios, tx).await })
    };
    let mut tick = tokio::time::interval(PROGRESS_TICK);
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(e) => {
                    progress.on_event(&e);
                    progress.suspend(|| reporter.on_event(&e));
                }
                None => break,
            },
            _ = tick.tick() => progress.set_running(suite.containers_running()),
            _ = suite.cancel.cancelled() => {
                progress.clear();
                drop(runner);
                return Ok(finish_interrupted(&suite, &signal, listener).await);
            }
        }
    }
    progress.clear();
    let results = runner
        .await
        .map_err(|e| ConfigError::Usage(format!("internal error: {e}")))?;
    listener.abort();
    // The containers removed in the background, then anything an engine
    // was too slow to remove in time.
    suite.wait_tasks(WAIT_FOR_CLEANUP).await;
    suite.sweep_run().await;
    let mut doc = ResultsDocument::new(
        &suite.run_id,
        started_at,
        &suite.options.baseline,
        &suite.options.candidates,
        suite.engine_infos(),
        host_facts(&project.root, suite.host_limits().clone()).with_devices(&results),
        results,
    );
    doc.required = req.require.clone();
    doc.parts = req.partition.into_iter().collect();
    let signoff = sign_off(&[Source::from_doc(doc.clone())]);
    doc.signoff = Some(signoff.record());
    reporter.on_event(&Event::SignedOff {
        word: signoff.word.into(),
        class: signoff.class.into(),
        because: signoff.because.clone(),
        not_covered: signoff.not_covered.clone(),
    });
    let code = signoff.exit_status();
    if req.json {
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    if let Some(dir) = &req.report {
        crate::report::write_reports(dir, &doc).map_err(|source| ConfigError::Write {
            path: dir.clone(),
            source,
        })?;
        eprintln!("reports written to {}", dir.display());
    }
    Ok(code)
}

/// Which signal interrupted the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    Int,
    Term,
}

impl Interrupt {
    /// The exit status of a process ended by this signal (128 + signal).
    fn exit_status(self) -> i32 {
        match self {
            Interrupt::Int => 130,
            Interrupt::Term => 143,
        }
    }
}

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Interrupt::Int => "SIGINT",
            Interrupt::Term => "SIGTERM",
        })
    }
}

/// After an interrupt: every task stops at its next step and removes its
/// own containers (waited for, up to a bound; a second interrupt stops the
/// wait), then whatever of this run is left is swept by label, including a
/// container whose create was in flight. Returns the exit status.
async fn finish_interrupted(
    suite: &Suite,
    signal: &std::sync::Mutex<Option<Interrupt>>,
    listener: tokio::task::JoinHandle<Interrupt>,
) -> i32 {
    tokio::select! {
        _ = suite.wait_tasks(WAIT_FOR_CLEANUP) => {}
        _ = listener => eprintln!("interrupted again: not waiting any longer"),
    }
    let n = suite.sweep_run().await;
    eprintln!("removed {n} container(s) left by this run");
    signal
        .lock()
        .expect("signal lock")
        .unwrap_or(Interrupt::Int)
        .exit_status()
}

/// How often the progress line redraws (the time, the containers running).
const PROGRESS_TICK: std::time::Duration = std::time::Duration::from_millis(200);

/// How long an interrupted run waits for its tasks' own cleanup.
const WAIT_FOR_CLEANUP: std::time::Duration = std::time::Duration::from_secs(60);

/// Resolves on Ctrl-C or SIGTERM, saying which.
async fn interrupt() -> Interrupt {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut int, mut term) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        _ => return std::future::pending().await,
    };
    tokio::select! {
        _ = int.recv() => Interrupt::Int,
        _ = term.recv() => Interrupt::Term,
    }
}
