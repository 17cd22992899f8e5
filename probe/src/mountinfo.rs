//! Parsing `/proc/PID/mountinfo` into [`MountEntry`]s (octal escapes such
//! as `\040` decoded) and leaving out the probe's own mounts at or under
//! `/.parity`. Comparing tables is the harness's job, not this module's.

use parity_wire::MountEntry;

/// Where the harness mounts the probe's anonymous volume.
pub const PROBE_ROOT: &str = "/.parity";

/// Decodes mountinfo's `\ooo` escapes (space, tab, newline, backslash).
pub fn unescape(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn list(field: &str) -> Vec<String> {
    if field.is_empty() {
        Vec::new()
    } else {
        field.split(',').map(unescape).collect()
    }
}

/// One line, or `None` when it is not a mountinfo line.
pub fn parse_line(line: &str) -> Option<MountEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    let sep = fields.iter().position(|f| *f == "-")?;
    if sep < 6 || fields.len() < sep + 3 {
        return None;
    }
    Some(MountEntry {
        mount_id: fields[0].parse().ok()?,
        parent_id: fields[1].parse().ok()?,
        major_minor: fields[2].to_owned(),
        root: unescape(fields[3]),
        mount_point: unescape(fields[4]),
        mount_options: list(fields[5]),
        optional: fields[6..sep].iter().map(|f| unescape(f)).collect(),
        fstype: unescape(fields[sep + 1]),
        source: unescape(fields[sep + 2]),
        super_options: fields.get(sep + 3).map(|f| list(f)).unwrap_or_default(),
    })
}

/// True for the probe's own mounts.
pub fn is_probe_mount(mount_point: &str) -> bool {
    mount_point == PROBE_ROOT
        || mount_point
            .strip_prefix(PROBE_ROOT)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The whole table in kernel order, minus the probe's own mounts.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(parse_line)
        .filter(|m| !is_probe_mount(&m.mount_point))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const TABLE: &str = "\
612 520 0:52 / / rw,relatime master:280 - overlay overlay rw,lowerdir=/var/lib/docker/l/A:/var/lib/docker/l/B,upperdir=/x/diff
613 612 0:55 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
620 612 8:1 /var/lib/docker/volumes/abc/_data /.parity rw,relatime - ext4 /dev/sda1 rw
621 620 0:60 / /.parity/out rw - tmpfs tmpfs rw
622 612 0:61 / /.parityx rw - tmpfs tmpfs rw
623 612 0:62 / /mnt/with\\040space ro shared:1 master:2 - tmpfs my\\134src rw,size=1024k
";

    #[test]
    fn parses_a_table_and_drops_the_probe_volume() {
        let t = parse(TABLE);
        let points: Vec<&str> = t.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, ["/", "/proc", "/.parityx", "/mnt/with space"]);
        let last = &t[3];
        assert_eq!(last.mount_id, 623);
        assert_eq!(last.parent_id, 612);
        assert_eq!(last.major_minor, "0:62");
        assert_eq!(last.mount_options, ["ro"]);
        assert_eq!(last.optional, ["shared:1", "master:2"]);
        assert_eq!(last.fstype, "tmpfs");
        assert_eq!(last.source, "my\\src");
        assert_eq!(last.super_options, ["rw", "size=1024k"]);
        assert!(t[0].optional == ["master:280"]);
        assert!(t[1].optional.is_empty());
    }

    #[rstest]
    #[case("plain", "plain")]
    #[case("a\\040b", "a b")]
    #[case("tab\\011", "tab\t")]
    #[case("nl\\012x", "nl\nx")]
    #[case("back\\134slash", "back\\slash")]
    #[case("short\\04", "short\\04")]
    #[case("not\\999", "not\\999")]
    fn unescapes_octal(#[case] field: &str, #[case] want: &str) {
        assert_eq!(unescape(field), want);
    }

    #[rstest]
    #[case("/.parity", true)]
    #[case("/.parity/out", true)]
    #[case("/.parityx", false)]
    #[case("/", false)]
    fn recognizes_probe_mounts(#[case] point: &str, #[case] want: bool) {
        assert_eq!(is_probe_mount(point), want);
    }

    #[rstest]
    #[case("")]
    #[case("garbage")]
    #[case("1 2 3 4 5 6 - x")]
    #[case("x 2 0:1 / / rw - tmpfs t rw")]
    fn rejects_malformed_lines(#[case] line: &str) {
        assert_eq!(parse_line(line), None);
    }
}
