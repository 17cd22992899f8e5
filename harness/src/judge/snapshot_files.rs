//! Where snapshots live and the files around them: the layout
//! `scenarios/AREA/snapshots/<key>/NAME@RUNTIME.snap` (the key says which
//! environment made it, see [`snapshot_key`](super::snapshot_key)), orphan
//! and pending files for `parity lint`, and `parity snapshots accept DIR`,
//! which brings the snapshots a CI run would have recorded (its artifact)
//! into the checkout.
//!
//! Every walk goes through the shared [walk](crate::load::walk), so a
//! dangling or looping link is a located problem, never a hang. Accepting
//! never overwrites a committed snapshot: a different one is put beside it
//! as `.snap.new` for `cargo insta review`.

use std::path::{Path, PathBuf};

use crate::judge::snapshot_key::is_key_name;
use crate::load::scenario::SNAPSHOT_DIR;
use crate::load::walk::{WalkError, walk};

/// The snapshot file of the scenario at `scenario_path` under `runtime`,
/// in the folder of environment `key`.
pub fn snapshot_path(scenario_path: &Path, key: &str, runtime: &str) -> PathBuf {
    let dir = scenario_path.parent().unwrap_or(Path::new("."));
    dir.join(SNAPSHOT_DIR)
        .join(key)
        .join(format!("{}@{runtime}.snap", stem(scenario_path)))
}

/// The committed snapshots of the scenario at `scenario_path`, every key
/// and runtime.
pub fn snapshots_of(scenario_path: &Path) -> Vec<PathBuf> {
    let dir = scenario_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(SNAPSHOT_DIR);
    let prefix = format!("{}@", stem(scenario_path));
    walk(&dir, |_| false)
        .files
        .into_iter()
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                && f.extension().is_some_and(|e| e == "snap")
        })
        .collect()
}

/// The body of a `.snap` file (after insta's metadata header).
pub fn snapshot_body(file_text: &str) -> &str {
    match file_text.strip_prefix("---\n") {
        Some(rest) => rest
            .split_once("\n---\n")
            .map(|(_, body)| body)
            .unwrap_or(rest),
        None => file_text,
    }
}

pub(crate) fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A file in a `snapshots/` folder: its key folder (if any) and name.
struct Placed<'a> {
    /// The folder holding `snapshots/`.
    area: &'a Path,
    key: Option<String>,
    name: String,
}

/// Where `file` sits relative to the nearest `snapshots/` folder above it:
/// `AREA/snapshots/KEY/NAME` or the old `AREA/snapshots/NAME`.
fn placed(file: &Path) -> Option<Placed<'_>> {
    let name = file.file_name()?.to_string_lossy().into_owned();
    let parent = file.parent()?;
    if parent.file_name()? == SNAPSHOT_DIR {
        return Some(Placed {
            area: parent.parent()?,
            key: None,
            name,
        });
    }
    let snapshots = parent.parent()?;
    let key = parent.file_name()?.to_string_lossy().into_owned();
    (snapshots.file_name()? == SNAPSHOT_DIR).then(|| Placed {
        area: snapshots.parent().unwrap_or(snapshots),
        key: Some(key),
        name,
    })
}

/// Snapshot files under `root` whose scenario is gone, whose runtime is
/// not in `runtimes`, or that are not in a key folder, with why; and the
/// problems of the walk.
pub fn orphans(root: &Path, runtimes: &[String]) -> (Vec<(PathBuf, String)>, Vec<WalkError>) {
    let found = walk(root, |_| false);
    let mut out = Vec::new();
    for file in &found.files {
        let Some(p) = placed(file) else { continue };
        let Some(stem) = p.name.strip_suffix(".snap") else {
            continue;
        };
        let why = match (&p.key, stem.rsplit_once('@')) {
            (None, _) => format!(
                "not in an environment folder (snapshots/<key>/{}); move it or let `cargo test` record it anew",
                p.name
            ),
            (Some(key), _) if !is_key_name(key) => format!("{key:?} is not an environment key"),
            (_, None) => "not named NAME@RUNTIME.snap".into(),
            (_, Some((scenario, runtime))) => {
                let exists = ["yaml", "yml"]
                    .iter()
                    .any(|ext| p.area.join(format!("{scenario}.{ext}")).is_file());
                if !exists {
                    format!("its scenario {scenario}.yaml no longer exists")
                } else if !runtimes.iter().any(|r| r == runtime) {
                    format!("no runtime profile is named {runtime:?}")
                } else {
                    continue;
                }
            }
        };
        out.push((file.clone(), why));
    }
    out.sort();
    (out, found.problems)
}

