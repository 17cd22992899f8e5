//! Authoring: the commands that help people write scenarios without
//! running them. `lint` checks files (schema, rules serde cannot express,
//! expectations, policy, snapshots); `scaffold` writes a commented
//! template (`parity new`); `init` starts a project (`parity init`);
//! `docker_run` and `compose` (with `compose_values`) import what users
//! already have through `import`, which writes the scenario text;
//! `compose_stack` imports a Compose file as one stack scenario.

pub mod compose;
pub mod compose_stack;
pub mod compose_values;
pub mod docker_run;
pub mod import;
pub mod init;
pub mod lint;
pub mod scaffold;

pub use lint::{Finding, Severity, lint_paths};
