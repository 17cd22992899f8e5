//! The complete record of a run: `results.json`.
//!
//! Owns the versioned document (schema, environment, every result with its
//! observations) that `--format json` prints and that reports are rendered
//! from without re-running anything.

use serde::{Deserialize, Serialize};

use crate::event::{ScenarioResult, Totals, totals};
use crate::run::engine::EngineInfo;
use crate::run::plan::HostLimits;

/// Version of the results document; bumped on incompatible changes.
pub const RESULTS_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResultsDocument {
    pub schema_version: u32,
    pub parity_version: String,
    pub run_id: String,
    /// RFC 3339 UTC time the run started.
    pub started_at: String,
    pub baseline: String,
    pub candidates: Vec<String>,
    pub engines: Vec<EngineInfo>,
    pub host: HostFacts,
    pub totals: Vec<Totals>,
    /// Candidates the run was told must be covered (`--require`): one
    /// that did not run every scenario makes the sign-off NOT READY.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<String>,
    /// The parts of a selection split with `--partition K/N` that this
    /// document holds (one for a shard's run, every shard's once combined
    /// by `parity report`); empty for a whole selection. A part missing
    /// from 1..N keeps the sign-off from READY.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<crate::load::partition::Partition>,
    /// The sign-off, in the same words as every other report; filled in
    /// when the document is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signoff: Option<SignOffRecord>,
    pub results: Vec<ScenarioResult>,
}

/// The three sign-off states. Only `ready` means every configured
/// candidate ran every scenario this host can run and nothing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignOffState {
    Ready,
    /// Nothing failed, but a candidate was not covered or only partly.
    Incomplete,
    /// A failure, nothing ran, or a required candidate was not covered.
    NotReady,
}

impl SignOffState {
    /// `READY`, `INCOMPLETE` or `NOT READY`.
    pub fn word(self) -> &'static str {
        match self {
            SignOffState::Ready => "READY",
            SignOffState::Incomplete => "INCOMPLETE",
            SignOffState::NotReady => "NOT READY",
        }
    }

    /// The CSS class and JUnit property value: `ready`, `incomplete`,
    /// `not-ready`.
    pub fn class(self) -> &'static str {
        match self {
            SignOffState::Ready => "ready",
            SignOffState::Incomplete => "incomplete",
            SignOffState::NotReady => "not-ready",
        }
    }
}

/// The sign-off as `results.json` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignOffRecord {
    pub state: SignOffState,
    /// `READY`, `INCOMPLETE` or `NOT READY`.
    pub word: String,
    pub because: String,
    /// Each candidate not fully covered, with the reason.
    #[serde(default)]
    pub not_covered: Vec<String>,
}

/// The machine the run happened on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel: String,
    /// Git commit of the scenario library, when it is in a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    pub limits: HostLimits,
    /// The host device nodes the run's scenarios passed in
    /// (`container.devices`), as they were on this machine: their mode
    /// and owner can decide what a container may do with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceNode>,
}

/// A host device node, as it was when the run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceNode {
    pub path: String,
    /// Permission bits in octal (`0600`), or `absent`.
    pub mode: String,
    /// `uid:gid`, empty when absent.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
}

impl std::fmt::Display for DeviceNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.owner.as_str() {
            "" => write!(f, "device node {}: {}", self.path, self.mode),
            owner => write!(
                f,
                "device node {}: mode {}, owner {owner}",
                self.path, self.mode
            ),
        }
    }
}

impl DeviceNode {
    /// `path` as it is on this machine now.
    pub fn read(path: &str) -> DeviceNode {
        use std::os::unix::fs::MetadataExt;
        match std::fs::metadata(path) {
            Ok(m) => DeviceNode {
                path: path.into(),
                mode: format!("{:04o}", m.mode() & 0o7777),
                owner: format!("{}:{}", m.uid(), m.gid()),
            },
            Err(_) => DeviceNode {
                path: path.into(),
                mode: "absent".into(),
                owner: String::new(),
            },
        }
    }
}

/// The host device paths `results` passed into containers, from each
/// candidate's effective create request (`HostConfig.Devices`), sorted.
pub fn device_paths(results: &[ScenarioResult]) -> Vec<String> {
    let mut paths: Vec<String> = results
        .iter()
        .filter_map(|r| r.config.as_ref())
        .filter_map(|c| c.pointer("/HostConfig/Devices")?.as_array().cloned())
        .flatten()
        .filter_map(|d| d.get("PathOnHost")?.as_str().map(str::to_string))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

impl ResultsDocument {
    pub fn new(
        run_id: &str,
        started_at: String,
        baseline: &str,
        candidates: &[String],
        engines: Vec<EngineInfo>,
        host: HostFacts,
        results: Vec<ScenarioResult>,
    ) -> ResultsDocument {
        ResultsDocument {
            schema_version: RESULTS_SCHEMA_VERSION,
            parity_version: env!("CARGO_PKG_VERSION").into(),
            run_id: run_id.into(),
            started_at,
            baseline: baseline.into(),
            candidates: candidates.to_vec(),
            engines,
            host,
            totals: totals(&results, candidates),
            required: Vec::new(),
            parts: Vec::new(),
            signoff: None,
            results,
        }
    }
}

/// Facts about this host, with the git commit of `dir` if it has one.
pub fn host_facts(dir: &std::path::Path, limits: HostLimits) -> HostFacts {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let git_commit = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    HostFacts {
        hostname: read("/proc/sys/kernel/hostname"),
        kernel: read("/proc/sys/kernel/osrelease"),
        git_commit,
        limits,
        devices: Vec::new(),
    }
}

impl HostFacts {
    /// These facts with the modes of the device nodes `results` passed in.
    pub fn with_devices(mut self, results: &[ScenarioResult]) -> HostFacts {
        self.devices = device_paths(results)
            .iter()
            .map(|p| DeviceNode::read(p))
            .collect();
        self
    }
}

/// Now, as RFC 3339 UTC, without a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    rfc3339(secs)
}

fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_862_400), "2026-11-28T10:40:00Z");
    }
}
