//! Controlling a running container from outside: whether it still runs,
//! how it ended, and killing it. What a long-running service's driver
//! needs between the create/start of `run` and the removal every path
//! ends with.

use std::time::Duration;

use bollard::query_parameters::KillContainerOptions;

use super::client::{Deadline, Engine, EngineError};
use crate::run::observe::ExitStatus;

impl Engine {
    /// Whether container `id` is running now.
    pub async fn running(&self, id: &str, deadline: &Deadline) -> Result<bool, EngineError> {
        Ok(self.state(id, deadline).await?.running.unwrap_or(false))
    }

    /// How container `id`, which no longer runs, ended.
    pub async fn ended(&self, id: &str, deadline: &Deadline) -> Result<ExitStatus, EngineError> {
        self.exit_status(id, Duration::MAX, deadline).await
    }

    /// Kills container `id` (SIGKILL) and waits until it no longer runs;
    /// one that has stopped already is fine.
    pub async fn kill(&self, id: &str, deadline: &Deadline) -> Result<(), EngineError> {
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
            .await?
    }
}
