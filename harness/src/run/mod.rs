//! Running: a scenario under a runtime profile becomes an observation.
//!
//! `plan` turns scenario x profile into a [`RunSpec`](plan::RunSpec);
//! `engine` is the only code that talks to Docker; `image` builds parity's
//! own image and the probe's upload; `probe_bin` embeds the probe;
//! `observe` owns the [`Observation`](observe::Observation) and the
//! canonical text of each field; `probe_view` turns the probe's report
//! into that text. `service` drives service scenarios (a container that
//! keeps running, exec steps) over the engine's primitives, with `ready`
//! waiting for it to be up; `stack` drives stack scenarios (several
//! services on the run's own networks and volumes, in dependency order,
//! steps exec'd into the service they name); `build` drives build scenarios (a Dockerfile
//! built on each side, observed step by step; `buildkit` turns BuildKit's
//! vertices into the author's steps and the outcome), in a `builder`
//! container under the profile's runtime when the profile says so.
//! Nothing here compares two sides.

pub mod build;
pub mod builder;
pub mod buildkit;
pub mod capture;
pub mod engine;
pub mod image;
pub mod observe;
pub mod plan;
pub mod probe_bin;
pub mod probe_view;
pub mod ready;
pub mod service;
pub mod stack;

pub use engine::{Engine, EngineError, EngineInfo};
pub use observe::{Captured, EngineOutcome, ExitStatus, Observation};
pub use plan::{HostLimits, PlanOptions, RunSpec};
