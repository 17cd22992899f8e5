//! A build scenario's `docker build` on one engine, observed rather than
//! provisioned, and everything it made removed afterwards.
//!
//! Owns the Engine API side of build scenarios: BuildKit (`version=2`
//! with a session bollard opens over `/session`) or the classic builder
//! (`BuilderV1`, with `rm`/`forcerm` so no intermediate container stays),
//! without cache, the build's stream kept (lines, and BuildKit's vertices)
//! with its error (an observation, not an `Err`), the built image's config
//! and the files its own layers hold (from `docker save`, read by
//! `saved`), and the removal
//! of the tagged image and of every image a step committed (a failed or
//! multi-stage build leaves untagged ones). It does not parse steps or
//! judge: `run::build` does.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::query_parameters::{
    BuildImageOptions, BuilderVersion, ListContainersOptions, ListImagesOptions,
    RemoveContainerOptions, RemoveImageOptions,
};
use futures_util::StreamExt;

use super::buildkit::Trace;
use super::client::Engine;
use super::images::{BuildContext, ImageError};
use super::transfer::{Moved, TRANSFER_STALL, long_client, watch};

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
    /// After a time-out: what the builder said in the few seconds it was
    /// still heard ([`LATE_GRACE`]), for the images it committed then; not
    /// part of the observation.
    pub late_lines: Vec<String>,
}

/// How long a timed-out build is still heard before it is dropped, so the
/// step it was in reports the image it commits (the classic builder
/// commits a step it has begun even when its client goes away).
pub const LATE_GRACE: Duration = Duration::from_secs(10);

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
        self.stream_build(options, context, limit, &mut out).await;
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
    /// intermediate image stays. Images made on top of those (a step the
    /// builder committed after the build was cut short: nobody else can
    /// build on the build's untagged images) are the build's too; after a
    /// timed-out build (`settle`) they are awaited until none has come for
    /// a few seconds, so the builder cannot commit onto a parent already
    /// gone. Images go children first (a child holds its parent); one the
    /// engine still calls in use is tried again while the builder lets go
    /// of it, and a stopped or running container made from one of these
    /// images (the build's own) is removed with it. A container of anyone
    /// else's image is never touched: the image stays and the error names
    /// what holds it. An image already gone is fine.
    pub async fn remove_build(
        &self,
        tag: &str,
        step_images: &[String],
        settle: bool,
    ) -> Result<(), ImageError> {
        let mut trouble = Vec::new();
        let mut owned: Vec<(String, String)> = Vec::new();
        let mut names = vec![tag.to_string()];
        // Newest first: the order that holds where the engine records no
        // parents (the containerd image store).
        names.extend(step_images.iter().rev().cloned());
        for name in &names {
            // The history's first entry is the image, its second the
            // parent (`<missing>` where the engine keeps no parent image).
            match self.docker.image_history(name).await {
                Ok(history) => {
                    let id = history
                        .first()
                        .map_or_else(|| name.clone(), |h| h.id.clone());
                    let parent = history.get(1).map(|h| h.id.clone()).unwrap_or_default();
                    if !owned.iter().any(|(o, _)| *o == id) {
                        owned.push((id, parent));
                    }
                }
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => trouble.push(format!("{name}: {e}")),
            }
        }
        let until = tokio::time::Instant::now() + super::REMOVE_TIMEOUT;
        if settle && !owned.is_empty() {
            let mut quiet_since = tokio::time::Instant::now();
            while tokio::time::Instant::now() < until
                && quiet_since.elapsed() < std::time::Duration::from_secs(3)
            {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if self.add_descendants(&mut owned).await {
                    quiet_since = tokio::time::Instant::now();
                }
            }
        }
        let mut gone: Vec<String> = Vec::new();
        loop {
            self.add_descendants(&mut owned).await;
            let pending: Vec<String> = children_first(&owned)
                .into_iter()
                .filter(|id| !gone.contains(id))
                .collect();
            if pending.is_empty() {
                break;
            }
            let mut held = Vec::new();
            for id in pending {
                let options = RemoveImageOptions {
                    force: false,
                    noprune: false,
                    ..Default::default()
                };
                match self.docker.remove_image(&id, Some(options), None).await {
                    Ok(_)
                    | Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => gone.push(id),
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 409,
                        message,
                    }) => held.push((id, message)),
                    Err(e) => {
                        trouble.push(format!("{id}: {e}"));
                        gone.push(id);
                    }
                }
            }
            if held.is_empty() {
                continue;
            }
            let ids: Vec<String> = owned.iter().map(|(id, _)| id.clone()).collect();
            let late = tokio::time::Instant::now() >= until;
            for (id, message) in held {
                match self.own_containers_of(&id, &ids).await {
                    Ok(foreign) if foreign.is_empty() && !late => {}
                    Ok(foreign) if foreign.is_empty() => {
                        trouble.push(format!("{id}: {message}"));
                        gone.push(id);
                    }
                    Ok(foreign) => {
                        trouble.push(format!(
                            "{id}: in use by a container this build did not make ({}): {message}",
                            foreign.join(", ")
                        ));
                        gone.push(id);
                    }
                    Err(e) => {
                        trouble.push(format!("{id}: {e}"));
                        gone.push(id);
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        match trouble.is_empty() {
            true => Ok(()),
            false => Err(ImageError::Engine {
                endpoint: self.endpoint.clone(),
                message: format!("removing the build's images: {}", trouble.join("; ")),
            }),
        }
    }

    /// Adds to `owned` (id, parent) every image of the engine whose parent
    /// is in it, to any depth; whether it found any.
    async fn add_descendants(&self, owned: &mut Vec<(String, String)>) -> bool {
        let options = ListImagesOptions {
            all: true,
            ..Default::default()
        };
        let Ok(all) = self.docker.list_images(Some(options)).await else {
            return false;
        };
        let found = descendants(
            owned,
            &all.into_iter()
                .map(|i| (i.id, i.parent_id))
                .collect::<Vec<_>>(),
        );
        let any = !found.is_empty();
        owned.extend(found);
        any
    }

    /// Removes the containers made from the image `id` (or its children)
    /// whose own image is one of `owned`; returns the others' names, which
    /// it leaves alone.
    async fn own_containers_of(&self, id: &str, owned: &[String]) -> Result<Vec<String>, String> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(HashMap::from([(
                "ancestor".to_string(),
                vec![id.to_string()],
            )])),
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| e.to_string())?;
        let mut foreign = Vec::new();
        for c in list {
            let name = c
                .names
                .and_then(|n| n.into_iter().next())
                .unwrap_or_default();
            let cid = c.id.unwrap_or_default();
            if c.image_id.as_ref().is_some_and(|i| owned.contains(i)) {
                let options = RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                };
                match self.docker.remove_container(&cid, Some(options)).await {
                    Ok(())
                    | Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404 | 409,
                        ..
                    }) => {}
                    Err(e) => return Err(format!("removing its container {cid}: {e}")),
                }
            } else {
                foreign.push(format!("{} {name}", &cid[..cid.len().min(12)]));
            }
        }
        Ok(foreign)
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
    /// or link target, path. Read from `docker save` (as long as its bytes
    /// keep coming), so owners are the image's, not the host's (a remapped
    /// engine maps them back).
    pub async fn image_files_text(
        &self,
        reference: &str,
        skip: usize,
    ) -> Result<String, ImageError> {
        let moved = Moved::default();
        let docker = long_client(&self.docker);
        let read = async {
            let mut saved = Vec::new();
            let mut stream = docker.export_image(reference);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.build_error(e))?;
                moved.bytes(chunk.len());
                saved.extend_from_slice(&chunk);
            }
            Ok::<_, ImageError>(saved)
        };
        let saved = watch(read, &moved, TRANSFER_STALL, &|_| {})
            .await
            .map_err(|e| self.build_error(format!("saving {reference}: {e}")))??;
        super::saved::saved_files_text(&saved, skip).map_err(|m| self.build_error(m))
    }

    fn build_error(&self, e: impl std::fmt::Display) -> ImageError {
        ImageError::Engine {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        }
    }
}

