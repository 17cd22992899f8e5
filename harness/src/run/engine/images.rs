//! Images a scenario names or builds, provided in each engine before it
//! runs.
//!
//! Owns `image: NAME` (used when the engine has it, else copied from
//! another engine of the run that has it, else pulled with a progress line
//! where a registry answers, else an error that names the image) and
//! `image: { build: DIR }`: DIR's Dockerfile and files are packed into a
//! deterministic build context whose digest, with the ids of its `FROM`
//! images, names the image `parity-build/<hash>`. It is built once per
//! content with BuildKit (`version=2`, a session over `/session`; the
//! build cache records it adds are pruned after it) on a builder engine
//! that can reach the network (one without user namespaces, with the
//! host's network, so `RUN apt-get` works), and copied
//! into every other engine with `docker save | docker load`, so both sides
//! of a comparison run the very same image id; a copy takes as long as its
//! bytes keep moving (`transfer`) and reports them as it goes. A failed build is the
//! scenario's error with the build's last lines. [`BuildContext`] also packs
//! build scenarios' contexts; their observed builds are `build`'s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::query_parameters::{
    BuildImageOptions, BuilderVersion, CreateImageOptions, ImportImageOptions,
};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::build::{BuildOutput, LATE_GRACE};
use super::client::Engine;
use super::transfer::{Moved, TRANSFER_STALL, long_client, size_text, watch};
use crate::run::capture::hex;
use bollard::models::BuildInfoAux;

/// Repository of images built from scenario folders.
pub const BUILD_REPOSITORY: &str = "parity-build";
/// Label of every built image, with its folder as value (`docker images
/// --filter label=io.parity.build` lists them).
pub const BUILD_LABEL: &str = "io.parity.build";
/// How parity builds (options, labels); part of every tag, so a change
/// here builds anew instead of reusing an image built the old way.
pub const BUILD_FORMAT: &str = "parity-build v2: buildkit, label";
/// How long one image build may take.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Lines of a failed build's output kept in its error.
const TAIL_LINES: usize = 15;

/// An image that could not be provided: the scenario's `error`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ImageError {
    #[error(
        "image {image} is not in the engine at {endpoint} and could not be pulled ({why}); provide it first (runtimes/setup-host.sh provides busybox:latest and debian:bookworm; or docker load)"
    )]
    Missing {
        image: String,
        endpoint: String,
        why: String,
    },
    #[error("image build of {} failed on the engine at {endpoint}: {message}{}", dir.display(), tail_text(tail))]
    Build {
        dir: PathBuf,
        endpoint: String,
        message: String,
        tail: Vec<String>,
    },
    #[error("reading the build folder {}: {message}", dir.display())]
    Context { dir: PathBuf, message: String },
    #[error("copying image {image} from the engine at {from} to the engine at {to}: {message}")]
    Copy {
        image: String,
        from: String,
        to: String,
        message: String,
    },
    #[error("engine at {endpoint}: {message}")]
    Engine { endpoint: String, message: String },
    #[error("engine at {endpoint} did not finish {what} within {secs}s")]
    Stalled {
        endpoint: String,
        what: String,
        secs: u64,
    },
}

fn tail_text(tail: &[String]) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; last lines of the build:\n{}", tail.join("\n"))
    }
}

/// A build folder as the engine receives it.
#[derive(Debug, Clone)]
pub struct BuildContext {
    pub dir: PathBuf,
    /// The folder's files as an uncompressed tar: sorted, with zero times
    /// and owners, so equal contents give equal bytes.
    pub tar: Vec<u8>,
    /// SHA-256 of `tar` (hex).
    pub digest: String,
    /// The images the Dockerfile's `FROM` lines name (not its own stages).
    pub bases: Vec<String>,
}

impl BuildContext {
    /// Packs `dir`, which must hold a `Dockerfile`.
    pub fn read(dir: &Path) -> Result<BuildContext, ImageError> {
        let dockerfile =
            std::fs::read_to_string(dir.join("Dockerfile")).map_err(|e| ImageError::Context {
                dir: dir.to_path_buf(),
                message: format!("Dockerfile: {e}"),
            })?;
        BuildContext::pack(Some(dir), None, &dockerfile)
    }

