//! Stack scenarios: several services started together on each side.
//!
//! Owns the `services:` / `volumes:` / `networks:` keys of a scenario in
//! the Compose specification's names and forms (`depends_on` as a list or
//! a map with conditions, `network_mode: "service:X"`, `pid`/`ipc` of
//! another service, named volumes, a Compose `healthcheck`), the start
//! order, and every check serde cannot express, located at the offending
//! key. It does not run anything: `run::stack` does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::load::container::ContainerSpec;
use crate::load::duration::Timeout;
use crate::load::service::{ImageRef, Ready};
use crate::load::yaml::YamlError;

/// One service of a stack: an image, its command, readiness and the
/// container keys of a one-container scenario, written at the service's
/// top level as in a Compose file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StackService {
    /// Image to run: a name, or `{ build: DIR }`; default: the harness's
    /// own busybox + probe image.
    #[serde(default)]
    pub image: ImageRef,
    /// The service's argv (a list, or a string split as a shell would);
    /// default: the image's own command.
    #[serde(
        default,
        deserialize_with = "command_forms",
        skip_serializing_if = "Vec::is_empty"
    )]
    #[schemars(with = "serde_json::Value")]
    pub command: Vec<String>,
    /// When the service is up, as in a service scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<Ready>,
    /// Services started (or healthy, or completed) before this one: a list
    /// of names, or a map of name to `{ condition: ... }`.
    #[serde(default, skip_serializing_if = "DependsOn::is_empty")]
    pub depends_on: DependsOn,
    /// A Compose healthcheck, run by the engine; the service is ready when
    /// the engine says it is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// The stack networks the service joins (a list, or a map of name to
    /// `{ aliases: [...] }`); default: the stack's default network.
    #[serde(default, skip_serializing_if = "ServiceNetworks::is_empty")]
    pub networks: ServiceNetworks,
    /// Host ports: never published (steps reach services over the stack's
    /// networks); refused unless the scenario says `allow_host: [ports]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub ports: Vec<serde_json::Value>,
    /// Container options, as in a one-container scenario's `container:`.
    #[serde(flatten)]
    pub container: ContainerSpec,
}

/// Splits a command string into words as a POSIX shell would (quotes
/// and backslashes; no expansion): a Compose `command:` string, or a
/// `docker run` line given as one argument.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let (mut words, mut word, mut in_word) = (Vec::new(), String::new(), false);
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("{s:?}: a ' is not closed")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("{s:?}: a \" is not closed")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("{s:?}: a \" is not closed")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err(format!("{s:?}: ends with a lone \\")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A Compose `command`: a list, or a string split as a shell would.
fn command_forms<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of strings, or a command string")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<Vec<String>, E> {
            split_words(s).map_err(E::custom)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(w) = seq.next_element::<String>()? {
                out.push(w);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// How a dependency must be before its dependent starts.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Started (the default, as in Compose).
    #[default]
    ServiceStarted,
    /// Ready: its `ready:` check passed and its healthcheck says healthy.
    ServiceHealthy,
    /// Exited with status 0.
    ServiceCompletedSuccessfully,
}

impl Condition {
    pub fn name(self) -> &'static str {
        match self {
            Condition::ServiceStarted => "service_started",
            Condition::ServiceHealthy => "service_healthy",
            Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
        }
    }
}

/// One entry of `depends_on`'s map form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    #[serde(default)]
    pub condition: Condition,
    /// Accepted for Compose files; a stack is never restarted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<bool>,
    /// Accepted for Compose files; every dependency is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// `depends_on`, by service name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(with = "DependsOnForms")]
pub struct DependsOn(pub BTreeMap<String, Condition>);

#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum DependsOnForms {
    List(Vec<String>),
    Map(BTreeMap<String, Dependency>),
}

