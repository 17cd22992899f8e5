//! parity-probe: a static binary the harness puts into every container at
//! `/.parity/probe`. `wrap` runs as PID 1, records the environment and
//! execs the workload in place; `attach` (started with the engine's exec)
//! traces PID 1 and everything it starts, and writes one versioned
//! [`parity_wire::ProbeReport`] to `OUT/report.json` when PID 1 exits.
//!
//! Flow: [`cli`] parses; [`wrap`] reads [`facts`], [`devices`] and the
//! [`mountinfo`] through [`procfs`] and execs; [`attach`] drives the
//! [`tracer`] state machine over the real [`ptrace`], which names calls
//! with [`names`], decodes their key argument with [`decode`], [`paths`]
//! and [`flags`], and tells each process's libc start-up from its program
//! with [`prelude`]; [`out`] writes the documents. For a service that keeps
//! running, [`snapshot`] reads the mount table on request and answers file
//! readiness checks.

pub mod attach;
pub mod cli;
pub mod decode;
pub mod devices;
pub mod facts;
pub mod flags;
pub mod mountinfo;
pub mod names;
pub mod out;
pub mod paths;
pub mod prelude;
pub mod procfs;
pub mod ptrace;
pub mod snapshot;
pub mod tracer;
pub mod wrap;

use std::ffi::OsString;

/// Runs the command line `args` (without the program name); returns the
/// exit status (`wrap` returns only if exec failed).
pub fn dispatch(args: Vec<OsString>) -> i32 {
    match cli::parse(args) {
        Ok(cli::Command::Wrap(w)) => wrap::run(&w, &procfs::RealProcFs),
        Ok(cli::Command::Attach(a)) => attach::run(&a),
        Ok(cli::Command::Snapshot { pid, out }) => snapshot::run(pid, &out, &procfs::RealProcFs),
        Ok(cli::Command::Exists(path)) => snapshot::exists(&path),
        Ok(cli::Command::Version) => {
            println!("parity-probe {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Err(e) => {
            eprintln!("parity-probe: {e}\n{}", cli::USAGE);
            2
        }
    }
}
