//! The tracer's state machine: given each wait status of a tracee, decide
//! what it was (syscall stop, ptrace event, group-stop, signal-delivery
//! stop, exit), keep per-thread syscall state, aggregate distinct syscall
//! records once PID 1 has exec'd the workload (each process's libc
//! start-up after an exec kept apart, see [`prelude`](crate::prelude)), and
//! say how to resume so the workload sees the signals it would see
//! untraced. The kernel is
//! reached only through [`Ptrace`]; the loop that waits lives in `attach`.

use crate::decode::{self, Memory};
use crate::names;
use crate::prelude::{Fed, Prelude};
use parity_wire::{ExitInfo, SyscallRecord, SyscallsObservation};
use std::collections::{BTreeSet, HashMap};
use std::io;

/// `PTRACE_EVENT_*` numbers.
pub const EVENT_FORK: i32 = 1;
pub const EVENT_VFORK: i32 = 2;
pub const EVENT_CLONE: i32 = 3;
pub const EVENT_EXEC: i32 = 4;
pub const EVENT_EXIT: i32 = 6;
pub const EVENT_STOP: i32 = 128;

/// What `PTRACE_GET_SYSCALL_INFO` said about a syscall stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyscallStop {
    Entry {
        arch: u32,
        nr: u64,
        args: [u64; 6],
    },
    Exit {
        rval: i64,
        is_error: bool,
    },
    /// Not a syscall entry or exit (should not happen at a syscall stop).
    Other,
}

/// How to restart a stopped tracee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// `PTRACE_CONT`: run to the next event or signal.
    Cont,
    /// `PTRACE_SYSCALL`: also stop at syscall entry and exit.
    Syscall,
    /// `PTRACE_LISTEN`: stay group-stopped, but report SIGCONT and events.
    Listen,
}

/// The ptrace requests the state machine makes.
pub trait Ptrace {
    fn resume(&mut self, pid: i32, how: Resume, sig: i32) -> io::Result<()>;
    fn event_msg(&mut self, pid: i32) -> io::Result<u64>;
    fn syscall_stop(&mut self, pid: i32) -> io::Result<SyscallStop>;
    fn memory(&self, pid: i32) -> impl Memory + '_;
}

/// One wait status, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Exited(i32),
    Killed(i32),
    Syscall,
    Event(i32),
    /// `PTRACE_EVENT_STOP` that is not a group-stop: the initial stop of an
    /// auto-attached child, or the one `PTRACE_INTERRUPT` asked for.
    EventStop,
    /// A group-stop (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) of a seized tracee.
    GroupStop(i32),
    /// A signal about to be delivered: re-inject it when resuming.
    Signal(i32),
    Unknown,
}

pub fn classify(status: i32) -> Stop {
    if libc::WIFEXITED(status) {
        return Stop::Exited(libc::WEXITSTATUS(status));
    }
    if libc::WIFSIGNALED(status) {
        return Stop::Killed(libc::WTERMSIG(status));
    }
    if !libc::WIFSTOPPED(status) {
        return Stop::Unknown;
    }
    let sig = libc::WSTOPSIG(status);
    let event = (status >> 16) & 0xff;
    match (sig, event) {
        (s, 0) if s == libc::SIGTRAP | 0x80 => Stop::Syscall,
        (libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU, EVENT_STOP) => {
            Stop::GroupStop(sig)
        }
        (_, EVENT_STOP) => Stop::EventStop,
        (_, 0) => Stop::Signal(sig),
        (_, e) => Stop::Event(e),
    }
}

/// A wait-format status as the report spells it.
pub fn exit_info(status: i32) -> ExitInfo {
    if libc::WIFSIGNALED(status) {
        ExitInfo::Signaled {
            signal: names::signal_name(libc::WTERMSIG(status)),
        }
    } else {
        ExitInfo::Exited {
            code: libc::WEXITSTATUS(status),
        }
    }
}

/// What the attach loop must do after a stop was handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Continue,
    /// PID 1 is at its exit stop (still stopped): write the report, then
    /// [`Tracer::release_root`]. Carries the wait-format exit status.
    RootExiting(i32),
    /// PID 1 is gone without an exit stop.
    RootGone(ExitInfo),
}

#[derive(Debug)]
struct Pending {
    name: String,
    arg: Option<String>,
}

#[derive(Debug, Default)]
struct Thread {
    pending: Option<Pending>,
    /// Set from an exec until the libc's start-up is over.
    prelude: Option<Prelude>,
}

#[derive(Debug)]
pub struct Tracer {
    root: i32,
    /// Syscall stops are requested (and still readable).
    syscalls: bool,
    /// PID 1 has exec'd the workload: records count from here on.
    recording: bool,
    threads: HashMap<i32, Thread>,
    records: BTreeSet<SyscallRecord>,
    /// Records made during some process's libc start-up.
    prelude: BTreeSet<SyscallRecord>,
    unavailable: Option<String>,
    requested: bool,
}

impl Tracer {
    pub fn new(root: i32, syscalls: bool) -> Tracer {
        let mut threads = HashMap::new();
        threads.insert(root, Thread::default());
        Tracer {
            root,
            syscalls,
            recording: false,
            threads,
            records: BTreeSet::new(),
            prelude: BTreeSet::new(),
            unavailable: None,
            requested: syscalls,
        }
    }

    /// How every tracee is resumed: with syscall stops only when asked.
    pub fn mode(&self) -> Resume {
        if self.syscalls {
            Resume::Syscall
        } else {
            Resume::Cont
        }
    }

