//! Build scenarios: the `build:` key, a Dockerfile that parity builds on
//! each side's builder and compares.
//!
//! Owns the author-facing form of DESIGN.md's `build:` example: the
//! Dockerfile inline (`dockerfile`) or in a file (`file`, relative to the
//! context), the `builder` (`buildkit`, the default, or `classic`), the
//! context folder (relative to the scenario file), the build's default
//! `network` (`none`, the default, `default` | `host`), the BuildKit
//! `entitlements` (`network.host`, `security.insecure`) and build `args`;
//! and the checks serde cannot express (exactly one Dockerfile source, a
//! context folder and Dockerfile that exist), each located at its key. It
//! runs nothing: `run::build` drives the build and `run::engine::images`
//! talks to the engine.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::load::yaml::YamlError;

/// A Dockerfile to build, as the scenario author writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// The builder: `buildkit` (the default, as `docker build` on every
    /// current engine) or `classic` (the legacy builder, `BuilderV1`).
    #[serde(default, skip_serializing_if = "BuilderKind::is_default")]
    pub builder: BuilderKind,
    /// The Dockerfile, inline (exactly one of `dockerfile` and `file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// The Dockerfile's path, relative to the context folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The build context: a folder relative to the scenario file; default:
    /// none for an inline Dockerfile (an empty context), the scenario's
    /// folder for `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// The build's default network for `RUN` steps (`docker build
    /// --network`); default `none` (the engines parity starts have no
    /// bridge for builds; `default` asks for the engine's own).
    #[serde(default, skip_serializing_if = "BuildNetwork::is_default")]
    pub network: BuildNetwork,
    /// BuildKit entitlements the build asks for, as `docker buildx build
    /// --allow` passes them; checked by policy. The classic builder has
    /// none: see docs/design.md, "Builds".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<Entitlement>,
    /// Build arguments (`--build-arg NAME=VALUE`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
    /// The text of the `file` Dockerfile, read when the scenario loads
    /// (for the policy rules on `RUN` flags).
    #[serde(skip)]
    #[schemars(skip)]
    pub file_text: Option<String>,
}

/// Which builder builds.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BuilderKind {
    /// BuildKit through the Engine API (`version=2`, with a session).
    #[default]
    Buildkit,
    /// The classic builder (`BuilderV1`).
    Classic,
}

impl BuilderKind {
    pub fn is_default(&self) -> bool {
        *self == BuilderKind::Buildkit
    }

    pub fn name(self) -> &'static str {
        match self {
            BuilderKind::Buildkit => "buildkit",
            BuilderKind::Classic => "classic",
        }
    }
}

/// The network of a build's `RUN` steps.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BuildNetwork {
    /// The engine's default network for builds (a bridge; the engines
    /// parity starts have none).
    Default,
    /// No network at all (the default).
    #[default]
    None,
    /// The host's network namespace (refused by engines with user
    /// namespaces, and by ECI).
    Host,
}

impl BuildNetwork {
    pub fn is_default(&self) -> bool {
        *self == BuildNetwork::None
    }

    pub fn name(self) -> &'static str {
        match self {
            BuildNetwork::Default => "default",
            BuildNetwork::None => "none",
            BuildNetwork::Host => "host",
        }
    }
}

impl fmt::Display for BuildNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A BuildKit entitlement (`docker buildx build --allow`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum Entitlement {
    /// `RUN --network=host`.
    #[serde(rename = "network.host")]
    NetworkHost,
    /// `RUN --security=insecure`: privileged `RUN` steps.
    #[serde(rename = "security.insecure")]
    SecurityInsecure,
}

impl Entitlement {
    pub fn name(self) -> &'static str {
        match self {
            Entitlement::NetworkHost => "network.host",
            Entitlement::SecurityInsecure => "security.insecure",
        }
    }
}

