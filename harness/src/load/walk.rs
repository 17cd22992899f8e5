//! The one directory walk every command uses: scenario discovery (`parity
//! run`, `list`, `lint`, the `cargo test` trials) and the snapshot walks
//! (orphans, pending reviews, accepting CI artifacts).
//!
//! Owns the acceptance rules for a tree of files, the same everywhere:
//! names starting with `.` are skipped; folders the caller prunes are not
//! entered; a symlink is followed to what it names, but a link that does
//! not resolve (dangling, a link to itself, a chain of links that loops)
//! and a folder link back into one of its own ancestors are located
//! errors, never a hang or a silent skip; a folder reached twice through
//! links is walked once; entries come sorted. It reads the file system and
//! nothing else: what the files mean is the caller's business.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Folders deeper than this under the walked root are an error (a guard
/// against link mazes that the loop check alone would let grow).
pub const MAX_DEPTH: usize = 64;

/// `ELOOP`: too many levels of symbolic links (Linux).
const ELOOP: i32 = 40;

/// A located problem met while walking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkError {
    #[error("{}: cannot read: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: dangling symlink: its target {} does not exist", path.display(), target.display())]
    Dangling { path: PathBuf, target: PathBuf },
    #[error("{}: symlink loop: {} never resolves to a file or folder", path.display(), target.display())]
    LinkLoop { path: PathBuf, target: PathBuf },
    #[error("{}: links back to {}, a folder it is inside; remove the link (loops are not followed)", path.display(), ancestor.display())]
    FolderLoop { path: PathBuf, ancestor: PathBuf },
    #[error("{}: more than {MAX_DEPTH} folders deep; is it a maze of links?", path.display())]
    TooDeep { path: PathBuf },
}

impl WalkError {
    /// The file or link the problem is about.
    pub fn path(&self) -> &Path {
        match self {
            WalkError::Read { path, .. }
            | WalkError::Dangling { path, .. }
            | WalkError::LinkLoop { path, .. }
            | WalkError::FolderLoop { path, .. }
            | WalkError::TooDeep { path } => path,
        }
    }
}

/// What a walk found: every file (links resolved to files), sorted, and
/// every problem, in the order met.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Walk {
    pub files: Vec<PathBuf>,
    pub problems: Vec<WalkError>,
}

/// What a path is once its links are followed.
enum Kind {
    File,
    Dir(u64, u64),
    Other,
}

/// Walks `root` (a file or a folder), skipping hidden names and the
/// folders `prune` names (it gets the folder's name).
pub fn walk(root: &Path, prune: impl Fn(&str) -> bool) -> Walk {
    let mut w = Walker {
        prune: &prune,
        out: Walk::default(),
        visited: HashSet::new(),
        ancestors: Vec::new(),
    };
    match w.resolve(root) {
        Ok(Kind::File) => w.out.files.push(root.to_path_buf()),
        Ok(Kind::Dir(dev, ino)) => w.dir(root, (dev, ino), 0),
        Ok(Kind::Other) => {}
        Err(e) => w.out.problems.push(e),
    }
    w.out.files.sort();
    w.out
}

struct Walker<'a> {
    prune: &'a dyn Fn(&str) -> bool,
    out: Walk,
    /// Every real folder walked, by (device, inode).
    visited: HashSet<(u64, u64)>,
    /// The folders from the root down to the current one, with their paths.
    ancestors: Vec<((u64, u64), PathBuf)>,
}

impl Walker<'_> {
    /// Follows `path`'s links (if any) and says what it names.
    fn resolve(&self, path: &Path) -> Result<Kind, WalkError> {
        let lmeta = std::fs::symlink_metadata(path).map_err(|e| read_error(path, &e))?;
        let meta = if lmeta.file_type().is_symlink() {
            let target = std::fs::read_link(path).unwrap_or_default();
            match std::fs::metadata(path) {
                Ok(m) => m,
                Err(e) if e.raw_os_error() == Some(ELOOP) => {
                    return Err(WalkError::LinkLoop {
                        path: path.to_path_buf(),
                        target,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(WalkError::Dangling {
                        path: path.to_path_buf(),
                        target,
                    });
                }
                Err(e) => return Err(read_error(path, &e)),
            }
        } else {
            lmeta
        };
        Ok(if meta.is_dir() {
            Kind::Dir(meta.dev(), meta.ino())
        } else if meta.is_file() {
            Kind::File
        } else {
            Kind::Other
        })
    }

    fn dir(&mut self, dir: &Path, id: (u64, u64), depth: usize) {
        if let Some((_, ancestor)) = self.ancestors.iter().find(|(a, _)| *a == id) {
            self.out.problems.push(WalkError::FolderLoop {
                path: dir.to_path_buf(),
                ancestor: ancestor.clone(),
            });
            return;
        }
        if depth > MAX_DEPTH {
            self.out.problems.push(WalkError::TooDeep {
                path: dir.to_path_buf(),
            });
            return;
        }
        if !self.visited.insert(id) {
            return;
        }
        let mut entries: Vec<(String, PathBuf)> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| match e {
                    Ok(e) => Some((e.file_name().to_string_lossy().into_owned(), e.path())),
                    Err(err) => {
                        self.out.problems.push(read_error(dir, &err));
                        None
                    }
                })
                .collect(),
            Err(e) => {
                self.out.problems.push(read_error(dir, &e));
                return;
            }
        };
        entries.sort();
        self.ancestors.push((id, dir.to_path_buf()));
        for (name, path) in entries {
            if name.starts_with('.') {
                continue;
            }
            match self.resolve(&path) {
                Ok(Kind::File) => self.out.files.push(path),
                Ok(Kind::Dir(dev, ino)) if !(self.prune)(&name) => {
                    self.dir(&path, (dev, ino), depth + 1)
                }
                Ok(_) => {}
                Err(e) => self.out.problems.push(e),
            }
        }
        self.ancestors.pop();
    }
}

