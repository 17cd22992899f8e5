//! In-container builds: a builder container with a Docker engine inside,
//! running under a profile's runtime, for profiles whose builds run there
//! (`builds: { in_container: IMAGE }`, as buildx's `docker-container`
//! driver and ECI build).
//!
//! Owns starting that container on the side's engine with the profile's
//! runtime and container defaults, its inner engine's socket on a
//! host folder bind-mounted at [`SOCKET_DIR`] (so parity talks to the inner
//! engine through the same Engine API code as to any other, and the build
//! needs no network), waiting until the inner engine answers, and removing
//! the container, its `/var/lib/docker` volume (every image the inner
//! engine made) and the folder on every path. A builder whose engine never
//! comes up is harness trouble with its reason and the container's last
//! log lines, never a build outcome. Building is `run::build`'s.

use std::path::PathBuf;
use std::time::Duration;

use crate::run::engine::{Created, Deadline, Engine, RunContext};
use crate::run::plan::RunSpec;

/// Where the inner engine's socket is, inside the builder container.
pub const SOCKET_DIR: &str = "/run/parity-builder";
/// How long the inner engine has to answer.
pub const UP_TIMEOUT: Duration = Duration::from_secs(90);

/// A running builder container and its inner engine.
pub struct Builder {
    /// The inner engine, reached through the bind-mounted socket.
    pub engine: Engine,
    /// The builder's image, for reports.
    pub image: String,
    created: Created,
    dir: PathBuf,
}

/// The builder container's run: `spec` (the build scenario's plan under
/// the profile: its runtime and container defaults) with `image` running
/// the inner engine, its socket in `dir`.
pub fn builder_spec(spec: &RunSpec, image: &str, dir: &std::path::Path) -> RunSpec {
    let mut s = spec.clone();
    s.image = Some(image.to_string());
    s.build = None;
    s.probe = None;
    // Containers log nowhere (the `none` driver): the inner engine's log
    // goes beside its socket, read from the host when it does not come up.
    s.command = vec![
        "sh".into(),
        "-c".into(),
        format!(
            "exec dockerd --host=unix://{SOCKET_DIR}/docker.sock >{SOCKET_DIR}/dockerd.log 2>&1"
        ),
    ];
    s.container
        .volumes
        .push(format!("{}:{SOCKET_DIR}", dir.display()));
    s
}

/// Starts a builder container from `image` on `outer` and waits for its
/// engine. `Err` says why there is no builder (refused, exited, no answer
/// in time), with the container's last log lines.
pub async fn start(
    outer: &Engine,
    spec: &RunSpec,
    image: &str,
    ctx: &RunContext,
) -> Result<Builder, String> {
    if !outer.endpoint.starts_with("unix://") {
        return Err(format!(
            "in-container builds need the engine's host (a unix:// endpoint) to reach the \
             builder's socket; {} is remote",
            outer.endpoint
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "parity-builder-{}-{}",
        ctx.run_id.to_lowercase(),
        ctx.seq
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // The inner engine's root may be a mapped uid on the host.
    let _ = std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777));
    let what = format!("the builder container ({image} under {})", spec.oci_runtime);
    let result = up(outer, spec, image, ctx, &dir, &what).await;
    match result {
        Ok((engine, created)) => Ok(Builder {
            engine,
            image: image.to_string(),
            created,
            dir,
        }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

async fn up(
    outer: &Engine,
    spec: &RunSpec,
    image: &str,
    ctx: &RunContext,
    dir: &std::path::Path,
    what: &str,
) -> Result<(Engine, Created), String> {
    if !outer.transport().is_local() {
        return Err(format!(
            "{what} needs an engine on this machine: its inner engine's socket is bound from a folder here, which {} on another machine cannot mount; build with `builds: engine` for this profile, or run it on a local engine",
            outer.endpoint
        ));
    }
    let s = builder_spec(spec, image, dir);
    let deadline = Deadline::after(UP_TIMEOUT + spec.grace);
    let (mut created, _config, refusal) = match outer.create(&s, ctx, &deadline).await {
        Ok(Ok(c)) => c,
        Ok(Err((_, r))) => return Err(format!("{what} was refused: {}", r.message)),
        Err(e) => return Err(format!("{what}: {e}")),
    };
    if let Some(r) = refusal {
        outer.remove_created(&mut created).await;
        return Err(format!("{what} was refused: {}", r.message));
    }
    let id = created.id.clone().expect("a created container has an id");
    match outer.start(&id, &deadline).await {
        Ok(None) => {}
        Ok(Some(r)) => {
            outer.remove_created(&mut created).await;
            return Err(format!("{what} was refused at start: {}", r.message));
        }
        Err(e) => {
            outer.remove_created(&mut created).await;
            return Err(format!("{what}: {e}"));
        }
    }
    let socket = format!("unix://{}/docker.sock", dir.display());
    let began = tokio::time::Instant::now();
    let failure = loop {
        if ctx.cancel.is_cancelled() {
            break "interrupted".to_string();
        }
        if dir.join("docker.sock").exists()
            && let Ok(engine) = Engine::connect(&socket).await
        {
            return Ok((engine, created));
        }
        match outer.running(&id, &deadline).await {
            Ok(true) => {}
            Ok(false) => {
                let log = log_tail(dir);
                break format!(
                    "{what} exited before its engine answered (nested engines need a runtime \
                     that runs them unprivileged, such as Sysbox); its last lines: {}",
                    log.trim()
                );
            }
            Err(e) => break format!("{what}: {e}"),
        }
        if began.elapsed() > UP_TIMEOUT {
            let log = log_tail(dir);
            break format!(
                "{what}'s engine did not answer within {}s; its last lines: {}",
                UP_TIMEOUT.as_secs(),
                log.trim()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    outer.remove_created(&mut created).await;
    Err(failure)
}

/// The inner engine's last log lines (its `failed to start daemon` line
/// first, when there is one), without timestamps.
fn log_tail(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines
        .iter()
        .find(|l| l.starts_with("failed to start daemon"))
    {
        Some(l) => l.to_string(),
        None => lines[lines.len().saturating_sub(3)..].join(" | "),
    }
}

impl Builder {
    /// Removes the builder container with its volumes (the inner engine's
    /// images and cache) and the socket's folder.
    pub async fn stop(mut self, outer: &Engine) {
        outer.remove_created(&mut self.created).await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_runs_the_inner_engine_on_the_bound_socket() {
        let spec = RunSpec {
            stack: None,
            scenario_id: "builds/x".into(),
            scenario_path: "scenarios/builds/x.yaml".into(),
            runtime: "sysbox-runc".into(),
            oci_runtime: "sysbox-runc".into(),
            endpoint: "unix:///var/run/docker.sock".into(),
            image: None,
            command: Vec::new(),
            container: Default::default(),
            timeout: Duration::from_secs(30),
            grace: Duration::from_secs(5),
            probe: None,
            build: Some("scenarios/images/dind".into()),
        };
        let s = builder_spec(&spec, "parity-build/abc", std::path::Path::new("/tmp/b"));
        assert_eq!(s.image.as_deref(), Some("parity-build/abc"));
        assert_eq!(s.oci_runtime, "sysbox-runc");
        assert_eq!(
            s.command[2],
            "exec dockerd --host=unix:///run/parity-builder/docker.sock >/run/parity-builder/dockerd.log 2>&1"
        );
        assert_eq!(s.container.volumes, ["/tmp/b:/run/parity-builder"]);
        assert!(s.build.is_none() && s.probe.is_none());
    }
}
