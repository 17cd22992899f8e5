//! What the importers share: the workload read from what a user already
//! has ([`Imported`]), the errors of every importer, long-syntax mounts in
//! the scenario format's terms, the scenario text both write (schema line,
//! where it came from, what was dropped and why, then the workload in the
//! format's own keys, lint clean) and what they print. `author::docker_run`
//! reads `docker run` lines into it and `author::compose` Compose files.
//! It is pure: nothing here writes or runs anything.

use std::path::{Component, Path, PathBuf};

use crate::author::scaffold::{self, ScaffoldError};
use crate::load::container::{ContainerSpec, is_bind_source};
use crate::load::service::ImageRef;

/// A workload read from what a user already has: the image, the command
/// and the container options, plus what was dropped and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub image: ImageRef,
    pub command: Vec<String>,
    pub container: ContainerSpec,
    /// Options that were read but dropped, each with the reason.
    pub notes: Vec<String>,
}

/// Why a command line or a Compose file could not become a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("unknown docker run flag `{0}`")]
    UnknownFlag(String),
    #[error("`{flag}` cannot be expressed in a parity scenario: {why}")]
    Unsupported { flag: String, why: String },
    #[error("`{0}` needs a value")]
    MissingValue(String),
    #[error("`{flag}` {value:?}: {why}")]
    BadValue {
        flag: String,
        value: String,
        why: String,
    },
    #[error("not a docker run command line: {0}")]
    NotDockerRun(String),
    #[error("no image after the flags: write `docker run [FLAGS] IMAGE [COMMAND...]`")]
    NoImage,
    #[error(
        "no command after the image {0}: a scenario names the workload's argv (the image's own CMD is not known without the image); add it after the image"
    )]
    NoCommand(String),
    #[error(transparent)]
    Scaffold(#[from] ScaffoldError),
    #[error(transparent)]
    Yaml(#[from] crate::load::yaml::YamlError),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Compose(String),
}

/// A `--mount` (or a Compose long-syntax volume) in the format's terms.
#[derive(Debug, PartialEq)]
pub enum Mount {
    /// `SOURCE:TARGET[:MODE]` (or `TARGET`) for `volumes:`.
    Volume(String),
    /// `TARGET[:OPTIONS]` for `tmpfs:`.
    Tmpfs(String),
}

/// The parts of a long-syntax mount, as `--mount` and Compose write them.
#[derive(Debug, Default)]
pub struct MountParts {
    pub kind: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    pub read_only: bool,
    pub propagation: Option<String>,
    pub nocopy: bool,
    pub tmpfs_size: Option<String>,
    pub tmpfs_mode: Option<String>,
}

/// A long-syntax mount as a `volumes:` or `tmpfs:` entry.
pub fn mount_from_parts(m: &MountParts) -> Result<Mount, String> {
    let target = m.target.clone().ok_or("a mount needs a target")?;
    if !target.starts_with('/') {
        return Err(format!("target {target:?} is not an absolute path"));
    }
    match m.kind.as_deref().unwrap_or("volume") {
        "tmpfs" => {
            let opts: Vec<String> = [
                m.tmpfs_size.as_ref().map(|s| format!("size={s}")),
                m.tmpfs_mode.as_ref().map(|s| format!("mode={s}")),
                m.read_only.then(|| "ro".to_string()),
            ]
            .into_iter()
            .flatten()
            .collect();
            Ok(Mount::Tmpfs(match opts.is_empty() {
                true => target,
                false => format!("{target}:{}", opts.join(",")),
            }))
        }
        kind @ ("bind" | "volume") => {
            let mut modes = Vec::new();
            if m.read_only {
                modes.push("ro".to_string());
            }
            modes.extend(m.propagation.clone());
            if m.nocopy {
                modes.push("nocopy".into());
            }
            let source = match (kind, &m.source) {
                ("bind", None) => return Err("a bind mount needs a source".into()),
                ("bind", Some(s)) if !is_bind_source(s) => {
                    return Err(format!(
                        "bind source {s:?} would read as a volume name; give a path"
                    ));
                }
                ("volume", Some(s)) if is_bind_source(s) => {
                    return Err(format!(
                        "volume source {s:?} would read as a host path; give a volume name"
                    ));
                }
                (_, s) => s.clone(),
            };
            match (source, modes.is_empty()) {
                (None, true) => Ok(Mount::Volume(target)),
                (None, false) => Err(
                    "an anonymous volume with options cannot be written as SOURCE:TARGET:MODE; name it"
                        .into(),
                ),
                (Some(s), true) => Ok(Mount::Volume(format!("{s}:{target}"))),
                (Some(s), false) => Ok(Mount::Volume(format!("{s}:{target}:{}", modes.join(",")))),
            }
        }
        other => Err(format!(
            "mount type {other:?}: the scenario format has bind, volume and tmpfs mounts"
        )),
    }
}

/// Where an import came from, for the file's opening comment.
pub struct Origin<'a> {
    /// `parity import docker-run` or `parity import compose`.
    pub how: &'a str,
    /// The command line or `FILE, service S`, on one line.
    pub from: String,
    pub description: String,
}

