//! Which Docker engine a runtime profile talks to, and where that choice
//! came from.
//!
//! A profile's own `engine:` wins. Without one, parity follows the Docker
//! CLI: `DOCKER_HOST`, then the context `DOCKER_CONTEXT` names, then the
//! `currentContext` of `config.json` (in `DOCKER_CONFIG`, default
//! `~/.docker`), whose endpoint is `Endpoints.docker.Host` in
//! `contexts/meta/<sha256 of the name>/meta.json`; then the local socket.
//! The context `default` is the local socket. A profile's `engine:` is an
//! endpoint (`scheme://...`) or the name of a context.
//!
//! The endpoint's scheme is the transport ([`Transport`]): `unix://`,
//! `tcp://` (plain HTTP, or TLS), `ssh://[user@]host[:port]`. TLS comes
//! from `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` (default the config
//! folder) for `DOCKER_HOST` and a profile's endpoint, as for `docker -H`,
//! and from the context's own material for a context
//! (`contexts/tls/<sha256 of the name>/docker/{ca,cert,key}.pem`). Owns
//! that decision only: it reads files and the environment it is given,
//! contacts no engine.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The socket a Docker engine listens on when nothing else is said.
pub const DEFAULT_ENDPOINT: &str = "unix:///var/run/docker.sock";

/// The environment the resolution reads, taken apart so tests can give
/// their own.
#[derive(Debug, Clone, Default)]
pub struct DockerEnv {
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    /// `DOCKER_CONFIG`, else `$HOME/.docker`.
    pub config_dir: Option<PathBuf>,
    /// `DOCKER_TLS_VERIFY` is set: TLS, verifying the engine's certificate.
    pub tls_verify: bool,
    /// `DOCKER_TLS` is set: TLS (without verification unless `tls_verify`).
    pub tls: bool,
    /// `DOCKER_CERT_PATH`: the folder of `ca.pem`, `cert.pem`, `key.pem`.
    pub cert_path: Option<PathBuf>,
}

impl DockerEnv {
    /// The process's own environment.
    pub fn from_process() -> DockerEnv {
        DockerEnv::from_lookup(|k| std::env::var(k).ok())
    }

    /// From a lookup of variable names; empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> DockerEnv {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        DockerEnv {
            docker_host: get("DOCKER_HOST"),
            docker_context: get("DOCKER_CONTEXT"),
            tls_verify: get("DOCKER_TLS_VERIFY").is_some(),
            tls: get("DOCKER_TLS").is_some(),
            cert_path: get("DOCKER_CERT_PATH").map(PathBuf::from),
            config_dir: get("DOCKER_CONFIG")
                .map(PathBuf::from)
                .or_else(|| get("HOME").map(|h| Path::new(&h).join(".docker"))),
        }
    }
}

/// An endpoint and where it came from, in words (`the profile's engine`,
/// `DOCKER_HOST`, `docker context "x" (DOCKER_CONTEXT)`, ...). `problem`
/// is set when the source names something that cannot be used (a context
/// that does not exist): the endpoint is then unusable and the profile is
/// unavailable with that message, never silently sent to another engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub endpoint: String,
    pub origin: String,
    pub problem: Option<String>,
    /// The TLS material to speak to a `tcp://` endpoint with, if TLS.
    pub tls: Option<TlsFiles>,
}

/// A client's TLS material: the CA that signed the engine's certificate,
/// the client's certificate and key, and where they were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// `DOCKER_CERT_PATH`, `the config folder (DOCKER_TLS_VERIFY)`, or
    /// `docker context "x"`.
    pub from: String,
}

