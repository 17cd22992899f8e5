//! The `parity` command line: argument parsing and thin handlers over the
//! suite. Exit codes follow DESIGN.md: 0 nothing failed, 1 a scenario
//! failed, 2 a usage or configuration error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::sync::mpsc;

use crate::event::{Event, Reporter, exit_status};
use crate::plan::PlanOptions;
use crate::report::results::{ResultsDocument, host_facts, now_rfc3339};
use crate::report::{TerminalReporter, terminal};
use crate::runtime::{Profiles, ProjectConfig, project_root};
use crate::scenario::{Scenario, ScenarioError, discover, root_for};
use crate::suite::{Availability, Suite, SuiteOptions};

#[derive(Debug, Parser)]
#[command(
    name = "parity",
    version,
    about = "Run container scenarios under a baseline and candidate runtimes and diff what they did"
)]
pub struct Cli {
    /// Project root (where parity.toml is); default: found from the current directory.
    #[arg(long, global = true, env = "PARITY_ROOT")]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios and compare each candidate with the baseline.
    Run(RunArgs),
    /// List scenarios with their tags and expectations.
    List(ListArgs),
    /// Check engines, runtimes and what this host can run.
    Doctor(RuntimeArgs),
    /// Render every report format from results.json files (several: one combined report).
    Report(ReportArgs),
    /// Show what changed between two runs' results.json; exit 1 when a verdict became a failure.
    Compare(CompareArgs),
    /// Check scenario files without running anything.
    Lint(LintArgs),
    /// Create a scenario from a commented template: `parity new AREA/NAME`.
    New(NewArgs),
    /// Print the JSON Schema of scenario files (scenarios/scenario.schema.json).
    Schema,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Scenario files or folders (default: the scenario library).
    pub paths: Vec<PathBuf>,
    /// `json` prints a list of {file, line, column, severity, rule, message}.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Fail on warnings too (missing schema line, orphan snapshots).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The new scenario's id, AREA/NAME (written to scenarios/AREA/NAME.yaml).
    pub id: String,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// results.json files, e.g. one per CI matrix job.
    #[arg(required = true)]
    pub results: Vec<PathBuf>,
    /// Folder to write index.html, results.json, junit.xml and summary.md into.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The earlier run's results.json.
    pub old: PathBuf,
    /// The later run's results.json.
    pub new: PathBuf,
    /// Also write the comparison as an HTML page.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// Baseline runtime profile (default from parity.toml or PARITY_BASELINE).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Candidate runtime profile; repeat for several (default from parity.toml or PARITY_CANDIDATES).
    #[arg(long = "candidate")]
    pub candidates: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or folders (default: the scenario library).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub runtimes: RuntimeArgs,
    /// Only scenarios whose id contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Only scenarios with this tag (repeatable: any of them).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Containers run at once (default: the number of CPUs).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Runs per runtime, overriding each scenario's `repeat`.
    #[arg(long)]
    pub repeat: Option<u32>,
    /// Do not trace syscalls (the probe still snapshots mounts and facts).
    #[arg(long)]
    pub no_trace: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also show diffs of expected divergences.
    #[arg(long, short)]
    pub verbose: bool,
    /// Write results.json (and the other reports) into this folder.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Scenario files or folders (default: the scenario library).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// A configuration or usage problem: exit status 2.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CliError {
    #[error("{count} scenario file(s) failed to load")]
    Scenarios {
        count: usize,
        #[related]
        errors: Vec<ScenarioError>,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Suite(#[from] crate::suite::SuiteError),
    #[error("{0}")]
    Usage(String),
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The project's layout and configuration.
pub struct Project {
    pub root: PathBuf,
    pub config: ProjectConfig,
}

impl Project {
    pub fn find(root: Option<&Path>) -> Result<Project, CliError> {
        let root = match root {
            Some(r) => r.to_path_buf(),
            None => {
                project_root(&std::env::current_dir().map_err(|e| CliError::Usage(e.to_string()))?)
            }
        };
        let config =
            ProjectConfig::load(&root.join("parity.toml"))?.with_env(|k| std::env::var(k).ok());
        Ok(Project { root, config })
    }

    pub fn profiles(&self) -> Result<Profiles, CliError> {
        Ok(Profiles::load_dir(&self.root.join(&self.config.runtimes))?)
    }

    /// The runtimes to compare: command line over environment over file.
    pub fn suite_options(&self, args: &RuntimeArgs) -> SuiteOptions {
        SuiteOptions {
            baseline: args
                .baseline
                .clone()
                .unwrap_or_else(|| self.config.baseline.clone()),
            candidates: if args.candidates.is_empty() {
                self.config.candidates.clone()
            } else {
                args.candidates.clone()
            },
            jobs: self.config.jobs.unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            }),
            repeat: None,
            plan: PlanOptions::default(),
        }
    }

    /// Loads every scenario under `paths` (default: the library). All load
    /// errors are collected, not just the first.
    pub fn scenarios(&self, paths: &[PathBuf]) -> Result<Vec<Scenario>, CliError> {
        let defaults = [self.root.join(&self.config.scenarios)];
        let paths = if paths.is_empty() {
            &defaults[..]
        } else {
            paths
        };
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        for p in paths {
            if !p.exists() {
                return Err(CliError::Usage(format!("{} does not exist", p.display())));
            }
            let root = root_for(p);
            match discover(p) {
                Ok(files) => {
                    for f in files {
                        match Scenario::load(&root, &f) {
                            Ok(s) => out.push(s),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(CliError::Scenarios {
                count: errors.len(),
                errors,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }
}

/// Runs the CLI; returns the process exit code.
pub async fn main(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Report(args) => return report(args).map_err(CliError::Usage),
        Command::Compare(args) => return compare(args).map_err(CliError::Usage),
        _ => {}
    }
    let project = Project::find(cli.root.as_deref())?;
    match cli.command {
        Command::Run(args) => run(&project, args).await,
        Command::List(args) => list(&project, args),
        Command::Doctor(args) => doctor(&project, args).await,
        Command::Lint(args) => lint(&project, args),
        Command::New(args) => new_scenario(&project, args),
        Command::Schema => {
            print!("{}", crate::schema::scenario_schema_text());
            Ok(0)
        }
        Command::Report(_) | Command::Compare(_) => unreachable!("handled above"),
    }
}

/// `parity report`: every format from results.json files; a problem is a
/// usage error (exit 2).
fn report(args: ReportArgs) -> Result<i32, String> {
    let sources = args
        .results
        .iter()
        .map(|p| crate::report::load_results(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    crate::report::write_combined(&args.out, &sources)
        .map_err(|e| format!("writing {}: {e}", args.out.display()))?;
    let signoff = crate::report::signoff::sign_off(&sources);
    eprintln!(
        "{}: {}; reports written to {}",
        signoff.word,
        signoff.because,
        args.out.display()
    );
    Ok(0)
}

/// `parity compare`: exit 1 when a verdict became a failure.
fn compare(args: CompareArgs) -> Result<i32, String> {
    let load = |p: &Path| crate::report::load_results(p).map_err(|e| e.to_string());
    let (old, new) = (load(&args.old)?, load(&args.new)?);
    let changes = crate::report::changes::compare_runs(&old.doc, &new.doc);
    print!("{}", crate::report::changes::changes_text(&changes));
    if let Some(path) = &args.html {
        let html = crate::report::changes::changes_html(&changes).map_err(|e| e.to_string())?;
        std::fs::write(path, html).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok(if changes.got_worse() { 1 } else { 0 })
}

fn lint(project: &Project, args: LintArgs) -> Result<i32, CliError> {
    let defaults = [project.root.join(&project.config.scenarios)];
    let paths = if args.paths.is_empty() {
        &defaults[..]
    } else {
        &args.paths[..]
    };
    if let Some(p) = paths.iter().find(|p| !p.exists()) {
        return Err(CliError::Usage(format!("{} does not exist", p.display())));
    }
    let profiles = project.profiles()?;
    let findings = crate::lint::lint_paths(paths, &profiles);
    if args.format == Format::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&findings).unwrap_or_default()
        );
    } else {
        use std::io::Write;
        let mut out = anstream::stdout();
        for f in &findings {
            let _ = writeln!(out, "{}", f.headline());
            if let Some(snippet) = &f.snippet {
                let _ = writeln!(out, "{snippet}");
            }
        }
        let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
        use crate::lint::Severity;
        let _ = writeln!(
            out,
            "{} error(s), {} warning(s), {} note(s)",
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Note)
        );
    }
    Ok(crate::lint::exit_status(&findings, args.strict))
}

fn new_scenario(project: &Project, args: NewArgs) -> Result<i32, CliError> {
    let root = project.root.join(&project.config.scenarios);
    let path =
        crate::scaffold::create(&root, &args.id).map_err(|e| CliError::Usage(e.to_string()))?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let path = path
        .strip_prefix(&cwd)
        .map(Path::to_path_buf)
        .unwrap_or(path);
    println!("created {}", path.display());
    println!(
        "next: edit it, then `parity lint {}` and `parity run {}`",
        path.display(),
        path.display()
    );
    Ok(0)
}

/// Notes, one per scenario and profile, on what a runtime's policy would
/// refuse or ignore, for every profile with a policy (installed or not).
pub fn policy_notes(profiles: &Profiles, scenarios: &[Scenario]) -> Vec<String> {
    let mut notes = Vec::new();
    for s in scenarios {
        for (name, profile) in &profiles.by_name {
            let spec = s.file.container.merged_over(&profile.container);
            for hit in profile.policy.check(&spec) {
                notes.push(format!(
                    "note: {name} {} {} by policy (rule {}: {}; {}: {})",
                    hit.effect.verb(),
                    s.id,
                    hit.rule,
                    hit.message,
                    hit.key,
                    hit.value
                ));
            }
        }
    }
    notes
}

async fn run(project: &Project, args: RunArgs) -> Result<i32, CliError> {
    let mut scenarios = project.scenarios(&args.paths)?;
    if let Some(f) = &args.filter {
        scenarios.retain(|s| s.id.contains(f.as_str()));
    }
    if !args.tags.is_empty() {
        scenarios.retain(|s| s.file.tags.iter().any(|t| args.tags.contains(t)));
    }
    if scenarios.is_empty() {
        return Err(CliError::Usage("no scenario matches".into()));
    }
    let mut options = project.suite_options(&args.runtimes);
    if let Some(j) = args.jobs {
        options.jobs = j.max(1);
    }
    options.repeat = args.repeat;
    options.plan.no_trace = args.no_trace;
    if options.candidates.is_empty() {
        return Err(CliError::Usage("no candidate runtime given".into()));
    }
    let profiles = project.profiles()?;
    for note in policy_notes(&profiles, &scenarios) {
        eprintln!("{note}");
    }
    let started_at = now_rfc3339();
    let suite = Arc::new(Suite::prepare(profiles, options).await?);
    let mut reporter: Box<dyn Reporter> = match args.format {
        Format::Text => {
            let mut r = TerminalReporter::stdout();
            r.verbose = args.verbose;
            Box::new(r)
        }
        Format::Json => {
            let mut r = TerminalReporter::stderr();
            r.verbose = args.verbose;
            Box::new(r)
        }
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
        .map_err(|e| CliError::Usage(format!("internal error: {e}")))?;
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
    if args.format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    if let Some(dir) = &args.report {
        crate::report::write_reports(dir, &doc).map_err(|source| CliError::Write {
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

fn list(project: &Project, args: ListArgs) -> Result<i32, CliError> {
    let scenarios = project.scenarios(&args.paths)?;
    if args.format == Format::Json {
        let items: Vec<serde_json::Value> = scenarios
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id,
                    "path": s.path,
                    "description": s.file.description,
                    "tags": s.file.tags,
                    "observe": s.file.observe,
                    "expect": s.file.expect,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&items).unwrap_or_default()
        );
        return Ok(0);
    }
    let mut out = anstream::stdout();
    use std::io::Write;
    for s in &scenarios {
        let _ = writeln!(out, "{}  [{}]", s.id, s.file.tags.join(", "));
        let _ = writeln!(out, "    {}", s.file.description.trim());
        for d in &s.file.expect.diverges {
            let fields = d.fields_text();
            let _ = writeln!(
                out,
                "    expect {}: {} differ: {}",
                d.runtime, fields, d.reason
            );
        }
    }
    let _ = writeln!(out, "{} scenario(s)", scenarios.len());
    Ok(0)
}

async fn doctor(project: &Project, args: RuntimeArgs) -> Result<i32, CliError> {
    let profiles = project.profiles()?;
    let mut options = project.suite_options(&args);
    if args.candidates.is_empty() {
        // Check every known profile, not only the configured candidates.
        options.candidates = profiles
            .by_name
            .iter()
            .filter(|(n, p)| **n != options.baseline && !p.optional)
            .map(|(n, _)| n.clone())
            .collect();
    }
    let suite = Suite::prepare(profiles.clone(), options.clone()).await?;
    let mut problems = 0;
    println!("runtimes (baseline {}):", options.baseline);
    for name in std::iter::once(&options.baseline).chain(&options.candidates) {
        let p = profiles.get(name)?;
        match suite.availability(name) {
            Availability::Ready => {
                println!("  ok    {name}: {} on {}", p.oci_runtime, p.endpoint())
            }
            Availability::Unavailable(why) => {
                problems += 1;
                println!("  FAIL  {name}: {why}");
            }
        }
    }
    println!("engines:");
    for info in suite.engine_infos() {
        println!(
            "  {}: Docker {} (API {}), kernel {}, runtimes [{}] (default {}){}",
            info.endpoint,
            info.server_version,
            info.api_version,
            info.kernel,
            info.runtimes.join(", "),
            info.default_runtime,
            if info.userns_remap {
                ", userns-remap"
            } else {
                ""
            }
        );
    }
    println!("host:");
    match &suite.host_limits().privileged_blocked {
        None => println!(
            "  ok    privileged containers start under {}",
            options.baseline
        ),
        Some(why) => {
            println!(
                "  NOTE  privileged containers cannot start under {}: {why}",
                options.baseline
            );
            println!(
                "        scenarios with `privileged: true` are reported as skipped on this host"
            );
        }
    }
    let probe = crate::probe_bin::probe_binary();
    if probe.is_empty() {
        problems += 1;
        println!("  FAIL  the probe binary is not embedded in this build");
    } else {
        println!("  ok    probe embedded ({} bytes)", probe.len());
    }
    match crate::image::ImageSource::from_host(probe) {
        Ok(src) => println!(
            "  ok    default image {} (busybox with {} applets)",
            src.reference(),
            src.applets.len()
        ),
        Err(e) => {
            problems += 1;
            println!("  FAIL  {e}");
        }
    }
    if problems > 0 {
        println!(
            "{problems} problem(s); runtimes/setup-host.sh installs and starts what parity needs"
        );
        Ok(1)
    } else {
        println!("all good");
        Ok(0)
    }
}

/// Prints the summary of results (used by callers that collect results
/// without a terminal reporter).
pub fn summary(results: &[crate::event::ScenarioResult]) -> String {
    terminal::summary(results)
}
