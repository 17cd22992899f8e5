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
use crate::load::explain::ExplainRule;
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
    /// Engine endpoint (`unix://PATH`, `tcp://HOST[:PORT]`, with TLS from
    /// `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH`, `ssh://[USER@]HOST[:PORT]`),
    /// or the name of a docker context; default: `DOCKER_HOST`, then the
    /// Docker CLI's context, then the local socket.
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
    /// Likely causes of this runtime's differences from the baseline,
    /// matched against every divergence (see [`crate::load::explain`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub explain: Vec<ExplainRule>,
    /// Where this profile's build scenarios run: `engine` (the default),
    /// or `{ in_container: IMAGE }`.
    #[serde(default, skip_serializing_if = "Builds::is_engine")]
    pub builds: Builds,
}

/// Where a profile's build scenarios are built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Builds {
    /// On the profile's engine: `RUN` steps run under runc (BuildKit's
    /// executor) or the engine's default runtime (the classic builder),
    /// in its user namespace, if any (runc, userns-remap).
    #[default]
    Engine,
    /// In a builder container that runs under the profile's runtime, as
    /// buildx's `docker-container` driver and ECI do: a Docker engine
    /// inside it builds, so `RUN` steps run inside the runtime's
    /// isolation. The value is a folder of the scenario library with a
    /// Dockerfile (relative to the scenarios root, e.g. `images/dind`), or
    /// an image name; its command must start a Docker engine (it is run
    /// as `dockerd --host=unix:///run/parity-builder/docker.sock`).
    InContainer(String),
}

impl Builds {
    pub fn is_engine(&self) -> bool {
        *self == Builds::Engine
    }
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
        RuntimeProfile::from_text(path, &text)
    }

    /// A profile from its text; `path` names it in errors and must end in
    /// the profile's name.
    pub fn from_text(path: &Path, text: &str) -> Result<RuntimeProfile, RuntimeError> {
        let profile: RuntimeProfile = yaml::from_str(path, text)?;
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
        if let Err(e) = crate::load::explain::compile_all(&profile.explain) {
            let (line, column) = crate::load::explain::locate(text, e.index, e.near.as_deref());
            return Err(RuntimeError::Yaml(YamlError::at(
                path,
                text,
                line,
                column,
                e.to_string(),
            )));
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

    /// The endpoint to connect to, resolved against the environment (see
    /// [`crate::load::endpoint`]).
    pub fn endpoint(&self) -> String {
        self.resolve_endpoint().endpoint
    }

    /// The endpoint and where it came from (the profile, `DOCKER_HOST`, a
    /// Docker CLI context, the default socket).
    pub fn resolve_endpoint(&self) -> crate::load::endpoint::Resolved {
        crate::load::endpoint::resolve(
            self.engine.as_deref(),
            &crate::load::endpoint::DockerEnv::from_process(),
        )
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

/// The shipped profiles, built into the binary so parity runs from any
/// folder: a project without `runtimes/` uses these.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("eci", include_str!("../../../runtimes/eci.yaml")),
    ("runc", include_str!("../../../runtimes/runc.yaml")),
    (
        "sysbox-runc",
        include_str!("../../../runtimes/sysbox-runc.yaml"),
    ),
    (
        "userns-remap",
        include_str!("../../../runtimes/userns-remap.yaml"),
    ),
];

impl Profiles {
    /// The profiles built into the binary ([`BUILT_IN`]).
    pub fn built_in() -> Result<Profiles, RuntimeError> {
        let mut by_name = BTreeMap::new();
        for (name, text) in BUILT_IN {
            let path = PathBuf::from(format!("(built in)/{name}.yaml"));
            let profile = RuntimeProfile::from_text(&path, text)?;
            by_name.insert(profile.name.clone(), profile);
        }
        Ok(Profiles {
            dir: PathBuf::from("(built in)"),
            by_name,
        })
    }

    /// The built-in profiles with `dir`'s on top: a project's own profile
    /// adds to them or replaces the one of the same name. A missing `dir`
    /// leaves the built-in ones.
    pub fn load_project(dir: &Path) -> Result<Profiles, RuntimeError> {
        let mut profiles = Profiles::built_in()?;
        match Profiles::load_dir(dir) {
            Ok(own) => {
                profiles.by_name.extend(own.by_name);
                profiles.dir = dir.to_path_buf();
            }
            Err(RuntimeError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(profiles)
    }

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
                for (service, own) in s.file.containers() {
                    let spec = own.merged_over(&profile.container);
                    let what = match service {
                        Some(svc) => format!("{} (service {svc})", s.id),
                        None => s.id.clone(),
                    };
                    for hit in profile.policy.check(&spec, s.file.build.as_ref()) {
                        notes.push(format!(
                            "note: {name} {} {} by policy (rule {}: {}; {}: {})",
                            hit.effect.verb(),
                            what,
                            hit.rule,
                            hit.message,
                            hit.key,
                            hit.value
                        ));
                    }
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
    fn built_in_profiles_are_the_shipped_files() {
        let shipped =
            Profiles::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes")).unwrap();
        let built = Profiles::built_in().unwrap();
        assert_eq!(
            built.by_name.keys().collect::<Vec<_>>(),
            shipped.by_name.keys().collect::<Vec<_>>()
        );
        for (name, p) in &shipped.by_name {
            assert_eq!(&built.by_name[name], p, "{name}");
        }
    }

    #[test]
    fn a_project_adds_to_and_overrides_the_built_in_profiles() {
        let dir = std::env::temp_dir().join(format!("parity-prof-own-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // No folder: the built-in ones.
        let p = Profiles::load_project(&dir).unwrap();
        assert!(p.get("runc").is_ok() && p.get("sysbox-runc").is_ok());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("runc.yaml"),
            "name: runc\noci_runtime: runc\nengine: tcp://mine:2375\n",
        )
        .unwrap();
        std::fs::write(dir.join("runsc.yaml"), "name: runsc\noci_runtime: runsc\n").unwrap();
        let p = Profiles::load_project(&dir).unwrap();
        assert_eq!(
            p.get("runc").unwrap().engine.as_deref(),
            Some("tcp://mine:2375")
        );
        assert_eq!(p.get("runsc").unwrap().oci_runtime, "runsc");
        assert!(p.get("userns-remap").is_ok(), "the others stay");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn profile_errors_are_located() {
        let dir = std::env::temp_dir().join(format!("parity-prof-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.yaml");
        std::fs::write(&path, "name: x\noci_runtime: runc\nengin: tcp://x\n").unwrap();
        let err = RuntimeProfile::load(&path).unwrap_err().to_string();
        assert!(err.contains("x.yaml:3:1"), "{err}");
        std::fs::write(
            &path,
            "name: x\noci_runtime: runc\nexplain:\n  - when: { syscall: mknod }\n    cause: a\n  - when: { path: /x, errno: \"E[\" }\n    cause: b\n",
        )
        .unwrap();
        let err = RuntimeProfile::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("x.yaml:6:31: explain rule 2: errno pattern"),
            "{err}"
        );
        std::fs::write(
            &path,
            "name: x\noci_runtime: runc\nexplain:\n  - when: { syscall: mknod }\n    cause: a\n    catlog: S9\n",
        )
        .unwrap();
        let err = RuntimeProfile::load(&path).unwrap_err().to_string();
        assert!(err.contains("x.yaml:6:5: unknown field `catlog`"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
