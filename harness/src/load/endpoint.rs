//! Which Docker engine a runtime profile talks to, and where that choice
//! came from.
//!
//! A profile's own `engine:` wins. Without one, parity follows the Docker
//! CLI: `DOCKER_HOST`, then the context `DOCKER_CONTEXT` names, then the
//! `currentContext` of `config.json` (in `DOCKER_CONFIG`, default
//! `~/.docker`), whose endpoint is `Endpoints.docker.Host` in
//! `contexts/meta/<sha256 of the name>/meta.json`; then the local socket.
//! The context `default` is the local socket. Owns that decision only: it
//! reads files and the environment it is given, contacts no engine.

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
}

/// The endpoint for a profile whose `engine:` is `engine`.
pub fn resolve(engine: Option<&str>, env: &DockerEnv) -> Resolved {
    let ok = |endpoint: &str, origin: String| Resolved {
        endpoint: endpoint.to_string(),
        origin,
        problem: None,
    };
    if let Some(e) = engine {
        return ok(e, "the profile's `engine`".into());
    }
    if let Some(h) = &env.docker_host {
        return ok(h, "DOCKER_HOST".into());
    }
    let (name, why) = match (&env.docker_context, current_context(env)) {
        (Some(n), _) => (n.clone(), "DOCKER_CONTEXT".to_string()),
        (None, Some((n, file))) => (n, format!("currentContext in {}", file.display())),
        (None, None) => return ok(DEFAULT_ENDPOINT, "the default socket".into()),
    };
    let origin = format!("docker context {name:?} ({why})");
    if name == "default" {
        return ok(DEFAULT_ENDPOINT, origin);
    }
    match context_host(env, &name) {
        Ok(host) => ok(&host, origin),
        Err(problem) => Resolved {
            endpoint: format!("docker-context://{name}"),
            origin,
            problem: Some(problem),
        },
    }
}

/// The `currentContext` of `config.json`, with the file it is in.
fn current_context(env: &DockerEnv) -> Option<(String, PathBuf)> {
    let file = env.config_dir.as_ref()?.join("config.json");
    let text = std::fs::read_to_string(&file).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let name = v.get("currentContext")?.as_str()?.to_string();
    (!name.is_empty()).then_some((name, file))
}

/// The Docker endpoint of context `name`, or why it has none.
fn context_host(env: &DockerEnv, name: &str) -> Result<String, String> {
    let Some(dir) = &env.config_dir else {
        return Err(format!(
            "docker context {name:?} is selected but neither DOCKER_CONFIG nor HOME is set to find it"
        ));
    };
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let meta = dir.join("contexts/meta").join(hex).join("meta.json");
    let text = std::fs::read_to_string(&meta).map_err(|e| {
        format!(
            "docker context {name:?} is selected but {} cannot be read ({e}): create it with `docker context create`, pick another with `docker context use`, or set DOCKER_HOST",
            meta.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not valid JSON: {e}", meta.display()))?;
    v.pointer("/Endpoints/docker/Host")
        .and_then(|h| h.as_str())
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "docker context {name:?} ({}) has no Endpoints.docker.Host",
                meta.display()
            )
        })
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
}
