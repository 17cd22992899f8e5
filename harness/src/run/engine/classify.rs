//! Telling an engine's refusal from infrastructure trouble.
//!
//! A refusal is the engine or the OCI runtime rejecting the container's
//! configuration: an observation, compared like any other. Trouble says
//! nothing about the runtime: it is the harness's `error`, never a
//! refusal, so a stalled containerd that hits both sides alike cannot read
//! as parity. The decision rests on what was answered and when, not on a
//! vocabulary of refusals (moby's and the runtimes' wording is open-ended,
//! and the same words come with different statuses):
//!
//! - no answer at all (a lost connection, a protocol error), or an answer
//!   carrying a known marker of trouble below the runtime's decision
//!   (timeouts, lost connections, shim and fifo failures): trouble;
//! - a client error of the request (400, 403): the daemon's validation
//!   said no before anything ran: a refusal;
//! - anything else (a 5xx, a 404 other than a missing image, a 409) is
//!   unsettled until the same request is made again: answered again word
//!   for word (ids and numbers aside), it is a refusal, deterministic as a
//!   configuration's rejection is; an answer that changes, a second attempt
//!   that succeeds, or an object that went away between the two is trouble.
//!
//! Every decision is kept ([`Decision`]) with the phase, who spoke (the
//! daemon, or the OCI runtime's own message passed through) and why, so a
//! reader of the results can tell a refusal from trouble.

use serde::{Deserialize, Serialize};

/// When the engine answered: which request of a container's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The container create request (the daemon's validation and setup).
    Create,
    /// The probe's upload into the created container.
    Upload,
    /// The container start request (the daemon's spec, then the runtime).
    Start,
    /// An exec (a step or a readiness check) in the running container.
    Exec,
    /// A build's step.
    Build,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Upload => "probe upload",
            Phase::Start => "start",
            Phase::Exec => "exec",
            Phase::Build => "build",
        }
    }
}

/// Who gave the answer's reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The daemon itself (validation, spec generation, setup).
    Daemon,
    /// The OCI runtime's own message, passed through by containerd's shim
    /// (`OCI runtime create failed: ...`).
    Runtime,
    /// Nobody: no answer came back.
    Nobody,
}

/// Why an answer was taken for a refusal or for trouble.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Basis {
    /// A client error of the request (HTTP 400 or 403): the daemon's
    /// validation said no before anything ran. A refusal.
    Validation,
    /// The same request answered the same way twice, word for word (ids
    /// and numbers aside). A refusal.
    Repeated,
    /// A known marker of trouble below the runtime's decision. Trouble.
    Marker { marker: String },
    /// No answer: a lost connection or an unreadable reply. Trouble.
    NoAnswer,
    /// The same request answered differently the second time. Trouble.
    Changed { second: String },
    /// The second attempt of the same request succeeded. Trouble that
    /// passed: the run went on with the second attempt.
    Passed,
    /// The container went away between the two attempts. Trouble.
    Vanished,
    /// The request could not be made a second time (the deadline or an
    /// interrupt came first): an answer not settled is never a refusal.
    Unsettled { why: String },
}

/// How one engine answer was decided, as results.json keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Decision {
    /// `refusal` or `trouble`.
    pub decided: Verdict,
    pub phase: Phase,
    pub speaker: Speaker,
    /// The HTTP status of the (first) answer; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(flatten)]
    pub basis: Basis,
}

/// The two ways an answer is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Refusal,
    Trouble,
}

impl Decision {
    pub fn is_refusal(&self) -> bool {
        self.decided == Verdict::Refusal
    }

    /// For people: `refused at start by the OCI runtime (HTTP 500): the
    /// same answer twice, word for word`.
    pub fn describe(&self) -> String {
        let who = match self.speaker {
            Speaker::Daemon => " by the daemon",
            Speaker::Runtime => " by the OCI runtime",
            Speaker::Nobody => "",
        };
        let status = self
            .status
            .map(|s| format!(" (HTTP {s})"))
            .unwrap_or_default();
        let why = match &self.basis {
            Basis::Validation => "the daemon's validation of the request".to_string(),
            Basis::Repeated => "the same answer twice, word for word".to_string(),
            Basis::Marker { marker } => format!("a mark of trouble below the runtime ({marker:?})"),
            Basis::NoAnswer => "no answer from the engine".to_string(),
            Basis::Changed { second } => {
                format!("a second attempt was answered differently: {second}")
            }
            Basis::Passed => "a second attempt succeeded".to_string(),
            Basis::Vanished => "the container went away between two attempts".to_string(),
            Basis::Unsettled { why } => {
                format!("not repeated ({why}), so not settled as a refusal")
            }
        };
        match self.decided {
            Verdict::Refusal => format!("refused at {}{who}{status}: {why}", self.phase.name()),
            Verdict::Trouble => format!(
                "engine trouble at {}, not a refusal{status}: {why}",
                self.phase.name()
            ),
        }
    }
}

/// One error answer of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status; absent for an error inside a stream (a build's).
    pub status: Option<u16>,
    pub message: String,
}

impl Answer {
    pub fn new(status: u16, message: &str) -> Answer {
        Answer {
            status: Some(status),
            message: message.trim().to_string(),
        }
    }

