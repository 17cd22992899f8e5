//! Normalization: the rewrites applied to observed text before comparing.
//!
//! Owns the order and scope of rules: parity's built-in rules (container
//! ids and names, which differ on every run), then the runtime profile's
//! text rules, then the scenario's own. It works on canonical field text
//! from `observe`, and on the bytes of output streams (through `streams`);
//! it knows nothing of engines or verdicts.
//!
//! What normalization loses by design: engine-generated 64-hex ids and
//! parity's container names (they differ on every run), and whatever a
//! profile's or scenario's own rules rewrite. Nothing else is merged: a
//! stream is never decoded lossily before rules run.

use std::collections::BTreeSet;

use regex::Regex;

use crate::judge::streams::{Rules, stream_text};
use crate::load::scenario::{Field, NormalizeRule};
use crate::run::observe::{Observation, Texts};

/// Compiled rules for one scenario under one runtime. Each rule is
/// compiled twice: for text fields, and for output streams, where it runs
/// on the bytes themselves (never on a lossy decoding).
#[derive(Debug, Clone)]
pub struct Normalizer {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    text: Regex,
    bytes: regex::bytes::Regex,
    replace: String,
    fields: Vec<Field>,
}

impl Rule {
    fn applies(&self, field: Field) -> bool {
        if self.fields.is_empty() {
            field.is_normalized() || field == Field::Engine
        } else {
            self.fields.contains(&field)
        }
    }
}

/// Rewrites every run needs: engine-generated ids and parity's own
/// container names never mean a difference.
fn builtin() -> Vec<NormalizeRule> {
    vec![
        NormalizeRule {
            pattern: r"\b[0-9a-f]{64}\b".into(),
            replace: "<id>".into(),
            fields: vec![],
        },
        NormalizeRule {
            pattern: r"\bparity-[0-9a-z]+-[0-9]+\b".into(),
            replace: "<container>".into(),
            fields: vec![],
        },
    ]
}

impl Normalizer {
    /// Built-in rules, then `profile` rules, then `scenario` rules. Patterns
    /// were checked when their files loaded.
    pub fn new(
        profile: &[NormalizeRule],
        scenario: &[NormalizeRule],
    ) -> Result<Normalizer, regex::Error> {
        let mut rules = Vec::new();
        for rule in builtin().iter().chain(profile).chain(scenario) {
            rules.push(Rule {
                text: Regex::new(&rule.pattern)?,
                bytes: regex::bytes::Regex::new(&rule.pattern)?,
                replace: rule.replace.clone(),
                fields: rule.fields.clone(),
            });
        }
        Ok(Normalizer { rules })
    }

    /// No rules at all, not even the built-in ones: every byte counts.
    pub fn exact() -> Normalizer {
        Normalizer { rules: Vec::new() }
    }

    /// `text` of `field` after every rule that applies to it.
    pub fn apply(&self, field: Field, text: &str) -> String {
        Rules::apply(self, field, text)
    }

    /// The bytes of stream `field` after every rule that applies to it.
    pub fn apply_bytes(&self, field: Field, bytes: &[u8]) -> Vec<u8> {
        Rules::apply_bytes(self, field, bytes)
    }
    /// The normalized text of each subject of `obs` among `fields`: the
    /// run's own fields and each step's (only `engine` when the engine
    /// refused the run).
    pub fn texts(&self, obs: &Observation, fields: &BTreeSet<Field>) -> Texts {
        obs.subjects(fields)
            .into_iter()
            .filter_map(|s| {
                let t = match obs.stream(&s) {
                    Some(c) => stream_text(self, s.field, c),
                    None => self.apply(s.field, &obs.subject_text(&s)?),
                };
                Some((s, t))
            })
            .collect()
    }
}

impl Rules for Normalizer {
    fn apply(&self, field: Field, text: &str) -> String {
        let mut out = text.to_string();
        for rule in self.rules.iter().filter(|r| r.applies(field)) {
            if let std::borrow::Cow::Owned(o) = rule.text.replace_all(&out, rule.replace.as_str()) {
                out = o;
            }
        }
        out
    }

    fn apply_bytes(&self, field: Field, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for rule in self.rules.iter().filter(|r| r.applies(field)) {
            if let std::borrow::Cow::Owned(o) =
                rule.bytes.replace_all(&out, rule.replace.as_bytes())
            {
                out = o;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(p: &str, r: &str, fields: Vec<Field>) -> NormalizeRule {
        NormalizeRule {
            pattern: p.into(),
            replace: r.into(),
            fields,
        }
    }

    #[test]
    fn container_ids_are_always_normalized() {
        let n = Normalizer::new(&[], &[]).unwrap();
        let id = "a".repeat(64);
        assert_eq!(n.apply(Field::Stdout, &format!("id {id}\n")), "id <id>\n");
        assert_eq!(
            n.apply(Field::Engine, "parity-k3x9-12 refused"),
            "<container> refused"
        );
    }

    #[test]
    fn scenario_rules_run_after_profile_rules_and_respect_fields() {
        let n = Normalizer::new(
            &[rule("100000", "ROOT", vec![])],
            &[
                rule("ROOT", "0", vec![Field::Stdout]),
                rule("x", "y", vec![Field::Stderr]),
            ],
        )
        .unwrap();
        assert_eq!(n.apply(Field::Stdout, "100000 x"), "0 x");
        assert_eq!(n.apply(Field::Stderr, "100000 x"), "ROOT y");
        // exit codes are never rewritten by rules without explicit fields
        assert_eq!(n.apply(Field::ExitCode, "100000"), "100000");
    }
}
