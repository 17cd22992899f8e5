//! The key argument of a syscall, decoded at syscall entry from the raw
//! argument words: the path for path-taking calls (joined onto the dirfd
//! for `*at` calls), both paths for rename/link, "SOURCE TARGET FSTYPE
//! FLAGS" for mount, the owner for chown, the node for mknod, namespace
//! flags for unshare/setns. It reads the tracee only through [`Memory`], so
//! it is tested with a fake. Calls without a key argument decode to `None`.

use crate::flags;
use crate::paths;

/// What decoding needs from a stopped tracee.
pub trait Memory {
    /// The NUL-terminated string at `addr`, at most `PATH_MAX` bytes;
    /// `None` when unreadable.
    fn read_cstr(&self, addr: u64) -> Option<Vec<u8>>;
    /// The target of `/proc/PID/fd/FD`.
    fn fd_path(&self, fd: i32) -> Option<String>;
}

/// Longest string read from a tracee (PATH_MAX, including the NUL).
pub const PATH_MAX: usize = 4096;

struct Args<'a, M: Memory> {
    a: &'a [u64; 6],
    mem: &'a M,
}

impl<M: Memory> Args<'_, M> {
    /// The string argument `i`, verbatim (lossy UTF-8).
    fn raw(&self, i: usize) -> String {
        match self.a[i] {
            0 => "(null)".to_owned(),
            addr => self.mem.read_cstr(addr).map_or_else(
                || "<unreadable>".to_owned(),
                |b| String::from_utf8_lossy(&b).into_owned(),
            ),
        }
    }

    /// The path argument `i`, normalized.
    fn path(&self, i: usize) -> String {
        paths::normalize(&self.raw(i))
    }

    fn dirfd(&self, d: usize) -> i32 {
        // The kernel reads dirfd as a C int: the low 32 bits.
        self.a[d] as u32 as i32
    }

    /// The path of `*at` argument pair (dirfd `d`, path `i`). A NULL path
    /// (utimensat) names the fd itself.
    fn at(&self, d: usize, i: usize) -> String {
        let dirfd = self.dirfd(d);
        if self.a[i] == 0 {
            return paths::fd_target(self.mem.fd_path(dirfd).as_deref());
        }
        let path = self.raw(i);
        if path.starts_with('/') || dirfd == paths::AT_FDCWD {
            return paths::normalize(&path);
        }
        paths::join_at(dirfd, self.mem.fd_path(dirfd).as_deref(), &path)
    }

    /// The file an fd argument refers to.
    fn fd(&self, i: usize) -> String {
        paths::fd_target(self.mem.fd_path(self.dirfd(i)).as_deref())
    }
}

