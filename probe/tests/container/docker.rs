//! Running one probed container through the `docker` CLI: the engines
//! (skipped with a message when unreachable), the busybox test image
//! (built once per engine with `docker import`), the `/.parity` upload,
//! start, tracer exec, and reading the report back. A guard removes the
//! container on every path.

use crate::common;

use parity_wire::{ProbeReport, SyscallRecord, SyscallsObservation};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub(crate) const LABEL: &str = "io.parity.run=probe-dev";
pub(crate) const FACTS: &str = "capabilities,id_maps,security,devices";

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Engine {
    Production,
    UsernsRemap,
}

impl Engine {
    pub(crate) fn host(self) -> Option<&'static str> {
        match self {
            Engine::Production => None,
            Engine::UsernsRemap => Some("unix:///run/parity/userns-remap.sock"),
        }
    }

    pub(crate) fn docker(self) -> Command {
        let mut c = Command::new("docker");
        match self.host() {
            Some(h) => c.env("DOCKER_HOST", h),
            None => c.env_remove("DOCKER_HOST"),
        };
        c
    }

    pub(crate) fn run(self, args: &[&str]) -> Output {
        self.docker().args(args).output().expect("running docker")
    }

    pub(crate) fn ok(self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "[{self:?}] docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    pub(crate) fn reachable(self) -> bool {
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
pub(crate) fn engines() -> Vec<Engine> {
    [Engine::Production, Engine::UsernsRemap]
        .into_iter()
        .filter(|e| e.reachable())
        .collect()
}

pub(crate) const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

pub(crate) fn fnv_update(h: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    fnv_update(FNV_BASIS, bytes)
}

/// A busybox image with every applet linked (not `busybox` itself), built
/// once per engine and content.
pub(crate) fn image(engine: Engine) -> String {
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

pub(crate) fn scratch(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let p =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// What `/.parity` starts with: the probe and a world-writable `out/`.
pub(crate) fn stage() -> &'static Path {
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
pub(crate) struct Container {
    pub(crate) engine: Engine,
    pub(crate) id: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.engine.run(&["rm", "-f", "-v", &self.id]);
    }
}

#[derive(Default)]
pub(crate) struct Spec<'a> {
    pub(crate) argv: &'a [&'a str],
    pub(crate) docker_args: &'a [&'a str],
    /// Start the tracer (`attach`); `wrap` then waits for it.
    pub(crate) trace: bool,
    pub(crate) syscalls: bool,
    /// Runs the tracer as this user (`docker exec -u`).
    pub(crate) attach_user: Option<&'a str>,
    pub(crate) stdin: Option<Vec<u8>>,
    /// Runs while the container runs (e.g. `docker stop`).
    pub(crate) during: Option<&'a dyn Fn(&Container)>,
}

pub(crate) struct Run {
    pub(crate) exit_code: i64,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stdout_len: usize,
    pub(crate) stdout_digest: u64,
    pub(crate) stderr: String,
    pub(crate) report: Option<ProbeReport>,
    pub(crate) before: Option<ProbeReport>,
    pub(crate) elapsed: Duration,
}

impl Run {
    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub(crate) fn report(&self) -> &ProbeReport {
        self.report
            .as_ref()
            .unwrap_or_else(|| panic!("no report.json; stderr: {}", self.stderr))
    }

    pub(crate) fn calls(&self) -> &[SyscallRecord] {
        match &self.report().syscalls {
            SyscallsObservation::Ok { calls, .. } => calls,
            other => panic!("syscalls not observed: {other:?}"),
        }
    }
}

/// Keeps the first MiB of a stream, counts and digests all of it.
pub(crate) fn drain(mut r: impl Read) -> (Vec<u8>, usize, u64) {
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

pub(crate) fn run(engine: Engine, spec: &Spec) -> Run {
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
        let mut attach = vec!["exec", "-d"];
        if let Some(user) = spec.attach_user {
            attach.extend_from_slice(&["-u", user]);
        }
        attach.extend_from_slice(&[
            c.id.as_str(),
            "/.parity/probe",
            "attach",
            "--pid",
            "1",
            "--mounts",
        ]);
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

pub(crate) fn traced<'a>(argv: &'a [&'a str]) -> Spec<'a> {
    Spec {
        argv,
        trace: true,
        syscalls: true,
        ..Spec::default()
    }
}

pub(crate) fn has_call(run: &Run, names: &[&str], outcome: &str, arg: &str) -> bool {
    run.calls().iter().any(|c| {
        names.contains(&c.syscall.as_str()) && c.outcome == outcome && c.arg.as_deref() == Some(arg)
    })
}
