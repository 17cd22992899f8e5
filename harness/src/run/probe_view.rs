//! The probe's report as comparable field text.
//!
//! Owns turning the probe's JSON document (downloaded from the container)
//! into the canonical text of `syscalls`, `mounts`, `mount_table` and the
//! environment facts: the sorted set of syscall outcomes without run-to-run
//! noise (timing, and the successes of the allocation family, whose count
//! follows the size of the data) or the libc's start-up (what the probe matched as each process's
//! start-up after its exec: the same on every runtime of one host, so it is
//! neither compared nor kept in snapshots), the mount changes with engine paths normalized and host ids mapped
//! back through the container's id maps, and the runtime profile's mount
//! rules applied. Pure: no engine, no I/O.

use std::collections::{BTreeMap, BTreeSet};

use parity_wire::{
    Facts, IdMapRange, MountEntry, MountsObservation, ProbeReport, SyscallRecord,
    SyscallsObservation,
};
use regex::Regex;

use crate::load::runtime::{MountRule, RuntimeProfile};
use crate::load::scenario::Field;
use crate::run::engine::RawRun;
use crate::run::plan::ProbePlan;

/// Syscalls whose outcome depends on timing, never on the runtime.
const TIMING_SYSCALLS: [&str; 7] = [
    "restart_syscall",
    "rt_sigreturn",
    "futex",
    "nanosleep",
    "clock_nanosleep",
    "sched_yield",
    "rt_sigsuspend",
];
/// The memory-management family: calls that move the program break and
/// map, unmap, resize, protect and advise pages. How many a program makes
/// follows how much it allocates, which follows the size of what it reads
/// and prints (a longer line under one runtime is a larger buffer), not the
/// runtime: their successes are bookkeeping and are not compared. Their
/// failures (ENOMEM, EPERM, EACCES, ...) are a runtime's limit or policy
/// and are. `mmap2` is the 32-bit ABIs' mmap.
pub const ALLOCATION_SYSCALLS: [&str; 8] = [
    "brk",
    "mmap",
    "mmap2",
    "munmap",
    "mremap",
    "mprotect",
    "pkey_mprotect",
    "madvise",
];

/// Files every engine bind-mounts into a container from its data root.
const ENGINE_FILES: [&str; 3] = ["/etc/hosts", "/etc/hostname", "/etc/resolv.conf"];
/// Outcomes that mean "interrupted", which timing decides.
const TIMING_OUTCOMES: [&str; 5] = [
    "EINTR",
    "ERESTARTSYS",
    "ERESTARTNOINTR",
    "ERESTARTNOHAND",
    "ERESTART_RESTARTBLOCK",
];

/// The probe fields of one run, by field, for the fields `plan` asked for.
pub fn fields(
    raw: &RawRun,
    plan: Option<&ProbePlan>,
    profile: &RuntimeProfile,
) -> BTreeMap<Field, String> {
    let Some(plan) = plan else {
        return BTreeMap::new();
    };
    let mut wanted: BTreeSet<Field> = plan.facts.clone();
    if plan.mounts {
        wanted.insert(Field::Mounts);
    }
    if plan.syscalls {
        wanted.insert(Field::Syscalls);
    }
    let report = match read_report(raw) {
        Ok(r) => r,
        Err(why) => {
            return wanted
                .into_iter()
                .map(|f| (f, format!("unavailable ({why})")))
                .collect();
        }
    };
    let rules = compile(&profile.normalize.mounts);
    wanted
        .into_iter()
        .map(|f| {
            let text = match f {
                Field::Syscalls => syscalls_text(&report.syscalls),
                Field::Mounts => mounts_text(&report.mounts, &report.facts, &rules),
                Field::MountTable => mount_table_text(&report.mounts, &report.facts, &rules),
                _ => facts_text(&report.facts, f),
            };
            (f, text)
        })
        .collect()
}

