//! The files under the output directory and how they are written: every
//! document goes to a temporary name and is renamed into place, so a
//! reader (the other probe process, or the harness after exit) sees a whole
//! file or none. Also the small protocol documents the two subcommands
//! exchange (`attached`, `wrap.json`, `attach-failed.json`).
//!
//! Layout of OUT (default `/.parity/out`):
//! - `attached`: written by `attach` once PID 1 is seized (or refused);
//!   `wrap` polls for it. JSON [`AttachAck`].
//! - `wrap.json`: [`WrapStatus`], what `wrap` saw of the tracer and exec.
//! - `before.json`: a complete [`parity_wire::ProbeReport`] from `wrap`
//!   (facts, mounts before); the fallback when no `report.json` exists.
//! - `report.json`: the merged report `attach` writes at PID 1's exit.
//! - `attach-failed.json`: [`AttachFailed`], when ptrace was refused.
//! - `wrap.pid`: the wrapper's pid (a JSON number), written before it waits
//!   for a tracer, so `attach --pid-file` can find a wrapper that is not
//!   PID 1 (a service's step, started with the engine's exec).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::Path;

pub const ATTACHED: &str = "attached";
pub const WRAP: &str = "wrap.json";
pub const BEFORE: &str = "before.json";
pub const REPORT: &str = "report.json";
pub const ATTACH_FAILED: &str = "attach-failed.json";
pub const PID: &str = "wrap.pid";

/// The default output directory inside the container.
pub const DEFAULT_OUT: &str = "/.parity/out";

/// What the tracer tells the waiting wrapper.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AttachAck {
    pub syscalls: bool,
    pub mounts: bool,
    /// Why PID 1 is not traced after all (e.g. `ptrace: EPERM (...)`).
    pub error: Option<String>,
}

/// What the wrapper saw of the tracer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum TracerState {
    NotExpected,
    Attached { syscalls: bool, mounts: bool },
    Refused { reason: String },
    TimedOut { reason: String },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct WrapStatus {
    pub tracer: TracerState,
    pub exec_error: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AttachFailed {
    pub reason: String,
}

/// Writes `value` as `dir/name` through a temporary file and a rename.
/// Writes `value` as one JSON document to standard output, whole, before
/// returning.
pub fn write_json_stdout<T: Serialize>(value: &T) -> io::Result<()> {
    let mut text = serde_json::to_vec(value).map_err(io::Error::other)?;
    text.push(b'\n');
    let mut out = io::stdout().lock();
    out.write_all(&text)?;
    out.flush()
}

pub fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        // std opens with O_CLOEXEC.
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&text)?;
        f.write_all(b"\n")?;
        std::fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads `dir/name`; `None` when missing or unreadable as `T`.
pub fn read_json<T: DeserializeOwned>(dir: &Path, name: &str) -> Option<T> {
    let bytes = std::fs::read(dir.join(name)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("parity-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ack = AttachAck {
            syscalls: true,
            mounts: false,
            error: None,
        };
        write_json(&dir, ATTACHED, &ack).unwrap();
        assert_eq!(read_json::<AttachAck>(&dir, ATTACHED), Some(ack));
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, [ATTACHED]);
        assert_eq!(read_json::<AttachAck>(&dir, WRAP), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn wrap_status_is_tagged() {
        let s = WrapStatus {
            tracer: TracerState::TimedOut {
                reason: "tracer did not attach within 10s".into(),
            },
            exec_error: None,
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["tracer"]["state"], "timed_out");
    }
}