    /// The answer in a bollard error, or `Err` with the error's text when
    /// no answer came back (connection, protocol, decoding).
    pub fn of(e: &bollard::errors::Error) -> Result<Answer, String> {
        match e {
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            } => Ok(Answer::new(*status_code, message)),
            other => Err(other.to_string()),
        }
    }

    /// An error reported inside a stream (a build's `errorDetail`).
    pub fn streamed(message: &str) -> Answer {
        Answer {
            status: None,
            message: message.trim().to_string(),
        }
    }

    /// Who gave the reason: the OCI runtime when containerd's shim passed
    /// its own message through (`OCI runtime create failed: ...`,
    /// `OCI runtime start failed: ...`), else the daemon.
    pub fn speaker(&self) -> Speaker {
        let lower = self.message.to_lowercase();
        match lower.find("oci runtime ") {
            Some(at)
                if lower[at..]
                    .split(':')
                    .next()
                    .is_some_and(|w| w.ends_with("failed")) =>
            {
                Speaker::Runtime
            }
            _ => Speaker::Daemon,
        }
    }

    /// The words of the answer with ids and numbers masked, for telling
    /// whether two answers are the same.
    pub fn words(&self) -> String {
        let mut out = String::new();
        let mut token = String::new();
        let flush = |token: &mut String, out: &mut String| {
            let has_digit = token.chars().any(|c| c.is_ascii_digit());
            if token.len() >= 12 && has_digit {
                out.push_str("<id>");
            } else if has_digit {
                // Numbers inside a word (fd 6, pid 123, port 4000) vary.
                let mut last_digit = false;
                for c in token.chars() {
                    match (c.is_ascii_digit(), last_digit) {
                        (true, false) => out.push('#'),
                        (true, true) => {}
                        (false, _) => out.push(c),
                    }
                    last_digit = c.is_ascii_digit();
                }
            } else {
                out.push_str(token);
            }
            token.clear();
        };
        for c in self.message.chars() {
            if c.is_ascii_alphanumeric() {
                token.push(c);
            } else {
                flush(&mut token, &mut out);
                out.push(c);
            }
        }
        flush(&mut token, &mut out);
        out
    }

    /// Whether `other` is this answer again: the same status and words.
    pub fn same_as(&self, other: &Answer) -> bool {
        self.status == other.status && self.words() == other.words()
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "HTTP {s}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Markers of trouble below the runtime's own decision. They win over
/// whatever else the answer says: `failed to create shim task: ... context
/// deadline exceeded` is containerd timing out, not runc refusing.
const INFRASTRUCTURE: [&str; 23] = [
    "context deadline exceeded",
    "context canceled",
    "deadline exceeded",
    "i/o timeout",
    "timed out",
    "connection reset",
    "connection refused",
    "broken pipe",
    "transport is closing",
    "ttrpc: closed",
    "ttrpc: client shutting down",
    "shim disconnected",
    "failed to start shim",
    "shim exited",
    "unexpected eof",
    "fifo",
    "error while dialing",
    "dial unix",
    "cannot connect to the docker daemon",
    "is the docker daemon running",
    "containerd: container not found",
    "no space left on device",
    "resource temporarily unavailable",
];

/// What one answer says by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// The image is not in the engine (harness trouble of its own kind).
    MissingImage,
    /// Settled already: a refusal or trouble.
    Decided(Decision),
    /// Only a second attempt of the same request can settle it.
    Unsettled,
}

/// What `answer`, given at `phase`, says by itself.
pub fn look(phase: Phase, answer: &Answer) -> Look {
    let lower = answer.message.to_lowercase();
    if answer.status == Some(404) && lower.contains("no such image") {
        return Look::MissingImage;
    }
    let decision = |decided, basis| Decision {
        decided,
        phase,
        speaker: answer.speaker(),
        status: answer.status,
        basis,
    };
    if let Some(m) = INFRASTRUCTURE.iter().find(|m| lower.contains(*m)) {
        return Look::Decided(decision(
            Verdict::Trouble,
            Basis::Marker {
                marker: m.to_string(),
            },
        ));
    }
    match answer.status {
        // The daemon validated the request and said no: a client error of
        // the request itself, nothing was run.
        Some(400 | 403) => Look::Decided(decision(Verdict::Refusal, Basis::Validation)),
        _ => Look::Unsettled,
    }
}

/// No answer came back at `phase`: trouble.
pub fn no_answer(phase: Phase) -> Decision {
    Decision {
        decided: Verdict::Trouble,
        phase,
        speaker: Speaker::Nobody,
        status: None,
        basis: Basis::NoAnswer,
    }
}

/// What the second attempt of the same request gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Second {
    /// It succeeded.
    Succeeded,
    /// An error answer.
    Answered(Answer),
    /// No answer (connection, protocol).
    NoAnswer,
    /// The container the request addressed is gone.
    Vanished,
    /// It could not be made (a deadline or an interrupt first).
    NotMade(String),
}

/// Settles an unsettled `first` answer at `phase` by the `second`
/// attempt of the same request.
pub fn settle(phase: Phase, first: &Answer, second: &Second) -> Decision {
    let decision = |decided, basis| Decision {
        decided,
        phase,
        speaker: first.speaker(),
        status: first.status,
        basis,
    };
    match second {
        Second::Answered(again) => match look(phase, again) {
            Look::Decided(d) if !d.is_refusal() => Decision {
                status: first.status,
                ..d
            },
            _ if first.same_as(again) => decision(Verdict::Refusal, Basis::Repeated),
            _ => decision(
                Verdict::Trouble,
                Basis::Changed {
                    second: again.to_string(),
                },
            ),
        },
        Second::Succeeded => decision(Verdict::Trouble, Basis::Passed),
        Second::NoAnswer => decision(Verdict::Trouble, Basis::NoAnswer),
        Second::Vanished => decision(Verdict::Trouble, Basis::Vanished),
        Second::NotMade(why) => decision(Verdict::Trouble, Basis::Unsettled { why: why.clone() }),
    }
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
