//! Connection to one Docker engine and what it can tell about itself.
//!
//! Owns connecting over each transport (unix socket, plain TCP, TLS, ssh)
//! with advice that names what to fix, version negotiation, the engine facts parity
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

use crate::load::endpoint::{Resolved, Transport};
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
    /// An error answer taken for trouble, not a refusal: the answer and
    /// the decision (phase, status, why).
    #[error("engine at {endpoint}: container {}: {message} ({})", decision.phase.name(), decision.describe())]
    Trouble {
        endpoint: String,
        message: String,
        decision: super::classify::Decision,
    },
    #[error("interrupted")]
    Cancelled,
}

impl EngineError {
    /// How the engine's answer was decided, when this error is one.
    pub fn decision(&self) -> Option<&super::classify::Decision> {
        match self {
            EngineError::Trouble { decision, .. } => Some(decision),
            _ => None,
        }
    }
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
    /// The security options the engine applies, by name, sorted
    /// (`apparmor`, `seccomp`, `selinux`, `userns`, `rootless`, `cgroupns`).
    #[serde(default)]
    pub security_options: Vec<String>,
}

impl EngineInfo {
    /// Whether the engine confines containers with AppArmor.
    pub fn apparmor(&self) -> bool {
        self.security_options.iter().any(|o| o == "apparmor")
    }
}

