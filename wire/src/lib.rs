//! The probe's versioned JSON documents, shared by `parity-probe` (which
//! writes them inside the container) and the `parity` harness (which
//! downloads and reads them). This crate owns the shapes only: no I/O, no
//! decoding, no policy. A change of shape that an older reader cannot read
//! bumps [`SCHEMA_VERSION`].
//!
//! The main document is [`ProbeReport`]: the workload's argv and exit, the
//! distinct syscall records ([`SyscallsObservation`]), the mount tables
//! before and after the workload ran ([`MountsObservation`]) and opt-in
//! environment [`Facts`].

use serde::{Deserialize, Serialize};

/// Version of the document shape. Added optional fields keep the version;
/// a change an older reader would misread bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything one probe run observed, written as `report.json` (by the
/// tracer, at PID 1's exit) or `before.json` (by the wrapper, before exec).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub struct ProbeReport {
    pub schema_version: u32,
    pub probe_version: String,
    pub workload: WorkloadInfo,
    pub syscalls: SyscallsObservation,
    pub mounts: MountsObservation,
    pub facts: Facts,
}

/// The workload as the wrapper executed it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub struct WorkloadInfo {
    pub argv: Vec<String>,
    /// As seen by the tracer at PID 1's `PTRACE_EVENT_EXIT`; `None` when no
    /// tracer saw the exit (the harness has the engine's exit code anyway).
    pub exit: Option<ExitInfo>,
    /// Set when the wrapper could not exec the workload (it then exits 127
    /// or 126 like a shell): `"exec ARGV0: ERR"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_error: Option<String>,
}

/// How PID 1 ended.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ExitInfo {
    Exited {
        code: i32,
    },
    /// Signal name, e.g. `"SIGKILL"` (or `"SIG<n>"` when unnamed).
    Signaled {
        signal: String,
    },
}

/// The syscalls the workload made, as a set of distinct records.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum SyscallsObservation {
    /// Sorted, distinct records: every call the workload's processes made
    /// from PID 1's exec on.
    Ok {
        calls: Vec<SyscallRecord>,
        /// The records of `calls` seen only in a process's libc start-up
        /// (after its exec, before its program's own code: an exactly
        /// matched known sequence), sorted. Added in probe 0.1 without a
        /// version bump: `calls` keeps its meaning, and a reader that
        /// ignores this field sees what it always saw.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        prelude: Vec<SyscallRecord>,
    },
    Unavailable {
        reason: String,
    },
    NotRequested,
}

/// One distinct (syscall, outcome, key argument) triple. No counts, pids,
/// fds, addresses or timing: only what should be equal across runtimes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub struct SyscallRecord {
    /// Name from the kernel's table for the tracee's ABI, e.g. `"openat"`.
    pub syscall: String,
    /// `"ok"` or the errno name, e.g. `"EPERM"`.
    pub outcome: String,
    /// The key argument (a path, or for mount "SOURCE TARGET FSTYPE FLAGS").
    pub arg: Option<String>,
}

/// The mount table before the workload ran and when PID 1 exited. Entries
/// at or under the probe's own `/.parity` are left out.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum MountsObservation {
    Ok {
        before: Vec<MountEntry>,
        after: Vec<MountEntry>,
    },
    /// The "after" table could not be read; `before` is kept when the
    /// wrapper read it, so the mount table itself is still known.
    Unavailable {
        reason: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        before: Vec<MountEntry>,
    },
    NotRequested,
}

/// One parsed `/proc/PID/mountinfo` line, octal escapes decoded.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub struct MountEntry {
    pub mount_id: u32,
    pub parent_id: u32,
    pub major_minor: String,
    pub root: String,
    pub mount_point: String,
    pub mount_options: Vec<String>,
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: Vec<String>,
}

/// Opt-in environment facts, read by the wrapper just before exec.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub struct Facts {
    pub capabilities: Option<Capabilities>,
    pub id_maps: Option<IdMaps>,
    pub security: Option<Security>,
    pub devices: Option<Vec<DeviceEntry>>,
}

/// Capability sets by name (`"CAP_CHOWN"`), sorted by number; bits the
/// probe has no name for are `"CAP_<n>"`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub struct Capabilities {
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
    pub inheritable: Vec<String>,
    pub bounding: Vec<String>,
    pub ambient: Vec<String>,
}

/// The user namespace's id maps (`/proc/self/uid_map`, `gid_map`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub struct IdMaps {
    pub uid_map: Vec<IdMapRange>,
    pub gid_map: Vec<IdMapRange>,
}

/// One line of an id map.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub struct IdMapRange {
    pub inside: u64,
    pub outside: u64,
    pub count: u64,
}

/// Seccomp mode, no_new_privs and the LSM label of the workload-to-be.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub struct Security {
    /// `disabled`, `strict` or `filter`.
    pub seccomp: String,
    pub no_new_privs: bool,
    /// `/proc/self/attr/current`, trimmed; `None` when unreadable.
    pub lsm_label: Option<String>,
}

/// One node under `/dev` (recursive, symlinks not followed).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub struct DeviceEntry {
    pub path: String,
    /// `char`, `block`, `dir`, `symlink`, `file`, `socket` or `fifo`.
    pub kind: String,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub uid: u32,
    pub gid: u32,
    /// Permission bits in octal, e.g. `"0666"`.
    pub mode: String,
    pub target: Option<String>,
}

/// Signals 1 to 31 by number.
const SIGNALS: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// The name of signal `sig` as [`ExitInfo::Signaled`] and the harness write
/// it: `SIGTERM` for 15, real-time signals as `SIGRTMIN+n` (kernel
/// numbering, SIGRTMIN = 32), anything else `SIG<n>`. One table, so a death
/// seen by the tracer and one read from the engine's exit code agree.
pub fn signal_name(sig: i32) -> String {
    match sig {
        1..=31 => SIGNALS[(sig - 1) as usize].to_owned(),
        32 => "SIGRTMIN".to_owned(),
        33..=64 => format!("SIGRTMIN+{}", sig - 32),
        _ => format!("SIG{sig}"),
    }
}

impl ProbeReport {
    /// An empty report of the current schema for `argv`: nothing observed,
    /// nothing requested.
    pub fn new(probe_version: impl Into<String>, argv: Vec<String>) -> Self {
        ProbeReport {
            schema_version: SCHEMA_VERSION,
            probe_version: probe_version.into(),
            workload: WorkloadInfo {
                argv,
                ..WorkloadInfo::default()
            },
            syscalls: SyscallsObservation::NotRequested,
            mounts: MountsObservation::NotRequested,
            facts: Facts::default(),
        }
    }
}

impl MountsObservation {
    /// The "before" table, whatever became of the "after" one.
    pub fn before(&self) -> &[MountEntry] {
        match self {
            MountsObservation::Ok { before, .. }
            | MountsObservation::Unavailable { before, .. } => before,
            MountsObservation::NotRequested => &[],
        }
    }
}

#[cfg(test)]
mod tests;
