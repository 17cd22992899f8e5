//! Path text as it goes into a syscall record: run-to-run noise replaced
//! by placeholders (`/proc/<pid>/`, `/proc/self/fd/<fd>`, anonymous fds as
//! `<fd>`) and `*at` paths joined onto their directory fd. Pure string work;
//! reading the tracee is the caller's business.

/// `AT_FDCWD` as the kernel sees it in a 32-bit int argument.
pub const AT_FDCWD: i32 = -100;

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Replaces pids, tids and fd numbers in `/proc` and `/dev/fd` paths.
pub fn normalize(path: &str) -> String {
    let mut segs: Vec<&str> = path.split('/').collect();
    // Absolute paths only: segs[0] is the empty string before the first '/'.
    if segs.len() >= 3 && segs[0].is_empty() {
        if segs[1] == "proc" {
            let mut i = 2;
            if is_number(segs[i]) {
                segs[i] = "<pid>";
            }
            if matches!(segs[i], "<pid>" | "self" | "thread-self") {
                i += 1;
                if segs.get(i) == Some(&"task") && segs.get(i + 1).is_some_and(|s| is_number(s)) {
                    segs[i + 1] = "<tid>";
                    i += 2;
                }
                if matches!(segs.get(i), Some(&"fd") | Some(&"fdinfo"))
                    && segs.get(i + 1).is_some_and(|s| is_number(s))
                {
                    segs[i + 1] = "<fd>";
                }
            }
        } else if segs[1] == "dev" && segs[2] == "fd" && segs.get(3).is_some_and(|s| is_number(s)) {
            segs[3] = "<fd>";
        }
    }
    segs.join("/")
}

/// What `/proc/PID/fd/N` said, as a record shows it: a real path
/// normalized, anything anonymous (`pipe:[123]`, `anon_inode:...`) `<fd>`.
pub fn fd_target(link: Option<&str>) -> String {
    match link {
        Some(p) if p.starts_with('/') => normalize(p),
        _ => "<fd>".to_owned(),
    }
}

/// The path an `*at` call names: `path` itself when absolute or relative to
/// `AT_FDCWD`, the directory fd's target joined with `path` otherwise, the
/// fd's own target for an empty path (`AT_EMPTY_PATH`).
pub fn join_at(dirfd: i32, dir_link: Option<&str>, path: &str) -> String {
    if path.starts_with('/') || dirfd == AT_FDCWD {
        return normalize(path);
    }
    let base = fd_target(dir_link);
    if path.is_empty() {
        return base;
    }
    if base == "/" {
        return normalize(&format!("/{path}"));
    }
    normalize(&format!("{}/{path}", base.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/etc/passwd", "/etc/passwd")]
    #[case("relative/1234", "relative/1234")]
    #[case("/proc/1234/status", "/proc/<pid>/status")]
    #[case("/proc/1", "/proc/<pid>")]
    #[case("/proc/self/fd/7", "/proc/self/fd/<fd>")]
    #[case("/proc/thread-self/fdinfo/3", "/proc/thread-self/fdinfo/<fd>")]
    #[case("/proc/42/task/43/fd/9", "/proc/<pid>/task/<tid>/fd/<fd>")]
    #[case("/proc/self/task/43/status", "/proc/self/task/<tid>/status")]
    #[case("/proc/sys/kernel/pid_max", "/proc/sys/kernel/pid_max")]
    #[case("/proc/self/mountinfo", "/proc/self/mountinfo")]
    #[case("/dev/fd/3", "/dev/fd/<fd>")]
    #[case("/dev/fd", "/dev/fd")]
    #[case("/tmp/1234", "/tmp/1234")]
    #[case("", "")]
    fn normalizes_noise(#[case] path: &str, #[case] want: &str) {
        assert_eq!(normalize(path), want);
    }

    #[rstest]
    #[case(AT_FDCWD, None, "etc/x", "etc/x")]
    #[case(5, Some("/etc"), "/abs", "/abs")]
    #[case(5, Some("/etc"), "passwd", "/etc/passwd")]
    #[case(5, Some("/"), "etc", "/etc")]
    #[case(5, Some("/proc/77"), "fd/3", "/proc/<pid>/fd/<fd>")]
    #[case(5, Some("/tmp/f"), "", "/tmp/f")]
    #[case(5, Some("pipe:[8812]"), "", "<fd>")]
    #[case(5, Some("anon_inode:[eventfd]"), "x", "<fd>/x")]
    #[case(5, None, "x", "<fd>/x")]
    fn joins_dirfd(
        #[case] dirfd: i32,
        #[case] link: Option<&str>,
        #[case] path: &str,
        #[case] want: &str,
    ) {
        assert_eq!(join_at(dirfd, link, path), want);
    }
}
