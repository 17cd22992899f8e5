//! The real [`Ptrace`]: thin wrappers over ptrace(2), waitpid(2) and
//! process_vm_readv(2). No decisions are made here; see `tracer` for those.

use crate::decode::{Memory, PATH_MAX};
use crate::tracer::{Ptrace, Resume, SyscallStop};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

pub const OPT_TRACESYSGOOD: u64 = 0x01;
pub const OPT_TRACEFORK: u64 = 0x02;
pub const OPT_TRACEVFORK: u64 = 0x04;
pub const OPT_TRACECLONE: u64 = 0x08;
pub const OPT_TRACEEXEC: u64 = 0x10;
pub const OPT_TRACEEXIT: u64 = 0x40;

const PTRACE_SEIZE: u32 = 0x4206;
const PTRACE_INTERRUPT: u32 = 0x4207;
const PTRACE_LISTEN: u32 = 0x4208;
const PTRACE_GETEVENTMSG: u32 = 0x4201;
const PTRACE_GET_SYSCALL_INFO: u32 = 0x420e;
const PTRACE_CONT: u32 = 7;
const PTRACE_SYSCALL: u32 = 24;
const PTRACE_PEEKDATA: u32 = 2;

/// Size of `struct ptrace_syscall_info` (with the seccomp member).
const SYSCALL_INFO_SIZE: usize = 88;

fn request(req: u32, pid: i32, addr: usize, data: usize) -> io::Result<libc::c_long> {
    // SAFETY: errno is thread-local; clearing it lets PEEKDATA's -1 word be
    // told from an error.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: every caller passes a request whose `addr`/`data` are either
    // plain integers or pointers to buffers that outlive the call and are
    // as large as the kernel writes for that request.
    let r = unsafe {
        libc::ptrace(
            req as _,
            pid,
            addr as *mut libc::c_void,
            data as *mut libc::c_void,
        )
    };
    if r == -1 {
        let e = io::Error::last_os_error();
        if e.raw_os_error().is_some_and(|n| n != 0) {
            return Err(e);
        }
    }
    Ok(r)
}

pub fn seize(pid: i32, options: u64) -> io::Result<()> {
    request(PTRACE_SEIZE, pid, 0, options as usize).map(drop)
}

pub fn interrupt(pid: i32) -> io::Result<()> {
    request(PTRACE_INTERRUPT, pid, 0, 0).map(drop)
}

/// `waitpid(pid, __WALL)` retried on EINTR; `None` on ECHILD.
pub fn wait(pid: i32) -> io::Result<Option<(i32, i32)>> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer for the call's duration.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        if r >= 0 {
            return Ok(Some((r, status)));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// Parses a `struct ptrace_syscall_info` buffer (native byte order).
pub fn parse_syscall_info(b: &[u8; SYSCALL_INFO_SIZE]) -> SyscallStop {
    let u64_at = |o: usize| u64::from_ne_bytes(b[o..o + 8].try_into().expect("8 bytes"));
    let arch = u32::from_ne_bytes(b[4..8].try_into().expect("4 bytes"));
    match b[0] {
        1 => SyscallStop::Entry {
            arch,
            nr: u64_at(24),
            args: std::array::from_fn(|i| u64_at(32 + 8 * i)),
        },
        2 => SyscallStop::Exit {
            rval: u64_at(24) as i64,
            is_error: b[32] != 0,
        },
        _ => SyscallStop::Other,
    }
}

/// The kernel's ptrace on real processes.
pub struct SysPtrace;

impl Ptrace for SysPtrace {
    fn resume(&mut self, pid: i32, how: Resume, sig: i32) -> io::Result<()> {
        let req = match how {
            Resume::Cont => PTRACE_CONT,
            Resume::Syscall => PTRACE_SYSCALL,
            Resume::Listen => PTRACE_LISTEN,
        };
        request(req, pid, 0, sig as usize).map(drop)
    }

    fn event_msg(&mut self, pid: i32) -> io::Result<u64> {
        let mut msg: libc::c_ulong = 0;
        request(PTRACE_GETEVENTMSG, pid, 0, &mut msg as *mut _ as usize)?;
        Ok(msg as u64)
    }

    fn syscall_stop(&mut self, pid: i32) -> io::Result<SyscallStop> {
        let mut buf = [0u8; SYSCALL_INFO_SIZE];
        request(
            PTRACE_GET_SYSCALL_INFO,
            pid,
            buf.len(),
            buf.as_mut_ptr() as usize,
        )?;
        Ok(parse_syscall_info(&buf))
    }

    fn memory(&self, pid: i32) -> impl Memory + '_ {
        TraceeMemory { pid }
    }
}

/// A stopped tracee's memory and fd table.
pub struct TraceeMemory {
    pub pid: i32,
}

impl TraceeMemory {
    /// Reads up to `buf.len()` bytes at `addr` without crossing a page.
    fn read_chunk(&self, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
        if VM_READV_WORKS.load(Ordering::Relaxed) {
            let local = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            let remote = libc::iovec {
                iov_base: addr as *mut libc::c_void,
                iov_len: buf.len(),
            };
            // SAFETY: `local` describes `buf`, writable for its length; the
            // remote iovec is only dereferenced by the kernel, in the tracee.
            let r = unsafe { libc::process_vm_readv(self.pid, &local, 1, &remote, 1, 0) };
            if r >= 0 {
                return Ok(r as usize);
            }
            // Docker's default seccomp profile allows process_vm_readv only
            // with CAP_SYS_PTRACE: fall back to PEEKDATA from now on.
            if io::Error::last_os_error().raw_os_error() != Some(libc::EFAULT) {
                VM_READV_WORKS.store(false, Ordering::Relaxed);
            }
        }
        self.peek(addr, buf)
    }

