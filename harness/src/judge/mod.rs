//! Judging: observations become verdicts.
//!
//! `normalize` rewrites what never means a difference (built-in, profile
//! and scenario rules, in that order); `compare` diffs two sides field by
//! field, matches the differences against declared divergences and gives
//! the [`Verdict`](compare::Verdict); `snapshot` holds each runtime's
//! normalized observation against the committed one, `snapshot_key` names
//! the environment it was made in and `snapshot_files` lays the files out
//! (orphans, pending reviews, accepting CI artifacts); `explain` matches
//! the candidate profile's likely-cause rules against the differences;
//! `host` which declared expectations apply with this host's engines. Nothing here talks to
//! an engine or formats a report.

pub mod compare;
pub mod explain;
pub mod host;
pub mod normalize;
pub mod snapshot;
pub mod snapshot_files;
pub mod snapshot_key;
pub mod streams;

pub use compare::{FieldDiff, Verdict};
pub use normalize::Normalizer;
