//! A BuildKit build with entitlements, as `docker buildx build --allow`
//! sends it to an engine (buildx's `docker` driver): a Solve request to
//! BuildKit's Control API through the engine's `/grpc` endpoint, with a
//! session over `/session` that serves the build context.
//!
//! The engine's `/build` has no field for entitlements (it grants
//! `network.host` only with `networkmode=host`, and never
//! `security.insecure`), and bollard's own Solve sends an empty list, so
//! this module speaks the protocol itself with bollard's BuildKit types:
//! both endpoints are upgraded to h2c on a `unix://` socket; the session
//! serves gRPC health and the Upload service (the context tar, named
//! `http://buildkit-session/ID` in the frontend's `context` attribute, as
//! buildx uploads a context); the Solve asks the `dockerfile.v0` frontend
//! for the Dockerfile with the build's network (`force-network-mode`),
//! args, labels and no cache, exported by the engine's `moby` exporter
//! under the build's tag, with the entitlements; the Status stream of the
//! same ref is folded into the [`Trace`] as `/build`'s progress is. A
//! refused entitlement is the Solve's error, an observation.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::health::health_server::{Health, HealthServer};
use bollard::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use bollard::moby::buildkit::v1::control_client::ControlClient;
use bollard::moby::buildkit::v1::{SolveRequest, StatusRequest};
use bollard::moby::upload::v1::BytesMessage;
use bollard::moby::upload::v1::upload_server::{Upload, UploadServer};
use futures_util::StreamExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

use super::build::{BuildOutput, BuildRequest};
use super::buildkit::Trace;
use super::client::Engine;
use super::images::BuildContext;

/// The context's path in the session's upload store.
const CONTEXT_PATH: &str = "/context";

impl Engine {
    /// Runs `request` over `context` as a BuildKit Solve through `/grpc`
    /// with `entitlements`; what it said and its error, as
    /// [`build_observed`](Engine::build_observed) keeps them.
    pub async fn solve_observed(
        &self,
        context: &BuildContext,
        request: &BuildRequest,
        entitlements: &[String],
        limit: Duration,
    ) -> BuildOutput {
        let mut out = BuildOutput::default();
        let session = request
            .buildkit_session
            .clone()
            .unwrap_or_else(|| format!("parity-{}", std::process::id()));
        match tokio::time::timeout(
            limit,
            self.solve(context, request, entitlements, &session, &mut out.trace),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(message)) => out.error = Some(message),
            Err(_) => out.timed_out = true,
        }
        out
    }

    async fn solve(
        &self,
        context: &BuildContext,
        request: &BuildRequest,
        entitlements: &[String],
        session: &str,
        trace: &mut Trace,
    ) -> Result<(), String> {
        let socket = self
            .endpoint
            .strip_prefix("unix://")
            .ok_or_else(|| {
                format!(
                    "a BuildKit Solve with entitlements reaches the engine's /grpc over unix:// \
                     only, not {}",
                    self.endpoint
                )
            })?
            .to_string();
        // The session: the engine dials back into it for the context.
        let methods = [
            format!("/{}/pull", <UploadServer<Uploads> as NamedService>::NAME),
            format!("/{}/check", <HealthServer<Healthy> as NamedService>::NAME),
        ];
        let mut headers = vec![
            (
                "X-Docker-Expose-Session-Uuid".to_string(),
                session.to_string(),
            ),
            (
                "X-Docker-Expose-Session-Name".to_string(),
                "parity".to_string(),
            ),
            (
                "X-Docker-Expose-Session-Sharedkey".to_string(),
                session.to_string(),
            ),
        ];
        for m in &methods {
            headers.push(("X-Docker-Expose-Session-Grpc-Method".to_string(), m.clone()));
        }
        let conn = upgrade(&socket, "/session", &headers).await?;
        let uploads = Uploads {
            store: HashMap::from([(CONTEXT_PATH.to_string(), context.tar.clone())]),
        };
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(HealthServer::new(Healthy))
                .add_service(UploadServer::new(uploads))
                .serve_with_incoming(futures_util::stream::iter([Ok::<_, std::io::Error>(conn)])),
        );
        let result = self
            .solve_on(&socket, context, request, entitlements, session, trace)
            .await;
        server.abort();
        result
    }

    async fn solve_on(
        &self,
        socket: &str,
        _context: &BuildContext,
        request: &BuildRequest,
        entitlements: &[String],
        session: &str,
        trace: &mut Trace,
    ) -> Result<(), String> {
        let channel = tonic::transport::Endpoint::from_static("http://buildkit.invalid")
            .connect_with_connector(GrpcConnector {
                socket: socket.to_string(),
                session: session.to_string(),
            })
            .await
            .map_err(|e| format!("connecting to the engine's /grpc: {e}"))?;
        let mut control = ControlClient::new(channel.clone());
        let mut attrs: HashMap<String, String> = HashMap::from([
            (
                "context".to_string(),
                format!("http://buildkit-session{CONTEXT_PATH}"),
            ),
            ("filename".to_string(), request.dockerfile.clone()),
        ]);
        if !request.cache {
            attrs.insert("no-cache".into(), String::new());
        }
        if let Some(n) = &request.network {
            attrs.insert("force-network-mode".into(), n.clone());
        }
        for (k, v) in &request.args {
            attrs.insert(format!("build-arg:{k}"), v.clone());
        }
        for (k, v) in &request.labels {
            attrs.insert(format!("label:{k}"), v.clone());
        }
        let reference = format!("{session}-solve");
        let solve = SolveRequest {
            r#ref: reference.clone(),
            exporter_deprecated: "moby".into(),
            exporter_attrs_deprecated: HashMap::from([("name".into(), request.tag.clone())]),
            frontend: "dockerfile.v0".into(),
            frontend_attrs: attrs,
            session: session.to_string(),
            entitlements: entitlements.to_vec(),
            ..Default::default()
        };
        let mut status_client = ControlClient::new(channel);
        let status = async move {
            let mut statuses = Vec::new();
            if let Ok(stream) = status_client
                .status(StatusRequest {
                    r#ref: reference.clone(),
                })
                .await
            {
                let mut stream = stream.into_inner();
                while let Some(Ok(s)) = stream.next().await {
                    statuses.push(s);
                }
            }
            statuses
        };
        let (solved, statuses) = tokio::join!(control.solve(solve), status);
        for s in &statuses {
            trace.absorb(s);
        }
        solved.map(|_| ()).map_err(|s| s.message().to_string())
    }
}