    /// The context of a build scenario: the folder `dir` (none: an empty
    /// context) plus, for an inline Dockerfile, the Dockerfile itself as
    /// `extra` (its name in the context, its text). `dockerfile` is the
    /// Dockerfile's text, for its `FROM` images.
    pub fn pack(
        dir: Option<&Path>,
        extra: Option<(&str, &str)>,
        dockerfile: &str,
    ) -> Result<BuildContext, ImageError> {
        let shown = dir.map_or_else(|| PathBuf::from("(inline)"), Path::to_path_buf);
        let err = |m: String| ImageError::Context {
            dir: shown.clone(),
            message: m,
        };
        let mut files = Vec::new();
        if let Some(dir) = dir {
            walk(dir, dir, &mut files).map_err(|e| err(e.to_string()))?;
        }
        files.sort();
        let mut b = tar::Builder::new(Vec::new());
        for rel in &files {
            let dir = dir.expect("files come from a folder");
            let full = dir.join(rel);
            let meta = std::fs::symlink_metadata(&full).map_err(|e| err(e.to_string()))?;
            let mut h = tar::Header::new_gnu();
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            let name = rel.to_string_lossy().into_owned();
            if meta.is_dir() {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, format!("{name}/"), std::io::empty())
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&full).map_err(|e| err(e.to_string()))?;
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, &name, target)
            } else {
                use std::os::unix::fs::PermissionsExt;
                let data = std::fs::read(&full).map_err(|e| err(format!("{name}: {e}")))?;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(if meta.permissions().mode() & 0o111 != 0 {
                    0o755
                } else {
                    0o644
                });
                h.set_size(data.len() as u64);
                b.append_data(&mut h, &name, &data[..])
            }
            .map_err(|e| err(e.to_string()))?;
        }
        if let Some((name, text)) = extra {
            let mut h = tar::Header::new_gnu();
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(text.len() as u64);
            b.append_data(&mut h, name, text.as_bytes())
                .map_err(|e| err(e.to_string()))?;
        }
        let tar = b.into_inner().map_err(|e| err(e.to_string()))?;
        Ok(BuildContext {
            dir: shown.clone(),
            digest: hex(&Sha256::digest(&tar)),
            tar,
            bases: from_images(dockerfile),
        })
    }

    /// `parity-build/<hash>`: the digest of the context and of the ids the
    /// base images have on the builder (a new base gives a new image), and
    /// of how parity builds ([`BUILD_FORMAT`]).
    pub fn tag(&self, base_ids: &[String]) -> String {
        let mut h = Sha256::new();
        h.update(BUILD_FORMAT.as_bytes());
        h.update(self.digest.as_bytes());
        for id in base_ids {
            h.update(b"\n");
            h.update(id.as_bytes());
        }
        format!("{BUILD_REPOSITORY}/{}", &hex(&h.finalize())[..16])
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        let rel = p.strip_prefix(base).unwrap_or(&p).to_path_buf();
        let is_dir = std::fs::symlink_metadata(&p)?.is_dir();
        out.push(rel);
        if is_dir {
            walk(base, &p, out)?;
        }
    }
    Ok(())
}

/// The images `FROM` lines name, leaving out `scratch` and earlier stages.
pub fn from_images(dockerfile: &str) -> Vec<String> {
    let mut stages = Vec::new();
    let mut out = Vec::new();
    for line in dockerfile.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("from"))
        {
            continue;
        }
        let rest: Vec<&str> = words[1..]
            .iter()
            .copied()
            .filter(|w| !w.starts_with("--"))
            .collect();
        let Some(image) = rest.first() else { continue };
        let lower = image.to_lowercase();
        if lower != "scratch" && !stages.contains(&lower) && !out.contains(&image.to_string()) {
            out.push(image.to_string());
        }
        if let [_, as_kw, name, ..] = rest.as_slice() {
            if as_kw.eq_ignore_ascii_case("as") {
                stages.push(name.to_lowercase());
            }
        }
    }
    out
}

