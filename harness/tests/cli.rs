//! The `parity` binary as users run it: exit statuses, load errors, JSON
//! output, and container hygiene after normal, failed and interrupted runs.
//! Tests that need engines say so and return where the baseline's engine is
//! not reachable (CI always starts it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Runs parity to the end: its output, and its pid (the value of the
/// `io.parity.pid` label on the containers it created).
fn parity_run(args: &[&str]) -> (u32, Output) {
    let child = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parity runs");
    let pid = child.id();
    (pid, child.wait_with_output().expect("parity finishes"))
}

fn parity(args: &[&str]) -> Output {
    parity_run(args).1
}

const ENGINES: [&str; 2] = ["/var/run/docker.sock", "/run/parity/userns-remap.sock"];

fn engines_up() -> bool {
    let up = ENGINES.iter().all(|s| Path::new(s).exists());
    if !up {
        eprintln!(
            "skipped: the Docker engines are not running (runtimes/setup-host.sh starts them)"
        );
    }
    up
}

/// Containers on either engine created by the parity process `pid`.
fn leftovers(pid: u32) -> usize {
    ENGINES
        .iter()
        .map(|sock| {
            let out = Command::new("docker")
                .args([
                    "-H",
                    &format!("unix://{sock}"),
                    "ps",
                    "-aq",
                    "--filter",
                    &format!("label=io.parity.pid={pid}"),
                ])
                .output()
                .expect("docker CLI");
            String::from_utf8_lossy(&out.stdout).lines().count()
        })
        .sum()
}

fn meta(dir: &str) -> String {
    format!("harness/tests/meta/{dir}")
}

