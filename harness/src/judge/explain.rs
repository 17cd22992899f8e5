//! Likely causes: a candidate profile's `explain:` rules matched against
//! the differences of one result.
//!
//! Owns [`LikelyCause`] and the matching. The facts a rule can match come
//! from the field differences alone: the traced syscalls whose outcome
//! under the candidate differs from the baseline's (name, outcome, path,
//! a mount's filesystem type), the engine's refusal, and a differing
//! stream's text. A cause names the fact it rests on ("mknodat /tmp/n:
//! EPERM under userns-remap (ok under runc)"), so people can check it. It
//! never changes a verdict and never runs anything.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::judge::compare::FieldDiff;
use crate::load::explain::{Compiled, ExplainRule};
use crate::load::scenario::Field;

/// How many facts one rule may explain in one result; the rest add
/// nothing a reader needs.
const PER_RULE: usize = 3;

/// A probable reason for a difference, from the candidate's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LikelyCause {
    /// The whole sentence, as reports show it: `mknodat /tmp/n: EPERM
    /// under userns-remap (ok under runc): device nodes cannot be created
    /// in a user namespace (catalog S9)`.
    pub text: String,
    /// What was observed, the part before the cause.
    pub evidence: String,
    /// The rule's cause.
    pub cause: String,
    /// The field whose difference it explains.
    pub field: Field,
    /// The step that field belongs to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Whether the difference was declared in `expect.diverges`.
    #[serde(default)]
    pub declared: bool,
    /// The catalog row (`docs/catalog.md`), e.g. `S9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// One thing a difference shows, that a rule may match.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fact {
    /// A traced syscall whose outcome differs from the baseline's.
    Syscall {
        name: String,
        path: Option<String>,
        fstype: Option<String>,
        outcome: String,
        /// The baseline's outcome(s) for the same call, or `not called`.
        baseline: String,
    },
    Refused {
        message: String,
        /// Whether a step (an exec) was refused, not the container.
        step: bool,
    },
    Stream {
        field: Field,
        text: String,
    },
}

/// The likely causes of `diffs` (a result's differences, baseline vs
/// `candidate`) by `rules`, in the order of the differences. Each fact is
/// explained by the first rule that matches it, and one rule explains at
/// most [`PER_RULE`] facts. Rules that do not compile are skipped (loading
/// rejects them).
pub fn explain(
    rules: &[ExplainRule],
    baseline: &str,
    candidate: &str,
    diffs: &[FieldDiff],
) -> Vec<LikelyCause> {
    let compiled: Vec<(&ExplainRule, Compiled)> = rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.compile(i + 1).ok().map(|c| (r, c)))
        .collect();
    let mut out: Vec<LikelyCause> = Vec::new();
    let mut per_rule = vec![0usize; compiled.len()];
    for diff in diffs {
        for fact in facts(diff) {
            // The first rule that matches a fact explains it: profiles put
            // the specific rules before the general ones.
            let first = compiled.iter().enumerate().find_map(|(i, (rule, c))| {
                matches(c, &fact, baseline, candidate).map(|e| (i, rule, e))
            });
            if let Some((i, rule, evidence)) = first {
                if per_rule[i] >= PER_RULE {
                    continue;
                }
                let mut text = match &diff.step {
                    Some(s) => format!("step {s:?}: {evidence}: {}", rule.cause),
                    None => format!("{evidence}: {}", rule.cause),
                };
                if let Some(id) = &rule.catalog {
                    text.push_str(&format!(" (catalog {id})"));
                }
                if out.iter().any(|o| o.text == text) {
                    continue;
                }
                per_rule[i] += 1;
                out.push(LikelyCause {
                    text,
                    evidence,
                    cause: rule.cause.clone(),
                    field: diff.field,
                    step: diff.step.clone(),
                    declared: diff.declared,
                    catalog: rule.catalog.clone(),
                    link: rule.link.clone(),
                });
            }
        }
    }
    out
}

