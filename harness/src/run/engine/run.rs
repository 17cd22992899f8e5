//! One container's life: create, upload the probe, start, attach the
//! tracer, wait (with the scenario's timeout and a kill past it), read the
//! logs with stdout and stderr apart, download the probe's results, and
//! remove the container and its volumes on every path.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions};
use bollard::query_parameters::{
    CreateContainerOptions, DownloadFromContainerOptions, KillContainerOptions, LogsOptions,
    UploadToContainerOptions, WaitContainerOptions,
};
use futures_util::StreamExt;

use super::client::{Engine, EngineError};
use super::create::{attach_args, create_request};
use crate::run::image::{PROBE_DIR, PROBE_OUT, probe_upload_tar};
use crate::run::observe::{Captured, EngineOutcome, ExitStatus, OUTPUT_CAP};
use crate::run::plan::RunSpec;

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

/// Removes the container when dropped unless it was removed already: the
/// last line of defence on panics and cancellation.
struct Guard {
    docker: bollard::Docker,
    id: Option<String>,
    volumes: Vec<String>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(id) = self.id.take() else { return };
        let docker = self.docker.clone();
        let volumes = std::mem::take(&mut self.volumes);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let opts = bollard::query_parameters::RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                };
                let _ = docker.remove_container(&id, Some(opts)).await;
                for v in volumes {
                    let _ = docker
                        .remove_volume(&v, None::<bollard::query_parameters::RemoveVolumeOptions>)
                        .await;
                }
            });
        }
    }
}

impl Engine {
    /// Runs `spec` once. Refusals are observations; only trouble talking to
    /// the engine is an error.
    pub async fn run(&self, spec: &RunSpec, ctx: &RunContext) -> Result<RawRun, EngineError> {
        let started = Instant::now();
        if spec.probe.is_some() && ctx.probe.is_empty() {
            return Err(self.api_error("the probe binary is not embedded in this build of parity"));
        }
        let image = spec
            .image
            .clone()
            .unwrap_or_else(|| ctx.default_image.clone());
        // A named image must exist (a missing one is harness trouble, not a
        // refusal) and its entrypoint is what the probe wraps; parity's own
        // image was just ensured and declares no entrypoint.
        let image_ep = match &spec.image {
            Some(named) => self.image_entrypoint(named).await?,
            None => Vec::new(),
        };
        let name = format!("parity-{}-{}", ctx.run_id, ctx.seq);
        let req = create_request(spec, &image, &image_ep, &name, &ctx.run_id)
            .map_err(|m| self.api_error(format!("{}: {m}", spec.scenario_id)))?;
        let config = serde_json::to_value(&req.body).unwrap_or_default();
        let mut guard = Guard {
            docker: self.docker.clone(),
            id: None,
            volumes: req.volumes.clone(),
        };
        let refused = |message: String| RawRun {
            engine: EngineOutcome::Refused { message },
            exit: None,
            stdout: Captured::default(),
            stderr: Captured::default(),
            probe_files: BTreeMap::new(),
            duration: started.elapsed(),
            config: config.clone(),
        };

        let opts = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let id = match self.docker.create_container(Some(opts), req.body).await {
            Ok(r) => r.id,
            Err(e) => {
                self.cleanup(&mut guard).await;
                return match refusal(e) {
                    Ok(msg) => Ok(refused(msg)),
                    Err(e) => Err(self.api_error(e)),
                };
            }
        };
        guard.id = Some(id.clone());

        let outcome = self.drive(spec, ctx, &id, started, config.clone()).await;
        self.cleanup(&mut guard).await;
        match outcome {
            Ok(Drive::Refused(msg)) => Ok(refused(msg)),
            Ok(Drive::Ran(run)) => Ok(run),
            Err(e) => Err(e),
        }
    }

    async fn cleanup(&self, guard: &mut Guard) {
        if let Some(id) = guard.id.take() {
            let _ = self.remove(&id).await;
        }
        for v in std::mem::take(&mut guard.volumes) {
            let _ = self
                .docker
                .remove_volume(&v, None::<bollard::query_parameters::RemoveVolumeOptions>)
                .await;
        }
    }

