//! What the integration tests that drive the real engines share: the
//! repository's root, the two engines' sockets, and whether both answer.
//! Where the engines are part of the job (`PARITY_REQUIRE_ENGINES`, set by
//! .ci/run), their absence fails the test instead of skipping it.

#![allow(dead_code)] // each test crate uses its own part of it

use std::path::{Path, PathBuf};

/// The repository's root (the workspace, above `harness/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The production engine's and the userns-remap engine's sockets.
pub const ENGINES: [&str; 2] = ["/var/run/docker.sock", "/run/parity/userns-remap.sock"];

/// Whether both engines accept a connection; when not, says the test is
/// skipped, or fails it under `PARITY_REQUIRE_ENGINES`.
pub fn engines_up() -> bool {
    let up = ENGINES
        .iter()
        .all(|s| std::os::unix::net::UnixStream::connect(s).is_ok());
    if !up {
        assert!(
            std::env::var_os("PARITY_REQUIRE_ENGINES").is_none(),
            "the Docker engines are not running and PARITY_REQUIRE_ENGINES is set"
        );
        eprintln!(
            "skipped: the Docker engines are not running (runtimes/setup-host.sh starts them)"
        );
    }
    up
}
