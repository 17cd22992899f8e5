//! The environment key of snapshots: what, besides the runtime, shapes an
//! observation, so that each host of a CI matrix keeps its own snapshots
//! (`snapshots/<key>/NAME@RUNTIME.snap`) and a run compares only against
//! snapshots made where the same observation is expected.
//!
//! Owns which facts make the key and how it is spelled. The key holds the
//! workload's architecture (syscall names and the libc's start-up differ
//! per ABI), the cgroup version (v1 and v2 hosts give other mounts and
//! paths), the kernel's major.minor (mount options, errnos, /proc), the
//! engine's major version (its default mounts, masked paths, seccomp
//! profile), and the default image's busybox (its version and a digest of
//! the binary: applets, messages and libc differ between builds). It holds
//! no runtime version on purpose: a runtime whose behaviour changes under
//! the same key is the drift snapshots exist to catch. The probe's own libc
//! shapes nothing recorded (recording starts at the workload's exec), so it
//! is not part of the key. Pure: it reads facts it is given.

use crate::run::engine::EngineInfo;

/// One environment's key, in parts; [`SnapshotKey::name`] is its folder.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotKey {
    pub arch: String,
    pub cgroup: String,
    pub kernel: String,
    pub engine: String,
    pub busybox: String,
}

impl SnapshotKey {
    /// The key of observations made by the engine `info` describes, in the
    /// default image built from the static `busybox` binary.
    pub fn new(info: &EngineInfo, busybox: &[u8]) -> SnapshotKey {
        SnapshotKey {
            arch: elf_arch(busybox).unwrap_or(std::env::consts::ARCH).into(),
            cgroup: format!("cgroup{}", part(&info.cgroup_version, 1)),
            kernel: format!("linux{}", part(&info.kernel, 2)),
            engine: format!("docker{}", part(&info.server_version, 1)),
            busybox: format!("busybox{}-{}", busybox_version(busybox), digest(busybox)),
        }
    }

    /// The folder name, e.g.
    /// `x86_64-cgroup1-linux6.1-docker20-busybox1.35.0-4f2a0c`.
    pub fn name(&self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.arch, self.cgroup, self.kernel, self.engine, self.busybox
        )
    }
}

/// Whether `name` can be a key folder: what [`SnapshotKey::name`] spells.
pub fn is_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
}

/// The first `n` dot-separated numbers of a version (`6.1.0-18-amd64` →
/// `6.1`), or `unknown`.
fn part(version: &str, n: usize) -> String {
    let numbers: Vec<&str> = version
        .split(['.', '-', '+', '~', ' '])
        .take(n)
        .take_while(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        .collect();
    if numbers.len() == n {
        numbers.join(".")
    } else {
        "unknown".into()
    }
}

/// The architecture an ELF binary is built for, by `e_machine`.
fn elf_arch(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() < 20 || &bytes[..4] != b"\x7fELF" || bytes[5] != 1 {
        return None;
    }
    Some(match u16::from_le_bytes([bytes[18], bytes[19]]) {
        3 => "x86",
        40 => "arm",
        62 => "x86_64",
        183 => "aarch64",
        243 => "riscv64",
        21 => "powerpc64",
        22 => "s390x",
        _ => return None,
    })
}

/// The version in busybox's banner (`BusyBox v1.35.0 (Debian ...)`).
fn busybox_version(bytes: &[u8]) -> String {
    busybox_banner_version(bytes)
        .map(|r| String::from_utf8_lossy(&bytes[r]).into_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// Where the version of busybox's banner (what `busybox` prints first) is
/// in the binary `bytes`. The banner is a string of its own that starts
/// with `BusyBox v`; the same words also sit inside other messages
/// (busybox 1.37's `syslogd started: BusyBox v1.37.0`, placed before the
/// banner), so the first occurrence that starts a string wins, else the
/// first anywhere.
pub fn busybox_banner_version(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    const BANNER: &[u8] = b"BusyBox v";
    let found: Vec<usize> = bytes
        .windows(BANNER.len())
        .enumerate()
        .filter(|(_, w)| *w == BANNER)
        .map(|(at, _)| at)
        .collect();
    let at = found
        .iter()
        .find(|&&at| at == 0 || bytes[at - 1] == 0)
        .or(found.first())?;
    let start = at + BANNER.len();
    let len = bytes[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .count();
    (len > 0).then_some(start..start + len)
}

/// Six hex digits of an FNV-1a digest: enough to tell builds apart.
fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{:06x}", h & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn info(kernel: &str, cgroup: &str, server: &str) -> EngineInfo {
        EngineInfo {
            kernel: kernel.into(),
            cgroup_version: cgroup.into(),
            server_version: server.into(),
            ..EngineInfo::default()
        }
    }

    fn elf(machine: u16, rest: &[u8]) -> Vec<u8> {
        let mut b = b"\x7fELF\x02\x01\x01".to_vec();
        b.resize(18, 0);
        b.extend_from_slice(&machine.to_le_bytes());
        b.extend_from_slice(rest);
        b
    }

    #[test]
    fn the_key_names_what_shapes_observations() {
        let bb = elf(62, b"..BusyBox v1.35.0 (Debian 1:1.35.0-4) multi-call");
        let key = SnapshotKey::new(&info("6.1.0-18-amd64", "1", "20.10.24+dfsg1"), &bb);
        assert_eq!(
            key.name(),
            format!(
                "x86_64-cgroup1-linux6.1-docker20-busybox1.35.0-{}",
                digest(&bb)
            )
        );
        assert!(is_key_name(&key.name()));
        let arm = elf(183, b"BusyBox v1.36.1 ");
        let other = SnapshotKey::new(&info("6.8.0-1021-azure", "2", "28.0.4"), &arm);
        assert_eq!(
            other.name(),
            format!(
                "aarch64-cgroup2-linux6.8-docker28-busybox1.36.1-{}",
                digest(&arm)
            )
        );
    }

    #[test]
    fn the_version_is_the_banners_not_another_messages() {
        let bb = b"x\0syslogd started: BusyBox v1.37.0\0BusyBox v1.37.1 (Debian 1:1.37.0-6)\0";
        assert_eq!(busybox_version(bb), "1.37.1");
        assert_eq!(busybox_version(b"..BusyBox v1.35.0 (Debian)"), "1.35.0");
        assert_eq!(busybox_version(b"no banner"), "unknown");
    }

    #[test]
    fn another_busybox_build_is_another_key() {
        let i = info("6.1.0", "2", "26.1.3");
        let a = SnapshotKey::new(&i, &elf(62, b"BusyBox v1.35.0 (Debian)"));
        let b = SnapshotKey::new(&i, &elf(62, b"BusyBox v1.35.0 (Ubuntu)"));
        assert_ne!(a.name(), b.name());
        assert_eq!(a.busybox[..14], b.busybox[..14]);
    }

    #[rstest]
    #[case("6.18.44-fc-v1045", 2, "6.18")]
    #[case("20.10.24+dfsg1", 1, "20")]
    #[case("2", 1, "2")]
    #[case("", 1, "unknown")]
    #[case("weird", 2, "unknown")]
    fn versions_are_cut_to_what_matters(#[case] v: &str, #[case] n: usize, #[case] want: &str) {
        assert_eq!(part(v, n), want);
    }

    #[rstest]
    #[case("x86_64-cgroup2-linux6.8-docker28-busybox1.36.1-0a1b2c", true)]
    #[case("..", false)]
    #[case("a/b", false)]
    #[case("", false)]
    fn key_names_are_plain(#[case] name: &str, #[case] ok: bool) {
        assert_eq!(is_key_name(name), ok);
    }
}
