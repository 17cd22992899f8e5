//! `docs/catalog.md`: the project's catalog of known behaviour differences.
//!
//! Owns reading the catalog's table rows: each row's stable id (`N1`, `S9`,
//! `P4`...) and what its last column says covers it: scenario ids in
//! backticks, or `none:` and the reason no scenario can. Scenarios name the
//! rows they cover (`covers:`), and lint checks those names against this
//! file. It does not judge or run anything.

use std::path::{Path, PathBuf};

/// Where the catalog lives, relative to the workspace (the scenarios
/// root's parent).
pub const CATALOG_FILE: &str = "docs/catalog.md";

/// One row of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRow {
    /// The stable id, e.g. `S9`.
    pub id: String,
    /// 1-based line in the catalog.
    pub line: usize,
    /// Scenario ids named in the row's last column (`devices/mknod_char`):
    /// words in backticks with a `/` and no `.` (so `runtimes/eci.yaml`
    /// is a file, not a scenario).
    pub scenarios: Vec<String>,
    /// The last column's text (the scenarios, or `none: why`).
    pub covered_by: String,
}

/// The catalog's rows, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub path: PathBuf,
    pub rows: Vec<CatalogRow>,
}

/// Whether `s` looks like a catalog id: one or two capitals, then digits.
pub fn is_id(s: &str) -> bool {
    let letters = s.chars().take_while(|c| c.is_ascii_uppercase()).count();
    let rest = &s[letters..];
    (1..=2).contains(&letters) && !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit())
}

impl Catalog {
    /// Reads the table rows of `text`: lines `| ID | ... | covered by |`.
    pub fn parse(path: &Path, text: &str) -> Catalog {
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if !line.starts_with('|') {
                continue;
            }
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let Some(first) = cells.first() else { continue };
            if !is_id(first) || cells.len() < 2 {
                continue;
            }
            let last = cells.last().copied().unwrap_or_default();
            let scenarios = last
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(|s| s.contains('/') && !s.contains([' ', '.']))
                .map(str::to_string)
                .collect();
            rows.push(CatalogRow {
                id: first.to_string(),
                line: i + 1,
                scenarios,
                covered_by: last.to_string(),
            });
        }
        Catalog {
            path: path.to_path_buf(),
            rows,
        }
    }

    /// Reads the catalog at `path`.
    pub fn load(path: &Path) -> std::io::Result<Catalog> {
        Ok(Catalog::parse(path, &std::fs::read_to_string(path)?))
    }

    /// The catalog beside a scenarios root (`ROOT/../docs/catalog.md`), if any.
    pub fn for_scenarios_root(root: &Path) -> Option<Catalog> {
        let path = root.parent()?.join(CATALOG_FILE);
        Catalog::load(&path).ok()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.rows.iter().any(|r| r.id == id)
    }

    pub fn row(&self, id: &str) -> Option<&CatalogRow> {
        self.rows.iter().find(|r| r.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("N1", true)]
    #[case("S13", true)]
    #[case("PW1", true)]
    #[case("n1", false)]
    #[case("#", false)]
    #[case("N", false)]
    #[case("ABC1", false)]
    #[case("M1a", false)]
    fn ids(#[case] s: &str, #[case] want: bool) {
        assert_eq!(is_id(s), want, "{s}");
    }

    /// The project's own catalog and scenario library agree: every row
    /// names scenarios that exist or says `none` and why, ids are unique,
    /// and every id a scenario names is a row.
    #[test]
    fn the_catalog_and_the_library_agree() {
        let ws = crate::config::workspace_root();
        let catalog = Catalog::load(&ws.join(CATALOG_FILE)).unwrap();
        assert!(catalog.rows.len() > 80, "{} rows", catalog.rows.len());
        let root = ws.join("scenarios");
        let mut problems = Vec::new();
        let mut ids = std::collections::BTreeSet::new();
        for row in &catalog.rows {
            if !ids.insert(row.id.clone()) {
                problems.push(format!("{} is used by two rows", row.id));
            }
            if row.scenarios.is_empty() && !row.covered_by.starts_with("none") {
                problems.push(format!(
                    "{} (line {}) names no scenario and no `none:` reason",
                    row.id, row.line
                ));
            }
            for s in &row.scenarios {
                if !root.join(format!("{s}.yaml")).is_file() {
                    problems.push(format!("{} names {s}, which does not exist", row.id));
                }
            }
        }
        let (files, walk) = crate::load::scenario::discover_all(&root);
        assert!(walk.is_empty(), "{walk:?}");
        for f in files {
            let sc = crate::load::scenario::Scenario::load(&root, &f).unwrap();
            let named = sc
                .file
                .covers
                .iter()
                .chain(sc.file.expect.diverges.iter().flat_map(|d| d.covers.iter()));
            for id in named {
                if !catalog.contains(id) {
                    problems.push(format!("{} covers {id}, which is not a row", sc.id));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn rows_and_their_scenarios() {
        let text = "# t\n\n| id | runc | sysbox | source | covered by |\n|---|---|---|---|---|\n\
                    | S9 | ok | EPERM | x | `devices/mknod_char`, `devices/mknod_quiet` |\n\
                    | E1 | runc | ignored | y | none: ECI only; policy rule E1 |\n";
        let c = Catalog::parse(Path::new("c.md"), text);
        assert_eq!(c.rows.len(), 2);
        assert_eq!(
            c.rows[0].scenarios,
            vec!["devices/mknod_char", "devices/mknod_quiet"]
        );
        assert_eq!(c.rows[0].line, 5);
        assert!(c.rows[1].scenarios.is_empty());
        assert!(c.rows[1].covered_by.starts_with("none:"));
        assert!(c.contains("E1") && !c.contains("id"));
    }
}
