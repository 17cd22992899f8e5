//! Round trips and the exact JSON spelling of the wire types.

use super::*;

fn sample() -> ProbeReport {
    let entry = MountEntry {
        mount_id: 30,
        parent_id: 29,
        major_minor: "0:45".into(),
        root: "/".into(),
        mount_point: "/mnt/with space".into(),
        mount_options: vec!["rw".into(), "nosuid".into()],
        optional: vec!["master:1".into()],
        fstype: "tmpfs".into(),
        source: "none".into(),
        super_options: vec!["rw".into(), "size=65536k".into()],
    };
    let mut report = ProbeReport::new("0.1.0", vec!["sh".into(), "-c".into(), "true".into()]);
    report.workload.exit = Some(ExitInfo::Exited { code: 42 });
    report.syscalls = SyscallsObservation::Ok {
        calls: vec![SyscallRecord {
            syscall: "mknodat".into(),
            outcome: "EPERM".into(),
            arg: Some("/tmp/n c 1:3".into()),
        }],
        prelude: vec![],
    };
    report.mounts = MountsObservation::Ok {
        before: vec![entry.clone()],
        after: vec![],
    };
    report.facts = Facts {
        capabilities: Some(Capabilities {
            effective: vec!["CAP_CHOWN".into()],
            ..Capabilities::default()
        }),
        id_maps: Some(IdMaps {
            uid_map: vec![IdMapRange {
                inside: 0,
                outside: 100000,
                count: 65536,
            }],
            gid_map: vec![],
        }),
        security: Some(Security {
            seccomp: "filter".into(),
            no_new_privs: false,
            lsm_label: None,
        }),
        devices: Some(vec![DeviceEntry {
            path: "/dev/null".into(),
            kind: "char".into(),
            major: Some(1),
            minor: Some(3),
            uid: 0,
            gid: 0,
            mode: "0666".into(),
            target: None,
        }]),
    };
    report
}

#[test]
fn report_round_trips() {
    let report = sample();
    let text = serde_json::to_string_pretty(&report).unwrap();
    let back: ProbeReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
}

#[test]
fn enums_are_tagged_in_snake_case() {
    let report = sample();
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(value["schema_version"], 1);
    assert_eq!(value["syscalls"]["status"], "ok");
    assert_eq!(value["mounts"]["status"], "ok");
    assert_eq!(value["workload"]["exit"]["kind"], "exited");
    assert_eq!(value["workload"]["exit"]["code"], 42);
    assert!(value["workload"].get("exec_error").is_none());
    let unavailable = serde_json::to_value(SyscallsObservation::Unavailable {
        reason: "ptrace: EPERM".into(),
    })
    .unwrap();
    assert_eq!(
        unavailable,
        serde_json::json!({"status": "unavailable", "reason": "ptrace: EPERM"})
    );
    assert_eq!(
        serde_json::to_value(MountsObservation::NotRequested).unwrap(),
        serde_json::json!({"status": "not_requested"})
    );
    assert_eq!(
        serde_json::to_value(ExitInfo::Signaled {
            signal: "SIGKILL".into()
        })
        .unwrap(),
        serde_json::json!({"kind": "signaled", "signal": "SIGKILL"})
    );
}

#[test]
fn unavailable_mounts_keep_the_before_table() {
    let before = sample().mounts.before().to_vec();
    let obs = MountsObservation::Unavailable {
        reason: "no tracer".into(),
        before: before.clone(),
    };
    let back: MountsObservation =
        serde_json::from_str(&serde_json::to_string(&obs).unwrap()).unwrap();
    assert_eq!(back.before(), &before[..]);
    let bare: MountsObservation =
        serde_json::from_str(r#"{"status":"unavailable","reason":"x"}"#).unwrap();
    assert!(bare.before().is_empty());
}

#[test]
fn records_sort_by_syscall_then_outcome_then_arg() {
    let rec = |s: &str, o: &str, a: Option<&str>| SyscallRecord {
        syscall: s.into(),
        outcome: o.into(),
        arg: a.map(Into::into),
    };
    let mut v = vec![
        rec("openat", "ok", Some("/b")),
        rec("mount", "EPERM", None),
        rec("openat", "ENOENT", Some("/a")),
        rec("openat", "ok", None),
    ];
    v.sort();
    assert_eq!(
        v,
        vec![
            rec("mount", "EPERM", None),
            rec("openat", "ENOENT", Some("/a")),
            rec("openat", "ok", None),
            rec("openat", "ok", Some("/b")),
        ]
    );
}

#[test]
fn the_prelude_is_optional_both_ways() {
    // A document without `prelude` (an older probe) reads as an empty one;
    // an empty one is not written, so older readers see what they did.
    let old: SyscallsObservation = serde_json::from_str(r#"{"status":"ok","calls":[]}"#).unwrap();
    assert_eq!(
        old,
        SyscallsObservation::Ok {
            calls: vec![],
            prelude: vec![]
        }
    );
    assert_eq!(
        serde_json::to_string(&old).unwrap(),
        r#"{"status":"ok","calls":[]}"#
    );
}
