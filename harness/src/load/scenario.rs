//! Scenario files: their format, loading, validation and discovery.
//!
//! Owns `scenarios/AREA/NAME.yaml` as DESIGN.md specifies it: the typed
//! [`Scenario`], its id (the path under the scenarios root without `.yaml`),
//! and every load error with file, line and column. It does not run anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::load::build::Build;
use crate::load::container::ContainerSpec;
pub use crate::load::duration::Timeout;
use crate::load::host::HostCondition;
pub use crate::load::service::DEFAULT_IMAGE;
use crate::load::service::{ImageRef, Ready, Step};
use crate::load::stack::{HostAccess, NetworkDef, Stack, StackService, VolumeDef};
use crate::load::walk::{self, WalkError};
use crate::load::yaml::{self, YamlError};

/// One container workload, as written by a scenario author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "parity scenario",
    description = "One container workload that parity runs under a baseline runtime and candidate runtimes, comparing what it did. See docs/scenario-authoring.md."
)]
pub struct ScenarioFile {
    /// What the workload does and why it matters.
    pub description: String,
    /// Free-form labels for `--tag` selection, e.g. `mounts`, `caps`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Image to run: a name, or `{ build: DIR }`; default: the harness's
    /// own busybox + probe image.
    #[serde(default)]
    #[schemars(default = "default_image")]
    pub image: ImageRef,
    /// The workload's argv (the container command); for a service scenario,
    /// the service, which keeps running while the steps run. A build
    /// scenario has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// A Dockerfile built on each side's builder (makes this a build
    /// scenario): the build's outcome, each step and the built image are
    /// observed and compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<Build>,
    /// When the service is up (makes this a service scenario).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<Ready>,
    /// Commands run in order inside the running service with the engine's
    /// exec, each observed and compared by name (makes this a service
    /// scenario).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Compose-spec container options.
    #[serde(default)]
    pub container: ContainerSpec,
    /// Per-run time limit; a run past it is killed and observed as
    /// `timeout`. For a service scenario: each step's default limit.
    #[serde(default = "default_timeout")]
    pub timeout: Timeout,
    /// Runs per runtime; disagreement within one runtime is `flaky`.
    #[serde(default = "default_repeat")]
    pub repeat: u32,
    /// Observed fields; default `[exit_code, stdout, stderr, syscalls, mounts]`.
    #[serde(default = "Field::default_set")]
    pub observe: Vec<Field>,
    /// Rewrites applied to output, mount and syscall text before comparing.
    #[serde(default)]
    pub normalize: Vec<NormalizeRule>,
    /// Declared, known differences; default: parity on every observed field.
    #[serde(default)]
    pub expect: Expect,
    /// The rows of `docs/catalog.md` this scenario covers (their ids, e.g.
    /// `S9`), including rows where the runtimes must agree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub covers: Vec<String>,
    /// A stack scenario's services, one container per service and side
    /// (Compose's form); with `compose:`, the names of the Compose file's
    /// services to take (default all).
    #[serde(default, skip_serializing_if = "Services::is_empty")]
    pub services: Services,
    /// A Compose file (relative to the scenario file) whose services,
    /// networks and volumes make this a stack scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<String>,
    /// A stack's named volumes: made per side and run, removed after.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Option<VolumeDef>>,
    /// A stack's networks: made per side and run, removed after (default:
    /// one network, `default`, for the services that name none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Option<NetworkDef>>,
    /// What of the host a stack may use: `network` (`network_mode: host`),
    /// `ports` (accepted, never published).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_host: Vec<HostAccess>,
}

impl ScenarioFile {
    /// A service scenario: the container keeps running while readiness is
    /// awaited and the steps run inside it.
    pub fn is_service(&self) -> bool {
        self.build.is_none() && !self.is_stack() && (self.ready.is_some() || !self.steps.is_empty())
    }

    /// A build scenario: a Dockerfile built on each side.
    pub fn is_build(&self) -> bool {
        self.build.is_some()
    }

    /// A stack scenario: several services started together on each side.
    pub fn is_stack(&self) -> bool {
        !self.services.is_empty() || self.compose.is_some()
    }

    /// The container options of each container the scenario runs: its
    /// own, or each service's of a stack (with the service's name).
    pub fn containers(&self) -> Vec<(Option<&str>, &ContainerSpec)> {
        match &self.services {
            Services::Defined(m) if !m.is_empty() => m
                .iter()
                .map(|(n, s)| (Some(n.as_str()), &s.container))
                .collect(),
            _ => vec![(None, &self.container)],
        }
    }

