//! The JSON Schema of `results.json`, generated from the result types with
//! `schemars` and committed as `reports/results.schema.json`; a test fails
//! when the committed file is stale (`PARITY_UPDATE_SCHEMA=1 cargo test
//! -p parity --lib schema` rewrites it).
//!
//! Scenario types the results embed (`Field`, `Divergence`) are described
//! here by schema-only mirrors so `scenario.rs` stays untouched; a test
//! keeps the mirrors in step with the real types.

use schemars::JsonSchema;

use crate::report::ResultsDocument;

/// Where the committed schema lives, relative to the workspace root.
pub const SCHEMA_PATH: &str = "reports/results.schema.json";

/// The schema of [`ResultsDocument`], pretty-printed with a final newline.
pub fn results_schema() -> String {
    let schema = schemars::schema_for!(ResultsDocument);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    s.push('\n');
    s
}

/// Schema of [`crate::scenario::Field`].
#[derive(JsonSchema)]
#[schemars(rename = "Field")]
#[serde(rename_all = "snake_case")]
pub enum FieldSchema {
    Engine,
    ExitCode,
    Stdout,
    Stderr,
    Syscalls,
    Mounts,
    MountTable,
    Capabilities,
    IdMaps,
    Security,
    Devices,
}

/// Schema of [`crate::scenario::Divergence`].
#[derive(JsonSchema)]
#[schemars(rename = "Divergence")]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the schema only")]
pub struct DivergenceSchema {
    /// The candidate runtime profile's name, e.g. `sysbox-runc`.
    runtime: String,
    /// The fields that differ; empty means any field.
    #[serde(default)]
    fields: Vec<FieldSchema>,
    /// Why it differs, in a sentence.
    reason: String,
    /// Where it is documented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use crate::scenario::{Divergence, Field};

    fn committed_path() -> std::path::PathBuf {
        crate::trial::workspace_root().join(SCHEMA_PATH)
    }

    #[test]
    fn committed_schema_is_current() {
        let want = results_schema();
        let path = committed_path();
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            if std::env::var_os("PARITY_UPDATE_SCHEMA").is_some() {
                std::fs::write(&path, &want).unwrap();
                return;
            }
            panic!(
                "{} is stale: run `PARITY_UPDATE_SCHEMA=1 cargo test -p parity --lib schema` and commit it",
                path.display()
            );
        }
    }

    #[test]
    fn results_validate_against_the_schema() {
        let schema: serde_json::Value = serde_json::from_str(&results_schema()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let doc = serde_json::to_value(fixture::sample()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let mut bad = doc.clone();
        bad["results"][0]["verdict"] = "fine".into();
        assert!(
            !validator.is_valid(&bad),
            "an unknown verdict must not validate"
        );
    }

    #[test]
    fn a_real_results_json_validates() {
        let schema: serde_json::Value = serde_json::from_str(&results_schema()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let path = crate::trial::workspace_root().join("reports/examples/results.json");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }

    #[test]
    fn mirrors_match_the_scenario_types() {
        let names: Vec<String> = Field::ALL
            .iter()
            .map(|f| {
                serde_json::to_value(f)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let schema = serde_json::to_value(schemars::schema_for!(FieldSchema)).unwrap();
        let listed: Vec<String> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, listed);
        let d = Divergence {
            runtime: "r".into(),
            fields: vec![Field::Stdout],
            reason: "x".into(),
            link: Some("https://e".into()),
        };
        let value = serde_json::to_value(&d).unwrap();
        let dschema = serde_json::to_value(schemars::schema_for!(DivergenceSchema)).unwrap();
        let validator = jsonschema::validator_for(&dschema).unwrap();
        assert!(validator.is_valid(&value), "{value}");
        let keys: Vec<&String> = dschema["properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), value.as_object().unwrap().len());
    }
}
