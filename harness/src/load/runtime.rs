//! Runtime profiles (`runtimes/NAME.yaml`).
//!
//! Owns the profile format, its loading and validation, the set of
//! profiles of a project, and what their policies say of scenarios. Which
//! profiles a run compares is the project configuration's (`config`). It
//! does not contact engines; `run::engine` and `suite` do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::load::container::ContainerSpec;
use crate::load::policy::{Policy, PolicyError};
use crate::load::scenario::NormalizeRule;
use crate::load::yaml::{self, YamlError};

/// How to reach and select one OCI runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeProfile {
    /// The profile's name; must equal the file name without `.yaml`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The OCI runtime the engine is asked for (`HostConfig.Runtime`).
    pub oci_runtime: String,
    /// Engine endpoint (`unix://...`, `tcp://...`); default: `DOCKER_HOST` or
    /// the local socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Container defaults merged under every scenario's own options.
    #[serde(default)]
    pub container: ContainerSpec,
    /// This runtime's known benign differences, removed for every scenario.
    #[serde(default)]
    pub normalize: ProfileNormalize,
    /// Where to learn how to install the runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,
    /// What the engine refuses or ignores by policy (e.g. Docker Desktop's
    /// ECI), checked statically by `parity lint` and `parity run`.
    #[serde(default, skip_serializing_if = "Policy::is_empty")]
    pub policy: Policy,
    /// Only exists on some hosts (ECI needs Docker Desktop): `parity doctor`
    /// checks it only when asked with `--candidate`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// Normalization a runtime profile applies to every scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileNormalize {
    /// Rules for mount entries (mount table and mount changes).
    #[serde(default)]
    pub mounts: Vec<MountRule>,
    /// Text rewrites, as in scenarios.
    #[serde(default)]
    pub text: Vec<NormalizeRule>,
}

/// A rule over mount entries: entries matching `drop` are left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountRule {
    pub drop: MountMatch,
}

/// Regexes over a mount entry's parts; all given ones must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fstype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mountpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum RuntimeError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Yaml(#[from] YamlError),
    #[error("{}: profile name {name:?} must match the file name", path.display())]
    NameMismatch { path: PathBuf, name: String },
    #[error("unknown runtime {name:?}; profiles in {}: {}", dir.display(), known.join(", "))]
    Unknown {
        name: String,
        dir: PathBuf,
        known: Vec<String>,
    },
    #[error("{}: normalize rule pattern {pattern:?} does not compile: {message}", path.display())]
    BadPattern {
        path: PathBuf,
        pattern: String,
        message: String,
    },
    #[error("{}: {source}", path.display())]
    Policy {
        path: PathBuf,
        source: Box<PolicyError>,
    },
}

impl RuntimeProfile {
    pub fn load(path: &Path) -> Result<RuntimeProfile, RuntimeError> {
        let text = std::fs::read_to_string(path).map_err(|source| RuntimeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let profile: RuntimeProfile = yaml::from_str(path, &text)?;
        if path.file_stem().is_some_and(|s| s != profile.name.as_str()) {
            return Err(RuntimeError::NameMismatch {
                path: path.to_path_buf(),
                name: profile.name,
            });
        }
        let patterns = profile
            .normalize
            .text
            .iter()
            .map(|r| r.pattern.clone())
            .chain(profile.normalize.mounts.iter().flat_map(|m| {
                [&m.drop.fstype, &m.drop.mountpoint, &m.drop.source]
                    .into_iter()
                    .flatten()
                    .cloned()
            }));
        for pattern in patterns {
            if let Err(e) = regex::Regex::new(&pattern) {
                return Err(RuntimeError::BadPattern {
                    path: path.to_path_buf(),
                    pattern,
                    message: e.to_string(),
                });
            }
        }
        profile
            .policy
            .validate()
            .map_err(|source| RuntimeError::Policy {
                path: path.to_path_buf(),
                source: Box::new(source),
            })?;
        Ok(profile)
    }

    /// The endpoint to connect to, resolved against the environment.
    pub fn endpoint(&self) -> String {
        self.engine
            .clone()
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into())
    }

    pub fn install_hint(&self) -> String {
        match &self.install {
            Some(link) => format!("install: {link}"),
            None => "see the runtime's documentation to install it".into(),
        }
    }
}

/// All profiles of a folder, by name.
#[derive(Debug, Clone)]
pub struct Profiles {
    pub dir: PathBuf,
    pub by_name: BTreeMap<String, RuntimeProfile>,
}

impl Profiles {
    pub fn load_dir(dir: &Path) -> Result<Profiles, RuntimeError> {
        let mut by_name = BTreeMap::new();
        let entries = std::fs::read_dir(dir).map_err(|source| RuntimeError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        paths.sort();
        for path in paths {
            let profile = RuntimeProfile::load(&path)?;
            by_name.insert(profile.name.clone(), profile);
        }
        Ok(Profiles {
            dir: dir.to_path_buf(),
            by_name,
        })
    }

    /// Notes, one per scenario and profile, on what a runtime's policy would
    /// refuse or ignore, for every profile with a policy (installed or not).
    pub fn policy_notes(&self, scenarios: &[crate::load::scenario::Scenario]) -> Vec<String> {
        let mut notes = Vec::new();
        for s in scenarios {
            for (name, profile) in &self.by_name {
                let spec = s.file.container.merged_over(&profile.container);
                for hit in profile.policy.check(&spec, s.file.build.as_ref()) {
                    notes.push(format!(
                        "note: {name} {} {} by policy (rule {}: {}; {}: {})",
                        hit.effect.verb(),
                        s.id,
                        hit.rule,
                        hit.message,
                        hit.key,
                        hit.value
                    ));
                }
            }
        }
        notes
    }

    pub fn get(&self, name: &str) -> Result<&RuntimeProfile, RuntimeError> {
        self.by_name.get(name).ok_or_else(|| RuntimeError::Unknown {
            name: name.to_string(),
            dir: self.dir.clone(),
            known: self.by_name.keys().cloned().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes");
        let p = Profiles::load_dir(&dir).unwrap();
        for name in ["runc", "sysbox-runc", "userns-remap"] {
            let prof = p.get(name).unwrap();
            assert!(!prof.oci_runtime.is_empty());
        }
        assert!(p.get("nope").unwrap_err().to_string().contains("runc"));
    }

    #[test]
    fn profile_errors_are_located() {
        let dir = std::env::temp_dir().join(format!("parity-prof-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.yaml");
        std::fs::write(&path, "name: x\noci_runtime: runc\nengin: tcp://x\n").unwrap();
        let err = RuntimeProfile::load(&path).unwrap_err().to_string();
        assert!(err.contains("x.yaml:3:1"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
