//! Reading a `docker save` archive: which layers an image has, in order,
//! and the files each one holds.
//!
//! Owns both layouts engines write: the legacy one (Docker before 25:
//! `manifest.json` naming `<id>/layer.tar`, a repeated layer as a symlink
//! to the first) and the OCI image layout (Docker 25 and later, and the
//! containerd image store: `index.json`, `oci-layout`, every layer a blob
//! under `blobs/sha256/`, with a `manifest.json` beside them whose
//! `Layers` name those blobs; without one, the layers are found from
//! `index.json` through the image manifest). A layer may be a plain tar or
//! gzip-compressed (the containerd store keeps pulled layers compressed).
//! It reads bytes only: saving the image is `build`'s.

use std::collections::HashMap;
use std::io::Read;

/// An archive's files by path (`./` stripped), symlinks kept as links.
enum Member {
    Data(Vec<u8>),
    Link(String),
}

/// The files of a `docker save` archive, to look layers up in.
pub struct SavedImage {
    members: HashMap<String, Member>,
}

impl SavedImage {
    /// Reads the archive `saved` (either layout).
    pub fn read(saved: &[u8]) -> Result<SavedImage, String> {
        let mut members = HashMap::new();
        let mut archive = tar::Archive::new(saved);
        for entry in archive.entries().map_err(|e| e.to_string())? {
            let mut entry = entry.map_err(|e| e.to_string())?;
            let name = clean(&entry.path().map_err(|e| e.to_string())?.to_string_lossy());
            match entry.header().entry_type() {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry
                        .link_name()
                        .map_err(|e| e.to_string())?
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let target = if entry.header().entry_type() == tar::EntryType::Link {
                        // A hard link names its target from the archive's root.
                        clean(&target)
                    } else {
                        resolve(&name, &target)
                    };
                    members.insert(name, Member::Link(target));
                }
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let mut data = Vec::new();
                    entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
                    members.insert(name, Member::Data(data));
                }
                _ => {}
            }
        }
        Ok(SavedImage { members })
    }

    /// The bytes of the archive's file `name`, following links.
    fn file(&self, name: &str) -> Option<&[u8]> {
        let mut name = clean(name);
        for _ in 0..16 {
            match self.members.get(&name)? {
                Member::Data(d) => return Some(d),
                Member::Link(t) => name = t.clone(),
            }
        }
        None
    }

    fn json(&self, name: &str) -> Result<Option<serde_json::Value>, String> {
        self.file(name)
            .map(|d| serde_json::from_slice(d).map_err(|e| format!("{name}: {e}")))
            .transpose()
    }

    /// The paths of the image's layers in the archive, oldest first: from
    /// `manifest.json` where there is one (both layouts write it), else
    /// from the OCI `index.json`.
    pub fn layer_paths(&self) -> Result<Vec<String>, String> {
        if let Some(manifest) = self.json("manifest.json")? {
            let layers = manifest[0]["Layers"]
                .as_array()
                .ok_or("the saved image's manifest.json lists no layers")?;
            return Ok(layers
                .iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect());
        }
        let index = self
            .json("index.json")?
            .ok_or("the saved image has neither manifest.json nor index.json")?;
        let manifest = self.image_manifest(&index, 0)?;
        manifest["layers"]
            .as_array()
            .ok_or("the saved image's manifest lists no layers")?
            .iter()
            .map(|l| blob_path(l["digest"].as_str().unwrap_or_default()))
            .collect()
    }

    /// The first image manifest an OCI index leads to (through nested
    /// indexes, skipping attestation manifests).
    fn image_manifest(
        &self,
        index: &serde_json::Value,
        depth: usize,
    ) -> Result<serde_json::Value, String> {
        if depth > 4 {
            return Err("the saved image's index nests too deep".into());
        }
        let entries = index["manifests"]
            .as_array()
            .ok_or("the saved image's index.json lists no manifests")?;
        let entry = entries
            .iter()
            .find(|m| {
                m["annotations"]["vnd.docker.reference.type"].as_str()
                    != Some("attestation-manifest")
            })
            .ok_or("the saved image's index.json lists no image manifest")?;
        let path = blob_path(entry["digest"].as_str().unwrap_or_default())?;
        let doc = self
            .json(&path)?
            .ok_or_else(|| format!("the saved image lacks its manifest {path}"))?;
        if doc.get("manifests").is_some() {
            self.image_manifest(&doc, depth + 1)
        } else {
            Ok(doc)
        }
    }

    /// The uncompressed tar of the layer at `path`.
    pub fn layer(&self, path: &str) -> Result<Vec<u8>, String> {
        let data = self
            .file(path)
            .ok_or_else(|| format!("the saved image lacks its layer {path}"))?;
        match data {
            [0x1f, 0x8b, ..] => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(data)
                    .read_to_end(&mut out)
                    .map_err(|e| format!("the layer {path} is not valid gzip: {e}"))?;
                Ok(out)
            }
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Err(format!(
                "the layer {path} is zstd-compressed, which parity does not read"
            )),
            _ => Ok(data.to_vec()),
        }
    }
}

