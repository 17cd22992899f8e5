//! A build scenario's `docker build` on one engine, observed rather than
//! provisioned, and everything it made removed afterwards.
//!
//! Owns the Engine API side of build scenarios: BuildKit (`version=2`
//! with a session bollard opens over `/session`) or the classic builder
//! (`BuilderV1`, with `rm`/`forcerm` so no intermediate container stays),
//! without cache, the build's stream kept (lines, and BuildKit's vertices)
//! with its error (an observation, not an `Err`), the built image's config
//! and the files its own layers hold (from `docker save`), and the removal
//! of the tagged image and of every image a step committed (a failed or
//! multi-stage build leaves untagged ones). It does not parse steps or
//! judge: `run::build` does.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::time::Duration;

use bollard::query_parameters::{BuildImageOptions, BuilderVersion, RemoveImageOptions};
use futures_util::StreamExt;

use super::buildkit::Trace;
use super::client::Engine;
use super::images::{BuildContext, ImageError};

/// What the engine is asked to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// A tag unique to this build (the run id and a sequence number).
    pub tag: String,
    /// The Dockerfile's path in the context.
    pub dockerfile: String,
    /// `host`, `none`, or `None` for the engine's default.
    pub network: Option<String>,
    pub args: HashMap<String, String>,
    /// Labels of the built image (the run's label, so it can be found).
    pub labels: HashMap<String, String>,
    /// Use the build cache (parity's provisioning does; build scenarios do
    /// not, so both sides print the same steps).
    pub cache: bool,
    /// BuildKit (`version=2`, with this session id) rather than the
    /// classic builder (`None`).
    pub buildkit_session: Option<String>,
}

/// What a build printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOutput {
    /// The stream's `stream` texts, in order, as sent.
    pub lines: Vec<String>,
    /// The engine's error, when the build did not end with an image.
    pub error: Option<String>,
    /// The build did not end within its time limit (then it was dropped).
    pub timed_out: bool,
    /// BuildKit's vertices (empty for the classic builder).
    pub trace: Trace,
}

impl Engine {
    /// Runs `request` over `context` with its builder and keeps what it
    /// said, its error included: a failed or refused build is an
    /// observation. A BuildKit build's cache records are pruned after it.
    pub async fn build_observed(
        &self,
        context: &BuildContext,
        request: &BuildRequest,
        limit: Duration,
    ) -> BuildOutput {
        let options = BuildImageOptions {
            t: Some(request.tag.clone()),
            dockerfile: request.dockerfile.clone(),
            version: match request.buildkit_session {
                Some(_) => BuilderVersion::BuilderBuildKit,
                None => BuilderVersion::BuilderV1,
            },
            session: request.buildkit_session.clone(),
            nocache: !request.cache,
            // Intermediate containers go on every path, failures included.
            rm: true,
            forcerm: true,
            networkmode: request.network.clone(),
            buildargs: (!request.args.is_empty()).then(|| request.args.clone()),
            labels: (!request.labels.is_empty()).then(|| request.labels.clone()),
            ..Default::default()
        };
        let mut out = BuildOutput::default();
        let build = self.stream_build(options, context, &mut out.lines, &mut out.trace);
        match tokio::time::timeout(limit, build).await {
            Ok(error) => out.error = error,
            Err(_) => out.timed_out = true,
        }
        out
    }

