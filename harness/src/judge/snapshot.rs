//! Snapshots: each runtime's normalized observation of each scenario, kept
//! as an insta snapshot beside the scenario, in the folder of the
//! environment that made it
//! (`scenarios/AREA/snapshots/<key>/NAME@RUNTIME.snap`; the layout and the
//! files around it are in [`snapshot_files`](super::snapshot_files), the
//! key in [`snapshot_key`](super::snapshot_key)).
//!
//! Owns the snapshot's content (the normalized comparable text of every
//! observed field of a runtime's first run, as a YAML map: never durations,
//! ids or names), its explicit name, and the policy: a missing snapshot is
//! recorded and passes (with `CI` set it is not written into the checkout
//! and passes with a loud note, and it is written to the artifacts folder
//! when there is one), a changed one fails through insta so that `cargo
//! insta review` and `cargo insta accept` work. Must be called on the
//! thread of the trial that asserts (insta settings are per thread).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::load::scenario::Scenario;
use crate::run::observe::Texts;

pub use crate::judge::snapshot_files::snapshot_body;
use crate::judge::snapshot_files::{snapshot_path, stem, write_atomically};

/// The snapshot body: one YAML key per observed subject, in run order
/// (`exit_code`, then `steps/NAME/exit_code` for each step).
pub fn content(fields: &Texts) -> String {
    let mut out = String::new();
    for (subject, text) in fields {
        out.push_str(&yaml_key(&subject.key()));
        out.push(':');
        out.push_str(&yaml_string(text));
        out.push('\n');
    }
    out
}

/// A YAML mapping key: plain when it is a simple name, else quoted.
fn yaml_key(key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/' | '.'))
    {
        key.to_string()
    } else {
        serde_json::to_string(key).expect("strings serialize")
    }
}

/// A YAML value for `text` (after `key:`): a literal block for clean
/// multi-line text, a double-quoted scalar otherwise.
fn yaml_string(text: &str) -> String {
    let lines: Vec<&str> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .collect();
    let clean = text.contains('\n')
        && !text.ends_with("\n\n")
        && lines.iter().all(|l| {
            !l.ends_with([' ', '\t'])
                && !l.is_empty()
                && l.chars().all(|c| c == '\t' || !c.is_control())
        });
    if !clean {
        return format!(
            " {}",
            serde_json::to_string(text).expect("strings serialize")
        );
    }
    let chomp = if text.ends_with('\n') { "" } else { "-" };
    let indent = if lines[0].starts_with(' ') { "2" } else { "" };
    let mut out = format!(" |{indent}{chomp}");
    for line in lines {
        out.push_str("\n  ");
        out.push_str(line);
    }
    out
}

/// Reads a snapshot body back into field texts (for saying what changed).
pub fn parse_content(body: &str) -> BTreeMap<String, String> {
    serde_saphyr::from_str::<BTreeMap<String, String>>(body).unwrap_or_default()
}

/// Fields whose text differs between two bodies, with the side they are
/// missing from.
pub fn changed_fields(old: &str, new: &str) -> Vec<String> {
    let (old, new) = (parse_content(old.trim_end()), parse_content(new.trim_end()));
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| match (old.get(k), new.get(k)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(_), Some(_)) => Some(k.clone()),
            (Some(_), None) => Some(format!("{k} (no longer observed)")),
            (None, _) => Some(format!("{k} (newly observed)")),
        })
        .collect()
}

/// Whether missing snapshots are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recording {
    /// Write missing snapshots and pass.
    Record,
    /// Write nothing into the checkout; pass missing snapshots with this
    /// note.
    Off(String),
}

impl Recording {
    /// From the environment, as insta reads it: `CI` (not `false`/`0`/empty)
    /// or `TF_BUILD`, and `INSTA_UPDATE=no`, turn recording off.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Recording {
        if is_ci(&env) {
            return Recording::Off("CI is set, so nothing is written".into());
        }
        if env("INSTA_UPDATE").as_deref() == Some("no") {
            return Recording::Off("INSTA_UPDATE=no".into());
        }
        Recording::Record
    }
}

/// Whether the environment says CI, as insta reads it.
pub fn is_ci(env: &impl Fn(&str) -> Option<String>) -> bool {
    match env("CI").as_deref() {
        Some("false") | Some("0") | Some("") => false,
        Some(_) => true,
        None => env("TF_BUILD").is_some(),
    }
}

/// Where a run puts the snapshots it would record (and the changed ones,
/// as `.snap.new`) when it does not write them into the checkout: the CI
/// artifact that `parity snapshots accept DIR` brings in. Paths below
/// `dir` are the snapshots' paths relative to the project `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    pub dir: PathBuf,
    pub root: PathBuf,
}

