//! The scenario keys of real workloads: the image (a name, or a folder to
//! build), a long-running service's readiness check, and the steps run
//! inside it once it is up.
//!
//! Owns the author-facing types of DESIGN.md's "Real workloads" section
//! (`image: NAME | { build: DIR }`, `ready:`, `steps:`), their schemas, and
//! the checks serde cannot express (one readiness kind, unique step names,
//! a build folder with a Dockerfile, declared steps that exist), each
//! located at its key. It runs nothing: `run::service` drives these and
//! `run::engine::images` builds the images.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::load::container::{KeyValues, deserialize_key_values};
use crate::load::duration::Timeout;
use crate::load::yaml::YamlError;

/// The image a scenario runs in when it names none: busybox plus the probe,
/// built locally in each engine.
pub const DEFAULT_IMAGE: &str = "parity-probe";

/// The image a scenario runs in: a name the engine has (or can pull), or a
/// folder whose Dockerfile parity builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// `busybox:latest`, `debian:bookworm`, or parity's own `parity-probe`.
    Name(String),
    /// `{ build: DIR }`: DIR (as written, relative to the scenario file)
    /// holds a Dockerfile.
    Build(PathBuf),
}

impl Default for ImageRef {
    fn default() -> Self {
        ImageRef::Name(DEFAULT_IMAGE.to_string())
    }
}

impl ImageRef {
    /// The image name, when the scenario names one other than parity's own.
    pub fn named(&self) -> Option<&str> {
        match self {
            ImageRef::Name(n) if n != DEFAULT_IMAGE => Some(n),
            _ => None,
        }
    }

    /// The folder to build, resolved against the scenario file's folder.
    pub fn build_dir(&self, scenario_path: &Path) -> Option<PathBuf> {
        match self {
            ImageRef::Build(dir) => {
                let base = scenario_path.parent().unwrap_or(Path::new("."));
                let joined = base.join(dir);
                Some(joined.canonicalize().unwrap_or(joined))
            }
            ImageRef::Name(_) => None,
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Name(n) => f.write_str(n),
            ImageRef::Build(dir) => write!(f, "{{ build: {} }}", dir.display()),
        }
    }
}

impl Serialize for ImageRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ImageRef::Name(n) => s.serialize_str(n),
            ImageRef::Build(dir) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("build", &dir.display().to_string())?;
                m.end()
            }
        }
    }
}