/// The last `n` non-empty lines of build output.
fn tail(lines: &[String], n: usize) -> Vec<String> {
    let kept: Vec<String> = lines
        .iter()
        .flat_map(|l| l.lines())
        .map(|l| l.trim_end().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    kept[kept.len().saturating_sub(n)..].to_vec()
}

impl Engine {
    fn image_error(&self, e: impl std::fmt::Display) -> ImageError {
        ImageError::Engine {
            endpoint: self.endpoint.clone(),
            message: e.to_string(),
        }
    }

    /// The id of `reference` in this engine, or `None` when it has none.
    pub async fn image_id(&self, reference: &str) -> Result<Option<String>, ImageError> {
        match self.docker.inspect_image(reference).await {
            Ok(i) => Ok(i.id),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(self.image_error(e)),
        }
    }

    /// Pulls `reference`; `Missing` (with the registry's answer) when it
    /// cannot be pulled.
    pub async fn pull(&self, reference: &str) -> Result<(), ImageError> {
        let missing = |why: String| ImageError::Missing {
            image: reference.to_string(),
            endpoint: self.endpoint.clone(),
            why,
        };
        let options = CreateImageOptions {
            from_image: Some(reference.to_string()),
            ..Default::default()
        };
        let moved = Moved::default();
        let docker = long_client(&self.docker);
        let pull = async {
            let mut stream = docker.create_image(Some(options), None, None);
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| missing(e.to_string()))?;
                moved.touch();
                if let Some(e) = info.error_detail.and_then(|d| d.message) {
                    return Err(missing(e));
                }
            }
            Ok(())
        };
        watch(pull, &moved, TRANSFER_STALL, &|_| {})
            .await
            .map_err(|e| missing(e.to_string()))??;
        match self.image_id(reference).await? {
            Some(_) => Ok(()),
            None => Err(missing("the pull ended without the image".into())),
        }
    }

    /// Sends `context` to the engine's builder with `options`, keeping the
    /// stream's `stream` texts in `out.lines` and BuildKit's status
    /// messages in `out.trace` as they come, and the error the build ended
    /// with (the engine's or the stream's), if any. A build not done within
    /// `limit` is `timed_out`; it is still heard for [`LATE_GRACE`] (its
    /// texts in `out.late_lines`), then dropped. A BuildKit build
    /// (`version=2` with a session id) gets its session over `/session`
    /// from bollard.
    pub(super) async fn stream_build(
        &self,
        options: BuildImageOptions,
        context: &BuildContext,
        limit: Duration,
        out: &mut BuildOutput,
    ) {
        let mut stream = self.docker.build_image(
            options,
            None,
            Some(bollard::body_full(context.tar.clone().into())),
        );
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(Ok(info))) => {
                    if let Some(s) = info.stream {
                        out.lines.push(s);
                    }
                    if let Some(BuildInfoAux::BuildKit(status)) = &info.aux {
                        out.trace.absorb(status);
                    }
                    if let Some(m) = info.error_detail.and_then(|d| d.message) {
                        out.error = Some(m);
                        return;
                    }
                }
                Ok(Some(Err(bollard::errors::Error::DockerStreamError { error }))) => {
                    out.error = Some(error);
                    return;
                }
                Ok(Some(Err(e))) => {
                    out.error = Some(e.to_string());
                    return;
                }
                Ok(None) => return,
                Err(_) => break,
            }
        }
        out.timed_out = true;
        let grace = tokio::time::Instant::now() + LATE_GRACE;
        while let Ok(Some(Ok(info))) = tokio::time::timeout_at(grace, stream.next()).await {
            if let Some(s) = info.stream {
                out.late_lines.push(s);
            }
        }
    }

    /// Builds `context` as `tag` with BuildKit; `network_host` gives `RUN`
    /// steps the host's network, else they have none. The build cache
    /// records it made are pruned (the image stays). Returns the image id.
    pub async fn build(
        &self,
        context: &BuildContext,
        tag: &str,
        network_host: bool,
    ) -> Result<String, ImageError> {
        let failed = |message: String, tail: Vec<String>| ImageError::Build {
            dir: context.dir.clone(),
            endpoint: self.endpoint.clone(),
            message,
            tail,
        };
        let _one_at_a_time = self.build_lock().await;
        let before = self.build_cache_records().await?;
        let options = BuildImageOptions {
            t: Some(tag.to_string()),
            version: BuilderVersion::BuilderBuildKit,
            session: Some(format!(
                "parity-build-{}-{}",
                &context.digest[..16],
                std::process::id()
            )),
            networkmode: Some(if network_host { "host" } else { "none" }.to_string()),
            labels: Some(HashMap::from([(
                BUILD_LABEL.to_string(),
                context.dir.display().to_string(),
            )])),
            ..Default::default()
        };
        let mut out = BuildOutput::default();
        self.stream_build(options, context, BUILD_TIMEOUT, &mut out)
            .await;
        let pruned = self.prune_build_cache_since(&before).await;
        let tail = match out.trace.vertices.is_empty() {
            true => tail(&out.lines, TAIL_LINES),
            false => out.trace.tail(TAIL_LINES),
        };
        if let Some(error) = out.error {
            return Err(failed(error, tail));
        }
        if out.timed_out {
            return Err(ImageError::Stalled {
                endpoint: self.endpoint.clone(),
                what: format!("the build of {}", context.dir.display()),
                secs: BUILD_TIMEOUT.as_secs(),
            });
        }
        pruned?;
        self.image_id(tag)
            .await?
            .ok_or_else(|| failed("the build ended without the image".into(), tail))
    }

    /// Copies `reference` from this engine into `to` (`docker save |
    /// docker load`, streamed, over whatever transports reach the two
    /// engines); returns its id in `to`. It takes as long as bytes keep
    /// moving (or the loading engine keeps reporting), and fails once
    /// nothing has moved for [`TRANSFER_STALL`]; `on_bytes` hears the
    /// bytes copied so far every second.
    pub async fn copy_image_to(
        &self,
        to: &Engine,
        reference: &str,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<String, ImageError> {
        let err = |m: String| ImageError::Copy {
            image: reference.to_string(),
            from: self.endpoint.clone(),
            to: to.endpoint.clone(),
            message: m,
        };
        let moved = Moved::default();
        let (source, target) = (long_client(&self.docker), long_client(&to.docker));
        let copy = async {
            let counter = moved.clone();
            let saved = source.export_image(reference).inspect(move |chunk| {
                if let Ok(bytes) = chunk {
                    counter.bytes(bytes.len());
                }
            });
            // Not quiet: the loading engine reports each layer as it
            // registers it, after the last byte has gone.
            let mut loading =
                target.import_image_stream(ImportImageOptions::default(), saved, None);
            while let Some(item) = loading.next().await {
                let info = item.map_err(|e| err(e.to_string()))?;
                moved.touch();
                if let Some(m) = info.error_detail.and_then(|d| d.message) {
                    return Err(err(m));
                }
            }
            Ok(())
        };
        watch(copy, &moved, TRANSFER_STALL, on_bytes)
            .await
            .map_err(|e| err(e.to_string()))??;
        on_bytes(moved.total());
        to.image_id(reference)
            .await?
            .ok_or_else(|| err("the load ended without the image".into()))
    }
}