impl fmt::Display for Entitlement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Build {
    /// The context folder, resolved against the scenario file's folder;
    /// `None` for an inline Dockerfile without a context (empty context).
    pub fn context_dir(&self, scenario_path: &Path) -> Option<PathBuf> {
        let base = scenario_path.parent().unwrap_or(Path::new("."));
        let rel = match (&self.context, &self.file) {
            (Some(c), _) => c.as_str(),
            (None, Some(_)) => ".",
            (None, None) => return None,
        };
        let joined = base.join(rel);
        Some(joined.canonicalize().unwrap_or(joined))
    }

    /// The network `RUN` steps get with the classic builder: the host's
    /// when the build says so or asks for the `network.host` entitlement
    /// (the classic builder's only way to grant it).
    pub fn network_mode(&self) -> BuildNetwork {
        if self.builder == BuilderKind::Classic
            && self.entitlements.contains(&Entitlement::NetworkHost)
        {
            BuildNetwork::Host
        } else {
            self.network
        }
    }
}

impl Build {
    /// Reads the `file` Dockerfile (if any) into `file_text`; a file that
    /// cannot be read is left to `problems` to report.
    pub fn resolve(&mut self, scenario_path: &Path) {
        if let (Some(file), Some(dir)) = (&self.file, self.context_dir(scenario_path)) {
            self.file_text = std::fs::read_to_string(dir.join(file)).ok();
        }
    }

    /// The flags of the Dockerfile's `RUN` instructions as written
    /// (`--network=host`, `--security=insecure`, `--mount=type=cache,...`),
    /// continuation lines joined.
    pub fn run_flags(&self) -> Vec<String> {
        let text = self.dockerfile.as_deref().or(self.file_text.as_deref());
        let joined = text.unwrap_or_default().replace("\\\n", " ");
        let mut out = Vec::new();
        for line in joined.lines() {
            let mut words = line.split_whitespace();
            if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("run")) {
                continue;
            }
            for w in words {
                match w.starts_with("--") {
                    true => out.push(w.to_string()),
                    false => break,
                }
            }
        }
        out
    }
}

/// Finds the n-th (from 0) `key:` of a file: its line and column.
pub type Locate<'a> = dyn Fn(&str, usize) -> Option<(u64, u64)> + 'a;

