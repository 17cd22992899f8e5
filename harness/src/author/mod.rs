//! Authoring: the commands that help people write scenarios without
//! running them. `lint` checks files (schema, rules serde cannot express,
//! expectations, policy, snapshots); `scaffold` writes a commented
//! template. New authoring tools (importers, `parity init`) go here.

pub mod compose;
pub mod import;
pub mod init;
pub mod lint;
pub mod scaffold;

pub use lint::{Finding, Severity, lint_paths};
