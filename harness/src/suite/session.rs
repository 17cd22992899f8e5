//! One `parity run`: select the scenarios, prepare the suite, run it with
//! the terminal (or JSON) reporter consuming its events, remove this run's
//! containers on Ctrl-C or SIGTERM, and write the reports. The CLI parses
//! the arguments into a [`RunRequest`]; everything after that is here.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::config::{ConfigError, Project, Selection};
use crate::event::{Event, Reporter, exit_status};
use crate::report::TerminalReporter;
use crate::report::results::{ResultsDocument, host_facts, now_rfc3339};
use crate::suite::{Suite, SuiteOptions};

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
    /// Print the results document on stdout (the verdicts go to stderr).
    pub json: bool,
    pub verbose: bool,
    /// Write every report format into this folder.
    pub report: Option<PathBuf>,
}

/// Runs the request; returns the exit status (0, 1, or 130 when
/// interrupted).
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
    let mut options = SuiteOptions::new(project, &req.selection);
    if let Some(j) = req.jobs {
        options.jobs = j.max(1);
    }
    options.repeat = req.repeat;
    options.plan.no_trace = req.no_trace;
    if options.candidates.is_empty() {
        return Err(ConfigError::Usage("no candidate runtime given".into()));
    }
    let profiles = project.profiles()?;
    for note in profiles.policy_notes(&scenarios) {
        eprintln!("{note}");
    }
    let started_at = now_rfc3339();
    let suite = Arc::new(Suite::prepare(profiles, options).await?);
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
    let mut interrupted = std::pin::pin!(interrupt());
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(e) => reporter.on_event(&e),
                None => break,
            },
            _ = &mut interrupted => {
                runner.abort();
                eprintln!("\ninterrupted: removing this run's containers");
                let mut n = suite.sweep_run().await;
                // A create in flight at the interrupt may land just after.
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                n += suite.sweep_run().await;
                eprintln!("removed {n} container(s)");
                return Ok(130);
            }
        }
    }
    let results = runner
        .await
        .map_err(|e| ConfigError::Usage(format!("internal error: {e}")))?;
    let code = exit_status(&results);
    let doc = ResultsDocument::new(
        &suite.run_id,
        started_at,
        &suite.options.baseline,
        &suite.options.candidates,
        suite.engine_infos(),
        host_facts(&project.root, suite.host_limits().clone()),
        results,
    );
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

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupt() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
