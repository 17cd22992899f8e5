//! The state machine against a scripted tracee.

use super::*;
use crate::names::AUDIT_ARCH_X86_64;
use std::collections::VecDeque;

const SIGTRAP: i32 = libc::SIGTRAP;
const CWD: u64 = (-100i64) as u64;

fn stopped(sig: i32, event: i32) -> i32 {
    (event << 16) | (sig << 8) | 0x7f
}
fn syscall_status() -> i32 {
    stopped(SIGTRAP | 0x80, 0)
}
fn exited(code: i32) -> i32 {
    code << 8
}

#[derive(Default)]
struct Fake {
    stops: HashMap<i32, VecDeque<SyscallStop>>,
    msgs: HashMap<i32, u64>,
    resumed: Vec<(i32, Resume, i32)>,
    info_broken: bool,
}

struct FakeMem;
impl Memory for FakeMem {
    fn read_cstr(&self, addr: u64) -> Option<Vec<u8>> {
        match addr {
            0x10 => Some(b"/bin/sh".to_vec()),
            0x20 => Some(b"/etc/passwd".to_vec()),
            0x30 => Some(b"/tmp/n".to_vec()),
            _ => None,
        }
    }
    fn fd_path(&self, _fd: i32) -> Option<String> {
        None
    }
}

impl Ptrace for Fake {
    fn resume(&mut self, pid: i32, how: Resume, sig: i32) -> io::Result<()> {
        self.resumed.push((pid, how, sig));
        Ok(())
    }
    fn event_msg(&mut self, pid: i32) -> io::Result<u64> {
        Ok(self.msgs[&pid])
    }
    fn syscall_stop(&mut self, pid: i32) -> io::Result<SyscallStop> {
        if self.info_broken {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(self
            .stops
            .get_mut(&pid)
            .and_then(VecDeque::pop_front)
            .unwrap())
    }
    fn memory(&self, _pid: i32) -> impl Memory + '_ {
        FakeMem
    }
}

fn entry(nr: u64, args: [u64; 6]) -> SyscallStop {
    SyscallStop::Entry {
        arch: AUDIT_ARCH_X86_64,
        nr,
        args,
    }
}
fn ok(rval: i64) -> SyscallStop {
    SyscallStop::Exit {
        rval,
        is_error: false,
    }
}
fn err(errno: i64) -> SyscallStop {
    SyscallStop::Exit {
        rval: -errno,
        is_error: true,
    }
}

fn rec(syscall: &str, outcome: &str, arg: Option<&str>) -> SyscallRecord {
    SyscallRecord {
        syscall: syscall.into(),
        outcome: outcome.into(),
        arg: arg.map(Into::into),
    }
}

/// Feeds `pid`'s syscall stops one pair at a time.
fn run_syscalls(t: &mut Tracer, f: &mut Fake, pid: i32, stops: Vec<SyscallStop>) {
    let n = stops.len();
    f.stops.entry(pid).or_default().extend(stops);
    for _ in 0..n {
        assert_eq!(t.handle(f, pid, syscall_status()), Step::Continue);
    }
}

#[test]
fn records_only_after_the_first_exec_of_pid_1() {
    let mut t = Tracer::new(1, true);
    let mut f = Fake::default();
    // The interrupt stop, then the wrapper's own calls.
    assert_eq!(
        t.handle(&mut f, 1, stopped(SIGTRAP, EVENT_STOP)),
        Step::Continue
    );
    run_syscalls(
        &mut t,
        &mut f,
        1,
        vec![
            ok(0), // exit of a syscall whose entry predates the attach
            entry(257, [CWD, 0x20, 0, 0, 0, 0]),
            ok(3),
            entry(59, [0x30, 0, 0, 0, 0, 0]),
            err(2), // execvp trying a PATH entry
            entry(59, [0x10, 0, 0, 0, 0, 0]),
        ],
    );
    f.msgs.insert(1, 1);
    t.handle(&mut f, 1, stopped(SIGTRAP, EVENT_EXEC));
    run_syscalls(
        &mut t,
        &mut f,
        1,
        vec![
            ok(0), // execve's exit, after the exec event
            entry(257, [CWD, 0x20, 0, 0, 0, 0]),
            err(13),
            entry(0, [3, 0x1234, 10, 0, 0, 0]),
            ok(10),
            entry(259, [CWD, 0x30, 0o020_644, 0x103, 0, 0]),
            err(1),
        ],
    );
    assert_eq!(
        t.observation(),
        SyscallsObservation::Ok {
            calls: vec![
                rec("execve", "ok", Some("/bin/sh")),
                rec("mknodat", "EPERM", Some("/tmp/n c 1:3")),
                rec("openat", "EACCES", Some("/etc/passwd")),
                rec("read", "ok", None),
            ],
            prelude: vec![],
        }
    );
    assert!(
        f.resumed
            .iter()
            .all(|&(_, how, sig)| how == Resume::Syscall && sig == 0)
    );
}

