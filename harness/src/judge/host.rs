//! Which declared expectations apply on this host: an expectation limited
//! to host facts (`expect.diverges[].host`) is used only where both sides'
//! engines have them.
//!
//! Owns testing a [`HostCondition`] against an engine's recorded facts
//! and splitting a candidate's declared divergences into those that apply
//! and those that do not, with why. A divergence is a property of the
//! pair, so a condition must hold for the baseline's engine and the
//! candidate's (one engine when they share it): an expectation measured
//! on cgroup v2 applies where both sides run on cgroup v2. Pure: it reads
//! facts it is given.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::load::host::{HostCondition, VersionRange};
use crate::load::scenario::Divergence;
use crate::run::engine::EngineInfo;

/// A declared divergence that does not apply on this host, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NotApplicable {
    /// The expectation as declared (with its `host` condition).
    pub divergence: Divergence,
    /// What this host has instead, e.g. `cgroup v1 (runc, userns-remap)`.
    pub why: String,
}

impl NotApplicable {
    /// For people: `the expectation for userns-remap in exit_code, stdout
    /// (declared for cgroup v2) does not apply here: cgroup v1 (runc, userns-remap)`.
    pub fn text(&self) -> String {
        let d = &self.divergence;
        format!(
            "the expectation for {} in {} ({}) does not apply here: {}",
            d.runtime,
            d.fields_text(),
            host_text(d).unwrap_or_default(),
            self.why
        )
    }
}

/// `declared for cgroup v2`, when the divergence names host facts.
pub fn host_text(d: &Divergence) -> Option<String> {
    d.host.as_ref().map(|h| format!("declared for {h}"))
}

/// One side of the pair: its runtime and its engine's facts, when known.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    pub runtime: &'a str,
    pub info: Option<&'a EngineInfo>,
}

/// The facts of `info` that `cond` wants otherwise, in words (`cgroup
/// v1`, `Docker 20.10.24`); empty when it holds there.
pub fn mismatches(cond: &HostCondition, info: &EngineInfo) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(want) = cond.cgroup {
        if info.cgroup_version != want.to_string() {
            out.push(format!("cgroup v{}", or_unknown(&info.cgroup_version)));
        }
    }
    for (want, name, label) in [
        (cond.apparmor, "apparmor", "AppArmor"),
        (cond.selinux, "selinux", "SELinux"),
    ] {
        if let Some(want) = want {
            let have = info.security_options.iter().any(|o| o == name);
            if have != want {
                out.push(format!("{label} {}", if have { "on" } else { "off" }));
            }
        }
    }
    for (range, have, label) in [
        (&cond.engine, &info.server_version, "Docker"),
        (&cond.kernel, &info.kernel, "kernel"),
    ] {
        let holds = range
            .as_deref()
            .map(|r| VersionRange::parse(r).is_ok_and(|r| r.holds(have)));
        if holds == Some(false) {
            out.push(format!("{label} {}", or_unknown(have)));
        }
    }
    out
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() { "unknown" } else { s }
}

