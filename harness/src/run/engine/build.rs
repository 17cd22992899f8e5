//! A build scenario's `docker build` on one engine, observed rather than
//! provisioned, and everything it made removed afterwards.
//!
//! Owns the Engine API side of build scenarios: the classic builder
//! (`BuilderV1`: Docker 20.10's API offers BuildKit only with a session,
//! which the 20.10 engines and this host's CLI do not give, see
//! docs/design.md "Builds") without cache, with `rm`/`forcerm` so no
//! intermediate container stays, the build's stream kept line by line
//! with its error (an observation, not an `Err`), the built image's config
//! and the files its own layers hold (from `docker save`, read by
//! `saved`), and the removal
//! of the tagged image and of every image a step committed (a failed or
//! multi-stage build leaves untagged ones). It does not parse steps or
//! judge: `run::build` does.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::query_parameters::{BuildImageOptions, BuilderVersion, RemoveImageOptions};
use futures_util::StreamExt;

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
}

impl Engine {
    /// Runs `request` over `context` with the classic builder and keeps
    /// what it said, its error included: a failed or refused build is an
    /// observation.
    pub async fn build_observed(
        &self,
        context: &BuildContext,
        request: &BuildRequest,
        limit: Duration,
    ) -> BuildOutput {
        let options = BuildImageOptions {
            t: Some(request.tag.clone()),
            dockerfile: request.dockerfile.clone(),
            version: BuilderVersion::BuilderV1,
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
        let build = self.stream_build(options, context, &mut out.lines);
        match tokio::time::timeout(limit, build).await {
            Ok(error) => out.error = error,
            Err(_) => out.timed_out = true,
        }
        out
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
        super::saved::saved_files_text(&saved, skip).map_err(|m| self.build_error(m))
    }

    fn build_error(&self, e: impl std::fmt::Display) -> ImageError {
        ImageError::Engine {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        }
    }
}
