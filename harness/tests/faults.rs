//! Faults, on real engines: interrupts at any moment (SIGINT, SIGTERM,
//! during start-up), SIGKILL and the next run's sweep, an engine that
//! stalls, dies or whose containerd stalls mid-run (a throwaway engine this
//! test starts on its own socket), a flood of output, a hang and a bounded
//! fork bomb. Each checks the verdicts (a faulty engine gives `error`,
//! never parity or divergence) and that no container of the run is left
//! right after it exits. Skipped with the reason where the engines are not
//! running (CI always starts them).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{ENGINES, engines_up};

/// A project of its own in a temporary folder: scenarios, and the
/// repository's runtime profiles plus any given here.
struct Project {
    root: PathBuf,
}

impl Project {
    fn new(name: &str) -> Project {
        let root =
            std::env::temp_dir().join(format!("parity-faults-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("scenarios/f")).unwrap();
        std::fs::create_dir_all(root.join("runtimes")).unwrap();
        for p in ["runc", "userns-remap"] {
            std::fs::copy(
                common::root().join(format!("runtimes/{p}.yaml")),
                root.join(format!("runtimes/{p}.yaml")),
            )
            .unwrap();
        }
        std::fs::write(
            root.join("parity.toml"),
            "baseline = \"runc\"\ncandidates = [\"userns-remap\"]\n",
        )
        .unwrap();
        Project { root }
    }

    fn scenario(&self, name: &str, body: &str) {
        std::fs::write(self.root.join(format!("scenarios/f/{name}.yaml")), body).unwrap();
    }

    fn profile(&self, name: &str, body: &str) {
        std::fs::write(self.root.join(format!("runtimes/{name}.yaml")), body).unwrap();
    }

    /// `parity ARGS` in this project, with SIGINT at its default
    /// disposition whatever the test runner's is.
    fn parity(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_parity"));
        c.args(args)
            .current_dir(&self.root)
            .env("NO_COLOR", "1")
            .env_remove("PARITY_CANDIDATES")
            .env_remove("PARITY_BASELINE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: between fork and exec only async-signal-safe calls are
        // made: signal(2) is one.
        unsafe {
            c.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                Ok(())
            });
        }
        c
    }

    /// The run's verdicts from `--format json` output.
    fn verdicts(out: &Output) -> Vec<(String, String)> {
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not the results document ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        doc["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_string(),
                    r["verdict"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Containers, networks and volumes labelled as made by the parity
/// process `pid`, on `sockets`.
fn leftovers_on(pid: u32, sockets: &[&str]) -> Vec<String> {
    let lists: [&[&str]; 3] = [
        &["ps", "-a", "--format", "{{.Names}} {{.Status}}"],
        &["network", "ls", "--format", "network {{.Name}}"],
        &["volume", "ls", "--format", "volume {{.Name}}"],
    ];
    sockets
        .iter()
        .flat_map(|sock| {
            lists.iter().flat_map(move |list| {
                let out = Command::new("docker")
                    .args(["-H", &format!("unix://{sock}")])
                    .args(*list)
                    .args(["--filter", &format!("label=io.parity.pid={pid}")])
                    .output()
                    .expect("docker CLI");
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .map(|l| format!("{sock}: {l}"))
                    .collect::<Vec<_>>()
            })
        })
        .collect()
}

fn leftovers(pid: u32) -> Vec<String> {
    leftovers_on(pid, &ENGINES)
}

fn signal(pid: u32, sig: &str) {
    assert!(
        Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// Waits for `child` at most `bound`; kills it and fails past that.
fn wait_bounded(child: Child, bound: Duration, what: &str) -> Output {
    let pid = child.id();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if started.elapsed() > bound {
            signal(pid, "KILL");
            panic!("{what}: parity did not end within {bound:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    waiter.join().unwrap()
}

/// A handful of scenarios that keep both engines busy for a few seconds.
fn busy_project(name: &str) -> Project {
    let p = Project::new(name);
    for i in 0..8 {
        p.scenario(
            &format!("busy{i}"),
            &format!(
                "description: busy {i}\ncommand: [sh, -c, \"sleep 1.{i}; echo {i}\"]\nobserve: [exit_code, stdout]\n"
            ),
        );
    }
    p
}

#[test]
fn interrupts_at_any_moment_leave_no_container() {
    if !engines_up() {
        return;
    }
    let p = busy_project("interrupts");
    // Start-up (before, during and after the host probe), then mid-run.
    let delays = [50u64, 200, 350, 450, 700, 1200, 2500, 4000];
    for (i, ms) in delays.iter().enumerate() {
        let sig = if i % 2 == 0 { "INT" } else { "TERM" };
        let child = p
            .parity(&["run", "--jobs", "4", "--format", "json"])
            .spawn()
            .unwrap();
        let pid = child.id();
        std::thread::sleep(Duration::from_millis(*ms));
        signal(pid, sig);
        let out = wait_bounded(child, Duration::from_secs(90), "interrupted run");
        let code = out.status.code();
        let by_signal = std::os::unix::process::ExitStatusExt::signal(&out.status);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want = if sig == "INT" { 130 } else { 143 };
        // Interrupted with the right status, killed by the signal before
        // its handler was installed (nothing created yet), or done before
        // the signal came.
        assert!(
            code == Some(want) || by_signal.is_some() || code == Some(0),
            "SIG{sig} after {ms} ms: status {:?}\n{stderr}",
            out.status
        );
        assert_eq!(
            leftovers(pid),
            Vec::<String>::new(),
            "SIG{sig} after {ms} ms left containers\n{stderr}"
        );
    }
}

#[test]
fn a_killed_run_is_swept_by_the_next() {
    if !engines_up() {
        return;
    }
    let p = Project::new("sigkill");
    p.scenario(
        "hang",
        "description: hangs\ncommand: [sleep, \"60\"]\ntimeout: 60s\nobserve: [exit_code]\n",
    );
    let child = p.parity(&["run"]).spawn().unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while leftovers(pid).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(leftovers(pid).len(), 2, "both sides run");
    signal(pid, "KILL");
    wait_bounded(child, Duration::from_secs(10), "killed run");
    assert_eq!(leftovers(pid).len(), 2, "SIGKILL leaves them");
    p.scenario(
        "hang",
        "description: quick\ncommand: [\"true\"]\nobserve: [exit_code]\n",
    );
    let next = wait_bounded(
        p.parity(&["run"]).spawn().unwrap(),
        Duration::from_secs(90),
        "next run",
    );
    assert_eq!(
        next.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&next.stderr)
    );
    assert_eq!(
        leftovers(pid),
        Vec::<String>::new(),
        "the next run sweeps them"
    );
}

#[test]
fn floods_hangs_and_fork_bombs_end_at_their_timeout() {
    if !engines_up() {
        return;
    }
    let p = Project::new("floods");
    p.scenario(
        "flood",
        "description: 200 MB of output\ncommand: [sh, -c, \"yes | head -c 200000000\"]\ntimeout: 120s\nobserve: [exit_code, stdout]\n",
    );
    p.scenario(
        "endless",
        "description: output without end\ncommand: [yes]\ntimeout: 3s\nobserve: [exit_code]\n",
    );
    p.scenario(
        "hang",
        "description: a hang\ncommand: [sleep, \"1000\"]\ntimeout: 2s\nobserve: [exit_code, stdout]\n",
    );
    // The top shell forks once, a subshell, before the bomb fills the pids
    // cgroup, then execs: a fork it made later (the pipeline's second
    // process, a `sleep`) could fail (exit 2) on one side only. The
    // subshell's own failures do not end the top shell.
    p.scenario(
        "forkbomb",
        "description: a fork bomb\ncommand: [sh, -c, \"f() { f | f & }; (f); exec sleep 30\"]\ntimeout: 4s\ncontainer: { pids_limit: 64 }\nobserve: [exit_code]\n",
    );
    let started = Instant::now();
    let child = p.parity(&["run", "--format", "json"]).spawn().unwrap();
    let pid = child.id();
    let out = wait_bounded(child, Duration::from_secs(300), "floods");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let verdicts = Project::verdicts(&out);
    assert_eq!(
        verdicts,
        vec![
            ("f/endless".to_string(), "parity".to_string()),
            ("f/flood".to_string(), "parity".to_string()),
            ("f/forkbomb".to_string(), "parity".to_string()),
            ("f/hang".to_string(), "parity".to_string()),
        ],
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for r in doc["results"].as_array().unwrap() {
        let side = &r["baseline_runs"][0];
        match r["id"].as_str().unwrap() {
            "f/flood" => {
                assert_eq!(side["exit_code"]["code"], 0);
                assert_eq!(side["stdout"]["bytes"], 200_000_000, "every byte counted");
            }
            _ => assert_eq!(side["exit_code"], "timeout", "{r}"),
        }
    }
    // Not a measurement: a bound on a hang. The four scenarios' timeouts
    // and grace come to far less than this.
    assert!(took < Duration::from_secs(240), "the run took {took:?}");
    assert_eq!(leftovers(pid), Vec::<String>::new());
}

/// A Docker engine of this test's own, with its own containerd, data and
/// socket, so it can be stopped, killed and restarted without touching
/// the engines other tests use.
struct Throwaway {
    dir: PathBuf,
    dockerd: Option<Child>,
}

impl Throwaway {
    fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    fn start(dir: &Path) -> Option<Throwaway> {
        std::fs::create_dir_all(dir).unwrap();
        let mut t = Throwaway {
            dir: dir.to_path_buf(),
            dockerd: None,
        };
        t.launch();
        t.wait_ready().then_some(t)
    }

    fn launch(&mut self) {
        let d = &self.dir;
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new("dockerd")
            .arg("--host")
            .arg(format!("unix://{}", self.socket().display()))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .args(["--storage-driver", "vfs", "--bridge", "none"])
            .args(["--iptables=false", "--ip-masq=false"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd");
        self.dockerd = Some(child);
    }

    fn wait_ready(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let ok = Command::new("docker")
                .args([
                    "-H",
                    &format!("unix://{}", self.socket().display()),
                    "version",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!(
            "the throwaway engine did not start:\n{}",
            std::fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default()
        );
        false
    }

    fn dockerd_pid(&self) -> u32 {
        self.dockerd.as_ref().unwrap().id()
    }

    /// The containerd that this dockerd started for itself.
    fn containerd_pid(&self) -> Option<u32> {
        let out = Command::new("pgrep")
            .args(["-P", &self.dockerd_pid().to_string(), "containerd"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn kill(&mut self) {
        if let Some(pid) = self.containerd_pid() {
            let _ = Command::new("kill")
                .args(["-CONT", &pid.to_string()])
                .status();
        }
        if let Some(mut c) = self.dockerd.take() {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
        // Its containerd and shims go with it.
        let _ = Command::new("pkill")
            .args(["-KILL", "-f", &self.dir.join("exec").display().to_string()])
            .status();
        std::thread::sleep(Duration::from_millis(300));
    }

    fn containers(&self, pid: u32) -> Vec<String> {
        leftovers_on(pid, &[self.socket().to_str().unwrap()])
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        self.kill();
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "grep -o ' {d}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null; rm -rf {d}",
                d = self.dir.display()
            ))
            .status();
    }
}

fn throwaway_project(name: &str, engine: &Throwaway) -> Project {
    let p = Project::new(name);
    p.profile(
        "throwaway",
        &format!(
            "name: throwaway\noci_runtime: runc\nengine: unix://{}\n",
            engine.socket().display()
        ),
    );
    std::fs::write(
        p.root.join("parity.toml"),
        "baseline = \"runc\"\ncandidates = [\"throwaway\"]\ngrace = \"8s\"\n",
    )
    .unwrap();
    for i in 0..4 {
        p.scenario(
            &format!("s{i}"),
            &format!(
                "description: s{i}\ncommand: [sh, -c, \"sleep 1; echo {i}\"]\ntimeout: 5s\nobserve: [exit_code, stdout]\n"
            ),
        );
    }
    p
}

/// Waits until parity has created a container on the throwaway engine.
fn wait_for_container(engine: &Throwaway, pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while engine.containers(pid).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_faulty_engine_gives_errors_and_leaves_nothing() {
    if !engines_up() {
        return;
    }
    let dir = PathBuf::from(format!("/tmp/pf-{}", std::process::id()));
    let Some(mut engine) = Throwaway::start(&dir) else {
        panic!("could not start a throwaway engine (see the log above)");
    };

    // 1. dockerd frozen longer than a scenario's deadline, then resumed.
    let p = throwaway_project("stalled", &engine);
    let child = p
        .parity(&["run", "--jobs", "2", "--format", "json"])
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for_container(&engine, pid);
    signal(engine.dockerd_pid(), "STOP");
    std::thread::sleep(Duration::from_secs(20));
    signal(engine.dockerd_pid(), "CONT");
    let out = wait_bounded(child, Duration::from_secs(180), "stalled engine");
    let verdicts = Project::verdicts(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        verdicts.iter().all(|(_, v)| v == "error" || v == "parity"),
        "a stalled engine gives error (or, for what ran before the stall, parity): {verdicts:?}\n{stderr}"
    );
    assert!(
        verdicts.iter().any(|(_, v)| v == "error"),
        "the stall was seen: {verdicts:?}\n{stderr}"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(leftovers(pid), Vec::<String>::new());
    assert_eq!(engine.containers(pid), Vec::<String>::new());

    // 2. Its containerd frozen: the engine answers, its runtime calls time
    // out ("context deadline exceeded"): errors, never refusals or parity
    // of two refusals.
    if let Some(ctr) = engine.containerd_pid() {
        let p = throwaway_project("containerd", &engine);
        let child = p
            .parity(&["run", "--jobs", "2", "--format", "json"])
            .spawn()
            .unwrap();
        let pid = child.id();
        std::thread::sleep(Duration::from_millis(300));
        signal(ctr, "STOP");
        std::thread::sleep(Duration::from_secs(20));
        signal(ctr, "CONT");
        let out = wait_bounded(child, Duration::from_secs(240), "stalled containerd");
        let verdicts = Project::verdicts(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            verdicts.iter().all(|(_, v)| v == "error" || v == "parity"),
            "a stalled containerd gives error: {verdicts:?}\n{stderr}"
        );
        assert!(
            verdicts.iter().any(|(_, v)| v == "error"),
            "{verdicts:?}\n{stderr}"
        );
        assert_eq!(leftovers(pid), Vec::<String>::new());
        assert_eq!(engine.containers(pid), Vec::<String>::new());
    }

    // 3. The engine dies mid-run: errors, and the run ends promptly.
    let p = throwaway_project("killed", &engine);
    let child = p
        .parity(&["run", "--jobs", "2", "--format", "json"])
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for_container(&engine, pid);
    engine.kill();
    let out = wait_bounded(child, Duration::from_secs(120), "dead engine");
    let verdicts = Project::verdicts(&out);
    assert!(
        verdicts.iter().all(|(_, v)| v == "error" || v == "parity"),
        "a dead engine gives error: {verdicts:?}"
    );
    assert!(verdicts.iter().any(|(_, v)| v == "error"), "{verdicts:?}");
    assert_eq!(leftovers(pid), Vec::<String>::new());

    // 4. Restarted: a new run works, and sweeps what the dead one left.
    engine.launch();
    assert!(engine.wait_ready());
    let p = throwaway_project("restarted", &engine);
    let out = wait_bounded(
        p.parity(&["run", "--format", "json"]).spawn().unwrap(),
        Duration::from_secs(120),
        "restarted engine",
    );
    let verdicts = Project::verdicts(&out);
    assert!(
        verdicts.iter().all(|(_, v)| v == "parity"),
        "{verdicts:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        engine.containers(pid),
        Vec::<String>::new(),
        "the dead run's containers are swept"
    );
}
