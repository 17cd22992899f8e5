//! The parity scenario library: `AREA/NAME.yaml` scenarios with their
//! snapshots in `AREA/snapshots/NAME@RUNTIME.snap`. No code lives here; this
//! crate exists so that cargo-insta finds the snapshots (see Cargo.toml).
