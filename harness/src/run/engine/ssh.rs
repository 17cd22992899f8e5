//! The `ssh://[user@]host[:port]` transport, as the docker CLI does it:
//! every connection is the system's OpenSSH client running `docker system
//! dial-stdio` on the remote host, whose standard streams carry the Engine
//! API. The user's `~/.ssh/config`, keys, agent and `known_hosts` apply;
//! parity adds only `BatchMode=yes` (no prompt can hang a run) and a
//! connect timeout.
//!
//! bollard's own `ssh` feature is not used: in 0.21 it drops the port of
//! `ssh://host:port` and leaves a persistent OpenSSH master process per
//! connection. Here each connection is one `ssh` child, killed when the
//! connection is dropped, so nothing outlives the client. Owns the
//! destination's parsing, the ssh command line, the first check (the login
//! and the remote `docker` CLI, with ssh's own message when it fails) and
//! the connector; no other module starts `ssh`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::{BollardRequest, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long ssh may take to reach the host (`ConnectTimeout`).
const CONNECT_TIMEOUT_SECS: u64 = 20;
/// How long the first check (login and `docker version` there) may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(45);

/// `[user@]host[:port]`, as an `ssh://` endpoint carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

impl Destination {
    pub fn parse(text: &str) -> Destination {
        let (user, rest) = match text.rsplit_once('@') {
            Some((u, r)) => (Some(u.to_string()), r),
            None => (None, text),
        };
        // `[::1]:22`, `host:22`, or a bare host (IPv6 without brackets
        // has more than one colon and no port).
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            match inner.split_once(']') {
                Some((h, p)) => (
                    h.to_string(),
                    p.strip_prefix(':').and_then(|p| p.parse().ok()),
                ),
                None => (rest.to_string(), None),
            }
        } else {
            match rest.split_once(':') {
                Some((h, p)) if !p.contains(':') => match p.parse() {
                    Ok(port) => (h.to_string(), Some(port)),
                    Err(_) => (rest.to_string(), None),
                },
                _ => (rest.to_string(), None),
            }
        };
        Destination { user, host, port }
    }

    /// The `ssh` arguments that run `remote` on the destination.
    pub fn args(&self, remote: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = [
            "-o",
            "BatchMode=yes",
            "-o",
            &format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}"),
            "-T",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(u) = &self.user {
            a.extend(["-l".into(), u.clone()]);
        }
        if let Some(p) = self.port {
            a.extend(["-p".into(), p.to_string()]);
        }
        a.push("--".into());
        a.push(self.host.clone());
        a.extend(remote.iter().map(|s| s.to_string()));
        a
    }
}

/// Logs in and asks the remote docker CLI for its engine's API version:
/// `Err` carries ssh's or docker's own words when either fails.
pub async fn check(dest: &Destination) -> Result<(), String> {
    let mut cmd = Command::new("ssh");
    cmd.args(dest.args(&["docker", "version", "--format", "{{.Server.APIVersion}}"]))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            "the `ssh` client is not installed on this machine (install OpenSSH's client; it runs `docker system dial-stdio` on the remote host)".to_string()
        }
        _ => format!("cannot start ssh: {e}"),
    })?;
    let out = tokio::time::timeout(CHECK_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "ssh did not finish logging in within {}s",
                CHECK_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("ssh: {e}"))?;
    if out.status.success() && !out.stdout.trim_ascii().is_empty() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(match out.status.code() {
        // ssh itself failed (resolution, connection, host key, login).
        Some(255) => format!("ssh failed: {said}"),
        Some(127) => format!("the remote host has no `docker` command on the login's PATH: {said}"),
        _ => format!("`docker version` on the remote host failed: {said}"),
    })
}

/// A client whose every connection is `ssh ... docker system dial-stdio`.
pub fn docker(dest: &Destination) -> Result<Docker, bollard::errors::Error> {
    let client: Client<Connector, Body> =
        Client::builder(TokioExecutor::new()).build(Connector { dest: dest.clone() });
    let transport = move |req: BollardRequest| {
        let client = client.clone();
        async move {
            client
                .request(req)
                .await
                .map_err(bollard::errors::Error::from)
        }
    };
    // The URL's host only keys the connection pool: the connector knows
    // where to go.
    Docker::connect_with_custom_transport(
        transport,
        Some("ssh://engine"),
        120,
        bollard::API_DEFAULT_VERSION,
    )
}

/// The request body type bollard sends.
trait BodyOf {
    type Body;
}
impl<B> BodyOf for http::Request<B> {
    type Body = B;
}
type Body = <BollardRequest as BodyOf>::Body;

#[derive(Clone)]
struct Connector {
    dest: Destination,
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = Stream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let args = self.dest.args(&["docker", "system", "dial-stdio"]);
        Box::pin(async move {
            let mut child = Command::new("ssh")
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()?;
            let stdin = child.stdin.take().expect("piped stdin");
            let stdout = child.stdout.take().expect("piped stdout");
            Ok(Stream {
                _child: child,
                stdin: Some(TokioIo::new(stdin)),
                stdout: TokioIo::new(stdout),
            })
        })
    }
}

/// One connection: the ssh child's stdin and stdout.
struct Stream {
    _child: Child,
    stdin: Option<TokioIo<ChildStdin>>,
    stdout: TokioIo<ChildStdout>,
}

impl Stream {
    fn stdin(self: Pin<&mut Self>) -> io::Result<Pin<&mut TokioIo<ChildStdin>>> {
        self.get_mut()
            .stdin
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::ErrorKind::BrokenPipe.into())
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stdin()?.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.stdin()?.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Closing stdin is the half-close dial-stdio forwards.
        std::task::ready!(self.as_mut().stdin()?.poll_shutdown(cx))?;
        self.get_mut().stdin = None;
        Poll::Ready(Ok(()))
    }
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("prod", None, "prod", None)]
    #[case("ops@prod.example", Some("ops"), "prod.example", None)]
    #[case("root@127.0.0.1:2222", Some("root"), "127.0.0.1", Some(2222))]
    #[case("[::1]:2200", None, "::1", Some(2200))]
    #[case("u@[fe80::1]", Some("u"), "fe80::1", None)]
    #[case("host:notaport", None, "host:notaport", None)]
    fn destinations(
        #[case] text: &str,
        #[case] user: Option<&str>,
        #[case] host: &str,
        #[case] port: Option<u16>,
    ) {
        let d = Destination::parse(text);
        assert_eq!(
            (d.user.as_deref(), d.host.as_str(), d.port),
            (user, host, port)
        );
    }

    #[test]
    fn the_command_line_is_the_docker_clis_with_batch_mode() {
        let d = Destination::parse("ops@prod:2222");
        assert_eq!(
            d.args(&["docker", "system", "dial-stdio"]).join(" "),
            "-o BatchMode=yes -o ConnectTimeout=20 -T -l ops -p 2222 -- prod docker system dial-stdio"
        );
    }
}
