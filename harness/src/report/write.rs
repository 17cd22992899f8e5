//! Writing the report files into a folder, and reading `results.json`
//! back for `parity report` and `parity compare`.

use std::path::{Path, PathBuf};

use crate::report::results::ResultsDocument;
use crate::report::signoff::{Source, signed};
use crate::report::{RESULTS_SCHEMA_VERSION, html, junit, markdown};

/// `parity report`: every format from results.json files into `out`;
/// returns the sign-off line. Any problem is a message (a usage error).
pub fn rerender(results: &[PathBuf], out: &Path) -> Result<String, String> {
    let sources = results
        .iter()
        .map(|p| load_results(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    write_combined(out, &sources).map_err(|e| format!("writing {}: {e}", out.display()))?;
    let signoff = crate::report::signoff::sign_off(&sources);
    Ok(format!(
        "{}: {}; reports written to {}",
        signoff.word,
        signoff.because,
        out.display()
    ))
}

/// `parity compare`: the text of what changed between two results files
/// (and the HTML page at `html`), and whether a verdict became a failure.
pub fn compare_files(
    old: &Path,
    new: &Path,
    html: Option<&Path>,
) -> Result<(String, bool), String> {
    let load = |p: &Path| load_results(p).map_err(|e| e.to_string());
    let (old, new) = (load(old)?, load(new)?);
    let changes = crate::report::changes::compare_runs(&old.doc, &new.doc);
    if let Some(path) = html {
        let page = crate::report::changes::changes_html(&changes).map_err(|e| e.to_string())?;
        std::fs::write(path, page).map_err(|e| format!("writing {}: {e}", path.display()))?;
    }
    Ok((
        crate::report::changes::changes_text(&changes),
        changes.got_worse(),
    ))
}

/// Writes every report format for `doc` into `dir`: `index.html`,
/// `results.json`, `junit.xml` and `summary.md`.
pub fn write_reports(dir: &Path, doc: &ResultsDocument) -> std::io::Result<()> {
    write_combined(dir, &[Source::from_doc(doc.clone())])
}

/// Writes every format for one or more sources. With several, results.json
/// holds the merged results and each source is copied to `sources/`.
pub fn write_combined(dir: &Path, sources: &[Source]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json =
        |doc: &ResultsDocument| serde_json::to_string_pretty(doc).map_err(std::io::Error::other);
    match sources {
        [one] => std::fs::write(dir.join("results.json"), json(&signed(one.doc.clone()))?)?,
        several => {
            std::fs::create_dir_all(dir.join("sources"))?;
            for (i, s) in several.iter().enumerate() {
                let name: String = s
                    .label
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                std::fs::write(
                    dir.join("sources").join(format!("{}-{name}.json", i + 1)),
                    json(&s.doc)?,
                )?;
            }
            std::fs::write(dir.join("results.json"), json(&signed(merged(several)))?)?;
        }
    }
    let html = html::index_html(sources).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("index.html"), html)?;
    let xml = junit::junit_xml(sources).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("junit.xml"), xml)?;
    std::fs::write(dir.join("summary.md"), markdown::summary_md(sources))?;
    Ok(())
}

/// One document with every source's results, for tools that read a single
/// results.json; the per-source files keep each run's own facts.
fn merged(sources: &[Source]) -> ResultsDocument {
    let first = &sources[0].doc;
    let mut candidates: Vec<String> = Vec::new();
    let (mut engines, mut results) = (Vec::new(), Vec::new());
    let mut required: Vec<String> = Vec::new();
    for s in sources {
        for c in &s.doc.required {
            if !required.contains(c) {
                required.push(c.clone());
            }
        }
        for c in &s.doc.candidates {
            if !candidates.contains(c) {
                candidates.push(c.clone());
            }
        }
        engines.extend(s.doc.engines.iter().cloned());
        results.extend(s.doc.results.iter().cloned());
    }
    let run_id = sources
        .iter()
        .map(|s| s.doc.run_id.as_str())
        .collect::<Vec<_>>()
        .join("+");
    let mut doc = ResultsDocument::new(
        &run_id,
        first.started_at.clone(),
        &first.baseline,
        &candidates,
        engines,
        first.host.clone(),
        results,
    );
    doc.parity_version = first.parity_version.clone();
    doc.required = required;
    doc
}

/// A results.json that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a parity results document: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{}: schema_version {found}, this parity reads {RESULTS_SCHEMA_VERSION}", path.display())]
    Version { path: PathBuf, found: u64 },
}

/// Reads a results.json, labelled by its file name (and run id when the
/// file is the usual `results.json`).
pub fn load_results(path: &Path) -> Result<Source, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| LoadError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
    let found = value
        .get("schema_version")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if found != u64::from(RESULTS_SCHEMA_VERSION) {
        return Err(LoadError::Version {
            path: path.to_path_buf(),
            found,
        });
    }
    let doc: ResultsDocument =
        serde_json::from_value(value).map_err(|source| LoadError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let label = if stem == "results" {
        path.parent()
            .and_then(|p| p.file_name())
            .map(|d| format!("{} ({})", d.to_string_lossy(), doc.run_id))
            .unwrap_or_else(|| doc.run_id.clone())
    } else {
        stem
    };
    Ok(Source { label, doc })
}

/// For the `cargo test` harness: writes reports of the results its trials
/// gathered into `PARITY_REPORT_DIR`, else parity.toml's `report_dir`
/// (relative to `root`), if either is set. Returns the folder written.
pub fn write_test_reports(
    root: &Path,
    configured: Option<&Path>,
    doc: &ResultsDocument,
) -> std::io::Result<Option<PathBuf>> {
    let dir = match std::env::var_os("PARITY_REPORT_DIR").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => match configured {
            Some(d) => root.join(d),
            None => return Ok(None),
        },
    };
    write_reports(&dir, doc)?;
    Ok(Some(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn every_format_is_written_and_results_read_back() {
        let dir = std::env::temp_dir().join(format!("parity-write-{}", std::process::id()));
        let doc = fixture::sample();
        write_reports(&dir, &doc).unwrap();
        for f in ["index.html", "results.json", "junit.xml", "summary.md"] {
            assert!(dir.join(f).metadata().unwrap().len() > 0, "{f}");
        }
        let back = load_results(&dir.join("results.json")).unwrap();
        assert_eq!(back.doc, crate::report::signoff::signed(doc.clone()));
        let rec = back.doc.signoff.clone().unwrap();
        assert_eq!(rec.word, "NOT READY");
        assert_eq!(rec.not_covered.len(), 1, "{rec:?}");
        let again = dir.join("again");
        write_combined(
            &again,
            &[
                back.clone(),
                Source {
                    label: "second".into(),
                    ..back
                },
            ],
        )
        .unwrap();
        let merged = load_results(&again.join("results.json")).unwrap();
        assert_eq!(merged.doc.results.len(), 2 * doc.results.len());
        assert_eq!(std::fs::read_dir(again.join("sources")).unwrap().count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn other_schema_versions_are_refused() {
        let path = std::env::temp_dir().join(format!("parity-v-{}.json", std::process::id()));
        std::fs::write(&path, r#"{"schema_version": 99}"#).unwrap();
        let err = load_results(&path).unwrap_err().to_string();
        assert!(err.contains("schema_version 99"), "{err}");
        std::fs::remove_file(&path).unwrap();
    }
}