/// `blobs/<algorithm>/<hex>` for a digest `algorithm:hex`.
fn blob_path(digest: &str) -> Result<String, String> {
    match digest.split_once(':') {
        Some((alg, hex))
            if !alg.is_empty() && !hex.is_empty() && !hex.contains('/') && !alg.contains('/') =>
        {
            Ok(format!("blobs/{alg}/{hex}"))
        }
        _ => Err(format!(
            "the saved image names a malformed digest {digest:?}"
        )),
    }
}

/// A path without `./`, empty or `.` components, or a trailing `/`.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The archive path a symlink at `name` pointing to `target` names.
fn resolve(name: &str, target: &str) -> String {
    if target.starts_with('/') {
        return clean(target);
    }
    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
    clean(&format!("{dir}/{target}"))
}

/// The listing of a `docker save` archive's layers after the first `skip`:
/// one line per file with the layer's number, type and mode, owner, size
/// or link target, and path, sorted within each layer.
pub fn saved_files_text(saved: &[u8], skip: usize) -> Result<String, String> {
    let image = SavedImage::read(saved)?;
    let mut out = Vec::new();
    for (n, path) in image.layer_paths()?.iter().enumerate().skip(skip) {
        let data = image.layer(path)?;
        let mut lines = Vec::new();
        let mut layer = tar::Archive::new(&data[..]);
        for entry in layer.entries().map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
            lines.push(file_line(n, &entry)?);
        }
        lines.sort();
        out.extend(lines);
    }
    Ok(out.join("\n"))
}

