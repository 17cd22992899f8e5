//! Runtime policy rules: what an engine refuses or ignores by policy,
//! declared in its runtime profile and checked statically.
//!
//! Some engines refuse workloads for policy rather than for what the kernel
//! can do: Docker Desktop's Enhanced Container Isolation refuses host
//! namespaces and docker.sock binds and ignores `--runtime` (catalog section
//! 9), and it cannot be reproduced on a Linux CI runner. A profile declares
//! those rules over [`ContainerSpec`] fields; `parity lint` and `parity run`
//! report which scenarios a policy would refuse, whether or not that
//! runtime is installed. This module only matches; it never runs anything
//! and never changes a verdict.

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::load::build::Build;
use crate::load::container::ContainerSpec;

/// What a runtime's engine does by policy, beyond what the kernel decides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Options the engine refuses: the container is never created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refuse: Vec<PolicyRule>,
    /// Options the engine accepts but silently ignores.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<PolicyRule>,
}

/// One policy rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRule {
    /// A short id, e.g. `E3` or `docker-socket`.
    pub rule: String,
    /// The container options it applies to; every condition given must hold.
    pub when: PolicyMatch,
    /// What the engine says or does, for people.
    pub message: String,
    /// Where the behaviour is documented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Conditions over a scenario's effective container options. String values
/// are regexes matched against the whole option value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyMatch {
    /// PID namespace mode, e.g. `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Network mode, e.g. `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// IPC namespace mode, e.g. `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc: Option<String>,
    /// UTS namespace mode, e.g. `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uts: Option<String>,
    /// User namespace mode, e.g. `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<String>,
    /// Cgroup namespace mode, e.g. `host`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// `privileged: true` or `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Source path of any bind mount in `volumes` (regex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_source: Option<String>,
    /// Any host device path in `devices` (regex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The Compose `runtime:` override (regex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// A build scenario's `build.network` (`default`, `none`, `host`;
    /// regex); only build scenarios match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_network: Option<String>,
    /// Any of a build scenario's `build.entitlements` (regex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_entitlement: Option<String>,
    /// Any flag of a build scenario's Dockerfile `RUN` instructions, as
    /// written (`--network=host`, `--security=insecure`; regex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_run_flag: Option<String>,
}

/// Whether a rule refuses or ignores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Refuse,
    Ignore,
}

impl Effect {
    pub fn verb(self) -> &'static str {
        match self {
            Effect::Refuse => "would refuse",
            Effect::Ignore => "would ignore part of",
        }
    }
}

/// A rule that matched a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyHit {
    pub effect: Effect,
    pub rule: String,
    pub message: String,
    pub link: Option<String>,
    /// The scenario's key that triggered it (for locating it): a
    /// `container:` key, or `network` / `entitlements` of `build:`.
    pub key: &'static str,
    /// The matched value, e.g. the bind source.
    pub value: String,
}

/// A rule whose regex does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy rule {rule}: {key} pattern {pattern:?} does not compile: {message}")]
pub struct PolicyError {
    pub rule: String,
    pub key: &'static str,
    pub pattern: String,
    pub message: String,
}

