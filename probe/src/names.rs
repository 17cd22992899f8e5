//! Names for numbers the kernel hands the tracer: syscall names per ABI
//! (from the `syscalls` crate's tables, chosen by the audit arch that
//! `PTRACE_GET_SYSCALL_INFO` reports, so one probe names x86_64, i386 and
//! aarch64 calls alike), errno names and signal names. Pure lookups only.

/// `AUDIT_ARCH_*` values from `<linux/audit.h>`.
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
pub const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// The x32 ABI marks its syscall numbers with this bit on x86_64.
const X32_SYSCALL_BIT: u64 = 0x4000_0000;

/// The syscall's name in the table of `arch`, or `syscall_<nr>`.
pub fn syscall_name(arch: u32, nr: u64) -> String {
    let id = usize::try_from(nr).ok();
    let name = match (arch, id) {
        (AUDIT_ARCH_X86_64, Some(n)) => {
            syscalls::x86_64::Sysno::new(n & !(X32_SYSCALL_BIT as usize)).map(|s| s.name())
        }
        (AUDIT_ARCH_I386, Some(n)) => syscalls::x86::Sysno::new(n).map(|s| s.name()),
        (AUDIT_ARCH_AARCH64, Some(n)) => syscalls::aarch64::Sysno::new(n).map(|s| s.name()),
        (AUDIT_ARCH_ARM, Some(n)) => syscalls::arm::Sysno::new(n).map(|s| s.name()),
        _ => None,
    };
    name.map_or_else(|| format!("syscall_{nr}"), str::to_owned)
}

/// Kernel-internal restart codes a tracer can see at syscall exit; the
/// program never does (the call is restarted or turned into EINTR).
pub fn is_restart_errno(errno: i64) -> bool {
    matches!(errno, 512..=516)
}

/// `EPERM` for 1, and so on; `E<n>` when the table has no name.
pub fn errno_name(errno: i64) -> String {
    i32::try_from(errno)
        .ok()
        .and_then(|n| syscalls::Errno::new(n).name())
        .map_or_else(|| format!("E{errno}"), str::to_owned)
}

pub use parity_wire::signal_name;

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(AUDIT_ARCH_X86_64, 2, "open")]
    #[case(AUDIT_ARCH_X86_64, 133, "mknod")]
    #[case(AUDIT_ARCH_X86_64, 259, "mknodat")]
    #[case(AUDIT_ARCH_X86_64, 165, "mount")]
    #[case(AUDIT_ARCH_X86_64, 0x4000_0000 | 257, "openat")]
    #[case(AUDIT_ARCH_I386, 5, "open")]
    #[case(AUDIT_ARCH_AARCH64, 56, "openat")]
    #[case(AUDIT_ARCH_AARCH64, 33, "mknodat")]
    #[case(AUDIT_ARCH_AARCH64, 40, "mount")]
    #[case(AUDIT_ARCH_ARM, 5, "open")]
    #[case(AUDIT_ARCH_X86_64, 100_000, "syscall_100000")]
    #[case(0x1234, 2, "syscall_2")]
    fn names_syscalls_per_abi(#[case] arch: u32, #[case] nr: u64, #[case] want: &str) {
        assert_eq!(syscall_name(arch, nr), want);
    }

    #[rstest]
    #[case(1, "EPERM")]
    #[case(2, "ENOENT")]
    #[case(13, "EACCES")]
    #[case(22, "EINVAL")]
    #[case(30, "EROFS")]
    #[case(95, "EOPNOTSUPP")]
    #[case(4000, "E4000")]
    fn names_errnos(#[case] errno: i64, #[case] want: &str) {
        assert_eq!(errno_name(errno), want);
    }

    #[rstest]
    #[case(9, "SIGKILL")]
    #[case(15, "SIGTERM")]
    #[case(31, "SIGSYS")]
    #[case(34, "SIGRTMIN+2")]
    #[case(0, "SIG0")]
    fn names_signals(#[case] sig: i32, #[case] want: &str) {
        assert_eq!(signal_name(sig), want);
    }

    #[test]
    fn restart_codes_are_internal() {
        assert!(is_restart_errno(512) && is_restart_errno(516));
        assert!(!is_restart_errno(4) && !is_restart_errno(517));
    }
}
