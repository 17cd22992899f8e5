//! What one run of one scenario under one runtime gave.
//!
//! Owns the [`Observation`] type and the canonical text of each observed
//! field, the form that normalization, comparison, snapshots and reports
//! work on. It does not talk to engines and does not compare.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::load::scenario::Field;

pub use crate::run::capture::{Captured, OUTPUT_CAP, RawStream, stream_canonical};

/// One run's observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Observation {
    /// The runtime profile it ran under.
    pub runtime: String,
    /// Whether the engine created and started the container.
    pub engine: EngineOutcome,
    /// How the workload ended; absent when the engine refused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<ExitStatus>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// Canonical text of the probe's fields (syscalls, mounts, facts), by
    /// field; absent fields were not observed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probe: BTreeMap<Field, String>,
    /// Wall time of the run; reported, never compared.
    pub duration_ms: u64,
    /// The steps run inside the container, in order (a service scenario's
    /// exec steps); each is compared with the other side's step of the same
    /// name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepObservation>,
    /// Whether a service became ready, for a scenario with `ready:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<ReadyObservation>,
}

/// Whether a service became ready: compared as [`ReadyOutcome`]; how long
/// it took and what the last check said are reported, never compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReadyObservation {
    pub outcome: ReadyOutcome,
    /// The check, for people: `log "API listen"`, `exec docker info`,
    /// `file /run/systemd/private`.
    pub check: String,
    /// Time from start until ready, or until waiting ended.
    pub after_ms: u64,
    /// How many times the check ran (exec and file checks).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// What the last failed check said (its exit status and output, cut
    /// short), to explain a service that never became ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// How waiting for a service ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReadyOutcome {
    Ready,
    /// The check did not pass within the timeout.
    TimedOut {
        timeout_ms: u64,
    },
    /// The service exited before the check passed.
    Exited,
    /// The check itself could not run (the engine refused the exec).
    CheckRefused {
        message: String,
    },
    /// The engine's healthcheck called the service unhealthy.
    Unhealthy,
}

impl fmt::Display for ReadyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadyOutcome::Ready => f.write_str("ready"),
            ReadyOutcome::TimedOut { timeout_ms } => write!(
                f,
                "not ready within {}",
                humantime::format_duration(std::time::Duration::from_millis(*timeout_ms))
            ),
            ReadyOutcome::Exited => f.write_str("not ready: the service exited first"),
            ReadyOutcome::CheckRefused { message } => {
                write!(f, "not ready: the engine refused the check: {message}")
            }
            ReadyOutcome::Unhealthy => f.write_str("not ready: unhealthy"),
        }
    }
}

/// One step: a command run inside the running container (or a stage of
/// a build), observed like a run of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepObservation {
    /// The step's name, unique within the scenario.
    pub name: String,
    /// A step, or (in a stack scenario) one of the stack's services.
    #[serde(default, skip_serializing_if = "StepKind::is_step")]
    pub kind: StepKind,
    /// Whether a stack's service became ready (its `ready:` check and its
    /// healthcheck).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<ReadyObservation>,
    /// Whether the engine ran the step, or its refusal (`not run: ...`
    /// when an earlier step stopped the scenario).
    pub engine: EngineOutcome,
    /// How the step ended; absent when it did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<ExitStatus>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// Canonical text of the probe's fields for this step (`syscalls` when
    /// the step was traced), by field.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probe: BTreeMap<Field, String>,
    /// Wall time of the step; reported, never compared.
    pub duration_ms: u64,
}

/// What an entry of [`Observation::steps`] is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A command run with exec (or a build's step).
    #[default]
    Step,
    /// A service of a stack: its start (or refusal), readiness, how it
    /// ended and its output over its whole life.
    Service,
}

impl StepKind {
    pub fn is_step(&self) -> bool {
        *self == StepKind::Step
    }

    /// `step` or `service`, for people and snapshot keys.
    pub fn word(self) -> &'static str {
        match self {
            StepKind::Step => "step",
            StepKind::Service => "service",
        }
    }
}

/// What a compared text belongs to: a field of the run itself, or a field
/// of one of its steps. Ordered as the run happened: the run's own fields,
/// then each step's in step order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject {
    /// The step (its position and name), or `None` for the run itself.
    pub step: Option<(usize, String)>,
    /// The step is a stack's service.
    pub service: bool,
    pub field: Field,
}

impl From<Field> for Subject {
    fn from(field: Field) -> Subject {
        Subject {
            step: None,
            service: false,
            field,
        }
    }
}

impl Subject {
    pub fn step(index: usize, name: &str, field: Field) -> Subject {
        Subject {
            step: Some((index, name.to_string())),
            service: false,
            field,
        }
    }

    /// A field of a stack's service (an entry of the steps, first).
    pub fn service(index: usize, name: &str, field: Field) -> Subject {
        Subject {
            service: true,
            ..Subject::step(index, name, field)
        }
    }

