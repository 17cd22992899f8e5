//! parity: a production-parity test harness for container runtimes.
//!
//! A [`Scenario`](scenario::Scenario) (YAML) describes one container
//! workload. The [`Suite`](suite::Suite) plans it under a baseline runtime
//! profile and each candidate ([`plan`]), runs it through the Docker Engine
//! API ([`engine`]), turns what happened into an
//! [`Observation`](observe::Observation) (with the in-container probe's
//! report, [`probe_view`]), normalizes it ([`normalize`]), compares the
//! sides ([`compare`]) and emits a [`Verdict`](compare::Verdict) as an
//! [`Event`](event::Event) to reporters ([`report`]). The `parity` CLI
//! ([`cli`]) and the `cargo test` harness ([`trial`]) drive the same suite.

pub mod cli;
pub mod compare;
pub mod container;
pub mod engine;
pub mod event;
pub mod image;
pub mod lint;
pub mod normalize;
pub mod observe;
pub mod plan;
pub mod policy;
pub mod probe_bin;
pub mod probe_view;
pub mod report;
pub mod runtime;
pub mod scaffold;
pub mod scenario;
pub mod schema;
pub mod snapshot;
pub mod suite;
pub mod trial;
pub mod yaml;