/// What providing an image tells its caller as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageProgress {
    /// Work that takes a while starts (a pull, a build, a copy), in a line.
    Begun(String),
    /// Such work has ended (a copy: how much it moved, how long it took).
    Ended(String),
    /// A copy between engines (`what`) has moved `bytes` so far; `done`
    /// once it has ended, either way.
    Moving {
        what: String,
        bytes: u64,
        done: bool,
    },
}

impl ImageProgress {
    /// `copying X into E: 123 MB`, the transfer's part of a progress line.
    pub fn moving_text(what: &str, bytes: u64) -> String {
        format!("{what}: {}", size_text(bytes))
    }
}

type Cell = Arc<OnceCell<Result<String, ImageError>>>;

/// Images provided during one run, each once per engine: concurrent
/// scenarios that need the same image wait for the one build or copy.
#[derive(Default)]
pub struct ImageCache {
    cells: Mutex<HashMap<(String, String), Cell>>,
}

impl ImageCache {
    fn cell(&self, engine: &Engine, key: &str) -> Cell {
        let mut map = self.cells.lock().expect("image cache lock");
        map.entry((engine.endpoint.clone(), key.to_string()))
            .or_default()
            .clone()
    }

    /// Makes sure `target` has the image `name`: copied from the first of
    /// `sources` (the run's other engines, on this machine or not) that has
    /// it, so both sides run the same image id, else pulled if a registry
    /// answers. `progress` hears of a copy or pull.
    pub async fn named(
        &self,
        target: &Engine,
        name: &str,
        sources: &[Arc<Engine>],
        progress: &(dyn Fn(ImageProgress) + Sync),
    ) -> Result<String, ImageError> {
        self.cell(target, &format!("name:{name}"))
            .get_or_init(|| async {
                if target.image_id(name).await?.is_some() {
                    return Ok(name.to_string());
                }
                for source in sources.iter().filter(|s| s.endpoint != target.endpoint) {
                    if source.image_id(name).await?.is_some() {
                        copy_reporting(source, target, name, "", progress).await?;
                        return Ok(name.to_string());
                    }
                }
                progress(ImageProgress::Begun(format!(
                    "pulling {name} into the engine at {}",
                    target.endpoint
                )));
                target.pull(name).await?;
                Ok(name.to_string())
            })
            .await
            .clone()
    }

