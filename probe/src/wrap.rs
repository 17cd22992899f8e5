//! `probe wrap`: PID 1's side. Waits (bounded) for the tracer's
//! `attached` file, reads the requested facts and the "before" mount table,
//! writes `before.json` (a complete report the harness can fall back on)
//! and `wrap.json`, then execs the workload in place, so the workload is PID
//! 1 with the same fds, environment, cwd and signal dispositions, and its
//! exit status is the container's. It never forks. Started with the
//! engine's exec (a service's step), it is not PID 1: it then creates its
//! output folder and writes its pid there for the tracer to find.

use crate::cli::WrapArgs;
use crate::facts;
use crate::mountinfo;
use crate::out::{self, AttachAck, TracerState, WrapStatus};
use crate::procfs::ProcFs;
use crate::ptrace;
use parity_wire::{MountsObservation, ProbeReport, SyscallsObservation};
use std::ffi::{CString, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(5);

/// Polls `out/attached` until it appears or `secs` pass.
fn wait_for_tracer(out: &Path, secs: u64) -> TracerState {
    ptrace::allow_any_tracer();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let done = Instant::now() >= deadline;
        // Checked once more after the deadline: the tracer may have written
        // it while this process was stopped for the attach.
        if let Some(ack) = out::read_json::<AttachAck>(out, out::ATTACHED) {
            return match ack.error {
                Some(reason) => TracerState::Refused { reason },
                None => TracerState::Attached {
                    syscalls: ack.syscalls,
                    mounts: ack.mounts,
                },
            };
        }
        if done {
            return TracerState::TimedOut {
                reason: format!("tracer did not attach within {secs}s"),
            };
        }
        std::thread::sleep(POLL);
    }
}

/// The report `wrap` leaves behind: right as it stands if no tracer ever
/// writes `report.json`.
pub fn fallback_report(
    argv: Vec<String>,
    tracer: &TracerState,
    mounts_wanted: bool,
    before: Vec<parity_wire::MountEntry>,
    facts: parity_wire::Facts,
) -> ProbeReport {
    let mut report = ProbeReport::new(env!("CARGO_PKG_VERSION"), argv);
    report.facts = facts;
    let missing = |why: &str| why.to_owned();
    let (syscalls, mounts_reason) = match tracer {
        TracerState::NotExpected => (
            SyscallsObservation::NotRequested,
            missing("no tracer (--wait-tracer 0): the after table is read by `probe attach`"),
        ),
        TracerState::Refused { reason } | TracerState::TimedOut { reason } => (
            SyscallsObservation::Unavailable {
                reason: reason.clone(),
            },
            reason.clone(),
        ),
        TracerState::Attached { syscalls, .. } => {
            let gone = "the tracer wrote no report (PID 1 ended without an exit stop, \
                        e.g. SIGKILL, or the tracer died)";
            let s = if *syscalls {
                SyscallsObservation::Unavailable {
                    reason: gone.to_owned(),
                }
            } else {
                SyscallsObservation::NotRequested
            };
            (s, gone.to_owned())
        }
    };
    report.syscalls = syscalls;
    report.mounts = if mounts_wanted {
        MountsObservation::Unavailable {
            reason: mounts_reason,
            before,
        }
    } else {
        MountsObservation::NotRequested
    };
    report
}