    /// The stack keys, once the services are known (inline, or read from
    /// the Compose file at load).
    pub fn stack(&self) -> Option<Stack<'_>> {
        match &self.services {
            Services::Defined(services) if !services.is_empty() => Some(Stack {
                services,
                volumes: &self.volumes,
                networks: &self.networks,
                allow_host: &self.allow_host,
            }),
            _ => None,
        }
    }
}

/// `services:`: a stack's services, or (beside `compose:`) the names of
/// the Compose file's services to take.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Services {
    Defined(BTreeMap<String, StackService>),
    Selected(Vec<String>),
}

impl Default for Services {
    fn default() -> Self {
        Services::Defined(BTreeMap::new())
    }
}

impl Services {
    pub fn is_empty(&self) -> bool {
        match self {
            Services::Defined(m) => m.is_empty(),
            Services::Selected(v) => v.is_empty(),
        }
    }
}

impl<'de> Deserialize<'de> for Services {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Services;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of service name to service, or (with `compose:`) a list of service names")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Services, A::Error> {
                let mut out = Vec::new();
                while let Some(n) = seq.next_element::<String>()? {
                    out.push(n);
                }
                Ok(Services::Selected(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Services, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, Option<StackService>>()? {
                    out.insert(k, v.unwrap_or_default());
                }
                Ok(Services::Defined(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn default_image() -> ImageRef {
    ImageRef::default()
}
fn default_timeout() -> Timeout {
    Timeout(Duration::from_secs(30))
}
fn default_repeat() -> u32 {
    1
}

/// A loaded scenario with its identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Path under the scenarios root without `.yaml`, e.g. `mounts/tmpfs`.
    pub id: String,
    pub path: PathBuf,
    pub file: ScenarioFile,
}

/// An observable field of a run.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Whether the engine created and started the container, or its refusal.
    Engine,
    /// Whether a service became ready (a service scenario with `ready:`).
    Ready,
    /// How the workload ended: a number, `signal: NAME`, `oom` or `timeout`.
    ExitCode,
    /// The workload's standard output (capped).
    Stdout,
    /// The workload's standard error (capped).
    Stderr,
    /// Distinct (syscall, outcome, key argument) triples from the probe's tracer.
    Syscalls,
    /// What the workload changed in the mount table.
    Mounts,
    /// The whole mount table after the workload ran (opt-in).
    MountTable,
    /// Capability sets of the workload (opt-in).
    Capabilities,
    /// uid and gid maps of the container's user namespace (opt-in).
    IdMaps,
    /// Seccomp mode, no_new_privs and LSM label (opt-in).
    Security,
    /// The /dev listing (opt-in).
    Devices,
}

impl Field {
    pub const ALL: [Field; 12] = [
        Field::Engine,
        Field::Ready,
        Field::ExitCode,
        Field::Stdout,
        Field::Stderr,
        Field::Syscalls,
        Field::Mounts,
        Field::MountTable,
        Field::Capabilities,
        Field::IdMaps,
        Field::Security,
        Field::Devices,
    ];

    pub fn default_set() -> Vec<Field> {
        vec![
            Field::ExitCode,
            Field::Stdout,
            Field::Stderr,
            Field::Syscalls,
            Field::Mounts,
        ]
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::Engine => "engine",
            Field::ExitCode => "exit_code",
            Field::Ready => "ready",
            Field::Stdout => "stdout",
            Field::Stderr => "stderr",
            Field::Syscalls => "syscalls",
            Field::Mounts => "mounts",
            Field::MountTable => "mount_table",
            Field::Capabilities => "capabilities",
            Field::IdMaps => "id_maps",
            Field::Security => "security",
            Field::Devices => "devices",
        }
    }

    /// Fields only the probe inside the container can observe.
    pub fn needs_probe(self) -> bool {
        !matches!(
            self,
            Field::Engine | Field::Ready | Field::ExitCode | Field::Stdout | Field::Stderr
        )
    }

    /// Whether scenario `normalize:` rules apply to this field's text.
    pub fn is_normalized(self) -> bool {
        matches!(
            self,
            Field::Stdout | Field::Stderr | Field::Syscalls | Field::Mounts | Field::MountTable
        )
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A regex rewrite of observed text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NormalizeRule {
    /// A regular expression (Rust `regex` syntax).
    pub pattern: String,
    /// Replacement; `$1` and `${name}` refer to groups.
    #[serde(default)]
    pub replace: String,
    /// Fields the rule applies to; default: every normalized field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<Field>,
}

/// What the author expects to differ.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Known divergences, one per candidate runtime (or several with
    /// different fields).
    #[serde(default)]
    pub diverges: Vec<Divergence>,
}

/// A known difference of one candidate runtime from the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Divergence {
    /// The candidate runtime profile's name, e.g. `sysbox-runc`.
    pub runtime: String,
    /// The host facts it was measured or documented for (cgroup version,
    /// AppArmor, SELinux, engine and kernel versions); elsewhere it is not
    /// used. Default: every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostCondition>,
    /// The fields that differ; empty means any field.
    #[serde(default)]
    pub fields: Vec<Field>,
    /// The steps (by name) whose fields differ; empty means the run's own
    /// fields and every step's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// Why it differs, in a sentence.
    pub reason: String,
    /// Where it is documented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// How the divergence is known: `measured` on a real engine,
    /// `documented` by the runtime's own docs or tests, or `inferred`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<Known>,
    /// Where it was measured (engine, runtime and kernel versions) or read:
    /// free text, e.g. `Sysbox 0.7.0 on Docker 28, issue 14`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The `docs/catalog.md` rows this divergence is an instance of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub covers: Vec<String>,
}

/// How a declared divergence is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Known {
    /// Observed on a real engine running the runtime (say which in `source`).
    Measured,
    /// Stated by the runtime's documentation, code or tests (give `link`).
    Documented,
    /// Deduced from kernel or Docker semantics; nobody has observed it.
    Inferred,
}

impl Known {
    pub fn name(self) -> &'static str {
        match self {
            Known::Measured => "measured",
            Known::Documented => "documented",
            Known::Inferred => "inferred",
        }
    }
}