/// A string or a `{ build: DIR }` map, written as a visitor (not
/// `untagged`) so that a wrong key or type is reported where it stands.
impl<'de> Deserialize<'de> for ImageRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ImageRef;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an image name, or { build: DIR } (a folder with a Dockerfile)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ImageRef, E> {
                if v.trim().is_empty() {
                    return Err(E::invalid_value(de::Unexpected::Str(v), &self));
                }
                Ok(ImageRef::Name(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ImageRef, A::Error> {
                let mut build: Option<String> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "build" if build.is_some() => {
                            return Err(de::Error::duplicate_field("build"));
                        }
                        "build" => build = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, &["build"])),
                    }
                }
                match build {
                    Some(dir) if !dir.trim().is_empty() => Ok(ImageRef::Build(PathBuf::from(dir))),
                    Some(dir) => Err(de::Error::invalid_value(
                        de::Unexpected::Str(&dir),
                        &"a folder with a Dockerfile",
                    )),
                    None => Err(de::Error::missing_field("build")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for ImageRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Image".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An image the engine has (pulled where a registry answers), or `{ build: DIR }`: a folder with a Dockerfile, relative to the scenario file, built once per engine and content and tagged `parity-build/<hash>`.",
            "oneOf": [
                { "type": "string", "minLength": 1 },
                {
                    "type": "object",
                    "properties": {
                        "build": {
                            "type": "string",
                            "minLength": 1,
                            "description": "A folder with a Dockerfile, relative to the scenario file."
                        }
                    },
                    "required": ["build"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// When a long-running service is up: exactly one of `log`, `exec`,
/// `file`, checked until `timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    /// A regular expression matched against each line of the container's
    /// stdout and stderr as they are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// A command run inside the container (as an exec) until it exits 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<Vec<String>>,
    /// A path inside the container that exists once the service is up
    /// (checked by the probe, so tmpfs and /run are seen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// How long to wait; not ready by then is an observation (compared),
    /// like a service that exits first.
    #[serde(default = "default_ready_timeout")]
    pub timeout: Timeout,
    /// Do not run the steps when the service is not ready (default: they
    /// are still attempted, and the service's output says why it is not).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_on_failure: bool,
}

fn default_ready_timeout() -> Timeout {
    Timeout(Duration::from_secs(60))
}

/// What a readiness check waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyCheck<'a> {
    Log(&'a str),
    Exec(&'a [String]),
    File(&'a str),
}

impl Ready {
    /// The check, when exactly one kind is given (validation ensures it).
    pub fn check(&self) -> Option<ReadyCheck<'_>> {
        match (&self.log, &self.exec, &self.file) {
            (Some(l), None, None) => Some(ReadyCheck::Log(l)),
            (None, Some(e), None) => Some(ReadyCheck::Exec(e)),
            (None, None, Some(f)) => Some(ReadyCheck::File(f)),
            _ => None,
        }
    }
}

/// A command run inside the running service container with the engine's
/// exec, observed and compared like a run of its own (by name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique within the scenario; steps are compared by name and named in
    /// verdicts, snapshots (`steps/NAME/FIELD`) and `expect.diverges`.
    pub name: String,
    /// The command's argv.
    pub run: Vec<String>,
    /// Time limit of this step (default: the scenario's `timeout`); past it
    /// the step's exit code is `timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Timeout>,
    /// User to run as, `uid[:gid]` or a name (default: the container's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Extra environment variables, as a map or a list of `KEY=VALUE`.
    #[serde(
        default,
        deserialize_with = "deserialize_key_values",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[schemars(with = "KeyValues")]
    pub environment: BTreeMap<String, String>,
    /// Working directory of the command (default: the container's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// When this step does not exit 0, the later steps are not run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop_on_failure: bool,
    /// In a stack scenario: the service the exec runs in (may be left out
    /// when the stack has one service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// The service keys of one scenario file, as validation reads them (the
/// scenario module hands them over; this module does not know its type).
pub struct Keys<'a> {
    pub image: &'a ImageRef,
    pub ready: Option<&'a Ready>,
    pub steps: &'a [Step],
    /// Each `expect.diverges` entry's runtime and `steps`, in order.
    pub declared_steps: &'a [(&'a str, &'a [String])],
    /// A build scenario: its steps are the Dockerfile's (`step N/M: ...`
    /// with the classic builder, `[N/M] ...` with BuildKit) and the built
    /// `image`, named by the build, not by `steps:`.
    pub is_build: bool,
    /// A stack's services: `expect.diverges[].steps` may name them too.
    pub services: &'a [String],
    /// Line and column of the n-th (from 0) `key:` of the file.
    pub locate: &'a Locate<'a>,
}

/// Finds the n-th (from 0) `key:` of a file: its line and column.
pub type Locate<'a> = dyn Fn(&str, usize) -> Option<(u64, u64)> + 'a;

/// Every problem of the service keys that serde cannot express, as
/// `(lint rule, located error)`. `path` is the scenario file (build folders
/// resolve against it).
pub fn problems(path: &Path, text: &str, file: &Keys<'_>) -> Vec<(&'static str, YamlError)> {
    let at = |key: &str, nth: usize, message: String| {
        let (line, column) = (file.locate)(key, nth)
            .or_else(|| (file.locate)(key, 0))
            .unwrap_or((1, 1));
        YamlError::at(path, text, line, column, message)
    };
    let mut out = Vec::new();
    if let ImageRef::Build(dir) = file.image {
        let full = file.image.build_dir(path).unwrap_or_else(|| dir.clone());
        if !full.join("Dockerfile").is_file() {
            out.push((
                "image-build",
                at(
                    "build",
                    0,
                    format!(
                        "image build folder {} has no Dockerfile (looked for {})",
                        dir.display(),
                        full.join("Dockerfile").display()
                    ),
                ),
            ));
        }
    }
    if let Some(ready) = file.ready {
        let kinds = [
            ready.log.is_some(),
            ready.exec.is_some(),
            ready.file.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() != 1 {
            out.push((
                "ready",
                at(
                    "ready",
                    0,
                    "ready needs exactly one of log (a regex), exec (a command) or file (a path)"
                        .into(),
                ),
            ));
        }
        if let Some(Err(e)) = ready.log.as_deref().map(regex::Regex::new) {
            out.push((
                "ready",
                at(
                    "log",
                    0,
                    format!("ready.log {:?} does not compile: {e}", ready.log),
                ),
            ));
        }
        if ready.exec.as_ref().is_some_and(Vec::is_empty) {
            out.push((
                "ready",
                at(
                    "exec",
                    0,
                    "ready.exec must name at least the program to run".into(),
                ),
            ));
        }
        if ready.file.as_ref().is_some_and(|f| !f.starts_with('/')) {
            out.push((
                "ready",
                at(
                    "file",
                    0,
                    "ready.file must be an absolute path in the container".into(),
                ),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, step) in file.steps.iter().enumerate() {
        let name = step.name.trim();
        if name.is_empty() || name.contains('/') {
            out.push((
                "step-name",
                at(
                    "name",
                    i,
                    "a step needs a name, without '/' (it names the step in verdicts and snapshots)"
                        .into(),
                ),
            ));
        } else if !seen.insert(name) {
            out.push((
                "step-name",
                at(
                    "name",
                    i,
                    format!("two steps are named {name:?}; names must be unique"),
                ),
            ));
        }
        if step.run.is_empty() {
            out.push((
                "step-run",
                at(
                    "run",
                    i,
                    format!(
                        "step {:?}: run must name at least the program to run",
                        step.name
                    ),
                ),
            ));
        }
    }
    let mut nth_steps_key = 0;
    // `steps:` keys in file order: the scenario's own list comes first when
    // it precedes `expect`.
    let own_first = !file.steps.is_empty()
        && (file.locate)("steps", 0)
            .zip((file.locate)("expect", 0))
            .is_some_and(|(s, e)| s < e);
    for (runtime, declared) in file.declared_steps {
        if declared.is_empty() {
            continue;
        }
        let nth = nth_steps_key + usize::from(own_first);
        nth_steps_key += 1;
        for s in declared.iter() {
            // Classic steps (`step N/M: ...`), BuildKit's (`[N/M] ...`,
            // `[STAGE N/M] ...`) and the built `image`.
            if file.is_build && (s == "image" || s.starts_with("step ") || s.starts_with('[')) {
                continue;
            }
            if !file.steps.iter().any(|st| &st.name == s) && !file.services.contains(s) {
                let known: Vec<&str> = file.steps.iter().map(|s| s.name.as_str()).collect();
                out.push((
                    "expect-steps",
                    at(
                        "steps",
                        nth,
                        format!(
                            "the divergence for {runtime} names step {s:?}, which the scenario does not have (steps: {})",
                            if known.is_empty() { "none".to_string() } else { known.join(", ") }
                        ),
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::scenario::ScenarioFile;
    use crate::load::yaml;
    use rstest::rstest;

    fn parse(text: &str) -> Result<ScenarioFile, YamlError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/services/s.yaml");
        let f: ScenarioFile = yaml::from_str(&path, text)?;
        match crate::load::scenario::problems(&path, text, &f)
            .into_iter()
            .next()
        {
            Some((_, e)) => Err(e),
            None => Ok(f),
        }
    }

    /// DESIGN.md's example, as written there.
    const DESIGN: &str = r#"
description: Docker inside the container, as CI runners and dev containers do
image: { build: ../images/dind }   # a folder with a Dockerfile, relative to the scenario file
# image: debian:bookworm        # or any image name
command: [dockerd, --host=unix:///run/docker.sock]   # the service; it keeps running
ready:                          # when the service is up; one of log / exec / file
  log: "API listen on /run/docker.sock"   # regex over the container's stdout+stderr
  # exec: [docker, info]        # a command that exits 0
  # file: /run/docker.sock
  timeout: 90s                  # not ready by then: the observation says so (compared)
steps:                          # run in order with exec once ready; each observed and compared
  - name: info
    run: [docker, info, --format, "{{.Driver}}"]
  - name: inner container
    run: [sh, -c, "docker load -i /images/busybox.tar && docker run --rm busybox echo hi"]
    timeout: 60s
    user: "0"                   # optional, like exec: user, environment, working_dir
"#;

    #[test]
    fn the_design_example_loads_as_written() {
        let f = parse(DESIGN).unwrap();
        assert_eq!(f.image, ImageRef::Build("../images/dind".into()));
        assert!(f.is_service());
        let ready = f.ready.as_ref().unwrap();
        assert_eq!(
            ready.check(),
            Some(ReadyCheck::Log("API listen on /run/docker.sock"))
        );
        assert_eq!(ready.timeout.0, Duration::from_secs(90));
        assert_eq!(f.steps.len(), 2);
        assert_eq!(f.steps[1].name, "inner container");
        assert_eq!(f.steps[1].timeout, Some(Timeout(Duration::from_secs(60))));
        assert_eq!(f.steps[1].user.as_deref(), Some("0"));
        assert!(!f.steps[0].stop_on_failure);
    }

    #[test]
    fn every_step_key_loads() {
        let f = parse(
            "description: d\nimage: debian:bookworm\ncommand: [sleep, infinity]\nready: { exec: [\"true\"], stop_on_failure: true }\nsteps:\n  - name: a\n    run: [env]\n    environment: [A=1]\n    working_dir: /tmp\n    stop_on_failure: true\n  - { name: b, run: [id], environment: { B: 2 } }\n",
        )
        .unwrap();
        assert_eq!(f.image, ImageRef::Name("debian:bookworm".into()));
        assert_eq!(f.image.named(), Some("debian:bookworm"));
        assert_eq!(f.ready.as_ref().unwrap().timeout.0, Duration::from_secs(60));
        assert!(f.ready.as_ref().unwrap().stop_on_failure);
        assert_eq!(f.steps[0].environment["A"], "1");
        assert_eq!(f.steps[1].environment["B"], "2");
        assert!(f.steps[0].stop_on_failure);
        assert_eq!(f.steps[0].working_dir.as_deref(), Some("/tmp"));
    }

    #[test]
    fn images_round_trip_in_both_forms() {
        for text in ["busybox:latest", "{ build: ../images/dind }"] {
            let i: ImageRef = yaml::from_str(Path::new("i.yaml"), text).unwrap();
            let back = serde_json::to_value(&i).unwrap();
            let again: ImageRef = serde_json::from_value(back).unwrap();
            assert_eq!(i, again);
        }
        let f = parse("description: d\ncommand: [x]\n").unwrap();
        assert_eq!(f.image, ImageRef::default());
        assert_eq!(f.image.named(), None);
        assert!(!f.is_service());
    }

    #[rstest]
    #[case::unknown_image_key("description: d\nimage: { biuld: x }\ncommand: [x]\n", 2, "biuld")]
    #[case::image_number("description: d\nimage: 3\ncommand: [x]\n", 2, "image name")]
    #[case::no_dockerfile(
        "description: d\nimage: { build: nowhere }\ncommand: [x]\n",
        2,
        "no Dockerfile"
    )]
    #[case::two_kinds(
        "description: d\ncommand: [x]\nready:\n  log: a\n  file: /b\n",
        3,
        "exactly one of"
    )]
    #[case::no_kind(
        "description: d\ncommand: [x]\nready: { timeout: 3s }\n",
        3,
        "exactly one of"
    )]
    #[case::bad_regex(
        "description: d\ncommand: [x]\nready:\n  log: \"(\"\n",
        4,
        "does not compile"
    )]
    #[case::relative_file("description: d\ncommand: [x]\nready:\n  file: run/x\n", 4, "absolute")]
    #[case::unknown_ready_key("description: d\ncommand: [x]\nready:\n  lgo: a\n", 4, "lgo")]
    #[case::unknown_step_key(
        "description: d\ncommand: [x]\nsteps:\n  - name: a\n    run: [x]\n    usr: \"0\"\n",
        6,
        "usr"
    )]
    #[case::duplicate_step(
        "description: d\ncommand: [x]\nsteps:\n  - name: a\n    run: [x]\n  - name: a\n    run: [y]\n",
        6,
        "unique"
    )]
    #[case::empty_run(
        "description: d\ncommand: [x]\nsteps:\n  - name: a\n    run: [x]\n  - name: b\n    run: []\n",
        7,
        "run must name"
    )]
    #[case::unknown_declared_step(
        "description: d\ncommand: [x]\nsteps:\n  - name: a\n    run: [x]\nexpect:\n  diverges:\n    - runtime: r\n      steps: [b]\n      reason: r\n",
        9,
        "does not have"
    )]
    fn errors_name_the_line(#[case] text: &str, #[case] line: u64, #[case] needle: &str) {
        let err = parse(text).unwrap_err();
        assert_eq!(err.line, line, "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }
}