/// `report.json` (the tracer's) if present, else the wrapper's
/// `before.json`.
fn read_report(raw: &RawRun) -> Result<ProbeReport, String> {
    let file = raw
        .probe_files
        .get("report.json")
        .or_else(|| raw.probe_files.get("before.json"))
        .ok_or_else(|| {
            let mut names: Vec<&str> = raw.probe_files.keys().map(String::as_str).collect();
            names.sort();
            if names.is_empty() {
                "the probe left no report".to_string()
            } else {
                format!("the probe left no report, only {}", names.join(", "))
            }
        })?;
    let report: ProbeReport =
        serde_json::from_slice(file).map_err(|e| format!("probe report unreadable: {e}"))?;
    if report.schema_version != parity_wire::SCHEMA_VERSION {
        return Err(format!(
            "probe report schema {} where {} is expected",
            report.schema_version,
            parity_wire::SCHEMA_VERSION
        ));
    }
    Ok(report)
}

/// One line per distinct `syscall [arg] = outcome`, sorted.
pub fn syscalls_text(obs: &SyscallsObservation) -> String {
    match obs {
        SyscallsObservation::Unavailable { reason } => format!("unavailable ({reason})"),
        SyscallsObservation::NotRequested => "not traced".into(),
        SyscallsObservation::Ok { calls, prelude } => {
            // The libc's start-up is the same for every program of one libc
            // build: the probe kept apart the records seen only there (an
            // exactly matched known sequence; any deviation stays in).
            let lines: BTreeSet<String> = calls
                .iter()
                .filter(|c| !is_timing_noise(c) && !is_bookkeeping(c) && !prelude.contains(c))
                .map(syscall_line)
                .collect();
            lines.into_iter().map(|l| l + "\n").collect()
        }
    }
}

fn is_timing_noise(c: &SyscallRecord) -> bool {
    TIMING_SYSCALLS.contains(&c.syscall.as_str()) || TIMING_OUTCOMES.contains(&c.outcome.as_str())
}

/// A successful call of the allocation family.
fn is_bookkeeping(c: &SyscallRecord) -> bool {
    c.outcome == "ok" && ALLOCATION_SYSCALLS.contains(&c.syscall.as_str())
}

fn syscall_line(c: &SyscallRecord) -> String {
    match &c.arg {
        Some(arg) => format!("{} {} = {}", c.syscall, arg, c.outcome),
        None => format!("{} = {}", c.syscall, c.outcome),
    }
}

type CompiledRule = (Option<Regex>, Option<Regex>, Option<Regex>);

fn compile(rules: &[MountRule]) -> Vec<CompiledRule> {
    let re = |s: &Option<String>| s.as_deref().and_then(|p| Regex::new(p).ok());
    rules
        .iter()
        .map(|r| {
            (
                re(&r.drop.fstype),
                re(&r.drop.mountpoint),
                re(&r.drop.source),
            )
        })
        .collect()
}

fn dropped(e: &MountEntry, rules: &[CompiledRule]) -> bool {
    rules.iter().any(|(fstype, point, source)| {
        let m = |re: &Option<Regex>, s: &str| re.as_ref().is_none_or(|r| r.is_match(s));
        (fstype.is_some() || point.is_some() || source.is_some())
            && m(fstype, &e.fstype)
            && m(point, &e.mount_point)
            && m(source, &e.source)
    })
}