    pub fn observation(&self) -> SyscallsObservation {
        match (&self.unavailable, self.requested) {
            (_, false) => SyscallsObservation::NotRequested,
            (Some(reason), true) => SyscallsObservation::Unavailable {
                reason: reason.clone(),
            },
            (None, true) => {
                // Start-ups still open (a process at the report's moment)
                // are judged as they stand.
                let (mut records, mut prelude) = (self.records.clone(), self.prelude.clone());
                for t in self.threads.values() {
                    if let Some(mut p) = t.prelude.clone() {
                        let (pre, program) = p.finish();
                        prelude.extend(pre);
                        records.extend(program);
                    }
                }
                SyscallsObservation::Ok {
                    prelude: prelude.difference(&records).cloned().collect(),
                    calls: records.union(&prelude).cloned().collect(),
                }
            }
        }
    }

    fn resume(&self, p: &mut impl Ptrace, pid: i32, how: Resume, sig: i32) {
        // ESRCH: the tracee was killed meanwhile (SIGKILL needs no tracer).
        let _ = p.resume(pid, how, sig);
    }

    /// Handles one wait status of `pid`.
    pub fn handle(&mut self, p: &mut impl Ptrace, pid: i32, status: i32) -> Step {
        let mode = self.mode();
        match classify(status) {
            Stop::Exited(_) | Stop::Killed(_) => {
                if let Some(mut t) = self.threads.remove(&pid) {
                    if let Some(p) = t.prelude.as_mut() {
                        let (pre, program) = p.finish();
                        self.prelude.extend(pre);
                        self.records.extend(program);
                    }
                }
                if pid == self.root {
                    return Step::RootGone(exit_info(status));
                }
            }
            Stop::Syscall => {
                self.syscall_stop(p, pid);
                let mode = self.mode();
                self.resume(p, pid, mode, 0);
            }
            Stop::Event(EVENT_FORK | EVENT_VFORK | EVENT_CLONE) => {
                if let Ok(child) = p.event_msg(pid) {
                    self.threads.entry(child as i32).or_default();
                }
                self.resume(p, pid, mode, 0);
            }
            Stop::Event(EVENT_EXEC) => {
                // A non-leader thread that execs takes over the leader's id.
                if let Ok(former) = p.event_msg(pid) {
                    let former = former as i32;
                    if former != pid {
                        let state = self.threads.remove(&former).unwrap_or_default();
                        self.threads.insert(pid, state);
                    }
                }
                if pid == self.root {
                    self.recording = true;
                }
                if self.recording {
                    let thread = self.threads.entry(pid).or_default();
                    thread.prelude = Some(Prelude::new());
                }
                self.resume(p, pid, mode, 0);
            }
            Stop::Event(EVENT_EXIT) if pid == self.root => {
                let status = p.event_msg(pid).unwrap_or(0) as i32;
                return Step::RootExiting(status);
            }
            Stop::Event(_) | Stop::EventStop | Stop::Unknown => self.resume(p, pid, mode, 0),
            Stop::GroupStop(_) => self.resume(p, pid, Resume::Listen, 0),
            Stop::Signal(sig) => self.resume(p, pid, mode, sig),
        }
        Step::Continue
    }

    /// Lets PID 1 finish exiting after its exit stop.
    pub fn release_root(&self, p: &mut impl Ptrace) {
        self.resume(p, self.root, Resume::Cont, 0);
    }

    fn syscall_stop(&mut self, p: &mut impl Ptrace, pid: i32) {
        let stop = match p.syscall_stop(pid) {
            Ok(stop) => stop,
            Err(e) => {
                // Kernels before 5.3 lack PTRACE_GET_SYSCALL_INFO: stop
                // asking for syscall stops, keep following the workload.
                self.unavailable = Some(format!("ptrace: PTRACE_GET_SYSCALL_INFO: {e}"));
                self.syscalls = false;
                return;
            }
        };
        let recording = self.recording;
        let thread = self.threads.entry(pid).or_default();
        match stop {
            SyscallStop::Entry { arch, nr, args } => {
                let name = names::syscall_name(arch, nr);
                // Before the workload's exec only its own execve matters
                // (its exit stop comes after the exec event).
                let arg = (recording || name.starts_with("execve"))
                    .then(|| decode::key_arg(&name, &args, &p.memory(pid)))
                    .flatten();
                thread.pending = Some(Pending { name, arg });
            }
            SyscallStop::Exit { rval, is_error } => {
                let Some(call) = thread.pending.take() else {
                    return;
                };
                if !recording || call.name == "restart_syscall" {
                    return;
                }
                // sigreturn "returns" the interrupted call's restored
                // register, not a result of its own.
                let sigreturn = matches!(call.name.as_str(), "rt_sigreturn" | "sigreturn");
                let outcome = if is_error && !sigreturn {
                    if names::is_restart_errno(-rval) {
                        return;
                    }
                    names::errno_name(-rval)
                } else {
                    "ok".to_owned()
                };
                let record = SyscallRecord {
                    syscall: call.name,
                    outcome,
                    arg: call.arg,
                };
                // The exec itself is the program's; its start-up follows.
                let Some(prelude) = thread
                    .prelude
                    .as_mut()
                    .filter(|_| !record.syscall.starts_with("execve"))
                else {
                    self.records.insert(record);
                    return;
                };
                if let Fed::Done {
                    prelude: pre,
                    program,
                } = prelude.feed(record)
                {
                    thread.prelude = None;
                    self.prelude.extend(pre);
                    self.records.extend(program);
                }
            }
            SyscallStop::Other => {}
        }
    }
}

#[cfg(test)]
mod tests;
