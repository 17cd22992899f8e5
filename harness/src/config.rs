//! The project configuration, shared by the `parity` command and the
//! `cargo test` harness: `parity.toml` (default baseline and candidates,
//! the scenario library, the profiles folder), the environment's overrides
//! (`PARITY_BASELINE`, `PARITY_CANDIDATES`), the runtimes a run compares,
//! and the scenarios a run loads. It belongs to neither face: both read it.
//! It contacts no engine and formats nothing for people.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::load::runtime::{Profiles, RuntimeError};
use crate::load::scenario::{Scenario, ScenarioError, discover, root_for};

/// `parity.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    #[serde(default = "default_baseline")]
    pub baseline: String,
    #[serde(default = "default_candidates")]
    pub candidates: Vec<String>,
    /// Scenario library, relative to the config file.
    #[serde(default = "default_scenarios")]
    pub scenarios: PathBuf,
    /// Runtime profiles folder, relative to the config file.
    #[serde(default = "default_runtimes")]
    pub runtimes: PathBuf,
    /// Default `--jobs`; default: the number of CPUs.
    #[serde(default)]
    pub jobs: Option<usize>,
    /// Where the `cargo test` harness writes reports, if anywhere.
    #[serde(default)]
    pub report_dir: Option<PathBuf>,
    /// Time allowed per container on top of its scenario's timeout for
    /// setup and teardown, e.g. `"50s"` (also `PARITY_GRACE`, `--grace`).
    #[serde(default)]
    pub grace: Option<crate::load::scenario::Timeout>,
}

fn default_baseline() -> String {
    "runc".into()
}
fn default_candidates() -> Vec<String> {
    vec!["sysbox-runc".into(), "userns-remap".into()]
}
fn default_scenarios() -> PathBuf {
    "scenarios".into()
}
fn default_runtimes() -> PathBuf {
    "runtimes".into()
}

impl Default for ProjectConfig {
    fn default() -> Self {
        ProjectConfig {
            baseline: default_baseline(),
            candidates: default_candidates(),
            scenarios: default_scenarios(),
            runtimes: default_runtimes(),
            jobs: None,
            report_dir: None,
            grace: None,
        }
    }
}

/// A configuration or usage problem: `parity` exits 2.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    #[error("{count} scenario file(s) failed to load")]
    Scenarios {
        count: usize,
        #[related]
        errors: Vec<ScenarioError>,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },
    #[error("{0}")]
    Usage(String),
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Which runtimes to compare, as the command line asks (empty: the
/// configuration decides).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub baseline: Option<String>,
    pub candidates: Vec<String>,
}

/// A project: its root folder and its configuration.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config: ProjectConfig,
}

impl Project {
    /// The project at `root`, or the one the current folder is in.
    pub fn find(root: Option<&Path>) -> Result<Project, ConfigError> {
        let root = match root {
            Some(r) => r.to_path_buf(),
            None => project_root(
                &std::env::current_dir().map_err(|e| ConfigError::Usage(e.to_string()))?,
            ),
        };
        let config =
            ProjectConfig::load(&root.join("parity.toml"))?.with_env(|k| std::env::var(k).ok());
        Ok(Project { root, config })
    }

    /// The built-in profiles with the project's own `runtimes/` (or the
    /// folder parity.toml names) on top.
    pub fn profiles(&self) -> Result<Profiles, ConfigError> {
        Ok(Profiles::load_project(
            &self.root.join(&self.config.runtimes),
        )?)
    }

    /// The scenario library's folder.
    pub fn library(&self) -> PathBuf {
        self.root.join(&self.config.scenarios)
    }

    /// The baseline: command line over environment over file.
    pub fn baseline(&self, selection: &Selection) -> String {
        selection
            .baseline
            .clone()
            .unwrap_or_else(|| self.config.baseline.clone())
    }

