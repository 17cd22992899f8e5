//! Waiting for a long-running service to be up: a regex over each line of
//! its output as it is written, a command that exits 0, or a file that
//! exists (checked from inside the container by the probe).
//!
//! Owns the readiness check of a service scenario and what it says: ready,
//! not ready within the timeout, or the service exited first. Checks are
//! polled with a growing pause (never a fixed sleep), a service that exits
//! ends the wait at once, and an interrupt ends it at once too. How long it
//! took is reported; only the outcome is compared.

use std::time::{Duration, Instant};

use regex::Regex;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::run::engine::{Channel, Chunk, Deadline, Engine, EngineError, ExecSpec};
use crate::run::image::PROBE_PATH;
use crate::run::observe::{ExitStatus, ReadyObservation, ReadyOutcome};

/// The first pause between two checks; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// The longest one exec or file check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);
/// Output of a failed check kept to explain it.
const LAST_CHECK_CHARS: usize = 300;

/// What readiness waits for, as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyKind {
    Log(String),
    Exec(Vec<String>),
    File(String),
}

impl ReadyKind {
    /// For people: `log "API listen"`, `exec docker info`, `file /run/x`.
    pub fn describe(&self) -> String {
        match self {
            ReadyKind::Log(re) => format!("log {re:?}"),
            ReadyKind::Exec(cmd) => format!("exec {}", cmd.join(" ")),
            ReadyKind::File(path) => format!("file {path}"),
        }
    }
}

/// Lines of one stream, split as they arrive: a line cut across chunks is
/// matched once it is whole (or, while it is still being written, as far
/// as it goes).
#[derive(Debug, Default)]
pub struct LineMatcher {
    partial: [Vec<u8>; 2],
}

impl LineMatcher {
    /// Takes the next chunk of `channel`; whether a line now matches `re`.
    pub fn push(&mut self, re: &Regex, channel: Channel, bytes: &[u8]) -> bool {
        let buf = &mut self.partial[match channel {
            Channel::Stdout => 0,
            Channel::Stderr => 1,
        }];
        buf.extend_from_slice(bytes);
        let mut matched = false;
        while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            matched |= re.is_match(&String::from_utf8_lossy(&line[..nl]));
        }
        // A prompt that ends without a newline is a line so far.
        matched || (!buf.is_empty() && re.is_match(&String::from_utf8_lossy(buf)))
    }
}

/// Waits for readiness of the container `id`, started at `started`. `tap` carries the container's output (for a log
/// check); it closes when the output ends, that is when the service exits.
#[expect(clippy::too_many_arguments)]
pub async fn await_ready(
    engine: &Engine,
    id: &str,
    kind: &ReadyKind,
    timeout: Duration,
    tap: Option<mpsc::UnboundedReceiver<Chunk>>,
    deadline: &Deadline,
    cancel: &CancellationToken,
    started: Instant,
) -> Result<ReadyObservation, EngineError> {
    let mut obs = ReadyObservation {
        outcome: ReadyOutcome::Ready,
        check: kind.describe(),
        after_ms: 0,
        attempts: 0,
        last_check: None,
    };
    let outcome = match kind {
        ReadyKind::Log(pattern) => {
            let re =
                Regex::new(pattern).map_err(|e| engine.api_error(format!("ready.log: {e}")))?;
            let mut rx = tap.ok_or_else(|| engine.api_error("a log check without the output"))?;
            wait_log(&re, &mut rx, timeout, cancel).await?
        }
        ReadyKind::Exec(cmd) => {
            let spec = ExecSpec {
                cmd: cmd.clone(),
                ..Default::default()
            };
            poll(engine, id, &spec, timeout, deadline, cancel, &mut obs).await?
        }
        ReadyKind::File(path) => {
            let spec = ExecSpec {
                cmd: vec![PROBE_PATH.into(), "exists".into(), path.clone()],
                user: Some("0".into()),
                ..Default::default()
            };
            poll(engine, id, &spec, timeout, deadline, cancel, &mut obs).await?
        }
    };
    obs.outcome = outcome;
    obs.after_ms = started.elapsed().as_millis() as u64;
    Ok(obs)
}