    fn kind(&self) -> StepKind {
        match self.service {
            true => StepKind::Service,
            false => StepKind::Step,
        }
    }

    /// The step's name, if this is a step's field.
    pub fn step_name(&self) -> Option<&str> {
        self.step.as_ref().map(|(_, n)| n.as_str())
    }

    /// For people: `exit_code`, or `step "info": exit_code`.
    pub fn label(&self) -> String {
        match self.step_name() {
            None => self.field.name().to_string(),
            Some(n) => format!("{} {n:?}: {}", self.kind().word(), self.field),
        }
    }

    /// The key of this subject in a snapshot: `exit_code`,
    /// `steps/info/exit_code`, or `services/db/exit_code`.
    pub fn key(&self) -> String {
        match self.step_name() {
            None => self.field.name().to_string(),
            Some(n) => format!("{}s/{n}/{}", self.kind().word(), self.field),
        }
    }
}

/// Normalized comparable texts of one observation, by subject.
pub type Texts = BTreeMap<Subject, String>;

/// The fields a step can have: what the engine and the probe observe of a
/// command run inside the container.
pub fn step_field(f: Field) -> bool {
    matches!(
        f,
        Field::Engine | Field::ExitCode | Field::Stdout | Field::Stderr | Field::Syscalls
    )
}

/// The fields a stack's service can have.
pub fn service_field(f: Field) -> bool {
    matches!(
        f,
        Field::Engine | Field::Ready | Field::ExitCode | Field::Stdout | Field::Stderr
    )
}

/// The engine's answer to create and start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EngineOutcome {
    Started,
    /// The engine or the OCI runtime refused the container; its message,
    /// and how the answer was taken for a refusal (reported, never
    /// compared; absent in older documents and for steps not run).
    Refused {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decision: Option<crate::run::engine::Decision>,
    },
}

/// How the workload ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExitStatus {
    Code(i64),
    Signal(String),
    Oom,
    Timeout,
    /// A service still running after its last step (then parity stops it).
    Running,
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "{c}"),
            ExitStatus::Signal(s) => write!(f, "signal: {s}"),
            ExitStatus::Oom => f.write_str("oom"),
            ExitStatus::Timeout => f.write_str("timeout"),
            ExitStatus::Running => f.write_str("running (after the last step)"),
        }
    }
}

impl ExitStatus {
    /// From an engine exit code: above 128 is a death by signal.
    pub fn from_code(code: i64, oom_killed: bool) -> ExitStatus {
        if oom_killed {
            return ExitStatus::Oom;
        }
        if (129..=128 + 64).contains(&code) {
            return ExitStatus::Signal(signal_name((code - 128) as i32));
        }
        ExitStatus::Code(code)
    }
}

pub use parity_wire::signal_name;

impl Observation {
    /// A refused run.
    pub fn refused(runtime: &str, message: String, duration_ms: u64) -> Observation {
        Observation {
            runtime: runtime.to_string(),
            engine: EngineOutcome::Refused {
                message,
                decision: None,
            },
            exit_code: None,
            stdout: Captured::default(),
            stderr: Captured::default(),
            probe: BTreeMap::new(),
            duration_ms,
            steps: Vec::new(),
            ready: None,
        }
    }

    pub fn refused_message(&self) -> Option<&str> {
        match &self.engine {
            EngineOutcome::Refused { message, .. } => Some(message),
            EngineOutcome::Started => None,
        }
    }

    /// The canonical text of `subject`, before normalization: a field of
    /// the run, or of one of its steps.
    pub fn subject_text(&self, subject: &Subject) -> Option<String> {
        match &subject.step {
            None => self.text(subject.field),
            Some((i, name)) => self
                .steps
                .get(*i)
                .filter(|s| &s.name == name)
                .and_then(|s| s.text(subject.field)),
        }
    }

    /// The captured stream a subject names (stdout or stderr of the run or
    /// of a step), for byte-exact comparison.
    pub fn stream(&self, subject: &Subject) -> Option<&Captured> {
        if self.refused_message().is_some() {
            return None;
        }
        let (out, err) = match &subject.step {
            None => (&self.stdout, &self.stderr),
            Some((i, name)) => {
                let step = self.steps.get(*i).filter(|s| &s.name == name)?;
                if matches!(step.engine, EngineOutcome::Refused { .. }) {
                    return None;
                }
                (&step.stdout, &step.stderr)
            }
        };
        match subject.field {
            Field::Stdout => Some(out),
            Field::Stderr => Some(err),
            _ => None,
        }
    }

