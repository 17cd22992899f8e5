//! A stack's own networks and volumes, and the health the engine keeps
//! of a container with a healthcheck.
//!
//! Owns making, joining and removing the networks and named volumes a run
//! creates (labelled like its containers: run id, creating process, host,
//! so a dead run's are swept), the sweep of those, and reading a
//! container's health. An engine that refuses a network or volume gives a
//! refusal; only engine trouble is an error.

use std::collections::HashMap;

use bollard::models::{
    EndpointSettings, HealthStatusEnum, NetworkConnectRequest, NetworkCreateRequest,
    VolumeCreateRequest,
};
use bollard::query_parameters::{ListNetworksOptions, ListVolumesOptions};

use super::classify::{Answer, Look, Phase, look};
use super::client::{Deadline, Engine, EngineError, HOST_LABEL, PID_LABEL, RUN_LABEL, hostname};
use super::run::REMOVE_TIMEOUT;

/// The labels of everything a run creates: its id, the process and host
/// that created it (how the sweep at start tells a dead run's objects).
pub fn run_labels(run_id: &str) -> HashMap<String, String> {
    let mut labels = HashMap::from([
        (RUN_LABEL.to_string(), run_id.to_string()),
        (PID_LABEL.to_string(), std::process::id().to_string()),
        (HOST_LABEL.to_string(), hostname()),
    ]);
    labels.retain(|_, v| !v.is_empty());
    labels
}

/// The engine's message when `e` is its refusal of a request (the daemon
/// validated it and said no), not trouble.
fn refusal_of(e: &bollard::errors::Error) -> Option<String> {
    let answer = Answer::of(e).ok()?;
    match look(Phase::Create, &answer) {
        Look::Decided(d) if d.is_refusal() => Some(answer.message),
        _ => None,
    }
}

/// What a container's health is, as the engine says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Starting,
    Healthy,
    /// With the last check's exit code and output.
    Unhealthy(String),
    /// The container has no healthcheck.
    None,
}

