//! `parity import compose FILE`: one stack scenario that takes the
//! Compose file as it is (`compose: PATH`), so the services run together
//! on each side, as `docker compose up` runs them.
//!
//! Owns the stack scenario's text and the check that it loads (the
//! Compose file read, interpolated and validated by `load`, errors located
//! in it) before anything is written. `--per-service` keeps the
//! one-container scenarios of `author::compose`.

use std::path::Path;

use crate::author::compose::area_for;
use crate::author::import::{ImportError, absolute, relative, written};
use crate::author::scaffold;
use crate::load::compose::ComposeFile;
use crate::load::scenario::{ScenarioFile, problems};

/// `parity import compose FILE [--service S] [--per-service]`.
#[derive(Debug, clap::Args)]
pub struct ComposeImport {
    pub file: std::path::PathBuf,
    /// Only this service.
    #[arg(long)]
    pub service: Option<String>,
    /// One-container scenarios, one per service, not one stack.
    #[arg(long)]
    pub per_service: bool,
}

impl ComposeImport {
    /// One stack scenario, or (with `per_service`) one-container ones.
    pub fn run(&self, scenarios_root: &Path, cwd: &Path) -> Result<String, ImportError> {
        let service = self.service.as_deref();
        match self.per_service {
            true => crate::author::compose::command(scenarios_root, &self.file, service, cwd),
            false => command(scenarios_root, &self.file, service, cwd),
        }
    }
}

/// Writes `scenarios_root/AREA/stack.yaml` for the Compose file `file`
/// (only `service` and the stack's own keys when it is given); nothing
/// when the scenario would not load.
pub fn command(
    scenarios_root: &Path,
    file: &Path,
    service: Option<&str>,
    cwd: &Path,
) -> Result<String, ImportError> {
    let text = std::fs::read_to_string(file).map_err(|source| ImportError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    // The names and `ports` of the services, before interpolation: a
    // missing variable is reported when the scenario is checked below.
    let lax: ComposeFile = crate::load::yaml::from_str(file, &text).unwrap_or_default();
    let area = area_for(file, lax.name.as_deref(), cwd);
    let id = scaffold::parse_id(&format!("{area}/stack"))?;
    let path = scaffold::free_path(scenarios_root, &id)?;
    let root = absolute(scenarios_root, cwd);
    let scenario_dir = root.join(&area);
    let compose_rel = relative(&scenario_dir, &absolute(file, cwd));
    let names: Vec<String> = match service {
        Some(s) => vec![s.to_string()],
        None => lax.services.keys().cloned().collect(),
    };
    let ports = lax
        .services
        .iter()
        .filter(|(n, _)| names.contains(n))
        .any(|(_, s)| s.as_ref().is_some_and(|s| !s.ports.is_empty()));
    let body = stack_text(&id, file, &compose_rel, service, &names, ports);
    check(&path, &body)?;
    scaffold::write_new_file(&path, &body)?;
    let mut notes = Vec::new();
    if ports {
        notes.push("ports: accepted and never published (allow_host: [ports]); steps reach services over the stack's own networks".to_string());
    }
    notes.push("add steps (each with `service:`) to poke the running services".to_string());
    Ok(written(&[(path, notes)], cwd))
}

/// The scenario's text.
fn stack_text(
    id: &str,
    file: &Path,
    compose_rel: &Path,
    service: Option<&str>,
    names: &[String],
    ports: bool,
) -> String {
    let depth = id.split('/').count() - 1;
    let schema = format!(
        "# yaml-language-server: $schema={}scenario.schema.json",
        "../".repeat(depth)
    );
    let mut t = format!(
        "{schema}\n# Imported by parity import compose from {}: its services run together\n# as one stack on each side, on networks and volumes made for the run.\ndescription: The services of {} ({}), run together as one stack\ntags: [stacks, imported]\ncompose: {}\n",
        file.display(),
        file.display(),
        names.join(", "),
        compose_rel.display()
    );
    if let Some(s) = service {
        t.push_str(&format!("services: [{s}]\n"));
    }
    if ports {
        t.push_str("# Ports are never published: steps reach services over the stack's networks.\nallow_host: [ports]\n");
    }
    let first = names.first().map_or("SERVICE", String::as_str);
    t.push_str(&format!(
        "# steps:\n#   - name: reach it\n#     service: {first}\n#     run: [sh, -c, \"...\"]\n"
    ));
    t
}

/// The scenario loads as written: the Compose file is read, interpolated
/// and validated as a run would (errors located in it).
fn check(path: &Path, text: &str) -> Result<(), ImportError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let made = !dir.exists();
    std::fs::create_dir_all(dir).map_err(|source| ImportError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let file: Result<ScenarioFile, _> = crate::load::yaml::from_str(path, text);
    let first = match file {
        Ok(f) => problems(path, text, &f).into_iter().next().map(|(_, e)| e),
        Err(e) => Some(e),
    };
    match first {
        None => Ok(()),
        Some(e) => {
            if made {
                let _ = std::fs::remove_dir(dir);
            }
            Err(e.into())
        }
    }
}