    /// Makes sure `target` has the image built from `dir`, and returns its
    /// reference. It is built on `builder` (with the host's network when
    /// the builder does not remap users) unless the builder has it already,
    /// after copying into the builder the `FROM` images it lacks and one of
    /// `sources` has, and copied into `target` unless `target` has the
    /// same id.
    pub async fn built(
        &self,
        target: &Engine,
        builder: &Engine,
        dir: &Path,
        sources: &[Arc<Engine>],
        progress: &(dyn Fn(ImageProgress) + Sync),
    ) -> Result<String, ImageError> {
        let key = format!("build:{}", dir.display());
        let on_builder = self
            .cell(builder, &key)
            .get_or_init(|| async {
                let context = BuildContext::read(dir)?;
                for base in &context.bases {
                    if builder.image_id(base).await?.is_some() {
                        continue;
                    }
                    let others = sources.iter().filter(|s| s.endpoint != builder.endpoint);
                    for source in others {
                        if source.image_id(base).await?.is_some() {
                            copy_reporting(source, builder, base, " to build on", progress).await?;
                            break;
                        }
                    }
                }
                let mut base_ids = Vec::new();
                for base in &context.bases {
                    base_ids.push(
                        builder
                            .image_id(base)
                            .await?
                            .unwrap_or_else(|| format!("{base} (absent)")),
                    );
                }
                let tag = context.tag(&base_ids);
                if builder.image_id(&tag).await?.is_none() {
                    progress(ImageProgress::Begun(format!(
                        "building {} as {tag} on the engine at {}",
                        dir.display(),
                        builder.endpoint
                    )));
                    builder
                        .build(&context, &tag, !builder.info().userns_remap)
                        .await?;
                }
                Ok(tag)
            })
            .await
            .clone()?;
        if std::ptr::eq(target, builder) || target.endpoint == builder.endpoint {
            return Ok(on_builder);
        }
        self.cell(target, &key)
            .get_or_init(|| async {
                let want = builder.image_id(&on_builder).await?;
                if want.is_some() && target.image_id(&on_builder).await? == want {
                    return Ok(on_builder.clone());
                }
                let got = copy_reporting(builder, target, &on_builder, "", progress).await?;
                match want {
                    Some(w) if w != got => Err(ImageError::Copy {
                        image: on_builder.clone(),
                        from: builder.endpoint.clone(),
                        to: target.endpoint.clone(),
                        message: format!("the loaded image has id {got}, not {w}"),
                    }),
                    _ => Ok(on_builder.clone()),
                }
            })
            .await
            .clone()
    }
}

