//! BuildKit's side of a build on the Engine API: the progress it streams,
//! gathered per vertex, and the build cache records a build made.
//!
//! Owns folding BuildKit's status messages (the `moby.buildkit.trace`
//! aux of `/build` with `version=2`, bollard's `BuildInfoAux::BuildKit`)
//! into one [`Vertex`] per vertex digest, in the order BuildKit first
//! names them: its name (for a Dockerfile step, `[N/M] INSTRUCTION` as the
//! author wrote it), whether it was cached, its error, and its log bytes
//! by stream (1 stdout, 2 stderr), in full. It also lists the engine's
//! build cache records and prunes those a build added (by id, so records
//! other builds on a shared engine made stay). Turning vertices into
//! steps is `run::buildkit`'s.

use std::collections::{BTreeMap, HashMap};

use bollard::moby::buildkit::v1::StatusResponse;
use bollard::query_parameters::PruneBuildOptions;

use super::client::Engine;
use super::images::ImageError;

/// One BuildKit vertex, as its status messages told it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vertex {
    pub digest: String,
    /// `[2/3] RUN mknod /tmp/n c 1 3`, `[internal] load metadata ...`,
    /// `exporting to image`.
    pub name: String,
    pub cached: bool,
    /// BuildKit's error for the vertex (`executor failed running [...]:
    /// exit code: 1`); empty when it succeeded or never ended.
    pub error: String,
    pub started: bool,
    pub completed: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// The vertices of one build, in the order BuildKit first named them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub vertices: Vec<Vertex>,
    index: HashMap<String, usize>,
}

impl Trace {
    fn vertex(&mut self, digest: &str) -> &mut Vertex {
        let n = match self.index.get(digest) {
            Some(n) => *n,
            None => {
                self.vertices.push(Vertex {
                    digest: digest.to_string(),
                    ..Vertex::default()
                });
                self.index
                    .insert(digest.to_string(), self.vertices.len() - 1);
                self.vertices.len() - 1
            }
        };
        &mut self.vertices[n]
    }

    /// Folds one status message in: vertex updates keep their latest
    /// state (a later message may add the error or the completion), logs
    /// are appended as sent.
    pub fn absorb(&mut self, status: &StatusResponse) {
        for v in &status.vertexes {
            let vertex = self.vertex(&v.digest);
            if !v.name.is_empty() {
                vertex.name = v.name.clone();
            }
            vertex.cached |= v.cached;
            vertex.started |= v.started.is_some();
            vertex.completed |= v.completed.is_some();
            if !v.error.is_empty() {
                vertex.error = v.error.clone();
            }
        }
        for log in &status.logs {
            let vertex = self.vertex(&log.vertex);
            match log.stream {
                2 => vertex.stderr.extend_from_slice(&log.msg),
                _ => vertex.stdout.extend_from_slice(&log.msg),
            }
        }
    }

    /// The last lines the build's vertices logged, for a failed library
    /// image build's error.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let text: Vec<String> = self
            .vertices
            .iter()
            .flat_map(|v| {
                let mut lines = vec![format!("#{} {}", v.digest.get(7..19).unwrap_or(""), v.name)];
                for bytes in [&v.stdout, &v.stderr] {
                    lines.extend(String::from_utf8_lossy(bytes).lines().map(str::to_string));
                }
                if !v.error.is_empty() {
                    lines.push(format!("ERROR: {}", v.error));
                }
                lines
            })
            .filter(|l| !l.trim().is_empty())
            .collect();
        text[text.len().saturating_sub(n)..].to_vec()
    }
}

impl Engine {
    /// The ids of the engine's build cache records, with whether each is
    /// in use. bollard's `df` reads the current API's shape, which moved
    /// the records (`BuildCache` on API 1.41): the listing is read as the
    /// engine sends it.
    pub async fn build_cache_records(&self) -> Result<BTreeMap<String, bool>, ImageError> {
        let err = |m: String| ImageError::Engine {
            endpoint: self.endpoint.clone(),
            message: format!("listing the build cache: {m}"),
        };
        let body = tokio::time::timeout(LIST_TIMEOUT, raw_get(&self.docker, "/system/df"))
            .await
            .map_err(|_| err(format!("no answer within {}s", LIST_TIMEOUT.as_secs())))?
            .map_err(err)?;
        records(&body).map_err(err)
    }

