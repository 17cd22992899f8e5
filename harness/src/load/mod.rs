//! Loading: the author-facing files become typed, validated values.
//!
//! `build` the `build:` key of build scenarios; `yaml` turns text into
//! types with file:line:column errors; `duration` the `30s` durations
//! authors write; `catalog` the catalog rows expectations cite; `scenario`
//! owns the scenario format, ids and discovery; `container` the
//! Compose-spec subset; `runtime` the runtime profiles; `endpoint` which
//! engine a profile without `engine:` talks to (DOCKER_HOST, Docker
//! contexts, the local socket); `partition` the `--partition K/N`
//! split of a selection for CI shards; `policy` what a
//! profile refuses or ignores by rule; `explain` a profile's likely-cause
//! rules; `host` the host facts an expectation holds on; `service` the keys of real
//! workloads (images to build, readiness, steps); `schema` the JSON Schema
//! generated from these very types; `walk` the one loop-safe directory walk
//! every command uses. Nothing here runs a container, judges an
//! observation or formats a report.

pub mod build;
pub mod catalog;
pub mod compose;
pub mod container;
pub mod duration;
pub mod endpoint;
pub mod explain;
pub mod host;
pub mod partition;
pub mod policy;
pub mod runtime;
pub mod scenario;
pub mod schema;
pub mod service;
pub mod stack;
pub mod walk;
pub mod yaml;

pub use container::ContainerSpec;
pub use runtime::{Profiles, RuntimeError, RuntimeProfile};
pub use scenario::{Divergence, Field, Known, Scenario, ScenarioError, ScenarioFile};
pub use yaml::YamlError;