impl Artifacts {
    /// `PARITY_SNAPSHOTS_OUT`, else `target/parity-snapshots` under `root`
    /// when CI is set; none otherwise (local runs record in place).
    pub fn from_env(root: &Path, env: impl Fn(&str) -> Option<String>) -> Option<Artifacts> {
        let dir = match env("PARITY_SNAPSHOTS_OUT").filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d),
            None if is_ci(&env) => root.join("target/parity-snapshots"),
            None => return None,
        };
        Some(Artifacts {
            dir,
            root: root.to_path_buf(),
        })
    }

    /// Writes `text` where `snapshot` would be, below the artifacts folder.
    fn put(&self, snapshot: &Path, suffix: &str, text: &str) -> Option<PathBuf> {
        let abs = absolute(snapshot);
        let rel = abs
            .strip_prefix(absolute(&self.root))
            .unwrap_or(abs.strip_prefix("/").unwrap_or(&abs));
        let mut dest = self.dir.join(rel).into_os_string();
        dest.push(suffix);
        let dest = PathBuf::from(dest);
        write_atomically(&dest, text).ok().map(|()| dest)
    }
}

/// What checking one snapshot found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Same as the committed snapshot.
    Matched,
    /// There was none; it was written now.
    Recorded(PathBuf),
    /// There was none and recording is off; nothing written into the
    /// checkout (`artifact`: where it was written instead).
    Missing {
        path: PathBuf,
        why: String,
        artifact: Option<PathBuf>,
    },
    /// It changed and insta let it pass (`INSTA_UPDATE=always` updated it,
    /// or `INSTA_FORCE_PASS` / `cargo insta test` left a `.snap.new`).
    ChangedAccepted { path: PathBuf, fields: Vec<String> },
    /// It changed: a failure. `.snap.new` waits for `cargo insta review`.
    Changed { path: PathBuf, fields: Vec<String> },
}

impl Outcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Changed { .. })
    }

    /// One line for people, or none when it matched.
    pub fn note(&self, runtime: &str) -> Option<String> {
        match self {
            Outcome::Matched => None,
            Outcome::Recorded(p) => Some(format!("new snapshot recorded: {}", p.display())),
            Outcome::Missing {
                path,
                why,
                artifact,
            } => Some(format!(
                "NOTE: new snapshot: no snapshot for {runtime} in this environment yet ({}); not recorded: {why}. {}",
                path.display(),
                match artifact {
                    Some(a) => format!(
                        "Written to {}: bring it in with `parity snapshots accept DIR`",
                        a.display()
                    ),
                    None => "Run the suite locally and commit the snapshot".into(),
                }
            )),
            Outcome::ChangedAccepted { path, fields } => Some(format!(
                "snapshot of {runtime} changed in {} ({}); left to insta (review with `cargo insta review`)",
                fields.join(", "),
                path.display()
            )),
            Outcome::Changed { path, fields } => Some(format!(
                "snapshot changed: {runtime}'s observation differs from {} in {}.\n\
                 If the scenario was edited or the new behaviour is right, accept it with `cargo insta review` \
                 (or `cargo insta accept`); otherwise {runtime} drifted between versions.",
                path.display(),
                if fields.is_empty() {
                    "its text".to_string()
                } else {
                    fields.join(", ")
                },
            )),
        }
    }
}

/// Checks (and records, when missing) the snapshot of `scenario` under
/// `runtime` in the folder of environment `key`. Call on the trial's own
/// thread.
pub fn check(
    scenario: &Scenario,
    key: &str,
    runtime: &str,
    fields: &Texts,
    recording: &Recording,
    artifacts: Option<&Artifacts>,
) -> Outcome {
    let path = snapshot_path(&scenario.path, key, runtime);
    let body = content(fields);
    let existed = path.is_file();
    if !existed {
        match recording {
            Recording::Off(why) => {
                let artifact =
                    artifacts.and_then(|a| a.put(&path, "", &file_text(&scenario.path, &body)));
                return Outcome::Missing {
                    path,
                    why: why.clone(),
                    artifact,
                };
            }
            Recording::Record => {
                if let Err(e) = write_atomically(&path, &file_text(&scenario.path, &body)) {
                    return Outcome::Missing {
                        path,
                        why: format!("cannot write it: {e}"),
                        artifact: None,
                    };
                }
            }
        }
    }
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let fields_changed = changed_fields(snapshot_body(&old), &body);
    let same = snapshot_body(&old).trim_end() == body.trim_end();
    let asserted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert_with_insta(scenario, runtime, &path, &body)
    }));
    remember_reference(&path);
    if !same {
        if let (Some(a), Recording::Off(_)) = (artifacts, recording) {
            a.put(&path, ".new", &file_text(&scenario.path, &body));
        }
    }
    match (asserted.is_ok(), existed, same) {
        (true, false, _) => Outcome::Recorded(path),
        (true, true, true) => Outcome::Matched,
        (true, true, false) => Outcome::ChangedAccepted {
            path,
            fields: fields_changed,
        },
        (false, _, _) => Outcome::Changed {
            path,
            fields: fields_changed,
        },
    }
}