    /// The subjects this observation has among `fields`: the run's own,
    /// then each step's (a refused run has only `engine`).
    pub fn subjects(&self, fields: &std::collections::BTreeSet<Field>) -> Vec<Subject> {
        if self.refused_message().is_some() {
            return vec![Field::Engine.into()];
        }
        let stack = self.steps.iter().any(|s| s.kind == StepKind::Service);
        // A stack's own fields are only whether it was set up (its
        // networks and volumes); the rest is per service.
        let mut out: Vec<Subject> = fields
            .iter()
            .filter(|f| !stack || **f == Field::Engine)
            .map(|f| Subject::from(*f))
            .collect();
        for (i, step) in self.steps.iter().enumerate() {
            match step.kind {
                StepKind::Step => {
                    for f in fields.iter().filter(|f| step_field(**f)) {
                        out.push(Subject::step(i, &step.name, *f));
                    }
                }
                StepKind::Service => {
                    for f in fields.iter().filter(|f| service_field(**f)) {
                        out.push(Subject::service(i, &step.name, *f));
                    }
                }
            }
        }
        out
    }

    /// The canonical text of `field`, before normalization. A refused run
    /// has only the `engine` field.
    pub fn text(&self, field: Field) -> Option<String> {
        if field == Field::Engine {
            return Some(match &self.engine {
                EngineOutcome::Started => "started".into(),
                EngineOutcome::Refused { message, .. } => format!("refused: {message}"),
            });
        }
        if self.refused_message().is_some() {
            return None;
        }
        match field {
            Field::Engine => unreachable!("handled above"),
            Field::Ready => self.ready.as_ref().map(|r| r.outcome.to_string()),
            Field::ExitCode => self.exit_code.as_ref().map(ToString::to_string),
            Field::Stdout => Some(self.stdout.canonical()),
            Field::Stderr => Some(self.stderr.canonical()),
            other => Some(
                self.probe
                    .get(&other)
                    .cloned()
                    .unwrap_or_else(|| "unavailable (not observed by the probe)".into()),
            ),
        }
    }
}

impl StepObservation {
    /// A step the engine started, with its exit status and output, and no
    /// timing (build steps have none).
    pub fn started(
        name: &str,
        exit: Option<ExitStatus>,
        out: &[u8],
        err: &[u8],
    ) -> StepObservation {
        StepObservation {
            kind: Default::default(),
            ready: None,
            name: name.to_string(),
            engine: EngineOutcome::Started,
            exit_code: exit,
            stdout: Captured::from_bytes(out),
            stderr: Captured::from_bytes(err),
            probe: Default::default(),
            duration_ms: 0,
        }
    }

    /// The canonical text of one of the step's fields; a step that did not
    /// run has only `engine`.
    pub fn text(&self, field: Field) -> Option<String> {
        match field {
            Field::Engine => Some(match &self.engine {
                EngineOutcome::Started => "started".into(),
                EngineOutcome::Refused { message, .. } => format!("refused: {message}"),
            }),
            _ if matches!(self.engine, EngineOutcome::Refused { .. }) => None,
            Field::Ready => self.ready.as_ref().map(|r| r.outcome.to_string()),
            Field::ExitCode => self.exit_code.as_ref().map(ToString::to_string),
            Field::Stdout => Some(self.stdout.canonical()),
            Field::Stderr => Some(self.stderr.canonical()),
            other => self.probe.get(&other).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0, false, "0")]
    #[case(1, false, "1")]
    #[case(137, false, "signal: SIGKILL")]
    #[case(143, false, "signal: SIGTERM")]
    #[case(137, true, "oom")]
    #[case(162, false, "signal: SIGRTMIN+2")]
    #[case(255, false, "255")]
    fn exit_codes_read_as_docker_reports_them(
        #[case] code: i64,
        #[case] oom: bool,
        #[case] text: &str,
    ) {
        assert_eq!(ExitStatus::from_code(code, oom).to_string(), text);
    }

    #[test]
    fn truncation_and_encoding_are_visible_in_the_text() {
        let mut cap = crate::run::capture::StreamCapture::new(3, 100);
        cap.push(b"abcdef");
        let c = cap.finish();
        assert_eq!(c.text, "abc");
        assert_eq!(
            c.canonical(),
            format!(
                "abc\n[output truncated: the first 3 of 6 bytes shown; sha256 of all 6: {}]",
                crate::run::capture::sha256_hex(b"abcdef")
            )
        );
        assert_eq!(Captured::from_bytes(b"ok\n").canonical(), "ok\n");
        let bad = Captured::from_bytes(b"\xff\n");
        assert!(
            bad.canonical()
                .starts_with("\\xff\n\n[not UTF-8: 2 bytes, sha256 ")
        );
        assert_ne!(bad.canonical(), Captured::from_bytes(b"\xfe\n").canonical());
    }

    #[test]
    fn refused_runs_only_have_the_engine_field() {
        let o = Observation::refused("r", "no".into(), 1);
        assert_eq!(o.text(Field::Engine).unwrap(), "refused: no");
        assert_eq!(o.text(Field::ExitCode), None);
    }
}
