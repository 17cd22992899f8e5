//! The libc's start-up: the syscalls a statically linked process makes
//! after its exec and before its program's own code runs (TLS set-up with
//! `brk` and `arch_prctl`, `set_tid_address`, `set_robust_list`, `rseq`,
//! `prlimit64`, `readlink /proc/self/exe`, `getrandom`, RELRO `mprotect`).
//! They are the same for every program of one libc build and say nothing
//! about the workload, but they differ between libc builds and ABIs, so
//! they are told apart from what the program did.
//!
//! Owns the known start-up sequences and matching one process's calls
//! against them, one call at a time, from its exec on. Matching is exact:
//! each step names the syscall, its outcome and, where it has one, its
//! key argument; the start-up ends at the first call no known sequence
//! can take, and it counts only if a whole sequence matched by then. A
//! call that deviates (another outcome, an unknown order) ends the match
//! and everything held so far is the program's, so nothing the workload
//! did, nor any start-up that went differently, is ever hidden. Pure.

use parity_wire::SyscallRecord;

/// One step of a start-up sequence.
#[derive(Debug)]
struct Step {
    /// Syscall names this step takes (per-ABI spellings of one call).
    names: &'static [&'static str],
    outcome: &'static str,
    arg: Option<&'static str>,
    min: u8,
    max: u8,
}

const fn step(names: &'static [&'static str], outcome: &'static str, min: u8, max: u8) -> Step {
    Step {
        names,
        outcome,
        arg: None,
        min,
        max,
    }
}

/// glibc, static (2.34 to 2.41 seen: Debian 12 and 13, Ubuntu 22.04 and
/// 24.04), x86_64 and aarch64: TLS set-up (`brk`, `arch_prctl` where the
/// ABI has it, CET's probe answered EINVAL), thread and robust-list
/// registration, `rseq` (2.35+), the stack limit, the executable's own
/// path, the malloc random seed (2.36+), the heap, RELRO.
const GLIBC_STATIC: &[Step] = &[
    step(&["brk", "arch_prctl"], "ok", 0, 6),
    step(&["arch_prctl"], "EINVAL", 0, 2),
    step(&["brk", "arch_prctl"], "ok", 0, 4),
    step(&["set_tid_address"], "ok", 1, 1),
    step(&["set_robust_list"], "ok", 1, 1),
    step(&["rseq"], "ok", 0, 1),
    step(&["prlimit64"], "ok", 0, 1),
    Step {
        names: &["readlink", "readlinkat"],
        outcome: "ok",
        arg: Some("/proc/self/exe"),
        min: 0,
        max: 1,
    },
    step(&["getrandom"], "ok", 0, 1),
    step(&["brk"], "ok", 0, 4),
    step(&["mprotect"], "ok", 1, 1),
];

/// musl, static: the thread pointer and the tid address, then `main`.
const MUSL_STATIC: &[Step] = &[
    step(&["arch_prctl"], "ok", 0, 1),
    step(&["set_tid_address"], "ok", 1, 1),
];

/// Every known sequence; matched side by side.
const SEQUENCES: &[&[Step]] = &[GLIBC_STATIC, MUSL_STATIC];

/// A position in one sequence: the step and how often it was taken.
type Pos = (usize, usize, u8);

/// Where one process stands in its start-up.
#[derive(Debug, Clone)]
pub struct Prelude {
    /// Positions still possible, per sequence.
    positions: Vec<Pos>,
    /// The calls taken so far.
    held: Vec<SyscallRecord>,
}

/// What one more call did to the start-up.
#[derive(Debug, PartialEq, Eq)]
pub enum Fed {
    /// The call belongs to the start-up (so far).
    Held,
    /// The start-up is over; `prelude` is what it was (empty when no
    /// sequence completed), `program` the program's calls, this one last.
    Done {
        prelude: Vec<SyscallRecord>,
        program: Vec<SyscallRecord>,
    },
}

impl Default for Prelude {
    fn default() -> Self {
        Prelude {
            positions: (0..SEQUENCES.len()).map(|s| (s, 0, 0)).collect(),
            held: Vec::new(),
        }
    }
}

impl Prelude {
    /// A process that has just exec'd.
    pub fn new() -> Prelude {
        Prelude::default()
    }

    /// Takes the next call of the process.
    pub fn feed(&mut self, call: SyscallRecord) -> Fed {
        let next: Vec<Pos> = self
            .positions
            .iter()
            .flat_map(|&p| advance(p, &call))
            .collect();
        if next.is_empty() {
            let (prelude, mut program) = self.finish();
            program.push(call);
            return Fed::Done { prelude, program };
        }
        let mut next = next;
        next.sort_unstable();
        next.dedup();
        self.positions = next;
        self.held.push(call);
        Fed::Held
    }

    /// Ends the start-up (the process exits, or the report is written):
    /// `(prelude, program)` as [`Fed::Done`] gives them.
    pub fn finish(&mut self) -> (Vec<SyscallRecord>, Vec<SyscallRecord>) {
        let held = std::mem::take(&mut self.held);
        if self.positions.iter().any(|&p| complete(p)) {
            (held, Vec::new())
        } else {
            (Vec::new(), held)
        }
    }
}

fn takes(s: &Step, call: &SyscallRecord) -> bool {
    s.names.contains(&call.syscall.as_str())
        && s.outcome == call.outcome
        && s.arg.is_none_or(|a| call.arg.as_deref() == Some(a))
}

