//! The `parity` binary as users run it: exit statuses, load errors, JSON
//! output, and container hygiene after normal, failed and interrupted runs.
//! Tests that need engines say so and return where the baseline's engine is
//! not reachable (CI always starts it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{ENGINES, engines_up, root};

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

/// The ids `parity list --format json` prints with these extra arguments.
fn listed_ids(extra: &[&str]) -> Vec<String> {
    let mut args = vec!["list", "--format", "json"];
    args.extend_from_slice(extra);
    let out = parity(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    doc.as_array()
        .expect("a list")
        .iter()
        .map(|s| s["id"].as_str().expect("an id").to_string())
        .collect()
}

#[test]
fn partitions_are_disjoint_and_cover_the_selection() {
    let all = listed_ids(&[]);
    assert!(
        all.len() >= 6,
        "the library has scenarios to split: {all:?}"
    );
    let mut seen = std::collections::BTreeMap::new();
    for k in 1..=3 {
        let part = listed_ids(&["--partition", &format!("{k}/3")]);
        assert!(
            !part.is_empty() && part.len() < all.len(),
            "{k}/3 is a proper part: {part:?}"
        );
        for id in part {
            if let Some(other) = seen.insert(id.clone(), k) {
                panic!("{id} is in parts {other}/3 and {k}/3");
            }
        }
    }
    let covered: Vec<&String> = seen.keys().collect();
    let want: Vec<&String> = all.iter().collect();
    assert_eq!(covered, want, "the parts together are the selection");
    // Stable: the same part twice is the same list.
    assert_eq!(
        listed_ids(&["--partition", "2/3"]),
        seen.iter()
            .filter(|(_, k)| **k == 2)
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_partition_that_names_no_part_is_a_usage_error() {
    for cmd in ["list", "run"] {
        for bad in ["0/3", "4/3", "3", "a/3"] {
            let out = parity(&[cmd, "--partition", bad]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd} {bad}: {err}");
            assert!(
                err.contains("--partition") && err.contains(&format!("`{bad}`")),
                "{cmd} {bad}: the error names the flag and the value: {err}"
            );
        }
    }
}

/// What the progress line writes: its text, the carriage return and the
/// erase-line sequence it redraws with, the spinner's braille.
fn has_progress(text: &str) -> bool {
    text.contains(" done, ")
        || text.contains("running, ")
        || text.contains('\r')
        || text.contains("\x1b[2K")
        || text.chars().any(|c| ('\u{2800}'..='\u{28ff}').contains(&c))
}

#[test]
fn a_run_off_a_terminal_prints_no_progress() {
    if !engines_up() {
        return;
    }
    let echo = format!("{}/echo.yaml", meta("parity"));
    for format in ["text", "json"] {
        let (pid, out) = parity_run(&[
            "run",
            &echo,
            "--candidate",
            "userns-remap",
            "--format",
            format,
        ]);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{format}: {stderr}");
        assert!(
            !has_progress(&stderr) && !has_progress(&stdout),
            "{format}: no progress when stderr is a pipe:\n{stderr}"
        );
        assert!(
            format == "json" || stdout.contains("PARITY"),
            "the verdicts are there: {stdout}"
        );
        assert_eq!(leftovers(pid), 0);
    }
}

/// Runs parity on a pseudo-terminal (util-linux `script`): everything it
/// wrote there, or `None` where `script` is not installed.
fn parity_on_a_terminal(args: &[&str]) -> Option<(Option<i32>, String)> {
    let mut line = format!("'{}'", env!("CARGO_BIN_EXE_parity"));
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(root())
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => Some((
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )),
        Err(e) => {
            eprintln!("skipped: util-linux `script` cannot run here ({e})");
            None
        }
    }
}

#[test]
fn a_run_on_a_terminal_shows_progress_between_whole_verdict_lines() {
    if !engines_up() {
        return;
    }
    let parity_dir = meta("parity");
    let scenarios = [
        format!("{parity_dir}/echo.yaml"),
        format!("{parity_dir}/exit_code_passes_through.yaml"),
    ];
    let mut args = vec!["run", &scenarios[0], &scenarios[1]];
    args.extend(["--candidate", "userns-remap", "-j", "1"]);
    let Some((code, text)) = parity_on_a_terminal(&args) else {
        return;
    };
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("/2 done, ") && text.contains("running, 0 failed, 0:"),
        "the progress line: {text:?}"
    );
    // Each verdict is a line of its own: what the terminal shows of it
    // (after the last carriage return, without escape sequences) starts
    // with the verdict and carries no progress text.
    let mut verdicts = 0;
    for raw in text.split('\n').filter(|l| l.contains("PARITY")) {
        let shown = raw.rsplit('\r').find(|s| !s.is_empty()).unwrap_or("");
        let shown = shown.replace("\x1b[2K", "");
        assert!(
            shown.starts_with("PARITY") && !shown.contains(" done, "),
            "{raw:?}"
        );
        verdicts += 1;
    }
    assert_eq!(verdicts, 2, "{text:?}");
    // With --format json the terminal gets the verdicts and no progress.
    args.extend(["--format", "json"]);
    let (code, text) = parity_on_a_terminal(&args).expect("script ran above");
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("PARITY") && !text.contains(" done, "),
        "{text:?}"
    );
}