fn lossy(argv: &[OsString]) -> Vec<String> {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// Runs `wrap`; returns only if exec failed (with the shell's status).
pub fn run(args: &WrapArgs, proc: &impl ProcFs) -> i32 {
    let dir = args.out.as_path();
    // Best effort: a step's folder under the shared output folder.
    let _ = std::fs::create_dir_all(dir);
    let tracer = if args.wait_tracer > 0 {
        let _ = out::write_json(dir, out::PID, &std::process::id());
        wait_for_tracer(dir, args.wait_tracer)
    } else {
        TracerState::NotExpected
    };
    let facts = facts::read(args.facts, proc);
    let before = if args.mounts {
        mountinfo::parse(&proc.read("/proc/self/mountinfo").unwrap_or_default())
    } else {
        Vec::new()
    };
    let mut report = fallback_report(lossy(&args.argv), &tracer, args.mounts, before, facts);
    let mut status = WrapStatus {
        tracer,
        exec_error: None,
    };
    // Results are best effort: the workload runs even if OUT is unwritable.
    let _ = out::write_json(dir, out::BEFORE, &report);
    let _ = out::write_json(dir, out::WRAP, &status);

    let err = exec(&args.argv);
    let argv0 = args.argv[0].to_string_lossy();
    let errno = err.raw_os_error().unwrap_or(0);
    let message = format!("exec {argv0}: {}", describe(&err));
    eprintln!("parity-probe: {message}");
    report.workload.exec_error = Some(message.clone());
    status.exec_error = Some(message);
    let _ = out::write_json(dir, out::BEFORE, &report);
    let _ = out::write_json(dir, out::WRAP, &status);
    if errno == libc::ENOENT { 127 } else { 126 }
}

fn describe(err: &io::Error) -> String {
    let name = err
        .raw_os_error()
        .map(|n| crate::names::errno_name(i64::from(n)))
        .unwrap_or_default();
    let text = err.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    format!("{text} ({name})")
}

/// execvp(3): PATH search as a shell does, environment untouched.
fn exec(argv: &[OsString]) -> io::Error {
    let cargs: Result<Vec<CString>, _> = argv.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(cargs) = cargs else {
        return io::Error::from_raw_os_error(libc::EINVAL);
    };
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    // SAFETY: `ptrs` is a NULL-terminated array of pointers to NUL-terminated
    // strings owned by `cargs`, both alive across the call; execvp returns
    // only on failure.
    unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
    io::Error::last_os_error()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_wire::Facts;

    #[test]
    fn fallback_says_why_nothing_was_traced() {
        let r = fallback_report(
            vec!["true".into()],
            &TracerState::NotExpected,
            false,
            vec![],
            Facts::default(),
        );
        assert_eq!(r.syscalls, SyscallsObservation::NotRequested);
        assert_eq!(r.mounts, MountsObservation::NotRequested);

        let timed_out = TracerState::TimedOut {
            reason: "tracer did not attach within 10s".into(),
        };
        let r = fallback_report(vec![], &timed_out, true, vec![], Facts::default());
        assert_eq!(
            r.syscalls,
            SyscallsObservation::Unavailable {
                reason: "tracer did not attach within 10s".into()
            }
        );
        assert!(
            matches!(r.mounts, MountsObservation::Unavailable { ref reason, .. } if reason.contains("10s"))
        );

        let attached = TracerState::Attached {
            syscalls: false,
            mounts: true,
        };
        let r = fallback_report(vec![], &attached, true, vec![], Facts::default());
        assert_eq!(r.syscalls, SyscallsObservation::NotRequested);
        assert!(matches!(r.mounts, MountsObservation::Unavailable { .. }));
    }

    #[test]
    fn describes_exec_errors_like_a_shell() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(describe(&e), "No such file or directory (ENOENT)");
    }

    #[test]
    fn reports_a_failed_exec_with_the_shell_status() {
        let dir = std::env::temp_dir().join(format!("parity-wrap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let args = WrapArgs {
            out: dir.clone(),
            wait_tracer: 0,
            mounts: true,
            facts: facts::FactSet::default(),
            argv: vec!["/nonexistent/parity-no-such-program".into()],
        };
        let status = run(&args, &crate::procfs::RealProcFs);
        assert_eq!(status, 127);
        let report: ProbeReport = out::read_json(&dir, out::BEFORE).unwrap();
        assert!(report.workload.exec_error.unwrap().contains("ENOENT"));
        assert!(!report.mounts.before().is_empty());
        let wrap: WrapStatus = out::read_json(&dir, out::WRAP).unwrap();
        assert_eq!(wrap.tracer, TracerState::NotExpected);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