/// The names in the engine's `SecurityOptions` (`name=seccomp,profile=builtin`
/// → `seccomp`; the old bare form `apparmor` as is), sorted.
fn security_names(options: &[String]) -> Vec<String> {
    let mut names: Vec<String> = options
        .iter()
        .map(|o| {
            let first = o.split(',').next().unwrap_or(o);
            first.strip_prefix("name=").unwrap_or(first).to_string()
        })
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A connected engine.
#[derive(Debug)]
pub struct Engine {
    pub(crate) endpoint: String,
    pub(crate) transport: Transport,
    pub(crate) docker: Docker,
    info: EngineInfo,
    image: OnceCell<Result<String, EngineError>>,
}

impl Engine {
    /// Connects to `endpoint` as given (an inner engine's socket), without
    /// TLS.
    pub async fn connect(endpoint: &str) -> Result<Engine, EngineError> {
        Engine::connect_resolved(&Resolved::plain(endpoint)).await
    }

    /// Connects to a resolved endpoint over its transport and negotiates
    /// the API version. A failure says what to do, not what the HTTP
    /// client library calls it.
    pub async fn connect_resolved(resolved: &Resolved) -> Result<Engine, EngineError> {
        let endpoint = resolved.endpoint.as_str();
        let unreachable = |e: &dyn std::fmt::Display| EngineError::Unreachable {
            endpoint: endpoint.to_string(),
            message: e.to_string(),
        };
        let transport = resolved.transport().map_err(|e| unreachable(&e))?;
        let version = bollard::API_DEFAULT_VERSION;
        let docker = match &transport {
            Transport::Unix { path } => {
                if !path.exists() {
                    return Err(unreachable(&format!(
                        "{} does not exist (is the engine running?)",
                        path.display()
                    )));
                }
                Docker::connect_with_unix(&path.display().to_string(), 120, version)
            }
            Transport::Tcp { address } => {
                Docker::connect_with_http(&format!("tcp://{address}"), 120, version)
            }
            Transport::Tls { address, files } => {
                if let Some(problem) = files.problem() {
                    return Err(unreachable(&problem));
                }
                Docker::connect_with_ssl(
                    &format!("tcp://{address}"),
                    &files.key,
                    &files.cert,
                    &files.ca,
                    120,
                    version,
                )
            }
            Transport::Ssh { destination } => {
                let dest = super::ssh::Destination::parse(destination);
                super::ssh::check(&dest)
                    .await
                    .map_err(|said| unreachable(&ssh_advice(destination, &said)))?;
                super::ssh::docker(&dest)
            }
        }
        .map_err(|e| unreachable(&connect_advice(&e, &transport)))?;
        // An ssh login, a TLS handshake and a remote `docker` command take
        // longer than a local socket.
        let patience = if transport.is_local() { 10 } else { 30 };
        let docker =
            tokio::time::timeout(Duration::from_secs(patience), docker.negotiate_version())
                .await
                .map_err(|_| unreachable(&format!("no answer within {patience}s")))?
                .map_err(|e| unreachable(&connect_advice(&e, &transport)))?;
        let mut engine = Engine {
            endpoint: endpoint.to_string(),
            transport,
            docker,
            info: EngineInfo::default(),
            image: OnceCell::new(),
        };
        engine.info = engine.read_info().await?;
        Ok(engine)
    }

    /// How this engine is reached.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    pub fn info(&self) -> &EngineInfo {
        &self.info
    }

    pub(crate) fn trouble(
        &self,
        message: String,
        decision: super::classify::Decision,
    ) -> EngineError {
        EngineError::Trouble {
            endpoint: self.endpoint.clone(),
            message,
            decision,
        }
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
            security_options: security_names(&security),
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

/// The error and its causes in one line: the client library's top words
/// (`Error in the hyper legacy client: client error (Connect)`) hide the
/// cause (ssh's own message, the TLS alert).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string().trim().to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string().trim().to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

/// The message for a failed first request: what to check, for the
/// transport used, followed by the raw cause.
fn connect_advice(e: &bollard::errors::Error, transport: &Transport) -> String {
    let raw = chain(e);
    let lower = raw.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let what = match transport {
        Transport::Unix { .. } if has(&["permission denied"]) => {
            "permission denied on the socket: run as a user in the docker group, or as root".to_string()
        }
        Transport::Tcp { .. } if has(&["http request to an https server"]) => {
            "the engine speaks TLS on this port and parity spoke plain HTTP: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the folder with ca.pem, cert.pem and key.pem, or use a docker context that has them".to_string()
        }
        Transport::Tls { files, .. } => {
            if has(&["unknownissuer", "unknown issuer", "badsignature"]) {
                format!(
                    "the engine's certificate is not signed by the CA in {} (from {}): use the CA that signed the engine's --tlscert",
                    files.ca.display(),
                    files.from
                )
            } else if has(&["notvalidforname", "not valid for name"]) {
                "the engine's certificate does not name the host parity connected to: use the name or address in its subjectAltName".to_string()
            } else if has(&["expired", "notvalidyet"]) {
                format!(
                    "a certificate has expired or is not valid yet ({})",
                    files.from
                )
            } else if has(&[
                "badcertificate",
                "bad certificate",
                "unknownca",
                "unknown ca",
                "certificaterequired",
                "decrypterror",
            ]) {
                format!(
                    "the engine refused the client certificate {} (from {}): use a client certificate signed by the CA the engine trusts (its --tlscacert)",
                    files.cert.display(),
                    files.from
                )
            } else if has(&["corrupt message", "invalidcontenttype", "invalid content type", "peerincompatible", "wrong version"]) {
                "the engine does not speak TLS on this port (plain HTTP?): check the port, or unset DOCKER_TLS_VERIFY / use a context without TLS if the engine really listens in the clear".to_string()
            } else if has(&["key.pem", "cert.pem", "ca.pem", "private key", "certificate"]) {
                format!(
                    "the TLS files from {} cannot be used: {}, {} and {} must be PEM files",
                    files.from,
                    files.ca.display(),
                    files.cert.display(),
                    files.key.display()
                )
            } else if has(&["refused", "connect"]) {
                "nothing answered there: is the engine running with --tlsverify on this address and port?".to_string()
            } else {
                "the engine did not answer the version request over TLS".to_string()
            }
        }
        Transport::Ssh { destination } => format!(
            "the ssh login to {destination} worked, but no engine answered through `docker system dial-stdio` there"
        ),
        _ if has(&["connect", "refused"]) => {
            "nothing answered there: is the engine running, and is this the right endpoint? (set DOCKER_HOST, `docker context use`, or the profile's `engine:`)".to_string()
        }
        _ => "the engine did not answer the version request".to_string(),
    };
    format!("{what} ({raw})")
}

/// What to fix when the first ssh check fails, from ssh's or the remote
/// docker CLI's own words (kept after the advice).
fn ssh_advice(destination: &str, said: &str) -> String {
    let lower = said.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let what = if has(&[
        "permission denied while trying to connect",
        "cannot connect to the docker daemon",
        "is the docker daemon running",
    ]) {
        format!(
            "the docker CLI on {destination} cannot reach its engine: start it, or log in as a user in the docker group"
        )
    } else if has(&["could not resolve hostname", "name or service not known"]) {
        format!(
            "ssh cannot resolve the host of {destination}: check the name, or add a Host entry to ~/.ssh/config"
        )
    } else if has(&[
        "host key verification failed",
        "remote host identification has changed",
    ]) {
        format!(
            "ssh does not trust the host key of {destination}: check it and add it to ~/.ssh/known_hosts (ssh-keyscan, or one interactive `ssh` login)"
        )
    } else if has(&["permission denied", "too many authentication failures"]) {
        format!(
            "ssh could not log in to {destination}: parity runs ssh in batch mode (no password prompt), so load the key into the agent (ssh-add) or set IdentityFile in ~/.ssh/config, and check the user"
        )
    } else if has(&[
        "connection refused",
        "timed out",
        "no route to host",
        "network is unreachable",
    ]) {
        format!(
            "nothing answers ssh at {destination}: check the host and port, and that sshd runs there"
        )
    } else if has(&["no `docker` command", "command not found"]) {
        format!(
            "the remote host {destination} has no docker CLI on the login's PATH: install it there (parity runs `docker system dial-stdio` remotely)"
        )
    } else {
        format!("ssh to {destination} failed")
    };
    format!("{what} ({said})")
}
