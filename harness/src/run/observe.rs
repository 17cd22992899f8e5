//! What one run of one scenario under one runtime gave.
//!
//! Owns the [`Observation`] type and the canonical text of each observed
//! field, the form that normalization, comparison, snapshots and reports
//! work on. It does not talk to engines and does not compare.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::load::scenario::Field;

/// Default cap on each captured output stream.
pub const OUTPUT_CAP: usize = 1024 * 1024;

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
}

/// The engine's answer to create and start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EngineOutcome {
    Started,
    /// The engine or the OCI runtime refused the container; its message.
    Refused {
        message: String,
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
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(c) => write!(f, "{c}"),
            ExitStatus::Signal(s) => write!(f, "signal: {s}"),
            ExitStatus::Oom => f.write_str("oom"),
            ExitStatus::Timeout => f.write_str("timeout"),
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

/// A captured output stream, capped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Captured {
    /// The text (invalid UTF-8 replaced), at most the cap.
    pub text: String,
    /// Bytes the workload wrote in all.
    pub bytes: u64,
    /// Set when `text` holds only the first `cap` bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated_at: Option<u64>,
}

impl Captured {
    pub fn from_bytes(bytes: &[u8], total: u64, cap: usize) -> Captured {
        let kept = &bytes[..bytes.len().min(cap)];
        Captured {
            text: String::from_utf8_lossy(kept).into_owned(),
            bytes: total,
            truncated_at: (total > cap as u64).then_some(cap as u64),
        }
    }

    fn canonical(&self) -> String {
        match self.truncated_at {
            Some(cap) => format!(
                "{}\n[output truncated at {cap} of {} bytes]",
                self.text, self.bytes
            ),
            None => self.text.clone(),
        }
    }
}

impl Observation {
    /// A refused run.
    pub fn refused(runtime: &str, message: String, duration_ms: u64) -> Observation {
        Observation {
            runtime: runtime.to_string(),
            engine: EngineOutcome::Refused { message },
            exit_code: None,
            stdout: Captured::default(),
            stderr: Captured::default(),
            probe: BTreeMap::new(),
            duration_ms,
        }
    }

    pub fn refused_message(&self) -> Option<&str> {
        match &self.engine {
            EngineOutcome::Refused { message } => Some(message),
            EngineOutcome::Started => None,
        }
    }

    /// The canonical text of `field`, before normalization. A refused run
    /// has only the `engine` field.
    pub fn text(&self, field: Field) -> Option<String> {
        if field == Field::Engine {
            return Some(match &self.engine {
                EngineOutcome::Started => "started".into(),
                EngineOutcome::Refused { message } => format!("refused: {message}"),
            });
        }
        if self.refused_message().is_some() {
            return None;
        }
        match field {
            Field::Engine => unreachable!("handled above"),
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
    fn truncation_is_visible_in_the_text() {
        let c = Captured::from_bytes(b"abcdef", 6, 3);
        assert_eq!(c.text, "abc");
        assert_eq!(c.canonical(), "abc\n[output truncated at 3 of 6 bytes]");
    }

    #[test]
    fn refused_runs_only_have_the_engine_field() {
        let o = Observation::refused("r", "no".into(), 1);
        assert_eq!(o.text(Field::Engine).unwrap(), "refused: no");
        assert_eq!(o.text(Field::ExitCode), None);
    }
}