fn read_error(path: &Path, e: &std::io::Error) -> WalkError {
    WalkError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::time::{Duration, Instant};

    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let dir =
                std::env::temp_dir().join(format!("parity-walk-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("area/snapshots")).unwrap();
            std::fs::write(dir.join("area/a.yaml"), "x").unwrap();
            std::fs::write(dir.join("area/snapshots/a@runc.snap"), "x").unwrap();
            Tree(dir)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn timed(root: &Path) -> Walk {
        let start = Instant::now();
        let w = walk(root, |n| n == "snapshots");
        assert!(start.elapsed() < Duration::from_secs(5), "the walk hung");
        w
    }

    #[test]
    fn files_come_sorted_without_hidden_or_pruned_entries() {
        let t = Tree::new("plain");
        std::fs::write(t.0.join("area/.hidden.yaml"), "x").unwrap();
        std::fs::write(t.0.join("0.yaml"), "x").unwrap();
        let w = timed(&t.0);
        assert_eq!(w.files, vec![t.0.join("0.yaml"), t.0.join("area/a.yaml")]);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        let all = walk(&t.0, |_| false);
        assert_eq!(all.files.len(), 3);
    }

    #[test]
    fn loop_links_end_with_a_located_error() {
        let t = Tree::new("loops");
        symlink("..", t.0.join("area/up")).unwrap();
        symlink(".", t.0.join("area/here")).unwrap();
        std::fs::create_dir_all(t.0.join("b")).unwrap();
        symlink("../area", t.0.join("b/to-area")).unwrap();
        symlink("../b", t.0.join("area/to-b")).unwrap();
        let w = timed(&t.0);
        let loops: Vec<&Path> = w
            .problems
            .iter()
            .filter(|p| matches!(p, WalkError::FolderLoop { .. }))
            .map(WalkError::path)
            .collect();
        assert!(loops.contains(&t.0.join("area/up").as_path()), "{loops:?}");
        assert!(
            loops.contains(&t.0.join("area/here").as_path()),
            "{loops:?}"
        );
        assert!(
            loops.contains(&t.0.join("area/to-b/to-area").as_path()),
            "{loops:?}"
        );
        assert_eq!(w.files, vec![t.0.join("area/a.yaml")], "each file once");
        assert!(w.problems[0].to_string().contains("links back to"));
    }

    #[test]
    fn dangling_and_self_links_are_errors() {
        let t = Tree::new("dangling");
        symlink("gone.yaml", t.0.join("area/dangling.yaml")).unwrap();
        symlink("self.yaml", t.0.join("area/self.yaml")).unwrap();
        symlink("ping", t.0.join("area/pong")).unwrap();
        symlink("pong", t.0.join("area/ping")).unwrap();
        let w = timed(&t.0);
        let text: Vec<String> = w.problems.iter().map(ToString::to_string).collect();
        assert_eq!(w.problems.len(), 4, "{text:?}");
        assert!(
            matches!(&w.problems[0], WalkError::Dangling { path, .. } if path.ends_with("area/dangling.yaml")),
            "{text:?}"
        );
        assert!(text[0].contains("gone.yaml does not exist"), "{text:?}");
        let loops = w
            .problems
            .iter()
            .filter(|p| matches!(p, WalkError::LinkLoop { .. }))
            .count();
        assert_eq!(loops, 3, "{text:?}");
        // The same rules for a root given directly.
        assert!(matches!(
            timed(&t.0.join("area/self.yaml")).problems[..],
            [WalkError::LinkLoop { .. }]
        ));
        assert!(matches!(
            timed(&t.0.join("area/dangling.yaml")).problems[..],
            [WalkError::Dangling { .. }]
        ));
    }

    #[test]
    fn links_to_files_and_folders_are_followed() {
        let t = Tree::new("links");
        std::fs::create_dir_all(t.0.join("shared")).unwrap();
        std::fs::write(t.0.join("shared/s.yaml"), "x").unwrap();
        symlink("../shared", t.0.join("area/linked")).unwrap();
        symlink("a.yaml", t.0.join("area/alias.yaml")).unwrap();
        let w = timed(&t.0.join("area"));
        assert_eq!(
            w.files,
            vec![
                t.0.join("area/a.yaml"),
                t.0.join("area/alias.yaml"),
                t.0.join("area/linked/s.yaml")
            ]
        );
        assert!(w.problems.is_empty(), "{:?}", w.problems);
    }
}