impl PolicyMatch {
    fn patterns(&self) -> [(&'static str, Option<&String>); 12] {
        [
            ("pid", self.pid.as_ref()),
            ("network_mode", self.network_mode.as_ref()),
            ("ipc", self.ipc.as_ref()),
            ("uts", self.uts.as_ref()),
            ("userns_mode", self.userns_mode.as_ref()),
            ("cgroup", self.cgroup.as_ref()),
            ("volumes", self.bind_source.as_ref()),
            ("devices", self.device.as_ref()),
            ("runtime", self.runtime.as_ref()),
            ("network", self.build_network.as_ref()),
            ("entitlements", self.build_entitlement.as_ref()),
            ("dockerfile", self.build_run_flag.as_ref()),
        ]
    }

    /// The first option that matches when every condition holds.
    fn matches(
        &self,
        spec: &ContainerSpec,
        build: Option<&Build>,
    ) -> Option<(&'static str, String)> {
        let mut first: Option<(&'static str, String)> = None;
        let mut any = false;
        if let Some(want) = self.privileged {
            any = true;
            if spec.is_privileged() != want {
                return None;
            }
            first = Some(("privileged", want.to_string()));
        }
        let binds: Vec<String> = spec.volumes.iter().filter_map(|v| bind_source(v)).collect();
        let devices: Vec<String> = spec
            .devices
            .iter()
            .map(|d| d.split(':').next().unwrap_or_default().to_string())
            .collect();
        for (key, pattern) in self.patterns() {
            let Some(pattern) = pattern else { continue };
            any = true;
            let Ok(re) = Regex::new(&format!("^(?:{pattern})$")) else {
                return None;
            };
            let candidates: Vec<String> = match key {
                "pid" => spec.pid.iter().cloned().collect(),
                "network_mode" => spec.network_mode.iter().cloned().collect(),
                "ipc" => spec.ipc.iter().cloned().collect(),
                "uts" => spec.uts.iter().cloned().collect(),
                "userns_mode" => spec.userns_mode.iter().cloned().collect(),
                "cgroup" => spec.cgroup.iter().cloned().collect(),
                "volumes" => binds.clone(),
                "devices" => devices.clone(),
                "network" => build.iter().map(|b| b.network.name().to_string()).collect(),
                "entitlements" => build
                    .iter()
                    .flat_map(|b| b.entitlements.iter().map(|e| e.name().to_string()))
                    .collect(),
                "dockerfile" => build.iter().flat_map(|b| b.run_flags()).collect(),
                _ => spec.runtime.iter().cloned().collect(),
            };
            let hit = candidates.into_iter().find(|c| re.is_match(c))?;
            first.get_or_insert((key, hit));
        }
        if any { first } else { None }
    }
}

/// The host path of a `SOURCE:TARGET[:MODE]` bind mount; `None` for named
/// volumes and anonymous ones.
pub fn bind_source(volume: &str) -> Option<String> {
    let (source, _) = volume.split_once(':')?;
    crate::load::container::is_bind_source(source).then(|| source.to_string())
}

impl Policy {
    pub fn is_empty(&self) -> bool {
        self.refuse.is_empty() && self.ignore.is_empty()
    }

    fn rules(&self) -> impl Iterator<Item = (Effect, &PolicyRule)> {
        self.refuse
            .iter()
            .map(|r| (Effect::Refuse, r))
            .chain(self.ignore.iter().map(|r| (Effect::Ignore, r)))
    }

    /// Checks every pattern compiles and every rule has a condition.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (_, rule) in self.rules() {
            let mut any = rule.when.privileged.is_some();
            for (key, pattern) in rule.when.patterns() {
                let Some(pattern) = pattern else { continue };
                any = true;
                if let Err(e) = Regex::new(&format!("^(?:{pattern})$")) {
                    return Err(PolicyError {
                        rule: rule.rule.clone(),
                        key,
                        pattern: pattern.clone(),
                        message: e.to_string(),
                    });
                }
            }
            if !any {
                return Err(PolicyError {
                    rule: rule.rule.clone(),
                    key: "when",
                    pattern: String::new(),
                    message: "a rule needs at least one condition".into(),
                });
            }
        }
        Ok(())
    }

