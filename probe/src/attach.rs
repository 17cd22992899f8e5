//! `probe attach`: the tracer, started beside PID 1 with the engine's exec.
//! Seizes PID 1, interrupts it, acknowledges through `OUT/attached`, then
//! drives the [`Tracer`] until PID 1's exit stop, where it reads the "after"
//! mount table, merges `before.json` and `wrap.json` into `report.json`
//! and lets PID 1 go. No EXITKILL: if the tracer dies, the kernel detaches
//! it and the workload runs on untraced.

use crate::cli::AttachArgs;
use crate::mountinfo;
use crate::names;
use crate::out::{self, AttachAck, AttachFailed, WrapStatus};
use crate::ptrace::{self, SysPtrace};
use crate::tracer::{Ptrace, Resume, Step, Stop, Tracer, classify, exit_info};
use parity_wire::{ExitInfo, MountEntry, MountsObservation, ProbeReport, SyscallsObservation};
use std::io;
use std::path::Path;

/// The one report: `before.json` completed with what the tracer saw.
pub fn merge(
    before: Option<ProbeReport>,
    wrap: Option<WrapStatus>,
    exit: Option<ExitInfo>,
    syscalls: SyscallsObservation,
    after: Option<Result<Vec<MountEntry>, String>>,
) -> ProbeReport {
    let mut report =
        before.unwrap_or_else(|| ProbeReport::new(env!("CARGO_PKG_VERSION"), Vec::new()));
    report.workload.exit = exit;
    if report.workload.exec_error.is_none() {
        report.workload.exec_error = wrap.and_then(|w| w.exec_error);
    }
    report.syscalls = syscalls;
    let before = report.mounts.before().to_vec();
    report.mounts = match after {
        Some(Ok(after)) => MountsObservation::Ok { before, after },
        Some(Err(reason)) => MountsObservation::Unavailable { reason, before },
        None if matches!(report.mounts, MountsObservation::NotRequested) => {
            MountsObservation::NotRequested
        }
        None => MountsObservation::Unavailable {
            reason: "`probe attach` ran without --mounts".to_owned(),
            before,
        },
    };
    report
}

fn errno_text(e: &io::Error) -> String {
    let name = names::errno_name(i64::from(e.raw_os_error().unwrap_or(0)));
    let text = e.to_string();
    format!(
        "{name} ({})",
        text.split(" (os error").next().unwrap_or(&text)
    )
}

/// Leaves PID 1 untraced and says why.
fn refuse(dir: &Path, args: &AttachArgs, reason: String) -> i32 {
    eprintln!("parity-probe: {reason}");
    let _ = out::write_json(
        dir,
        out::ATTACH_FAILED,
        &AttachFailed {
            reason: reason.clone(),
        },
    );
    let ack = AttachAck {
        syscalls: args.syscalls,
        mounts: args.mounts,
        error: Some(reason),
    };
    let _ = out::write_json(dir, out::ATTACHED, &ack);
    1
}

fn write_report(dir: &Path, args: &AttachArgs, tracer: &Tracer, exit: ExitInfo) {
    let after = args.mounts.then(|| {
        std::fs::read(format!("/proc/{}/mountinfo", args.pid))
            .map(|b| mountinfo::parse(&String::from_utf8_lossy(&b)))
            .map_err(|e| format!("reading /proc/{}/mountinfo: {}", args.pid, errno_text(&e)))
    });
    let report = merge(
        out::read_json(dir, out::BEFORE),
        out::read_json(dir, out::WRAP),
        Some(exit),
        tracer.observation(),
        after,
    );
    let written = if args.report_stdout {
        out::write_json_stdout(&report)
    } else {
        out::write_json(dir, out::REPORT, &report)
    };
    if let Err(e) = written {
        eprintln!("parity-probe: writing {}: {e}", out::REPORT);
    }
}

/// Waits for the stop `PTRACE_INTERRUPT` asked for, passing on signals.
fn await_interrupt(p: &mut SysPtrace, pid: i32) -> Result<(), String> {
    loop {
        match ptrace::wait(pid) {
            Ok(Some((_, status))) => match classify(status) {
                Stop::EventStop | Stop::GroupStop(_) => return Ok(()),
                Stop::Signal(sig) => {
                    let _ = p.resume(pid, Resume::Cont, sig);
                }
                Stop::Exited(_) | Stop::Killed(_) => return Err(format!("pid {pid} exited")),
                _ => {
                    let _ = p.resume(pid, Resume::Cont, 0);
                }
            },
            Ok(None) => return Err(format!("pid {pid} is not traced")),
            Err(e) => return Err(format!("waitpid: {}", errno_text(&e))),
        }
    }
}

