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
//! dial-stdio` remotely); `images` provides the images scenarios name or
//! build (pull, build, copy between engines); `transfer` bounds pulls and
//! copies by progress, not by a clock; `objects` makes and removes a
//! stack's networks and volumes and reads a container's health; `build` runs a build scenario's
//! `docker build` (BuildKit or classic) and removes what it made;
//! `buildkit` folds BuildKit's progress per vertex and prunes the build
//! cache records a build added; `solve` sends a BuildKit Solve with
//! entitlements through the engine's `/grpc`; `saved` reads a `docker
//! save` archive in either layout (legacy or OCI); `trace` records every
//! call's duration when
//! `PARITY_TRACE_API` is set.
//!
//! [`RunSpec`]: crate::run::plan::RunSpec

mod attempts;
mod build;
mod buildkit;
mod classify;
mod client;
mod control;
mod create;
mod exec;
mod images;
mod objects;
mod run;
mod saved;
mod solve;
mod ssh;
mod stream;
pub mod trace;
mod transfer;

pub use attempts::{Attempts, Fault, Next, Refusal};
pub use build::{BuildOutput, BuildRequest};
pub use buildkit::{Trace, Vertex};
pub use classify::{
    Answer, Basis, Decision, Look, Phase, Second, Speaker, Verdict as Decided, look, settle,
};
pub use client::{Deadline, Engine, EngineError, EngineInfo, RUN_LABEL};
pub use exec::{ExecRun, ExecSpec};
pub use images::{BUILD_REPOSITORY, BuildContext, ImageCache, ImageError, ImageProgress};
pub use objects::{Health, run_labels};
pub use run::{Attached, Created, REMOVE_TIMEOUT, RawRun, RunContext};
pub use saved::saved_files_text;
pub use stream::{Channel, Chunk, Drained};
pub use transfer::{TRANSFER_STALL, size_text};
