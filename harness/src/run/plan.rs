//! Planning: one scenario under one runtime profile becomes a [`RunSpec`].
//!
//! Owns the merge of profile defaults under scenario options, parity's own
//! defaults (no network), what the probe is asked to observe, and the
//! static checks of what a host can run. It produces plain data; `engine`
//! turns it into an Engine API request.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::load::container::ContainerSpec;
use crate::load::runtime::RuntimeProfile;
use crate::load::scenario::{Field, Scenario};

/// Everything needed to run one scenario once under one runtime.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub scenario_id: String,
    pub scenario_path: PathBuf,
    pub runtime: String,
    pub oci_runtime: String,
    pub endpoint: String,
    /// An image reference, or `None` for parity's own image.
    pub image: Option<String>,
    pub command: Vec<String>,
    pub container: ContainerSpec,
    pub timeout: Duration,
    /// Time allowed on top of `timeout` for setup and teardown: together
    /// they are the deadline of the container's whole path.
    pub grace: Duration,
    /// What the probe observes; `None` runs the command untouched.
    pub probe: Option<ProbePlan>,
    /// For `image: { build: DIR }`: the folder to build; `image` is set to
    /// the built image before the run.
    pub build: Option<PathBuf>,
    /// A stack's service: what joins it to the stack's networks, volumes
    /// and the engine's healthcheck.
    pub stack: Option<StackMember>,
}

/// What makes a container one service of a stack on one side.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StackMember {
    /// The service's name (the container's name ends with it).
    pub service: String,
    /// The engine's name of each stack volume the service mounts, by the
    /// stack's name; they outlive the container (the stack removes them).
    pub volumes: std::collections::BTreeMap<String, String>,
    /// The network the container is created on and its aliases (the
    /// others are joined before start).
    pub network: Option<(String, Vec<String>)>,
    /// The engine's healthcheck: test, interval, timeout, start period,
    /// start interval (nanoseconds) and retries.
    pub healthcheck: Option<bollard::models::HealthConfig>,
}

/// What the in-container probe is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbePlan {
    /// Trace syscalls with ptrace.
    pub syscalls: bool,
    /// Snapshot the mount table before and after the workload.
    pub mounts: bool,
    /// Opt-in environment facts.
    pub facts: BTreeSet<Field>,
    /// PID 1 is a long-running service: no tracer attaches to it (its steps
    /// are traced instead, when `syscalls` is set), and its mount table is
    /// read while it runs, after the last step.
    pub service: bool,
    /// PID 1 runs as written, not under `probe wrap` (the probe is still
    /// uploaded for the steps and checks): a service whose command is
    /// `/sbin/init`, which Sysbox recognises by exactly that argv[0].
    pub unwrapped: bool,
}

impl ProbePlan {
    /// Whether a tracer must attach to PID 1 (for syscalls, or for the
    /// after-exit mount snapshot).
    pub fn needs_tracer(&self) -> bool {
        !self.service && (self.syscalls || self.mounts)
    }
}

/// The argv[0] Sysbox takes for systemd (and then sets up /run, /run/lock
/// and more for it): a service with this command runs unwrapped.
pub const SYSTEMD_INIT: &str = "/sbin/init";

/// Options that change how a plan is made.
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    /// Never trace syscalls (`--no-trace`).
    pub no_trace: bool,
    /// Time allowed, on top of a scenario's timeout, for setting its
    /// container up and tearing it down (`--grace`, `grace` in parity.toml).
    pub grace: Duration,
}

/// The default `grace`: room for a slow engine to create, start, drain
/// and download, without letting a stalled one hold a scenario for long.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(50);

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            no_trace: false,
            grace: DEFAULT_GRACE,
        }
    }
}

pub fn plan(scenario: &Scenario, profile: &RunProfile<'_>, opts: PlanOptions) -> RunSpec {
    let file = &scenario.file;
    let mut container = file.container.merged_over(&profile.profile.container);
    if container.network_mode.is_none() {
        container.network_mode = Some("none".into());
    }
    let observed = scenario.observed();
    let service = file.is_service();
    // A service always gets the probe: it checks files, snapshots the mount
    // table and traces the steps.
    let wants_probe = service || observed.iter().any(|f| f.needs_probe());
    let probe = wants_probe.then(|| ProbePlan {
        service,
        unwrapped: service && file.command.first().is_some_and(|c| c == SYSTEMD_INIT),
        syscalls: observed.contains(&Field::Syscalls) && !opts.no_trace,
        mounts: observed.contains(&Field::Mounts) || observed.contains(&Field::MountTable),
        facts: observed
            .iter()
            .copied()
            .filter(|f| {
                matches!(
                    f,
                    Field::Capabilities
                        | Field::IdMaps
                        | Field::Security
                        | Field::Devices
                        | Field::MountTable
                )
            })
            .collect(),
    });
    RunSpec {
        scenario_id: scenario.id.clone(),
        scenario_path: scenario.path.clone(),
        runtime: profile.profile.name.clone(),
        // A Compose `runtime:` override wins, as it does under plain Docker.
        oci_runtime: container
            .runtime
            .clone()
            .unwrap_or_else(|| profile.profile.oci_runtime.clone()),
        endpoint: profile.endpoint.clone(),
        image: file.image.named().map(str::to_string),
        command: file.command.clone(),
        container,
        timeout: file.timeout.0,
        grace: opts.grace,
        probe,
        build: file.image.build_dir(&scenario.path),
        stack: None,
    }
}

