//! One container's life: create, upload the probe, attach to its output,
//! start, attach the tracer, wait (with the scenario's timeout and a kill
//! past it), drain stdout and stderr byte for byte, download the probe's
//! results, and remove the container and its volumes on every path.
//!
//! The whole path is bounded by one [`Deadline`] (the timeout plus a grace
//! for setup and teardown), so a stalled engine costs one scenario one
//! deadline. An engine that refuses the container is an observation; an
//! engine in trouble is an error (see `classify`); an interrupt stops the
//! path at the next step and still removes what it created.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::query_parameters::{
    AttachContainerOptions, CreateContainerOptions, DownloadFromContainerOptions,
    InspectContainerOptions, KillContainerOptions, UploadToContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::attempts::{Attempts, Next, Refusal};
use super::classify::Phase;
use super::client::{Deadline, Engine, EngineError};
use super::create::{ProbeHome, attach_args, create_request, probe_home};
use super::exec::ExecSpec;
use super::stream::{Chunk, Drained, drain};
use crate::run::image::{PROBE_DIR, PROBE_OUT, probe_upload_tar};
use crate::run::observe::{Captured, EngineOutcome, ExitStatus};
use crate::run::plan::RunSpec;

/// Time each removal may take; removal is never cut short by an interrupt.
pub const REMOVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Identifies one container of a run.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub run_id: String,
    /// Sequence number within the run, for a unique container name.
    pub seq: u64,
    /// The image to use when the spec names none.
    pub default_image: String,
    /// The static probe binary to upload when the spec asks for the probe.
    pub probe: Arc<Vec<u8>>,
    /// Cancelled on an interrupt: the path stops at the next step.
    pub cancel: CancellationToken,
    /// Where removals that run in the background are tracked, so the run
    /// can wait for them before it ends.
    pub cleanup: tokio_util::task::TaskTracker,
}

/// What the engine gave for one container, before interpretation.
#[derive(Debug, Clone)]
pub struct RawRun {
    pub engine: EngineOutcome,
    pub exit: Option<ExitStatus>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// Files the probe left in its output folder, by name.
    pub probe_files: BTreeMap<String, Vec<u8>>,
    pub duration: Duration,
    /// The container config as sent to the engine, for reports.
    pub config: serde_json::Value,
}

/// A created container, removed on every path: explicitly by
/// [`Engine::remove_created`], or, should its future be dropped, by a
/// removal task spawned from `Drop` (the last line of defence).
pub struct Created {
    docker: bollard::Docker,
    pub id: Option<String>,
    volumes: Vec<String>,
}

impl Created {
    /// Removes the container and its volumes in a task tracked by
    /// `tracker`, each removal bounded.
    pub fn remove_later(mut self, tracker: &tokio_util::task::TaskTracker) {
        let (Some(id), docker) = (self.id.take(), self.docker.clone()) else {
            return;
        };
        let volumes = std::mem::take(&mut self.volumes);
        tracker.spawn(remove_task(docker, id, volumes));
    }
}

/// Force-removes container `id` and then `volumes`, each bounded.
async fn remove_task(docker: bollard::Docker, id: String, volumes: Vec<String>) {
    let opts = bollard::query_parameters::RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    let _ = tokio::time::timeout(REMOVE_TIMEOUT, docker.remove_container(&id, Some(opts))).await;
    for v in volumes {
        let _ = tokio::time::timeout(
            REMOVE_TIMEOUT,
            docker.remove_volume(&v, None::<bollard::query_parameters::RemoveVolumeOptions>),
        )
        .await;
    }
}

impl Drop for Created {
    /// The last line of defence (a dropped future, a panic): the removal
    /// still runs, spawned on the current runtime.
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let volumes = std::mem::take(&mut self.volumes);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(remove_task(self.docker.clone(), id, volumes));
        }
    }
}

/// A container's attached output, being read.
pub struct Attached {
    reader: tokio::task::JoinHandle<Drained>,
    stop: CancellationToken,
}

