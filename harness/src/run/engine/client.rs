//! Connection to one Docker engine and what it can tell about itself.
//!
//! Owns connecting and version negotiation, the engine facts parity
//! records (versions, runtimes, kernel, user-namespace remapping), the
//! default image's import, and the sweep of containers left by dead runs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{
    CreateImageOptions, ListContainersOptions, RemoveContainerOptions,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::run::image::{IMPORT_CHANGES, ImageSource, REPOSITORY};

/// Label every parity container carries, with the run id as value.
pub const RUN_LABEL: &str = "io.parity.run";
/// Label with the pid of the parity process that created the container.
pub const PID_LABEL: &str = "io.parity.pid";
/// Label with the host name of that process.
pub const HOST_LABEL: &str = "io.parity.host";

/// Trouble talking to an engine: harness errors, never observations.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    #[error("cannot reach the engine at {endpoint}: {message}")]
    Unreachable { endpoint: String, message: String },
    #[error("engine at {endpoint}: {message}")]
    Api { endpoint: String, message: String },
    #[error(
        "engine at {endpoint}: image {image} is not present (no registry is used; build or load it first)"
    )]
    ImageMissing { endpoint: String, image: String },
    #[error("engine at {endpoint}: importing the default image failed: {message}")]
    Import { endpoint: String, message: String },
    #[error(
        "engine at {endpoint} did not answer {what} within {secs}s (is it stalled or overloaded?)"
    )]
    Stalled {
        endpoint: String,
        what: String,
        secs: u64,
    },
    #[error("interrupted")]
    Cancelled,
}

/// When one container's whole path (setup, the workload, teardown) must be
/// over. Every engine call on that path is bounded by it, so a stalled
/// engine costs one deadline, not the client's timeout per call.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: tokio::time::Instant,
    start: tokio::time::Instant,
}

impl Deadline {
    pub fn after(d: Duration) -> Deadline {
        let start = tokio::time::Instant::now();
        Deadline {
            at: start + d,
            start,
        }
    }

    pub fn at(&self) -> tokio::time::Instant {
        self.at
    }

    /// The whole time this deadline allows.
    pub fn total(&self) -> Duration {
        self.at.saturating_duration_since(self.start)
    }

    /// Time left, at least a moment.
    pub fn left(&self) -> Duration {
        self.at
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_millis(10))
    }

    /// `fut`, or `Stalled` naming `what` when the deadline passes first.
    pub async fn within<T>(
        &self,
        engine: &Engine,
        what: &str,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, EngineError> {
        let started = Instant::now();
        let answer = tokio::time::timeout_at(self.at, fut).await;
        if super::trace::enabled() {
            let what = if answer.is_ok() {
                what.to_string()
            } else {
                format!("{what} (stalled)")
            };
            super::trace::record(&engine.endpoint, &what, started, started.elapsed());
        }
        answer.map_err(|_| EngineError::Stalled {
            endpoint: engine.endpoint.clone(),
            what: what.to_string(),
            secs: self.total().as_secs(),
        })
    }
}

/// Facts about an engine, recorded in results and shown by `parity doctor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EngineInfo {
    pub endpoint: String,
    pub server_version: String,
    pub api_version: String,
    pub kernel: String,
    pub os: String,
    /// Registered OCI runtimes, sorted.
    pub runtimes: Vec<String>,
    pub default_runtime: String,
    /// Runtime versions as the engine reports them (e.g. `runc` → `1.1.5`).
    pub runtime_versions: std::collections::BTreeMap<String, String>,
    /// Whether the engine remaps users (`--userns-remap`).
    pub userns_remap: bool,
    pub cgroup_version: String,
}

/// A connected engine.
#[derive(Debug)]
pub struct Engine {
    pub(crate) endpoint: String,
    pub(crate) docker: Docker,
    info: EngineInfo,
    image: OnceCell<Result<String, EngineError>>,
    /// Held by each BuildKit build of this process from its cache listing
    /// to its cache pruning, so the records a build made are its own.
    pub(crate) builds: tokio::sync::Mutex<()>,
}

impl Engine {
    /// Connects to `endpoint` and negotiates the API version. A failure
    /// says what to do, not what the HTTP client library calls it.
    pub async fn connect(endpoint: &str) -> Result<Engine, EngineError> {
        let unreachable = |e: &dyn std::fmt::Display| EngineError::Unreachable {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        };
        let docker = if let Some(path) = endpoint.strip_prefix("unix://") {
            if !std::path::Path::new(path).exists() {
                return Err(unreachable(&format!(
                    "{path} does not exist (is the engine running?)"
                )));
            }
            Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
        } else {
            Docker::connect_with_host(endpoint)
        }
        .map_err(|e| unreachable(&e))?;
        let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
            .await
            .map_err(|_| unreachable(&"no answer within 10s"))?
            .map_err(|e| unreachable(&connect_advice(&e)))?;
        let mut engine = Engine {
            endpoint: endpoint.to_string(),
            docker,
            info: EngineInfo::default(),
            image: OnceCell::new(),
            builds: tokio::sync::Mutex::new(()),
        };
        engine.info = engine.read_info().await?;
        Ok(engine)
    }

    pub fn info(&self) -> &EngineInfo {
        &self.info
    }

