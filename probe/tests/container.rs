//! The probe in real containers, through the `docker` CLI, on the
//! production engine and on the userns-remap engine. Each check creates a
//! labelled container (`io.parity.run=probe-dev`) with an anonymous volume
//! at `/.parity`, uploads the probe with `docker cp`, starts it with the
//! probe as entrypoint, starts the tracer with `docker exec`, and reads the
//! report back with `docker cp`. A guard removes the container on every
//! path. An engine that is not reachable is skipped with a message.

mod common;

use parity_wire::{ExitInfo, MountsObservation, ProbeReport, SyscallRecord, SyscallsObservation};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const LABEL: &str = "io.parity.run=probe-dev";
const FACTS: &str = "capabilities,id_maps,security,devices";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Engine {
    Production,
    UsernsRemap,
}

impl Engine {
    fn host(self) -> Option<&'static str> {
        match self {
            Engine::Production => None,
            Engine::UsernsRemap => Some("unix:///run/parity/userns-remap.sock"),
        }
    }

    fn docker(self) -> Command {
        let mut c = Command::new("docker");
        match self.host() {
            Some(h) => c.env("DOCKER_HOST", h),
            None => c.env_remove("DOCKER_HOST"),
        };
        c
    }

    fn run(self, args: &[&str]) -> Output {
        self.docker().args(args).output().expect("running docker")
    }

    fn ok(self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "[{self:?}] docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn reachable(self) -> bool {
        static SEEN: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
        let mut seen = SEEN.get_or_init(Default::default).lock().unwrap();
        *seen.entry(format!("{self:?}")).or_insert_with(|| {
            let ok = self
                .run(&["info", "--format", "{{.ServerVersion}}"])
                .status
                .success();
            if !ok {
                eprintln!("[{self:?}] skipped: engine not reachable");
            }
            ok
        })
    }
}

/// The engines to run a check on (the reachable ones).
fn engines() -> Vec<Engine> {
    [Engine::Production, Engine::UsernsRemap]
        .into_iter()
        .filter(|e| e.reachable())
        .collect()
}

const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv_update(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

fn fnv(bytes: &[u8]) -> u64 {
    fnv_update(FNV_BASIS, bytes)
}

/// A busybox image with every applet linked (not `busybox` itself), built
/// once per engine and content.
fn image(engine: Engine) -> String {
    static BUILT: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    let busybox = std::fs::read("/bin/busybox").expect("/bin/busybox (busybox-static)");
    let tag = format!(
        "parity-probe-dev:bb-{:012x}",
        fnv(&busybox) & 0xffff_ffff_ffff
    );
    let key = format!("{engine:?} {tag}");
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    if built.contains(&key) || engine.run(&["image", "inspect", &tag]).status.success() {
        built.push(key);
        return tag;
    }
    let root = scratch("rootfs");
    for d in ["bin", "tmp", "proc", "sys", "dev", "etc", "mnt"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("bin/busybox"), &busybox).unwrap();
    std::fs::set_permissions(
        root.join("bin/busybox"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("tmp"),
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.contains('/') {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let mut import = engine
        .docker()
        .args(["import", "-c", "ENV PATH=/bin", "-", &tag])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    import.stdin.take().unwrap().write_all(&tar.stdout).unwrap();
    assert!(
        import.wait().unwrap().success(),
        "[{engine:?}] docker import failed"
    );
    std::fs::remove_dir_all(&root).unwrap();
    built.push(key);
    tag
}

fn scratch(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// What `/.parity` starts with: the probe and a world-writable `out/`.
fn stage() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = scratch("stage");
        std::fs::copy(common::probe_path(), d.join("probe")).unwrap();
        std::fs::create_dir(d.join("out")).unwrap();
        std::fs::set_permissions(
            d.join("out"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
        d
    })
}

/// Removes the container on every path.
struct Container {
    engine: Engine,
    id: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.engine.run(&["rm", "-f", "-v", &self.id]);
    }
}

#[derive(Default)]
struct Spec<'a> {
    argv: &'a [&'a str],
    docker_args: &'a [&'a str],
    /// Start the tracer (`attach`); `wrap` then waits for it.
    trace: bool,
    syscalls: bool,
    stdin: Option<Vec<u8>>,
    /// Runs while the container runs (e.g. `docker stop`).
    during: Option<&'a dyn Fn(&Container)>,
}

struct Run {
    exit_code: i64,
    stdout: Vec<u8>,
    stdout_len: usize,
    stdout_digest: u64,
    stderr: String,
    report: Option<ProbeReport>,
    before: Option<ProbeReport>,
    elapsed: Duration,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn report(&self) -> &ProbeReport {
        self.report
            .as_ref()
            .unwrap_or_else(|| panic!("no report.json; stderr: {}", self.stderr))
    }

    fn calls(&self) -> &[SyscallRecord] {
        match &self.report().syscalls {
            SyscallsObservation::Ok { calls } => calls,
            other => panic!("syscalls not observed: {other:?}"),
        }
    }
}

