//! Commands run inside a running container with the engine's exec: the
//! probe's tracer (detached), and attached commands whose exit status and
//! byte-exact output are observed (a service scenario's steps and
//! readiness checks, a builder's commands).

use std::time::{Duration, Instant};

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};

use super::attempts::{Attempts, Next, Refusal};
use super::classify::Phase;
use super::client::{Deadline, Engine, EngineError};
use tokio_util::sync::CancellationToken;

use super::stream::drain;
use crate::run::observe::{Captured, ExitStatus};

/// A command to run inside a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecSpec {
    pub cmd: Vec<String>,
    pub user: Option<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
}

/// What an attached exec gave.
#[derive(Debug, Clone)]
pub struct ExecRun {
    /// `Err(refusal)` when the engine refused to run the command (it is
    /// an observation, like a refused container).
    pub outcome: Result<ExitStatus, Refusal>,
    pub stdout: Captured,
    pub stderr: Captured,
    pub duration: Duration,
}

impl Engine {
    /// Starts `cmd` in container `id` and does not wait for it.
    pub(crate) async fn exec_detached(
        &self,
        id: &str,
        cmd: Vec<String>,
        deadline: &Deadline,
    ) -> Result<(), EngineError> {
        let spec = ExecSpec {
            cmd,
            ..Default::default()
        };
        self.exec_detached_as(id, &spec, deadline).await
    }

    /// Starts `spec` (its user, environment and folder) in container `id`
    /// and does not wait for it.
    pub async fn exec_detached_as(
        &self,
        id: &str,
        spec: &ExecSpec,
        deadline: &Deadline,
    ) -> Result<(), EngineError> {
        let opts = CreateExecOptions::<String> {
            cmd: Some(spec.cmd.clone()),
            user: spec.user.clone(),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            working_dir: spec.working_dir.clone(),
            attach_stdout: Some(false),
            attach_stderr: Some(false),
            ..Default::default()
        };
        let exec = deadline
            .within(self, "exec create", self.docker.create_exec(id, opts))
            .await?
            .map_err(|e| self.api_error(e))?;
        let start = StartExecOptions {
            detach: true,
            ..Default::default()
        };
        deadline
            .within(
                self,
                "exec start",
                self.docker.start_exec(&exec.id, Some(start)),
            )
            .await?
            .map_err(|e| self.api_error(e))?;
        Ok(())
    }

    /// Runs `spec` in container `id`, reading its output as it comes, for
    /// at most `timeout` (then its exit status is `timeout`; the command
    /// itself ends with the container). Engine calls are bounded by
    /// `deadline`.
    pub async fn exec(
        &self,
        id: &str,
        spec: &ExecSpec,
        timeout: Duration,
        deadline: &Deadline,
    ) -> Result<ExecRun, EngineError> {
        let started = Instant::now();
        let refused = |refusal: Refusal| ExecRun {
            outcome: Err(refusal),
            stdout: Captured::default(),
            stderr: Captured::default(),
            duration: started.elapsed(),
        };
        let opts = CreateExecOptions::<String> {
            cmd: Some(spec.cmd.clone()),
            user: spec.user.clone(),
            env: (!spec.env.is_empty()).then(|| spec.env.clone()),
            working_dir: spec.working_dir.clone(),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(false),
            ..Default::default()
        };
        let start = StartExecOptions {
            detach: false,
            tty: false,
            output_capacity: None,
        };
        // A failed exec (its create or its start: nothing ran) is made once
        // more, as a new exec, unless its answer settled it already.
        let mut attempts = Attempts::new(Phase::Exec);
        let (exec, output) = loop {
            let failed = match deadline
                .within(
                    self,
                    "exec create",
                    self.docker.create_exec(id, opts.clone()),
                )
                .await?
            {
                Ok(exec) => match deadline
                    .within(
                        self,
                        "exec start",
                        self.docker.start_exec(&exec.id, Some(start)),
                    )
                    .await?
                {
                    Ok(StartExecResults::Attached { output, .. }) => break (exec, output),
                    Ok(StartExecResults::Detached) => {
                        return Err(self.api_error("the engine detached an attached exec"));
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            match attempts.failed(&failed, true) {
                Next::Again => {}
                Next::Refused(r) => return Ok(refused(r)),
                Next::Trouble(message, decision) => return Err(self.trouble(message, decision)),
                Next::MissingImage => return Err(self.api_error(failed)),
            }
        };
        let stop = CancellationToken::new();
        let mut reader = tokio::spawn(drain(output, None, stop.clone()));
        // The attached stream ends when the command exits.
        let drained = match tokio::time::timeout(timeout, &mut reader).await {
            Ok(joined) => joined,
            Err(_) => {
                stop.cancel();
                reader.await
            }
        }
        .map_err(|e| self.api_error(format!("reading the exec's output: {e}")))?;
        let timed_out = drained.stopped;
        if let Some(why) = drained.broken {
            return Err(self.api_error(why));
        }
        if timed_out {
            return Ok(ExecRun {
                outcome: Ok(ExitStatus::Timeout),
                stdout: drained.stdout,
                stderr: drained.stderr,
                duration: started.elapsed(),
            });
        }
        let inspect = deadline
            .within(self, "exec inspect", self.docker.inspect_exec(&exec.id))
            .await?
            .map_err(|e| self.api_error(e))?;
        let code = inspect.exit_code.unwrap_or(-1);
        Ok(ExecRun {
            outcome: Ok(ExitStatus::from_code(code, false)),
            stdout: drained.stdout,
            stderr: drained.stderr,
            duration: started.elapsed(),
        })
    }
}
