//! The `/dev` listing fact: every node under a directory, recursively,
//! symlinks described but not followed, sorted by path. Reads the real
//! filesystem (tested on a scratch directory); device numbers decoded the
//! way glibc's `major()`/`minor()` do.

use parity_wire::DeviceEntry;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// A runaway /dev (or a loop) must not stall the workload's start.
const MAX_ENTRIES: usize = 10_000;

pub fn major(dev: u64) -> u32 {
    (((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)) as u32
}

pub fn minor(dev: u64) -> u32 {
    ((dev & 0xff) | ((dev >> 12) & !0xff)) as u32
}

fn describe(path: &Path, meta: &fs::Metadata) -> DeviceEntry {
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_fifo() {
        "fifo"
    } else {
        "file"
    };
    let is_dev = ft.is_char_device() || ft.is_block_device();
    DeviceEntry {
        path: path.to_string_lossy().into_owned(),
        kind: kind.to_owned(),
        major: is_dev.then(|| major(meta.rdev())),
        minor: is_dev.then(|| minor(meta.rdev())),
        uid: meta.uid(),
        gid: meta.gid(),
        mode: format!("{:04o}", meta.mode() & 0o7777),
        target: ft
            .is_symlink()
            .then(|| fs::read_link(path).ok())
            .flatten()
            .map(|t| t.to_string_lossy().into_owned()),
    }
}

fn walk(dir: &Path, out: &mut Vec<DeviceEntry>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if out.len() >= MAX_ENTRIES {
            return;
        }
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        out.push(describe(&path, &meta));
        if meta.is_dir() {
            walk(&path, out);
        }
    }
}

/// Everything under `root` (not `root` itself), sorted by path.
pub fn list(root: &str) -> Vec<DeviceEntry> {
    let mut out = Vec::new();
    walk(Path::new(root), &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::os::unix::fs::PermissionsExt;

    #[rstest]
    #[case(0x103, 1, 3)]
    #[case(0x8_8801, 0x888, 1)]
    #[case(makedev(0x12345, 0x6789a), 0x12345, 0x6789a)]
    #[case(makedev(259, 1), 259, 1)]
    fn decodes_device_numbers(#[case] dev: u64, #[case] maj: u32, #[case] min: u32) {
        assert_eq!((major(dev), minor(dev)), (maj, min));
    }

    /// glibc's `makedev`.
    fn makedev(maj: u64, min: u64) -> u64 {
        (min & 0xff) | ((maj & 0xfff) << 8) | ((min & !0xff) << 12) | ((maj & !0xfff) << 32)
    }

    #[test]
    fn lists_a_tree_without_following_symlinks() {
        let root = std::env::temp_dir().join(format!("parity-devices-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("pts")).unwrap();
        fs::write(root.join("pts/file"), b"x").unwrap();
        fs::set_permissions(root.join("pts/file"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("/proc/self/fd", root.join("fd")).unwrap();
        let c = std::ffi::CString::new(root.join("fifo").to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);

        let listed = list(root.to_str().unwrap());
        fs::remove_dir_all(&root).unwrap();
        let rel: Vec<(String, &str, &str, Option<&str>)> = listed
            .iter()
            .map(|e| {
                let p = e
                    .path
                    .strip_prefix(root.to_str().unwrap())
                    .unwrap()
                    .to_owned();
                (p, e.kind.as_str(), e.mode.as_str(), e.target.as_deref())
            })
            .collect();
        assert_eq!(
            rel,
            [
                ("/fd".to_owned(), "symlink", "0777", Some("/proc/self/fd")),
                ("/fifo".to_owned(), "fifo", "0600", None),
                ("/pts".to_owned(), "dir", rel[2].2, None),
                ("/pts/file".to_owned(), "file", "0640", None),
            ]
        );
        assert!(listed.iter().all(|e| e.major.is_none()));
    }

    #[test]
    fn describes_real_character_devices() {
        let null = list("/dev")
            .into_iter()
            .find(|e| e.path == "/dev/null")
            .unwrap();
        assert_eq!(
            (null.kind.as_str(), null.major, null.minor),
            ("char", Some(1), Some(3))
        );
        assert_eq!(null.mode, "0666");
    }
}
