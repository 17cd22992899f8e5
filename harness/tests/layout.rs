//! The harness's source layout keeps to its rules: folders by stage of the
//! data flow, no module importing the CLI (only `main.rs` does), no import
//! cycle between modules or between the stage folders, a thin `cli.rs`,
//! and a `//!` paragraph opening every file. Reads the sources as text;
//! needs no engine.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every module of the crate (`run::engine::client`) with its source.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p.strip_prefix(base).unwrap().with_extension("");
                let mut name = rel.to_string_lossy().replace('/', "::");
                if let Some(parent) = name.strip_suffix("::mod") {
                    name = parent.to_string();
                }
                out.insert(name, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&src(), &src(), &mut out);
    out
}

/// Modules each module names through `crate::` (outside its tests).
fn imports(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph = BTreeMap::new();
    for (name, text) in mods {
        let code = text.split("#[cfg(test)]").next().unwrap_or(text);
        let mut deps = BTreeSet::new();
        for (i, _) in code.match_indices("crate::") {
            let path: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
            let target = (1..=parts.len())
                .rev()
                .map(|n| parts[..n].join("::"))
                .find(|c| mods.contains_key(c));
            if let Some(t) = target {
                if t != *name && !name.starts_with(&format!("{t}::")) {
                    deps.insert(t);
                }
            }
        }
        graph.insert(name.clone(), deps);
    }
    graph
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| p == n).unwrap_or(0);
                let mut c = path[start..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for d in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, graph, state, path) {
                return Some(c);
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut state, &mut Vec::new()))
}

#[test]
fn no_module_imports_the_cli() {
    let graph = imports(&modules());
    let importers: Vec<&String> = graph
        .iter()
        .filter(|(_, d)| d.contains("cli"))
        .map(|(n, _)| n)
        .collect();
    assert!(importers.is_empty(), "{importers:?} import the CLI");
}

#[test]
fn no_import_cycle_between_modules_or_stages() {
    let graph = imports(&modules());
    assert_eq!(cycle(&graph), None, "module import cycle");
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_string();
    let mut stages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, deps) in &graph {
        for d in deps.iter().filter(|d| top(d) != top(m)) {
            stages.entry(top(m)).or_default().insert(top(d));
        }
    }
    assert_eq!(cycle(&stages), None, "folder import cycle: {stages:?}");
}

#[test]
fn the_cli_is_thin_and_the_top_level_small() {
    let cli = std::fs::read_to_string(src().join("cli.rs")).unwrap();
    assert!(
        cli.lines().count() < 300,
        "cli.rs has {} lines",
        cli.lines().count()
    );
    let files: Vec<String> = std::fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(files.len() <= 7, "top of harness/src holds {files:?}");
}

#[test]
fn every_file_opens_with_its_paragraph() {
    for (name, text) in modules() {
        assert!(
            text.starts_with("//!"),
            "{name} does not open with a //! paragraph"
        );
    }
}