/// Copies `name` from `from` into `to`, telling `progress` that it begins,
/// how many bytes have moved, and that it is done (either way); `why` ends
/// the line that announces it.
async fn copy_reporting(
    from: &Engine,
    to: &Engine,
    name: &str,
    why: &str,
    progress: &(dyn Fn(ImageProgress) + Sync),
) -> Result<String, ImageError> {
    progress(ImageProgress::Begun(format!(
        "copying {name} from the engine at {} into the engine at {}{why}",
        from.endpoint, to.endpoint
    )));
    let what = format!("copying {name} into {}", to.endpoint);
    let started = std::time::Instant::now();
    let moved = std::sync::atomic::AtomicU64::new(0);
    let copied = from
        .copy_image_to(to, name, &|bytes| {
            moved.store(bytes, std::sync::atomic::Ordering::Relaxed);
            progress(ImageProgress::Moving {
                what: what.clone(),
                bytes,
                done: false,
            })
        })
        .await;
    progress(ImageProgress::Moving {
        what,
        bytes: 0,
        done: true,
    });
    if copied.is_ok() {
        progress(ImageProgress::Ended(format!(
            "copied {name} into the engine at {} ({} in {:.1}s)",
            to.endpoint,
            size_text(moved.load(std::sync::atomic::Ordering::Relaxed)),
            started.elapsed().as_secs_f64()
        )));
    }
    copied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_name_base_images_not_stages() {
        let df = "# x\nFROM busybox:latest AS bb\nFROM --platform=linux/amd64 debian:bookworm\nCOPY --from=bb / /x\nfrom bb\nFROM scratch\nFROM busybox:latest\n";
        assert_eq!(from_images(df), vec!["busybox:latest", "debian:bookworm"]);
    }

    #[test]
    fn the_context_is_deterministic_and_follows_the_contents() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM busybox\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), "a").unwrap();
        let a = BuildContext::read(dir.path()).unwrap();
        let again = BuildContext::read(dir.path()).unwrap();
        assert_eq!(a.digest, again.digest);
        assert_eq!(a.bases, vec!["busybox"]);
        let tag = a.tag(&["sha256:1".into()]);
        assert!(tag.starts_with("parity-build/") && tag.len() == "parity-build/".len() + 16);
        assert_ne!(
            tag,
            a.tag(&["sha256:2".into()]),
            "a new base is a new image"
        );
        std::fs::write(dir.path().join("sub/a"), "b").unwrap();
        assert_ne!(BuildContext::read(dir.path()).unwrap().digest, a.digest);
        let names: Vec<String> = tar::Archive::new(&a.tar[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(names, ["Dockerfile", "sub/", "sub/a"]);
    }

    #[test]
    fn a_folder_without_dockerfile_is_a_context_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = BuildContext::read(dir.path()).unwrap_err();
        assert!(e.to_string().contains("Dockerfile"), "{e}");
    }

    #[test]
    fn build_errors_carry_the_last_lines() {
        let lines: Vec<String> = (0..30).map(|i| format!("Step {i}\n")).collect();
        let e = ImageError::Build {
            dir: "/s/images/x".into(),
            endpoint: "unix:///e".into(),
            message: "The command '/bin/sh -c false' returned a non-zero code: 1".into(),
            tail: tail(&lines, 3),
        };
        let text = e.to_string();
        assert!(text.contains("returned a non-zero code: 1"), "{text}");
        assert!(text.ends_with("Step 27\nStep 28\nStep 29"), "{text}");
    }
}