/// The scenario file for `imported` as scenario `id`: loads and lints
/// clean, with what was dropped and the way to observe more in comments.
pub fn scenario_text(id: &str, imported: &Imported, origin: &Origin) -> String {
    let mut out = String::new();
    let line = |out: &mut String, s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line(&mut out, &crate::author::lint::expected_schema_line(id));
    line(&mut out, &format!("# Imported by `{}` from:", origin.how));
    line(&mut out, &format!("#   {}", one_line(&origin.from)));
    if !imported.notes.is_empty() {
        line(&mut out, "# Not carried over:");
        for n in &imported.notes {
            line(&mut out, &format!("#   {}", one_line(n)));
        }
    }
    line(&mut out, "");
    line(
        &mut out,
        &format!("description: {}", json(&origin.description)),
    );
    line(&mut out, "tags: [\"imported\"]");
    line(&mut out, &format!("image: {}", image_text(&imported.image)));
    let command = serde_json::to_value(&imported.command).unwrap_or_default();
    line(&mut out, &format!("command: {}", inline(&command)));
    let container = serde_json::to_value(&imported.container).unwrap_or_default();
    if let Some(map) = container.as_object().filter(|m| !m.is_empty()) {
        line(&mut out, "container:");
        for (k, v) in map {
            line(&mut out, &format!("  {k}: {}", inline(v)));
        }
    }
    line(&mut out, "");
    line(
        &mut out,
        "# A workload that keeps running (a server) is killed at its timeout on",
    );
    line(
        &mut out,
        "# every side: shorten the command, or make it a service scenario with",
    );
    line(
        &mut out,
        "# `ready:` and `steps:` (docs/scenario-authoring.md).",
    );
    line(&mut out, "timeout: 30s");
    line(
        &mut out,
        "# With only exit_code, stdout and stderr the command runs untouched; add",
    );
    line(
        &mut out,
        "# syscalls, mounts, capabilities, id_maps, security or devices to have",
    );
    line(&mut out, "# parity's probe observe them.");
    line(&mut out, "observe: [exit_code, stdout, stderr]");
    out
}

/// A value as one line of YAML flow style: JSON with spaces after `,`
/// and `:` (JSON's strings are YAML double-quoted scalars).
fn inline(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        serde_json::Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", json(k), inline(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// At most `max` characters of `s`, with `...` when cut.
pub fn shorten(s: &str, max: usize) -> String {
    match s.chars().count() > max {
        true => format!("{}...", s.chars().take(max).collect::<String>()),
        false => s.to_string(),
    }
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn image_text(image: &ImageRef) -> String {
    match image {
        ImageRef::Name(n) => json(n),
        ImageRef::Build(dir) => format!("{{ build: {} }}", json(&dir.display().to_string())),
    }
}

fn one_line(s: &str) -> String {
    s.replace('\r', "\\r").replace('\n', "\\n")
}

pub use crate::load::stack::split_words;

/// An absolute, lexically normal form of `p` (`.` and `..` resolved
/// without touching the file system).
pub fn absolute(p: &Path, cwd: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in cwd.join(p).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// `to` as a path relative to the folder `from` (both absolute).
pub fn relative(from: &Path, to: &Path) -> PathBuf {
    let (f, t): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Bind sources written relative to `from_dir` (`./data:/data`),
/// rewritten relative to `scenario_dir`, where the engine resolves them.
pub fn rebase_binds(container: &mut ContainerSpec, from_dir: &Path, scenario_dir: &Path) {
    for v in &mut container.volumes {
        let (source, rest) = v.split_once(':').unwrap_or((v.as_str(), ""));
        if is_bind_source(source) && source.starts_with('.') && !rest.is_empty() {
            let to = relative(scenario_dir, &absolute(Path::new(source), from_dir));
            *v = format!("{}:{rest}", to.display());
        }
    }
}

/// `argv` as a shell would read it back: words with spaces or quotes are
/// single-quoted.
pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
            match plain {
                true => a.clone(),
                false => format!("'{}'", a.replace('\'', r"'\''")),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The id a user gave: `AREA/NAME`, or `NAME` alone for `imported/NAME`.
pub fn import_id(name: &str) -> Result<String, ScaffoldError> {
    let name = name.trim();
    match name.contains('/') {
        true => scaffold::parse_id(name),
        false => scaffold::parse_id(&format!("imported/{name}")),
    }
}

/// What an import wrote, for people: each file, what it dropped, and what
/// to do next.
pub fn written(files: &[(PathBuf, Vec<String>)], cwd: &Path) -> String {
    let mut out = String::new();
    for (path, notes) in files {
        let shown = path.strip_prefix(cwd).unwrap_or(path);
        out.push_str(&format!("created {}\n", shown.display()));
        for n in notes {
            out.push_str(&format!("  note: {n}\n"));
        }
    }
    let list: Vec<String> = files
        .iter()
        .map(|(p, _)| p.strip_prefix(cwd).unwrap_or(p).display().to_string())
        .collect();
    out.push_str(&format!(
        "next: `parity lint {l}` and `parity run {l}`\n",
        l = list.join(" ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn argv(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[rstest]
    #[case("web", Ok("imported/web"))]
    #[case("net/web", Ok("net/web"))]
    #[case("scenarios/net/web.yaml", Ok("net/web"))]
    #[case("a b", Err(()))]
    #[case("../x", Err(()))]
    fn names_become_ids(#[case] name: &str, #[case] want: Result<&str, ()>) {
        assert_eq!(import_id(name).map_err(|_| ()), want.map(str::to_string));
    }

    #[test]
    fn shell_line_quotes_what_needs_it() {
        let line = shell_line(&argv("docker run x"));
        assert_eq!(line, "docker run x");
        let line = shell_line(&["sh".into(), "-c".into(), "echo it's".into()]);
        assert_eq!(line, r"sh -c 'echo it'\''s'");
    }

    #[rstest]
    #[case("a b  c", &["a", "b", "c"])]
    #[case("sh -c 'echo \"x\" $y'", &["sh", "-c", "echo \"x\" $y"])]
    #[case(r#"echo "a \"b\" \n" c\ d"#, &["echo", r#"a "b" \n"#, "c d"])]
    #[case("''", &[""])]
    #[case("", &[])]
    fn commands_split_like_a_shell(#[case] s: &str, #[case] want: &[&str]) {
        assert_eq!(split_words(s).unwrap(), want);
    }
}
