//! The engine layer: the only code that talks to Docker (through bollard).
//!
//! `client` connects to an endpoint and answers questions about the engine
//! (version, runtimes, images, leftovers) and owns the per-container
//! [`Deadline`]; `create` turns a [`RunSpec`] into an Engine API create
//! request; `classify` tells a refusal from infrastructure trouble by what
//! was answered, when, and whether a second attempt answers the same, and
//! `attempts` makes those at most two attempts of one request; `stream` drains attached output byte for byte; `run` drives one
//! container through create, attach, start, wait, download and removal on
//! every path; `control` asks whether a container still runs, how it
//! ended, and kills it; `exec` runs commands inside a running container;
//! `ssh` is the `ssh://` transport (OpenSSH running `docker system
//! dial-stdio` remotely); `images` provides the images scenarios name or build (pull, build, copy
//! between engines); `objects` makes and removes a stack's networks and volumes
//! and reads a container's health; `build` runs a build scenario's `docker build`
//! and removes what it made; `trace` records every call's duration when
//! `PARITY_TRACE_API` is set.
//!
//! [`RunSpec`]: crate::run::plan::RunSpec

mod attempts;
mod build;
mod classify;
mod client;
mod control;
mod create;
mod exec;
mod images;
mod objects;
mod run;
mod ssh;
mod stream;
pub mod trace;

pub use attempts::{Attempts, Fault, Next, Refusal};
pub use build::{BuildOutput, BuildRequest, saved_files_text};
pub use classify::{
    Answer, Basis, Decision, Look, Phase, Second, Speaker, Verdict as Decided, look, settle,
};
pub use client::{Deadline, Engine, EngineError, EngineInfo, RUN_LABEL};
pub use exec::{ExecRun, ExecSpec};
pub use images::{BUILD_REPOSITORY, BuildContext, ImageCache, ImageError, TRANSFER_TIMEOUT};
pub use objects::{Health, run_labels};
pub use run::{Attached, Created, REMOVE_TIMEOUT, RawRun, RunContext};
pub use stream::{Channel, Chunk, Drained};
