//! Reading a container's (or an exec's) output as it is written.
//!
//! Owns draining an attached, multiplexed stdout/stderr stream into two
//! [`StreamCapture`]s, fast enough that the engine's pipes never fill and
//! block the workload, optionally passing every chunk on to a tap (a
//! readiness check watching the log). The engine's log driver is not used:
//! it would store the output on the host's disk and turn bytes that are not
//! UTF-8 into U+FFFD before parity saw them.

use std::pin::Pin;

use bollard::container::LogOutput;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::run::capture::StreamCapture;
use crate::run::observe::Captured;

/// Which stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Stdout,
    Stderr,
}

/// A chunk of output as it arrived, for taps.
pub type Chunk = (Channel, bytes::Bytes);

/// The output stream of an attach or an attached exec.
pub type Output = Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>;

/// Both streams as read, and how reading ended.
#[derive(Debug)]
pub struct Drained {
    pub stdout: Captured,
    pub stderr: Captured,
    /// Why reading stopped early (a broken connection, a bad frame); the
    /// streams are then incomplete and the run is harness trouble.
    pub broken: Option<String>,
    /// Reading was stopped before the stream ended.
    pub stopped: bool,
}

/// Reads `output` to its end, or until `stop` is cancelled (then what was
/// read so far is kept and `stopped` is set).
pub async fn drain(
    mut output: Output,
    tap: Option<mpsc::UnboundedSender<Chunk>>,
    stop: CancellationToken,
) -> Drained {
    let (mut out, mut err) = (StreamCapture::default(), StreamCapture::default());
    let mut broken = None;
    let mut stopped = false;
    loop {
        let item = tokio::select! {
            biased;
            item = output.next() => match item {
                Some(item) => item,
                None => break,
            },
            _ = stop.cancelled() => {
                stopped = true;
                break;
            }
        };
        let (channel, message) = match item {
            Ok(LogOutput::StdOut { message }) => (Channel::Stdout, message),
            Ok(LogOutput::StdErr { message }) => (Channel::Stderr, message),
            // Without a TTY every frame names its stream; anything else is a
            // frame the decoder could not read.
            Ok(LogOutput::Console { message }) => {
                broken = Some(format!(
                    "the engine sent {} bytes outside the stdout/stderr framing",
                    message.len()
                ));
                break;
            }
            Ok(LogOutput::StdIn { .. }) => continue,
            Err(e) => {
                broken = Some(format!("reading the output stream: {e}"));
                break;
            }
        };
        match channel {
            Channel::Stdout => out.push(&message),
            Channel::Stderr => err.push(&message),
        }
        if let Some(t) = &tap {
            let _ = t.send((channel, message));
        }
    }
    Drained {
        stdout: out.finish(),
        stderr: err.finish(),
        broken,
        stopped,
    }
}
