//! Reporters: consumers of suite events.
//!
//! `terminal` prints verdicts as they land with colored diffs; `results`
//! owns the versioned `results.json` document that every other format is
//! rendered from.

pub mod results;
pub mod terminal;

pub use results::{RESULTS_SCHEMA_VERSION, ResultsDocument};
pub use terminal::TerminalReporter;

/// Writes every report format for `doc` into `dir`.
pub fn write_reports(dir: &std::path::Path, doc: &ResultsDocument) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_string_pretty(doc).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("results.json"), json)?;
    Ok(())
}