fn file_line<R: Read>(n: usize, entry: &tar::Entry<R>) -> Result<String, String> {
    let h = entry.header();
    let path = entry
        .path()
        .map_err(|e| e.to_string())?
        .display()
        .to_string();
    let kind = match h.entry_type() {
        tar::EntryType::Directory => 'd',
        tar::EntryType::Symlink => 'l',
        tar::EntryType::Link => 'h',
        tar::EntryType::Char => 'c',
        tar::EntryType::Block => 'b',
        tar::EntryType::Fifo => 'p',
        _ => '-',
    };
    let mode = h.mode().unwrap_or(0) & 0o7777;
    let owner = format!("{}:{}", h.uid().unwrap_or(0), h.gid().unwrap_or(0));
    let what = match kind {
        'l' | 'h' => format!(
            "-> {}",
            h.link_name()
                .ok()
                .flatten()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        'c' | 'b' => format!(
            "{},{}",
            h.device_major().ok().flatten().unwrap_or(0),
            h.device_minor().ok().flatten().unwrap_or(0)
        ),
        '-' => h.size().unwrap_or(0).to_string(),
        _ => String::new(),
    };
    Ok(format!(
        "layer {n}: {kind}{mode:04o} {owner} {what} /{}",
        path.trim_start_matches("./").trim_end_matches('/')
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_uid(100);
            h.set_gid(7);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn digest(data: &[u8]) -> String {
        crate::run::capture::hex(&Sha256::digest(data))
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn base() -> Vec<u8> {
        tar_of(&[("bin/sh", b"x")])
    }

    fn mine() -> Vec<u8> {
        tar_of(&[("tmp/b", b"yy"), ("./tmp/a", b"z")])
    }

    const WANT: &str = "layer 1: -0644 100:7 1 /tmp/a\nlayer 1: -0644 100:7 2 /tmp/b";

    /// Docker 25 and later: OCI layout with blobs, `index.json` and a
    /// `manifest.json` naming the blobs; `manifest` false leaves the
    /// latter out (an OCI archive of another tool).
    fn oci_archive(layers: &[Vec<u8>], with_manifest_json: bool, nested: bool) -> Vec<u8> {
        let mut blobs: Vec<(String, Vec<u8>)> = Vec::new();
        let config = br#"{"rootfs":{"type":"layers"}}"#.to_vec();
        let config_digest = digest(&config);
        blobs.push((format!("blobs/sha256/{config_digest}"), config));
        let mut descs = Vec::new();
        let mut paths = Vec::new();
        for l in layers {
            let d = digest(l);
            descs.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": format!("sha256:{d}"),
                "size": l.len(),
            }));
            paths.push(format!("blobs/sha256/{d}"));
            blobs.push((format!("blobs/sha256/{d}"), l.clone()));
        }
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"digest": format!("sha256:{config_digest}")},
            "layers": descs,
        }))
        .unwrap();
        let manifest_digest = digest(&manifest);
        blobs.push((format!("blobs/sha256/{manifest_digest}"), manifest));
        let mut top = format!("sha256:{manifest_digest}");
        if nested {
            let attestation = serde_json::json!({
                "digest": "sha256:0000",
                "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
            });
            let inner = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "manifests": [attestation, {"digest": top}],
            }))
            .unwrap();
            let d = digest(&inner);
            blobs.push((format!("blobs/sha256/{d}"), inner));
            top = format!("sha256:{d}");
        }
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"digest": top}],
        }))
        .unwrap();
        let legacy = serde_json::to_vec(&serde_json::json!([{
            "Config": format!("blobs/sha256/{config_digest}"),
            "RepoTags": ["x:latest"],
            "Layers": paths,
        }]))
        .unwrap();
        let mut entries: Vec<(&str, &[u8])> = blobs
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        entries.push(("index.json", &index));
        entries.push(("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#));
        if with_manifest_json {
            entries.push(("manifest.json", &legacy));
        }
        tar_of(&entries)
    }

    #[test]
    fn the_legacy_layout_lists_layer_tars() {
        let (base, mine) = (base(), mine());
        let manifest = br#"[{"Layers":["l0/layer.tar","l1/layer.tar"]}]"#;
        let saved = tar_of(&[
            ("l0/layer.tar", &base),
            ("l1/layer.tar", &mine),
            ("manifest.json", manifest),
        ]);
        assert_eq!(saved_files_text(&saved, 1).unwrap(), WANT);
        assert!(saved_files_text(&saved, 0).unwrap().contains("/bin/sh"));
    }

    #[test]
    fn a_repeated_legacy_layer_is_a_symlink_to_the_first() {
        let base = base();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(base.len() as u64);
        b.append_data(&mut h, "l0/layer.tar", &base[..]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "l1/layer.tar", "../l0/layer.tar")
            .unwrap();
        let manifest = br#"[{"Layers":["l0/layer.tar","l1/layer.tar"]}]"#;
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(manifest.len() as u64);
        b.append_data(&mut h, "manifest.json", &manifest[..])
            .unwrap();
        let saved = b.into_inner().unwrap();
        assert_eq!(
            saved_files_text(&saved, 1).unwrap(),
            "layer 1: -0644 100:7 1 /bin/sh"
        );
    }

    #[test]
    fn the_oci_layout_lists_layer_blobs() {
        let saved = oci_archive(&[base(), mine()], true, false);
        assert_eq!(saved_files_text(&saved, 1).unwrap(), WANT);
    }

    #[test]
    fn an_oci_archive_without_manifest_json_is_read_through_its_index() {
        for nested in [false, true] {
            let saved = oci_archive(&[base(), mine()], false, nested);
            assert_eq!(
                saved_files_text(&saved, 1).unwrap(),
                WANT,
                "nested {nested}"
            );
        }
    }

    #[test]
    fn gzip_layers_are_read_and_zstd_ones_named() {
        let saved = oci_archive(&[base(), gzip(&mine())], true, false);
        assert_eq!(saved_files_text(&saved, 1).unwrap(), WANT);
        let zstd = [0x28, 0xb5, 0x2f, 0xfd, 0, 0].to_vec();
        let saved = oci_archive(&[base(), zstd], true, false);
        let e = saved_files_text(&saved, 1).unwrap_err();
        assert!(e.contains("zstd"), "{e}");
    }

    #[test]
    fn a_missing_layer_is_named() {
        let manifest = br#"[{"Layers":["blobs/sha256/abc"]}]"#;
        let saved = tar_of(&[("manifest.json", manifest)]);
        assert_eq!(
            saved_files_text(&saved, 0).unwrap_err(),
            "the saved image lacks its layer blobs/sha256/abc"
        );
        let e = saved_files_text(&tar_of(&[("x", b"")]), 0).unwrap_err();
        assert!(e.contains("neither manifest.json nor index.json"), "{e}");
    }
}