/// Pending `.snap.new` files under `root`.
pub fn pending(root: &Path) -> Vec<PathBuf> {
    walk(root, |_| false)
        .files
        .into_iter()
        .filter(|f| f.to_string_lossy().ends_with(".snap.new") && placed(f).is_some())
        .collect()
}

/// What `parity snapshots accept` did with each file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// New snapshots copied into the checkout.
    pub added: Vec<PathBuf>,
    /// Same as the committed one.
    pub unchanged: Vec<PathBuf>,
    /// Different from the committed one: written as `.snap.new` beside it.
    pub to_review: Vec<PathBuf>,
    /// Files that are not snapshots of this checkout, with why.
    pub skipped: Vec<(PathBuf, String)>,
    pub problems: Vec<WalkError>,
}

#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("{}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no snapshot files found (expected .../snapshots/<key>/NAME@RUNTIME.snap)", dir.display())]
    Empty { dir: PathBuf },
}

/// Brings the snapshots under `dir` (a CI artifact: paths as in the
/// checkout, possibly below one or more extra folders) into the checkout
/// at `root`. New ones are copied; committed ones are never overwritten: a
/// different one becomes `.snap.new` beside it, for `cargo insta review`.
pub fn accept(dir: &Path, root: &Path) -> Result<Accepted, AcceptError> {
    let found = walk(dir, |_| false);
    let mut done = Accepted {
        problems: found.problems,
        ..Accepted::default()
    };
    let mut seen = 0;
    for file in &found.files {
        let Some(p) = placed(file) else { continue };
        let pending = p.name.ends_with(".snap.new");
        if !p.name.ends_with(".snap") && !pending {
            continue;
        }
        seen += 1;
        let Some(key) = p.key.as_deref().filter(|k| is_key_name(k)) else {
            done.skipped
                .push((file.clone(), "not in an environment folder".into()));
            continue;
        };
        let Some(area) = area_in_checkout(dir, p.area, root) else {
            done.skipped.push((
                file.clone(),
                "its scenario folder is not in this checkout".into(),
            ));
            continue;
        };
        let scenario = p.name.split('@').next().unwrap_or_default();
        if !["yaml", "yml"]
            .iter()
            .any(|e| area.join(format!("{scenario}.{e}")).is_file())
        {
            done.skipped.push((
                file.clone(),
                format!("no scenario {scenario}.yaml in {}", area.display()),
            ));
            continue;
        }
        let target = area.join(SNAPSHOT_DIR).join(key).join(&p.name);
        let text = std::fs::read_to_string(file).map_err(|source| AcceptError::Write {
            path: file.clone(),
            source,
        })?;
        let committed = if pending {
            None
        } else {
            std::fs::read_to_string(&target).ok()
        };
        let (dest, list) = match committed {
            None if pending => (target, &mut done.to_review),
            None => (target, &mut done.added),
            Some(old) if snapshot_body(&old).trim_end() == snapshot_body(&text).trim_end() => {
                done.unchanged.push(target);
                continue;
            }
            Some(_) => (
                target.with_file_name(format!("{}.new", p.name)),
                &mut done.to_review,
            ),
        };
        write_atomically(&dest, &text).map_err(|source| AcceptError::Write {
            path: dest.clone(),
            source,
        })?;
        list.push(dest);
    }
    if seen == 0 && done.problems.is_empty() {
        return Err(AcceptError::Empty {
            dir: dir.to_path_buf(),
        });
    }
    Ok(done)
}

/// What `parity snapshots accept` says it did, paths under `root`.
pub fn accepted_text(done: &Accepted, root: &Path) -> String {
    let rel = |p: &PathBuf| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut out = String::new();
    for p in &done.added {
        out.push_str(&format!("added     {}\n", rel(p)));
    }
    for p in &done.to_review {
        out.push_str(&format!("to review {}\n", rel(p)));
    }
    for (p, why) in &done.skipped {
        out.push_str(&format!("skipped   {}: {why}\n", p.display()));
    }
    for e in &done.problems {
        out.push_str(&format!("error     {e}\n"));
    }
    out.push_str(&format!(
        "{} added, {} unchanged, {} to review{}\n",
        done.added.len(),
        done.unchanged.len(),
        done.to_review.len(),
        if done.to_review.is_empty() {
            ""
        } else {
            ": run `cargo insta review`"
        }
    ));
    out
}

/// The checkout's folder for an artifact's `area` folder: the artifact's
/// path below `dir`, less as many leading folders as it takes to name a
/// folder that exists under `root` (artifacts add their own names).
fn area_in_checkout(dir: &Path, area: &Path, root: &Path) -> Option<PathBuf> {
    let rel = area.strip_prefix(dir).ok()?;
    let parts: Vec<_> = rel.components().collect();
    (0..parts.len()).find_map(|skip| {
        let candidate = parts[skip..]
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c));
        candidate.is_dir().then_some(candidate)
    })
}