/// `mount_point fstype source mount-options super-options`, each option
/// list sorted, host ids mapped back, path-valued options (overlay layers
/// under the engine's data root) replaced by `<path>`.
pub fn mount_line(e: &MountEntry, facts: &Facts) -> String {
    let maps = facts.id_maps.as_ref();
    let render = |options: &[String]| -> String {
        let mut opts: BTreeSet<String> = BTreeSet::new();
        for o in options {
            let o = match o.split_once('=') {
                Some((k @ ("uid" | "gid"), v)) => {
                    let map = maps.map(|m| if k == "uid" { &m.uid_map } else { &m.gid_map });
                    match (v.parse::<u64>(), map) {
                        // The kernel omits uid=0/gid=0 (its default) for host
                        // root; a remapped root's ids map back to 0, so they
                        // are omitted alike.
                        (Ok(host), Some(map)) if map_back(host, map) == 0 => continue,
                        (Ok(host), Some(map)) => format!("{k}={}", map_back(host, map)),
                        _ => o.clone(),
                    }
                }
                Some((k, v)) if v.starts_with('/') => format!("{k}=<path>"),
                _ => o.clone(),
            };
            opts.insert(o);
        }
        if opts.is_empty() {
            "-".into()
        } else {
            opts.into_iter().collect::<Vec<_>>().join(",")
        }
    };
    if ENGINE_FILES.contains(&e.mount_point.as_str()) {
        // Files the engine bind-mounts from its data root: where that lives
        // (device, filesystem, its options) is the host's, not the runtime's.
        return format!(
            "{} <engine-file> {}",
            e.mount_point,
            render(&e.mount_options)
        );
    }
    format!(
        "{} {} {} {} {}",
        e.mount_point,
        e.fstype,
        e.source,
        render(&e.mount_options),
        render(&e.super_options)
    )
}

/// A host id seen through the container's map: the inside id, or the host
/// id itself when unmapped (no user namespace).
fn map_back(host: u64, map: &[IdMapRange]) -> u64 {
    map.iter()
        .find(|r| host >= r.outside && host < r.outside.saturating_add(r.count))
        .map(|r| host - r.outside + r.inside)
        .unwrap_or(host)
}

/// What the workload did to the mount table.
pub fn mounts_text(obs: &MountsObservation, facts: &Facts, rules: &[CompiledRule]) -> String {
    let (before, after) = match obs {
        MountsObservation::Ok { before, after } => (before, after),
        MountsObservation::Unavailable { reason, .. } => return format!("unavailable ({reason})"),
        MountsObservation::NotRequested => return "not observed".into(),
    };
    let index = |entries: &[MountEntry]| -> BTreeMap<(String, usize), String> {
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        entries
            .iter()
            .filter(|e| !dropped(e, rules))
            .map(|e| {
                let n = seen.entry(e.mount_point.clone()).or_default();
                *n += 1;
                ((e.mount_point.clone(), *n), mount_line(e, facts))
            })
            .collect()
    };
    let (b, a) = (index(before), index(after));
    let mut lines = Vec::new();
    let keys: BTreeSet<&(String, usize)> = b.keys().chain(a.keys()).collect();
    for k in keys {
        match (b.get(k), a.get(k)) {
            (None, Some(new)) => lines.push(format!("added {new}")),
            (Some(old), None) => lines.push(format!("removed {old}")),
            (Some(old), Some(new)) if old != new => lines.push(format!("changed {old} -> {new}")),
            _ => {}
        }
    }
    if lines.is_empty() {
        "no change\n".into()
    } else {
        lines.into_iter().map(|l| l + "\n").collect()
    }
}

/// The mount table the workload started with, the profile's rules applied.
pub fn mount_table_text(obs: &MountsObservation, facts: &Facts, rules: &[CompiledRule]) -> String {
    if let MountsObservation::NotRequested = obs {
        return "not observed".into();
    }
    let lines: Vec<String> = obs
        .before()
        .iter()
        .filter(|e| !dropped(e, rules))
        .map(|e| mount_line(e, facts) + "\n")
        .collect();
    if lines.is_empty() {
        return "unavailable (no mount table was read)".into();
    }
    lines.concat()
}