/// Every problem of a `build:` key serde cannot express, with its lint
/// rule name; `locate` finds the n-th `key:` of the file.
pub fn problems(
    path: &Path,
    text: &str,
    build: &Build,
    locate: &Locate<'_>,
) -> Vec<(&'static str, YamlError)> {
    let at = |key: &str, message: String| {
        let (line, column) = locate(key, 0).unwrap_or((1, 1));
        YamlError::at(path, text, line, column, message)
    };
    let mut out = Vec::new();
    match (&build.dockerfile, &build.file) {
        (Some(_), Some(_)) => out.push((
            "build-dockerfile",
            at(
                "file",
                "build: give the Dockerfile inline (`dockerfile`) or as a `file`, not both".into(),
            ),
        )),
        (None, None) => out.push((
            "build-dockerfile",
            at(
                "build",
                "build needs a Dockerfile: `dockerfile: |` (inline) or `file: PATH`".into(),
            ),
        )),
        (Some(d), None) if d.trim().is_empty() => out.push((
            "build-dockerfile",
            at("dockerfile", "build.dockerfile is empty".into()),
        )),
        _ => {}
    }
    if let Some(dir) = build.context_dir(path) {
        if !dir.is_dir() {
            out.push((
                "build-context",
                at(
                    if build.context.is_some() {
                        "context"
                    } else {
                        "build"
                    },
                    format!(
                        "build context {} is not a folder (it is relative to the scenario file)",
                        dir.display()
                    ),
                ),
            ));
        } else if let Some(file) = &build.file {
            if !dir.join(file).is_file() {
                out.push((
                    "build-file",
                    at(
                        "file",
                        format!(
                            "build.file {file} is not a file in the context {}",
                            dir.display()
                        ),
                    ),
                ));
            }
        }
    }
    for name in build.args.keys() {
        if name.is_empty() || name.contains(['=', ' ']) {
            out.push((
                "build-args",
                at(
                    "args",
                    format!("build argument name {name:?} is not a name"),
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::scenario::{ScenarioFile, locate_nth_key};
    use rstest::rstest;

    fn parse(path: &Path, text: &str) -> Result<ScenarioFile, YamlError> {
        let f: ScenarioFile = crate::load::yaml::from_str(path, text)?;
        let b = f.build.as_ref().expect("a build scenario");
        match problems(path, text, b, &|k, n| locate_nth_key(text, k, n))
            .into_iter()
            .next()
        {
            Some((_, e)) => Err(e),
            None => Ok(f),
        }
    }

    #[test]
    fn the_design_example_loads() {
        let text = "description: d\nbuild:\n  dockerfile: |\n    FROM busybox\n    RUN mknod /tmp/n c 1 3 && echo made\n  context: .\n  network: host\n  entitlements: [network.host, security.insecure]\n  args: { A: \"1\" }\n";
        let dir = tempfile::tempdir().unwrap();
        let f = parse(&dir.path().join("s.yaml"), text).unwrap();
        let b = f.build.unwrap();
        assert_eq!(b.network, BuildNetwork::Host);
        assert_eq!(
            b.entitlements,
            [Entitlement::NetworkHost, Entitlement::SecurityInsecure]
        );
        assert_eq!(b.args["A"], "1");
        assert_eq!(
            b.context_dir(&dir.path().join("s.yaml")).unwrap(),
            dir.path().canonicalize().unwrap()
        );
    }

    #[rstest]
    #[case::unknown_key(
        "description: d\nbuild:\n  dockerfile: x\n  netwrk: host\n",
        4,
        "unknown field `netwrk`"
    )]
    #[case::bad_network(
        "description: d\nbuild:\n  dockerfile: x\n  network: bridge\n",
        4,
        "bridge"
    )]
    #[case::bad_entitlement(
        "description: d\nbuild:\n  dockerfile: x\n  entitlements: [device]\n",
        4,
        "device"
    )]
    #[case::both(
        "description: d\nbuild:\n  dockerfile: x\n  file: Dockerfile\n",
        4,
        "not both"
    )]
    #[case::neither("description: d\nbuild:\n  network: none\n", 2, "needs a Dockerfile")]
    #[case::no_context(
        "description: d\nbuild:\n  dockerfile: x\n  context: nowhere\n",
        4,
        "not a folder"
    )]
    #[case::no_file("description: d\nbuild:\n  file: Nope\n", 3, "not a file")]
    fn errors_name_the_line(#[case] text: &str, #[case] line: u64, #[case] needle: &str) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        let err = parse(&path, text).unwrap_err();
        assert_eq!(err.line, line, "{err}");
        assert!(err.to_string().contains(needle), "{err}");
        assert!(
            err.to_string().starts_with(&format!("{}:", path.display())),
            "{err}"
        );
    }

    #[test]
    fn run_flags_are_read_as_written() {
        let b: Build = crate::load::yaml::from_str(
            Path::new("b.yaml"),
            "dockerfile: |\n  FROM busybox\n  RUN --network=host --security=insecure \\\n    --mount=type=cache,target=/c echo --not-a-flag\n  run echo x\n",
        )
        .unwrap();
        assert_eq!(
            b.run_flags(),
            [
                "--network=host",
                "--security=insecure",
                "--mount=type=cache,target=/c"
            ]
        );
    }

    #[test]
    fn the_network_host_entitlement_is_the_host_network() {
        let b: Build = crate::load::yaml::from_str(
            Path::new("b.yaml"),
            "builder: classic\ndockerfile: x\nentitlements: [network.host]\n",
        )
        .unwrap();
        assert_eq!(b.network_mode(), BuildNetwork::Host);
        let b: Build = crate::load::yaml::from_str(
            Path::new("b.yaml"),
            "dockerfile: x\nentitlements: [network.host]\n",
        )
        .unwrap();
        assert_eq!(b.builder, BuilderKind::Buildkit);
        assert_eq!(b.network_mode(), BuildNetwork::None, "granted, not imposed");
    }
}
