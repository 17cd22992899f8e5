//! A fuzz run of the scenario and runtime-profile loaders: every file of the
//! library and every shipped profile, mutated at random (bytes cut,
//! inserted, lines repeated, swapped or cut short, YAML's sharper edges
//! spliced in), must load or give a located error, never panic and never
//! hang. `PROPTEST_CASES` sets the number of cases (256 by default; .ci/run
//! runs the default as part of the tests).

use std::path::{Path, PathBuf};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use parity::load::runtime::{RuntimeError, RuntimeProfile};
use parity::load::scenario::{Scenario, ScenarioError};
use parity::load::yaml::YamlError;
use proptest::prelude::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let ty = e.file_type().unwrap();
        if ty.is_dir() && p.file_name().is_some_and(|n| n != "snapshots") {
            yaml_files(&p, out);
        } else if ty.is_file() && p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
}

fn seeds(dir: &'static str) -> &'static [String] {
    static SCENARIOS: OnceLock<Vec<String>> = OnceLock::new();
    static PROFILES: OnceLock<Vec<String>> = OnceLock::new();
    let cell = if dir == "scenarios" {
        &SCENARIOS
    } else {
        &PROFILES
    };
    cell.get_or_init(|| read_seeds(dir))
}

fn read_seeds(dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    yaml_files(&root().join(dir), &mut files);
    files.sort();
    assert!(!files.is_empty(), "no seed files under {dir}");
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// Pieces of YAML that have tripped parsers: anchors and aliases, tags,
/// flow openers left open, tabs, document markers, NULs, deep nesting,
/// huge numbers, odd escapes, a repeated key.
const SPLICES: &[&str] = &[
    ": ",
    "- ",
    "\t",
    "{",
    "[",
    "]",
    "}",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "!custom ",
    "\0",
    "\n---\n",
    "\n...\n",
    "? ",
    "|",
    ">-\n",
    "\"\\x",
    "'",
    "#",
    "%YAML 1.1\n",
    "99999999999999999999999999",
    "-0x1p9999",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{a: {a: {a: {a: {a: {a: {a: {a: {a:",
    "description: again\n",
    "command: [true]\n",
    "\u{feff}",
    "\u{202e}",
    "é",
    "\r\n",
];

#[derive(Debug, Clone)]
enum Mutation {
    Cut { at: usize, len: usize },
    Splice { at: usize, what: usize },
    RepeatLine { line: usize },
    SwapLines { a: usize, b: usize },
    Truncate { at: usize },
    IndentLine { line: usize, by: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Cut { at, len }),
        (any::<usize>(), 0..SPLICES.len()).prop_map(|(at, what)| Mutation::Splice { at, what }),
        any::<usize>().prop_map(|line| Mutation::RepeatLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1usize..9).prop_map(|(line, by)| Mutation::IndentLine { line, by }),
    ]
}

/// The nearest char boundary at or below `at % (len + 1)`.
fn boundary(s: &str, at: usize) -> usize {
    let mut i = at % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    let n = lines.len().max(1);
    match *m {
        Mutation::Cut { at, len } => {
            let a = boundary(text, at);
            let b = boundary(text, a + len.min(text.len() - a));
            let b = b.max(a);
            format!("{}{}", &text[..a], &text[b..])
        }
        Mutation::Splice { at, what } => {
            let a = boundary(text, at);
            format!("{}{}{}", &text[..a], SPLICES[what], &text[a..])
        }
        Mutation::RepeatLine { line } if !lines.is_empty() => {
            let l = lines[line % n].clone();
            lines.insert(line % n, l);
            lines.concat()
        }
        Mutation::SwapLines { a, b } if !lines.is_empty() => {
            lines.swap(a % n, b % n);
            lines.concat()
        }
        Mutation::Truncate { at } => text[..boundary(text, at)].to_string(),
        Mutation::IndentLine { line, by } if !lines.is_empty() => {
            lines[line % n].insert_str(0, &" ".repeat(by));
            lines.concat()
        }
        _ => text.to_string(),
    }
}

/// A located error must point inside the text (or just past its end).
fn check_located(e: &YamlError, text: &str, path: &Path) -> Result<(), String> {
    let lines = text.lines().count() as u64 + 1;
    if e.line < 1 || e.line > lines || e.column < 1 {
        return Err(format!(
            "error outside the text ({} lines): line {}, column {}: {e}",
            lines - 1,
            e.line,
            e.column
        ));
    }
    let shown = e.to_string();
    if !shown.contains(&path.display().to_string()) {
        return Err(format!("error does not name the file: {shown}"));
    }
    Ok(())
}

/// Runs `f` on its own thread and gives up after 10 s: a loader that
/// hangs fails the case instead of the whole test run.
fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err("the loader panicked".into()),
        Err(_) => Err("the loader did not return within 10 s".into()),
    }
}

fn scenario_case(seed: &str, muts: &[Mutation]) -> Result<(), String> {
    let text = muts.iter().fold(seed.to_string(), |t, m| apply(&t, m));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("area").join("fuzzed.yaml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &text).unwrap();
    let (r, p) = (dir.path().to_path_buf(), path.clone());
    match bounded(move || Scenario::load(&r, &p).map(|_| ()))? {
        Ok(()) => Ok(()),
        Err(ScenarioError::Yaml(e)) => check_located(&e, &text, &path),
        Err(e) => Err(format!("not a located error: {e}")),
    }
    .map_err(|e| format!("{e}\n--- input ---\n{text}"))
}

fn profile_case(seed: &str, muts: &[Mutation]) -> Result<(), String> {
    let text = muts.iter().fold(seed.to_string(), |t, m| apply(&t, m));
    let name = text
        .lines()
        .find_map(|l| l.strip_prefix("name: "))
        .unwrap_or("fuzzed")
        .trim()
        .to_string();
    let path = PathBuf::from(format!("runtimes/{name}.yaml"));
    let (t, p) = (text.clone(), path.clone());
    match bounded(move || RuntimeProfile::from_text(&p, &t).map(|_| ()))? {
        Ok(()) => Ok(()),
        Err(RuntimeError::Yaml(e)) => check_located(&e, &text, &path),
        // Errors of a loaded shape name the file.
        Err(e) if e.to_string().contains(&path.display().to_string()) => Ok(()),
        Err(e) => Err(format!("error does not name the file: {e}")),
    }
    .map_err(|e| format!("{e}\n--- input ---\n{text}"))
}

proptest! {
    // A failing case is printed with its input; nothing is written into
    // the source tree.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_scenarios_load_or_give_a_located_error(
        pick in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds("scenarios");
        let seed = pick.get(seeds);
        if let Err(e) = scenario_case(seed, &muts) {
            return Err(TestCaseError::fail(e));
        }
    }

    #[test]
    fn mutated_profiles_load_or_give_a_located_error(
        pick in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds("runtimes");
        let seed = pick.get(seeds);
        if let Err(e) = profile_case(seed, &muts) {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[test]
fn the_seeds_themselves_load() {
    for seed in seeds("runtimes") {
        profile_case(seed, &[]).unwrap();
    }
}