/// Keeps the first MiB of a stream, counts and digests all of it.
fn drain(mut r: impl Read) -> (Vec<u8>, usize, u64) {
    let mut kept = Vec::new();
    let mut total = 0;
    let mut digest = FNV_BASIS;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return (kept, total, digest),
            Ok(n) => {
                total += n;
                digest = fnv_update(digest, &buf[..n]);
                if kept.len() < 1 << 20 {
                    kept.extend_from_slice(&buf[..n]);
                }
            }
        }
    }
}

fn run(engine: Engine, spec: &Spec) -> Run {
    let image = image(engine);
    let wait = if spec.trace { "10" } else { "0" };
    let mut create: Vec<&str> = vec![
        "create",
        "--network",
        "none",
        "--label",
        LABEL,
        "-v",
        "/.parity",
    ];
    if spec.stdin.is_some() {
        create.push("-i");
    }
    create.extend_from_slice(spec.docker_args);
    create.extend_from_slice(&[
        "--entrypoint",
        "/.parity/probe",
        &image,
        "wrap",
        "--wait-tracer",
        wait,
    ]);
    create.extend_from_slice(&["--mounts", "--facts", FACTS, "--"]);
    create.extend_from_slice(spec.argv);
    let c = Container {
        engine,
        id: engine.ok(&create),
    };
    let src = format!("{}/.", stage().display());
    engine.ok(&["cp", &src, &format!("{}:/.parity/", c.id)]);

    let started = Instant::now();
    let mut start = engine.docker();
    start.args(["start", "-a"]);
    if spec.stdin.is_some() {
        start.arg("-i");
    }
    let mut child = start
        .arg(&c.id)
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let input = spec.stdin.clone();
    let feeder = std::thread::spawn(move || {
        if let (Some(mut w), Some(data)) = (stdin, input) {
            let _ = w.write_all(&data);
        }
    });
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || drain(stdout));
    let stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || drain(stderr));

    if spec.trace {
        let mut attach = vec![
            "exec",
            "-d",
            c.id.as_str(),
            "/.parity/probe",
            "attach",
            "--pid",
            "1",
            "--mounts",
        ];
        if spec.syscalls {
            attach.push("--syscalls");
        }
        // The container may not be running yet: retry until it is.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let out = engine.run(&attach);
            if out.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "[{engine:?}] exec attach: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    if let Some(during) = spec.during {
        during(&c);
    }
    let _ = child.wait().unwrap();
    let elapsed = started.elapsed();
    feeder.join().unwrap();
    let (stdout, stdout_len, stdout_digest) = reader.join().unwrap();
    let (stderr, _, _) = err_reader.join().unwrap();
    let exit_code: i64 = engine
        .ok(&["inspect", "-f", "{{.State.ExitCode}}", &c.id])
        .parse()
        .unwrap();

    let out = scratch("out");
    engine.ok(&[
        "cp",
        &format!("{}:/.parity/out/.", c.id),
        out.to_str().unwrap(),
    ]);
    let read = |name: &str| {
        std::fs::read(out.join(name)).ok().map(|b| {
            serde_json::from_slice::<ProbeReport>(&b).unwrap_or_else(|e| panic!("{name}: {e}"))
        })
    };
    let (report, before) = (read("report.json"), read("before.json"));
    std::fs::remove_dir_all(&out).unwrap();
    Run {
        exit_code,
        stdout,
        stdout_len,
        stdout_digest,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        report,
        before,
        elapsed,
    }
}

fn traced<'a>(argv: &'a [&'a str]) -> Spec<'a> {
    Spec {
        argv,
        trace: true,
        syscalls: true,
        ..Spec::default()
    }
}

fn has_call(run: &Run, names: &[&str], outcome: &str, arg: &str) -> bool {
    run.calls().iter().any(|c| {
        names.contains(&c.syscall.as_str()) && c.outcome == outcome && c.arg.as_deref() == Some(arg)
    })
}

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

#[test]
fn without_syscalls_nothing_is_recorded_and_overhead_is_small() {
    let script = "read s _ </proc/uptime; i=0; while [ $i -lt 3000 ]; do cat /dev/null; i=$((i+1)); done; read e _ </proc/uptime; echo $(( (${e%.*}${e#*.} - ${s%.*}${s#*.}) * 10 ))";
    for e in engines() {
        let elapsed_ms = |spec: &Spec| -> (u64, Run) {
            let r = run(e, spec);
            (
                r.stdout()
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("[{e:?}] {:?} {}", r.stdout(), r.stderr)),
                r,
            )
        };
        let (untraced, _) = elapsed_ms(&Spec {
            argv: &["sh", "-c", script],
            ..Spec::default()
        });
        let (light, r) = elapsed_ms(&Spec {
            argv: &["sh", "-c", script],
            trace: true,
            ..Spec::default()
        });
        assert_eq!(r.report().syscalls, SyscallsObservation::NotRequested);
        assert!(matches!(r.report().mounts, MountsObservation::Ok { .. }));
        let (full, r) = elapsed_ms(&traced(&["sh", "-c", script]));
        assert!(!r.calls().is_empty());
        eprintln!(
            "[{e:?}] 3000 commands: untraced {untraced} ms, exit-only tracing {light} ms, syscall tracing {full} ms"
        );
        assert!(
            light <= untraced * 2 + 1000,
            "[{e:?}] exit-only tracing costs too much: {untraced} -> {light} ms"
        );
    }
}
