//! The opt-in environment facts the wrapper reads just before it execs the
//! workload: capability sets and seccomp/no_new_privs from
//! `/proc/self/status`, the id maps, the LSM label, and the `/dev` listing
//! (see `devices`). Parsing goes through [`ProcFs`] and is tested with
//! fixed text; nothing here changes the process.

use crate::procfs::ProcFs;
use parity_wire::{Capabilities, Facts, IdMapRange, IdMaps, Security};

/// Which facts the harness asked for (`--facts capabilities,id_maps,...`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FactSet {
    pub capabilities: bool,
    pub id_maps: bool,
    pub security: bool,
    pub devices: bool,
}

impl FactSet {
    /// Parses a comma-separated list; unknown names are an error.
    pub fn parse(list: &str) -> Result<FactSet, String> {
        let mut set = FactSet::default();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "capabilities" => set.capabilities = true,
                "id_maps" => set.id_maps = true,
                "security" => set.security = true,
                "devices" => set.devices = true,
                other => return Err(format!("unknown fact {other:?}")),
            }
        }
        Ok(set)
    }
}

const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Names of the bits set in `mask`, by number; unknown bits `CAP_<n>`.
pub fn cap_names(mask: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| {
            CAP_NAMES
                .get(bit as usize)
                .map_or_else(|| format!("CAP_{bit}"), |n| (*n).to_owned())
        })
        .collect()
}

/// The value of `Key:` in a `/proc/PID/status` text.
fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

fn status_mask(status: &str, key: &str) -> Option<u64> {
    u64::from_str_radix(status_field(status, key)?, 16).ok()
}

pub fn capabilities(status: &str) -> Option<Capabilities> {
    let names = |key| status_mask(status, key).map(cap_names);
    Some(Capabilities {
        effective: names("CapEff")?,
        permitted: names("CapPrm")?,
        inheritable: names("CapInh")?,
        bounding: names("CapBnd")?,
        // Kernels before 4.3 have no ambient set.
        ambient: names("CapAmb").unwrap_or_default(),
    })
}

pub fn security(status: &str, lsm_label: Option<&str>) -> Option<Security> {
    let seccomp = match status_field(status, "Seccomp") {
        Some("0") | None => "disabled",
        Some("1") => "strict",
        Some("2") => "filter",
        Some(_) => "unknown",
    };
    Some(Security {
        seccomp: seccomp.to_owned(),
        no_new_privs: status_field(status, "NoNewPrivs") == Some("1"),
        lsm_label: lsm_label
            .map(|l| {
                l.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .to_owned()
            })
            .filter(|l| !l.is_empty()),
    })
}

/// An id map file (`inside outside count` per line).
pub fn id_map(text: &str) -> Vec<IdMapRange> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|n| n.parse::<u64>().ok());
            Some(IdMapRange {
                inside: f.next()??,
                outside: f.next()??,
                count: f.next()??,
            })
        })
        .collect()
}

pub fn id_maps(proc: &impl ProcFs) -> Option<IdMaps> {
    Some(IdMaps {
        uid_map: id_map(&proc.read("/proc/self/uid_map").ok()?),
        gid_map: id_map(&proc.read("/proc/self/gid_map").ok()?),
    })
}

/// Reads the requested facts (id maps always: the harness needs them to
/// map host ids in mount options back into the container).
pub fn read(set: FactSet, proc: &impl ProcFs) -> Facts {
    let status = proc.read("/proc/self/status").unwrap_or_default();
    Facts {
        capabilities: set.capabilities.then(|| capabilities(&status)).flatten(),
        id_maps: id_maps(proc),
        security: set
            .security
            .then(|| {
                security(
                    &status,
                    proc.read("/proc/self/attr/current").ok().as_deref(),
                )
            })
            .flatten(),
        devices: set.devices.then(|| crate::devices::list("/dev")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::fake::FakeProcFs;
    use rstest::rstest;

    const STATUS: &str = "Name:\tparity-probe\nNoNewPrivs:\t1\nSeccomp:\t2\n\
CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n\
CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n";

    #[test]
    fn decodes_docker_default_capabilities() {
        let caps = capabilities(STATUS).unwrap();
        assert_eq!(
            caps.effective,
            [
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_FSETID",
                "CAP_KILL",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE",
                "CAP_NET_RAW",
                "CAP_SYS_CHROOT",
                "CAP_MKNOD",
                "CAP_AUDIT_WRITE",
                "CAP_SETFCAP",
            ]
        );
        assert!(caps.inheritable.is_empty() && caps.ambient.is_empty());
        assert_eq!(caps.bounding, caps.permitted);
    }

    #[rstest]
    #[case(0, &[])]
    #[case(1, &["CAP_CHOWN"])]
    #[case(1 << 21, &["CAP_SYS_ADMIN"])]
    #[case(1 << 40 | 1 << 41 | 1 << 63, &["CAP_CHECKPOINT_RESTORE", "CAP_41", "CAP_63"])]
    fn names_capability_bits(#[case] mask: u64, #[case] want: &[&str]) {
        assert_eq!(cap_names(mask), want);
    }

    #[rstest]
    #[case(
        STATUS,
        Some("docker-default (enforce)\n"),
        "filter",
        true,
        Some("docker-default (enforce)")
    )]
    #[case("Seccomp:\t0\nNoNewPrivs:\t0\n", None, "disabled", false, None)]
    #[case("Seccomp:\t1\n", Some("\0"), "strict", false, None)]
    fn reads_security(
        #[case] status: &str,
        #[case] label: Option<&str>,
        #[case] seccomp: &str,
        #[case] nnp: bool,
        #[case] want_label: Option<&str>,
    ) {
        let s = security(status, label).unwrap();
        assert_eq!(s.seccomp, seccomp);
        assert_eq!(s.no_new_privs, nnp);
        assert_eq!(s.lsm_label.as_deref(), want_label);
    }

    #[test]
    fn parses_id_maps() {
        let proc = FakeProcFs::default()
            .with("/proc/self/uid_map", "         0     100000      65536\n")
            .with("/proc/self/gid_map", "0 0 4294967295\n1 2\n");
        let maps = id_maps(&proc).unwrap();
        assert_eq!(
            maps.uid_map,
            [IdMapRange {
                inside: 0,
                outside: 100000,
                count: 65536
            }]
        );
        assert_eq!(
            maps.gid_map,
            [IdMapRange {
                inside: 0,
                outside: 0,
                count: 4294967295
            }]
        );
    }

    #[test]
    fn reads_only_requested_facts() {
        let proc = FakeProcFs::default()
            .with("/proc/self/status", STATUS)
            .with("/proc/self/uid_map", "0 0 1\n")
            .with("/proc/self/gid_map", "0 0 1\n");
        let set = FactSet::parse("capabilities").unwrap();
        let facts = read(set, &proc);
        assert!(facts.capabilities.is_some());
        assert!(facts.security.is_none() && facts.devices.is_none());
        assert!(facts.id_maps.is_some());
    }

    #[rstest]
    #[case("", FactSet::default())]
    #[case("capabilities,devices", FactSet { capabilities: true, devices: true, ..FactSet::default() })]
    #[case("id_maps, security", FactSet { id_maps: true, security: true, ..FactSet::default() })]
    fn parses_fact_lists(#[case] list: &str, #[case] want: FactSet) {
        assert_eq!(FactSet::parse(list), Ok(want));
    }

    #[test]
    fn rejects_unknown_facts() {
        assert!(FactSet::parse("capabilities,caps").is_err());
    }
}