    pub(crate) fn api_error(&self, e: impl std::fmt::Display) -> EngineError {
        EngineError::Api {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        }
    }

    async fn read_info(&self) -> Result<EngineInfo, EngineError> {
        let version = self.docker.version().await.map_err(|e| self.api_error(e))?;
        let info = self.docker.info().await.map_err(|e| self.api_error(e))?;
        let mut runtimes: Vec<String> = info
            .runtimes
            .clone()
            .unwrap_or_default()
            .into_keys()
            .collect();
        runtimes.sort();
        let runtime_versions = version
            .components
            .unwrap_or_default()
            .into_iter()
            .filter(|c| {
                c.name.eq_ignore_ascii_case("runc") || c.name.to_lowercase().contains("runtime")
            })
            .map(|c| (c.name.to_lowercase(), c.version))
            .collect();
        let security = info.security_options.clone().unwrap_or_default();
        Ok(EngineInfo {
            endpoint: self.endpoint.clone(),
            server_version: version.version.unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            kernel: info.kernel_version.unwrap_or_default(),
            os: info.operating_system.unwrap_or_default(),
            runtimes,
            default_runtime: info.default_runtime.unwrap_or_default(),
            runtime_versions,
            userns_remap: security.iter().any(|s| s.contains("userns")),
            cgroup_version: info
                .cgroup_version
                .map(|v| v.to_string())
                .unwrap_or_default(),
        })
    }

    /// Whether the engine has `oci_runtime` registered.
    pub fn has_runtime(&self, oci_runtime: &str) -> bool {
        self.info.runtimes.iter().any(|r| r == oci_runtime)
    }

    /// Makes sure the default image exists in this engine (importing it on
    /// first use) and returns its reference. Done once per engine.
    pub async fn ensure_default_image(&self, source: &ImageSource) -> Result<String, EngineError> {
        self.image
            .get_or_init(|| async {
                let reference = source.reference();
                if self.docker.inspect_image(&reference).await.is_ok() {
                    return Ok(reference);
                }
                let import = |e: &dyn std::fmt::Display| EngineError::Import {
                    endpoint: self.endpoint.clone(),
                    message: e.to_string(),
                };
                let tar = source.rootfs_tar().map_err(|e| import(&e))?;
                let options = CreateImageOptions {
                    from_src: Some("-".into()),
                    repo: Some(REPOSITORY.into()),
                    tag: Some(source.tag()),
                    changes: IMPORT_CHANGES.iter().map(|s| s.to_string()).collect(),
                    ..Default::default()
                };
                let mut stream = self.docker.create_image(
                    Some(options),
                    Some(bollard::body_full(tar.into())),
                    None,
                );
                while let Some(item) = stream.next().await {
                    item.map_err(|e| import(&e))?;
                }
                self.docker
                    .inspect_image(&reference)
                    .await
                    .map_err(|e| import(&e))?;
                Ok(reference)
            })
            .await
            .clone()
    }

    /// The entrypoint an image declares, for wrapping it with the probe.
    pub(crate) async fn image_entrypoint(&self, image: &str) -> Result<Vec<String>, EngineError> {
        match self.docker.inspect_image(image).await {
            Ok(i) => Ok(i.config.and_then(|c| c.entrypoint).unwrap_or_default()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Err(EngineError::ImageMissing {
                endpoint: self.endpoint.clone(),
                image: image.to_string(),
            }),
            Err(e) => Err(self.api_error(e)),
        }
    }

    /// Removes parity containers whose creating process is gone (on this
    /// host), or all of one run's containers when `run_id` is given.
    pub async fn sweep(&self, run_id: Option<&str>) -> Result<usize, EngineError> {
        let label = match run_id {
            Some(id) => format!("{RUN_LABEL}={id}"),
            None => RUN_LABEL.to_string(),
        };
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([("label".to_string(), vec![label])])),
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| self.api_error(e))?;
        let me = hostname();
        let mut removed = 0;
        for c in list {
            let labels = c.labels.unwrap_or_default();
            let stale = run_id.is_some()
                || (labels.get(HOST_LABEL) == Some(&me)
                    && labels
                        .get(PID_LABEL)
                        .and_then(|p| p.parse::<u32>().ok())
                        .is_some_and(|pid| !process_alive(pid)));
            if let (true, Some(id)) = (stale, c.id) {
                if self.remove(&id).await.is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Force-removes a container and its anonymous volumes.
    pub(crate) async fn remove(&self, id: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(id, Some(options)).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(self.api_error(e)),
        }
    }
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// The message for a failed first request: the client library's own
/// words (`Error in the hyper legacy client: client error (Connect)`) say
/// nothing a user can act on, so say what to check.
fn connect_advice(e: &bollard::errors::Error) -> String {
    let raw = e.to_string();
    let lower = raw.to_lowercase();
    let what = if lower.contains("permission denied") {
        "permission denied on the socket: run as a user in the docker group, or as root"
    } else if lower.contains("connect") || lower.contains("refused") {
        "nothing answered there: is the engine running, and is this the right endpoint? (set DOCKER_HOST, `docker context use`, or the profile's `engine:`)"
    } else {
        "the engine did not answer the version request"
    };
    format!("{what} ({raw})")
}