    async fn drive(
        &self,
        spec: &RunSpec,
        ctx: &RunContext,
        id: &str,
        started: Instant,
        config: serde_json::Value,
    ) -> Result<Drive, EngineError> {
        if spec.probe.is_some() {
            let tar = probe_upload_tar(&ctx.probe).map_err(|e| self.api_error(e))?;
            let opts = UploadToContainerOptions {
                path: PROBE_DIR.into(),
                ..Default::default()
            };
            if let Err(e) = self
                .docker
                .upload_to_container(id, Some(opts), bollard::body_full(tar.into()))
                .await
            {
                return refusal(e)
                    .map(Drive::Refused)
                    .map_err(|e| self.api_error(e));
            }
        }
        if let Err(e) = self.docker.start_container(id, None).await {
            return refusal(e)
                .map(Drive::Refused)
                .map_err(|e| self.api_error(e));
        }
        if let Some(p) = spec.probe.as_ref().filter(|p| p.needs_tracer()) {
            // A failed attach is not fatal: the probe runs the workload
            // untraced after its wait and says why in its report.
            let _ = self.exec_detached(id, attach_args(p)).await;
        }

        let exit = match tokio::time::timeout(spec.timeout, self.wait_exit(id)).await {
            Ok(r) => r?,
            Err(_) => {
                let _ = self
                    .docker
                    .kill_container(
                        id,
                        Some(KillContainerOptions {
                            signal: "KILL".into(),
                        }),
                    )
                    .await;
                let _ = tokio::time::timeout(Duration::from_secs(20), self.wait_exit(id)).await;
                ExitStatus::Timeout
            }
        };
        let (stdout, stderr) = self.logs(id).await?;
        let probe_files = if spec.probe.is_some() {
            self.download(id, PROBE_OUT).await.unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        Ok(Drive::Ran(RawRun {
            engine: EngineOutcome::Started,
            exit: Some(exit),
            stdout,
            stderr,
            probe_files,
            duration: started.elapsed(),
            config,
        }))
    }

    async fn exec_detached(&self, id: &str, cmd: Vec<String>) -> Result<(), EngineError> {
        let exec = self
            .docker
            .create_exec(
                id,
                CreateExecOptions::<String> {
                    cmd: Some(cmd),
                    attach_stdout: Some(false),
                    attach_stderr: Some(false),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.api_error(e))?;
        self.docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: true,
                    ..Default::default()
                }),
            )
            .await
            .map_err(|e| self.api_error(e))?;
        Ok(())
    }

    async fn wait_exit(&self, id: &str) -> Result<ExitStatus, EngineError> {
        let opts = WaitContainerOptions {
            condition: "not-running".into(),
        };
        let mut stream = self.docker.wait_container(id, Some(opts));
        match stream.next().await {
            Some(Ok(_))
            | Some(Err(bollard::errors::Error::DockerContainerWaitError { .. }))
            | None => {}
            Some(Err(e)) => return Err(self.api_error(e)),
        }
        let state = self
            .docker
            .inspect_container(id, None)
            .await
            .map_err(|e| self.api_error(e))?
            .state
            .unwrap_or_default();
        Ok(ExitStatus::from_code(
            state.exit_code.unwrap_or(-1),
            state.oom_killed.unwrap_or(false),
        ))
    }

    async fn logs(&self, id: &str) -> Result<(Captured, Captured), EngineError> {
        let opts = LogsOptions {
            stdout: true,
            stderr: true,
            follow: false,
            ..Default::default()
        };
        let mut stream = self.docker.logs(id, Some(opts));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let (mut out_n, mut err_n) = (0u64, 0u64);
        let keep = |buf: &mut Vec<u8>, n: &mut u64, bytes: &[u8]| {
            *n += bytes.len() as u64;
            let room = (OUTPUT_CAP + 1).saturating_sub(buf.len());
            buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        };
        while let Some(item) = stream.next().await {
            match item.map_err(|e| self.api_error(e))? {
                LogOutput::StdOut { message } => keep(&mut out, &mut out_n, &message),
                LogOutput::StdErr { message } => keep(&mut err, &mut err_n, &message),
                LogOutput::Console { message } => keep(&mut out, &mut out_n, &message),
                LogOutput::StdIn { .. } => {}
            }
        }
        Ok((
            Captured::from_bytes(&out, out_n, OUTPUT_CAP),
            Captured::from_bytes(&err, err_n, OUTPUT_CAP),
        ))
    }

    /// The regular files under `path` in the container, by file name.
    async fn download(
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
            let name = entry
                .path()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
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

enum Drive {
    Refused(String),
    Ran(RawRun),
}

/// An engine answer that refuses the container (an observation), or an
/// error that is harness trouble.
fn refusal(e: bollard::errors::Error) -> Result<String, bollard::errors::Error> {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } if status_code != 404 || !message.contains("No such image") => {
            Ok(message.trim().to_string())
        }
        other => Err(other),
    }
}