#[test]
fn follows_children_and_aggregates_distinct_records() {
    let mut t = Tracer::new(1, true);
    let mut f = Fake::default();
    f.msgs.insert(1, 1);
    t.handle(&mut f, 1, stopped(SIGTRAP, EVENT_EXEC));
    f.msgs.insert(1, 7);
    t.handle(&mut f, 1, stopped(SIGTRAP, EVENT_CLONE));
    // The child's first stop may arrive before or after the parent's event.
    t.handle(&mut f, 7, stopped(SIGTRAP, EVENT_STOP));
    for pid in [7, 1, 7] {
        run_syscalls(
            &mut t,
            &mut f,
            pid,
            vec![entry(257, [CWD, 0x20, 0, 0, 0, 0]), ok(3)],
        );
    }
    assert_eq!(t.handle(&mut f, 7, exited(0)), Step::Continue);
    assert_eq!(
        t.observation(),
        SyscallsObservation::Ok {
            calls: vec![rec("openat", "ok", Some("/etc/passwd"))],
            prelude: vec![],
        }
    );
}

#[test]
fn reinjects_signals_and_listens_in_group_stops() {
    let mut t = Tracer::new(1, true);
    let mut f = Fake::default();
    t.handle(&mut f, 1, stopped(libc::SIGTERM, 0));
    t.handle(&mut f, 1, stopped(libc::SIGSTOP, EVENT_STOP));
    t.handle(&mut f, 1, stopped(SIGTRAP, EVENT_STOP));
    t.handle(&mut f, 1, stopped(libc::SIGCHLD, 0));
    assert_eq!(
        f.resumed,
        [
            (1, Resume::Syscall, libc::SIGTERM),
            (1, Resume::Listen, 0),
            (1, Resume::Syscall, 0),
            (1, Resume::Syscall, libc::SIGCHLD),
        ]
    );
}

#[test]
fn stops_at_pid_1_exit_and_reports_its_status() {
    let mut t = Tracer::new(1, false);
    let mut f = Fake::default();
    f.msgs.insert(5, 0);
    assert_eq!(
        t.handle(&mut f, 5, stopped(SIGTRAP, EVENT_EXIT)),
        Step::Continue
    );
    f.msgs.insert(1, (42 << 8) as u64);
    assert_eq!(
        t.handle(&mut f, 1, stopped(SIGTRAP, EVENT_EXIT)),
        Step::RootExiting(42 << 8)
    );
    assert_eq!(exit_info(42 << 8), ExitInfo::Exited { code: 42 });
    t.release_root(&mut f);
    assert_eq!(f.resumed, [(5, Resume::Cont, 0), (1, Resume::Cont, 0)]);
    assert_eq!(t.observation(), SyscallsObservation::NotRequested);
    assert_eq!(
        t.handle(&mut f, 1, libc::SIGKILL),
        Step::RootGone(ExitInfo::Signaled {
            signal: "SIGKILL".into()
        })
    );
}