/// How long `--pid-file` waits for the wrapper's pid.
const PID_FILE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The pid in `file`, waited for (bounded) while the wrapper starts.
fn pid_from_file(file: &Path) -> Result<i32, String> {
    let deadline = std::time::Instant::now() + PID_FILE_WAIT;
    let (dir, name) = (
        file.parent().unwrap_or(Path::new("/")),
        file.file_name().and_then(|n| n.to_str()).unwrap_or(""),
    );
    loop {
        if let Some(pid) = out::read_json::<i32>(dir, name).filter(|p| *p > 0) {
            return Ok(pid);
        }
        if std::time::Instant::now() >= deadline {
            return Err(format!(
                "no pid in {} within {}s",
                file.display(),
                PID_FILE_WAIT.as_secs()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

pub fn run(args: &AttachArgs) -> i32 {
    let mut args = args.clone();
    if let Some(file) = &args.pid_file {
        match pid_from_file(file) {
            Ok(pid) => args.pid = pid,
            Err(reason) => {
                // The wrapper, if it ever starts, times out and runs untraced.
                eprintln!("parity-probe: {reason}");
                return 1;
            }
        }
    }
    let args = &args;
    let dir = args.out.as_path();
    if dir.join(out::WRAP).exists() {
        return refuse(
            dir,
            args,
            format!(
                "pid {} no longer waits for a tracer (wrap.json exists)",
                args.pid
            ),
        );
    }
    let mut options = ptrace::OPT_TRACEEXIT;
    if args.syscalls {
        options |= ptrace::OPT_TRACESYSGOOD
            | ptrace::OPT_TRACEFORK
            | ptrace::OPT_TRACEVFORK
            | ptrace::OPT_TRACECLONE
            | ptrace::OPT_TRACEEXEC;
    }
    let pid = args.pid;
    if let Err(e) = ptrace::seize(pid, options).and_then(|()| ptrace::interrupt(pid)) {
        return refuse(dir, args, format!("ptrace: {}", errno_text(&e)));
    }
    let mut sys = SysPtrace;
    if let Err(e) = await_interrupt(&mut sys, pid) {
        return refuse(dir, args, e);
    }
    let mut tracer = Tracer::new(pid, args.syscalls);
    let ack = AttachAck {
        syscalls: args.syscalls,
        mounts: args.mounts,
        error: None,
    };
    if let Err(e) = out::write_json(dir, out::ATTACHED, &ack) {
        eprintln!("parity-probe: writing {}: {e}", out::ATTACHED);
    }
    let _ = sys.resume(pid, tracer.mode(), 0);
    loop {
        let (who, status) = match ptrace::wait(-1) {
            Ok(Some(w)) => w,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("parity-probe: waitpid: {}", errno_text(&e));
                return 1;
            }
        };
        match tracer.handle(&mut sys, who, status) {
            Step::Continue => {}
            Step::RootExiting(status) => {
                write_report(dir, args, &tracer, exit_info(status));
                tracer.release_root(&mut sys);
                return 0;
            }
            Step::RootGone(exit) => {
                write_report(dir, args, &tracer, exit);
                return 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::out::TracerState;

    fn entry(point: &str) -> MountEntry {
        mountinfo::parse_line(&format!("1 0 0:1 / {point} rw - tmpfs none rw")).unwrap()
    }

    #[test]
    fn merges_before_with_what_the_tracer_saw() {
        let mut before = ProbeReport::new("0.1.0", vec!["sh".into()]);
        before.mounts = MountsObservation::Unavailable {
            reason: "x".into(),
            before: vec![entry("/")],
        };
        let r = merge(
            Some(before),
            None,
            Some(ExitInfo::Exited { code: 3 }),
            SyscallsObservation::Ok {
                calls: vec![],
                prelude: vec![],
            },
            Some(Ok(vec![entry("/"), entry("/mnt")])),
        );
        assert_eq!(r.workload.argv, ["sh"]);
        assert_eq!(r.workload.exit, Some(ExitInfo::Exited { code: 3 }));
        let MountsObservation::Ok { before, after } = r.mounts else {
            panic!()
        };
        assert_eq!((before.len(), after.len()), (1, 2));
    }

    #[test]
    fn merge_keeps_exec_errors_and_missing_pieces() {
        let wrap = WrapStatus {
            tracer: TracerState::Attached {
                syscalls: false,
                mounts: false,
            },
            exec_error: Some("exec nope: No such file or directory (ENOENT)".into()),
        };
        let r = merge(
            None,
            Some(wrap),
            None,
            SyscallsObservation::NotRequested,
            None,
        );
        assert!(r.workload.exec_error.unwrap().contains("ENOENT"));
        assert_eq!(r.mounts, MountsObservation::NotRequested);
        let r = merge(
            None,
            None,
            None,
            SyscallsObservation::NotRequested,
            Some(Err("gone".into())),
        );
        assert_eq!(
            r.mounts,
            MountsObservation::Unavailable {
                reason: "gone".into(),
                before: vec![]
            }
        );
    }

    #[test]
    fn names_ptrace_refusals() {
        let e = io::Error::from_raw_os_error(libc::EPERM);
        assert_eq!(errno_text(&e), "EPERM (Operation not permitted)");
    }
}
