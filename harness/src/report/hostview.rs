//! The host facts a report shows: which facts each engine ran with (the
//! header of every report) and, beside a verdict, which of its
//! expectations are limited to host facts and whether they applied here.
//!
//! Words only, shared by the terminal, Markdown, HTML and JUnit reports;
//! nothing here reads an engine or formats markup.

use crate::event::ScenarioResult;
use crate::judge::compare::Verdict;
use crate::judge::host::host_text;
use crate::report::results::HostFacts;
use crate::run::engine::EngineInfo;

/// One engine's facts as the header shows them: `unix:///var/run/docker.sock:
/// Docker 20.10.24, kernel 6.18.44, cgroup v1, AppArmor off, SELinux off,
/// security options seccomp, userns`.
pub fn engine_line(e: &EngineInfo) -> String {
    format!(
        "{}: Docker {}, kernel {}, {}{}",
        e.endpoint,
        or_unknown(&e.server_version),
        or_unknown(&e.kernel),
        confinement(e),
        if e.userns_remap {
            " (remaps users)"
        } else {
            ""
        }
    )
}

/// The facts besides versions that a `host:` condition can name: `cgroup
/// v1, AppArmor off, SELinux off, security options seccomp, userns`.
pub fn confinement(e: &EngineInfo) -> String {
    let on = |name: &str| {
        if e.security_options.iter().any(|o| o == name) {
            "on"
        } else {
            "off"
        }
    };
    let options = if e.security_options.is_empty() {
        "none reported".to_string()
    } else {
        e.security_options.join(", ")
    };
    format!(
        "cgroup v{}, AppArmor {}, SELinux {}, security options {options}",
        or_unknown(&e.cgroup_version),
        on("apparmor"),
        on("selinux"),
    )
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "unknown" } else { s }
}

/// Every line of a run's host facts: each engine's, then each host device
/// node its scenarios passed in, with its mode and owner on this machine.
pub fn host_lines(engines: &[EngineInfo], host: &HostFacts) -> Vec<String> {
    let mut out: Vec<String> = engines.iter().map(engine_line).collect();
    out.extend(host.devices.iter().map(|d| d.to_string()));
    out
}

/// What a result's expectations say about hosts, one sentence each: the
/// ones limited to host facts that applied here, then the ones that did
/// not (and so were not used). Empty when no expectation names a host,
/// and for a result that did not run (nothing was judged).
pub fn expectation_notes(r: &ScenarioResult) -> Vec<String> {
    let ran = !(r.baseline_runs.is_empty() && r.candidate_runs.is_empty());
    if r.verdict == Verdict::Skipped || !ran {
        return Vec::new();
    }
    let applied = r.expected.iter().filter_map(|d| {
        host_text(d).map(|h| {
            format!(
                "the expectation for {} in {} is {h}: it applies here",
                d.runtime,
                d.fields_text()
            )
        })
    });
    applied
        .chain(r.not_applicable.iter().map(|n| n.text()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn the_header_names_every_fact_an_expectation_can_name() {
        let doc = fixture::sample();
        let lines = host_lines(&doc.engines, &doc.host);
        assert_eq!(
            lines[1],
            "unix:///run/parity/userns-remap.sock: Docker 27.5.1, kernel 6.1.0-31-amd64, \
             cgroup v2, AppArmor on, SELinux off, security options apparmor, seccomp, userns (remaps users)"
        );
        assert_eq!(lines[2], "device node /dev/fuse: mode 0600, owner 0:0");
    }

    #[test]
    fn a_result_that_did_not_run_says_nothing_of_hosts() {
        let doc = fixture::sample();
        let mut r = doc
            .results
            .iter()
            .find(|r| r.id == "sysfs/cgroup_mkdir" && r.candidate == "userns-remap")
            .unwrap()
            .clone();
        r.verdict = Verdict::Skipped;
        assert!(expectation_notes(&r).is_empty());
        r.verdict = Verdict::Error;
        r.baseline_runs.clear();
        r.candidate_runs.clear();
        assert!(expectation_notes(&r).is_empty());
    }

    #[test]
    fn notes_say_which_expectations_applied_here() {
        let doc = fixture::sample();
        let r = doc
            .results
            .iter()
            .find(|r| r.id == "sysfs/cgroup_mkdir" && r.candidate == "userns-remap")
            .unwrap();
        assert_eq!(
            expectation_notes(r),
            vec![
                "the expectation for userns-remap in exit_code, stderr is declared for cgroup v2: it applies here",
                "the expectation for userns-remap in stdout (declared for cgroup v1) does not apply here: cgroup v2 (runc, userns-remap)",
            ]
        );
    }
}
