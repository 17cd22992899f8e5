//! Likely-cause rules (`explain:` in a runtime profile): the format, its
//! validation and the compiled matchers.
//!
//! A profile says why its runtime often differs from the baseline: "a
//! `mknodat` that fails with EPERM under this runtime is a device node in a
//! user namespace (catalog S9)". Each rule holds conditions over what a
//! difference shows (a syscall and its errno, the path it touched, a
//! mount's filesystem type, the engine's refusal message, the workload's
//! output) and the cause, in words, with an optional catalog row and link.
//! This module owns the rule types and turns their patterns into
//! [`Compiled`] matchers; matching them against a result's differences is
//! `judge::explain`'s. Nothing here looks at observations.

use regex::Regex;
use serde::{Deserialize, Serialize};

/// One rule of a profile's `explain:` list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainRule {
    /// What must hold of one difference; every condition given must.
    pub when: ExplainMatch,
    /// The probable reason, for people: "device nodes cannot be created
    /// in a user namespace".
    pub cause: String,
    /// The row of `docs/catalog.md` that documents it, e.g. `S9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    /// Where the behaviour is documented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// Conditions over one difference between the baseline and this runtime.
///
/// `syscall`, `errno`, `path` and `fstype` hold of one traced syscall whose
/// outcome differs from the baseline's; `refused` of the engine's refusal
/// of the container (or a step); `stderr` and `stdout` of a stream that
/// differs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainMatch {
    /// The syscall's name, a regex matched against the whole name
    /// (`mknodat?`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscall: Option<String>,
    /// Its outcome under this runtime, a regex over the whole outcome
    /// (`EPERM|EACCES`, or `ok` for a call that succeeds here and failed
    /// under the baseline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
    /// The path it touched (a mount's target), a glob: `*` within one
    /// path segment, `**` across segments, `?` one character.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A `mount`'s filesystem type, a regex over the whole type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fstype: Option<String>,
    /// Text the engine's refusal contains (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// A regex found in this runtime's stderr, where stderr differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// A regex found in this runtime's stdout, where stdout differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout: Option<String>,
}

/// A rule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("explain rule {index}: {message}")]
pub struct ExplainError {
    /// Position of the rule in the list, from 1.
    pub index: usize,
    /// The offending text (a pattern), to locate it in the file.
    pub near: Option<String>,
    pub message: String,
}

/// A rule with its patterns compiled.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub syscall: Option<Regex>,
    pub errno: Option<Regex>,
    pub path: Option<Regex>,
    pub fstype: Option<Regex>,
    /// Lower-cased.
    pub refused: Option<String>,
    pub stderr: Option<Regex>,
    pub stdout: Option<Regex>,
}

impl Compiled {
    /// Whether the rule has a condition over a syscall.
    pub fn on_syscall(&self) -> bool {
        self.syscall.is_some()
            || self.errno.is_some()
            || self.path.is_some()
            || self.fstype.is_some()
    }
}

impl ExplainRule {
    /// The rule's matchers, or why it has none that work.
    pub fn compile(&self, index: usize) -> Result<Compiled, ExplainError> {
        let w = &self.when;
        let err = |near: &str, message: String| ExplainError {
            index,
            near: Some(near.to_string()),
            message,
        };
        let whole = |key: &str, p: &Option<String>| -> Result<Option<Regex>, ExplainError> {
            p.as_ref()
                .map(|p| {
                    // The author's pattern alone first, so the error shows it.
                    Regex::new(p)
                        .and_then(|_| Regex::new(&format!("^(?:{p})$")))
                        .map_err(|e| err(p, format!("{key} pattern {p:?} does not compile: {e}")))
                })
                .transpose()
        };
        let found = |key: &str, p: &Option<String>| -> Result<Option<Regex>, ExplainError> {
            p.as_ref()
                .map(|p| {
                    Regex::new(p)
                        .map_err(|e| err(p, format!("{key} pattern {p:?} does not compile: {e}")))
                })
                .transpose()
        };
        let path = match &w.path {
            Some(g) => Some(
                Regex::new(&glob_regex(g))
                    .map_err(|e| err(g, format!("path glob {g:?} does not compile: {e}")))?,
            ),
            None => None,
        };
        let compiled = Compiled {
            syscall: whole("syscall", &w.syscall)?,
            errno: whole("errno", &w.errno)?,
            path,
            fstype: whole("fstype", &w.fstype)?,
            refused: w.refused.as_ref().map(|s| s.to_lowercase()),
            stderr: found("stderr", &w.stderr)?,
            stdout: found("stdout", &w.stdout)?,
        };
        let subjects = [
            compiled.on_syscall(),
            compiled.refused.is_some(),
            compiled.stderr.is_some(),
            compiled.stdout.is_some(),
        ];
        match subjects.iter().filter(|x| **x).count() {
            0 => Err(ExplainError {
                index,
                near: None,
                message: "`when` needs a condition (syscall, errno, path, fstype, refused, stderr or stdout)".into(),
            }),
            1 => Ok(compiled),
            _ => Err(ExplainError {
                index,
                near: None,
                message: "`when` mixes subjects: a rule matches one difference, so give syscall conditions (syscall, errno, path, fstype), refused, stderr or stdout, not several".into(),
            }),
        }
    }
}