impl Divergence {
    /// Whether this entry covers a difference in `field` of the run itself
    /// (`step` is `None`) or of the named step.
    pub fn covers(&self, field: Field, step: Option<&str>) -> bool {
        let field_ok = self.fields.is_empty() || self.fields.contains(&field);
        let step_ok =
            self.steps.is_empty() || step.is_some_and(|s| self.steps.iter().any(|n| n == s));
        field_ok && step_ok
    }

    /// Whether a sign-off should see this expectation apart: it is
    /// inferred, or nobody said how it is known.
    pub fn rests_on_inference(&self) -> bool {
        matches!(self.known, None | Some(Known::Inferred))
    }

    /// How it is known, for people: `measured (Sysbox 0.7.0)`,
    /// `documented`, `inferred`, or `not stated`.
    pub fn known_text(&self) -> String {
        match (self.known, &self.source) {
            (None, _) => "not stated".into(),
            (Some(k), Some(src)) => format!("{} ({src})", k.name()),
            (Some(k), None) => k.name().into(),
        }
    }

    /// The declared fields for people: `exit_code, stderr`, or `any field`.
    pub fn fields_text(&self) -> String {
        let fields = if self.fields.is_empty() {
            "any field".to_string()
        } else {
            self.fields
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.steps.as_slice() {
            [] => fields,
            steps => format!("{fields} of step(s) {}", steps.join(", ")),
        }
    }
}

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ScenarioError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Yaml(#[from] YamlError),
    #[error("{} is not under the scenarios root {}", path.display(), root.display())]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("{}: no scenario files found", path.display())]
    Empty { path: PathBuf },
    #[error(transparent)]
    Walk(#[from] WalkError),
}

impl Scenario {
    /// Loads one scenario file; its id is its path under `root`.
    pub fn load(root: &Path, path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut file: ScenarioFile = yaml::from_str(path, &text)?;
        validate(path, &text, &file)?;
        if let Some(b) = &mut file.build {
            b.resolve(path);
        }
        if file.compose.is_some() {
            resolve_compose(path, &text, &mut file)?;
        }
        Ok(Scenario {
            id: scenario_id(root, path)?,
            path: path.to_path_buf(),
            file,
        })
    }

    /// The fields compared, always including whether the engine ran it.
    pub fn observed(&self) -> BTreeSet<Field> {
        if self.file.is_build() {
            // A build's outcome, its steps' output, and the built image
            // (as the `image` step's output): what `run::build` observes.
            return BTreeSet::from([Field::Engine, Field::ExitCode, Field::Stdout, Field::Stderr]);
        }
        let mut set: BTreeSet<Field> = self.file.observe.iter().copied().collect();
        set.insert(Field::Engine);
        if let Some(stack) = self.file.stack() {
            // Each service's start, readiness, exit and output; the probe
            // does not go into a stack's services.
            set.retain(|f| !f.needs_probe());
            if stack
                .services
                .values()
                .any(|s| s.ready.is_some() || s.healthcheck.as_ref().is_some_and(|h| h.active()))
            {
                set.insert(Field::Ready);
            }
            return set;
        }
        if self.file.ready.is_some() {
            set.insert(Field::Ready);
        }
        set
    }

    pub fn needs_probe(&self) -> bool {
        !self.file.is_build()
            && !self.file.is_stack()
            && self.file.observe.iter().any(|f| f.needs_probe())
    }

    /// The declared divergences for one candidate runtime.
    pub fn expected_for<'a>(
        &'a self,
        runtime: &'a str,
    ) -> impl Iterator<Item = &'a Divergence> + 'a {
        self.file
            .expect
            .diverges
            .iter()
            .filter(move |d| d.runtime == runtime)
    }
}

/// Checks that serde cannot express, located at the offending key: the
/// first problem, as loading reports it.
fn validate(path: &Path, text: &str, file: &ScenarioFile) -> Result<(), YamlError> {
    match problems(path, text, file).into_iter().next() {
        Some((_, err)) => Err(err),
        None => Ok(()),
    }
}

/// Every problem serde cannot express, each with its lint rule name and
/// located at the offending key (the n-th occurrence for list items).
pub fn problems(path: &Path, text: &str, file: &ScenarioFile) -> Vec<(&'static str, YamlError)> {
    let at = |key: &str, nth: usize, message: String| {
        let (line, column) = locate_nth_key(text, key, nth)
            .or_else(|| locate_key(text, key))
            .unwrap_or((1, 1));
        YamlError::at(path, text, line, column, message)
    };
    let mut out = Vec::new();
    let declared: Vec<(&str, &[String])> = file
        .expect
        .diverges
        .iter()
        .map(|d| (d.runtime.as_str(), d.steps.as_slice()))
        .collect();
    let service_names: Vec<String> = match &file.services {
        Services::Defined(m) => m.keys().cloned().collect(),
        Services::Selected(v) => v.clone(),
    };
    let keys = crate::load::service::Keys {
        services: &service_names,
        image: &file.image,
        ready: file.ready.as_ref(),
        steps: &file.steps,
        declared_steps: &declared,
        is_build: file.build.is_some(),
        locate: &|key, nth| locate_nth_key(text, key, nth),
    };
    out.extend(crate::load::service::problems(path, text, &keys));
    if let Some(build) = &file.build {
        out.extend(crate::load::build::problems(
            path,
            text,
            build,
            &|key, nth| locate_nth_key(text, key, nth),
        ));
        for key in ["command", "ready", "steps"] {
            let given = match key {
                "command" => !file.command.is_empty(),
                "ready" => file.ready.is_some(),
                _ => !file.steps.is_empty(),
            };
            if given {
                out.push((
                    "build-only",
                    at(
                        key,
                        0,
                        format!("a build scenario has no `{key}`: its steps are the Dockerfile's"),
                    ),
                ));
            }
        }
    } else if file.is_stack() {
        out.extend(stack_problems(path, text, file, &at));
    } else if file.command.is_empty() {
        out.push((
            "command",
            at(
                "command",
                0,
                "command must name at least the program to run".into(),
            ),
        ));
    }
    if file.repeat == 0 {
        out.push((
            "repeat",
            at("repeat", 0, "repeat must be at least 1".into()),
        ));
    }
    for (i, rule) in file.normalize.iter().enumerate() {
        if let Err(e) = regex::Regex::new(&rule.pattern) {
            out.push((
                "normalize-pattern",
                at(
                    "pattern",
                    i,
                    format!("normalize pattern {:?} does not compile: {e}", rule.pattern),
                ),
            ));
        }
    }
    for (n, h) in file
        .expect
        .diverges
        .iter()
        .filter_map(|d| d.host.as_ref())
        .enumerate()
    {
        for (key, message) in h.problems() {
            let (line, column) = locate_in_host(text, n, key).unwrap_or((1, 1));
            let err = YamlError::at(path, text, line, column, message);
            out.push(("expect-host", err));
        }
    }
    for (i, d) in file.expect.diverges.iter().enumerate() {
        if d.reason.trim().is_empty() {
            out.push((
                "expect-reason",
                at(
                    "reason",
                    i,
                    format!("the divergence for {} needs a reason", d.runtime),
                ),
            ));
        }
    }
    out
}

/// The checks of a stack scenario's own keys: no one-container keys
/// beside `services:`, steps naming a service, what parity refuses.
fn stack_problems(
    path: &Path,
    text: &str,
    file: &ScenarioFile,
    at: &dyn Fn(&str, usize, String) -> YamlError,
) -> Vec<(&'static str, YamlError)> {
    let mut out = Vec::new();
    let own = [
        ("command", !file.command.is_empty()),
        ("ready", file.ready.is_some()),
        ("container", file.container != ContainerSpec::default()),
        ("image", file.image != ImageRef::default()),
    ];
    for (key, given) in own {
        if given {
            out.push((
                "stack-only",
                at(
                    key,
                    0,
                    format!("a stack scenario has no top-level `{key}`: each service under `services:` has its own"),
                ),
            ));
        }
    }
    // The default set names the probe's fields; only a written one counts.
    let written = locate_key(text, "observe").is_some();
    if let Some(f) = file.observe.iter().find(|f| written && f.needs_probe()) {
        out.push((
            "stack-observe",
            at(
                "observe",
                0,
                format!("a stack observes each service's engine, ready, exit_code, stdout and stderr; `{f}` needs the probe, which does not go into a stack's services"),
            ),
        ));
    }
    if file.compose.is_some() && matches!(file.services, Services::Defined(ref m) if !m.is_empty())
    {
        out.push((
            "stack-compose",
            at(
                "services",
                0,
                "beside `compose:`, `services:` lists the Compose file's services to take (e.g. [web, db]), not their definitions".into(),
            ),
        ));
    }
    if file.compose.is_none() && matches!(file.services, Services::Selected(_)) {
        out.push((
            "stack-compose",
            at(
                "services",
                0,
                "a list of service names selects from a Compose file: add `compose: PATH`, or define the services as a map".into(),
            ),
        ));
    }
    let resolved;
    let (file, stack_path, stack_text) = match &file.compose {
        Some(_) => {
            let mut r = file.clone();
            match resolve_compose(path, text, &mut r) {
                Ok(compose) => {
                    resolved = (r, compose);
                    (
                        &resolved.0,
                        resolved.1.path.as_path(),
                        resolved.1.text.as_str(),
                    )
                }
                Err(e) => {
                    out.push(("compose", e));
                    return out;
                }
            }
        }
        None => (file, path, text),
    };
    let Some(stack) = file.stack() else {
        return out;
    };
    let locate = |key: &str, nth: usize| locate_nth_key(stack_text, key, nth);
    out.extend(crate::load::stack::problems(
        stack_path, stack_text, &stack, &locate,
    ));
    let names: Vec<&str> = stack.services.keys().map(String::as_str).collect();
    for (i, step) in file.steps.iter().enumerate() {
        match &step.service {
            None if names.len() > 1 => out.push((
                "step-service",
                at(
                    "name",
                    i,
                    format!(
                        "step {:?} needs `service:`, the service it runs in ({})",
                        step.name,
                        names.join(", ")
                    ),
                ),
            )),
            Some(s) if !stack.services.contains_key(s) => out.push((
                "step-service",
                at(
                    "name",
                    i,
                    format!(
                        "step {:?} runs in service {s:?}, which the stack does not have ({})",
                        step.name,
                        names.join(", ")
                    ),
                ),
            )),
            _ => {}
        }
        if stack.services.contains_key(&step.name) {
            out.push((
                "step-name",
                at(
                    "name",
                    i,
                    format!("step {:?} has a service's name; steps and services are compared and declared by name, so they must differ", step.name),
                ),
            ));
        }
    }
    out
}

/// Takes a stack's services, networks and volumes from its `compose:`
/// file (the scenario's own `volumes:` and `networks:` win), keeping the
/// services `services: [..]` selects; the Compose file as read, for
/// errors located in it.
pub fn resolve_compose(
    path: &Path,
    text: &str,
    file: &mut ScenarioFile,
) -> Result<crate::load::compose::Compose, YamlError> {
    let Some(rel) = file.compose.clone() else {
        unreachable!("resolve_compose is called for a scenario with `compose:`")
    };
    let at = |message: String| {
        let (line, column) = locate_key(text, "compose").unwrap_or((1, 1));
        YamlError::at(path, text, line, column, message)
    };
    let compose = crate::load::compose::read(path, &rel, &at)?;
    let selected = match &file.services {
        Services::Selected(v) => v.clone(),
        Services::Defined(_) => Vec::new(),
    };
    let services = crate::load::compose::select(&compose.file, &selected).map_err(|m| {
        let (line, column) = locate_key(text, "services").unwrap_or((1, 1));
        YamlError::at(path, text, line, column, m)
    })?;
    let mut volumes = compose.file.volumes.clone();
    volumes.extend(std::mem::take(&mut file.volumes));
    let mut networks = compose.file.networks.clone();
    networks.extend(std::mem::take(&mut file.networks));
    file.services = Services::Defined(services);
    file.volumes = volumes;
    file.networks = networks;
    // Bind sources and build folders are relative to the Compose file.
    if let Some(dir) = compose.path.parent() {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let dir = dir.as_path();
        let rebase = |p: &str| dir.join(p).to_string_lossy().into_owned();
        if let Services::Defined(m) = &mut file.services {
            for s in m.values_mut() {
                for v in s.container.volumes.iter_mut() {
                    if v.starts_with('.') {
                        *v = rebase(v);
                    }
                }
                if let ImageRef::Build(d) = &mut s.image {
                    if d.is_relative() {
                        *d = dir.join(&*d);
                    }
                }
            }
        }
    }
    Ok(compose)
}

/// Line and column of `key:` inside the `n`-th `host:` condition (the
/// `host:` key itself for `key` = `host`, or when it is not found).
fn locate_in_host(text: &str, n: usize, key: &str) -> Option<(u64, u64)> {
    let (line, column) = locate_nth_key(text, "host", n)?;
    if key == "host" {
        return Some((line, column));
    }
    let needle = format!("{key}:");
    let start = line as usize - 1;
    let indent = column as usize - 1;
    for (i, l) in text.lines().enumerate().skip(start) {
        // The condition ends at the next line indented no deeper than `host:`.
        if i > start && l.len() - l.trim_start().len() <= indent && !l.trim().is_empty() {
            break;
        }
        let from = if i == start { indent } else { 0 };
        if let Some(at) = l.get(from..).and_then(|rest| rest.find(&needle)) {
            return Some((i as u64 + 1, (from + at) as u64 + 1));
        }
    }
    Some((line, column))
}

/// Line and column of the `n`-th (from 0) `key:` in `text`.
pub fn locate_nth_key(text: &str, key: &str, n: usize) -> Option<(u64, u64)> {
    let needle = format!("{key}:");
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let code = line.split(" #").next().unwrap_or(line);
            if code.trim_start().starts_with('#') {
                return None;
            }
            let trimmed = code.trim_start_matches([' ', '-', '{']);
            let col = code.len() - trimmed.len();
            if trimmed.starts_with(&needle) {
                return Some((i as u64 + 1, col as u64 + 1));
            }
            [" ", "{", ","]
                .iter()
                .find_map(|p| code.find(&format!("{p}{needle}")))
                .map(|c| (i as u64 + 1, c as u64 + 2))
        })
        .nth(n)
}