async fn wait_log(
    re: &Regex,
    rx: &mut mpsc::UnboundedReceiver<Chunk>,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<ReadyOutcome, EngineError> {
    let mut lines = LineMatcher::default();
    let sleep = tokio::time::sleep(timeout);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(EngineError::Cancelled),
            chunk = rx.recv() => match chunk {
                Some((channel, bytes)) => {
                    if lines.push(re, channel, &bytes) {
                        return Ok(ReadyOutcome::Ready);
                    }
                }
                None => return Ok(ReadyOutcome::Exited),
            },
            _ = &mut sleep => return Ok(timed_out(timeout)),
        }
    }
}

fn timed_out(timeout: Duration) -> ReadyOutcome {
    ReadyOutcome::TimedOut {
        timeout_ms: timeout.as_millis() as u64,
    }
}

/// Runs `spec` until it exits 0, the timeout passes or the service exits.
async fn poll(
    engine: &Engine,
    id: &str,
    spec: &ExecSpec,
    timeout: Duration,
    deadline: &Deadline,
    cancel: &CancellationToken,
    obs: &mut ReadyObservation,
) -> Result<ReadyOutcome, EngineError> {
    let t0 = Instant::now();
    let mut pause = FIRST_PAUSE;
    loop {
        if cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        if !engine.running(id, deadline).await? {
            return Ok(ReadyOutcome::Exited);
        }
        let left = timeout.saturating_sub(t0.elapsed());
        if left.is_zero() {
            return Ok(timed_out(timeout));
        }
        obs.attempts += 1;
        match engine
            .exec(id, spec, left.min(CHECK_TIMEOUT), deadline)
            .await
        {
            Ok(run) => match run.outcome {
                Ok(ExitStatus::Code(0)) => return Ok(ReadyOutcome::Ready),
                Ok(status) => {
                    let said = format!("{}{}", run.stdout.text, run.stderr.text);
                    let said: String = said.trim().chars().take(LAST_CHECK_CHARS).collect();
                    obs.last_check = Some(format!("exit {status}: {said}"));
                }
                Err(refusal) => {
                    if !engine.running(id, deadline).await? {
                        return Ok(ReadyOutcome::Exited);
                    }
                    return Ok(ReadyOutcome::CheckRefused {
                        message: refusal.message,
                    });
                }
            },
            // The service may have exited between the check and the exec.
            Err(e) => {
                if !engine.running(id, deadline).await? {
                    return Ok(ReadyOutcome::Exited);
                }
                return Err(e);
            }
        }
        let left = timeout.saturating_sub(t0.elapsed());
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(EngineError::Cancelled),
            _ = tokio::time::sleep(pause.min(left)) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn feed(chunks: &[(Channel, &str)], re: &str) -> Option<usize> {
        let re = Regex::new(re).unwrap();
        let mut m = LineMatcher::default();
        chunks
            .iter()
            .position(|(c, b)| m.push(&re, *c, b.as_bytes()))
    }

    #[rstest]
    #[case::whole_line(&[(Channel::Stderr, "level=info msg=\"API listen on /run/docker.sock\"\n")], Some(0))]
    #[case::split_across_chunks(&[(Channel::Stdout, "API li"), (Channel::Stdout, "sten on /run/docker.sock\n")], Some(1))]
    #[case::streams_apart(&[(Channel::Stdout, "API li"), (Channel::Stderr, "sten on /run/docker.sock\n")], None)]
    #[case::no_newline_yet(&[(Channel::Stdout, "booting\nAPI listen on /run/docker.sock")], Some(0))]
    #[case::never(&[(Channel::Stdout, "failed to start daemon\n")], None)]
    fn lines_are_matched_across_chunks(
        #[case] chunks: &[(Channel, &str)],
        #[case] at: Option<usize>,
    ) {
        assert_eq!(feed(chunks, "API listen on /run/docker.sock"), at);
    }

    #[test]
    fn anchors_apply_to_lines() {
        assert_eq!(
            feed(&[(Channel::Stdout, "x ready\nready\n")], "^ready$"),
            Some(0)
        );
        assert_eq!(feed(&[(Channel::Stdout, "x ready\n")], "^ready$"), None);
    }

    #[test]
    fn checks_describe_themselves() {
        assert_eq!(ReadyKind::File("/run/x".into()).describe(), "file /run/x");
        assert_eq!(
            ReadyKind::Exec(vec!["docker".into(), "info".into()]).describe(),
            "exec docker info"
        );
    }
}