/// The insta assertion, with an explicit name and folder: never derived
/// from a function name (inside a custom harness every trial is `main`).
fn assert_with_insta(scenario: &Scenario, runtime: &str, path: &Path, body: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(absolute(path.parent().unwrap_or(Path::new("."))));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_input_file(&scenario.path);
    settings.set_omit_expression(true);
    settings.set_snapshot_suffix(runtime);
    let name = stem(&scenario.path);
    settings.bind(|| insta::assert_snapshot!(name.as_str(), body));
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A snapshot file in insta's format (metadata header, then body).
fn file_text(input: &Path, body: &str) -> String {
    let root = crate::config::workspace_root();
    let input = absolute(input);
    let input = input.strip_prefix(&root).unwrap_or(&input);
    let input = input.to_string_lossy().replace('\\', "/");
    format!(
        "---\nsource: {}\ninput_file: {}\n---\n{}",
        file!().replace('\\', "/"),
        input,
        body
    )
}

/// Tells `cargo insta test --unreferenced=...` that a snapshot is in use
/// (insta does it for asserted snapshots; this covers runtimes that were
/// skipped on this host, so their committed snapshots are not flagged).
pub fn remember_reference(path: &Path) {
    let Some(file) = std::env::var_os("INSTA_SNAPSHOT_REFERENCES_FILE") else {
        return;
    };
    if !path.is_file() {
        return;
    }
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)
    {
        let _ = writeln!(f, "{}", absolute(path).display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::single_line("0", " \"0\"")]
    #[case::lines("a\nb\n", " |\n  a\n  b")]
    #[case::no_final_newline("a\nb", " |-\n  a\n  b")]
    #[case::leading_space("  a\nb\n", " |2\n    a\n  b")]
    #[case::blank_line("a\n\nb\n", " \"a\\n\\nb\\n\"")]
    #[case::trailing_space("a \nb\n", " \"a \\nb\\n\"")]
    #[case::empty("", " \"\"")]
    fn values_are_readable_yaml(#[case] text: &str, #[case] want: &str) {
        assert_eq!(yaml_string(text), want);
        let doc = format!("k:{want}\n");
        assert_eq!(parse_content(&doc)["k"], text, "round trip of {doc:?}");
    }

    #[test]
    fn content_keys_follow_field_order_and_diffs_name_fields() {
        use crate::load::scenario::Field as F;
        use crate::run::observe::Subject as S;
        let mut f = BTreeMap::new();
        f.insert(S::from(F::Stdout), "ok\n".to_string());
        f.insert(S::from(F::ExitCode), "0".to_string());
        f.insert(S::from(F::Engine), "started".to_string());
        let body = content(&f);
        assert_eq!(
            body,
            "engine: \"started\"\nexit_code: \"0\"\nstdout: |\n  ok\n"
        );
        f.insert(S::from(F::Stdout), "ko\n".to_string());
        f.remove(&S::from(F::ExitCode));
        f.insert(S::from(F::Stderr), String::new());
        assert_eq!(
            changed_fields(&body, &content(&f)),
            vec![
                "exit_code (no longer observed)",
                "stderr (newly observed)",
                "stdout"
            ]
        );
        f.insert(S::step(0, "inner run", F::ExitCode), "1".to_string());
        assert!(content(&f).ends_with("\"steps/inner run/exit_code\": \"1\"\n"));
        assert_eq!(
            parse_content(&content(&f))["steps/inner run/exit_code"],
            "1"
        );
    }

    #[test]
    fn snapshot_body_skips_the_header() {
        let file = "---\nsource: x\ninput_file: y\n---\nengine: \"started\"\n";
        assert_eq!(snapshot_body(file), "engine: \"started\"\n");
    }

    #[rstest]
    #[case::nothing(&[], Recording::Record)]
    #[case::ci(&[("CI", "true")], Recording::Off("CI is set, so nothing is written".into()))]
    #[case::ci_false(&[("CI", "false")], Recording::Record)]
    #[case::azure(&[("TF_BUILD", "1")], Recording::Off("CI is set, so nothing is written".into()))]
    #[case::insta_no(&[("INSTA_UPDATE", "no")], Recording::Off("INSTA_UPDATE=no".into()))]
    fn recording_follows_the_environment(#[case] env: &[(&str, &str)], #[case] want: Recording) {
        let got = Recording::from_env(|k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        });
        assert_eq!(got, want);
    }
}