/// The positions reachable from `p` by taking `call`: repeat the current
/// step, or (once its minimum is met) skip ahead to a later step.
fn advance((seq, at, taken): Pos, call: &SyscallRecord) -> Vec<Pos> {
    let steps = SEQUENCES[seq];
    let mut out = Vec::new();
    let (mut i, mut n) = (at, taken);
    while i < steps.len() {
        let s = &steps[i];
        if n < s.max && takes(s, call) {
            out.push((seq, i, n + 1));
        }
        if n < s.min {
            break;
        }
        i += 1;
        n = 0;
    }
    out
}

/// Whether every remaining step of the sequence may be left out.
fn complete((seq, at, taken): Pos) -> bool {
    let steps = SEQUENCES[seq];
    taken >= steps[at].min && steps[at + 1..].iter().all(|s| s.min == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(s: &str, o: &str, a: Option<&str>) -> SyscallRecord {
        SyscallRecord {
            syscall: s.into(),
            outcome: o.into(),
            arg: a.map(Into::into),
        }
    }

    fn ok(s: &str) -> SyscallRecord {
        rec(s, "ok", None)
    }

    /// Feeds `calls`; returns (prelude, program) as the process ends.
    fn split_calls(calls: Vec<SyscallRecord>) -> (Vec<String>, Vec<String>) {
        let mut p = Prelude::new();
        let (mut pre, mut prog) = (Vec::new(), Vec::new());
        let mut done = false;
        for c in calls {
            if done {
                prog.push(c);
                continue;
            }
            if let Fed::Done { prelude, program } = p.feed(c) {
                pre = prelude;
                prog = program;
                done = true;
            }
        }
        if !done {
            (pre, prog) = p.finish();
        }
        let names = |v: Vec<SyscallRecord>| v.into_iter().map(|c| c.syscall).collect();
        (names(pre), names(prog))
    }

    /// Debian 12's busybox-static (glibc 2.36), x86_64, as strace shows it.
    fn glibc_236() -> Vec<SyscallRecord> {
        vec![
            ok("brk"),
            ok("brk"),
            ok("arch_prctl"),
            ok("set_tid_address"),
            ok("set_robust_list"),
            ok("rseq"),
            ok("prlimit64"),
            rec("readlink", "ok", Some("/proc/self/exe")),
            ok("getrandom"),
            ok("brk"),
            ok("brk"),
            ok("brk"),
            ok("mprotect"),
        ]
    }

    #[test]
    fn the_glibc_start_up_is_told_from_the_program() {
        let mut calls = glibc_236();
        calls.push(ok("prctl"));
        calls.push(ok("getuid"));
        let (pre, prog) = split_calls(calls);
        assert_eq!(pre.len(), 13, "{pre:?}");
        assert_eq!(prog, ["prctl", "getuid"]);
    }

    #[test]
    fn other_builds_and_abis_match_too() {
        // Debian 13 (glibc 2.41) reads its path with readlinkat.
        let mut trixie = glibc_236();
        trixie[7] = rec("readlinkat", "ok", Some("/proc/self/exe"));
        trixie.push(ok("prctl"));
        assert_eq!(split_calls(trixie).1, ["prctl"]);
        // aarch64: no arch_prctl.
        let mut arm = glibc_236();
        arm.remove(2);
        arm.push(ok("getuid"));
        assert_eq!(split_calls(arm).1, ["getuid"]);
        // CET's probe of a glibc built with it, first or after the TLS.
        for at in [0, 2] {
            let mut cet = glibc_236();
            cet.insert(at, rec("arch_prctl", "EINVAL", None));
            cet.push(ok("getuid"));
            assert_eq!(split_calls(cet).1, ["getuid"], "EINVAL at {at}");
        }
        // musl: thread pointer, tid address, main.
        let musl = vec![ok("arch_prctl"), ok("set_tid_address"), ok("getuid")];
        assert_eq!(split_calls(musl).1, ["getuid"]);
    }

    #[test]
    fn a_start_up_that_went_differently_is_not_hidden() {
        // rseq refused (an old kernel, or a runtime's seccomp): every call
        // held so far is shown.
        let mut calls = glibc_236();
        calls[5] = rec("rseq", "ENOSYS", None);
        let (pre, prog) = split_calls(calls.clone());
        assert!(pre.is_empty(), "{pre:?}");
        assert_eq!(prog.len(), calls.len());
        // Its own executable read from elsewhere.
        let mut other = glibc_236();
        other[7] = rec("readlink", "ok", Some("/tmp/x"));
        assert!(split_calls(other).0.is_empty());
        // A process that dies half-way through its start-up.
        let (pre, prog) = split_calls(glibc_236()[..5].to_vec());
        assert!(pre.is_empty());
        assert_eq!(prog.len(), 5);
    }

    #[test]
    fn a_program_that_starts_with_a_start_up_call_keeps_it() {
        // A dynamic binary's first calls are the loader's, not a static
        // start-up: nothing is held back for long.
        let calls = vec![
            ok("brk"),
            rec("access", "ENOENT", Some("/etc/ld.so.preload")),
        ];
        let (pre, prog) = split_calls(calls);
        assert!(pre.is_empty());
        assert_eq!(prog, ["brk", "access"]);
    }
}
