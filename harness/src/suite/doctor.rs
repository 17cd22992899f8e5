//! `parity doctor`: which runtimes this host can compare, the engines
//! behind them, what the host cannot run, and whether parity's own image
//! and probe are in order. Returns its text and exit status; the CLI
//! prints it.

use std::fmt::Write;

use crate::config::{ConfigError, Project, Selection};
use crate::run::image::ImageSource;
use crate::run::probe_bin::probe_binary;
use crate::suite::{Availability, Suite, SuiteOptions};

/// The doctor's findings as text, and 0 when all is well, else 1.
pub async fn doctor(
    project: &Project,
    selection: &Selection,
) -> Result<(String, i32), ConfigError> {
    let profiles = project.profiles()?;
    let mut options = SuiteOptions::new(project, selection);
    if selection.candidates.is_empty() {
        // Check every known profile, not only the configured candidates.
        options.candidates = profiles
            .by_name
            .iter()
            .filter(|(n, p)| **n != options.baseline && !p.optional)
            .map(|(n, _)| n.clone())
            .collect();
    }
    let suite = Suite::prepare(profiles.clone(), options.clone(), Default::default()).await?;
    let mut problems = 0;
    let mut out = String::new();
    let _ = writeln!(out, "runtimes (baseline {}):", options.baseline);
    for name in std::iter::once(&options.baseline).chain(&options.candidates) {
        let p = profiles.get(name)?;
        match suite.availability(name) {
            Availability::Ready => {
                let r = p.resolve_endpoint();
                let _ = writeln!(
                    out,
                    "  ok    {name}: {} on {} (from {})",
                    p.oci_runtime, r.endpoint, r.origin
                );
            }
            Availability::Unavailable(why) => {
                problems += 1;
                let _ = writeln!(out, "  FAIL  {name}: {why}");
            }
        }
    }
    let _ = writeln!(out, "engines:");
    for info in suite.engine_infos() {
        let _ = writeln!(
            out,
            "  {}: Docker {} (API {}), kernel {}, runtimes [{}] (default {}){}",
            info.endpoint,
            info.server_version,
            info.api_version,
            info.kernel,
            info.runtimes.join(", "),
            info.default_runtime,
            if info.userns_remap {
                ", userns-remap"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(out, "host:");
    match &suite.host_limits().privileged_blocked {
        None => {
            let _ = writeln!(
                out,
                "  ok    privileged containers start under {}",
                options.baseline
            );
        }
        Some(why) => {
            let _ = writeln!(
                out,
                "  NOTE  privileged containers cannot start under {}: {why}",
                options.baseline
            );
            let _ = writeln!(
                out,
                "        scenarios with `privileged: true` are reported as skipped on this host"
            );
        }
    }
    let probe = probe_binary();
    if probe.is_empty() {
        problems += 1;
        let _ = writeln!(
            out,
            "  FAIL  the probe binary is not embedded in this build"
        );
    } else {
        let _ = writeln!(out, "  ok    probe embedded ({} bytes)", probe.len());
    }
    match ImageSource::from_host(probe) {
        Ok(src) => {
            let _ = writeln!(
                out,
                "  ok    default image {} (busybox with {} applets)",
                src.reference(),
                src.applets.len()
            );
        }
        Err(e) => {
            problems += 1;
            let _ = writeln!(out, "  FAIL  {e}");
        }
    }
    if problems > 0 {
        let _ = writeln!(
            out,
            "{problems} problem(s); runtimes/setup-host.sh installs and starts what parity needs"
        );
        Ok((out, 1))
    } else {
        let _ = writeln!(out, "all good");
        Ok((out, 0))
    }
}
