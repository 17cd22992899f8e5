//! `parity init`: a new project in a folder of the user's repository.
//!
//! Owns the text of the commented `parity.toml` it writes (every key of
//! [`ProjectConfig`], the defaults shown), the first scenario
//! (`scenarios/basics/hello.yaml`) and the scenario schema beside the
//! library for editors. It writes nothing when `parity.toml` or the first
//! scenario already exists, and never overwrites a file. The project it
//! writes lints clean and runs with the built-in runtime profiles.

use std::path::{Path, PathBuf};

use crate::author::scaffold::{self, ScaffoldError};
use crate::load::schema::SCHEMA_FILE;

/// The id of the first scenario `parity init` writes.
pub const FIRST_SCENARIO: &str = "basics/hello";

/// The commented `parity.toml` of a new project.
pub const CONFIG_TEXT: &str = r#"# parity's project configuration. Every key is optional; the values
# shown are the defaults. parity finds this file from the current folder
# upwards (or --root / PARITY_ROOT names the folder).

# The production runtime every candidate is compared with.
baseline = "runc"

# The runtimes under test. Built in: runc, sysbox-runc, userns-remap, eci
# (`parity doctor` says which this host has). A candidate this host does
# not have is reported as not covered, never as a pass; `parity run
# --require NAME` makes that a failure. PARITY_BASELINE, PARITY_CANDIDATES,
# --baseline and --candidate override these two keys.
candidates = ["sysbox-runc", "userns-remap"]

# The scenario library, relative to this file: AREA/NAME.yaml files
# (`parity new AREA/NAME` writes a template, `parity import` writes one
# from a docker run line or a Compose file).
scenarios = "scenarios"

# Your own runtime profiles (NAME.yaml), relative to this file. They add
# to the built-in profiles or replace one of the same name; the folder
# need not exist.
runtimes = "runtimes"

# Containers run at once (default: the number of CPUs; also --jobs).
# jobs = 4

# Where the `cargo test` face writes its reports, if anywhere.
# report_dir = "target/parity"

# Time allowed per container on top of its scenario's timeout for setup
# and teardown (also --grace, PARITY_GRACE).
# grace = "50s"
"#;

/// The first scenario of a new project: it lints clean, needs no image
/// but parity's own, and every runtime should agree on it.
pub fn first_scenario_text() -> String {
    format!(
        r#"{schema}
# A parity scenario: one container workload, run under the baseline runtime
# (runc) and each candidate; what it did is compared field by field. Run it
# with `parity run scenarios/{FIRST_SCENARIO}.yaml`; write more with `parity new AREA/NAME` or
# `parity import`. Guide: the scenario authoring guide of parity's docs.

description: The workload writes a file to a tmpfs and reads it back as root; every runtime should agree
tags: [basics]

# The workload's argv; the default image is busybox plus parity's probe.
command: [sh, -c, "id -u && echo hello > /scratch/file && cat /scratch/file"]

# Compose-named container options (all optional).
container:
  tmpfs: [/scratch]
  # cap_add: [SYS_ADMIN]
  # read_only: true

timeout: 30s

# Fields compared. With only exit_code, stdout and stderr the command runs
# untouched; add syscalls, mounts, capabilities, id_maps, security or
# devices to have parity's probe observe them.
observe: [exit_code, stdout, stderr]

# Differences you know about, per candidate runtime, each with its reason:
# expect:
#   diverges:
#     - runtime: userns-remap
#       fields: [exit_code, stderr]
#       reason: root in the container is not root on the host
#       known: documented
#       link: https://docs.docker.com/engine/security/userns-remap/
"#,
        schema = crate::author::lint::expected_schema_line(FIRST_SCENARIO),
    )
}

/// Why a project could not be started.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("cannot find the current folder: {0}")]
    Cwd(std::io::Error),
    #[error("{} already exists: this folder is a parity project; `parity new AREA/NAME` adds a scenario", .0.display())]
    Exists(PathBuf),
    #[error(transparent)]
    Write(#[from] ScaffoldError),
}