#[test]
fn run_takes_the_part_that_list_shows() {
    if !engines_up() {
        return;
    }
    let dir = "scenarios/workloads";
    let want = listed_ids(&[dir, "--partition", "2/2"]);
    let (pid, out) = parity_run(&[
        "run",
        dir,
        "--candidate",
        "userns-remap",
        "--partition",
        "2/2",
        "--format",
        "json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!("partition 2/2: {} of the", want.len())),
        "{err}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let mut ran: Vec<String> = doc["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_string())
        .collect();
    ran.sort();
    ran.dedup();
    assert_eq!(ran, want);
    assert_eq!(leftovers(pid), 0);
}

#[test]
fn an_undeclared_mknod_comes_with_its_likely_cause() {
    if !engines_up() {
        return;
    }
    // A one-liner in a fresh folder: no `expect:`, the built-in profiles.
    let dir = std::env::temp_dir().join(format!("parity-explain-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("mknod.yaml"),
        "description: make a device node\ncommand: [mknod, /tmp/n, c, \"1\", \"3\"]\n",
    )
    .unwrap();
    let report = dir.join("report");
    let out = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args([
            "run",
            "mknod.yaml",
            "--candidate",
            "userns-remap",
            "--report",
        ])
        .arg(&report)
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .env_remove("PARITY_ROOT")
        .output()
        .expect("parity runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("likely cause: "))
        .unwrap_or_else(|| panic!("no likely cause shown:\n{text}"));
    assert!(
        line.contains("mknodat /tmp/n: EPERM under userns-remap")
            && line.contains("user namespace")
            && line.contains("(catalog S9)"),
        "{line}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("results.json")).unwrap())
            .unwrap();
    let r = &doc["results"][0];
    assert_eq!(r["verdict"], "divergence");
    let causes = r["likely_causes"].as_array().expect("likely_causes");
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0]["catalog"], "S9");
    assert_eq!(causes[0]["field"], "syscalls");
    assert!(
        causes[0]["cause"]
            .as_str()
            .unwrap()
            .contains("user namespace")
    );
    for (file, want) in [
        ("summary.md", "likely cause: mknodat /tmp/n: EPERM"),
        (
            "index.html",
            "Likely cause</b>: mknodat &#x2f;tmp&#x2f;n: EPERM",
        ),
        ("junit.xml", "likely cause: mknodat /tmp/n: EPERM"),
    ] {
        let body = std::fs::read_to_string(report.join(file)).unwrap();
        assert!(body.contains(want), "{file} lacks {want:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `parity` in `dir`, outside this repository's project.
fn parity_in(dir: &Path, args: &[&str]) -> (u32, Output) {
    let child = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PARITY_ROOT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("parity runs");
    let pid = child.id();
    (pid, child.wait_with_output().expect("parity finishes"))
}

fn text_of(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What the imported workload prints about itself: uid, gid, the
/// variable, the capability bounding set, its tmpfs, whether the rootfs
/// takes a write, and no_new_privs.
const SELF_REPORT: &str = "id -u; id -g; echo \"GREETING=$GREETING\"; grep CapBnd /proc/self/status; \
    grep ' /scratch ' /proc/mounts; touch /written 2>/dev/null && echo rootfs-writable || echo rootfs-read-only; \
    grep NoNewPrivs /proc/self/status";

#[test]
fn init_then_import_docker_run_lints_and_runs_with_exactly_those_options() {
    let dir = root()
        .join("target")
        .join(format!("parity-import-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let (_, init) = parity_in(&dir, &["init"]);
    assert_eq!(init.status.code(), Some(0), "{}", text_of(&init));
    assert!(text_of(&init).contains("created parity.toml"));
    let config = std::fs::read_to_string(dir.join("parity.toml")).unwrap();
    let (_, again) = parity_in(&dir, &["init"]);
    assert_eq!(again.status.code(), Some(2), "{}", text_of(&again));
    assert!(
        text_of(&again).contains("already exists"),
        "{}",
        text_of(&again)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("parity.toml")).unwrap(),
        config
    );

    let line = [
        "docker",
        "run",
        "--rm",
        "--cap-add",
        "NET_ADMIN",
        "--read-only",
        "--tmpfs",
        "/scratch:size=1m,mode=1777",
        "-e",
        "GREETING=hi",
        "-u",
        "1000:1000",
        "--security-opt",
        "no-new-privileges",
        "busybox:latest",
        "sh",
        "-c",
        SELF_REPORT,
    ];
    let mut args = vec!["import", "docker-run", "net/admin", "--"];
    args.extend(line);
    let (_, import) = parity_in(&dir, &args);
    assert_eq!(import.status.code(), Some(0), "{}", text_of(&import));
    assert!(
        text_of(&import).contains("created scenarios/net/admin.yaml"),
        "{}",
        text_of(&import)
    );
    let written = std::fs::read_to_string(dir.join("scenarios/net/admin.yaml")).unwrap();
    let (_, twice) = parity_in(&dir, &args);
    assert_eq!(twice.status.code(), Some(2), "{}", text_of(&twice));
    assert!(text_of(&twice).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(dir.join("scenarios/net/admin.yaml")).unwrap(),
        written
    );
    let (_, unknown) = parity_in(
        &dir,
        &[
            "import",
            "docker-run",
            "x",
            "--",
            "docker",
            "run",
            "--cap-ad",
            "X",
            "busybox",
            "true",
        ],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text_of(&unknown).contains("unknown docker run flag `--cap-ad`"));

    std::fs::write(
        dir.join("stack.yaml"),
        "services:\n  web:\n    image: busybox:latest\n    command: sh -c 'id -u'\n    read_only: true\n    ports: [\"80:80\"]\n",
    )
    .unwrap();
    let (_, compose) = parity_in(&dir, &["import", "compose", "stack.yaml", "--per-service"]);
    assert_eq!(compose.status.code(), Some(0), "{}", text_of(&compose));
    assert!(text_of(&compose).contains("created scenarios/stack/web.yaml"));
    // By default: one stack scenario that takes the Compose file as it is.
    let (_, stack) = parity_in(&dir, &["import", "compose", "stack.yaml"]);
    assert_eq!(stack.status.code(), Some(0), "{}", text_of(&stack));
    assert!(text_of(&stack).contains("created scenarios/stack/stack.yaml"));
    let written = std::fs::read_to_string(dir.join("scenarios/stack/stack.yaml")).unwrap();
    assert!(written.contains("compose: ../../stack.yaml"), "{written}");
    assert!(written.contains("allow_host: [ports]"), "{written}");

    let (_, lint) = parity_in(&dir, &["lint", "--strict"]);
    assert_eq!(lint.status.code(), Some(0), "{}", text_of(&lint));
    assert!(
        text_of(&lint).contains("0 error(s), 0 warning(s)"),
        "{}",
        text_of(&lint)
    );

    if engines_up() {
        let (pid, run) = parity_in(
            &dir,
            &["run", "--candidate", "userns-remap", "--format", "json"],
        );
        assert!(
            matches!(run.status.code(), Some(0 | 1)),
            "{}",
            text_of(&run)
        );
        let doc: serde_json::Value = serde_json::from_slice(&run.stdout).expect("stdout is JSON");
        let results = doc["results"].as_array().unwrap();
        let by_id = |id: &str| results.iter().find(|r| r["id"] == id).expect(id);
        assert_eq!(results.len(), 4, "{doc}");
        // The stack ran the same service, its output observed per service.
        let stack = by_id("stack/stack");
        assert_eq!(stack["verdict"], "parity", "{stack}");
        for side in ["baseline_runs", "candidate_runs"] {
            let web = &stack[side][0]["steps"][0];
            assert_eq!(web["name"], "web");
            assert_eq!(web["stdout"]["text"], "0\n", "{side}: {stack}");
        }
        // The first scenario `parity init` wrote runs alike everywhere.
        assert_eq!(by_id("basics/hello")["verdict"], "parity");
        // The Compose service ran with its options, its ports dropped.
        let web = by_id("stack/web");
        assert_eq!(web["config"]["HostConfig"]["ReadonlyRootfs"], true, "{web}");
        assert!(web["config"]["HostConfig"].get("PortBindings").is_none());
        assert_eq!(
            web["config"]["Cmd"],
            serde_json::json!(["sh", "-c", "id -u"])
        );
        for side in ["baseline_runs", "candidate_runs"] {
            assert_eq!(web[side][0]["stdout"]["text"], "0\n", "{side}: {web}");
        }
        let r = by_id("net/admin");
        // The container parity created carried exactly those options, on
        // top of parity's own (no log, no network, the pids limit, the runtime).
        let host = r["config"]["HostConfig"].as_object().unwrap();
        let mut keys: Vec<&str> = host.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "CapAdd",
                "LogConfig",
                "NetworkMode",
                "PidsLimit",
                "ReadonlyRootfs",
                "Runtime",
                "SecurityOpt",
                "Tmpfs"
            ]
        );
        assert_eq!(host["CapAdd"], serde_json::json!(["NET_ADMIN"]));
        assert_eq!(host["ReadonlyRootfs"], true);
        assert_eq!(
            host["SecurityOpt"],
            serde_json::json!(["no-new-privileges"])
        );
        assert_eq!(
            host["Tmpfs"],
            serde_json::json!({"/scratch": "size=1m,mode=1777"})
        );
        assert_eq!(r["config"]["Env"], serde_json::json!(["GREETING=hi"]));
        assert_eq!(r["config"]["User"], "1000:1000");
        assert_eq!(r["config"]["Image"], "busybox:latest");
        // And the workload saw them, on both sides.
        for side in ["baseline_runs", "candidate_runs"] {
            let run = &r[side][0];
            assert_eq!(run["engine"]["status"], "started", "{side}: {run}");
            assert_eq!(run["exit_code"]["code"], 0, "{side}: {run}");
            let out = run["stdout"]["text"].as_str().unwrap();
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(
                &lines[..3],
                ["1000", "1000", "GREETING=hi"],
                "{side}: {out}"
            );
            let bounding = lines[3].strip_prefix("CapBnd:\t").expect(out);
            let bounding = u64::from_str_radix(bounding, 16).unwrap();
            assert_eq!(
                (bounding >> 12) & 1,
                1,
                "{side}: CAP_NET_ADMIN (12) in {out}"
            );
            assert!(
                lines[4].starts_with("tmpfs /scratch tmpfs rw,"),
                "{side}: {out}"
            );
            assert!(lines[4].contains("size=1024k"), "{side}: {out}");
            assert_eq!(lines[5], "rootfs-read-only", "{side}: {out}");
            assert_eq!(lines[6], "NoNewPrivs:\t1", "{side}: {out}");
        }
        assert_eq!(leftovers(pid), 0);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