    /// Prunes the build cache records that are not in `before`: the
    /// records a build made. The engine takes one `id` filter, a regex,
    /// so they go as one alternation of their exact ids. Records in use
    /// (a build still running on a shared engine) are not prunable and
    /// not ours to wait for; any other record left is reported.
    pub async fn prune_build_cache_since(
        &self,
        before: &BTreeMap<String, bool>,
    ) -> Result<(), ImageError> {
        let made = |now: &BTreeMap<String, bool>| -> Vec<String> {
            now.iter()
                .filter(|(id, in_use)| !before.contains_key(*id) && !**in_use)
                .map(|(id, _)| id.clone())
                .collect()
        };
        // A record holds its parent: a pass may free a parent only once
        // its child is gone, so prune until nothing of the build is left.
        for _ in 0..8 {
            let ids = made(&self.build_cache_records().await?);
            if ids.is_empty() {
                return Ok(());
            }
            let options = PruneBuildOptions {
                all: Some(true),
                filters: Some(HashMap::from([(
                    "id".to_string(),
                    vec![format!("^({})$", ids.join("|"))],
                )])),
                ..Default::default()
            };
            self.docker
                .prune_build(Some(options))
                .await
                .map_err(|e| ImageError::Engine {
                    endpoint: self.endpoint.clone(),
                    message: format!("pruning the build's cache records: {e}"),
                })?;
        }
        let left = made(&self.build_cache_records().await?);
        match left.is_empty() {
            true => Ok(()),
            false => Err(ImageError::Engine {
                endpoint: self.endpoint.clone(),
                message: format!("the build's cache records {left:?} could not be pruned"),
            }),
        }
    }
}

/// How long listing the build cache may take.
const LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The build cache records of a `/system/df` answer: id and in use.
fn records(body: &[u8]) -> Result<BTreeMap<String, bool>, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let list = doc
        .get("BuildCache")
        .or_else(|| doc.pointer("/BuildCacheUsage/Items"))
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let id = r.get("ID")?.as_str()?.to_string();
            Some((
                id,
                r.get("InUse").and_then(|u| u.as_bool()).unwrap_or(false),
            ))
        })
        .collect())
}

/// `GET path` on the engine, the body as the engine sent it, over the
/// engine's own client and so over whatever transport reaches it (a
/// socket, TLS, ssh). bollard's typed models follow the current API only,
/// so the request goes as the raw body stream of an image export whose
/// path is rewritten to `path` before it is sent.
async fn raw_get(docker: &bollard::Docker, path: &str) -> Result<Vec<u8>, String> {
    use futures_util::StreamExt;
    const STAND_IN: &str = "parity-raw-get";
    let from = format!("/images/{STAND_IN}/get");
    let to = path.to_string();
    let client = docker.clone().with_request_modifier(move |mut req| {
        let uri = req.uri().to_string().replacen(&from, &to, 1);
        if let Ok(uri) = uri.parse() {
            *req.uri_mut() = uri;
        }
        req
    });
    let mut body = Vec::new();
    let mut stream = client.export_image(STAND_IN);
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.map_err(|e| format!("{path}: {e}"))?);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::moby::buildkit::v1::{Vertex as V, VertexLog};

    #[test]
    fn records_are_read_in_both_api_shapes() {
        let old = br#"{"BuildCache":[{"ID":"a","InUse":true},{"ID":"b","InUse":false}]}"#;
        let new = br#"{"BuildCacheUsage":{"Items":[{"ID":"c"}]}}"#;
        assert_eq!(
            records(old).unwrap(),
            BTreeMap::from([("a".into(), true), ("b".into(), false)])
        );
        assert_eq!(records(new).unwrap(), BTreeMap::from([("c".into(), false)]));
        assert!(records(b"{}").unwrap().is_empty());
    }

    #[test]
    fn vertices_keep_their_latest_state_and_all_their_bytes() {
        let mut t = Trace::default();
        t.absorb(&StatusResponse {
            vertexes: vec![V {
                digest: "sha256:a".into(),
                name: "[2/2] RUN x".into(),
                started: Some(Default::default()),
                ..Default::default()
            }],
            logs: vec![
                VertexLog {
                    vertex: "sha256:a".into(),
                    stream: 1,
                    msg: b"out\xff".to_vec(),
                    ..Default::default()
                },
                VertexLog {
                    vertex: "sha256:a".into(),
                    stream: 2,
                    msg: b"err\n".to_vec(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        t.absorb(&StatusResponse {
            vertexes: vec![V {
                digest: "sha256:a".into(),
                name: "[2/2] RUN x".into(),
                error: "executor failed running [/bin/sh -c x]: exit code: 1".into(),
                completed: Some(Default::default()),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(t.vertices.len(), 1);
        let v = &t.vertices[0];
        assert!(v.started && v.completed && !v.cached);
        assert_eq!(v.stdout, b"out\xff");
        assert_eq!(v.stderr, b"err\n");
        assert!(v.error.ends_with("exit code: 1"));
        assert!(t.tail(2)[1].starts_with("ERROR: executor failed"));
    }
}