/// The key argument of `name` called with `args`, or `None`.
pub fn key_arg<M: Memory>(name: &str, args: &[u64; 6], mem: &M) -> Option<String> {
    let x = Args { a: args, mem };
    let a = args;
    let s = match name {
        "open" | "creat" | "stat" | "lstat" | "stat64" | "lstat64" | "access" | "chdir"
        | "chroot" | "rmdir" | "unlink" | "mkdir" | "readlink" | "chmod" | "truncate"
        | "truncate64" | "statfs" | "statfs64" | "swapon" | "swapoff" | "acct" | "uselib"
        | "listxattr" | "llistxattr" | "execve" | "utime" | "utimes" | "umount" | "oldstat"
        | "oldlstat" => x.path(0),
        "openat" | "openat2" | "newfstatat" | "fstatat64" | "statx" | "faccessat"
        | "faccessat2" | "mkdirat" | "unlinkat" | "readlinkat" | "fchmodat" | "fchmodat2"
        | "utimensat" | "futimesat" | "name_to_handle_at" | "open_tree" | "mount_setattr"
        | "fspick" | "execveat" => x.at(0, 1),
        "setxattr" | "lsetxattr" | "getxattr" | "lgetxattr" | "removexattr" | "lremovexattr" => {
            format!("{} {}", x.path(0), x.raw(1))
        }
        "fsetxattr" | "fgetxattr" | "fremovexattr" => format!("{} {}", x.fd(0), x.raw(1)),
        "flistxattr" | "fchdir" | "fchmod" | "fstatfs" | "fstatfs64" | "ftruncate" => x.fd(0),
        "mknod" => format!("{} {}", x.path(0), flags::mknod_node(a[1], a[2])),
        "mknodat" => format!("{} {}", x.at(0, 1), flags::mknod_node(a[2], a[3])),
        "chown" | "lchown" | "chown32" | "lchown32" => {
            format!("{} {}", x.path(0), flags::owner(a[1], a[2]))
        }
        "fchown" | "fchown32" => format!("{} {}", x.fd(0), flags::owner(a[1], a[2])),
        "fchownat" => format!("{} {}", x.at(0, 1), flags::owner(a[2], a[3])),
        "rename" | "link" | "pivot_root" => format!("{} {}", x.path(0), x.path(1)),
        "symlink" => format!("{} {}", x.raw(0), x.path(1)),
        "renameat" | "renameat2" | "linkat" | "move_mount" => {
            format!("{} {}", x.at(0, 1), x.at(2, 3))
        }
        "symlinkat" => format!("{} {}", x.raw(0), x.at(1, 2)),
        "mount" => {
            let source = if a[0] == 0 {
                "none".to_owned()
            } else {
                x.path(0)
            };
            let fstype = if a[2] == 0 {
                "none".to_owned()
            } else {
                x.raw(2)
            };
            format!(
                "{source} {} {fstype} {}",
                x.path(1),
                flags::mount_flags(a[3])
            )
        }
        "umount2" => match a[1] & 0xffff_ffff {
            0 => x.path(0),
            f => format!("{} {}", x.path(0), flags::umount_flags(f)),
        },
        "inotify_add_watch" => x.path(1),
        "fsopen" => x.raw(0),
        "unshare" => flags::namespace_flags(a[0]),
        "setns" => flags::namespace_flags(a[1]),
        _ => return None,
    };
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::collections::HashMap;

    /// A tracee whose memory holds strings at fixed addresses.
    #[derive(Default)]
    struct FakeMem {
        strings: HashMap<u64, &'static str>,
        fds: HashMap<i32, &'static str>,
    }

    impl Memory for FakeMem {
        fn read_cstr(&self, addr: u64) -> Option<Vec<u8>> {
            self.strings.get(&addr).map(|s| s.as_bytes().to_vec())
        }
        fn fd_path(&self, fd: i32) -> Option<String> {
            self.fds.get(&fd).map(|s| (*s).to_owned())
        }
    }

    fn mem() -> FakeMem {
        let mut m = FakeMem::default();
        for (addr, s) in [
            (0x1000, "/tmp/n"),
            (0x2000, "none"),
            (0x3000, "/mnt/t"),
            (0x4000, "tmpfs"),
            (0x5000, "rel/file"),
            (0x6000, "/proc/4711/status"),
            (0x7000, "user.x"),
            (0x8000, ""),
        ] {
            m.strings.insert(addr, s);
        }
        m.fds.insert(3, "/etc");
        m.fds.insert(4, "pipe:[1234]");
        m.fds.insert(5, "/tmp/f");
        m
    }

    const CWD: u64 = (-100i64) as u64;

    #[rstest]
    #[case("openat", [CWD, 0x1000, 0, 0, 0, 0], Some("/tmp/n"))]
    #[case("openat", [CWD, 0x5000, 0, 0, 0, 0], Some("rel/file"))]
    #[case("openat", [3, 0x5000, 0, 0, 0, 0], Some("/etc/rel/file"))]
    #[case("openat", [0xffff_ffff_0000_0003, 0x5000, 0, 0, 0, 0], Some("/etc/rel/file"))]
    #[case("newfstatat", [5, 0x8000, 0, 0x1000, 0, 0], Some("/tmp/f"))]
    #[case("statx", [4, 0x5000, 0, 0, 0, 0], Some("<fd>/rel/file"))]
    #[case("open", [0x6000, 0, 0, 0, 0, 0], Some("/proc/<pid>/status"))]
    #[case("open", [0x9999, 0, 0, 0, 0, 0], Some("<unreadable>"))]
    #[case("stat", [0, 0, 0, 0, 0, 0], Some("(null)"))]
    #[case("utimensat", [5, 0, 0, 0, 0, 0], Some("/tmp/f"))]
    #[case("mknod", [0x1000, 0o020_644, 0x103, 0, 0, 0], Some("/tmp/n c 1:3"))]
    #[case("mknodat", [CWD, 0x1000, 0o020_644, 0x103, 0, 0], Some("/tmp/n c 1:3"))]
    #[case("chown", [0x1000, 70000, 70000, 0, 0, 0], Some("/tmp/n 70000:70000"))]
    #[case("fchownat", [CWD, 0x1000, 0, 0xffff_ffff, 0, 0], Some("/tmp/n 0:-1"))]
    #[case("fchown", [5, 1, 2, 0, 0, 0], Some("/tmp/f 1:2"))]
    #[case("mount", [0x2000, 0x3000, 0x4000, 0, 0, 0], Some("none /mnt/t tmpfs 0"))]
    #[case("mount", [0x1000, 0x3000, 0, 0x1000 | 0x4000, 0, 0], Some("/tmp/n /mnt/t none MS_BIND|MS_REC"))]
    #[case("mount", [0, 0x3000, 0, 0x20 | 1, 0, 0], Some("none /mnt/t none MS_RDONLY|MS_REMOUNT"))]
    #[case("umount2", [0x3000, 2, 0, 0, 0, 0], Some("/mnt/t MNT_DETACH"))]
    #[case("umount2", [0x3000, 0, 0, 0, 0, 0], Some("/mnt/t"))]
    #[case("renameat2", [CWD, 0x1000, 3, 0x5000, 0, 0], Some("/tmp/n /etc/rel/file"))]
    #[case("symlinkat", [0x5000, CWD, 0x1000, 0, 0, 0], Some("rel/file /tmp/n"))]
    #[case("symlink", [0x5000, 0x1000, 0, 0, 0, 0], Some("rel/file /tmp/n"))]
    #[case("pivot_root", [0x3000, 0x1000, 0, 0, 0, 0], Some("/mnt/t /tmp/n"))]
    #[case("setxattr", [0x1000, 0x7000, 0, 0, 0, 0], Some("/tmp/n user.x"))]
    #[case("fsetxattr", [5, 0x7000, 0, 0, 0, 0], Some("/tmp/f user.x"))]
    #[case("inotify_add_watch", [7, 0x1000, 0, 0, 0, 0], Some("/tmp/n"))]
    #[case("unshare", [0x1000_0000, 0, 0, 0, 0, 0], Some("CLONE_NEWUSER"))]
    #[case("setns", [3, 0x2_0000, 0, 0, 0, 0], Some("CLONE_NEWNS"))]
    #[case("execve", [0x1000, 0, 0, 0, 0, 0], Some("/tmp/n"))]
    #[case("read", [3, 0x1000, 10, 0, 0, 0], None)]
    #[case("clone", [0x1200011, 0, 0, 0, 0, 0], None)]
    fn decodes_key_argument(
        #[case] name: &str,
        #[case] args: [u64; 6],
        #[case] want: Option<&str>,
    ) {
        assert_eq!(key_arg(name, &args, &mem()).as_deref(), want);
    }
}