impl TlsFiles {
    fn in_dir(dir: &Path, from: String) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            from,
        }
    }

    /// The first of the three files that is missing, if one is.
    pub fn missing(&self) -> Option<&Path> {
        [&self.ca, &self.cert, &self.key]
            .into_iter()
            .find(|p| !p.is_file())
            .map(PathBuf::as_path)
    }

    /// What is wrong with the files, if anything: one missing, or one
    /// that is not the PEM it should be (a TLS library would otherwise
    /// send no client certificate and let the engine's refusal speak).
    pub fn problem(&self) -> Option<String> {
        let what = "the folder needs ca.pem (the CA that signed the engine's certificate), cert.pem and key.pem (the client's), in PEM";
        if let Some(m) = self.missing() {
            return Some(format!(
                "TLS file {} (from {}) is missing: {what}",
                m.display(),
                self.from
            ));
        }
        for (path, marker) in [
            (&self.ca, "CERTIFICATE-----"),
            (&self.cert, "CERTIFICATE-----"),
            (&self.key, "PRIVATE KEY-----"),
        ] {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if !text
                .lines()
                .any(|l| l.starts_with("-----BEGIN ") && l.ends_with(marker))
            {
                return Some(format!(
                    "TLS file {} (from {}) holds no PEM {}: {what}",
                    path.display(),
                    self.from,
                    marker.trim_end_matches('-').to_lowercase()
                ));
            }
        }
        None
    }
}

/// How parity reaches an engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A socket on this machine.
    Unix { path: PathBuf },
    /// Plain HTTP to `host:port`.
    Tcp { address: String },
    /// HTTPS to `host:port`, with a client certificate.
    Tls { address: String, files: TlsFiles },
    /// The system's OpenSSH client (the user's `~/.ssh/config`, keys and
    /// agent) running `docker system dial-stdio` at `[user@]host[:port]`.
    Ssh { destination: String },
}

impl Transport {
    /// Whether the engine runs on the machine parity runs on, so paths of
    /// this machine (bind mounts) mean the same to it: a local socket, or
    /// TCP to a loopback address. An ssh login is another machine's view,
    /// whatever its address.
    pub fn is_local(&self) -> bool {
        match self {
            Transport::Unix { .. } => true,
            Transport::Tcp { address } | Transport::Tls { address, .. } => {
                let host = address
                    .rsplit_once(':')
                    .map_or(address.as_str(), |(h, _)| h)
                    .trim_matches(['[', ']']);
                host == "localhost"
                    || host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            Transport::Ssh { .. } => false,
        }
    }

    /// The transport in words, with the TLS files or ssh destination used.
    pub fn describe(&self) -> String {
        match self {
            Transport::Unix { path } => format!("unix socket {}", path.display()),
            Transport::Tcp { address } => format!("tcp {address} (plain HTTP, no TLS)"),
            Transport::Tls { address, files } => format!(
                "tcp+tls {address} (ca {}, cert {}, key {}; from {})",
                files.ca.display(),
                files.cert.display(),
                files.key.display(),
                files.from
            ),
            Transport::Ssh { destination } => format!(
                "ssh {destination} (OpenSSH client: ~/.ssh/config, keys, agent; `docker system dial-stdio` there)"
            ),
        }
    }
}

impl Resolved {
    /// An endpoint given as it is (an inner engine's socket), without TLS.
    pub fn plain(endpoint: &str) -> Resolved {
        Resolved {
            endpoint: endpoint.to_string(),
            origin: "parity".into(),
            problem: None,
            tls: None,
        }
    }

