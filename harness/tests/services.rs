//! Service scenarios through the `parity` binary, as users run them: the
//! DESIGN.md form runs exactly as written, an image nobody can provide is
//! an error that names it, and an interrupted service run (during a step)
//! leaves no container behind. Tests that need engines return where they
//! are not running (CI always starts them).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{ENGINES, engines_up, root};

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

/// Runs `parity run FILE --candidate userns-remap --format json`; the
/// first result and the exit status.
fn run_json(file: &Path) -> (serde_json::Value, Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args([
            "run",
            &file.display().to_string(),
            "--candidate",
            "userns-remap",
        ])
        .args(["--format", "json"])
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("parity runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    (doc["results"][0].clone(), out.status.code(), stderr)
}

/// DESIGN.md's example, byte for byte, in a folder beside the library's
/// images (its `image: { build: ../images/dind }` resolves there).
#[test]
fn the_design_example_runs_as_written() {
    if !engines_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("services")).unwrap();
    std::os::unix::fs::symlink(root().join("scenarios/images"), dir.path().join("images")).unwrap();
    let file = dir.path().join("services/dind_design.yaml");
    std::fs::write(
        &file,
        r#"description: Docker inside the container, as CI runners and dev containers do
image: { build: ../images/dind }   # a folder with a Dockerfile, relative to the scenario file
# image: debian:bookworm        # or any image name
command: [dockerd, --host=unix:///run/docker.sock]   # the service; it keeps running
ready:                          # when the service is up; one of log / exec / file
  log: "API listen on /run/docker.sock"   # regex over the container's stdout+stderr
  # exec: [docker, info]        # a command that exits 0
  # file: /run/docker.sock
  timeout: 90s                  # not ready by then: the observation says so (compared)
steps:                          # run in order with exec once ready; each observed and compared
  - name: info
    run: [docker, info, --format, "{{.Driver}}"]
  - name: inner container
    run: [sh, -c, "docker load -i /images/busybox.tar && docker run --rm busybox echo hi"]
    timeout: 60s
    user: "0"                   # optional, like exec: user, environment, working_dir
"#,
    )
    .unwrap();
    let (r, _, stderr) = run_json(&file);
    // dockerd's own log carries timestamps, so the two sides' output differ
    // run to run; what matters here is that it ran as a service: both
    // sides observed readiness (dockerd exits: iptables is not permitted)
    // and the two steps, and the images were the same.
    assert_ne!(r["verdict"], "error", "{r}\n{stderr}");
    for side in ["baseline_runs", "candidate_runs"] {
        let o = &r[side][0];
        assert_eq!(o["ready"]["outcome"]["status"], "exited", "{o}");
        assert_eq!(o["exit_code"]["code"], 1, "{o}");
        let steps: Vec<&str> = o["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(steps, ["info", "inner container"]);
        assert!(
            o["stderr"]["text"]
                .as_str()
                .unwrap()
                .contains("failed to start daemon"),
            "{o}"
        );
    }
    let base = r["config"]["Image"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(base.starts_with("parity-build/"), "{}", r["config"]);
    let ids: Vec<String> = ENGINES
        .iter()
        .map(|sock| {
            let out = Command::new("docker")
                .args(["-H", &format!("unix://{sock}"), "image", "inspect"])
                .args(["--format", "{{.Id}}", &base])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect();
    assert!(!ids[0].is_empty() && ids[0] == ids[1], "{ids:?}");
}

#[test]
fn an_image_nobody_has_is_an_error_naming_it() {
    if !engines_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pull.yaml");
    std::fs::write(
        &file,
        "description: d\nimage: parity-no-such-image:never\ncommand: [\"true\"]\nsteps: [{ name: a, run: [\"true\"] }]\n",
    )
    .unwrap();
    let (r, code, _) = run_json(&file);
    assert_eq!(code, Some(1));
    assert_eq!(r["verdict"], "error");
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("parity-no-such-image:never") && reason.contains("could not be pulled"),
        "{reason}"
    );
}

#[test]
fn an_interrupted_service_leaves_no_container() {
    if !engines_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("interrupt.yaml");
    std::fs::write(
        &file,
        "description: d\ncommand: [sleep, \"300\"]\nready: { exec: [\"true\"] }\nobserve: [exit_code]\nsteps:\n  - { name: long, run: [sh, -c, \"sleep 300 & sleep 300\"], timeout: 200s }\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args([
            "run",
            &file.display().to_string(),
            "--candidate",
            "userns-remap",
        ])
        .current_dir(root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    while leftovers(pid) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(leftovers(pid), 2, "both services run");
    // Past readiness, into the long step.
    std::thread::sleep(Duration::from_secs(2));
    let interrupted = Instant::now();
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
    assert!(
        interrupted.elapsed() < Duration::from_secs(60),
        "the interrupt did not wait for the step's 200 s"
    );
    assert_eq!(leftovers(pid), 0, "containers remain after Ctrl-C");
}