/// The facts one difference shows.
fn facts(diff: &FieldDiff) -> Vec<Fact> {
    match diff.field {
        Field::Syscalls => changed_syscalls(&diff.left, &diff.right),
        Field::Engine => diff
            .right
            .strip_prefix("refused: ")
            .map(|m| {
                vec![Fact::Refused {
                    message: m.to_string(),
                    step: diff.step.is_some(),
                }]
            })
            .unwrap_or_default(),
        Field::Stdout | Field::Stderr => vec![Fact::Stream {
            field: diff.field,
            text: diff.right.clone(),
        }],
        _ => Vec::new(),
    }
}

/// `syscall ARG = OUTCOME` lines by `syscall ARG`.
fn outcomes(text: &str) -> BTreeMap<&str, BTreeSet<&str>> {
    let mut m: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.rsplit_once(" = ") {
            m.entry(k).or_default().insert(v);
        }
    }
    m
}

/// The candidate's syscalls whose outcome the baseline did not have.
fn changed_syscalls(left: &str, right: &str) -> Vec<Fact> {
    let (base, cand) = (outcomes(left), outcomes(right));
    let mut out = Vec::new();
    for (key, outs) in &cand {
        let before = base.get(key);
        for outcome in outs {
            if before.is_some_and(|b| b.contains(outcome)) {
                continue;
            }
            let mut words = key.split(' ');
            let name = words.next().unwrap_or_default().to_string();
            let args: Vec<&str> = words.collect();
            // `mount SOURCE TARGET FSTYPE FLAGS`; others start with a path.
            let (path, fstype) = if name == "mount" {
                (args.get(1), args.get(2).filter(|t| **t != "none"))
            } else {
                (args.first().filter(|a| a.starts_with('/')), None)
            };
            let baseline = match before {
                Some(b) => b.iter().copied().collect::<Vec<_>>().join("|"),
                None => "not called".into(),
            };
            out.push(Fact::Syscall {
                name,
                path: path.map(|p| p.to_string()),
                fstype: fstype.map(|t| t.to_string()),
                outcome: outcome.to_string(),
                baseline,
            });
        }
    }
    out
}