/// Line and column of the first `key:` in `text`, for errors found after
/// parsing.
pub fn locate_key(text: &str, key: &str) -> Option<(u64, u64)> {
    let needle = format!("{key}:");
    text.lines().enumerate().find_map(|(i, line)| {
        let trimmed = line.trim_start_matches([' ', '-', '{']);
        let col = line.len() - trimmed.len();
        trimmed
            .starts_with(&needle)
            .then(|| (i as u64 + 1, col as u64 + 1))
            .or_else(|| {
                line.find(&format!(" {needle}"))
                    .map(|c| (i as u64 + 1, c as u64 + 2))
            })
    })
}

/// `mounts/tmpfs` for `ROOT/mounts/tmpfs.yaml`.
pub fn scenario_id(root: &Path, path: &Path) -> Result<String, ScenarioError> {
    let outside = || ScenarioError::OutsideRoot {
        path: path.to_path_buf(),
        root: root.to_path_buf(),
    };
    let root = root.canonicalize().map_err(|_| outside())?;
    let full = path.canonicalize().map_err(|_| outside())?;
    let rel = full.strip_prefix(&root).map_err(|_| outside())?;
    let rel = rel.with_extension("");
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

/// Every scenario file under `path` (a file or a directory), sorted, by
/// the shared [walk](crate::load::walk): snapshot folders, hidden names and
/// non-YAML files are skipped; the first problem of the walk (a dangling
/// or looping link) is the error.
pub fn discover(path: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let (files, mut problems) = discover_all(path);
    match problems.is_empty() {
        true => Ok(files),
        false => Err(ScenarioError::Walk(problems.remove(0))),
    }
}

/// As [`discover`], with every problem of the walk (for `parity lint`).
pub fn discover_all(path: &Path) -> (Vec<PathBuf>, Vec<WalkError>) {
    let found = walk::walk(path, |name| name == SNAPSHOT_DIR);
    let files = found
        .files
        .into_iter()
        .filter(|p| p == path || is_scenario_file(p))
        .collect();
    (files, found.problems)
}

/// Whether a file name is a scenario's (`.yaml` or `.yml`, but not one of
/// the Compose specification's default file names, which a stack
/// scenario's `compose:` may name beside it).
pub fn is_scenario_file(path: &Path) -> bool {
    let compose = path
        .file_name()
        .is_some_and(|n| COMPOSE_FILE_NAMES.iter().any(|c| n.to_string_lossy() == *c));
    !compose && path.extension().is_some_and(|e| e == "yaml" || e == "yml")
}

/// The file names `docker compose` looks for by default.
pub const COMPOSE_FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// The folder name of snapshots, beside the scenarios (never a scenario
/// area).
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Finds the scenarios root for `path`: the nearest ancestor directory named
/// `scenarios`, else the directory given (or the file's directory).
pub fn root_for(path: &Path) -> PathBuf {
    let abs = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    for anc in abs.ancestors() {
        if anc.file_name().is_some_and(|n| n == "scenarios") {
            return anc.to_path_buf();
        }
    }
    if abs.is_dir() {
        abs
    } else {
        abs.parent().map(Path::to_path_buf).unwrap_or(abs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn parse(text: &str) -> Result<ScenarioFile, YamlError> {
        let f: ScenarioFile = yaml::from_str(Path::new("s.yaml"), text)?;
        validate(Path::new("s.yaml"), text, &f)?;
        Ok(f)
    }

    #[test]
    fn defaults_follow_the_design() {
        let f = parse("description: d\ncommand: [true]\n").unwrap();
        assert_eq!(f.image, ImageRef::Name("parity-probe".into()));
        assert_eq!(f.timeout, Timeout(Duration::from_secs(30)));
        assert_eq!(f.repeat, 1);
        assert_eq!(f.observe, Field::default_set());
        assert!(f.expect.diverges.is_empty());
    }

    #[test]
    fn full_example_loads() {
        let text = r#"
description: Mount a tmpfs with CAP_SYS_ADMIN
tags: [mounts, caps]
command: [sh, -c, "mount -t tmpfs none /mnt && echo ok"]
container:
  cap_add: [SYS_ADMIN]
  security_opt: [apparmor=unconfined]
  network_mode: none
  sysctls: { net.ipv4.ip_forward: 1 }
timeout: 500ms
repeat: 2
observe: [exit_code, stdout]
normalize:
  - { pattern: "[0-9a-f]{64}", replace: "<container-id>" }
expect:
  diverges:
    - runtime: userns-remap
      fields: [exit_code]
      reason: mknod is refused in a user namespace
      link: https://example.org
"#;
        let f = parse(text).unwrap();
        assert_eq!(f.timeout.0, Duration::from_millis(500));
        assert_eq!(f.container.sysctls["net.ipv4.ip_forward"], "1");
        assert_eq!(f.expect.diverges[0].fields, vec![Field::ExitCode]);
        let host = parse("description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: r\n      host: { cgroup: 2, apparmor: true, engine: \">=25\", kernel: \">=6.1, <6.12\" }\n      reason: y\n")
            .unwrap();
        let h = host.expect.diverges[0].host.clone().unwrap();
        assert_eq!(
            h.to_string(),
            "cgroup v2, AppArmor on, Docker >=25, kernel >=6.1, <6.12"
        );
    }

    #[rstest]
    #[case::unknown_top_key(
        "description: d\ncommand: [x]\ncomand: [y]\n",
        3,
        "unknown field `comand`"
    )]
    #[case::unknown_container_key(
        "description: d\ncommand: [x]\ncontainer:\n  priviledged: true\n",
        4,
        "unknown field `priviledged`"
    )]
    #[case::bad_field_name("description: d\ncommand: [x]\nobserve: [exit, stdout]\n", 3, "exit")]
    #[case::bad_timeout("description: d\ncommand: [x]\ntimeout: soon\n", 3, "duration")]
    #[case::timeout_without_unit("description: d\ncommand: [x]\ntimeout: 30\n", 3, "duration")]
    #[case::empty_command("description: d\ncommand: []\n", 2, "command must name")]
    #[case::zero_repeat("description: d\ncommand: [x]\nrepeat: 0\n", 3, "repeat")]
    #[case::bad_regex(
        "description: d\ncommand: [x]\nnormalize:\n  - pattern: \"(\"\n",
        4,
        "does not compile"
    )]
    #[case::no_reason(
        "description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: r\n      reason: \"\"\n",
        6,
        "needs a reason"
    )]
    #[case::missing_reason(
        "description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: r\n",
        5,
        "reason"
    )]
    #[case::bad_cgroup(
        "description: d\ncommand: [x]\ncontainer: { cgroup: host }\nexpect:\n  diverges:\n    - runtime: r\n      reason: x\n    - runtime: r\n      host: { apparmor: true, cgroup: 3 }\n      reason: y\n",
        9,
        "cgroup version 3"
    )]
    #[case::bad_kernel_range(
        "description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: r\n      host:\n        cgroup: 2\n        kernel: \"6.x\"\n      reason: y\n",
        8,
        "version range \"6.x\""
    )]
    #[case::empty_host(
        "description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: r\n      host: {}\n      reason: y\n",
        6,
        "at least one fact"
    )]
    #[case::unknown_host_key(
        "description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: r\n      host: { cgroups: 2 }\n      reason: y\n",
        6,
        "unknown field `cgroups`"
    )]
    fn errors_name_the_line(#[case] text: &str, #[case] line: u64, #[case] needle: &str) {
        let err = parse(text).unwrap_err();
        assert_eq!(err.line, line, "{err}");
        assert!(err.to_string().contains(needle), "{err}");
        assert!(err.to_string().starts_with("s.yaml:"), "{err}");
    }

    #[rstest]
    #[case::unknown_service_key(
        "description: d\nservices:\n  a:\n    image: busybox\n    comand: [x]\n",
        5,
        "unknown field `comand`"
    )]
    #[case::unknown_dependency(
        "description: d\nservices:\n  a:\n    command: [x]\n  b:\n    depends_on: [c]\n",
        6,
        "names service \"c\""
    )]
    #[case::unknown_namespace_service(
        "description: d\nservices:\n  a:\n    command: [x]\n    network_mode: \"service:z\"\n",
        5,
        "names service \"z\""
    )]
    #[case::cycle(
        "description: d\nservices:\n  a:\n    depends_on: [b]\n  b:\n    depends_on: [a]\n",
        4,
        "cycle"
    )]
    #[case::host_ports(
        "description: d\nservices:\n  a:\n    command: [x]\n    ports: [\"80:80\"]\n",
        5,
        "never does"
    )]
    #[case::host_network(
        "description: d\nservices:\n  a:\n    command: [x]\n    network_mode: host\n",
        5,
        "allow_host: [network]"
    )]
    #[case::undeclared_volume(
        "description: d\nservices:\n  a:\n    volumes: [\"data:/d\"]\n",
        4,
        "does not declare"
    )]
    #[case::step_without_service(
        "description: d\nservices:\n  a: {}\n  b: {}\nsteps:\n  - name: s\n    run: [x]\n",
        6,
        "needs `service:`"
    )]
    #[case::step_in_unknown_service(
        "description: d\nservices:\n  a: {}\nsteps:\n  - name: s\n    run: [x]\n    service: q\n",
        5,
        "does not have"
    )]
    #[case::top_level_command(
        "description: d\ncommand: [x]\nservices:\n  a: {}\n",
        2,
        "no top-level `command`"
    )]
    fn stack_errors_name_the_line(#[case] text: &str, #[case] line: u64, #[case] needle: &str) {
        let err = parse(text).unwrap_err();
        assert_eq!(err.line, line, "{err}");
        assert!(err.to_string().contains(needle), "{err}");
    }

    #[test]
    fn a_stack_loads_and_observes_per_service() {
        let f = parse(
            "description: d\nservices:\n  db:\n    image: busybox\n    healthcheck: { test: [CMD, 'true'] }\n  app:\n    depends_on: { db: { condition: service_healthy } }\nvolumes: { v: }\nsteps:\n  - { name: s, service: app, run: [x] }\n",
        )
        .unwrap();
        assert!(f.is_stack() && !f.is_service());
        let s = Scenario {
            id: "s/s".into(),
            path: "s.yaml".into(),
            file: f,
        };
        assert_eq!(
            s.observed(),
            BTreeSet::from([
                Field::Engine,
                Field::Ready,
                Field::ExitCode,
                Field::Stdout,
                Field::Stderr
            ])
        );
    }

    #[test]
    fn id_is_the_path_under_the_root() {
        let dir = std::env::temp_dir().join(format!("parity-id-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("mounts/snapshots")).unwrap();
        std::fs::write(dir.join("mounts/tmpfs.yaml"), "x").unwrap();
        std::fs::write(dir.join("mounts/snapshots/tmpfs@runc.snap"), "x").unwrap();
        let files = discover(&dir).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(scenario_id(&dir, &files[0]).unwrap(), "mounts/tmpfs");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
