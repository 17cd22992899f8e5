//! The probe in real containers, through the `docker` CLI, on the
//! production engine and on the userns-remap engine. Each check creates a
//! labelled container (`io.parity.run=probe-dev`) with an anonymous volume
//! at `/.parity`, uploads the probe with `docker cp`, starts it with the
//! probe as entrypoint, starts the tracer with `docker exec`, and reads the
//! report back with `docker cp`. An engine that is not reachable is
//! skipped with a message.

#[path = "../common/mod.rs"]
mod common;
mod docker;

use docker::*;
use parity_wire::{ExitInfo, MountsObservation, SyscallsObservation};
use std::time::{Duration, Instant};

#[test]
fn workload_is_pid_1_and_wait_works() {
    for e in engines() {
        let r = run(
            e,
            &traced(&[
                "sh",
                "-c",
                "echo $$; wait; echo none; sh -c 'sleep 0.2 & wait; echo ok'",
            ]),
        );
        assert_eq!(r.stdout(), "1\nnone\nok\n", "[{e:?}] stderr: {}", r.stderr);
        assert_eq!(r.exit_code, 0);
        let report = r.report();
        assert_eq!(report.workload.exit, Some(ExitInfo::Exited { code: 0 }));
        assert_eq!(report.workload.argv[0], "sh");
        assert!(
            has_call(&r, &["execve"], "ok", "/bin/sh"),
            "[{e:?}] {:?}",
            r.calls()
        );
        // `wait` with no children returns at once (ECHILD), as untraced.
        assert!(
            r.calls()
                .iter()
                .any(|c| c.syscall == "wait4" && c.outcome == "ECHILD"),
            "[{e:?}]"
        );
        // The wrapper's own calls (the wait for the tracer, reading /proc)
        // happen before the exec and are not recorded.
        assert!(
            !r.calls()
                .iter()
                .any(|c| c.arg.as_deref() == Some("/.parity/out/attached")),
            "[{e:?}]"
        );
        let facts = &report.facts;
        assert!(
            facts
                .capabilities
                .as_ref()
                .unwrap()
                .effective
                .contains(&"CAP_CHOWN".to_owned())
        );
        assert!(
            facts
                .devices
                .as_ref()
                .unwrap()
                .iter()
                .any(|d| d.path == "/dev/null" && d.kind == "char")
        );
        let maps = facts.id_maps.as_ref().unwrap();
        match e {
            Engine::UsernsRemap => assert_ne!(maps.uid_map[0].outside, 0, "[{e:?}] {maps:?}"),
            Engine::Production => assert_eq!(maps.uid_map[0].outside, 0, "[{e:?}] {maps:?}"),
        }
        assert_eq!(facts.security.as_ref().unwrap().seccomp, "filter");
    }
}

#[test]
fn reaping_init_runs_without_a_probe_in_its_tree() {
    for e in engines() {
        let r = run(
            e,
            &traced(&[
                "sh",
                "-c",
                "for i in 1 2 3; do sleep 0.1 & done; wait; ps -o pid,ppid,comm; echo end",
            ]),
        );
        assert_eq!(r.exit_code, 0, "[{e:?}] {}", r.stderr);
        let rows: Vec<Vec<String>> = r
            .stdout()
            .lines()
            .skip(1)
            .filter(|l| *l != "end")
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect();
        assert!(
            rows.iter().any(|row| row[0] == "1" && row[2] == "sh"),
            "[{e:?}] {rows:?}"
        );
        // The tracer was started by the engine's exec (parent pid 0); no
        // probe process is PID 1 or a descendant of it.
        for row in &rows {
            if row[2] == "probe" {
                assert_eq!(
                    row[1], "0",
                    "[{e:?}] probe inside the workload's tree: {rows:?}"
                );
                assert_ne!(row[0], "1");
            }
        }
        assert_eq!(
            rows.iter().filter(|row| row[2] == "sleep").count(),
            0,
            "[{e:?}] unreaped: {rows:?}"
        );
    }
}

#[test]
fn exit_codes_pass_through() {
    for e in engines() {
        for code in [0, 1, 42, 255] {
            let script = format!("exit {code}");
            let argv = ["sh", "-c", script.as_str()];
            let r = run(
                e,
                &Spec {
                    argv: &argv,
                    trace: true,
                    ..Spec::default()
                },
            );
            assert_eq!(r.exit_code, code, "[{e:?}] {}", r.stderr);
            assert_eq!(
                r.report().workload.exit,
                Some(ExitInfo::Exited { code: code as i32 })
            );
            assert_eq!(r.report().syscalls, SyscallsObservation::NotRequested);
        }
    }
}

#[test]
fn exec_failure_is_reported_like_a_shell() {
    for e in engines() {
        let r = run(e, &traced(&["no-such-program", "x"]));
        assert_eq!(r.exit_code, 127, "[{e:?}]");
        assert!(
            r.stderr
                .contains("parity-probe: exec no-such-program: No such file or directory (ENOENT)"),
            "{}",
            r.stderr
        );
        let report = r.report();
        assert!(
            report
                .workload
                .exec_error
                .as_deref()
                .unwrap()
                .contains("ENOENT")
        );
        assert_eq!(report.workload.exit, Some(ExitInfo::Exited { code: 127 }));
    }
}