/// Writes `text` to `path` through a temporary file and a rename, so two
/// processes recording the same snapshot (nextest runs one per trial)
/// never leave half a file.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Dir {
        fn new(name: &str) -> Dir {
            let d = std::env::temp_dir()
                .join(format!("parity-snapfiles-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            Dir(d)
        }
        fn put(&self, rel: &str, text: &str) -> PathBuf {
            let p = self.0.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            p
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const KEY: &str = "x86_64-cgroup2-linux6.8-docker28-busybox1.36.1-0a1b2c";

    #[test]
    fn paths_follow_the_layout() {
        let p = snapshot_path(Path::new("scenarios/mounts/tmpfs.yaml"), KEY, "runc");
        assert_eq!(
            p,
            Path::new("scenarios/mounts/snapshots")
                .join(KEY)
                .join("tmpfs@runc.snap")
        );
    }

    #[test]
    fn orphans_and_pending_are_found() {
        let d = Dir::new("orphans");
        d.put("area/kept.yaml", "x");
        for name in [
            "kept@runc.snap",
            "kept@gone.snap",
            "removed@runc.snap",
            "kept@runc.snap.new",
        ] {
            d.put(&format!("area/snapshots/{KEY}/{name}"), "x");
        }
        d.put("area/snapshots/kept@runc.snap", "x");
        let (found, problems) = orphans(&d.0, &["runc".into()]);
        let names: Vec<String> = found
            .iter()
            .map(|(p, _)| p.strip_prefix(&d.0).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            vec![
                format!("area/snapshots/kept@runc.snap"),
                format!("area/snapshots/{KEY}/kept@gone.snap"),
                format!("area/snapshots/{KEY}/removed@runc.snap"),
            ]
        );
        assert!(found[0].1.contains("environment folder"), "{found:?}");
        assert!(problems.is_empty());
        assert_eq!(pending(&d.0).len(), 1);
        assert_eq!(
            snapshots_of(&d.0.join("area/kept.yaml")).len(),
            3,
            "kept@runc, kept@gone and the old-layout file"
        );
    }

    #[test]
    fn accept_adds_new_keeps_same_and_never_overwrites() {
        let repo = Dir::new("repo");
        let art = Dir::new("artifact");
        repo.put("scenarios/a/s.yaml", "x");
        repo.put("scenarios/a/t.yaml", "x");
        let committed = repo.put(
            &format!("scenarios/a/snapshots/{KEY}/t@runc.snap"),
            "---\nsource: x\n---\nexit_code: \"0\"\n",
        );
        let cell = "parity-snapshots-ubuntu-24.04";
        art.put(
            &format!("{cell}/scenarios/a/snapshots/{KEY}/s@runc.snap"),
            "---\nsource: y\n---\nexit_code: \"1\"\n",
        );
        art.put(
            &format!("{cell}/scenarios/a/snapshots/{KEY}/t@runc.snap"),
            "---\nsource: other\n---\nexit_code: \"0\"\n",
        );
        art.put(
            &format!("{cell}/scenarios/a/snapshots/{KEY}/t@userns-remap.snap"),
            "---\n---\nexit_code: \"2\"\n",
        );
        repo.put(
            &format!("scenarios/a/snapshots/{KEY}/t@userns-remap.snap"),
            "---\n---\nexit_code: \"0\"\n",
        );
        art.put(
            &format!("{cell}/scenarios/gone/snapshots/{KEY}/g@runc.snap"),
            "x",
        );
        let done = accept(&art.0, &repo.0).unwrap();
        assert_eq!(
            done.added,
            vec![
                repo.0
                    .join(format!("scenarios/a/snapshots/{KEY}/s@runc.snap"))
            ]
        );
        assert_eq!(done.unchanged, vec![committed.clone()]);
        assert_eq!(
            done.to_review,
            vec![repo.0.join(format!(
                "scenarios/a/snapshots/{KEY}/t@userns-remap.snap.new"
            ))]
        );
        assert_eq!(done.skipped.len(), 1, "{:?}", done.skipped);
        assert_eq!(
            std::fs::read_to_string(
                repo.0
                    .join(format!("scenarios/a/snapshots/{KEY}/t@userns-remap.snap"))
            )
            .unwrap(),
            "---\n---\nexit_code: \"0\"\n",
            "never overwritten"
        );
        let empty = Dir::new("empty");
        assert!(matches!(
            accept(&empty.0, &repo.0),
            Err(AcceptError::Empty { .. })
        ));
    }
}
