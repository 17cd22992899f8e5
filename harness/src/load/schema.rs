//! The JSON Schema (draft-07) of scenario files.
//!
//! Owns generating the schema from the very types serde reads
//! ([`ScenarioFile`] and what it holds), so editors (the YAML language
//! server, via the `# yaml-language-server: $schema=` line) and the
//! authoring guide can never disagree with the loader. The committed copy
//! is `scenarios/scenario.schema.json`; a test fails when it is stale.

use schemars::generate::SchemaSettings;

use crate::load::scenario::ScenarioFile;

/// Where the committed schema lives, relative to the scenarios root.
pub const SCHEMA_FILE: &str = "scenario.schema.json";

/// The line every scenario file starts with, for a file in
/// `scenarios/AREA/`.
pub const SCHEMA_LINE: &str = "# yaml-language-server: $schema=../scenario.schema.json";

/// How to regenerate the committed schema, for messages.
pub const REGENERATE: &str = "cargo run -p parity -- schema > scenarios/scenario.schema.json (or UPDATE_SCHEMA=1 cargo test -p parity --lib schema)";

/// The scenario schema as a JSON value.
pub fn scenario_schema() -> serde_json::Value {
    let generator = SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<ScenarioFile>();
    schema.to_value()
}

/// The scenario schema as committed: pretty JSON with a final newline.
pub fn scenario_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&scenario_schema()).expect("a schema serializes");
    text.push('\n');
    text
}

/// Every property name anywhere in the schema (top-level keys, container
/// options, expectation keys...), sorted.
pub fn property_names() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(props)) = map.get("properties") {
                    out.extend(props.keys().cloned());
                }
                map.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk(&scenario_schema(), &mut out);
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn committed_path() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(SCHEMA_FILE)
    }

    #[test]
    fn committed_schema_is_current() {
        let want = scenario_schema_text();
        let path = committed_path();
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is stale: it no longer matches the scenario types.\nRegenerate it: {REGENERATE}",
            path.display()
        );
    }

    #[test]
    fn schema_is_draft_07_and_describes_fields() {
        let s = scenario_schema();
        assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
        assert_eq!(s["additionalProperties"], false);
        let props = &s["properties"];
        assert!(props["description"]["description"].is_string());
        assert_eq!(props["timeout"]["default"], "30s");
        let names = property_names();
        for key in [
            "command", "cap_add", "sysctls", "diverges", "reason", "pattern", "runtime",
        ] {
            assert!(
                names.iter().any(|n| n == key),
                "{key} missing from {names:?}"
            );
        }
    }

    #[test]
    fn the_authoring_guide_names_every_schema_key() {
        let guide = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/scenario-authoring.md");
        let text = std::fs::read_to_string(&guide).unwrap();
        let missing: Vec<String> = property_names()
            .into_iter()
            .filter(|k| !text.contains(&format!("| `{k}` |")))
            .collect();
        assert!(
            missing.is_empty(),
            "{} has no field reference row for {missing:?}",
            guide.display()
        );
    }

    #[test]
    fn key_value_and_duration_schemas_accept_both_forms() {
        let text = serde_json::to_string(&scenario_schema()).unwrap();
        assert!(text.contains("KEY=VALUE"), "{text}");
        assert!(text.contains("\"Duration\""), "{text}");
    }
}
