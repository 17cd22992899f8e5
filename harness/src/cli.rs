//! The `parity` command line: argument parsing and dispatch. Each
//! subcommand's logic lives in the module that owns it (`suite::session`,
//! `suite::doctor`, `author`, `report`); this file only maps arguments to
//! those calls and their results to output and exit statuses. Exit codes
//! follow DESIGN.md: 0 nothing failed, 1 a scenario failed, 2 a usage or
//! configuration error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ConfigError, Project, Selection};
use crate::judge::snapshot_files as snaps;
use crate::load::partition::{self, Partition};
use crate::suite::RunRequest;

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
    /// Write scenarios from a `docker run` line or a Compose file (never over a file).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Start a project here (or at --root): a commented parity.toml and a first scenario.
    Init,
    /// Print the JSON Schema of scenario files (scenarios/scenario.schema.json).
    Schema,
    /// Snapshots: `parity snapshots accept DIR` brings in those a CI run would have recorded.
    #[command(subcommand)]
    Snapshots(SnapshotsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SnapshotsCommand {
    /// Copy new snapshots from DIR (a downloaded CI artifact) into the checkout; a snapshot
    /// that differs from the committed one is put beside it as .snap.new for `cargo insta review`.
    Accept { dir: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A scenario from a docker run line: NAME -- docker run [FLAGS] IMAGE COMMAND...
    DockerRun {
        /// AREA/NAME (scenarios/AREA/NAME.yaml), or NAME alone for imported/NAME.
        name: String,
        #[arg(last = true, required = true, value_name = "DOCKER_RUN_LINE")]
        argv: Vec<String>,
    },
    /// A stack scenario of a Compose file (scenarios/AREA/stack.yaml, AREA from its
    /// `name:`, file or folder name), or with --per-service one scenario per service.
    Compose(crate::author::compose_stack::ComposeImport),
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
    /// Time allowed per container on top of its timeout for setup and
    /// teardown, e.g. 50s (default from parity.toml or PARITY_GRACE).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub grace: Option<std::time::Duration>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also show diffs of expected divergences.
    #[arg(long, short)]
    pub verbose: bool,
    /// Write results.json (and the other reports) into this folder.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// A candidate that must run every scenario this host can run, else the
    /// sign-off is NOT READY and the exit status 1 (repeatable; added to the candidates).
    #[arg(long = "require", value_name = "NAME")]
    pub require: Vec<String>,
    /// Only part K of N of the selection (split by id hash), e.g. 1/3 in a CI matrix.
    #[arg(long, value_name = "K/N")]
    pub partition: Option<Partition>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Scenario files or folders (default: the scenario library).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Only part K of N of the scenarios, as `run --partition` takes them.
    #[arg(long, value_name = "K/N")]
    pub partition: Option<Partition>,
}

impl RuntimeArgs {
    fn selection(&self) -> Selection {
        Selection {
            baseline: self.baseline.clone(),
            candidates: self.candidates.clone(),
        }
    }
}

/// Runs the CLI; returns the process exit code.
pub async fn main(cli: Cli) -> Result<i32, ConfigError> {
    match cli.command {
        Command::Report(args) => {
            let line =
                crate::report::rerender(&args.results, &args.out).map_err(ConfigError::Usage)?;
            eprintln!("{line}");
            return Ok(0);
        }
        Command::Compare(args) => {
            let (text, worse) =
                crate::report::compare_files(&args.old, &args.new, args.html.as_deref())
                    .map_err(ConfigError::Usage)?;
            print!("{text}");
            return Ok(i32::from(worse));
        }
        Command::Schema => {
            print!("{}", crate::load::schema::scenario_schema_text());
            return Ok(0);
        }
        Command::Init => return printed(crate::author::init::command(cli.root.as_deref())),
        _ => {}
    }
    let project = Project::find(cli.root.as_deref())?;
    let (lib, cwd) = (
        project.library(),
        std::env::current_dir().unwrap_or_default(),
    );
    match cli.command {
        Command::Run(args) => crate::suite::session::run(&project, args.request()).await,
        Command::List(args) => {
            let scenarios = partition::select(project.scenarios(&args.paths)?, args.partition);
            let json = args.format == Format::Json;
            print!("{}", crate::report::listing::render(&scenarios, json));
            Ok(0)
        }
        Command::Doctor(args) => {
            let (text, code) = crate::suite::doctor::doctor(&project, &args.selection()).await?;
            print!("{text}");
            Ok(code)
        }
        Command::Lint(args) => {
            let paths = project.paths_or_library(&args.paths)?;
            let json = args.format == Format::Json;
            let (text, code) =
                crate::author::lint::command(&paths, &project.profiles()?, json, args.strict);
            print!("{text}");
            Ok(code)
        }
        Command::Snapshots(SnapshotsCommand::Accept { dir }) => {
            let done = snaps::accept(&dir, &project.root).map_err(usage)?;
            print!("{}", snaps::accepted_text(&done, &project.root));
            Ok(i32::from(!done.problems.is_empty()))
        }
        Command::New(args) => printed(crate::author::scaffold::command(&lib, &args.id, &cwd)),
        Command::Import(ImportCommand::DockerRun { name, argv }) => {
            printed(crate::author::docker_run::command(&lib, &name, &argv, &cwd))
        }
        Command::Import(ImportCommand::Compose(c)) => printed(c.run(&lib, &cwd)),
        Command::Report(_) | Command::Compare(_) | Command::Schema | Command::Init => {
            unreachable!("handled above")
        }
    }
}

fn usage(e: impl std::fmt::Display) -> ConfigError {
    ConfigError::Usage(e.to_string())
}

/// Prints a command's text; its error is a usage error (exit 2).
fn printed(text: Result<String, impl std::fmt::Display>) -> Result<i32, ConfigError> {
    print!("{}", text.map_err(usage)?);
    Ok(0)
}

impl RunArgs {
    fn request(self) -> RunRequest {
        RunRequest {
            selection: self.runtimes.selection(),
            paths: self.paths,
            filter: self.filter,
            tags: self.tags,
            jobs: self.jobs,
            repeat: self.repeat,
            no_trace: self.no_trace,
            grace: self.grace,
            json: self.format == Format::Json,
            verbose: self.verbose,
            report: self.report,
            require: self.require,
            partition: self.partition,
        }
    }
}