#[test]
fn signal_deaths_are_seen() {
    for e in engines() {
        // PID 1 ignores signals it has no handler for: a child dies instead.
        let r = run(
            e,
            &traced(&["sh", "-c", "sh -c 'kill -9 $$'; echo child=$?"]),
        );
        assert_eq!(r.stdout(), "child=137\n", "[{e:?}] {}", r.stderr);
        // The killed child's kill(2) never returns, so it leaves no record;
        // its parent (PID 1) saw it die and went on.
        assert!(!r.calls().iter().any(|c| c.syscall == "kill"), "[{e:?}]");
        assert_eq!(r.report().workload.exit, Some(ExitInfo::Exited { code: 0 }));
        // PID 1 itself killed from outside, as `docker kill` does.
        let kill = |c: &Container| {
            std::thread::sleep(Duration::from_millis(500));
            c.engine.ok(&["kill", "-s", "KILL", &c.id]);
        };
        let r = run(
            e,
            &Spec {
                argv: &["sleep", "30"],
                trace: true,
                during: Some(&kill),
                ..Spec::default()
            },
        );
        assert_eq!(r.exit_code, 137, "[{e:?}]");
        match &r.report {
            Some(report) => {
                eprintln!("[{e:?}] SIGKILLed PID 1: report.json from its exit stop");
                assert_eq!(
                    report.workload.exit,
                    Some(ExitInfo::Signaled {
                        signal: "SIGKILL".into()
                    }),
                    "[{e:?}]"
                )
            }
            // A SIGKILLed PID 1 may not stop at its exit event: then the
            // harness falls back on before.json, which says why.
            None => {
                eprintln!("[{e:?}] SIGKILLed PID 1: no exit stop, before.json only");
                let before = r.before.as_ref().expect("before.json");
                assert!(matches!(
                    before.mounts,
                    MountsObservation::Unavailable { .. }
                ));
            }
        }
    }
}

#[test]
fn docker_stop_reaches_a_traced_workload() {
    for e in engines() {
        let stop = |c: &Container| {
            let deadline = Instant::now() + Duration::from_secs(15);
            while !c
                .engine
                .run(&["exec", &c.id, "test", "-e", "/tmp/ready"])
                .status
                .success()
            {
                assert!(Instant::now() < deadline, "workload never got ready");
                std::thread::sleep(Duration::from_millis(50));
            }
            let t = Instant::now();
            c.engine.ok(&["stop", "-t", "20", &c.id]);
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "SIGTERM did not reach the workload"
            );
        };
        let script =
            "trap 'echo got TERM; exit 0' TERM; touch /tmp/ready; while :; do sleep 0.1; done";
        let argv = ["sh", "-c", script];
        let r = run(
            e,
            &Spec {
                argv: &argv,
                trace: true,
                syscalls: true,
                during: Some(&stop),
                ..Spec::default()
            },
        );
        assert_eq!(r.stdout(), "got TERM\n", "[{e:?}] {}", r.stderr);
        assert_eq!(r.exit_code, 0);
        assert_eq!(r.report().workload.exit, Some(ExitInfo::Exited { code: 0 }));
    }
}

#[test]
fn large_output_and_stdin_pass_through() {
    for e in engines() {
        const N: usize = 104_857_600;
        let r = run(
            e,
            &Spec {
                argv: &["sh", "-c", "head -c 104857600 /dev/zero | cat"],
                docker_args: &["--log-driver", "none"],
                trace: true,
                syscalls: true,
                ..Spec::default()
            },
        );
        assert_eq!((r.exit_code, r.stdout_len), (0, N), "[{e:?}] {}", r.stderr);
        assert!(
            r.stdout_digest == fnv(&vec![0u8; N]),
            "[{e:?}] output altered"
        );
        eprintln!(
            "[{e:?}] 100 MiB through a traced pipeline in {:?}",
            r.elapsed
        );

        let input: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let r = run(
            e,
            &Spec {
                argv: &["cat"],
                stdin: Some(input.clone()),
                trace: true,
                syscalls: true,
                ..Spec::default()
            },
        );
        assert_eq!(r.exit_code, 0, "[{e:?}] {}", r.stderr);
        assert_eq!(r.stdout_len, input.len(), "[{e:?}]");
        assert!(
            r.stdout_digest == fnv(&input),
            "[{e:?}] stdin came back altered"
        );
    }
}