/// Upgrades `POST path` on the engine's socket to h2c; the raw
/// connection after the engine's `101 Switching Protocols`.
async fn upgrade(
    socket: &str,
    path: &str,
    headers: &[(String, String)],
) -> Result<UnixStream, String> {
    let mut s = UnixStream::connect(socket)
        .await
        .map_err(|e| format!("{socket}: {e}"))?;
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 0\r\n"
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    // Byte by byte up to the blank line: what follows is the h2 stream.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        let n = s.read(&mut b).await.map_err(|e| format!("{path}: {e}"))?;
        if n == 0 || head.len() > 64 * 1024 {
            return Err(format!("{path}: the engine closed the connection"));
        }
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    match head.split_whitespace().nth(1) {
        Some("101") => Ok(s),
        _ => Err(format!(
            "{path}: the engine answered {}",
            head.lines().next().unwrap_or_default()
        )),
    }
}

/// Dials the engine's `/grpc` for tonic's channel.
#[derive(Clone)]
struct GrpcConnector {
    socket: String,
    session: String,
}

impl tower_service::Service<tonic::transport::Uri> for GrpcConnector {
    type Response = TokioIo<UnixStream>;
    type Error = std::io::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: tonic::transport::Uri) -> Self::Future {
        let (socket, session) = (self.socket.clone(), self.session.clone());
        Box::pin(async move {
            let headers = [("X-Docker-Expose-Session-Uuid".to_string(), session)];
            upgrade(&socket, "/grpc", &headers)
                .await
                .map(TokioIo::new)
                .map_err(std::io::Error::other)
        })
    }
}

/// The session's health service: serving.
struct Healthy;

#[tonic::async_trait]
impl Health for Healthy {
    async fn check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse { status: 1 }))
    }

    async fn list(
        &self,
        _: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Err(Status::unimplemented("list"))
    }

    type WatchStream =
        Pin<Box<dyn futures_util::Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("watch"))
    }
}

/// The session's upload service: the build context, by path.
struct Uploads {
    store: HashMap<String, Vec<u8>>,
}

#[tonic::async_trait]
impl Upload for Uploads {
    type PullStream =
        Pin<Box<dyn futures_util::Stream<Item = Result<BytesMessage, Status>> + Send>>;

    async fn pull(
        &self,
        request: Request<Streaming<BytesMessage>>,
    ) -> Result<Response<Self::PullStream>, Status> {
        let path = request
            .metadata()
            .get("urlpath")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let data = self
            .store
            .get(&path)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("no upload at {path}")))?;
        let chunks: Vec<Result<BytesMessage, Status>> = data
            .chunks(32 * 1024)
            .map(|c| Ok(BytesMessage { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(futures_util::stream::iter(chunks))))
    }
}