    /// The rules that apply to a scenario's effective container options
    /// and, for a build scenario, its `build:`.
    pub fn check(&self, spec: &ContainerSpec, build: Option<&Build>) -> Vec<PolicyHit> {
        self.rules()
            .filter_map(|(effect, rule)| {
                rule.when
                    .matches(spec, build)
                    .map(|(key, value)| PolicyHit {
                        effect,
                        rule: rule.rule.clone(),
                        message: rule.message.clone(),
                        link: rule.link.clone(),
                        key,
                        value,
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::path::Path;

    fn eci() -> Policy {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes/eci.yaml");
        crate::load::runtime::RuntimeProfile::load(&dir)
            .unwrap()
            .policy
    }

    fn spec(text: &str) -> ContainerSpec {
        crate::load::yaml::from_str(Path::new("c.yaml"), text).unwrap()
    }

    #[rstest]
    #[case::pid_host("pid: host", Some("N1"))]
    #[case::net_host("network_mode: host", Some("N2"))]
    #[case::ipc_host("ipc: host", Some("N3"))]
    #[case::uts_host("uts: host", Some("N3"))]
    #[case::docker_sock("volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]", Some("E3"))]
    #[case::run_docker_sock("volumes: [\"/run/docker.sock:/s:ro\"]", Some("E3"))]
    #[case::daemon_json("volumes: [\"/etc/docker/daemon.json:/mnt/daemon.json\"]", Some("E2"))]
    #[case::var_lib_docker("volumes: [\"/var/lib/docker:/d\"]", Some("E2"))]
    #[case::runtime_override("runtime: runc", Some("E1"))]
    #[case::named_volume("volumes: [\"data:/var/lib/docker\"]", None)]
    #[case::tmp_bind("volumes: [\"/tmp:/tmp\"]", None)]
    #[case::private_pid("pid: private", None)]
    #[case::defaults("{}", None)]
    fn eci_policy_rules(#[case] container: &str, #[case] rule: Option<&str>) {
        let hits = eci().check(&spec(container), None);
        assert_eq!(hits.first().map(|h| h.rule.as_str()), rule, "{hits:?}");
    }

    #[rstest]
    #[case::network_host("network: host", Some("B1"))]
    #[case::entitlement_network_host("entitlements: [network.host]", Some("B2"))]
    #[case::entitlement_insecure("entitlements: [security.insecure]", Some("B2"))]
    #[case::run_network_host(
        "dockerfile: |\n  FROM busybox\n  RUN --network=host true",
        Some("B1")
    )]
    #[case::run_insecure(
        "dockerfile: |\n  FROM busybox\n  RUN --security=insecure true",
        Some("B2")
    )]
    #[case::run_network_none("dockerfile: |\n  FROM busybox\n  RUN --network=none true", None)]
    #[case::network_none("network: none", None)]
    #[case::plain("network: default", None)]
    fn eci_build_rules(#[case] build: &str, #[case] rule: Option<&str>) {
        let b: Build = crate::load::yaml::from_str(
            Path::new("b.yaml"),
            &match build.starts_with("dockerfile") {
                true => format!("{build}\n"),
                false => format!("dockerfile: x\n{build}\n"),
            },
        )
        .unwrap();
        let hits = eci().check(&spec("{}"), Some(&b));
        assert_eq!(hits.first().map(|h| h.rule.as_str()), rule, "{hits:?}");
        assert!(eci().check(&spec("{}"), None).is_empty(), "not a build");
    }

    #[test]
    fn all_conditions_must_hold() {
        let p: Policy = crate::load::yaml::from_str(
            Path::new("p.yaml"),
            "refuse:\n  - { rule: x, when: { privileged: true, pid: host }, message: m }\n",
        )
        .unwrap();
        assert!(p.check(&spec("pid: host"), None).is_empty());
        assert!(p.check(&spec("privileged: true"), None).is_empty());
        let hit = &p.check(&spec("privileged: true\npid: host"), None)[0];
        assert_eq!((hit.effect, hit.key), (Effect::Refuse, "privileged"));
    }

    #[rstest]
    #[case::bad_regex(
        "refuse:\n  - { rule: x, when: { pid: \"(\" }, message: m }\n",
        "does not compile"
    )]
    #[case::no_condition(
        "ignore:\n  - { rule: x, when: {}, message: m }\n",
        "at least one condition"
    )]
    fn invalid_rules_are_reported(#[case] text: &str, #[case] needle: &str) {
        let p: Policy = crate::load::yaml::from_str(Path::new("p.yaml"), text).unwrap();
        assert!(p.validate().unwrap_err().to_string().contains(needle));
    }
}
