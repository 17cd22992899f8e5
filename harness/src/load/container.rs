//! The container options a scenario or runtime profile may set.
//!
//! Owns the Compose-spec subset (names and value forms as in
//! `docker compose`) and how a profile's defaults merge under a scenario's
//! own options. It does not know the Engine API: `plan` and `engine` turn it
//! into a create request.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// Compose-spec container options; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// Run with extended privileges (`--privileged`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Capabilities to add, e.g. `SYS_ADMIN` (with or without `CAP_`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// Capabilities to drop, or `ALL`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Security options, e.g. `apparmor=unconfined`, `seccomp=unconfined`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// Host devices, `HOST[:CONTAINER[:PERMISSIONS]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// `none` (parity's default), `host`, `bridge`, or a network name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    /// `host` to share the host's PID namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// `host`, `private`, `shareable`, or `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipc: Option<String>,
    /// `host` to share the host's UTS namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uts: Option<String>,
    /// `host` to opt out of the engine's user-namespace remapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userns_mode: Option<String>,
    /// `host` or `private` cgroup namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    /// `USER[:GROUP]`, names or numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Mount the root filesystem read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Namespaced kernel parameters, as a map or a list of `key=value`.
    #[serde(
        default,
        deserialize_with = "deserialize_key_values",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[schemars(with = "KeyValues")]
    pub sysctls: BTreeMap<String, String>,
    /// tmpfs mounts, `PATH[:OPTIONS]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<String>,
    /// Bind mounts and named volumes, `SOURCE:TARGET[:MODE]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// Environment variables, as a map or a list of `KEY=VALUE`.
    #[serde(
        default,
        deserialize_with = "deserialize_key_values",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[schemars(with = "KeyValues")]
    pub environment: BTreeMap<String, String>,
    /// Working directory of the workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Container hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Overrides the image's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Run an init process (`--init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    /// Size of /dev/shm, e.g. `64m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<String>,
    /// Memory limit, e.g. `16m` (`--memory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_limit: Option<String>,
    /// Most processes (and threads) the container may have at once
    /// (`--pids-limit`); `-1` for no limit. parity's default is
    /// [`DEFAULT_PIDS_LIMIT`], the same on every side, so a fork bomb
    /// cannot take the host down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    /// OCI runtime override (Compose `runtime`), replacing the runtime
    /// profile's `oci_runtime`. Rarely what a parity scenario wants: it runs
    /// every side under the same runtime. Docker Desktop's ECI ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

/// The pids limit of a container whose scenario and profile set none: room
/// for a nested engine and its containers, not for a fork bomb.
pub const DEFAULT_PIDS_LIMIT: i64 = 4096;

impl ContainerSpec {
    /// The scenario's options over a profile's defaults: scalars set by the
    /// scenario win; lists are concatenated (defaults first); maps merge with
    /// the scenario's keys winning.
    pub fn merged_over(&self, defaults: &ContainerSpec) -> ContainerSpec {
        fn pick<T: Clone>(own: &Option<T>, base: &Option<T>) -> Option<T> {
            own.clone().or_else(|| base.clone())
        }
        fn cat(base: &[String], own: &[String]) -> Vec<String> {
            base.iter().chain(own).cloned().collect()
        }
        fn over(
            base: &BTreeMap<String, String>,
            own: &BTreeMap<String, String>,
        ) -> BTreeMap<String, String> {
            let mut out = base.clone();
            out.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
            out
        }
        ContainerSpec {
            privileged: pick(&self.privileged, &defaults.privileged),
            cap_add: cat(&defaults.cap_add, &self.cap_add),
            cap_drop: cat(&defaults.cap_drop, &self.cap_drop),
            security_opt: cat(&defaults.security_opt, &self.security_opt),
            devices: cat(&defaults.devices, &self.devices),
            network_mode: pick(&self.network_mode, &defaults.network_mode),
            pid: pick(&self.pid, &defaults.pid),
            ipc: pick(&self.ipc, &defaults.ipc),
            uts: pick(&self.uts, &defaults.uts),
            userns_mode: pick(&self.userns_mode, &defaults.userns_mode),
            cgroup: pick(&self.cgroup, &defaults.cgroup),
            user: pick(&self.user, &defaults.user),
            read_only: pick(&self.read_only, &defaults.read_only),
            sysctls: over(&defaults.sysctls, &self.sysctls),
            tmpfs: cat(&defaults.tmpfs, &self.tmpfs),
            volumes: cat(&defaults.volumes, &self.volumes),
            environment: over(&defaults.environment, &self.environment),
            working_dir: pick(&self.working_dir, &defaults.working_dir),
            hostname: pick(&self.hostname, &defaults.hostname),
            entrypoint: pick(&self.entrypoint, &defaults.entrypoint),
            init: pick(&self.init, &defaults.init),
            shm_size: pick(&self.shm_size, &defaults.shm_size),
            mem_limit: pick(&self.mem_limit, &defaults.mem_limit),
            pids_limit: pick(&self.pids_limit, &defaults.pids_limit),
            runtime: pick(&self.runtime, &defaults.runtime),
        }
    }