    /// Holds this engine's BuildKit builds one at a time within the
    /// process, from the cache listing before a build to the pruning of
    /// its records after it.
    pub async fn build_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.builds.lock().await
    }

    /// Removes the built `tag` and the images the build's steps committed
    /// (`step_images`, newest last), so neither a tag nor an untagged
    /// intermediate image stays. An image already gone is fine; one still
    /// in use by another tag or container is left and reported.
    pub async fn remove_build(&self, tag: &str, step_images: &[String]) -> Result<(), ImageError> {
        let mut trouble = Vec::new();
        let mut names = vec![tag.to_string()];
        names.extend(step_images.iter().rev().cloned());
        for name in names {
            let options = RemoveImageOptions {
                force: false,
                noprune: false,
                ..Default::default()
            };
            match self.docker.remove_image(&name, Some(options), None).await {
                Ok(_) => {}
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => trouble.push(format!("{name}: {e}")),
            }
        }
        match trouble.is_empty() {
            true => Ok(()),
            false => Err(ImageError::Engine {
                endpoint: self.endpoint.clone(),
                message: format!("removing the build's images: {}", trouble.join("; ")),
            }),
        }
    }

    /// The layers (diff ids) of `reference`, oldest first.
    pub async fn image_layers(&self, reference: &str) -> Result<Vec<String>, ImageError> {
        let image = self
            .docker
            .inspect_image(reference)
            .await
            .map_err(|e| self.build_error(e))?;
        Ok(image.root_fs.and_then(|r| r.layers).unwrap_or_default())
    }

    /// The built image's config as `key: value` lines (user, env, cmd,
    /// entrypoint, working dir, ports, volumes, labels but parity's own),
    /// sorted, for comparing.
    pub async fn image_config_text(&self, reference: &str) -> Result<String, ImageError> {
        let image = self
            .docker
            .inspect_image(reference)
            .await
            .map_err(|e| self.build_error(e))?;
        let c = image.config.unwrap_or_default();
        let mut lines = Vec::new();
        let mut push = |k: &str, v: String| lines.push(format!("{k}: {v}"));
        push("user", c.user.unwrap_or_default());
        push("working_dir", c.working_dir.unwrap_or_default());
        push(
            "entrypoint",
            format!("{:?}", c.entrypoint.unwrap_or_default()),
        );
        push("cmd", format!("{:?}", c.cmd.unwrap_or_default()));
        for e in c.env.unwrap_or_default() {
            push("env", e);
        }
        for p in c.exposed_ports.unwrap_or_default() {
            push("expose", p);
        }
        for v in c.volumes.unwrap_or_default() {
            push("volume", v);
        }
        let labels: BTreeMap<String, String> = c
            .labels
            .unwrap_or_default()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("io.parity."))
            .collect();
        for (k, v) in labels {
            push("label", format!("{k}={v}"));
        }
        Ok(lines.join("\n"))
    }

    /// The files of `reference`'s layers after the first `skip` (the base
    /// image's), one line each: layer number, type and mode, owner, size
    /// or link target, path. Read from `docker save`, so owners are the
    /// image's, not the host's (a remapped engine maps them back).
    pub async fn image_files_text(
        &self,
        reference: &str,
        skip: usize,
        limit: Duration,
    ) -> Result<String, ImageError> {
        let read = async {
            let mut saved = Vec::new();
            let mut stream = self.docker.export_image(reference);
            while let Some(chunk) = stream.next().await {
                saved.extend_from_slice(&chunk.map_err(|e| self.build_error(e))?);
            }
            Ok::<_, ImageError>(saved)
        };
        let saved =
            tokio::time::timeout(limit, read)
                .await
                .map_err(|_| ImageError::Stalled {
                    endpoint: self.endpoint.clone(),
                    what: format!("saving {reference}"),
                    secs: limit.as_secs(),
                })??;
        saved_files_text(&saved, skip).map_err(|m| self.build_error(m))
    }

    fn build_error(&self, e: impl std::fmt::Display) -> ImageError {
        ImageError::Engine {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        }
    }
}

/// The listing of a `docker save` archive's layers after the first `skip`.
pub fn saved_files_text(saved: &[u8], skip: usize) -> Result<String, String> {
    let mut layers: HashMap<String, Vec<u8>> = HashMap::new();
    let mut manifest: Option<serde_json::Value> = None;
    let mut archive = tar::Archive::new(saved);
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let name = entry
            .path()
            .map_err(|e| e.to_string())?
            .display()
            .to_string();
        if name == "manifest.json" {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| e.to_string())?;
            manifest = Some(serde_json::from_str(&text).map_err(|e| e.to_string())?);
        } else if name.ends_with(".tar") {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
            layers.insert(name, data);
        }
    }
    let manifest = manifest.ok_or("the saved image has no manifest.json")?;
    let order: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .ok_or("the saved image's manifest lists no layers")?
        .iter()
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect();
    let mut out = Vec::new();
    for (n, name) in order.iter().enumerate().skip(skip) {
        let data = layers
            .get(name)
            .ok_or_else(|| format!("the saved image lacks its layer {name}"))?;
        let mut lines = Vec::new();
        let mut layer = tar::Archive::new(&data[..]);
        for entry in layer.entries().map_err(|e| e.to_string())? {
            let entry = entry.map_err(|e| e.to_string())?;
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
            lines.push(format!(
                "layer {n}: {kind}{mode:04o} {owner} {what} /{}",
                path.trim_start_matches("./").trim_end_matches('/')
            ));
        }
        lines.sort();
        out.extend(lines);
    }
    Ok(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_listing_skips_base_layers_and_names_owners() {
        let base = tar_of(&[("bin/sh", b"x")]);
        let mine = tar_of(&[("tmp/b", b"yy"), ("tmp/a", b"z")]);
        let manifest = br#"[{"Layers":["l0/layer.tar","l1/layer.tar"]}]"#;
        let saved = tar_of(&[
            ("l0/layer.tar", &base),
            ("l1/layer.tar", &mine),
            ("manifest.json", manifest),
        ]);
        assert_eq!(
            saved_files_text(&saved, 1).unwrap(),
            "layer 1: -0644 100:7 1 /tmp/a\nlayer 1: -0644 100:7 2 /tmp/b"
        );
        assert!(saved_files_text(&saved, 0).unwrap().contains("/bin/sh"));
    }
}
