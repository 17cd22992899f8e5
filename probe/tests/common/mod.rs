//! Shared by the integration tests: the static probe binary, taken from
//! `PARITY_PROBE_BIN` or built the way `harness/build.rs` builds it
//! (release, explicit target, `+crt-static`, a target dir of its own).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The host's target triple (the tests run on Linux hosts only).
fn host_target() -> String {
    let out = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("host triple")
}

fn build_probe() -> PathBuf {
    if let Some(p) = std::env::var_os("PARITY_PROBE_BIN") {
        return PathBuf::from(p);
    }
    let target = host_target();
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("probe-static");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "-p",
            "parity-probe",
            "--release",
            "--target",
            &target,
            "--target-dir",
        ])
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .expect("cargo build of the probe");
    assert!(status.success(), "building the static probe failed");
    target_dir.join(target).join("release/parity-probe")
}

/// The static probe, built once per test binary.
pub fn probe_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(build_probe)
}
