//! Builds the static `parity-probe` binary and hands its path to the
//! harness as `PARITY_PROBE_PATH` (embedded by `src/probe_bin.rs`).
//!
//! A nested `cargo build -p parity-probe --release` runs with its own
//! `--target-dir` under OUT_DIR (so it never waits on the outer build's
//! directory lock), an explicit `--target` (needed for `+crt-static` to
//! apply to the binary and not to build scripts) and the outer build's
//! cargo-specific environment cleared. `PARITY_PROBE_BIN=/path` skips the
//! nested build and embeds a prebuilt probe (cross builds, packaging).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Inherited variables that would redirect or alter the nested build.
const CLEARED: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_PATH",
    "__CARGO_FIX_PLZ",
    "CARGO_LLVM_COV",
    "CARGO_INCREMENTAL",
];

fn main() {
    println!("cargo:rerun-if-env-changed=PARITY_PROBE_BIN");
    if let Some(prebuilt) = env::var_os("PARITY_PROBE_BIN") {
        let path = PathBuf::from(prebuilt);
        assert!(
            path.is_file(),
            "PARITY_PROBE_BIN={} is not a file",
            path.display()
        );
        println!("cargo:rerun-if-changed={}", path.display());
        println!("cargo:rustc-env=PARITY_PROBE_PATH={}", path.display());
        return;
    }

    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().expect("workspace root").to_path_buf();
    for p in [
        "probe/src",
        "probe/Cargo.toml",
        "wire/src",
        "wire/Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }

    let target = env::var("TARGET").expect("TARGET");
    assert!(
        target.contains("-linux-"),
        "the probe is a Linux binary; for target {target} set PARITY_PROBE_BIN to a prebuilt probe"
    );
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target_dir = out_dir.join("probe-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());

    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
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
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static");
    for var in CLEARED.iter().filter(|v| **v != "CARGO_ENCODED_RUSTFLAGS") {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("running cargo for the nested probe build");
    assert!(
        status.success(),
        "building the static parity-probe failed ({status})"
    );

    let binary = target_dir
        .join(&target)
        .join("release")
        .join("parity-probe");
    assert!(
        exists(&binary),
        "the probe build produced no {}",
        binary.display()
    );
    println!("cargo:rustc-env=PARITY_PROBE_PATH={}", binary.display());
}

fn exists(p: &Path) -> bool {
    p.metadata().map(|m| m.is_file()).unwrap_or(false)
}