/// The opt-in environment facts as `key: value` lines.
pub fn facts_text(facts: &Facts, field: Field) -> String {
    let missing = || format!("unavailable ({} not read by the probe)", field.name());
    match field {
        Field::Capabilities => facts.capabilities.as_ref().map_or_else(missing, |c| {
            [
                ("effective", &c.effective),
                ("permitted", &c.permitted),
                ("inheritable", &c.inheritable),
                ("bounding", &c.bounding),
                ("ambient", &c.ambient),
            ]
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", v.join(" ")))
            .collect()
        }),
        Field::IdMaps => facts.id_maps.as_ref().map_or_else(missing, |m| {
            let fmt = |r: &[IdMapRange]| {
                r.iter()
                    .map(|r| format!("{} {} {}", r.inside, r.outside, r.count))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            format!(
                "uid_map: {}\ngid_map: {}\n",
                fmt(&m.uid_map),
                fmt(&m.gid_map)
            )
        }),
        Field::Security => facts.security.as_ref().map_or_else(missing, |s| {
            format!(
                "seccomp: {}\nno_new_privs: {}\nlsm: {}\n",
                s.seccomp,
                s.no_new_privs,
                s.lsm_label.as_deref().unwrap_or("(none)")
            )
        }),
        Field::Devices => facts.devices.as_ref().map_or_else(missing, |d| {
            d.iter()
                .map(|e| {
                    let dev = match (e.major, e.minor) {
                        (Some(a), Some(b)) => format!(" {a}:{b}"),
                        _ => String::new(),
                    };
                    let target = e
                        .target
                        .as_deref()
                        .map(|t| format!(" -> {t}"))
                        .unwrap_or_default();
                    format!(
                        "{} {}{dev} {}:{} {}{target}\n",
                        e.path, e.kind, e.uid, e.gid, e.mode
                    )
                })
                .collect()
        }),
        _ => missing(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_wire::IdMaps;

    fn entry(point: &str, fstype: &str, opts: &[&str], sup: &[&str]) -> MountEntry {
        MountEntry {
            mount_id: 1,
            parent_id: 0,
            major_minor: "0:1".into(),
            root: "/".into(),
            mount_point: point.into(),
            mount_options: opts.iter().map(|s| s.to_string()).collect(),
            optional: vec![],
            fstype: fstype.into(),
            source: "none".into(),
            super_options: sup.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn remapped() -> Facts {
        let r = IdMapRange {
            inside: 0,
            outside: 100000,
            count: 65536,
        };
        Facts {
            id_maps: Some(IdMaps {
                uid_map: vec![r],
                gid_map: vec![r],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn host_ids_map_back_so_the_shift_is_no_difference() {
        let e = entry(
            "/dev",
            "tmpfs",
            &["rw"],
            &["uid=100000", "gid=100005", "mode=755"],
        );
        assert_eq!(
            mount_line(&e, &remapped()),
            "/dev tmpfs none rw gid=5,mode=755"
        );
        let shifted = entry("/mnt", "tmpfs", &["rw"], &["uid=101000"]);
        assert_eq!(
            mount_line(&shifted, &remapped()),
            "/mnt tmpfs none rw uid=1000"
        );
        assert_eq!(
            mount_line(
                &entry("/dev", "tmpfs", &["rw"], &["uid=0"]),
                &Facts::default()
            ),
            "/dev tmpfs none rw uid=0"
        );
    }

    #[test]
    fn engine_files_do_not_carry_the_host_filesystem() {
        let mut e = entry("/etc/hosts", "ext4", &["rw", "relatime"], &["discard"]);
        e.source = "/dev/vda".into();
        assert_eq!(
            mount_line(&e, &Facts::default()),
            "/etc/hosts <engine-file> relatime,rw"
        );
    }

    #[test]
    fn engine_paths_are_normalized() {
        let e = entry(
            "/",
            "overlay",
            &["rw"],
            &["lowerdir=/var/lib/docker/overlay2/l/AB:/x", "xino=off"],
        );
        assert_eq!(
            mount_line(&e, &Facts::default()),
            "/ overlay none rw lowerdir=<path>,xino=off"
        );
    }

    #[test]
    fn mount_changes_list_added_removed_and_changed() {
        let before = vec![
            entry("/", "overlay", &["rw"], &[]),
            entry("/sys", "sysfs", &["ro"], &[]),
        ];
        let after = vec![
            entry("/", "overlay", &["rw"], &[]),
            entry("/sys", "sysfs", &["rw"], &[]),
            entry("/mnt/t", "tmpfs", &["rw"], &[]),
        ];
        let text = mounts_text(
            &MountsObservation::Ok {
                before: before.clone(),
                after,
            },
            &Facts::default(),
            &[],
        );
        assert_eq!(
            text,
            "added /mnt/t tmpfs none rw -\nchanged /sys sysfs none ro - -> /sys sysfs none rw -\n"
        );
        let same = mounts_text(
            &MountsObservation::Ok {
                before: before.clone(),
                after: before,
            },
            &Facts::default(),
            &[],
        );
        assert_eq!(same, "no change\n");
    }

    #[test]
    fn profile_rules_drop_known_benign_entries() {
        let rules = compile(&[MountRule {
            drop: crate::load::runtime::MountMatch {
                fstype: Some("^fuse".into()),
                mountpoint: Some("^/proc/uptime$".into()),
                source: None,
            },
        }]);
        let obs = MountsObservation::Ok {
            before: vec![
                entry("/proc/uptime", "fuse", &[], &[]),
                entry("/proc", "proc", &[], &[]),
            ],
            after: vec![],
        };
        assert_eq!(
            mount_table_text(&obs, &Facts::default(), &rules),
            "/proc proc none - -\n"
        );
    }

    #[test]
    fn allocation_successes_are_bookkeeping_and_failures_are_behaviour() {
        let rec = |s: &str, o: &str| SyscallRecord {
            syscall: s.into(),
            outcome: o.into(),
            arg: None,
        };
        let long = SyscallsObservation::Ok {
            calls: vec![
                rec("write", "ok"),
                rec("brk", "ok"),
                rec("mmap", "ok"),
                rec("munmap", "ok"),
                rec("mremap", "ok"),
                rec("mprotect", "ok"),
                rec("madvise", "ok"),
                rec("mmap2", "ok"),
            ],
            prelude: vec![],
        };
        let short = SyscallsObservation::Ok {
            calls: vec![rec("write", "ok")],
            prelude: vec![],
        };
        assert_eq!(syscalls_text(&long), syscalls_text(&short));
        let refused = SyscallsObservation::Ok {
            calls: vec![
                rec("write", "ok"),
                rec("mmap", "ENOMEM"),
                rec("mprotect", "EACCES"),
                rec("brk", "ok"),
            ],
            prelude: vec![],
        };
        assert_eq!(
            syscalls_text(&refused),
            "mmap = ENOMEM\nmprotect = EACCES\nwrite = ok\n"
        );
    }

    #[test]
    fn syscalls_are_a_sorted_set_without_timing_noise() {
        let rec = |s: &str, o: &str, a: Option<&str>| SyscallRecord {
            syscall: s.into(),
            outcome: o.into(),
            arg: a.map(Into::into),
        };
        let obs = SyscallsObservation::Ok {
            calls: vec![
                rec("write", "ok", None),
                rec("mknodat", "EPERM", Some("/tmp/n c 1:3")),
                rec("futex", "EAGAIN", None),
                rec("wait4", "EINTR", None),
                rec("set_tid_address", "ok", None),
            ],
            prelude: vec![rec("set_tid_address", "ok", None)],
        };
        assert_eq!(
            syscalls_text(&obs),
            "mknodat /tmp/n c 1:3 = EPERM\nwrite = ok\n"
        );
        let un = SyscallsObservation::Unavailable {
            reason: "ptrace: EPERM".into(),
        };
        assert_eq!(syscalls_text(&un), "unavailable (ptrace: EPERM)");
    }
}