/// `Ok` when `cond` holds on every side's engine, else what differs, each
/// fact once with the runtimes whose engines have it.
pub fn applies(cond: &HostCondition, sides: &[Side]) -> Result<(), String> {
    let mut found: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for side in sides {
        let facts = match side.info {
            Some(info) => mismatches(cond, info),
            None => vec!["engine facts unknown".to_string()],
        };
        for f in facts {
            let names = found.entry(f).or_default();
            if !names.contains(&side.runtime) {
                names.push(side.runtime);
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(found
        .into_iter()
        .map(|(fact, names)| format!("{fact} ({})", names.join(", ")))
        .collect::<Vec<_>>()
        .join("; "))
}

/// `declared`, split into the divergences that apply with these sides'
/// engines and those that do not.
pub fn split<'a>(
    declared: impl IntoIterator<Item = &'a Divergence>,
    sides: &[Side],
) -> (Vec<&'a Divergence>, Vec<NotApplicable>) {
    let mut apply = Vec::new();
    let mut not = Vec::new();
    for d in declared {
        match d.host.as_ref().map(|c| applies(c, sides)) {
            None | Some(Ok(())) => apply.push(d),
            Some(Err(why)) => not.push(NotApplicable {
                divergence: d.clone(),
                why,
            }),
        }
    }
    (apply, not)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::scenario::Field;

    fn info(cgroup: &str, security: &[&str], docker: &str, kernel: &str) -> EngineInfo {
        EngineInfo {
            cgroup_version: cgroup.into(),
            security_options: security.iter().map(|s| s.to_string()).collect(),
            server_version: docker.into(),
            kernel: kernel.into(),
            ..EngineInfo::default()
        }
    }

    #[test]
    fn a_condition_names_the_facts_that_differ() {
        let c = HostCondition {
            cgroup: Some(2),
            apparmor: Some(true),
            engine: Some(">=25".into()),
            ..HostCondition::default()
        };
        let runner = info("2", &["apparmor", "seccomp"], "26.1.5", "6.12.0");
        assert!(mismatches(&c, &runner).is_empty());
        let here = info("1", &["seccomp", "userns"], "20.10.24+dfsg1", "6.18.44");
        assert_eq!(
            mismatches(&c, &here),
            vec!["cgroup v1", "AppArmor off", "Docker 20.10.24+dfsg1"]
        );
        let kernel = HostCondition {
            kernel: Some("6.18".into()),
            ..HostCondition::default()
        };
        assert_eq!(
            mismatches(&kernel, &info("", &[], "", "")),
            vec!["kernel unknown"]
        );
    }

    fn div(host: Option<HostCondition>) -> Divergence {
        Divergence {
            runtime: "userns-remap".into(),
            host,
            fields: vec![Field::ExitCode, Field::Stdout],
            steps: Vec::new(),
            reason: "because".into(),
            link: None,
            known: None,
            source: None,
            covers: Vec::new(),
        }
    }

    #[test]
    fn both_sides_must_have_the_facts() {
        let v1 = info("1", &[], "20.10.24", "6.18.0");
        let v2 = info("2", &["apparmor"], "26.1.5", "6.12.0");
        let cgroup2 = Some(HostCondition {
            cgroup: Some(2),
            ..HostCondition::default()
        });
        let declared = [div(None), div(cgroup2.clone())];
        let sides = |a, b| {
            [
                Side {
                    runtime: "runc",
                    info: a,
                },
                Side {
                    runtime: "userns-remap",
                    info: b,
                },
            ]
        };
        let (apply, not) = split(&declared, &sides(Some(&v2), Some(&v2)));
        assert_eq!((apply.len(), not.len()), (2, 0));
        let (apply, not) = split(&declared, &sides(Some(&v1), Some(&v1)));
        assert_eq!(apply, vec![&declared[0]]);
        assert_eq!(not[0].why, "cgroup v1 (runc, userns-remap)");
        assert_eq!(
            not[0].text(),
            "the expectation for userns-remap in exit_code, stdout (declared for cgroup v2) \
             does not apply here: cgroup v1 (runc, userns-remap)"
        );
        let (_, not) = split(&declared, &sides(Some(&v2), Some(&v1)));
        assert_eq!(not[0].why, "cgroup v1 (userns-remap)");
        let (_, not) = split(&declared, &sides(Some(&v2), None));
        assert_eq!(not[0].why, "engine facts unknown (userns-remap)");
    }

    #[test]
    fn an_expectation_that_does_not_apply_covers_nothing_and_is_never_stale() {
        use crate::judge::compare::{Verdict, diff_fields, judge};
        use crate::run::observe::{Subject, Texts};
        let texts =
            |code: &str| -> Texts { [(Subject::from(Field::ExitCode), code.to_string())].into() };
        let v1 = info("1", &[], "20.10.24", "6.18.0");
        let only_v2 = [div(Some(HostCondition {
            cgroup: Some(2),
            ..HostCondition::default()
        }))];
        let sides = [
            Side {
                runtime: "runc",
                info: Some(&v1),
            },
            Side {
                runtime: "userns-remap",
                info: Some(&v1),
            },
        ];
        let (apply, not) = split(&only_v2, &sides);
        assert_eq!(not.len(), 1);
        let differs = diff_fields(&texts("1"), &texts("0"), "runc", "userns-remap");
        assert_eq!(judge(differs.clone(), &apply).verdict, Verdict::Divergence);
        let same = diff_fields(&texts("0"), &texts("0"), "runc", "userns-remap");
        assert_eq!(judge(same, &apply).verdict, Verdict::Parity, "not stale");
        let all: Vec<&Divergence> = only_v2.iter().collect();
        assert_eq!(
            judge(differs, &all).verdict,
            Verdict::Expected,
            "where it applies"
        );
    }
}
