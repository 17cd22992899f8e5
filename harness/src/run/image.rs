//! The default image, `parity-probe:<version>`, built without a registry.
//!
//! Owns the root filesystem of that image: the host's static busybox with a
//! link for every applet, a minimal /etc, and the probe, packed as the tar
//! that `docker import` takes. It builds bytes; `engine` imports them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the probe lives inside every probed container.
pub const PROBE_DIR: &str = "/.parity";
/// The probe binary inside the container.
pub const PROBE_PATH: &str = "/.parity/probe";
/// Where the probe writes its results inside the container.
pub const PROBE_OUT: &str = "/.parity/out";

/// Image repository of the default image.
pub const REPOSITORY: &str = "parity-probe";

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "no static busybox found (looked at {looked}); install Debian's busybox-static or set PARITY_BUSYBOX"
    )]
    NoBusybox { looked: String },
    #[error("{}: {message}", path.display())]
    Busybox { path: PathBuf, message: String },
    #[error("building the image tar: {0}")]
    Tar(#[from] std::io::Error),
}

/// The inputs of the default image.
#[derive(Debug, Clone)]
pub struct ImageSource {
    pub busybox: Vec<u8>,
    pub applets: Vec<String>,
    pub probe: Vec<u8>,
}

impl ImageSource {
    /// Finds the host's static busybox and lists its applets.
    pub fn from_host(probe: &[u8]) -> Result<ImageSource, ImageError> {
        let candidates: Vec<PathBuf> = std::env::var_os("PARITY_BUSYBOX")
            .map(|p| vec![PathBuf::from(p)])
            .unwrap_or_else(|| vec!["/bin/busybox".into(), "/usr/bin/busybox".into()]);
        let path =
            candidates
                .iter()
                .find(|p| p.is_file())
                .ok_or_else(|| ImageError::NoBusybox {
                    looked: candidates
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
        let busybox = std::fs::read(path)?;
        if is_dynamic_elf(&busybox) {
            return Err(ImageError::Busybox {
                path: path.clone(),
                message: "busybox is dynamically linked; install busybox-static".into(),
            });
        }
        let out = Command::new(path)
            .arg("--list")
            .output()
            .map_err(|e| ImageError::Busybox {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let applets = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|a| !a.is_empty() && !a.contains('/'))
            .map(str::to_string)
            .collect();
        Ok(ImageSource {
            busybox,
            applets,
            probe: probe.to_vec(),
        })
    }

    /// `parity-probe:<crate version>-<digest of the contents>`, so a new
    /// probe or busybox gives a new image and an old one is reused.
    pub fn tag(&self) -> String {
        let mut h = Fnv::default();
        h.write(&self.busybox);
        h.write(&self.probe);
        for a in &self.applets {
            h.write(a.as_bytes());
        }
        format!(
            "{}-{:012x}",
            env!("CARGO_PKG_VERSION"),
            h.0 & 0xffff_ffff_ffff
        )
    }

    pub fn reference(&self) -> String {
        format!("{REPOSITORY}:{}", self.tag())
    }

    /// The root filesystem as an uncompressed tar.
    pub fn rootfs_tar(&self) -> Result<Vec<u8>, ImageError> {
        let mut b = tar::Builder::new(Vec::new());
        for (dir, mode) in [
            ("bin", 0o755),
            ("sbin", 0o755),
            ("usr", 0o755),
            ("usr/bin", 0o755),
            ("usr/sbin", 0o755),
            ("etc", 0o755),
            ("root", 0o700),
            ("home", 0o755),
            ("tmp", 0o1777),
            ("var", 0o755),
            ("var/tmp", 0o1777),
            ("run", 0o755),
            ("mnt", 0o755),
            ("proc", 0o555),
            ("sys", 0o555),
            ("dev", 0o755),
            (".parity", 0o755),
            (".parity/out", 0o1777),
        ] {
            append_dir(&mut b, dir, mode)?;
        }
        append_file(&mut b, "bin/busybox", &self.busybox, 0o755)?;
        for applet in self.applets.iter().filter(|a| a.as_str() != "busybox") {
            append_link(&mut b, &format!("bin/{applet}"), "busybox")?;
        }
        append_file(&mut b, "etc/passwd", PASSWD.as_bytes(), 0o644)?;
        append_file(&mut b, "etc/group", GROUP.as_bytes(), 0o644)?;
        if !self.probe.is_empty() {
            append_file(&mut b, ".parity/probe", &self.probe, 0o755)?;
        }
        Ok(b.into_inner()?)
    }
}

/// Image config for `docker import`: PATH and a default command.
pub const IMPORT_CHANGES: [&str; 2] = ["ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", "CMD [\"sh\"]"];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n";

/// The probe and its output folder, as the tar uploaded into `/.parity` of
/// a created container.
pub fn probe_upload_tar(probe: &[u8]) -> Result<Vec<u8>, ImageError> {
    let mut b = tar::Builder::new(Vec::new());
    append_file(&mut b, "probe", probe, 0o755)?;
    append_dir(&mut b, "out", 0o1777)?;
    Ok(b.into_inner()?)
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn append_dir(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) -> std::io::Result<()> {
    let mut h = header(tar::EntryType::Directory, mode, 0);
    b.append_data(&mut h, format!("{path}/"), std::io::empty())
}

fn append_file(
    b: &mut tar::Builder<Vec<u8>>,
    path: &str,
    data: &[u8],
    mode: u32,
) -> std::io::Result<()> {
    let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
    b.append_data(&mut h, path, data)
}

fn append_link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) -> std::io::Result<()> {
    let mut h = header(tar::EntryType::Symlink, 0o777, 0);
    b.append_link(&mut h, path, target)
}

/// Whether an ELF image asks for an interpreter (is dynamically linked).
pub fn is_dynamic_elf(bytes: &[u8]) -> bool {
    // ELF64 little-endian: e_phoff at 0x20, e_phentsize at 0x36, e_phnum at 0x38.
    if bytes.len() < 0x40 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap_or_default()) as usize;
    let (size, num) = (u16_at(0x36), u16_at(0x38));
    (0..num).any(|i| {
        let o = phoff + i * size;
        o + 4 <= bytes.len()
            && u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap_or_default()) == 3
    })
}

/// FNV-1a, 64 bit: a stable content digest without a crypto dependency.
#[derive(Debug)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// Where a relative bind source in a scenario resolves: next to the file.
pub fn resolve_bind_source(scenario_path: &Path, source: &str) -> String {
    if source.starts_with('/') {
        return source.to_string();
    }
    let base = scenario_path.parent().unwrap_or(Path::new("."));
    let joined = base.join(source);
    joined
        .canonicalize()
        .unwrap_or(joined)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> ImageSource {
        ImageSource {
            busybox: b"bb".to_vec(),
            applets: vec!["sh".into(), "busybox".into(), "ls".into()],
            probe: b"probe".to_vec(),
        }
    }

    #[test]
    fn applets_link_to_busybox_but_busybox_stays_a_file() {
        let tar = source().rootfs_tar().unwrap();
        let mut ar = tar::Archive::new(&tar[..]);
        let mut seen = std::collections::BTreeMap::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            seen.insert(path, (e.header().entry_type(), e.header().mode().unwrap()));
        }
        assert_eq!(seen["bin/busybox"].0, tar::EntryType::Regular);
        assert_eq!(seen["bin/sh"].0, tar::EntryType::Symlink);
        assert_eq!(seen["tmp/"].1, 0o1777);
        assert_eq!(seen[".parity/probe"].1, 0o755);
    }

    #[test]
    fn the_tag_follows_the_contents() {
        let a = source();
        let mut b = source();
        b.probe.push(0);
        assert_ne!(a.tag(), b.tag());
        assert_eq!(a.tag(), source().tag());
        assert!(a.reference().starts_with("parity-probe:"));
    }

    #[test]
    fn the_host_busybox_is_static() {
        assert!(is_dynamic_elf(&std::fs::read("/bin/ls").unwrap()));
        assert!(!is_dynamic_elf(b"#!/bin/sh\n"));
        if let Ok(bytes) = std::fs::read("/bin/busybox") {
            assert!(!is_dynamic_elf(&bytes));
        }
    }
}