impl Engine {
    /// Makes a bridge network: `Ok(Err(message))` when the engine refuses.
    pub async fn create_network(
        &self,
        name: &str,
        labels: HashMap<String, String>,
        internal: bool,
        options: HashMap<String, String>,
        deadline: &Deadline,
    ) -> Result<Result<(), String>, EngineError> {
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            internal: Some(internal),
            options: (!options.is_empty()).then_some(options),
            labels: Some(labels),
            ..Default::default()
        };
        let answer = deadline
            .within(self, "network create", self.docker.create_network(req))
            .await?;
        match answer {
            Ok(_) => Ok(Ok(())),
            Err(e) => match refusal_of(&e) {
                Some(m) => Ok(Err(m)),
                None => Err(self.api_error(format!("network create: {e}"))),
            },
        }
    }

    /// Makes a named volume: `Ok(Err(message))` when the engine refuses.
    pub async fn create_volume(
        &self,
        name: &str,
        labels: HashMap<String, String>,
        driver: Option<String>,
        options: HashMap<String, String>,
        deadline: &Deadline,
    ) -> Result<Result<(), String>, EngineError> {
        let req = VolumeCreateRequest {
            name: Some(name.to_string()),
            driver,
            driver_opts: (!options.is_empty()).then_some(options),
            labels: Some(labels),
            ..Default::default()
        };
        let answer = deadline
            .within(self, "volume create", self.docker.create_volume(req))
            .await?;
        match answer {
            Ok(_) => Ok(Ok(())),
            Err(e) => match refusal_of(&e) {
                Some(m) => Ok(Err(m)),
                None => Err(self.api_error(format!("volume create: {e}"))),
            },
        }
    }

    /// Joins container `id` to `network` under `aliases` (before start):
    /// `Ok(Err(message))` when the engine refuses.
    pub async fn join_network(
        &self,
        network: &str,
        id: &str,
        aliases: Vec<String>,
        deadline: &Deadline,
    ) -> Result<Result<(), String>, EngineError> {
        let req = NetworkConnectRequest {
            container: id.to_string(),
            endpoint_config: Some(EndpointSettings {
                aliases: Some(aliases),
                ..Default::default()
            }),
        };
        let answer = deadline
            .within(
                self,
                "network connect",
                self.docker.connect_network(network, req),
            )
            .await?;
        match answer {
            Ok(()) => Ok(Ok(())),
            Err(e) => match refusal_of(&e) {
                Some(m) => Ok(Err(m)),
                None => Err(self.api_error(format!("network connect: {e}"))),
            },
        }
    }

    /// Removes a network, bounded; never cut short by an interrupt.
    pub async fn remove_network(&self, name: &str) {
        let _ = tokio::time::timeout(REMOVE_TIMEOUT, self.docker.remove_network(name)).await;
    }

    /// Removes a volume, bounded; never cut short by an interrupt.
    pub async fn remove_volume(&self, name: &str) {
        let _ = tokio::time::timeout(
            REMOVE_TIMEOUT,
            self.docker
                .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>),
        )
        .await;
    }

    /// The container's health, as the engine keeps it.
    pub async fn health(&self, id: &str, deadline: &Deadline) -> Result<Health, EngineError> {
        let state = self.state(id, deadline).await?;
        let Some(h) = state.health else {
            return Ok(Health::None);
        };
        Ok(match h.status {
            Some(HealthStatusEnum::HEALTHY) => Health::Healthy,
            Some(HealthStatusEnum::UNHEALTHY) => {
                let last = h.log.unwrap_or_default().pop().map(|r| {
                    let out: String = r
                        .output
                        .unwrap_or_default()
                        .trim()
                        .chars()
                        .take(300)
                        .collect();
                    format!("exit {}: {out}", r.exit_code.unwrap_or(-1))
                });
                Health::Unhealthy(last.unwrap_or_default())
            }
            Some(HealthStatusEnum::NONE) | Some(HealthStatusEnum::EMPTY) | None => Health::None,
            Some(HealthStatusEnum::STARTING) => Health::Starting,
        })
    }

    /// Removes parity networks and volumes whose creating process is gone
    /// (on this host), or all of one run's when `run_id` is given. Call
    /// after the containers' sweep: a network in use cannot go.
    pub async fn sweep_objects(&self, run_id: Option<&str>) -> Result<usize, EngineError> {
        let label = match run_id {
            Some(id) => format!("{RUN_LABEL}={id}"),
            None => RUN_LABEL.to_string(),
        };
        let filters = HashMap::from([("label".to_string(), vec![label])]);
        let me = hostname();
        let stale = |labels: &HashMap<String, String>| {
            run_id.is_some()
                || (labels.get(HOST_LABEL) == Some(&me)
                    && labels
                        .get(PID_LABEL)
                        .and_then(|p| p.parse::<u32>().ok())
                        .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists()))
        };
        let mut removed = 0;
        let networks = self
            .docker
            .list_networks(Some(ListNetworksOptions {
                filters: Some(filters.clone()),
            }))
            .await
            .map_err(|e| self.api_error(e))?;
        for n in networks {
            if let (true, Some(name)) = (stale(&n.labels.unwrap_or_default()), n.name) {
                self.remove_network(&name).await;
                removed += 1;
            }
        }
        let volumes = self
            .docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(filters),
            }))
            .await
            .map_err(|e| self.api_error(e))?;
        for v in volumes.volumes.unwrap_or_default() {
            if stale(&v.labels) {
                self.remove_volume(&v.name).await;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// How long the network check's client may try to reach the server.
const NETCHECK_SECS: u32 = 10;

impl Engine {
    /// Whether two containers on one network this engine makes reach each
    /// other: a throwaway network, a busybox httpd and a client that
    /// fetches from it by address, all removed after. `Ok(Err(why))` when
    /// they cannot (a host firewall dropping bridged frames, typically).
    pub async fn network_check(
        &self,
        image: &str,
        run_id: &str,
    ) -> Result<Result<(), String>, EngineError> {
        let deadline = Deadline::after(std::time::Duration::from_secs(60));
        let name = format!("parity-{run_id}-netcheck");
        let labels = run_labels(run_id);
        if let Err(m) = self
            .create_network(&name, labels.clone(), false, HashMap::new(), &deadline)
            .await?
        {
            return Ok(Err(format!("the engine refused a network: {m}")));
        }
        let mut made = Vec::new();
        let outcome = self
            .network_check_in(image, &name, &labels, &deadline, &mut made)
            .await;
        for id in made {
            let _ = tokio::time::timeout(REMOVE_TIMEOUT, self.remove(&id)).await;
        }
        self.remove_network(&name).await;
        outcome
    }

    async fn network_check_in(
        &self,
        image: &str,
        network: &str,
        labels: &HashMap<String, String>,
        deadline: &Deadline,
        made: &mut Vec<String>,
    ) -> Result<Result<(), String>, EngineError> {
        let body = |cmd: Vec<String>| bollard::models::ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd),
            labels: Some(labels.clone()),
            host_config: Some(bollard::models::HostConfig {
                network_mode: Some(network.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let sh = |s: String| vec!["sh".to_string(), "-c".to_string(), s];
        let server = body(sh(
            "echo up > /tmp/up && exec httpd -f -p 8080 -h /tmp".into()
        ));
        let id = self.netcheck_start(server, deadline, made).await?;
        let state = deadline
            .within(
                self,
                "container inspect",
                self.docker.inspect_container(&id, None),
            )
            .await?
            .map_err(|e| self.api_error(e))?;
        let ip = state
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|n| n.get(network).and_then(|e| e.ip_address.clone()))
            .unwrap_or_default();
        if ip.is_empty() {
            return Ok(Err(
                "the server container got no address on the network".into()
            ));
        }
        let fetch = format!(
            "i=0; while [ $i -lt {NETCHECK_SECS} ]; do timeout 1 wget -q -O- http://{ip}:8080/up && exit 0; i=$((i+1)); sleep 0.2; done; exit 1"
        );
        let client = self.netcheck_start(body(sh(fetch)), deadline, made).await?;
        deadline
            .within(self, "the client's exit", self.wait_not_running(&client))
            .await??;
        let exit = self.ended(&client, deadline).await?;
        match exit {
            crate::run::observe::ExitStatus::Code(0) => Ok(Ok(())),
            other => Ok(Err(format!(
                "a container could not reach another on the same network ({ip}:8080, client exit {other}); if the host's FORWARD policy is DROP with br_netfilter loaded, accept bridged frames: iptables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT (runtimes/setup-host.sh does)"
            ))),
        }
    }

    async fn netcheck_start(
        &self,
        body: bollard::models::ContainerCreateBody,
        deadline: &Deadline,
        made: &mut Vec<String>,
    ) -> Result<String, EngineError> {
        let created = deadline
            .within(
                self,
                "container create",
                self.docker.create_container(
                    None::<bollard::query_parameters::CreateContainerOptions>,
                    body,
                ),
            )
            .await?
            .map_err(|e| self.api_error(format!("container create: {e}")))?;
        made.push(created.id.clone());
        deadline
            .within(
                self,
                "container start",
                self.docker.start_container(&created.id, None),
            )
            .await?
            .map_err(|e| self.api_error(format!("container start: {e}")))?;
        Ok(created.id)
    }
}