/// Why `spec` cannot run on an engine on another machine (reached over
/// ssh, or TCP to a host that is not this one), if it cannot: a bind mount
/// names a path of the machine parity runs on, which that engine would
/// take from its own file system, a silent difference at best. Located at
/// the line of the scenario file (`scenario_text`) that names the volume,
/// or of the profile when the volume comes from its defaults.
pub fn remote_bind_problem(spec: &RunSpec, scenario_text: &str, endpoint: &str) -> Option<String> {
    let volume = spec
        .container
        .volumes
        .iter()
        .find(|v| crate::load::policy::bind_source(v).is_some())?;
    let source = crate::load::policy::bind_source(volume)?;
    let line = scenario_text
        .lines()
        .position(|l| l.contains(volume.as_str()) || l.contains(&format!("{source}:")))
        .map(|i| format!(":{}", i + 1));
    let place = match &line {
        Some(l) => format!("{}{l}", spec.scenario_path.display()),
        None => format!(
            "{} (from the defaults of profile {})",
            spec.scenario_path.display(),
            spec.runtime
        ),
    };
    Some(format!(
        "{place}: volume {volume:?} bind-mounts {source} of the machine parity runs on, but {}'s engine {endpoint} is on another machine, which would mount its own {source} instead: use a named volume or files the scenario makes itself, or give {} an engine on this machine",
        spec.runtime, spec.runtime
    ))
}

/// A profile with its resolved endpoint.
#[derive(Debug, Clone)]
pub struct RunProfile<'a> {
    pub profile: &'a RuntimeProfile,
    pub endpoint: String,
}

/// What the host can do, found once by probing it.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct HostLimits {
    /// Why `--privileged` containers cannot start here, if they cannot.
    pub privileged_blocked: Option<String>,
    /// Why the host could not be probed (the baseline's engine or image
    /// was not there, or the probe itself failed): then nothing is known
    /// of its limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unprobed: Option<String>,
}

impl HostLimits {
    /// Why the host cannot run `spec` at all, if it cannot.
    pub fn blocks(&self, spec: &RunSpec) -> Option<String> {
        if spec.container.is_privileged() {
            if let Some(why) = &self.privileged_blocked {
                return Some(format!("this host cannot run privileged containers: {why}"));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::scenario::ScenarioFile;
    use std::path::Path;

    fn scenario(text: &str) -> Scenario {
        let file: ScenarioFile = crate::load::yaml::from_str(Path::new("s.yaml"), text).unwrap();
        Scenario {
            id: "a/b".into(),
            path: "s.yaml".into(),
            file,
        }
    }

    fn profile() -> RuntimeProfile {
        crate::load::yaml::from_str(
            Path::new("p.yaml"),
            "name: p\noci_runtime: runc\ncontainer: { cap_add: [NET_ADMIN], user: \"7\" }\n",
        )
        .unwrap()
    }

    #[test]
    fn network_defaults_to_none_and_profile_defaults_merge() {
        let p = profile();
        let rp = RunProfile {
            profile: &p,
            endpoint: "unix:///x".into(),
        };
        let spec = plan(
            &scenario("description: d\ncommand: [true]\ncontainer: { cap_add: [SYS_ADMIN] }\n"),
            &rp,
            PlanOptions::default(),
        );
        assert_eq!(spec.container.network_mode.as_deref(), Some("none"));
        assert_eq!(spec.container.cap_add, vec!["NET_ADMIN", "SYS_ADMIN"]);
        assert_eq!(spec.container.user.as_deref(), Some("7"));
        assert_eq!(spec.image, None);
        let probe = spec.probe.unwrap();
        assert!(probe.syscalls && probe.mounts);
    }

    #[test]
    fn no_probe_fields_means_an_untouched_command() {
        let p = profile();
        let rp = RunProfile {
            profile: &p,
            endpoint: "unix:///x".into(),
        };
        let spec = plan(
            &scenario("description: d\ncommand: [/sbin/init]\nobserve: [exit_code, stdout]\n"),
            &rp,
            PlanOptions::default(),
        );
        assert_eq!(spec.probe, None);
        let traced = plan(
            &scenario("description: d\ncommand: [x]\n"),
            &rp,
            PlanOptions {
                no_trace: true,
                ..PlanOptions::default()
            },
        );
        assert!(!traced.probe.unwrap().syscalls);
    }

    #[test]
    fn a_bind_mount_is_located_for_a_remote_engine() {
        let p = profile();
        let rp = RunProfile {
            profile: &p,
            endpoint: "ssh://prod".into(),
        };
        let text = "description: d\ncommand: [x]\ncontainer:\n  volumes:\n    - data:/data\n    - ./fixtures:/fx:ro\n";
        let spec = plan(&scenario(text), &rp, PlanOptions::default());
        let why = remote_bind_problem(&spec, text, "ssh://prod").unwrap();
        assert!(
            why.starts_with("s.yaml:6: volume \"./fixtures:/fx:ro\""),
            "{why}"
        );
        assert!(why.contains("ssh://prod is on another machine"), "{why}");
        let named = "description: d\ncommand: [x]\ncontainer: { volumes: [data:/data] }\n";
        let spec = plan(&scenario(named), &rp, PlanOptions::default());
        assert_eq!(remote_bind_problem(&spec, named, "ssh://prod"), None);
    }

    #[test]
    fn privileged_scenarios_are_blocked_where_the_host_cannot_run_them() {
        let p = profile();
        let rp = RunProfile {
            profile: &p,
            endpoint: "unix:///x".into(),
        };
        let spec = plan(
            &scenario("description: d\ncommand: [x]\ncontainer: { privileged: true }\n"),
            &rp,
            PlanOptions::default(),
        );
        let limits = HostLimits {
            privileged_blocked: Some("no CAP_SYS_RESOURCE".into()),
            ..HostLimits::default()
        };
        assert!(limits.blocks(&spec).unwrap().contains("CAP_SYS_RESOURCE"));
        assert_eq!(HostLimits::default().blocks(&spec), None);
    }
}
