//! A sample results document: every verdict, tags, a skipped candidate and
//! hostile scenario output. Tests of every report format and the browser
//! test render it, so none of them needs Docker. Test support only; the
//! `sample_report` example writes its reports to look at the templates.

use std::collections::BTreeMap;

use crate::event::ScenarioResult;
use crate::judge::compare::{Verdict, diff_fields};
use crate::load::scenario::{Divergence, Field};
use crate::report::results::{HostFacts, ResultsDocument};
use crate::run::engine::EngineInfo;
use crate::run::observe::{Captured, EngineOutcome, ExitStatus, Observation, Subject, Texts};
use crate::run::plan::HostLimits;

/// Output no report may pass through unescaped.
pub const HOSTILE: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>\u{fffd}\x1b[31mred\x1b[0m\0nul\x07bell";

/// A run under `runtime`: exit code `exit`, or refused by the engine when `None`.
pub fn run(runtime: &str, exit: Option<i64>, stdout: &str, stderr: &str) -> Observation {
    match exit {
        None => {
            let message = format!("OCI runtime create failed: {stderr}");
            let answer = crate::run::engine::Answer::new(500, &message);
            let decision = crate::run::engine::settle(
                crate::run::engine::Phase::Start,
                &answer,
                &crate::run::engine::Second::Answered(answer.clone()),
            );
            Observation {
                engine: EngineOutcome::Refused {
                    message,
                    decision: Some(decision),
                },
                ..Observation::refused(runtime, String::new(), 40)
            }
        }
        Some(code) => Observation {
            runtime: runtime.into(),
            engine: EngineOutcome::Started,
            exit_code: Some(ExitStatus::Code(code)),
            stdout: Captured::from_bytes(stdout.as_bytes()),
            stderr: Captured::from_bytes(stderr.as_bytes()),
            probe: BTreeMap::new(),
            duration_ms: 120,
            steps: Vec::new(),
            ready: None,
        },
    }
}

/// A bare result.
pub fn result(id: &str, candidate: &str, verdict: Verdict) -> ScenarioResult {
    ScenarioResult {
        id: id.into(),
        path: format!("scenarios/{id}.yaml"),
        description: format!("{id} does its thing"),
        tags: Vec::new(),
        baseline: "runc".into(),
        candidate: candidate.into(),
        verdict,
        reason: None,
        skip: None,
        diffs: Vec::new(),
        expected: Vec::new(),
        not_applicable: Vec::new(),
        baseline_runs: Vec::new(),
        candidate_runs: Vec::new(),
        config: None,
        likely_causes: Vec::new(),
        trouble: None,
    }
}

/// A result with both sides' runs and their field diffs.
pub fn compared(
    id: &str,
    candidate: &str,
    verdict: Verdict,
    base: Observation,
    cand: Observation,
) -> ScenarioResult {
    let texts = |o: &Observation| -> Texts {
        Field::ALL
            .iter()
            .filter(|f| {
                matches!(
                    f,
                    Field::Engine | Field::ExitCode | Field::Stdout | Field::Stderr
                ) || o.probe.contains_key(f)
            })
            .filter_map(|f| o.text(*f).map(|t| (Subject::from(*f), t)))
            .collect()
    };
    let mut r = result(id, candidate, verdict);
    r.diffs = diff_fields(&texts(&base), &texts(&cand), "runc", candidate);
    r.baseline_runs = vec![base];
    r.candidate_runs = vec![cand];
    r
}

/// A document with fixed run facts.
pub fn doc_with(candidates: &[&str], results: Vec<ScenarioResult>) -> ResultsDocument {
    let candidates: Vec<String> = candidates.iter().map(|c| c.to_string()).collect();
    let engine = |endpoint: &str, remap: bool| EngineInfo {
        endpoint: endpoint.into(),
        server_version: "27.5.1".into(),
        api_version: "1.47".into(),
        kernel: "6.1.0-31-amd64".into(),
        os: "Debian GNU/Linux 12 (bookworm)".into(),
        runtimes: vec!["io.containerd.runc.v2".into(), "runc".into()],
        default_runtime: "runc".into(),
        runtime_versions: BTreeMap::from([("runc".to_string(), "1.2.5".to_string())]),
        userns_remap: remap,
        cgroup_version: "2".into(),
        security_options: if remap {
            vec!["apparmor".into(), "seccomp".into(), "userns".into()]
        } else {
            vec!["apparmor".into(), "seccomp".into()]
        },
    };
    let mut doc = ResultsDocument::new(
        "20260301-120000-ab12",
        "2026-03-01T12:00:00Z".into(),
        "runc",
        &candidates,
        vec![
            engine("unix:///var/run/docker.sock", false),
            engine("unix:///run/parity/userns-remap.sock", true),
        ],
        HostFacts {
            hostname: "ci-runner-7".into(),
            kernel: "6.1.0-31-amd64".into(),
            git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            limits: HostLimits::default(),
            devices: vec![crate::report::results::DeviceNode {
                path: "/dev/fuse".into(),
                mode: "0600".into(),
                owner: "0:0".into(),
            }],
        },
        results,
    );
    doc.parity_version = "0.1.0".into();
    doc
}

/// The sample: sysbox-runc skipped (not installed), userns-remap with
/// every other verdict, and one scenario whose every text is hostile.
pub fn sample() -> ResultsDocument {
    let u = "userns-remap";
    let mut results = Vec::new();

    let mut r = compared(
        "mounts/tmpfs_with_sys_admin",
        u,
        Verdict::Divergence,
        run("runc", Some(0), "mounted\n/mnt/t tmpfs rw,relatime\n", ""),
        run(
            u,
            Some(32),
            "",
            "mount: permission denied (are you root?)\n",
        ),
    );
    r.tags = vec!["mounts".into(), "caps".into()];
    r.description = "Mount a tmpfs with CAP_SYS_ADMIN".into();
    r.reason = Some("undeclared difference in exit_code, stdout, stderr".into());
    r.config = Some(
        serde_json::json!({"Image": "parity-probe", "HostConfig": {"CapAdd": ["SYS_ADMIN"], "NetworkMode": "none", "Runtime": "runc"}}),
    );
    results.push(r);

    // An undeclared mknod, explained by the shipped userns-remap profile.
    let mut base = run("runc", Some(0), "", "");
    base.probe.insert(
        Field::Syscalls,
        "execve /bin/mknod = ok\nmknodat /tmp/n c 1:3 = ok\n".into(),
    );
    let mut cand = run(u, Some(1), "", "mknod: /tmp/n: Operation not permitted\n");
    cand.probe.insert(
        Field::Syscalls,
        "execve /bin/mknod = ok\nmknodat /tmp/n c 1:3 = EPERM\nwrite = ok\n".into(),
    );
    let mut r = compared(
        "devices/mknod_undeclared",
        u,
        Verdict::Divergence,
        base,
        cand,
    );
    r.tags = vec!["devices".into()];
    r.reason = Some("undeclared difference in exit_code, stderr, syscalls".into());
    let profiles = crate::load::runtime::Profiles::built_in().expect("built-in profiles load");
    r.likely_causes = crate::judge::explain::explain(
        &profiles.get(u).expect("userns-remap is built in").explain,
        "runc",
        u,
        &r.diffs,
    );
    results.push(r);

    let mut r = compared(
        "devices/mknod_null",
        u,
        Verdict::Expected,
        run(
            "runc",
            Some(0),
            "crw-rw-rw- 1 root root 1, 3 /tmp/null\n",
            "",
        ),
        run(
            u,
            Some(1),
            "",
            "mknod: /tmp/null: Operation not permitted\n",
        ),
    );
    r.tags = vec!["devices".into()];
    r.description = "mknod a character device".into();
    for d in &mut r.diffs {
        d.declared = true;
    }
    r.expected = vec![Divergence {
        host: None,
        runtime: u.into(),
        steps: Vec::new(),
        fields: vec![Field::ExitCode, Field::Stdout, Field::Stderr],
        reason: "device nodes cannot be created in a user namespace".into(),
        link: Some("https://docs.docker.com/engine/security/userns-remap/".into()),
        known: Some(crate::load::scenario::Known::Measured),
        source: Some("Docker 20.10 --userns-remap, kernel 6.18".into()),
        covers: vec!["S9".into()],
    }];
    r.reason = Some("device nodes cannot be created in a user namespace".into());
    results.push(r);

    // An expectation limited to cgroup v2 hosts that applied, and one
    // limited to cgroup v1 that did not.
    let mut r = compared(
        "sysfs/cgroup_mkdir",
        u,
        Verdict::Expected,
        run(
            "runc",
            Some(1),
            "",
            "mkdir: can't create directory '/sys/fs/cgroup/parity-child': Read-only file system\n",
        ),
        run(u, Some(0), "", "created\n"),
    );
    r.tags = vec!["sysfs".into()];
    for d in &mut r.diffs {
        d.declared = true;
    }
    let cgroup = |v: u8| {
        Some(crate::load::host::HostCondition {
            cgroup: Some(v),
            ..Default::default()
        })
    };
    let declared = |host, fields, reason: &str| Divergence {
        host,
        runtime: u.into(),
        steps: Vec::new(),
        fields,
        reason: reason.into(),
        link: None,
        known: Some(crate::load::scenario::Known::Measured),
        source: Some("Docker 26.1.5 --userns-remap, cgroup v2".into()),
        covers: Vec::new(),
    };
    r.expected = vec![declared(
        cgroup(2),
        vec![Field::ExitCode, Field::Stderr],
        "the remapped engine gives the container a writable cgroup2 tree",
    )];
    r.not_applicable = vec![crate::judge::host::NotApplicable {
        divergence: declared(
            cgroup(1),
            vec![Field::Stdout],
            "cgroup v1 differs otherwise",
        ),
        why: "cgroup v2 (runc, userns-remap)".into(),
    }];
    r.reason = Some("the remapped engine gives the container a writable cgroup2 tree".into());
    results.push(r);

    let mut r = compared(
        "basics/hello",
        u,
        Verdict::Parity,
        run("runc", Some(0), "hello\n", ""),
        run(u, Some(0), "hello\n", ""),
    );
    r.tags = vec!["basics".into()];
    results.push(r);

    let mut r = compared(
        "net/raw_socket",
        u,
        Verdict::Stale,
        run("runc", Some(0), "ok\n", ""),
        run(u, Some(0), "ok\n", ""),
    );
    r.tags = vec!["net".into(), "caps".into()];
    r.reason = Some(
        "declared divergence in exit_code did not happen (raw sockets need CAP_NET_RAW)".into(),
    );
    results.push(r);

    let mut r = compared(
        "proc/uptime",
        u,
        Verdict::Flaky,
        run(u, Some(0), "up 12.01\n", ""),
        run(u, Some(0), "up 12.02\n", ""),
    );
    r.tags = vec!["proc".into()];
    r.reason = Some("userns-remap runs disagreed".into());
    results.push(r);

    let mut r = result("images/missing", u, Verdict::Error);
    r.tags = vec!["basics".into()];
    r.reason = Some("image example.invalid/nope: pull access denied".into());
    results.push(r);

    let mut r = compared(
        "security/only_in_candidate",
        u,
        Verdict::Divergence,
        run("runc", None, "", "operation not permitted"),
        run(u, Some(0), "ok\n", ""),
    );
    r.tags = vec!["security".into()];
    r.reason = Some("undeclared difference in engine".into());
    results.push(r);

    let mut r = compared(
        "hostile/output",
        u,
        Verdict::Divergence,
        run("runc", Some(0), &format!("{HOSTILE}\nsame line\n"), HOSTILE),
        run(u, Some(1), &format!("other {HOSTILE}\nsame line\n"), ""),
    );
    r.tags = vec![HOSTILE.into(), "hostile".into()];
    r.description = HOSTILE.into();
    r.reason = Some(HOSTILE.into());
    r.expected = vec![Divergence {
        host: None,
        runtime: u.into(),
        steps: Vec::new(),
        fields: vec![Field::Syscalls],
        reason: HOSTILE.into(),
        link: Some(format!("javascript:alert(1)//{HOSTILE}")),
        known: Some(crate::load::scenario::Known::Inferred),
        source: Some(HOSTILE.into()),
        covers: vec![HOSTILE.into()],
    }];
    r.config = Some(serde_json::json!({ "Env": [HOSTILE], "Labels": { HOSTILE: HOSTILE } }));
    r.likely_causes = vec![crate::judge::explain::LikelyCause {
        text: HOSTILE.into(),
        evidence: HOSTILE.into(),
        cause: HOSTILE.into(),
        field: Field::Stdout,
        step: None,
        declared: false,
        catalog: Some(HOSTILE.into()),
        link: Some(format!("javascript:alert(1)//{HOSTILE}")),
    }];
    results.push(r);

    let ids: Vec<String> = results.iter().map(|r| r.id.clone()).collect();
    for (id, tags) in ids
        .iter()
        .zip(results.iter().map(|r| r.tags.clone()).collect::<Vec<_>>())
    {
        let mut s = result(id, "sysbox-runc", Verdict::Skipped);
        s.tags = tags;
        s.skip = Some(crate::event::SkipCause::Unavailable);
        s.reason = Some("sysbox-runc is not installed (https://github.com/nestybox/sysbox/blob/master/docs/user-guide/install-package.md)".into());
        results.push(s);
    }
    doc_with(&["sysbox-runc", u], results)
}
