//! Reporters: consumers of suite events, and the report files.
//!
//! `terminal` prints verdicts as they land with colored diffs, `progress`
//! the line below them on a terminal (done, running, failed); `results`
//! owns the versioned `results.json` document that every other format is
//! rendered from without re-running anything: `html` (the sign-off page),
//! `junit`, `markdown` (the CI step summary), `changes` (run vs run).
//! `signoff` holds the words they share, `hostview` the host facts
//! and host-limited expectations they show, `steps` the readiness and step
//! rows of service scenarios, `text` the escaping they share.

pub mod changes;
pub mod diffview;
#[doc(hidden)]
pub mod fixture;
pub mod hostview;
pub mod html;
pub mod junit;
pub mod listing;
pub mod markdown;
pub mod progress;
pub mod results;
pub mod schema;
pub mod signoff;
pub mod steps;
pub mod terminal;
pub mod text;
mod write;

pub use results::{RESULTS_SCHEMA_VERSION, ResultsDocument};
pub use signoff::Source;
pub use terminal::TerminalReporter;
pub use write::{
    compare_files, load_results, rerender, write_combined, write_reports, write_test_reports,
};
