//! The scenario harness under cargo-nextest, which runs every trial in a
//! process of its own: the trials of a candidate that is not available
//! here (sysbox-runc is not registered with this host's engine, or its
//! engine is down) are shown as skipped, never as passed; forced to run
//! with `--run-ignored all` they fail with the reason, never pass.
//! Ignored with the reason where cargo-nextest is not installed or the
//! candidate is available after all.

use std::process::Command;

use parity::config::workspace_root;

/// A candidate that this test needs unavailable.
const CANDIDATE: &str = "sysbox-runc";

fn nextest_installed() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn sysbox_registered() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{json .Runtimes}}"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(CANDIDATE))
}

/// Runs the scenario harness's `capabilities/` trials under nextest with
/// `extra` arguments; returns the status lines of the candidate's trials.
fn nextest(extra: &[&str]) -> (Vec<String>, String) {
    let out = Command::new("cargo")
        .current_dir(workspace_root())
        .args([
            "nextest",
            "run",
            "-p",
            "parity",
            "--test",
            "scenarios",
            "--no-fail-fast",
            "--color",
            "never",
            "--status-level",
            "all",
            "--final-status-level",
            "none",
            "--no-tests",
            "pass",
            "-E",
            "test(/capabilities\\//)",
        ])
        .args(extra)
        .env("PARITY_CANDIDATES", CANDIDATE)
        .env_remove("NEXTEST")
        .env_remove("NEXTEST_RUN_ID")
        .output()
        .expect("cargo nextest runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A failure is printed twice (as it happens and in the summary).
    let mut lines: Vec<String> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| l.contains(&format!("-vs-{CANDIDATE}] capabilities/")))
        .filter(|l| {
            let w = l.split_whitespace().next().unwrap_or("");
            matches!(w, "PASS" | "FAIL" | "SKIP" | "SIGTERM" | "TIMEOUT" | "LEAK")
        })
        .map(|l| {
            let (status, rest) = l.split_once(' ').unwrap_or((l, ""));
            let name = rest.rsplit(' ').next().unwrap_or(rest);
            format!("{status} {name}")
        })
        .collect();
    lines.sort();
    lines.dedup();
    (lines, text)
}

#[test]
fn an_unavailable_candidate_never_passes_under_nextest() {
    if !nextest_installed() {
        eprintln!("ignored: cargo-nextest is not installed (cargo install cargo-nextest)");
        return;
    }
    if sysbox_registered() {
        eprintln!("ignored: {CANDIDATE} is available here, so its trials may pass");
        return;
    }
    let (lines, text) = nextest(&[]);
    assert!(
        !lines.is_empty(),
        "no trial of {CANDIDATE} was listed:\n{text}"
    );
    for l in &lines {
        assert!(l.starts_with("SKIP"), "not skipped: {l}\n{text}");
    }

    let (forced, text) = nextest(&["--run-ignored", "all"]);
    assert_eq!(forced.len(), lines.len(), "{text}");
    for l in &forced {
        assert!(
            l.starts_with("FAIL"),
            "forced to run, it must fail: {l}\n{text}"
        );
    }
    assert!(
        text.contains("cannot run here"),
        "the reason is given:\n{text}"
    );
}