#[test]
fn drops_kernel_restarts() {
    let mut t = Tracer::new(1, true);
    let mut f = Fake::default();
    f.msgs.insert(1, 1);
    t.handle(&mut f, 1, stopped(SIGTRAP, EVENT_EXEC));
    run_syscalls(
        &mut t,
        &mut f,
        1,
        vec![
            entry(61, [u64::MAX, 0, 0, 0, 0, 0]),
            err(512), // ERESTARTSYS: the program never sees it
            entry(219, [0; 6]),
            ok(0), // restart_syscall: timing noise
            entry(61, [u64::MAX, 0, 0, 0, 0, 0]),
            err(10),
        ],
    );
    assert_eq!(
        t.observation(),
        SyscallsObservation::Ok {
            calls: vec![rec("wait4", "ECHILD", None)],
            prelude: vec![],
        }
    );
}

#[test]
fn without_syscall_info_says_unavailable_and_stops_asking() {
    let mut t = Tracer::new(1, true);
    let mut f = Fake {
        info_broken: true,
        ..Fake::default()
    };
    t.handle(&mut f, 1, syscall_status());
    assert_eq!(f.resumed, [(1, Resume::Cont, 0)]);
    assert!(
        matches!(t.observation(), SyscallsObservation::Unavailable { reason } if reason.contains("GET_SYSCALL_INFO"))
    );
}

#[test]
fn classifies_wait_statuses() {
    assert_eq!(classify(exited(3)), Stop::Exited(3));
    assert_eq!(classify(libc::SIGKILL), Stop::Killed(libc::SIGKILL));
    assert_eq!(classify(syscall_status()), Stop::Syscall);
    assert_eq!(
        classify(stopped(SIGTRAP, EVENT_FORK)),
        Stop::Event(EVENT_FORK)
    );
    assert_eq!(
        classify(stopped(libc::SIGTTIN, EVENT_STOP)),
        Stop::GroupStop(libc::SIGTTIN)
    );
    assert_eq!(classify(stopped(SIGTRAP, EVENT_STOP)), Stop::EventStop);
    assert_eq!(classify(stopped(SIGTRAP, 0)), Stop::Signal(SIGTRAP));
}

#[test]
fn each_exec_starts_a_libc_start_up_that_is_kept_apart() {
    let mut t = Tracer::new(1, true);
    let mut f = Fake::default();
    f.msgs.insert(1, 1);
    t.handle(&mut f, 1, stopped(SIGTRAP, EVENT_EXEC));
    let start_up = [12, 12, 158, 218, 273, 10];
    let mut stops = vec![ok(0)]; // execve's exit
    for nr in start_up {
        stops.push(entry(nr, [0; 6]));
        stops.push(ok(0));
    }
    // The program: getuid, then a brk of its own (malloc).
    stops.extend([entry(102, [0; 6]), ok(0), entry(12, [0; 6]), ok(0)]);
    run_syscalls(&mut t, &mut f, 1, stops);
    let SyscallsObservation::Ok { calls, prelude } = t.observation() else {
        panic!("syscalls were traced");
    };
    assert_eq!(
        calls,
        vec![
            rec("arch_prctl", "ok", None),
            rec("brk", "ok", None),
            rec("getuid", "ok", None),
            rec("mprotect", "ok", None),
            rec("set_robust_list", "ok", None),
            rec("set_tid_address", "ok", None),
        ]
    );
    // brk stays the program's: it made one after its start-up.
    assert_eq!(
        prelude,
        vec![
            rec("arch_prctl", "ok", None),
            rec("mprotect", "ok", None),
            rec("set_robust_list", "ok", None),
            rec("set_tid_address", "ok", None),
        ]
    );
}

#[test]
fn a_start_up_cut_short_is_the_programs() {
    let mut t = Tracer::new(1, true);
    let mut f = Fake::default();
    f.msgs.insert(1, 1);
    t.handle(&mut f, 1, stopped(SIGTRAP, EVENT_EXEC));
    run_syscalls(
        &mut t,
        &mut f,
        1,
        vec![ok(0), entry(12, [0; 6]), ok(0), entry(218, [0; 6]), ok(0)],
    );
    // The report is written while the start-up is still open.
    let SyscallsObservation::Ok { calls, prelude } = t.observation() else {
        panic!("syscalls were traced");
    };
    assert_eq!(calls.len(), 2);
    assert!(prelude.is_empty(), "{prelude:?}");
}
