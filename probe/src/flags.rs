//! Flag words of the calls whose outcome depends on them, spelled as the
//! kernel headers spell them: mount(2) `MS_*`, umount2(2) `MNT_*`,
//! unshare/setns `CLONE_NEW*`, and mknod's file type and device number.

const MS_MGC_MSK: u64 = 0xffff_0000;
const MS_MGC_VAL: u64 = 0xC0ED_0000;

const MOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "MS_RDONLY"),
    (1 << 1, "MS_NOSUID"),
    (1 << 2, "MS_NODEV"),
    (1 << 3, "MS_NOEXEC"),
    (1 << 4, "MS_SYNCHRONOUS"),
    (1 << 5, "MS_REMOUNT"),
    (1 << 6, "MS_MANDLOCK"),
    (1 << 7, "MS_DIRSYNC"),
    (1 << 8, "MS_NOSYMFOLLOW"),
    (1 << 10, "MS_NOATIME"),
    (1 << 11, "MS_NODIRATIME"),
    (1 << 12, "MS_BIND"),
    (1 << 13, "MS_MOVE"),
    (1 << 14, "MS_REC"),
    (1 << 15, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
];

const UMOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "MNT_FORCE"),
    (2, "MNT_DETACH"),
    (4, "MNT_EXPIRE"),
    (8, "UMOUNT_NOFOLLOW"),
];

const NAMESPACE_FLAGS: &[(u64, &str)] = &[
    (0x0000_0080, "CLONE_NEWTIME"),
    (0x0000_0100, "CLONE_VM"),
    (0x0000_0200, "CLONE_FS"),
    (0x0000_0400, "CLONE_FILES"),
    (0x0000_0800, "CLONE_SIGHAND"),
    (0x0001_0000, "CLONE_THREAD"),
    (0x0002_0000, "CLONE_NEWNS"),
    (0x0004_0000, "CLONE_SYSVSEM"),
    (0x0200_0000, "CLONE_NEWCGROUP"),
    (0x0400_0000, "CLONE_NEWUTS"),
    (0x0800_0000, "CLONE_NEWIPC"),
    (0x1000_0000, "CLONE_NEWUSER"),
    (0x2000_0000, "CLONE_NEWPID"),
    (0x4000_0000, "CLONE_NEWNET"),
];

/// `A|B|0x...` in table order; `0` for no bits.
fn decode(bits: u64, table: &[(u64, &str)]) -> String {
    let mut names = Vec::new();
    let mut rest = bits;
    for &(bit, name) in table {
        if rest & bit != 0 {
            names.push(name.to_owned());
            rest &= !bit;
        }
    }
    if rest != 0 {
        names.push(format!("{rest:#x}"));
    }
    if names.is_empty() {
        "0".to_owned()
    } else {
        names.join("|")
    }
}

/// mount(2) flags, without the historic `MS_MGC_VAL` magic.
pub fn mount_flags(flags: u64) -> String {
    let flags = if flags & MS_MGC_MSK == MS_MGC_VAL {
        flags & !MS_MGC_MSK
    } else {
        flags
    };
    decode(flags, MOUNT_FLAGS)
}

pub fn umount_flags(flags: u64) -> String {
    decode(flags & 0xffff_ffff, UMOUNT_FLAGS)
}

pub fn namespace_flags(flags: u64) -> String {
    decode(flags & 0xffff_ffff, NAMESPACE_FLAGS)
}

/// mknod's mode and dev as `c 1:3`, `b 8:0`, `p`, `s` or `f` (regular).
/// The syscall takes the kernel's 32-bit "new" device encoding.
pub fn mknod_node(mode: u64, dev: u64) -> String {
    let dev = dev & 0xffff_ffff;
    let major = (dev & 0xfff00) >> 8;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    match mode & 0o170_000 {
        0o020_000 => format!("c {major}:{minor}"),
        0o060_000 => format!("b {major}:{minor}"),
        0o010_000 => "p".to_owned(),
        0o140_000 => "s".to_owned(),
        0 | 0o100_000 => "f".to_owned(),
        other => format!("{other:#o}"),
    }
}

/// `uid:gid` for chown-family calls; `-1` (leave unchanged) stays `-1`.
pub fn owner(uid: u64, gid: u64) -> String {
    let id = |v: u64| {
        let v = v & 0xffff_ffff;
        if v == 0xffff_ffff {
            "-1".to_owned()
        } else {
            v.to_string()
        }
    };
    format!("{}:{}", id(uid), id(gid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0, "0")]
    #[case(0x1000, "MS_BIND")]
    #[case(0x1000 | 0x4000, "MS_BIND|MS_REC")]
    #[case(0x21 | 0x1000, "MS_RDONLY|MS_REMOUNT|MS_BIND")]
    #[case(0xC0ED_0000 | 1, "MS_RDONLY")]
    #[case(1 << 40, "0x10000000000")]
    #[case(1 << 18 | 1 << 14, "MS_REC|MS_PRIVATE")]
    fn decodes_mount_flags(#[case] flags: u64, #[case] want: &str) {
        assert_eq!(mount_flags(flags), want);
    }

    #[rstest]
    #[case(0, "0")]
    #[case(2, "MNT_DETACH")]
    #[case(3, "MNT_FORCE|MNT_DETACH")]
    fn decodes_umount_flags(#[case] flags: u64, #[case] want: &str) {
        assert_eq!(umount_flags(flags), want);
    }

    #[rstest]
    #[case(0x1000_0000, "CLONE_NEWUSER")]
    #[case(0x2002_0000, "CLONE_NEWNS|CLONE_NEWPID")]
    #[case(0xffff_ffff_1000_0000, "CLONE_NEWUSER")]
    #[case(0, "0")]
    fn decodes_namespace_flags(#[case] flags: u64, #[case] want: &str) {
        assert_eq!(namespace_flags(flags), want);
    }

    #[rstest]
    #[case(0o020_644, 0x103, "c 1:3")]
    #[case(0o060_600, 0x800, "b 8:0")]
    #[case(0o020_600, (4 << 8) | 0x12 | (0x3 << 20), "c 4:786")]
    #[case(0o010_644, 0, "p")]
    #[case(0o140_755, 0, "s")]
    #[case(0o644, 0, "f")]
    fn decodes_mknod(#[case] mode: u64, #[case] dev: u64, #[case] want: &str) {
        assert_eq!(mknod_node(mode, dev), want);
    }

    #[rstest]
    #[case(70000, 70000, "70000:70000")]
    #[case(0xffff_ffff, 0, "-1:0")]
    #[case(u64::MAX, 5, "-1:5")]
    fn formats_owner(#[case] uid: u64, #[case] gid: u64, #[case] want: &str) {
        assert_eq!(owner(uid, gid), want);
    }
}
