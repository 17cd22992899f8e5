//! `parity new AREA/NAME`: a commented scenario template.
//!
//! Owns the template's text and where it goes (`scenarios/AREA/NAME.yaml`).
//! The template loads and lints clean as written; it never overwrites a
//! file.

use std::path::{Path, PathBuf};

use crate::author::lint::expected_schema_line;

/// Why a scenario could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "{0:?} is not a scenario id: use AREA/NAME with letters, digits, `-` and `_`, e.g. mounts/tmpfs_ro"
    )]
    BadId(String),
    #[error("{} already exists; parity never overwrites it", .0.display())]
    Exists(PathBuf),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Checks an id like `mounts/tmpfs_ro` (a trailing `.yaml` is dropped).
pub fn parse_id(id: &str) -> Result<String, ScaffoldError> {
    let id = id.trim().trim_end_matches(".yaml").trim_end_matches(".yml");
    let id = id.strip_prefix("scenarios/").unwrap_or(id);
    let parts: Vec<&str> = id.split('/').collect();
    let ok = parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != "snapshots"
                && !p.starts_with('.')
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if ok {
        Ok(id.to_string())
    } else {
        Err(ScaffoldError::BadId(id.to_string()))
    }
}

/// The template for scenario `id`.
pub fn template(id: &str) -> String {
    let schema = expected_schema_line(id);
    let name = id.rsplit('/').next().unwrap_or(id);
    format!(
        r#"{schema}
# A parity scenario: one container workload, run under the baseline runtime
# (runc) and each candidate; what it did is compared field by field.
# Guide: docs/scenario-authoring.md. Check it with `parity lint`, run it
# with `parity run scenarios/{id}.yaml` or `cargo test -- {id}`.

# What the workload does and why its behaviour matters.
description: TODO describe what {name} exercises
tags: [{area}]

# The workload's argv. The default image is busybox plus parity's probe.
command: [sh, -c, "echo hello from {name}"]

# Compose-spec container options (all optional), e.g.:
# container:
#   cap_add: [SYS_ADMIN]
#   security_opt: [apparmor=unconfined]
#   read_only: true

timeout: 30s

# Fields compared. With only exit_code, stdout and stderr the command runs
# untouched (no probe); add syscalls, mounts, mount_table, capabilities,
# id_maps, security or devices to have the probe observe them.
observe: [exit_code, stdout, stderr]

# Rewrites applied before comparing (and before snapshots), e.g.:
# normalize:
#   - {{ pattern: "[0-9]+ bytes", replace: "<n> bytes" }}

# Differences you know about, per candidate runtime; each needs a reason:
# expect:
#   diverges:
#     - runtime: userns-remap
#       fields: [exit_code, stderr]
#       reason: root in the container is not root on the host
#       link: https://docs.docker.com/engine/security/userns-remap/
"#,
        area = id.split('/').next().unwrap_or("misc"),
    )
}

/// Writes the template for `id` under `scenarios_root`; returns its path.
pub fn create(scenarios_root: &Path, id: &str) -> Result<PathBuf, ScaffoldError> {
    let id = parse_id(id)?;
    write_new(scenarios_root, &id, &template(&id))
}

/// Where scenario `id` goes under `scenarios_root`, or why it cannot go
/// there: a file of that id (`.yaml` or `.yml`) already exists.
pub fn free_path(scenarios_root: &Path, id: &str) -> Result<PathBuf, ScaffoldError> {
    let path = scenarios_root.join(format!("{id}.yaml"));
    let twin = path.with_extension("yml");
    for p in [&path, &twin] {
        if p.exists() {
            return Err(ScaffoldError::Exists(p.clone()));
        }
    }
    Ok(path)
}

/// Writes `text` as scenario `id` (already checked by [`parse_id`]) under
/// `scenarios_root`, never over an existing file; returns its path.
pub fn write_new(scenarios_root: &Path, id: &str, text: &str) -> Result<PathBuf, ScaffoldError> {
    let path = free_path(scenarios_root, id)?;
    write_new_file(&path, text)?;
    Ok(path)
}

/// Creates `path` (and its folders) holding `text`; an existing file is
/// [`ScaffoldError::Exists`], never overwritten.
pub fn write_new_file(path: &Path, text: &str) -> Result<(), ScaffoldError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ScaffoldError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let write = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path);
    let result = write.and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
    result.map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => ScaffoldError::Exists(path.to_path_buf()),
        _ => ScaffoldError::Write {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// `parity new`: creates the scenario and says what was written and what
/// to do next, with the path relative to `cwd` where it can be.
pub fn command(scenarios_root: &Path, id: &str, cwd: &Path) -> Result<String, ScaffoldError> {
    let path = create(scenarios_root, id)?;
    let path = path
        .strip_prefix(cwd)
        .map(Path::to_path_buf)
        .unwrap_or(path);
    Ok(format!(
        "created {p}\nnext: edit it, then `parity lint {p}` and `parity run {p}`\n",
        p = path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::runtime::Profiles;
    use rstest::rstest;

    #[rstest]
    #[case("mounts/tmpfs_ro", Ok("mounts/tmpfs_ro"))]
    #[case("scenarios/mounts/x.yaml", Ok("mounts/x"))]
    #[case("a/b/c", Ok("a/b/c"))]
    #[case("tmpfs", Err(()))]
    #[case("mounts/../x", Err(()))]
    #[case("mounts/snapshots", Err(()))]
    #[case("mounts/a b", Err(()))]
    fn ids_are_checked(#[case] id: &str, #[case] want: Result<&str, ()>) {
        assert_eq!(parse_id(id).map_err(|_| ()), want.map(str::to_string));
    }

    #[test]
    fn the_template_loads_and_lints_clean_and_is_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("parity-new-{}", std::process::id()));
        let root = dir.join("scenarios");
        let path = create(&root, "area/fresh").unwrap();
        let scenario = crate::load::scenario::Scenario::load(&root, &path).unwrap();
        assert_eq!(scenario.id, "area/fresh");
        let profiles =
            Profiles::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes")).unwrap();
        let findings = crate::author::lint::lint_paths(std::slice::from_ref(&root), &profiles);
        assert!(findings.is_empty(), "{findings:?}");
        assert!(matches!(
            create(&root, "area/fresh"),
            Err(ScaffoldError::Exists(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