/// Writes the project into `dir`; returns the files written.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, InitError> {
    let config = dir.join("parity.toml");
    if config.exists() {
        return Err(InitError::Exists(config));
    }
    let library = dir.join("scenarios");
    let first = scaffold::free_path(&library, FIRST_SCENARIO)?;
    scaffold::write_new_file(&config, CONFIG_TEXT)?;
    scaffold::write_new_file(&first, &first_scenario_text())?;
    let mut written = vec![config, first];
    let schema = library.join(SCHEMA_FILE);
    if !schema.exists() {
        let text = crate::load::schema::scenario_schema_text();
        scaffold::write_new_file(&schema, &text)?;
        written.push(schema);
    }
    Ok(written)
}

/// `parity init`: starts a project in `root` (default: the current folder)
/// and says what was written and what to do next.
pub fn command(root: Option<&Path>) -> Result<String, InitError> {
    let cwd = std::env::current_dir().map_err(InitError::Cwd)?;
    let dir = root.map(Path::to_path_buf).unwrap_or_else(|| cwd.clone());
    let mut out = String::new();
    for path in init(&dir)? {
        let shown = path.strip_prefix(&cwd).unwrap_or(&path);
        out.push_str(&format!("created {}\n", shown.display()));
    }
    out.push_str("next: `parity doctor`, then `parity lint` and `parity run`\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProjectConfig;

    fn scratch(tag: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target")
            .join(format!("parity-init-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_config_reads_as_the_defaults() {
        let cfg: ProjectConfig = toml::from_str(CONFIG_TEXT).unwrap();
        assert_eq!(cfg, ProjectConfig::default());
    }

    #[test]
    fn every_config_key_is_shown_and_reads_when_uncommented() {
        let uncommented: String = CONFIG_TEXT
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let cfg: ProjectConfig = toml::from_str(&uncommented).unwrap();
        assert_eq!(cfg.jobs, Some(4));
        assert!(cfg.grace.is_some() && cfg.report_dir.is_some());
        // A key added to ProjectConfig shows up here: every field is set.
        let full = toml::Value::try_from(&cfg).unwrap();
        let shown: toml::Value = toml::from_str(&uncommented).unwrap();
        let keys = |v: &toml::Value| v.as_table().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&full), keys(&shown));
    }

    #[test]
    fn the_project_loads_lints_clean_and_is_never_overwritten() {
        let dir = scratch("fresh");
        let written = init(&dir).unwrap();
        assert_eq!(written.len(), 3);
        let project = crate::config::Project::find(Some(&dir)).unwrap();
        let scenarios = project.scenarios(&[]).unwrap();
        assert_eq!(scenarios.len(), 1);
        assert_eq!(scenarios[0].id, FIRST_SCENARIO);
        let profiles = project.profiles().unwrap();
        for name in ["runc", "sysbox-runc", "userns-remap"] {
            assert!(profiles.get(name).is_ok(), "{name}");
        }
        let findings = crate::author::lint::lint_paths(&[project.library()], &profiles);
        assert!(findings.is_empty(), "{findings:?}");
        let config = std::fs::read_to_string(dir.join("parity.toml")).unwrap();
        assert!(matches!(init(&dir), Err(InitError::Exists(_))));
        assert_eq!(
            std::fs::read_to_string(dir.join("parity.toml")).unwrap(),
            config
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_first_scenario_stops_it_before_anything_is_written() {
        let dir = scratch("taken");
        let first = dir.join("scenarios/basics/hello.yaml");
        std::fs::create_dir_all(first.parent().unwrap()).unwrap();
        std::fs::write(&first, "mine").unwrap();
        let err = init(&dir).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert!(!dir.join("parity.toml").exists());
        assert_eq!(std::fs::read_to_string(&first).unwrap(), "mine");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