/// The images `owned` (id, parent id) in an order that removes every
/// image before its parent: a child holds its parent, so the parent could
/// not go first. Images whose parents are outside `owned` keep their
/// given order among themselves.
fn children_first(owned: &[(String, String)]) -> Vec<String> {
    let mut left: Vec<&(String, String)> = owned.iter().collect();
    let mut out = Vec::new();
    while !left.is_empty() {
        // Leaves: images no remaining image names as its parent.
        let (leaves, rest): (Vec<_>, Vec<_>) = left
            .iter()
            .copied()
            .partition(|(id, _)| !left.iter().any(|(_, parent)| parent == id));
        if leaves.is_empty() {
            // A cycle cannot happen in an engine; keep the rest as given.
            out.extend(rest.iter().map(|(id, _)| id.clone()));
            break;
        }
        out.extend(leaves.iter().map(|(id, _)| id.clone()));
        left = rest;
    }
    out
}

/// The images of `all` (id, parent) not in `owned` whose parent is in
/// `owned` or among those found, to any depth.
fn descendants(owned: &[(String, String)], all: &[(String, String)]) -> Vec<(String, String)> {
    let mut known: Vec<&str> = owned.iter().map(|(id, _)| id.as_str()).collect();
    let mut found = Vec::new();
    loop {
        let more: Vec<&(String, String)> = all
            .iter()
            .filter(|(id, parent)| {
                !parent.is_empty()
                    && known.contains(&parent.as_str())
                    && !known.contains(&id.as_str())
            })
            .collect();
        if more.is_empty() {
            return found;
        }
        for m in more {
            known.push(&m.0);
            found.push(m.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(id: &str, parent: &str) -> (String, String) {
        (id.to_string(), parent.to_string())
    }

    #[test]
    fn children_go_before_their_parents() {
        // Two stages: a <- b <- c, and x <- y; the tag (c) listed first.
        let owned = [
            pair("c", "b"),
            pair("a", "base"),
            pair("b", "a"),
            pair("x", "base"),
            pair("y", "x"),
        ];
        let order = children_first(&owned);
        let at = |id: &str| order.iter().position(|o| o == id).unwrap();
        assert_eq!(order.len(), 5);
        assert!(at("c") < at("b") && at("b") < at("a"), "{order:?}");
        assert!(at("y") < at("x"), "{order:?}");
        assert_eq!(children_first(&[pair("a", "")]), ["a"]);
        assert!(children_first(&[]).is_empty());
    }

    #[test]
    fn images_made_on_the_builds_own_are_its_too() {
        let owned = [pair("b", "a"), pair("a", "base")];
        let all = [
            pair("base", ""),
            pair("a", "base"),
            pair("b", "a"),
            pair("late", "b"),
            pair("later", "late"),
            pair("other", "base"),
        ];
        let found = descendants(&owned, &all);
        assert_eq!(found, [pair("late", "b"), pair("later", "late")]);
        assert!(descendants(&all, &all).is_empty());
    }
}