#[test]
fn environment_cwd_and_fds_are_the_workloads() {
    for e in engines() {
        let script = "env | sort; pwd; ls /proc/self/fd; umask; trap";
        let args = ["--hostname", "parity", "-e", "FOO=bar baz", "-w", "/tmp"];
        let traced_run = run(
            e,
            &Spec {
                argv: &["sh", "-c", script],
                docker_args: &args,
                trace: true,
                syscalls: true,
                ..Spec::default()
            },
        );
        let image = image(e);
        let mut plain = vec!["run", "--rm", "--network", "none", "--label", LABEL];
        plain.extend_from_slice(&args);
        plain.extend_from_slice(&[image.as_str(), "sh", "-c", script]);
        let baseline = e.ok(&plain);
        assert_eq!(traced_run.stdout().trim(), baseline, "[{e:?}]");
    }
}

#[test]
fn mknod_is_recorded_per_engine() {
    for e in engines() {
        let r = run(e, &traced(&["mknod", "/tmp/n", "c", "1", "3"]));
        let want = match e {
            Engine::Production => "ok",
            Engine::UsernsRemap => "EPERM",
        };
        assert!(
            has_call(&r, &["mknod", "mknodat"], want, "/tmp/n c 1:3"),
            "[{e:?}] want {want}: {:?}",
            r.calls()
                .iter()
                .filter(|c| c.syscall.starts_with("mknod"))
                .collect::<Vec<_>>()
        );
        assert_eq!(r.exit_code, if want == "ok" { 0 } else { 1 }, "[{e:?}]");
    }
}

#[test]
fn a_tmpfs_mount_shows_in_the_after_table() {
    for e in engines() {
        let r = run(
            e,
            &Spec {
                argv: &[
                    "sh",
                    "-c",
                    "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted",
                ],
                docker_args: &[
                    "--cap-add",
                    "SYS_ADMIN",
                    "--security-opt",
                    "apparmor=unconfined",
                ],
                trace: true,
                syscalls: true,
                ..Spec::default()
            },
        );
        assert_eq!(r.stdout(), "mounted\n", "[{e:?}] {}", r.stderr);
        let MountsObservation::Ok { before, after } = &r.report().mounts else {
            panic!("[{e:?}] {:?}", r.report().mounts)
        };
        assert!(!before.iter().any(|m| m.mount_point == "/mnt/t"));
        assert!(
            after
                .iter()
                .any(|m| m.mount_point == "/mnt/t" && m.fstype == "tmpfs"),
            "[{e:?}]"
        );
        assert!(!after.iter().any(|m| m.mount_point.starts_with("/.parity")));
        assert!(
            r.calls().iter().any(|c| c.syscall == "mount"
                && c.outcome == "ok"
                && c.arg
                    .as_deref()
                    .is_some_and(|a| a.starts_with("none /mnt/t tmpfs "))),
            "[{e:?}] {:?}",
            r.calls()
                .iter()
                .filter(|c| c.syscall == "mount")
                .collect::<Vec<_>>()
        );
    }
}

/// Without `--syscalls` the tracer asks for no syscall stops: nothing is
/// recorded, the mount snapshot still works. (Its cost is measured by
/// `cargo bench -p parity --bench overhead`, not asserted here.)
#[test]
fn without_syscalls_nothing_is_recorded() {
    let script = "i=0; while [ $i -lt 100 ]; do cat /dev/null; i=$((i+1)); done; echo done";
    for e in engines() {
        let r = run(
            e,
            &Spec {
                argv: &["sh", "-c", script],
                trace: true,
                ..Spec::default()
            },
        );
        assert_eq!(r.stdout().trim(), "done", "[{e:?}] {}", r.stderr);
        assert_eq!(r.report().syscalls, SyscallsObservation::NotRequested);
        assert!(matches!(r.report().mounts, MountsObservation::Ok { .. }));
        let r = run(e, &traced(&["sh", "-c", script]));
        assert!(!r.calls().is_empty(), "[{e:?}] traced runs record syscalls");
    }
}

#[test]
fn a_refused_ptrace_leaves_the_workload_untraced_and_says_why() {
    for e in engines() {
        // A tracer without the workload's credentials (uid 1000 against
        // root's PID 1) gets EPERM, like a seccomp or LSM refusal would.
        let r = run(
            e,
            &Spec {
                argv: &["sh", "-c", "echo $$; exit 3"],
                trace: true,
                syscalls: true,
                attach_user: Some("1000"),
                ..Spec::default()
            },
        );
        assert_eq!(
            (r.stdout().as_str(), r.exit_code),
            ("1\n", 3),
            "[{e:?}] {}",
            r.stderr
        );
        assert!(
            r.report.is_none(),
            "[{e:?}] a refused tracer wrote report.json"
        );
        let before = r.before.as_ref().expect("before.json");
        let reason = "ptrace: EPERM (Operation not permitted)";
        assert_eq!(
            before.syscalls,
            SyscallsObservation::Unavailable {
                reason: reason.into()
            },
            "[{e:?}]"
        );
        assert!(
            matches!(&before.mounts, MountsObservation::Unavailable { reason: r, before }
                if r == reason && !before.is_empty()),
            "[{e:?}] {:?}",
            before.mounts
        );
    }
}
