//! parity: a production-parity test harness for container runtimes.
//!
//! The folders follow the data flow:
//!
//! - [`load`]: scenario files, runtime profiles and policy become typed
//!   values ([`Scenario`](load::Scenario), [`RuntimeProfile`](load::RuntimeProfile)).
//! - [`run`]: a scenario under a profile is planned into a
//!   [`RunSpec`](run::RunSpec), run through the Docker Engine API (only
//!   [`run::engine`] talks to Docker) and observed, with the in-container
//!   probe's report, as an [`Observation`](run::Observation).
//! - [`judge`]: observations are normalized, compared into a
//!   [`Verdict`](judge::Verdict) and held against snapshots.
//! - [`report`]: verdicts become terminal output, `results.json`, HTML,
//!   JUnit and Markdown.
//!
//! At the top: [`suite`] orchestrates the stages and emits
//! [`Event`](event::Event)s; [`config`] is the project configuration both
//! faces read; [`cli`] (the `parity` command) and [`trial`] (the `cargo
//! test` harness) are the two thin faces; [`author`] holds the authoring
//! commands (lint, new).

pub mod author;
pub mod cli;
pub mod config;
pub mod event;
pub mod judge;
pub mod load;
pub mod report;
pub mod run;
pub mod suite;
pub mod trial;