impl Attached {
    /// The streams once the output ended, or what was read when `deadline`
    /// passed (then the run is harness trouble: the engine kept the stream
    /// open after the container exited).
    pub async fn finish(
        self,
        engine: &Engine,
        deadline: &Deadline,
    ) -> Result<Drained, EngineError> {
        let Attached { mut reader, stop } = self;
        let joined = match tokio::time::timeout_at(deadline.at(), &mut reader).await {
            Ok(j) => j,
            Err(_) => {
                stop.cancel();
                return Err(EngineError::Stalled {
                    endpoint: engine.endpoint.clone(),
                    what: "the end of the container's output stream".into(),
                    secs: deadline.total().as_secs(),
                });
            }
        };
        let drained = joined.map_err(|e| engine.api_error(format!("reading output: {e}")))?;
        match &drained.broken {
            Some(why) => Err(engine.api_error(why)),
            None => Ok(drained),
        }
    }

    /// Stops reading (the container is going away anyway).
    pub fn abort(self) {
        self.stop.cancel();
        self.reader.abort();
    }
}

impl Engine {
    /// Runs `spec` once. Refusals are observations; only trouble with the
    /// engine is an error.
    pub async fn run(&self, spec: &RunSpec, ctx: &RunContext) -> Result<RawRun, EngineError> {
        let started = Instant::now();
        let deadline = Deadline::after(spec.timeout + spec.grace);
        let (mut created, config, refused) = match self.create(spec, ctx, &deadline).await? {
            Ok(c) => c,
            Err((config, message)) => {
                return Ok(RawRun::refused(message, config, started.elapsed()));
            }
        };
        if let Some(message) = refused {
            self.remove_created(&mut created).await;
            return Ok(RawRun::refused(message, config, started.elapsed()));
        }
        let id = created.id.clone().expect("a created container has an id");
        let outcome = self
            .drive(spec, ctx, &id, &deadline, started, config.clone())
            .await;
        // The observation is complete: the container goes in the
        // background, off the path of the next one (the run waits for its
        // cleanup tasks before it ends; a final sweep catches the rest).
        created.remove_later(&ctx.cleanup);
        outcome
    }

    /// Creates the container of `spec` (and uploads the probe into it):
    /// `Ok(Ok((created, config, refusal)))` with `refusal` set when the
    /// probe upload was refused, `Ok(Err((config, refusal)))` when the
    /// engine refused the create.
    #[allow(clippy::type_complexity)]
    pub async fn create(
        &self,
        spec: &RunSpec,
        ctx: &RunContext,
        deadline: &Deadline,
    ) -> Result<
        Result<(Created, serde_json::Value, Option<Refusal>), (serde_json::Value, Refusal)>,
        EngineError,
    > {
        if spec.probe.is_some() && ctx.probe.is_empty() {
            return Err(self.api_error("the probe binary is not embedded in this build of parity"));
        }
        if ctx.cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let image = spec
            .image
            .clone()
            .unwrap_or_else(|| ctx.default_image.clone());
        // A named image must exist (a missing one is harness trouble, not a
        // refusal) and its entrypoint is what the probe wraps; parity's own
        // image was just ensured and declares no entrypoint.
        let image_ep = match &spec.image {
            Some(named) => {
                deadline
                    .within(self, "image inspect", self.image_entrypoint(named))
                    .await??
            }
            None => Vec::new(),
        };
        let mut name = format!("parity-{}-{}", ctx.run_id, ctx.seq);
        if let Some(m) = &spec.stack {
            name = format!("{name}-{}", m.service);
        }
        let req = create_request(spec, &image, &image_ep, &name, &ctx.run_id)
            .map_err(|m| self.api_error(format!("{}: {m}", spec.scenario_id)))?;
        let config = serde_json::to_value(&req.body).unwrap_or_default();
        let mut created = Created {
            docker: self.docker.clone(),
            id: None,
            volumes: req.volumes.clone(),
        };
        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        // A failed create is made once more (after removing whatever the
        // attempt may have left under that name) unless its answer settled
        // it already; the second answer settles the first (`classify`).
        let mut attempts = Attempts::new(Phase::Create);
        let id = loop {
            let answer = deadline
                .within(
                    self,
                    "container create",
                    self.docker
                        .create_container(Some(opts.clone()), req.body.clone()),
                )
                .await?;
            let e = match answer {
                Ok(r) => break r.id,
                Err(e) => e,
            };
            let _ = tokio::time::timeout(REMOVE_TIMEOUT, self.remove(&name)).await;
            match attempts.failed(&e, !ctx.cancel.is_cancelled()) {
                Next::Again => continue,
                Next::Refused(refusal) => {
                    self.remove_created(&mut created).await;
                    return Ok(Err((config, refusal)));
                }
                Next::MissingImage => {
                    self.remove_created(&mut created).await;
                    return Err(EngineError::ImageMissing {
                        endpoint: self.endpoint.clone(),
                        image,
                    });
                }
                Next::Trouble(message, decision) => {
                    self.remove_created(&mut created).await;
                    return Err(self.trouble(message, decision));
                }
            }
        };
        created.id = Some(id.clone());
        if probe_home(spec) == Some(ProbeHome::Uploaded) {
            let tar = probe_upload_tar(&ctx.probe).map_err(|e| self.api_error(e))?;
            let opts = UploadToContainerOptions {
                path: PROBE_DIR.into(),
                ..Default::default()
            };
            let answer = deadline
                .within(
                    self,
                    "probe upload",
                    self.docker.upload_to_container(
                        &id,
                        Some(opts),
                        bollard::body_full(tar.into()),
                    ),
                )
                .await;
            match answer {
                Ok(Ok(())) => {}
                // Not retried (the upload may have been partly written): only
                // the daemon's validation makes it a refusal.
                Ok(Err(e)) => match Attempts::new(Phase::Upload).failed(&e, false) {
                    Next::Refused(r) => return Ok(Ok((created, config, Some(r)))),
                    Next::Trouble(message, decision) => {
                        self.remove_created(&mut created).await;
                        return Err(self.trouble(message, decision));
                    }
                    _ => {
                        self.remove_created(&mut created).await;
                        return Err(self.api_error(format!("probe upload: {e}")));
                    }
                },
                Err(stalled) => {
                    self.remove_created(&mut created).await;
                    return Err(stalled);
                }
            }
        }
        Ok(Ok((created, config, None)))
    }

