//! Host conditions: the host facts an expectation was measured or
//! documented for (`expect.diverges[].host`).
//!
//! Owns the condition's keys (cgroup version, AppArmor, SELinux, engine
//! and kernel version ranges), the version-range grammar (`">=25"`,
//! `"6.1"`, `">=6.1, <6.12"`), its validation with file:line:column, and
//! how a version is tested against a range. Testing a condition against
//! an engine's facts is the judge's (`judge::host`); nothing here talks to
//! an engine.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The host facts an expectation holds on; every key given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostCondition {
    /// The cgroup version the engine runs containers with: `1` or `2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<u8>,
    /// Whether the engine confines containers with AppArmor (its `info`
    /// lists `apparmor` among its security options).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apparmor: Option<bool>,
    /// Whether the engine labels containers with SELinux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selinux: Option<bool>,
    /// The engine's (Docker's) version: a range such as `">=25"`, `"20"`
    /// (any 20.x) or `">=25, <28"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The kernel's version, as the engine reports it: a range such as
    /// `">=6.1"` or `"6.18"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
}

/// A version range that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "version range {text:?}: {problem} (write e.g. \"20\", \">=25\" or \">=6.1, <6.12\": versions of dot-separated numbers, each after >=, <=, >, < or =)"
)]
pub struct RangeError {
    pub text: String,
    pub problem: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// The version starts with these parts (`20` holds for 20.10.24).
    Is,
    Ge,
    Le,
    Gt,
    Lt,
}

/// A parsed range: every clause must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRange(Vec<(Op, Vec<u64>)>);

impl VersionRange {
    pub fn parse(text: &str) -> Result<VersionRange, RangeError> {
        let err = |problem: &str| RangeError {
            text: text.to_string(),
            problem: problem.to_string(),
        };
        let mut clauses = Vec::new();
        for clause in text.split(',') {
            let clause = clause.trim();
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("==", Op::Is),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("=", Op::Is),
            ]
            .iter()
            .find_map(|(p, op)| clause.strip_prefix(p).map(|r| (*op, r.trim())))
            .unwrap_or((Op::Is, clause));
            if rest.is_empty() {
                return Err(err("a clause has no version"));
            }
            let parts: Result<Vec<u64>, _> = rest.split('.').map(str::parse::<u64>).collect();
            clauses.push((
                op,
                parts.map_err(|_| err(&format!("{rest:?} is not a version")))?,
            ));
        }
        Ok(VersionRange(clauses))
    }

    /// Whether `version` (`20.10.24+dfsg1`, `6.18.44-fc`) is in the range;
    /// each clause compares as many parts as it gives. A version without
    /// leading numbers is in no range.
    pub fn holds(&self, version: &str) -> bool {
        let have = numbers(version);
        !have.is_empty()
            && self.0.iter().all(|(op, want)| {
                let mut got: Vec<u64> = have.iter().copied().take(want.len()).collect();
                got.resize(want.len(), 0);
                match op {
                    Op::Is => got == *want,
                    Op::Ge => got >= *want,
                    Op::Le => got <= *want,
                    Op::Gt => got > *want,
                    Op::Lt => got < *want,
                }
            })
    }
}

/// The leading dot-separated numbers of a version.
fn numbers(version: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for part in version.trim().split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        match digits.parse() {
            Ok(n) => out.push(n),
            Err(_) => break,
        }
        if digits.len() < part.len() {
            break;
        }
    }
    out
}

impl HostCondition {
    /// Problems with the condition's values: (its key, the message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(v) = self.cgroup.filter(|v| !matches!(v, 1 | 2)) {
            out.push((
                "cgroup",
                format!("cgroup version {v} does not exist: write 1 or 2"),
            ));
        }
        for (key, range) in [("engine", &self.engine), ("kernel", &self.kernel)] {
            if let Some(Err(e)) = range.as_deref().map(VersionRange::parse) {
                out.push((key, format!("host {key}: {e}")));
            }
        }
        if self == &HostCondition::default() {
            out.push(("host", "a host condition names at least one fact".into()));
        }
        out
    }
}

/// For people: `cgroup v2, AppArmor on, Docker >=25, kernel >=6.1`.
impl fmt::Display for HostCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(v) = self.cgroup {
            parts.push(format!("cgroup v{v}"));
        }
        for (v, label) in [(self.apparmor, "AppArmor"), (self.selinux, "SELinux")] {
            if let Some(on) = v {
                parts.push(format!("{label} {}", if on { "on" } else { "off" }));
            }
        }
        if let Some(r) = &self.engine {
            parts.push(format!("Docker {r}"));
        }
        if let Some(r) = &self.kernel {
            parts.push(format!("kernel {r}"));
        }
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("20", "20.10.24+dfsg1", true)]
    #[case("20", "26.1.5", false)]
    #[case(">=25", "26.1.5", true)]
    #[case(">=25", "25.0.0", true)]
    #[case(">=25", "20.10.24", false)]
    #[case("<25", "20.10.24", true)]
    #[case(">=6.1, <6.12", "6.11.9-amd64", true)]
    #[case(">=6.1, <6.12", "6.12.1", false)]
    #[case("6.18", "6.18.44-fc-v1045", true)]
    #[case("6.1", "6.18.44", false)]
    #[case(">6.1", "6.1.5", false)]
    #[case(">6.1", "6.2", true)]
    #[case("=28.0.4", "28.0.4", true)]
    #[case(">=1", "", false)]
    #[case(">=1", "weird", false)]
    fn ranges_compare_as_many_parts_as_they_give(
        #[case] range: &str,
        #[case] version: &str,
        #[case] holds: bool,
    ) {
        assert_eq!(VersionRange::parse(range).unwrap().holds(version), holds);
    }

    #[rstest]
    #[case(">=")]
    #[case("v25")]
    #[case(">=25,")]
    #[case("25.x")]
    fn bad_ranges_say_what_to_write(#[case] range: &str) {
        let e = VersionRange::parse(range).unwrap_err().to_string();
        assert!(e.contains(">=25"), "{e}");
    }

    #[test]
    fn problems_name_their_key() {
        let c = HostCondition {
            cgroup: Some(3),
            kernel: Some("six".into()),
            ..HostCondition::default()
        };
        let keys: Vec<&str> = c.problems().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec!["cgroup", "kernel"]);
        assert_eq!(HostCondition::default().problems()[0].0, "host");
    }
}
