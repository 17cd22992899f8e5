//! `parity doctor`: which runtimes this host can compare, the engines
//! behind them, what the host cannot run, whether parity's own image
//! and probe are in order, and what the catalog says of ECI when this host
//! or an engine runs a WSL 2 kernel. Returns its text and exit status; the
//! CLI prints it.

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
                if let Ok(t) = r.transport() {
                    let _ = writeln!(out, "        via {}", t.describe());
                }
            }
            Availability::Unavailable(why) => {
                problems += 1;
                let _ = writeln!(out, "  FAIL  {name}: {why}");
                if let Ok(t) = p.resolve_endpoint().transport() {
                    let _ = writeln!(out, "        via {}", t.describe());
                }
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
        let facts = crate::report::hostview::confinement(&info);
        let _ = writeln!(out, "    {facts}");
    }
    let _ = writeln!(out, "host:");
    let limits = suite.host_limits();
    match &limits.privileged_blocked {
        None if limits.unprobed.is_some() => {
            problems += 1;
            let _ = writeln!(
                out,
                "  FAIL  whether privileged containers start under {} is unknown: {}",
                options.baseline,
                limits.unprobed.as_deref().unwrap_or_default()
            );
        }
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
    let mut kernels = vec![("this host".to_string(), host_kernel())];
    for info in suite.engine_infos() {
        kernels.push((format!("engine {}", info.endpoint), info.kernel.clone()));
    }
    if let Some(note) = wsl2_note(&kernels) {
        out.push_str(&note);
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
            problems += network_checks(&suite, &src, &mut out).await;
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

/// Whether containers on one network a run makes reach each other, on
/// every engine (a stack's services talk over such networks): the
/// number of engines where they do not.
async fn network_checks(suite: &Suite, src: &ImageSource, out: &mut String) -> usize {
    let mut problems = 0;
    for engine in suite.engines() {
        let checked = match engine.ensure_default_image(src).await {
            Ok(image) => engine
                .network_check(&image, suite.run_id())
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match checked {
            Ok(Ok(())) => {
                let _ = writeln!(
                    out,
                    "  ok    containers on one network reach each other on {}",
                    engine.endpoint
                );
            }
            Ok(Err(why)) | Err(why) => {
                problems += 1;
                let _ = writeln!(out, "  FAIL  {}: {why}", engine.endpoint);
            }
        }
    }
    problems
}

/// Docker's ECI limitations page, where the WSL 2 rows of the catalog
/// (E8, U5, B3) come from.
pub const ECI_LIMITATIONS: &str = "https://docs.docker.com/enterprise/security/hardened-desktop/enhanced-container-isolation/limitations/";

/// This host's kernel release (`/proc/sys/kernel/osrelease`, else
/// `/proc/version`), empty when neither can be read.
fn host_kernel() -> String {
    ["/proc/sys/kernel/osrelease", "/proc/version"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| t.trim().to_string())
        .unwrap_or_default()
}

/// Whether a kernel release or `/proc/version` text is a WSL 2 kernel:
/// `5.15.153.1-microsoft-standard-WSL2`, or the older
/// `4.19.128-microsoft-standard`. WSL 1 (`4.4.0-19041-Microsoft`) has no
/// Linux kernel to run an engine on and is not one.
pub fn is_wsl2_kernel(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("wsl2") || t.contains("microsoft-standard")
}

/// The doctor's note when any of `kernels` (where, kernel text) is a WSL 2
/// kernel: which, and what the catalog says of Docker Desktop's ECI there.
pub fn wsl2_note(kernels: &[(String, String)]) -> Option<String> {
    let found: Vec<String> = kernels
        .iter()
        .filter(|(_, k)| is_wsl2_kernel(k))
        .map(|(w, k)| format!("{w}: {k}"))
        .collect();
    if found.is_empty() {
        return None;
    }
    let mut out = format!("  NOTE  WSL 2 kernel ({})\n", found.join("; "));
    for line in [
        "under Docker Desktop's WSL 2 backend ECI isolation is weaker (catalog E8, U5):",
        "the docker-desktop VM is reachable with `wsl -d docker-desktop` and its kernel",
        "is shared with the other WSL distributions; builds with the `docker` driver",
        "are not ECI-protected on WSL 2, `docker-container` builders are (catalog B3).",
        "parity cannot measure isolation from other WSL distributions.",
        ECI_LIMITATIONS,
    ] {
        out.push_str(&format!("        {line}\n"));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::wsl2_release("5.15.153.1-microsoft-standard-WSL2", true)]
    #[case::wsl2_proc_version(
        "Linux version 6.6.87.2-microsoft-standard-WSL2 (root@439a258ad544) (gcc (GCC) 11.2.0, GNU ld (GNU Binutils) 2.37) #1 SMP PREEMPT_DYNAMIC Thu Jun  5 18:30:46 UTC 2025",
        true
    )]
    #[case::early_wsl2("4.19.128-microsoft-standard", true)]
    #[case::wsl1("4.4.0-19041-Microsoft", false)]
    #[case::wsl1_proc_version(
        "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) ) #1237-Microsoft Sat Sep 11 14:32:00 PST 2021",
        false
    )]
    #[case::ubuntu("6.8.0-1017-azure", false)]
    #[case::docker_desktop_linuxkit("6.10.14-linuxkit", false)]
    #[case::empty("", false)]
    fn wsl2_kernels_are_recognised(#[case] text: &str, #[case] wsl2: bool) {
        assert_eq!(is_wsl2_kernel(text), wsl2, "{text}");
    }

    #[test]
    fn the_note_names_the_kernel_and_what_eci_does_there() {
        let kernels = [
            ("this host".to_string(), "6.8.0-1017-azure".to_string()),
            (
                "engine unix:///var/run/docker.sock".to_string(),
                "5.15.153.1-microsoft-standard-WSL2".to_string(),
            ),
        ];
        let note = wsl2_note(&kernels).expect("a WSL 2 engine is noted");
        assert!(
            note.contains("engine unix:///var/run/docker.sock: 5.15.153.1-microsoft-standard-WSL2"),
            "{note}"
        );
        assert!(!note.contains("azure"), "{note}");
        for says in ["weaker", "shared", "`docker` driver", ECI_LIMITATIONS] {
            assert!(note.contains(says), "{says}: {note}");
        }
        assert_eq!(wsl2_note(&kernels[..1]), None);
    }
}