    /// The candidates: command line over environment over file.
    pub fn candidates(&self, selection: &Selection) -> Vec<String> {
        if selection.candidates.is_empty() {
            self.config.candidates.clone()
        } else {
            selection.candidates.clone()
        }
    }

    /// The grace per container: the configuration's, else the default.
    pub fn grace(&self) -> std::time::Duration {
        self.config
            .grace
            .map(|g| g.0)
            .unwrap_or(crate::run::plan::DEFAULT_GRACE)
    }

    /// Containers at once: the file's `jobs`, else the number of CPUs.
    pub fn jobs(&self) -> usize {
        self.config.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
    }

    /// `paths`, or the library when none is given; each must exist.
    pub fn paths_or_library(&self, paths: &[PathBuf]) -> Result<Vec<PathBuf>, ConfigError> {
        let paths = if paths.is_empty() {
            vec![self.library()]
        } else {
            paths.to_vec()
        };
        if let Some(p) = paths.iter().find(|p| !p.exists()) {
            return Err(ConfigError::Usage(format!(
                "{} does not exist",
                p.display()
            )));
        }
        Ok(paths)
    }

    /// Loads every scenario under `paths` (default: the library). All load
    /// errors are collected, not just the first.
    pub fn scenarios(&self, paths: &[PathBuf]) -> Result<Vec<Scenario>, ConfigError> {
        let (mut out, mut errors) = (Vec::new(), Vec::new());
        for p in self.paths_or_library(paths)? {
            let root = root_for(&p);
            match discover(&p) {
                Ok(files) => {
                    for f in files {
                        match Scenario::load(&root, &f) {
                            Ok(s) => out.push(s),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(ConfigError::Scenarios {
                count: errors.len(),
                errors,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }
}

impl ProjectConfig {
    /// Reads `parity.toml` at `path`, or the defaults when it is absent.
    pub fn load(path: &Path) -> Result<ProjectConfig, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Toml {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ProjectConfig::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Applies `PARITY_BASELINE` and `PARITY_CANDIDATES` (comma or space
    /// separated) from `env`.
    pub fn with_env(mut self, env: impl Fn(&str) -> Option<String>) -> ProjectConfig {
        if let Some(b) = env("PARITY_BASELINE").filter(|s| !s.trim().is_empty()) {
            self.baseline = b.trim().to_string();
        }
        if let Some(c) = env("PARITY_CANDIDATES").filter(|s| !s.trim().is_empty()) {
            self.candidates = split_list(&c);
        }
        if let Some(g) = env("PARITY_GRACE").and_then(|g| humantime::parse_duration(g.trim()).ok())
        {
            self.grace = Some(crate::load::scenario::Timeout(g));
        }
        self
    }
}

/// `a, b c` → `[a, b, c]`.
pub fn split_list(s: &str) -> Vec<String> {
    s.split([',', ' ', '\n', '\t'])
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Finds the project root: the nearest ancestor of `start` holding
/// `parity.toml`, else `start`.
pub fn project_root(start: &Path) -> PathBuf {
    let abs = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    abs.ancestors()
        .find(|a| a.join("parity.toml").is_file())
        .map(Path::to_path_buf)
        .unwrap_or(abs)
}

/// The workspace root, from the harness crate's manifest folder: where
/// this repository's own library, profiles and committed schemas live.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_the_file() {
        let cfg = ProjectConfig::default().with_env(|k| match k {
            "PARITY_BASELINE" => Some("crun".into()),
            "PARITY_CANDIDATES" => Some("a, b c".into()),
            _ => None,
        });
        assert_eq!(cfg.baseline, "crun");
        assert_eq!(cfg.candidates, vec!["a", "b", "c"]);
    }

    #[test]
    fn defaults_compare_runc_with_sysbox_and_userns_remap() {
        let cfg = ProjectConfig::default();
        assert_eq!(cfg.baseline, "runc");
        assert_eq!(cfg.candidates, vec!["sysbox-runc", "userns-remap"]);
    }
}
