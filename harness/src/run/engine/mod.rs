//! The engine layer: the only code that talks to Docker (through bollard).
//!
//! `client` connects to an endpoint and answers questions about the engine
//! (version, runtimes, images, leftovers); `create` turns a [`RunSpec`] into
//! an Engine API create request; `run` drives one container through
//! create, start, wait, logs, download and removal, on every path.
//!
//! [`RunSpec`]: crate::run::plan::RunSpec

mod client;
mod create;
mod run;

pub use client::{Engine, EngineError, EngineInfo, RUN_LABEL};
pub use run::{RawRun, RunContext};