#[test]
fn a_bad_scenario_is_a_configuration_error_with_its_line() {
    let dir = std::env::temp_dir().join(format!("parity-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("typo.yaml"), "description: d\ncomand: [true]\n").unwrap();
    let out = parity(&["run", dir.to_str().unwrap(), "--candidate", "userns-remap"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("typo.yaml:2:1"), "{err}");
    assert!(err.contains("unknown field `comand`"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_runtime_is_a_configuration_error() {
    let out = parity(&["run", &meta("parity"), "--candidate", "no-such-runtime"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown runtime"));
}

#[test]
fn exit_status_follows_the_verdicts() {
    if !engines_up() {
        return;
    }
    let ok = parity(&[
        "run",
        &meta("parity/echo.yaml"),
        &meta("expected"),
        "--candidate",
        "userns-remap",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let (pid, bad) = parity_run(&[
        "run",
        &meta("divergence/uid_map_undeclared.yaml"),
        "--candidate",
        "userns-remap",
    ]);
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.contains("stdout differs"), "{text}");
    assert!(text.contains("+++ userns-remap"), "{text}");
    assert!(!text.contains('\u{1b}'), "NO_COLOR is respected: {text}");
    assert_eq!(leftovers(pid), 0);
}

#[test]
fn json_output_carries_verdicts_and_both_sides() {
    if !engines_up() {
        return;
    }
    let out = parity(&[
        "run",
        &meta("divergence/engine_refusal.yaml"),
        "--candidate",
        "userns-remap",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let r = &doc["results"][0];
    assert_eq!(r["verdict"], "divergence");
    assert_eq!(r["baseline_runs"][0]["engine"]["status"], "started");
    assert_eq!(r["candidate_runs"][0]["engine"]["status"], "refused");
    assert!(
        r["candidate_runs"][0]["engine"]["message"]
            .as_str()
            .unwrap()
            .contains("host")
    );
    assert_eq!(doc["schema_version"], 1);
}

#[test]
fn an_interrupted_run_leaves_no_container() {
    if !engines_up() {
        return;
    }
    let child = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args([
            "run",
            &meta("parity/both_time_out.yaml"),
            "--candidate",
            "userns-remap",
        ])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until its containers exist, then interrupt as Ctrl-C would.
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while leftovers(pid) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(leftovers(pid) >= 1, "the run started containers");
    assert!(
        Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leftovers(pid), 0, "containers remain after Ctrl-C");
}

/// A temporary project with the shipped `runc` profile and `absent`, whose
/// OCI runtime no engine has, and one scenario that runs anywhere.
fn project_with_absent_candidate(name: &str) -> PathBuf {
    let dir = root()
        .join("target")
        .join(format!("signoff-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("runtimes")).unwrap();
    std::fs::create_dir_all(dir.join("scenarios/basics")).unwrap();
    std::fs::copy(
        root().join("runtimes/runc.yaml"),
        dir.join("runtimes/runc.yaml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("runtimes/absent.yaml"),
        "name: absent\noci_runtime: parity-absent-runtime\nengine: unix:///var/run/docker.sock\ninstall: nothing installs it\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("parity.toml"),
        "baseline = \"runc\"\ncandidates = [\"absent\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("scenarios/basics/echo.yaml"),
        "description: echo\nimage: busybox:latest\ncommand: [echo, hi]\n",
    )
    .unwrap();
    dir
}

#[test]
fn an_unavailable_candidate_is_incomplete_and_required_fails() {
    if !engines_up() {
        return;
    }
    let dir = project_with_absent_candidate("absent");
    let root_arg = dir.display().to_string();
    let report = dir.join("report");
    let out = parity(&[
        "run",
        "--root",
        &root_arg,
        "--candidate",
        "absent",
        "--report",
        &report.display().to_string(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // Nothing ran under any candidate: NOT READY, exit 1, never READY.
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("NOT READY: no scenario ran"), "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("absent unavailable"))
            .count(),
        1,
        "one grouped line: {text}"
    );
    assert!(text.contains("1 scenario(s) skipped"), "{text}");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.join("results.json")).unwrap()).unwrap();
    assert_eq!(doc["signoff"]["word"], "NOT READY");
    assert_eq!(doc["results"][0]["skip"], "unavailable");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn require_makes_a_missing_candidate_a_failure() {
    if !engines_up() {
        return;
    }
    let dir = project_with_absent_candidate("require");
    let root_arg = dir.display().to_string();
    // runc against itself covers the scenario; `absent` does not.
    std::fs::copy(
        root().join("runtimes/runc.yaml"),
        dir.join("runtimes/runc-again.yaml"),
    )
    .unwrap();
    let again = std::fs::read_to_string(dir.join("runtimes/runc-again.yaml"))
        .unwrap()
        .replace("name: runc", "name: runc-again");
    std::fs::write(dir.join("runtimes/runc-again.yaml"), again).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--root", &root_arg, "--candidate", "runc-again"];
        args.extend_from_slice(extra);
        let out = parity(&args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (code, text) = run(&["--candidate", "absent"]);
    assert_eq!(code, Some(0), "INCOMPLETE exits 0 unless required: {text}");
    assert!(text.contains("INCOMPLETE: "), "{text}");
    assert!(!text.contains("READY: every"), "{text}");
    let (code, text) = run(&["--require", "absent"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("NOT READY: required candidate(s) not fully covered: absent"),
        "{text}"
    );
    let (code, text) = run(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("READY: every candidate ran"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A folder under target/ whose `docker.sock` is a link to the production
/// engine's socket: an engine reachable only where DOCKER_HOST or a context
/// says.
fn relinked_socket(tag: &str) -> PathBuf {
    let dir = root()
        .join("target")
        .join(format!("endpoint-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(ENGINES[0], dir.join("docker.sock")).unwrap();
    dir
}

fn parity_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parity"));
    cmd.args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_CONFIG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("parity runs")
}

#[test]
fn shipped_profiles_follow_docker_host_and_contexts() {
    if !engines_up() {
        return;
    }
    let dir = relinked_socket("host");
    let host = format!("unix://{}", dir.join("docker.sock").display());
    let out = parity_env(
        &[
            "doctor",
            "--baseline",
            "runc",
            "--candidate",
            "userns-remap",
        ],
        &[("DOCKER_HOST", &host)],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains(&format!("ok    runc: runc on {host} (from DOCKER_HOST)")),
        "{text}"
    );

    // The same engine through a Docker CLI context in a HOME of its own.
    let home = dir.join("home");
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(b"relinked")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let meta_dir = home.join(".docker/contexts/meta").join(digest);
    std::fs::create_dir_all(&meta_dir).unwrap();
    std::fs::write(
        meta_dir.join("meta.json"),
        format!("{{\"Name\":\"relinked\",\"Endpoints\":{{\"docker\":{{\"Host\":\"{host}\"}}}}}}"),
    )
    .unwrap();
    std::fs::write(
        home.join(".docker/config.json"),
        "{\"currentContext\":\"relinked\"}",
    )
    .unwrap();
    let home_s = home.display().to_string();
    let out = parity_env(
        &[
            "run",
            &meta("parity/echo.yaml"),
            "--baseline",
            "runc",
            "--candidate",
            "userns-remap",
            "--format",
            "json",
        ],
        &[("HOME", &home_s)],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let endpoints: Vec<&str> = doc["engines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["endpoint"].as_str())
        .collect();
    assert!(endpoints.contains(&host.as_str()), "{endpoints:?}");

    // A context that does not exist: unavailable, saying so, never the
    // default socket instead.
    let out = parity_env(
        &[
            "doctor",
            "--baseline",
            "runc",
            "--candidate",
            "userns-remap",
        ],
        &[("HOME", &home_s), ("DOCKER_CONTEXT", "gone")],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("FAIL  runc: cannot reach the engine at docker-context://gone"),
        "{text}"
    );
    assert!(
        text.contains("(endpoint from docker context \"gone\" (DOCKER_CONTEXT))"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_engine_that_does_not_answer_is_named_with_its_origin() {
    let dir = root()
        .join("target")
        .join(format!("endpoint-dead-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // A socket file nobody listens on.
    let path = dir.join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let host = format!("unix://{}", path.display());
    let out = parity_env(
        &[
            "doctor",
            "--baseline",
            "runc",
            "--candidate",
            "userns-remap",
        ],
        &[("DOCKER_HOST", &host)],
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line = text
        .lines()
        .find(|l| l.contains("runc:"))
        .unwrap_or_default();
    assert!(
        line.contains(&format!("cannot reach the engine at {host}")),
        "{text}"
    );
    assert!(line.contains("is the engine running"), "{line}");
    assert!(line.contains("(endpoint from DOCKER_HOST)"), "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn lint_and_run_work_from_any_folder_with_the_built_in_profiles() {
    // Outside this repository: no parity.toml above it, no runtimes/.
    let dir = std::env::temp_dir().join(format!("parity-elsewhere-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        root().join("harness/tests/meta/parity/echo.yaml"),
        dir.join("echo.yaml"),
    )
    .unwrap();
    let in_dir = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_parity"))
            .args(args)
            .current_dir(&dir)
            .env("NO_COLOR", "1")
            .env_remove("PARITY_ROOT")
            .output()
            .expect("parity runs")
    };
    let lint = in_dir(&["lint", "echo.yaml"]);
    let text = String::from_utf8_lossy(&lint.stdout).to_string();
    assert_eq!(lint.status.code(), Some(0), "{text}");
    assert!(text.contains("0 error(s)"), "{text}");
    if engines_up() {
        let run = in_dir(&["run", "echo.yaml", "--candidate", "userns-remap"]);
        let text = String::from_utf8_lossy(&run.stdout).to_string();
        let err = String::from_utf8_lossy(&run.stderr).to_string();
        assert_eq!(run.status.code(), Some(0), "{text}{err}");
        assert!(
            text.contains("PARITY     echo [runc vs userns-remap]"),
            "{text}"
        );
        assert!(!dir.join("runtimes").exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
