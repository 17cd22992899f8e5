//! Stack scenarios on the real engines (runc vs userns-remap): verdicts,
//! the first differing service named, readiness through a Compose
//! healthcheck, and that nothing of the run (container, network, volume)
//! is left behind: after a run, after a service that never gets healthy,
//! after an interrupt during a stack's start-up, and (swept by the next
//! run) after a run that was killed. Skipped with the
//! reason where the engines are not running (CI always starts them).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{ENGINES, engines_up};

struct Project {
    root: PathBuf,
}

impl Project {
    fn new(name: &str) -> Project {
        let root =
            std::env::temp_dir().join(format!("parity-stacks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("scenarios/s")).unwrap();
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
        std::fs::write(self.root.join(format!("scenarios/s/{name}.yaml")), body).unwrap();
    }

    fn parity(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_parity"));
        c.args(args)
            .current_dir(&self.root)
            .env("NO_COLOR", "1")
            .env_remove("PARITY_CANDIDATES")
            .env_remove("PARITY_BASELINE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: only signal(2), async-signal-safe, between fork and exec.
        unsafe {
            c.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        c
    }

    /// Runs `parity run --format json` and returns each result.
    fn run(&self) -> (Vec<serde_json::Value>, u32) {
        let child = self.parity(&["run", "--format", "json"]).spawn().unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not the results document ({e}): {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (doc["results"].as_array().unwrap().clone(), pid)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Containers, networks and volumes labelled as made by process `pid`.
fn leftovers(pid: u32) -> Vec<String> {
    let label = format!("label=io.parity.pid={pid}");
    let mut out = Vec::new();
    for sock in ENGINES {
        for what in [
            vec!["ps", "-a", "-q"],
            vec!["network", "ls", "-q"],
            vec!["volume", "ls", "-q"],
        ] {
            let o = Command::new("docker")
                .args(["-H", &format!("unix://{sock}")])
                .args(&what)
                .args(["--filter", &label])
                .output()
                .expect("docker CLI");
            for l in String::from_utf8_lossy(&o.stdout).lines() {
                out.push(format!("{sock}: {} {l}", what[0]));
            }
        }
    }
    out
}

fn verdict(r: &serde_json::Value) -> (&str, &str) {
    (
        r["verdict"].as_str().unwrap_or_default(),
        r["reason"].as_str().unwrap_or_default(),
    )
}

const SHARED: &str = r#"description: a client reads what a setup service wrote to a shared volume, over the stack's network
services:
  setup:
    image: busybox
    command: [sh, -c, "echo from setup > /data/page && echo done"]
    volumes: ["data:/data"]
  web:
    image: busybox
    command: [httpd, -f, -p, "8080", -h, /data]
    volumes: ["data:/data:ro"]
    depends_on: { setup: { condition: service_completed_successfully } }
    healthcheck: { test: [CMD, wget, -q, -O, /dev/null, "http://127.0.0.1:8080/page"], interval: 1s, retries: 5 }
  client:
    image: debian:bookworm
    command: [sleep, "600"]
    user: "1000"
    depends_on: { web: { condition: service_healthy } }
  watcher:
    image: busybox
    command: [sleep, "600"]
    pid: "service:web"
    depends_on: [web]
volumes: { data: {} }
steps:
  - name: sees the web server's processes
    service: watcher
    run: [sh, -c, "grep -qx httpd /proc/[0-9]*/comm && echo httpd seen"]
  - name: fetch
    service: client
    run: [bash, -c, "exec 3<>/dev/tcp/web/8080 && printf 'GET /page HTTP/1.0\r\n\r\n' >&3 && timeout 5 cat <&3 | tail -n 1"]
    timeout: 20s
"#;

const DIFFERS: &str = r#"description: the second service makes a device node, which a user namespace refuses
services:
  first:
    image: busybox
    command: [echo, same everywhere]
  maker:
    image: busybox
    command: [sh, -c, "mknod /tmp/n c 1 3 && echo made"]
    depends_on: [first]
steps:
  - name: never differs
    service: first
    run: [echo, hi]
"#;

const NEVER_HEALTHY: &str = r#"description: a service that never gets healthy; its dependent never starts
services:
  sick:
    image: busybox
    command: [sleep, "600"]
    healthcheck: { test: [CMD, "false"], interval: 1s, retries: 1 }
  after:
    image: busybox
    command: [sleep, "600"]
    depends_on: { sick: { condition: service_healthy } }
"#;

#[test]
fn stacks_compare_per_service_and_leave_nothing() {
    if !engines_up() {
        return;
    }
    let p = Project::new("verdicts");
    p.scenario("shared", SHARED);
    p.scenario("differs", DIFFERS);
    p.scenario("never_healthy", NEVER_HEALTHY);
    let (results, pid) = p.run();
    let by_id = |id: &str| {
        results
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no result for {id}: {results:?}"))
    };
    let shared = by_id("s/shared");
    assert_eq!(verdict(shared).0, "parity", "{shared:#}");
    for side in ["baseline_runs", "candidate_runs"] {
        let steps = shared[side][0]["steps"].as_array().unwrap();
        let seen = steps
            .iter()
            .find(|s| s["name"] == "sees the web server's processes");
        assert_eq!(
            seen.unwrap()["stdout"]["text"],
            "httpd seen\n",
            "{side}: {steps:?}"
        );
        let watcher = steps.iter().find(|s| s["name"] == "watcher").unwrap();
        assert_eq!(watcher["exit_code"], "running", "{side}: {watcher:#}");
        let fetch = steps.iter().find(|s| s["name"] == "fetch").unwrap();
        assert_eq!(fetch["stdout"]["text"], "from setup\n", "{side}: {fetch:#}");
        let web = steps.iter().find(|s| s["name"] == "web").unwrap();
        assert_eq!(web["kind"], "service");
        assert_eq!(
            web["ready"]["outcome"]["status"], "ready",
            "{side}: {web:#}"
        );
    }
    let differs = by_id("s/differs");
    let (v, reason) = verdict(differs);
    assert_eq!(v, "divergence", "{differs:#}");
    assert!(
        reason.starts_with("undeclared difference in service \"maker\""),
        "the first differing service is named: {reason}"
    );
    let sick = by_id("s/never_healthy");
    assert_eq!(verdict(sick).0, "parity", "{sick:#}");
    let steps = sick["candidate_runs"][0]["steps"].as_array().unwrap();
    assert_eq!(steps[0]["ready"]["outcome"]["status"], "unhealthy");
    assert!(
        steps[1]["engine"]["message"]
            .as_str()
            .unwrap()
            .contains("dependency \"sick\" was not healthy"),
        "{steps:?}"
    );
    assert_eq!(leftovers(pid), Vec::<String>::new());
}

#[test]
fn an_interrupt_during_start_up_leaves_no_container_network_or_volume() {
    if !engines_up() {
        return;
    }
    let p = Project::new("interrupt");
    p.scenario(
        "slow",
        r#"description: a stack whose first service takes its time to be ready
services:
  slow:
    image: busybox
    command: [sleep, "600"]
    volumes: ["v:/v"]
    ready: { file: /never, timeout: 60s }
  next:
    image: busybox
    command: [sleep, "600"]
    volumes: ["v:/v"]
    depends_on: { slow: { condition: service_healthy } }
volumes: { v: {} }
networks: { back: {} }
"#,
    );
    for ms in [800u64, 2000, 3500] {
        let child = p.parity(&["run", "--format", "json"]).spawn().unwrap();
        let pid = child.id();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
        let started = Instant::now();
        let out: Output = child.wait_with_output().unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the interrupted run took {:?}",
            started.elapsed()
        );
        let code = out.status.code();
        assert!(
            code == Some(130) || code.is_none() || code == Some(0),
            "SIGINT after {ms} ms: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            leftovers(pid),
            Vec::<String>::new(),
            "SIGINT after {ms} ms left objects behind\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_killed_stack_run_is_swept_by_the_next() {
    if !engines_up() {
        return;
    }
    let p = Project::new("killed");
    p.scenario(
        "slow",
        r#"description: a stack that is still starting when its run is killed
services:
  slow:
    image: busybox
    command: [sleep, "600"]
    volumes: ["v:/v"]
    ready: { exec: ["false"], timeout: 8s }
volumes: { v: {} }
"#,
    );
    let child = p.parity(&["run", "--format", "json"]).spawn().unwrap();
    let pid = child.id();
    // Until the stack's container exists: its network and volume do too.
    let started = Instant::now();
    while leftovers(pid).len() < 3 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
    let _ = child.wait_with_output();
    assert!(
        leftovers(pid).len() >= 3,
        "the killed run had made its container, network and volume: {:?}",
        leftovers(pid)
    );
    // The next run's sweep at start removes what the dead run left.
    let (_, _) = p.run();
    assert_eq!(leftovers(pid), Vec::<String>::new());
}