/// Checks every rule of a list, returning the compiled ones in order.
pub fn compile_all(rules: &[ExplainRule]) -> Result<Vec<Compiled>, ExplainError> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if r.cause.trim().is_empty() {
                return Err(ExplainError {
                    index: i + 1,
                    near: None,
                    message: "`cause` is empty".into(),
                });
            }
            r.compile(i + 1)
        })
        .collect()
}

/// A path glob as an anchored regex: `**` any characters, `*` any but
/// `/`, `?` one character but `/`; everything else literal.
pub fn glob_regex(glob: &str) -> String {
    let mut out = String::from("^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                out.push_str(".*");
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out.push('$');
    out
}

/// The 1-based line and column of the `index`th rule's `near` text (or of
/// the rule itself) within a profile's text, for error messages.
pub fn locate(text: &str, index: usize, near: Option<&str>) -> (u64, u64) {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines
        .iter()
        .position(|l| l.trim_end() == "explain:" || l.starts_with("explain:"))
    else {
        return (1, 1);
    };
    // Rules are the list items one indentation below `explain:`.
    let items: Vec<usize> = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .take_while(|(_, l)| l.trim().is_empty() || l.starts_with(' ') || l.starts_with('-'))
        .filter(|(_, l)| {
            let t = l.trim_start();
            t.starts_with("- ") && l.len() - t.len() <= 2
        })
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = items.get(index.saturating_sub(1)) else {
        return (start as u64 + 1, 1);
    };
    let end = items.get(index).copied().unwrap_or(lines.len());
    if let Some(near) = near {
        for (i, line) in lines.iter().enumerate().take(end).skip(first) {
            if let Some(col) = line.find(near) {
                return (i as u64 + 1, line[..col].chars().count() as u64 + 1);
            }
        }
    }
    let line = lines[first];
    let col = line.len() - line.trim_start().len();
    (first as u64 + 1, col as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/proc/sys/**", "/proc/sys/kernel/panic_on_oops", true)]
    #[case("/proc/sys/**", "/proc/self/status", false)]
    #[case("/dev/*", "/dev/net/tun", false)]
    #[case("/dev/**", "/dev/net/tun", true)]
    #[case("/tmp/?", "/tmp/n", true)]
    #[case("/a.b", "/aXb", false)]
    fn globs(#[case] glob: &str, #[case] path: &str, #[case] hit: bool) {
        assert_eq!(Regex::new(&glob_regex(glob)).unwrap().is_match(path), hit);
    }

    fn rule(when: ExplainMatch) -> ExplainRule {
        ExplainRule {
            when,
            cause: "c".into(),
            catalog: None,
            link: None,
        }
    }

    #[test]
    fn a_rule_needs_one_subject_and_patterns_that_compile() {
        assert!(rule(ExplainMatch::default()).compile(1).is_err());
        let mixed = ExplainMatch {
            syscall: Some("mknod".into()),
            stderr: Some("x".into()),
            ..Default::default()
        };
        assert!(
            rule(mixed)
                .compile(1)
                .unwrap_err()
                .message
                .contains("mixes")
        );
        let bad = ExplainMatch {
            errno: Some("E(".into()),
            ..Default::default()
        };
        let e = rule(bad).compile(2).unwrap_err();
        assert_eq!((e.index, e.near.as_deref()), (2, Some("E(")));
        let ok = ExplainMatch {
            syscall: Some("mknodat?".into()),
            errno: Some("EPERM".into()),
            ..Default::default()
        };
        let c = rule(ok).compile(1).unwrap();
        assert!(c.syscall.unwrap().is_match("mknodat"));
        assert!(!c.errno.unwrap().is_match("EPERMX"), "whole outcome");
    }

    #[test]
    fn errors_point_at_the_rule_and_its_pattern() {
        let text = "name: x\nexplain:\n  - when: { syscall: mknod }\n    cause: a\n  - when: { errno: \"E(\" }\n    cause: b\ninstall: y\n";
        assert_eq!(locate(text, 2, Some("E(")), (5, 21));
        assert_eq!(locate(text, 1, None), (3, 3));
        assert_eq!(locate("name: x\n", 1, None), (1, 1));
    }
}