    pub fn is_privileged(&self) -> bool {
        self.privileged.unwrap_or(false)
    }
}

/// Whether the SOURCE of a `SOURCE:TARGET[:MODE]` volume is a host path (a
/// bind mount) rather than a volume name, as Compose decides it.
pub fn is_bind_source(source: &str) -> bool {
    source.starts_with(['/', '.', '~'])
}

/// `64m`, `1g`, `512k` or a plain byte count, as Compose writes sizes.
pub fn parse_size(s: &str) -> Option<i64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1i64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<i64>().ok()?.checked_mul(mult)
}

/// A map of strings, or a list of `KEY=VALUE` strings (Compose accepts both).
pub fn deserialize_key_values<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    struct KeyValues;

    impl<'de> Visitor<'de> for KeyValues {
        type Value = BTreeMap<String, String>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map of KEY: VALUE or a list of \"KEY=VALUE\" strings")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, Scalar>()? {
                out.insert(k, v.0);
            }
            Ok(out)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(item) = seq.next_element::<String>()? {
                let (k, v) = item.split_once('=').unwrap_or((item.as_str(), ""));
                if k.is_empty() {
                    return Err(de::Error::invalid_value(
                        de::Unexpected::Str(&item),
                        &"KEY=VALUE",
                    ));
                }
                out.insert(k.to_string(), v.to_string());
            }
            Ok(out)
        }
    }

    deserializer.deserialize_any(KeyValues)
}

/// The schema of [`deserialize_key_values`]: a map of scalars or a list of
/// `KEY=VALUE` strings.
pub struct KeyValues;

impl schemars::JsonSchema for KeyValues {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "KeyValues".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A map of KEY: VALUE, or a list of \"KEY=VALUE\" strings (Compose accepts both).",
            "oneOf": [
                {
                    "type": "object",
                    "additionalProperties": { "type": ["string", "number", "boolean", "null"] }
                },
                {
                    "type": "array",
                    "items": { "type": "string", "pattern": "^[^=]+(=.*)?$" }
                }
            ]
        })
    }
}

/// A YAML scalar of any type, kept as its text.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn load(text: &str) -> ContainerSpec {
        crate::load::yaml::from_str(Path::new("c.yaml"), text).unwrap()
    }

    #[test]
    fn environment_as_map_or_list() {
        let a = load("environment: { A: 1, B: x }\n");
        let b = load("environment: [A=1, B=x]\n");
        assert_eq!(a.environment, b.environment);
        assert_eq!(a.environment["A"], "1");
    }

    #[test]
    fn scenario_wins_over_profile_defaults() {
        let base = load("cap_add: [A]\nuser: \"1\"\nsysctls: { k: a, j: b }\n");
        let own = load("cap_add: [B]\nsysctls: { k: c }\n");
        let m = own.merged_over(&base);
        assert_eq!(m.cap_add, vec!["A", "B"]);
        assert_eq!(m.user.as_deref(), Some("1"));
        assert_eq!(m.sysctls["k"], "c");
        assert_eq!(m.sysctls["j"], "b");
    }

    #[test]
    fn sizes_read_like_compose() {
        assert_eq!(parse_size("64m"), Some(64 << 20));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("512kb"), Some(512 << 10));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn bad_list_item_is_an_error() {
        let err = crate::load::yaml::from_str::<ContainerSpec>(
            Path::new("c.yaml"),
            "sysctls: [\"=x\"]\n",
        )
        .unwrap_err();
        assert!(err.message.contains("KEY=VALUE"), "{}", err.message);
    }
}
