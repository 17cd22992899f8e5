//! The JSON Schema of `results.json`, generated from the result types with
//! `schemars` and committed as `reports/results.schema.json`; a test fails
//! when the committed file is stale (`PARITY_UPDATE_SCHEMA=1 cargo test
//! -p parity --lib schema` rewrites it).

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn committed_path() -> std::path::PathBuf {
        crate::config::workspace_root().join(SCHEMA_PATH)
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
        let path = crate::config::workspace_root().join("reports/examples/results.json");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}