    /// Attaches to the container's stdout and stderr; call before start so
    /// no byte is missed. `tap` receives every chunk as it arrives.
    pub async fn attach(
        &self,
        id: &str,
        deadline: &Deadline,
        tap: Option<tokio::sync::mpsc::UnboundedSender<Chunk>>,
    ) -> Result<Attached, EngineError> {
        let opts = AttachContainerOptions {
            stdout: true,
            stderr: true,
            stream: true,
            logs: false,
            ..Default::default()
        };
        let attached = deadline
            .within(self, "attach", self.docker.attach_container(id, Some(opts)))
            .await?
            .map_err(|e| self.api_error(format!("attach: {e}")))?;
        let stop = CancellationToken::new();
        let reader = tokio::spawn(drain(attached.output, tap, stop.clone()));
        Ok(Attached { reader, stop })
    }

    /// Starts the container: `Ok(Some(refusal))` when the engine or the
    /// runtime refused it. A failed start is made once more on the same
    /// container unless its answer settled it already; a container gone
    /// before the second attempt, or a second attempt that succeeds, is
    /// trouble.
    pub async fn start(
        &self,
        id: &str,
        deadline: &Deadline,
    ) -> Result<Option<Refusal>, EngineError> {
        let mut attempts = Attempts::new(Phase::Start);
        loop {
            let answer = deadline
                .within(
                    self,
                    "container start",
                    self.docker.start_container(id, None),
                )
                .await?;
            let e = match answer {
                // Not modified: it is running already (a retried start).
                Ok(())
                | Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 304, ..
                }) => {
                    // After a failed start the attached output has ended
                    // (the engine closes it with the failure): a start
                    // that passes on the second attempt would run the
                    // workload unobserved, so it is trouble, said as such.
                    return match attempts.passed() {
                        None => Ok(None),
                        Some((message, decision)) => Err(self.trouble(message, decision)),
                    };
                }
                Err(e) => e,
            };
            match attempts.failed(&e, true) {
                Next::Again => {
                    if !self.exists(id, deadline).await? {
                        let Next::Trouble(message, decision) = attempts.vanished() else {
                            unreachable!("a vanished container is trouble")
                        };
                        return Err(self.trouble(message, decision));
                    }
                }
                Next::Refused(refusal) => return Ok(Some(refusal)),
                Next::Trouble(message, decision) => return Err(self.trouble(message, decision)),
                Next::MissingImage => {
                    return Err(self.api_error(format!("container start: {e}")));
                }
            }
        }
    }

    /// Whether container `id` still exists.
    pub(crate) async fn exists(&self, id: &str, deadline: &Deadline) -> Result<bool, EngineError> {
        let inspect = deadline
            .within(
                self,
                "container inspect",
                self.docker
                    .inspect_container(id, None::<InspectContainerOptions>),
            )
            .await?;
        match inspect {
            Ok(_) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(false),
            Err(e) => Err(self.api_error(format!("container inspect: {e}"))),
        }
    }

    async fn drive(
        &self,
        spec: &RunSpec,
        ctx: &RunContext,
        id: &str,
        deadline: &Deadline,
        started: Instant,
        config: serde_json::Value,
    ) -> Result<RawRun, EngineError> {
        let attached = self.attach(id, deadline, None).await?;
        if ctx.cancel.is_cancelled() {
            attached.abort();
            return Err(EngineError::Cancelled);
        }
        if let Some(message) = self.start(id, deadline).await? {
            attached.abort();
            return Ok(RawRun::refused(message, config, started.elapsed()));
        }
        let home = probe_home(spec);
        let tracer = spec.probe.as_ref().filter(|p| p.needs_tracer());
        if let (Some(p), Some(ProbeHome::Uploaded)) = (tracer, home) {
            // A failed attach is not fatal: the probe runs the workload
            // untraced after its wait and says why in its report.
            let _ = self
                .exec_detached(id, attach_args(p, false), deadline)
                .await;
        }
        // With the probe in the image, the tracer's report comes back on its
        // own output, read while the workload runs.
        let streamed = async {
            match (tracer, home) {
                (Some(p), Some(ProbeHome::InImage)) => {
                    let exec = ExecSpec {
                        cmd: attach_args(p, true),
                        ..ExecSpec::default()
                    };
                    let budget = deadline.left();
                    Some(self.exec(id, &exec, budget, deadline).await)
                }
                _ => None,
            }
        };
        let waited = async {
            tokio::select! {
                biased;
                _ = ctx.cancel.cancelled() => Err(EngineError::Cancelled),
                exit = self.wait_with_timeout(id, spec.timeout, deadline) => exit,
            }
        };
        let (exit, streamed) = tokio::join!(waited, streamed);
        let exit = match exit {
            Ok(e) => e,
            Err(e) => {
                attached.abort();
                return Err(e);
            }
        };
        let drained = attached.finish(self, deadline).await?;
        let report = match (home, streamed) {
            (Some(ProbeHome::InImage), Some(Ok(run))) => {
                run.stdout.read_all().filter(|r| !r.is_empty())
            }
            _ => None,
        };
        let probe_files = match (home, report) {
            (None, _) => BTreeMap::new(),
            (_, Some(report)) => BTreeMap::from([("report.json".to_string(), report)]),
            // Uploaded, or the tracer reported nothing (PID 1 killed before
            // its exit stop): what the probe left in its folder.
            _ => deadline
                .within(self, "probe results download", self.download(id, PROBE_OUT))
                .await?
                .unwrap_or_default(),
        };
        Ok(RawRun {
            engine: EngineOutcome::Started,
            exit: Some(exit),
            stdout: drained.stdout,
            stderr: drained.stderr,
            probe_files,
            duration: started.elapsed(),
            config,
        })
    }

    /// The workload's exit, or `timeout` when it ran past `timeout` (then
    /// it is killed). Whether it ran too long is decided by the engine's
    /// own start and finish times, so an engine that was slow to report an
    /// exit does not turn a finished workload into a timeout.
    pub async fn wait_with_timeout(
        &self,
        id: &str,
        timeout: Duration,
        deadline: &Deadline,
    ) -> Result<ExitStatus, EngineError> {
        if let Ok(waited) = tokio::time::timeout(timeout, self.wait_not_running(id)).await {
            waited?;
            return self.exit_status(id, timeout, deadline).await;
        }
        let state = self.state(id, deadline).await?;
        if !state.running.unwrap_or(false) {
            return self.exit_status(id, timeout, deadline).await;
        }
        let kill = KillContainerOptions {
            signal: "KILL".into(),
        };
        match deadline
            .within(
                self,
                "container kill",
                self.docker.kill_container(id, Some(kill)),
            )
            .await?
        {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => {}
            Err(e) => return Err(self.api_error(format!("container kill: {e}"))),
        }
        deadline
            .within(
                self,
                "the killed container's exit",
                self.wait_not_running(id),
            )
            .await??;
        Ok(ExitStatus::Timeout)
    }

    pub(crate) async fn wait_not_running(&self, id: &str) -> Result<(), EngineError> {
        let opts = WaitContainerOptions {
            condition: "not-running".into(),
        };
        let mut stream = self.docker.wait_container(id, Some(opts));
        match stream.next().await {
            Some(Ok(_))
            | Some(Err(bollard::errors::Error::DockerContainerWaitError { .. }))
            | None => Ok(()),
            Some(Err(e)) => Err(self.api_error(format!("container wait: {e}"))),
        }
    }

    pub(crate) async fn state(
        &self,
        id: &str,
        deadline: &Deadline,
    ) -> Result<bollard::models::ContainerState, EngineError> {
        let inspect = deadline
            .within(
                self,
                "container inspect",
                self.docker
                    .inspect_container(id, None::<InspectContainerOptions>),
            )
            .await?
            .map_err(|e| self.api_error(format!("container inspect: {e}")))?;
        Ok(inspect.state.unwrap_or_default())
    }

    /// The exit of a container that is no longer running: `timeout` if the
    /// engine's clock says it ran past `timeout`.
    pub(crate) async fn exit_status(
        &self,
        id: &str,
        timeout: Duration,
        deadline: &Deadline,
    ) -> Result<ExitStatus, EngineError> {
        let state = self.state(id, deadline).await?;
        let ran = match (&state.started_at, &state.finished_at) {
            (Some(a), Some(b)) => match (
                humantime::parse_rfc3339_weak(a),
                humantime::parse_rfc3339_weak(b),
            ) {
                (Ok(a), Ok(b)) => b.duration_since(a).ok(),
                _ => None,
            },
            _ => None,
        };
        if ran.is_some_and(|r| r > timeout) {
            return Ok(ExitStatus::Timeout);
        }
        Ok(ExitStatus::from_code(
            state.exit_code.unwrap_or(-1),
            state.oom_killed.unwrap_or(false),
        ))
    }

    /// Removes a created container and its named volumes, each call
    /// bounded; never cut short by an interrupt. Whatever cannot be removed
    /// now is removed by the run's final sweep.
    pub async fn remove_created(&self, created: &mut Created) {
        if let Some(id) = created.id.take() {
            let _ = tokio::time::timeout(REMOVE_TIMEOUT, self.remove(&id)).await;
        }
        for v in std::mem::take(&mut created.volumes) {
            let _ = tokio::time::timeout(
                REMOVE_TIMEOUT,
                self.docker
                    .remove_volume(&v, None::<bollard::query_parameters::RemoveVolumeOptions>),
            )
            .await;
        }
    }

    /// The regular files under `path` in the container, by path below it
    /// (`report.json`, `step-0/report.json`).
    pub(crate) async fn download(
        &self,
        id: &str,
        path: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, EngineError> {
        let opts = DownloadFromContainerOptions { path: path.into() };
        let mut stream = self.docker.download_from_container(id, Some(opts));
        let mut tar = Vec::new();
        while let Some(chunk) = stream.next().await {
            tar.extend_from_slice(&chunk.map_err(|e| self.api_error(e))?);
        }
        let mut files = BTreeMap::new();
        let mut ar = tar::Archive::new(&tar[..]);
        for entry in ar.entries().map_err(|e| self.api_error(e))? {
            let mut entry = entry.map_err(|e| self.api_error(e))?;
            if entry.header().entry_type() != tar::EntryType::Regular {
                continue;
            }
            // The archive holds the folder itself first: `out/report.json`.
            let name = entry
                .path()
                .ok()
                .map(|p| {
                    let mut parts = p.components();
                    parts.next();
                    parts.as_path().to_string_lossy().into_owned()
                })
                .unwrap_or_default();
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| self.api_error(e))?;
            files.insert(name, data);
        }
        Ok(files)
    }
}

impl RawRun {
    /// A run that gave nothing (a holder of other fields).
    pub fn empty() -> RawRun {
        RawRun {
            engine: EngineOutcome::Started,
            exit: None,
            stdout: Captured::default(),
            stderr: Captured::default(),
            probe_files: BTreeMap::new(),
            duration: Duration::ZERO,
            config: serde_json::Value::Null,
        }
    }

    /// A run the engine refused.
    pub fn refused(refusal: Refusal, config: serde_json::Value, duration: Duration) -> RawRun {
        RawRun {
            engine: EngineOutcome::Refused {
                message: refusal.message,
                decision: Some(refusal.decision),
            },
            exit: None,
            stdout: Captured::default(),
            stderr: Captured::default(),
            probe_files: BTreeMap::new(),
            duration,
            config,
        }
    }
}