    /// Word-wise PTRACE_PEEKDATA of aligned words, so the last word never
    /// reaches past the page (and mapping) that holds the wanted bytes.
    fn peek(&self, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
        const WORD: u64 = std::mem::size_of::<libc::c_long>() as u64;
        let mut n = 0;
        while n < buf.len() {
            let at = addr + n as u64;
            let aligned = at & !(WORD - 1);
            let word = request(PTRACE_PEEKDATA, self.pid, aligned as usize, 0)?.to_ne_bytes();
            let skip = (at - aligned) as usize;
            let take = (word.len() - skip).min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&word[skip..skip + take]);
            n += take;
        }
        Ok(n)
    }
}

/// Whether process_vm_readv is allowed here (it is not under Docker's
/// default seccomp profile without CAP_SYS_PTRACE).
static VM_READV_WORKS: AtomicBool = AtomicBool::new(true);

impl Memory for TraceeMemory {
    fn read_cstr(&self, addr: u64) -> Option<Vec<u8>> {
        const PAGE: u64 = 4096;
        let mut out = Vec::new();
        let mut at = addr;
        while out.len() < PATH_MAX {
            let room = (PAGE - at % PAGE).min((PATH_MAX - out.len()) as u64) as usize;
            let mut buf = vec![0u8; room];
            let n = self.read_chunk(at, &mut buf).ok().filter(|&n| n > 0)?;
            if let Some(end) = buf[..n].iter().position(|&c| c == 0) {
                out.extend_from_slice(&buf[..end]);
                return Some(out);
            }
            out.extend_from_slice(&buf[..n]);
            at += n as u64;
        }
        Some(out)
    }

    fn fd_path(&self, fd: i32) -> Option<String> {
        std::fs::read_link(format!("/proc/{}/fd/{fd}", self.pid))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }
}

/// `prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY)`: lets a non-ancestor tracer
/// attach under Yama ptrace_scope=1. EINVAL (no Yama) is fine.
pub fn allow_any_tracer() {
    // SAFETY: PR_SET_PTRACER takes integer arguments only.
    let _ = unsafe { libc::prctl(libc::PR_SET_PTRACER, libc::PR_SET_PTRACER_ANY, 0, 0, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entry_and_exit_info() {
        let mut b = [0u8; SYSCALL_INFO_SIZE];
        b[0] = 1;
        b[4..8].copy_from_slice(&0xC000_003Eu32.to_ne_bytes());
        b[24..32].copy_from_slice(&257u64.to_ne_bytes());
        for i in 0..6 {
            b[32 + 8 * i..40 + 8 * i].copy_from_slice(&(i as u64 + 10).to_ne_bytes());
        }
        assert_eq!(
            parse_syscall_info(&b),
            SyscallStop::Entry {
                arch: 0xC000_003E,
                nr: 257,
                args: [10, 11, 12, 13, 14, 15]
            }
        );
        let mut b = [0u8; SYSCALL_INFO_SIZE];
        b[0] = 2;
        b[24..32].copy_from_slice(&(-13i64).to_ne_bytes());
        b[32] = 1;
        assert_eq!(
            parse_syscall_info(&b),
            SyscallStop::Exit {
                rval: -13,
                is_error: true
            }
        );
        b[0] = 0;
        assert_eq!(parse_syscall_info(&b), SyscallStop::Other);
    }

    #[test]
    fn reads_strings_across_pages_from_a_live_process() {
        // Our own process stands in for a tracee: process_vm_readv on self
        // needs no ptrace.
        let page = vec![b'a'; 8192];
        let mut text = page.clone();
        text[4090..4100].copy_from_slice(b"/x/y/z\0zzz");
        let mem = TraceeMemory {
            pid: std::process::id() as i32,
        };
        let got = mem.read_cstr(text.as_ptr() as u64 + 4090).unwrap();
        assert_eq!(got, b"/x/y/z");
        let long = mem.read_cstr(page.as_ptr() as u64).unwrap();
        assert_eq!(long.len(), PATH_MAX);
        assert_eq!(mem.read_cstr(8), None);
    }

    #[test]
    fn peeks_a_traced_child_up_to_the_end_of_its_stack() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        seize(pid, 0).unwrap();
        interrupt(pid).unwrap();
        let (_, status) = wait(pid).unwrap().unwrap();
        assert!(libc::WIFSTOPPED(status));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        // Field 48 (arg_start) is the 46th after the command name.
        let arg_start: u64 = fields[45].parse().unwrap();
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
        let stack = maps.lines().find(|l| l.ends_with("[stack]")).unwrap();
        let end = u64::from_str_radix(stack.split(['-', ' ']).nth(1).unwrap(), 16).unwrap();
        let mem = TraceeMemory { pid };
        let mut buf = [0u8; 11];
        assert_eq!(mem.peek(arg_start, &mut buf).unwrap(), 11);
        assert_eq!(&buf, b"/bin/sleep\0");
        // Three bytes before the end of the mapping: an unaligned word read
        // would run past it.
        let mut tail = [0xffu8; 3];
        assert_eq!(mem.peek(end - 3, &mut tail).unwrap(), 3);
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