/// The evidence text when `c` matches `fact`.
fn matches(c: &Compiled, fact: &Fact, baseline: &str, candidate: &str) -> Option<String> {
    match fact {
        Fact::Syscall {
            name,
            path,
            fstype,
            outcome,
            baseline: before,
        } => {
            if !c.on_syscall() {
                return None;
            }
            let ok = |re: &Option<regex::Regex>, v: Option<&String>| match re {
                None => true,
                Some(re) => v.is_some_and(|v| re.is_match(v)),
            };
            if !(ok(&c.syscall, Some(name))
                && ok(&c.errno, Some(outcome))
                && ok(&c.path, path.as_ref())
                && ok(&c.fstype, fstype.as_ref()))
            {
                return None;
            }
            let call = match (fstype, path) {
                (Some(t), Some(p)) if name == "mount" => format!("mount {t} on {p}"),
                (_, Some(p)) => format!("{name} {p}"),
                _ => name.clone(),
            };
            let before = if before == "not called" {
                format!("not called under {baseline}")
            } else {
                format!("{before} under {baseline}")
            };
            Some(format!("{call}: {outcome} under {candidate} ({before})"))
        }
        Fact::Refused { message, step } => {
            let want = c.refused.as_ref()?;
            let what = if *step { "step" } else { "container" };
            message
                .to_lowercase()
                .contains(want.as_str())
                .then(|| format!("the engine refused the {what} under {candidate}"))
        }
        Fact::Stream { field, text } => {
            let re = match field {
                Field::Stderr => c.stderr.as_ref()?,
                _ => c.stdout.as_ref()?,
            };
            let line = text.lines().find(|l| re.is_match(l))?;
            let shown: String = line.trim().chars().take(120).collect();
            Some(format!("{field} {shown:?} under {candidate}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::explain::ExplainMatch;

    fn diff(field: Field, left: &str, right: &str) -> FieldDiff {
        FieldDiff {
            service: false,
            field,
            step: None,
            left: left.into(),
            right: right.into(),
            unified: String::new(),
            summary: Vec::new(),
            declared: false,
        }
    }

    fn rule(when: ExplainMatch, cause: &str, catalog: Option<&str>) -> ExplainRule {
        ExplainRule {
            when,
            cause: cause.into(),
            catalog: catalog.map(str::to_string),
            link: None,
        }
    }

    fn mknod_rule() -> ExplainRule {
        rule(
            ExplainMatch {
                syscall: Some("mknodat?".into()),
                errno: Some("EPERM".into()),
                ..Default::default()
            },
            "device nodes cannot be created in a user namespace",
            Some("S9"),
        )
    }

    #[test]
    fn a_changed_syscall_is_explained_naming_call_and_path() {
        let d = diff(
            Field::Syscalls,
            "execve /bin/mknod = ok\nmknodat /tmp/n c 1:3 = ok\n",
            "execve /bin/mknod = ok\nmknodat /tmp/n c 1:3 = EPERM\nwrite = ok\n",
        );
        let c = explain(&[mknod_rule()], "runc", "userns-remap", &[d]);
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].text,
            "mknodat /tmp/n: EPERM under userns-remap (ok under runc): device nodes cannot be created in a user namespace (catalog S9)"
        );
        assert_eq!(c[0].field, Field::Syscalls);
    }

    #[test]
    fn an_outcome_the_baseline_also_had_is_no_fact() {
        let d = diff(
            Field::Syscalls,
            "mknodat /tmp/n c 1:3 = EPERM\nwrite = ok\n",
            "mknodat /tmp/n c 1:3 = EPERM\n",
        );
        assert!(explain(&[mknod_rule()], "runc", "x", &[d]).is_empty());
    }

    #[test]
    fn mounts_match_on_fstype_and_target() {
        let r = rule(
            ExplainMatch {
                syscall: Some("mount".into()),
                fstype: Some("cgroup2?".into()),
                errno: Some("EPERM".into()),
                path: Some("/mnt/**".into()),
                ..Default::default()
            },
            "cgroup v1 cannot be mounted from a user namespace",
            None,
        );
        let d = diff(
            Field::Syscalls,
            "mount cgroup /mnt/c cgroup MS_SILENT = ok\nmount none /t tmpfs 0 = ok\n",
            "mount cgroup /mnt/c cgroup MS_SILENT = EPERM\nmount none /t tmpfs 0 = EPERM\n",
        );
        let c = explain(&[r], "runc", "u", &[d]);
        assert_eq!(c.len(), 1, "{c:?}");
        assert!(
            c[0].text
                .starts_with("mount cgroup on /mnt/c: EPERM under u (ok under runc): cgroup v1")
        );
    }

    #[test]
    fn refusals_and_streams_match_their_text() {
        let refused = rule(
            ExplainMatch {
                refused: Some("Cannot share the host's network namespace".into()),
                ..Default::default()
            },
            "a remapped engine cannot use the host network",
            Some("N2"),
        );
        let stderr = rule(
            ExplainMatch {
                stderr: Some("Operation not permitted".into()),
                ..Default::default()
            },
            "EPERM",
            None,
        );
        let mut step = diff(
            Field::Stderr,
            "",
            "x\nmknod: /tmp/n: Operation not permitted\n",
        );
        step.step = Some("make".into());
        step.declared = true;
        let diffs = [
            diff(
                Field::Engine,
                "started",
                "refused: cannot share the host's network namespace when user namespaces are enabled",
            ),
            step,
            diff(Field::Engine, "refused: no", "started"),
        ];
        let c = explain(&[refused, stderr], "runc", "userns-remap", &diffs);
        let texts: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "the engine refused the container under userns-remap: a remapped engine cannot use the host network (catalog N2)",
                "step \"make\": stderr \"mknod: /tmp/n: Operation not permitted\" under userns-remap: EPERM",
            ]
        );
        assert!(c[1].declared && !c[0].declared);
    }

    #[test]
    fn the_first_matching_rule_explains_a_fact() {
        let general = rule(
            ExplainMatch {
                syscall: Some("mount".into()),
                errno: Some("EPERM".into()),
                ..Default::default()
            },
            "not a user-namespace filesystem",
            None,
        );
        let cgroup = rule(
            ExplainMatch {
                fstype: Some("cgroup".into()),
                ..Default::default()
            },
            "cgroup v1",
            Some("M19"),
        );
        let d = diff(
            Field::Syscalls,
            "",
            "mount cgroup /c cgroup 0 = EPERM\nmount x /m ext4 0 = EPERM\n",
        );
        let causes = |rules: &[ExplainRule]| -> Vec<String> {
            explain(rules, "runc", "u", std::slice::from_ref(&d))
                .into_iter()
                .map(|c| c.cause)
                .collect()
        };
        assert_eq!(
            causes(&[cgroup.clone(), general.clone()]),
            vec!["cgroup v1", "not a user-namespace filesystem"]
        );
        assert_eq!(
            causes(&[general, cgroup]),
            vec!["not a user-namespace filesystem"; 2]
        );
    }

    /// The shipped profiles' rules against differences as the snapshots of
    /// the scenario library show them.
    #[rstest::rstest]
    #[case::mknod(
        "userns-remap",
        Field::Syscalls,
        "mknodat /tmp/n c 1:3 = ok\n",
        "mknodat /tmp/n c 1:3 = EPERM\n",
        "S9"
    )]
    #[case::chown(
        "userns-remap",
        Field::Syscalls,
        "chown /tmp/f 70000:70000 = ok\n",
        "chown /tmp/f 70000:70000 = EINVAL\n",
        "C6"
    )]
    #[case::cgroup(
        "userns-remap",
        Field::Syscalls,
        "mount cgroup /mnt/c cgroup MS_SILENT = ok\n",
        "mount cgroup /mnt/c cgroup MS_SILENT = EPERM\n",
        "M19"
    )]
    #[case::net_host(
        "userns-remap",
        Field::Engine,
        "started",
        "refused: cannot share the host's network namespace when user namespaces are enabled",
        "N2"
    )]
    #[case::pid_host(
        "userns-remap",
        Field::Engine,
        "started",
        "refused: cannot share the host PID namespace when user namespaces are enabled",
        "N1"
    )]
    #[case::high_uid(
        "userns-remap",
        Field::Engine,
        "started",
        "refused: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to setup user: cannot set uid to unmapped user in user namespace: unknown",
        "C6"
    )]
    #[case::ipc_host(
        "userns-remap",
        Field::Engine,
        "started",
        "refused: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error mounting \"mqueue\" to rootfs at \"/dev/mqueue\": operation not permitted: unknown",
        "N3"
    )]
    #[case::sysfs(
        "userns-remap",
        Field::Syscalls,
        "mount sysfs /mnt/s sysfs MS_SILENT = ok\n",
        "mount sysfs /mnt/s sysfs MS_SILENT = EPERM\n",
        "M15"
    )]
    #[case::syslog(
        "userns-remap",
        Field::Syscalls,
        "syslog = ok\n",
        "syslog = EPERM\n",
        "D2"
    )]
    #[case::cgroup_mkdir(
        "userns-remap",
        Field::Syscalls,
        "mkdir /sys/fs/cgroup/pids/x = EROFS\n",
        "mkdir /sys/fs/cgroup/pids/x = EACCES\n",
        "P10"
    )]
    #[case::overflow_id("userns-remap", Field::Stdout, "0:0 666\n", "65534:65534 666\n", "P12")]
    #[case::sysbox_mknod(
        "sysbox-runc",
        Field::Syscalls,
        "mknodat /tmp/n c 1:3 = ok\n",
        "mknodat /tmp/n c 1:3 = EPERM\n",
        "S9"
    )]
    #[case::hostname(
        "sysbox-runc",
        Field::Syscalls,
        "sethostname = EPERM\n",
        "sethostname = ok\n",
        "N11"
    )]
    #[case::tmpfs(
        "sysbox-runc",
        Field::Syscalls,
        "mount tmpfs /mnt/t tmpfs MS_SILENT = EPERM\n",
        "mount tmpfs /mnt/t tmpfs MS_SILENT = ok\n",
        "S1"
    )]
    #[case::procfs(
        "sysbox-runc",
        Field::Syscalls,
        "mount proc /mnt/p proc MS_SILENT = EPERM\n",
        "mount proc /mnt/p proc MS_SILENT = ok\n",
        "M15"
    )]
    #[case::umount_proc(
        "sysbox-runc",
        Field::Syscalls,
        "umount2 /proc MNT_DETACH = ok\n",
        "umount2 /proc MNT_DETACH = EPERM\n",
        "M4"
    )]
    #[case::swappiness(
        "sysbox-runc",
        Field::Syscalls,
        "openat /proc/sys/vm/swappiness = EROFS\n",
        "openat /proc/sys/vm/swappiness = EACCES\n",
        "P4"
    )]
    #[case::panic_on_oops(
        "sysbox-runc",
        Field::Syscalls,
        "openat /proc/sys/kernel/panic_on_oops = EROFS\n",
        "openat /proc/sys/kernel/panic_on_oops = ok\n",
        "P3"
    )]
    #[case::sys_write(
        "sysbox-runc",
        Field::Syscalls,
        "openat /sys/kernel/profiling = EROFS\n",
        "openat /sys/kernel/profiling = EACCES\n",
        "P6"
    )]
    #[case::sysbox_pid(
        "sysbox-runc",
        Field::Engine,
        "started",
        "refused: OCI runtime create failed: invalid or unsupported container spec: sysbox containers can't share namespaces [pid] with the host (because they use the linux user-namespace for isolation)",
        "N1"
    )]
    #[case::eci_pid(
        "eci",
        Field::Engine,
        "started",
        "refused: sysbox containers can't share namespaces [pid] with the host",
        "N1"
    )]
    #[case::eci_mknod(
        "eci",
        Field::Syscalls,
        "mknodat /dev/net/tun c 10:200 = ok\n",
        "mknodat /dev/net/tun c 10:200 = EPERM\n",
        "S9"
    )]
    fn shipped_profiles_explain_their_main_causes(
        #[case] profile: &str,
        #[case] field: Field,
        #[case] left: &str,
        #[case] right: &str,
        #[case] catalog: &str,
    ) {
        let profiles = crate::load::runtime::Profiles::built_in().unwrap();
        let rules = &profiles.get(profile).unwrap().explain;
        let c = explain(rules, "runc", profile, &[diff(field, left, right)]);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].catalog.as_deref(), Some(catalog), "{}", c[0].text);
        if catalog == "S9" {
            assert!(c[0].text.contains("user namespace"), "{}", c[0].text);
        }
        // The same difference the other way round is no likely cause.
        let back = explain(rules, "runc", profile, &[diff(field, right, left)]);
        assert!(
            back.iter().all(|b| b.catalog.as_deref() != Some(catalog)),
            "{back:?}"
        );
    }

    #[test]
    fn a_rule_explains_a_few_facts_at_most() {
        let r = rule(
            ExplainMatch {
                errno: Some("EACCES".into()),
                path: Some("/proc/sys/**".into()),
                ..Default::default()
            },
            "sysbox-fs refuses it",
            Some("P4"),
        );
        let right: String = (0..6)
            .map(|i| format!("openat /proc/sys/vm/k{i} = EACCES\n"))
            .collect();
        let d = diff(Field::Syscalls, "", &right);
        let c = explain(&[r], "runc", "sysbox-runc", &[d]);
        assert_eq!(c.len(), PER_RULE);
        assert!(
            c[0].text.contains("(not called under runc)"),
            "{}",
            c[0].text
        );
    }
}