    /// The transport the endpoint asks for, or what is wrong with it.
    pub fn transport(&self) -> Result<Transport, String> {
        if let Some(p) = &self.problem {
            return Err(p.clone());
        }
        let e = &self.endpoint;
        let (scheme, rest) = e.split_once("://").ok_or_else(|| {
            format!("endpoint {e:?} (from {}) has no scheme: write unix://PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]", self.origin)
        })?;
        let rest = rest.trim_end_matches('/');
        match scheme {
            "unix" => Ok(Transport::Unix {
                path: PathBuf::from(rest),
            }),
            "tcp" | "http" | "https" => {
                if rest.is_empty() {
                    return Err(format!(
                        "endpoint {e:?} (from {}) names no host",
                        self.origin
                    ));
                }
                let tls = match (&self.tls, scheme) {
                    (Some(t), _) => Some(t.clone()),
                    (None, "https") => {
                        return Err(format!(
                            "endpoint {e:?} (from {}) asks for TLS but no certificates are given: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH",
                            self.origin
                        ));
                    }
                    (None, _) => None,
                };
                let has_port = rest
                    .rsplit_once(':')
                    .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
                let address = match (has_port, &tls) {
                    (true, _) => rest.to_string(),
                    (false, Some(_)) => format!("{rest}:2376"),
                    (false, None) => format!("{rest}:2375"),
                };
                Ok(match tls {
                    Some(files) => Transport::Tls { address, files },
                    None => Transport::Tcp { address },
                })
            }
            "ssh" => {
                if rest.is_empty() || rest.contains('/') {
                    return Err(format!(
                        "endpoint {e:?} (from {}): write ssh://[USER@]HOST[:PORT] (no path)",
                        self.origin
                    ));
                }
                Ok(Transport::Ssh {
                    destination: rest.to_string(),
                })
            }
            other => Err(format!(
                "endpoint {e:?} (from {}): scheme {other}:// is not one parity speaks (unix://, tcp://, ssh://)",
                self.origin
            )),
        }
    }
}

/// The endpoint for a profile whose `engine:` is `engine`.
pub fn resolve(engine: Option<&str>, env: &DockerEnv) -> Resolved {
    let ok = |endpoint: &str, origin: String| Resolved {
        endpoint: endpoint.to_string(),
        origin,
        problem: None,
        tls: None,
    };
    // An endpoint given directly (the profile's, DOCKER_HOST) takes TLS
    // from the environment, as `docker -H` does.
    let direct = |endpoint: &str, origin: String| {
        let mut r = ok(endpoint, origin);
        if endpoint.starts_with("tcp://") || endpoint.starts_with("https://") {
            match env_tls(env) {
                Ok(tls) => r.tls = tls,
                Err(p) => r.problem = Some(p),
            }
        }
        r
    };
    let (name, why) = match (engine, &env.docker_host) {
        (Some(e), _) if e.contains("://") => return direct(e, "the profile's `engine`".into()),
        (Some(name), _) => (name.to_string(), "the profile's `engine`".to_string()),
        (None, Some(h)) => return direct(h, "DOCKER_HOST".into()),
        (None, None) => match (&env.docker_context, current_context(env)) {
            (Some(n), _) => (n.clone(), "DOCKER_CONTEXT".to_string()),
            (None, Some((n, file))) => (n, format!("currentContext in {}", file.display())),
            (None, None) => return ok(DEFAULT_ENDPOINT, "the default socket".into()),
        },
    };
    let origin = format!("docker context {name:?} ({why})");
    if name == "default" {
        return ok(DEFAULT_ENDPOINT, origin);
    }
    match context_endpoint(env, &name) {
        Ok((host, tls)) => Resolved {
            tls,
            ..ok(&host, origin)
        },
        Err(problem) => Resolved {
            endpoint: format!("docker-context://{name}"),
            origin,
            problem: Some(problem),
            tls: None,
        },
    }
}

/// TLS from `DOCKER_TLS_VERIFY` / `DOCKER_TLS` and `DOCKER_CERT_PATH`.
fn env_tls(env: &DockerEnv) -> Result<Option<TlsFiles>, String> {
    if !env.tls_verify && !env.tls {
        return Ok(None);
    }
    if !env.tls_verify {
        return Err("DOCKER_TLS is set without DOCKER_TLS_VERIFY: parity always verifies the engine's certificate; set DOCKER_TLS_VERIFY=1 and give the CA that signed it as ca.pem in DOCKER_CERT_PATH".into());
    }
    let (dir, from) = match (&env.cert_path, &env.config_dir) {
        (Some(d), _) => (d.clone(), format!("DOCKER_CERT_PATH={}", d.display())),
        (None, Some(d)) => (
            d.clone(),
            format!(
                "{} (DOCKER_TLS_VERIFY without DOCKER_CERT_PATH)",
                d.display()
            ),
        ),
        (None, None) => {
            return Err("DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is: set DOCKER_CERT_PATH to the folder with ca.pem, cert.pem and key.pem".into());
        }
    };
    Ok(Some(TlsFiles::in_dir(&dir, from)))
}

/// The `currentContext` of `config.json`, with the file it is in.
fn current_context(env: &DockerEnv) -> Option<(String, PathBuf)> {
    let file = env.config_dir.as_ref()?.join("config.json");
    let text = std::fs::read_to_string(&file).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let name = v.get("currentContext")?.as_str()?.to_string();
    (!name.is_empty()).then_some((name, file))
}

/// The Docker endpoint of context `name` and its TLS material (when it
/// stores any), or why it cannot be used.
fn context_endpoint(env: &DockerEnv, name: &str) -> Result<(String, Option<TlsFiles>), String> {
    let Some(dir) = &env.config_dir else {
        return Err(format!(
            "docker context {name:?} is selected but neither DOCKER_CONFIG nor HOME is set to find it"
        ));
    };
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let meta = dir.join("contexts/meta").join(&hex).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|e| {
        format!(
            "docker context {name:?} is selected but {} cannot be read ({e}): create it with `docker context create`, pick another with `docker context use`, or set DOCKER_HOST",
            meta.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not valid JSON: {e}", meta.display()))?;
    let host = v
        .pointer("/Endpoints/docker/Host")
        .and_then(|h| h.as_str())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "docker context {name:?} ({}) has no Endpoints.docker.Host",
                meta.display()
            )
        })?;
    if !host.starts_with("tcp://") && !host.starts_with("https://") {
        return Ok((host, None));
    }
    let tls_dir = dir.join("contexts/tls").join(&hex).join("docker");
    if !tls_dir.is_dir() {
        return Ok((host, None));
    }
    if v.pointer("/Endpoints/docker/SkipTLSVerify")
        .and_then(|b| b.as_bool())
        .unwrap_or(false)
    {
        return Err(format!(
            "docker context {name:?} ({}) sets SkipTLSVerify: parity always verifies the engine's certificate; give the context the CA that signed it (`docker context update {name} --docker \"host={host},ca=CA.pem,cert=CERT.pem,key=KEY.pem,skip-tls-verify=false\"`)",
            meta.display()
        ));
    }
    Ok((
        host,
        Some(TlsFiles::in_dir(
            &tls_dir,
            format!("docker context {name:?}"),
        )),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh HOME under target/ with a ~/.docker of its own.
    struct Home(PathBuf);

    impl Home {
        fn new(tag: &str) -> Home {
            let dir =
                std::env::temp_dir().join(format!("parity-endpoint-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join(".docker")).unwrap();
            Home(dir)
        }
        fn env(&self, vars: &[(&str, &str)]) -> DockerEnv {
            let home = self.0.display().to_string();
            DockerEnv::from_lookup(|k| {
                if k == "HOME" {
                    return Some(home.clone());
                }
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            })
        }
        fn current(&self, name: &str) {
            std::fs::write(
                self.0.join(".docker/config.json"),
                format!("{{\"auths\":{{}},\"currentContext\":\"{name}\"}}"),
            )
            .unwrap();
        }
        fn context(&self, name: &str, host: &str) {
            let digest = Sha256::digest(name.as_bytes());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            let dir = self.0.join(".docker/contexts/meta").join(hex);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(
                dir.join("meta.json"),
                format!(
                    "{{\"Name\":\"{name}\",\"Metadata\":{{}},\"Endpoints\":{{\"docker\":{{\"Host\":\"{host}\",\"SkipTLSVerify\":false}}}}}}"
                ),
            )
            .unwrap();
        }
    }

    impl Drop for Home {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn nothing_set_is_the_default_socket() {
        let h = Home::new("none");
        let r = resolve(None, &h.env(&[]));
        assert_eq!(r.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(r.origin, "the default socket");
        assert!(r.problem.is_none());
    }

    #[test]
    fn the_profile_wins_over_everything() {
        let h = Home::new("profile");
        h.current("remote");
        h.context("remote", "tcp://10.0.0.1:2376");
        let r = resolve(
            Some("unix:///run/x.sock"),
            &h.env(&[("DOCKER_HOST", "tcp://y:1")]),
        );
        assert_eq!(r.endpoint, "unix:///run/x.sock");
        assert_eq!(r.origin, "the profile's `engine`");
    }

    #[test]
    fn docker_host_wins_over_contexts_as_in_the_docker_cli() {
        let h = Home::new("host");
        h.current("remote");
        h.context("remote", "tcp://10.0.0.1:2376");
        let r = resolve(
            None,
            &h.env(&[
                ("DOCKER_HOST", "unix:///home/u/.docker/desktop/docker.sock"),
                ("DOCKER_CONTEXT", "remote"),
            ]),
        );
        assert_eq!(r.endpoint, "unix:///home/u/.docker/desktop/docker.sock");
        assert_eq!(r.origin, "DOCKER_HOST");
    }

    #[test]
    fn the_current_context_of_config_json() {
        let h = Home::new("current");
        h.current("rootless");
        h.context("rootless", "unix:///run/user/1000/docker.sock");
        let r = resolve(None, &h.env(&[]));
        assert_eq!(r.endpoint, "unix:///run/user/1000/docker.sock");
        assert!(
            r.origin
                .starts_with("docker context \"rootless\" (currentContext in "),
            "{}",
            r.origin
        );
        assert!(r.origin.ends_with(".docker/config.json)"), "{}", r.origin);
    }

    #[test]
    fn docker_context_wins_over_the_current_one() {
        let h = Home::new("envctx");
        h.current("rootless");
        h.context("rootless", "unix:///run/user/1000/docker.sock");
        h.context("other", "tcp://other:2375");
        let r = resolve(None, &h.env(&[("DOCKER_CONTEXT", "other")]));
        assert_eq!(r.endpoint, "tcp://other:2375");
        assert_eq!(r.origin, "docker context \"other\" (DOCKER_CONTEXT)");
    }

    #[test]
    fn the_default_context_is_the_local_socket() {
        let h = Home::new("default");
        h.current("default");
        assert_eq!(resolve(None, &h.env(&[])).endpoint, DEFAULT_ENDPOINT);
    }

    #[test]
    fn docker_config_moves_the_folder() {
        let h = Home::new("dockerconfig");
        let elsewhere = h.0.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("config.json"), "{\"currentContext\":\"x\"}").unwrap();
        let digest = Sha256::digest(b"x");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let meta = elsewhere.join("contexts/meta").join(hex);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            "{\"Endpoints\":{\"docker\":{\"Host\":\"tcp://moved:1\"}}}",
        )
        .unwrap();
        let dc = elsewhere.display().to_string();
        let r = resolve(None, &h.env(&[("DOCKER_CONFIG", &dc)]));
        assert_eq!(r.endpoint, "tcp://moved:1");
    }

    #[test]
    fn a_missing_context_is_a_problem_not_another_engine() {
        let h = Home::new("missing");
        let r = resolve(None, &h.env(&[("DOCKER_CONTEXT", "gone")]));
        assert_ne!(r.endpoint, DEFAULT_ENDPOINT);
        let p = r.problem.unwrap();
        assert!(p.contains("docker context \"gone\" is selected"), "{p}");
        assert!(p.contains("docker context use"), "{p}");
    }

    fn tls_dir(h: &Home, name: &str) -> PathBuf {
        let digest = Sha256::digest(name.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let dir = h.0.join(".docker/contexts/tls").join(hex).join("docker");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn docker_tls_verify_gives_tls_from_the_cert_path() {
        let h = Home::new("envtls");
        let r = resolve(
            None,
            &h.env(&[
                ("DOCKER_HOST", "tcp://prod.example:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs"),
            ]),
        );
        let Transport::Tls { address, files } = r.transport().unwrap() else {
            panic!("{r:?}")
        };
        assert_eq!(address, "prod.example:2376");
        assert_eq!(files.ca, Path::new("/certs/ca.pem"));
        assert_eq!(files.key, Path::new("/certs/key.pem"));
        assert_eq!(files.from, "DOCKER_CERT_PATH=/certs");
        // Without DOCKER_CERT_PATH: the config folder, as the docker CLI.
        let r = resolve(
            Some("tcp://prod.example"),
            &h.env(&[("DOCKER_TLS_VERIFY", "1")]),
        );
        let Transport::Tls { address, files } = r.transport().unwrap() else {
            panic!("{r:?}")
        };
        assert_eq!(address, "prod.example:2376", "TLS's default port");
        assert_eq!(files.cert, h.0.join(".docker/cert.pem"));
    }

    #[test]
    fn tls_without_verification_is_refused_with_the_fix() {
        let h = Home::new("tlsnoverify");
        let r = resolve(
            None,
            &h.env(&[("DOCKER_HOST", "tcp://x:2376"), ("DOCKER_TLS", "1")]),
        );
        let p = r.transport().unwrap_err();
        assert!(p.contains("DOCKER_TLS_VERIFY=1"), "{p}");
    }

    #[test]
    fn a_context_brings_its_tls_material() {
        let h = Home::new("ctxtls");
        h.context("prod", "tcp://10.0.0.1:2376");
        let dir = tls_dir(&h, "prod");
        let r = resolve(None, &h.env(&[("DOCKER_CONTEXT", "prod")]));
        let Transport::Tls { files, .. } = r.transport().unwrap() else {
            panic!("{r:?}")
        };
        assert_eq!(files.ca, dir.join("ca.pem"));
        assert_eq!(files.from, "docker context \"prod\"");
        assert_eq!(files.missing(), Some(dir.join("ca.pem").as_path()));
        // The environment's TLS settings are not the context's.
        let plain = Home::new("ctxplain");
        plain.context("lan", "tcp://10.0.0.2:2375");
        let r = resolve(
            None,
            &plain.env(&[("DOCKER_CONTEXT", "lan"), ("DOCKER_TLS_VERIFY", "1")]),
        );
        assert!(matches!(r.transport().unwrap(), Transport::Tcp { .. }));
    }

    #[test]
    fn skip_tls_verify_is_a_problem_not_a_silent_downgrade() {
        let h = Home::new("skip");
        let digest = Sha256::digest(b"lax");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let meta = h.0.join(".docker/contexts/meta").join(hex);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            "{\"Endpoints\":{\"docker\":{\"Host\":\"tcp://h:2376\",\"SkipTLSVerify\":true}}}",
        )
        .unwrap();
        tls_dir(&h, "lax");
        let r = resolve(None, &h.env(&[("DOCKER_CONTEXT", "lax")]));
        let p = r.transport().unwrap_err();
        assert!(
            p.contains("SkipTLSVerify") && p.contains("docker context update"),
            "{p}"
        );
    }

    #[test]
    fn a_profile_engine_without_scheme_names_a_context() {
        let h = Home::new("profctx");
        h.context("build-box", "ssh://ci@build-box:2222");
        let r = resolve(Some("build-box"), &h.env(&[("DOCKER_HOST", "unix:///x")]));
        assert_eq!(
            r.origin,
            "docker context \"build-box\" (the profile's `engine`)"
        );
        assert_eq!(
            r.transport().unwrap(),
            Transport::Ssh {
                destination: "ci@build-box:2222".into()
            }
        );
    }

    #[rstest::rstest]
    #[case("unix:///var/run/docker.sock", Some(true))]
    #[case("tcp://127.0.0.1:2375", Some(true))]
    #[case("tcp://localhost", Some(true))]
    #[case("tcp://[::1]:2375", Some(true))]
    #[case("tcp://10.1.2.3:2375", Some(false))]
    #[case("ssh://127.0.0.1", Some(false))]
    #[case("ssh://u@h:22/x", None)]
    #[case("npipe:////./pipe/docker_engine", None)]
    #[case("/var/run/docker.sock", None)]
    fn transports_and_whether_paths_are_shared(
        #[case] endpoint: &str,
        #[case] local: Option<bool>,
    ) {
        let r = Resolved::plain(endpoint);
        assert_eq!(
            r.transport().ok().map(|t| t.is_local()),
            local,
            "{endpoint}"
        );
    }
}
