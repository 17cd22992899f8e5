//! The suite: scenarios x (baseline, candidates) -> verdicts, and the
//! commands that drive it.
//!
//! `orchestrate` owns the [`Suite`] (engines, availability, host limits,
//! the concurrency bound, shared baseline runs, events); `session` is one
//! `parity run` over it (selection, reporters, interrupts, report files);
//! `doctor` is `parity doctor`; `availability` decides whether a profile can
//! run here, for the suite and for the trial list alike. The CLI and the `cargo test` harness are
//! thin layers over this folder.

pub mod availability;
pub mod doctor;
mod orchestrate;
pub mod session;

pub use orchestrate::{Availability, RunHandle, Suite, SuiteOptions, comparable, new_run_id};
pub use session::RunRequest;