impl DependsOn {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for DependsOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DependsOn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of service names or a map of name to { condition }")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DependsOn, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(name) = seq.next_element::<String>()? {
                    out.insert(name, Condition::ServiceStarted);
                }
                Ok(DependsOn(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DependsOn, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((name, dep)) = map.next_entry::<String, Option<Dependency>>()? {
                    out.insert(name, dep.unwrap_or_default().condition);
                }
                Ok(DependsOn(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// The networks a service joins, each with its extra aliases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(with = "NetworkForms")]
pub struct ServiceNetworks(pub BTreeMap<String, Vec<String>>);

#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum NetworkForms {
    List(Vec<String>),
    Map(BTreeMap<String, Option<ServiceNetwork>>),
}

/// One entry of a service's `networks:` map.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ServiceNetwork {
    #[serde(default)]
    aliases: Vec<String>,
}

impl ServiceNetworks {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for ServiceNetworks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ServiceNetworks;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of network names or a map of name to { aliases }")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(name) = seq.next_element::<String>()? {
                    out.insert(name, Vec::new());
                }
                Ok(ServiceNetworks(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((name, n)) = map.next_entry::<String, Option<ServiceNetwork>>()? {
                    out.insert(name, n.unwrap_or_default().aliases);
                }
                Ok(ServiceNetworks(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A Compose healthcheck: the engine runs `test` every `interval`; the
/// service is healthy after one success, unhealthy after `retries`
/// failures in a row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// `[CMD, prog, args...]`, `[CMD-SHELL, "command"]`, `[NONE]`, or a
    /// string run by the shell.
    #[serde(default)]
    #[schemars(with = "serde_json::Value")]
    pub test: HealthTest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Timeout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period: Option<Timeout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Timeout>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable: bool,
}

/// A healthcheck's `test`, as the Engine API takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HealthTest(pub Vec<String>);

impl<'de> Deserialize<'de> for HealthTest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HealthTest;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command string or a list starting with CMD, CMD-SHELL or NONE")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<HealthTest, E> {
                Ok(HealthTest(vec!["CMD-SHELL".into(), s.into()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HealthTest, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(HealthTest(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Compose's healthcheck defaults.
const HEALTH_INTERVAL: Duration = Duration::from_secs(30);
const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
const HEALTH_RETRIES: u32 = 3;

impl Healthcheck {
    /// Whether the engine runs a check at all.
    pub fn active(&self) -> bool {
        !self.disable && self.test.0.first().is_some_and(|t| t != "NONE")
    }

    pub fn interval(&self) -> Duration {
        self.interval.map_or(HEALTH_INTERVAL, |t| t.0)
    }

    /// The longest the engine can take to call the service healthy or
    /// unhealthy: the start period, then `retries` checks.
    pub fn budget(&self) -> Duration {
        let start = self.start_period.map_or(Duration::ZERO, |t| t.0);
        let each = self.interval() + self.timeout.map_or(HEALTH_TIMEOUT, |t| t.0);
        start + each * (self.retries.unwrap_or(HEALTH_RETRIES) + 1)
    }

    /// For people: `healthcheck wget -q ...`.
    pub fn describe(&self) -> String {
        let argv = match self.test.0.first().map(String::as_str) {
            Some("CMD" | "CMD-SHELL") => &self.test.0[1..],
            _ => &self.test.0[..],
        };
        format!("healthcheck {}", argv.join(" "))
    }
}

/// A named volume the stack declares: made per side and run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Refused: a stack makes its own volumes on each side.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

/// A network the stack declares: made per side and run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkDef {
    /// `bridge` (the default); host networks are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// No route out of the network.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Refused: a stack makes its own networks on each side.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

/// What of the host a stack may use, when it says so.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HostAccess {
    /// `network_mode: host` is honoured.
    Network,
    /// `ports:` are accepted and ignored (never published).
    Ports,
}

/// The name of the network a stack makes when it declares none, as
/// Compose calls it.
pub const DEFAULT_NETWORK: &str = "default";

/// The stack keys of a scenario, as validation and the run read them.
#[derive(Debug, Clone, Copy)]
pub struct Stack<'a> {
    pub services: &'a BTreeMap<String, StackService>,
    pub volumes: &'a BTreeMap<String, Option<VolumeDef>>,
    pub networks: &'a BTreeMap<String, Option<NetworkDef>>,
    pub allow_host: &'a [HostAccess],
}

/// The service another's `network_mode`, `pid` or `ipc` names
/// (`service:X`).
pub fn service_ref(value: Option<&str>) -> Option<&str> {
    value.and_then(|v| v.strip_prefix("service:"))
}

impl Stack<'_> {
    /// The services a service needs before it starts: its `depends_on`,
    /// and the services whose namespaces it joins.
    pub fn needs(&self, name: &str) -> BTreeMap<String, Condition> {
        let Some(s) = self.services.get(name) else {
            return BTreeMap::new();
        };
        let mut out = s.depends_on.0.clone();
        for v in [
            &s.container.network_mode,
            &s.container.pid,
            &s.container.ipc,
        ] {
            if let Some(other) = service_ref(v.as_deref()) {
                out.entry(other.to_string()).or_default();
            }
        }
        out
    }

    /// The services in start order: each after what it needs, ties by
    /// name; `Err(cycle)` names a dependency cycle.
    pub fn order(&self) -> Result<Vec<String>, Vec<String>> {
        let mut done: Vec<String> = Vec::new();
        let mut left: BTreeSet<&String> = self.services.keys().collect();
        while !left.is_empty() {
            let next = left.iter().find(|n| {
                self.needs(n)
                    .keys()
                    .all(|d| done.contains(d) || !self.services.contains_key(d))
            });
            match next {
                Some(n) => {
                    let n = (*n).clone();
                    left.remove(&n);
                    done.push(n);
                }
                None => return Err(left.into_iter().cloned().collect()),
            }
        }
        Ok(done)
    }

    /// The networks a service joins (by the stack's names), with aliases;
    /// none when it shares another's network namespace or is `host`/`none`.
    pub fn networks_of(&self, name: &str) -> BTreeMap<String, Vec<String>> {
        let Some(s) = self.services.get(name) else {
            return BTreeMap::new();
        };
        if s.container.network_mode.is_some() {
            return BTreeMap::new();
        }
        if s.networks.is_empty() {
            return BTreeMap::from([(DEFAULT_NETWORK.to_string(), Vec::new())]);
        }
        s.networks.0.clone()
    }

    /// The networks the run makes on each side: the declared ones and,
    /// when a service joins none of them, `default`.
    pub fn run_networks(&self) -> BTreeMap<String, NetworkDef> {
        let mut out: BTreeMap<String, NetworkDef> = self
            .networks
            .iter()
            .map(|(n, d)| (n.clone(), d.clone().unwrap_or_default()))
            .collect();
        for name in self.services.keys() {
            for n in self.networks_of(name).into_keys() {
                out.entry(n).or_default();
            }
        }
        out
    }
}

/// Finds the n-th (from 0) `key:` of a file.
pub type Locate<'a> = dyn Fn(&str, usize) -> Option<(u64, u64)> + 'a;

/// Every problem of a stack that serde cannot express, located.
pub fn problems(
    path: &Path,
    text: &str,
    stack: &Stack<'_>,
    locate: &Locate<'_>,
) -> Vec<(&'static str, YamlError)> {
    let mut out = Vec::new();
    // A service's own key: the first `key:` after the service's name.
    let service_line = |name: &str| locate(name, 0).map_or(0, |(l, _)| l);
    let at_service = |name: &str, key: &str, message: String| {
        let after = service_line(name);
        let pos = (0..64)
            .map_while(|i| locate(key, i))
            .find(|(l, _)| *l > after)
            .or_else(|| locate(name, 0))
            .unwrap_or((1, 1));
        YamlError::at(path, text, pos.0, pos.1, message)
    };
    let ns_keys = ["network_mode", "pid", "ipc"];
    for (name, s) in stack.services {
        for (key, dep) in s
            .depends_on
            .0
            .keys()
            .map(|d| ("depends_on", d.as_str()))
            .chain(
                ns_keys
                    .iter()
                    .zip([
                        &s.container.network_mode,
                        &s.container.pid,
                        &s.container.ipc,
                    ])
                    .filter_map(|(k, v)| service_ref(v.as_deref()).map(|d| (*k, d))),
            )
        {
            if !stack.services.contains_key(dep) {
                let known: Vec<&str> = stack.services.keys().map(String::as_str).collect();
                out.push((
                    "stack-reference",
                    at_service(
                        name,
                        key,
                        format!(
                            "service {name:?} names service {dep:?}, which the stack does not have (it has {})",
                            known.join(", ")
                        ),
                    ),
                ));
            } else if dep == name {
                out.push((
                    "stack-reference",
                    at_service(name, key, format!("service {name:?} names itself")),
                ));
            }
        }
        if s.container.network_mode.as_deref() == Some("host")
            && !stack.allow_host.contains(&HostAccess::Network)
        {
            out.push((
                "stack-host",
                at_service(
                    name,
                    "network_mode",
                    format!("service {name:?} asks for the host's network, which a stack does not use unless the scenario says `allow_host: [network]`"),
                ),
            ));
        }
        if !s.ports.is_empty() && !stack.allow_host.contains(&HostAccess::Ports) {
            out.push((
                "stack-host",
                at_service(
                    name,
                    "ports",
                    format!("service {name:?} publishes host ports, which parity never does (steps reach services over the stack's own networks); drop `ports:` or say `allow_host: [ports]` to ignore them"),
                ),
            ));
        }
        if s.container.network_mode.is_some() && !s.networks.is_empty() {
            out.push((
                "stack-network",
                at_service(
                    name,
                    "networks",
                    format!("service {name:?} sets both `network_mode` and `networks`, which Compose refuses too"),
                ),
            ));
        }
        for net in s.networks.0.keys() {
            if !stack.networks.contains_key(net) && net != DEFAULT_NETWORK {
                out.push((
                    "stack-reference",
                    at_service(
                        name,
                        "networks",
                        format!("service {name:?} joins network {net:?}, which the top-level `networks:` does not declare"),
                    ),
                ));
            }
        }
        for v in &s.container.volumes {
            let source = v.split(':').next().unwrap_or("");
            let is_named = v.contains(':') && !crate::load::container::is_bind_source(source);
            if is_named && !stack.volumes.contains_key(source) {
                out.push((
                    "stack-reference",
                    at_service(
                        name,
                        "volumes",
                        format!("service {name:?} mounts volume {source:?}, which the top-level `volumes:` does not declare"),
                    ),
                ));
            }
        }
        if let Some(h) = &s.healthcheck {
            let first = h.test.0.first().map(String::as_str);
            let ok = match first {
                Some("CMD" | "CMD-SHELL") => h.test.0.len() > 1,
                Some("NONE") => true,
                _ => false,
            };
            if !ok && !h.disable {
                out.push((
                    "stack-healthcheck",
                    at_service(
                        name,
                        "test",
                        format!("the healthcheck of service {name:?} needs a `test`: a command string, [CMD, prog, args...] or [CMD-SHELL, \"command\"]"),
                    ),
                ));
            }
        }
        if s.ready.as_ref().is_some_and(|r| r.check().is_none()) {
            out.push((
                "ready",
                at_service(
                    name,
                    "ready",
                    "ready needs exactly one of log, exec, file".into(),
                ),
            ));
        }
    }
    for (kind, external) in stack
        .volumes
        .iter()
        .map(|(n, v)| (("volume", n), v.as_ref().is_some_and(|v| v.external)))
        .chain(
            stack
                .networks
                .iter()
                .map(|(n, d)| (("network", n), d.as_ref().is_some_and(|d| d.external))),
        )
    {
        if external {
            out.push((
                "stack-external",
                at_service(
                    kind.1,
                    "external",
                    format!(
                        "{} {:?} is external: a stack makes its own {}s on each side, per run",
                        kind.0, kind.1, kind.0
                    ),
                ),
            ));
        }
    }
    for (name, n) in stack.networks {
        let driver = n.as_ref().and_then(|n| n.driver.as_deref());
        if driver.is_some_and(|d| d != "bridge") {
            out.push((
                "stack-network",
                at_service(
                    name,
                    "driver",
                    format!("network {name:?} has driver {:?}: a stack's networks are bridges made per side", driver.unwrap_or_default()),
                ),
            ));
        }
    }
    if let Err(cycle) = stack.order() {
        let first = cycle.first().cloned().unwrap_or_default();
        out.push((
            "stack-cycle",
            at_service(
                &first,
                "depends_on",
                format!(
                    "services {} depend on each other in a cycle",
                    cycle.join(", ")
                ),
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services(text: &str) -> BTreeMap<String, StackService> {
        crate::load::yaml::from_str(Path::new("s.yaml"), text).unwrap()
    }

    #[test]
    fn container_keys_sit_beside_the_service_keys() {
        let s = services(
            "db:\n  image: busybox\n  command: [sleep, '9']\n  cap_add: [NET_ADMIN]\n  user: '1000'\n  volumes: ['data:/d']\nweb:\n  depends_on: { db: { condition: service_healthy } }\n  network_mode: 'service:db'\n",
        );
        assert_eq!(s["db"].container.cap_add, vec!["NET_ADMIN"]);
        assert_eq!(s["db"].container.user.as_deref(), Some("1000"));
        assert_eq!(s["web"].depends_on.0["db"], Condition::ServiceHealthy);
    }

    #[test]
    fn unknown_service_keys_are_errors() {
        let err = crate::load::yaml::from_str::<BTreeMap<String, StackService>>(
            Path::new("s.yaml"),
            "db:\n  image: busybox\n  restrat: always\n",
        )
        .unwrap_err();
        assert!(err.message.contains("restrat"), "{err}");
    }

    #[test]
    fn order_follows_dependencies_and_names_cycles() {
        let s = services("a:\n  depends_on: [b]\nb:\n  network_mode: 'service:c'\nc: {}\n");
        let none = BTreeMap::new();
        let nets = BTreeMap::new();
        let st = Stack {
            services: &s,
            volumes: &none,
            networks: &nets,
            allow_host: &[],
        };
        assert_eq!(st.order().unwrap(), vec!["c", "b", "a"]);
        let s = services("a:\n  depends_on: [b]\nb:\n  depends_on: [a]\nc: {}\n");
        let st = Stack { services: &s, ..st };
        assert_eq!(st.order().unwrap_err(), vec!["a", "b"]);
    }

    #[test]
    fn healthcheck_forms() {
        let s = services(
            "a:\n  healthcheck: { test: 'wget -q localhost', interval: 1s, retries: 2 }\nb:\n  healthcheck: { test: [CMD, 'true'] }\n",
        );
        let a = s["a"].healthcheck.as_ref().unwrap();
        assert_eq!(a.test.0, vec!["CMD-SHELL", "wget -q localhost"]);
        assert_eq!(a.budget(), (Duration::from_secs(1) + HEALTH_TIMEOUT) * 3);
        assert!(s["b"].healthcheck.as_ref().unwrap().active());
    }
}
