//! `parity lint`: checks scenario files without running anything.
//!
//! Owns the lint rules and their findings (file, line, column, severity,
//! rule, message): YAML and schema errors as the loader reports them,
//! problems serde cannot express (all of them, not the first), unknown
//! runtimes in `expect`, duplicate ids, a missing schema line, orphan and
//! pending snapshots, and the scenarios a runtime profile's policy would
//! refuse. It never contacts an engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::judge::snapshot_files;
use crate::load::catalog::{CATALOG_FILE, Catalog};
use crate::load::policy::Effect;
use crate::load::runtime::Profiles;
use crate::load::scenario::{
    Known, ScenarioFile, discover_all, locate_nth_key, problems, root_for, scenario_id,
};
use crate::load::schema::SCHEMA_FILE;
use crate::load::yaml::{self, YamlError};

/// How bad a finding is: errors fail `parity lint`; warnings fail it with
/// `--strict`; notes never do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub severity: Severity,
    pub rule: String,
    pub message: String,
    /// The rendered source snippet, for terminals.
    #[serde(skip)]
    pub snippet: Option<String>,
}

impl Finding {
    fn from_yaml(severity: Severity, rule: &str, err: &YamlError) -> Finding {
        Finding {
            file: err.path.clone(),
            line: err.line,
            column: err.column,
            severity,
            rule: rule.to_string(),
            message: err.message.clone(),
            snippet: Some(err.render()),
        }
    }

    fn in_file(file: &Path, severity: Severity, rule: &str, message: String) -> Finding {
        Finding {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
            severity,
            rule: rule.to_string(),
            message,
            snippet: None,
        }
    }

    /// `file:line:column: severity[rule]: message`.
    pub fn headline(&self) -> String {
        format!(
            "{}:{}:{}: {}[{}]: {}",
            self.file.display(),
            self.line,
            self.column,
            self.severity.name(),
            self.rule,
            self.message
        )
    }
}

/// Lints every scenario under `paths` against the runtime `profiles`.
/// Findings come sorted by file and line.
pub fn lint_paths(paths: &[PathBuf], profiles: &Profiles) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut ids: BTreeMap<(PathBuf, String), Vec<PathBuf>> = BTreeMap::new();
    for p in paths {
        let root = root_for(p);
        let catalog = Catalog::for_scenarios_root(&root);
        let (files, problems) = discover_all(p);
        for problem in problems {
            findings.push(walk_finding(&problem));
        }
        for file in files {
            match scenario_id(&root, &file) {
                Ok(id) => {
                    let list = ids.entry((root.clone(), id.clone())).or_default();
                    if !list.contains(&file) {
                        list.push(file.clone());
                        findings.extend(lint_file(&root, &file, &id, profiles, catalog.as_ref()));
                    }
                }
                Err(e) => findings.push(Finding::in_file(
                    &file,
                    Severity::Error,
                    "read",
                    e.to_string(),
                )),
            }
        }
        if !roots.contains(&root) && p.is_dir() {
            roots.push(root);
        }
    }
    for ((_, id), files) in &ids {
        if files.len() > 1 {
            for f in files {
                let others: Vec<String> = files
                    .iter()
                    .filter(|o| *o != f)
                    .map(|o| o.display().to_string())
                    .collect();
                findings.push(Finding::in_file(
                    f,
                    Severity::Error,
                    "duplicate-id",
                    format!(
                        "scenario id {id} is also used by {}; keep one file",
                        others.join(", ")
                    ),
                ));
            }
        }
    }
    let names: Vec<String> = profiles.by_name.keys().cloned().collect();
    for root in &roots {
        let (orphans, problems) = snapshot_files::orphans(root, &names);
        for problem in problems {
            if !findings.iter().any(|f| f.file == problem.path()) {
                findings.push(walk_finding(&problem));
            }
        }
        for (file, why) in orphans {
            findings.push(Finding::in_file(
                &file,
                Severity::Warning,
                "orphan-snapshot",
                format!("orphan snapshot: {why}; delete it (or restore its scenario)"),
            ));
        }
        for file in snapshot_files::pending(root) {
            findings.push(Finding::in_file(
                &file,
                Severity::Warning,
                "pending-snapshot",
                "snapshot awaiting review: run `cargo insta review` (or `cargo insta accept`)"
                    .into(),
            ));
        }
    }
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.rule).cmp(&(&b.file, b.line, b.column, &b.rule))
    });
    findings
}

/// A problem of the shared walk (a dangling or looping link) as an error.
fn walk_finding(problem: &crate::load::walk::WalkError) -> Finding {
    Finding::in_file(problem.path(), Severity::Error, "link", problem.to_string())
}

/// Lints one scenario file (`id` under `root`); `covers` ids are checked
/// against `catalog` when there is one.
pub fn lint_file(
    root: &Path,
    path: &Path,
    id: &str,
    profiles: &Profiles,
    catalog: Option<&Catalog>,
) -> Vec<Finding> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return vec![Finding::in_file(
                path,
                Severity::Error,
                "read",
                format!("cannot read: {e}"),
            )];
        }
    };
    lint_text(root, path, id, &text, profiles, catalog)
}

/// Lints the text of a scenario file.
pub fn lint_text(
    _root: &Path,
    path: &Path,
    id: &str,
    text: &str,
    profiles: &Profiles,
    catalog: Option<&Catalog>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    schema_line(path, id, text, &mut out);
    let mut file: ScenarioFile = match yaml::from_str(path, text) {
        Ok(f) => f,
        Err(e) => {
            out.push(Finding::from_yaml(Severity::Error, "schema", &e));
            return out;
        }
    };
    for (rule, err) in problems(path, text, &file) {
        out.push(Finding::from_yaml(Severity::Error, rule, &err));
    }
    if let Some(b) = &mut file.build {
        b.resolve(path);
    }
    let expect_at = locate_nth_key(text, "expect", 0)
        .map(|(l, _)| l)
        .unwrap_or(0);
    let runtime_keys: Vec<(u64, u64)> = (0..)
        .map_while(|n| locate_nth_key(text, "runtime", n))
        .filter(|(l, _)| *l > expect_at)
        .collect();
    for (i, d) in file.expect.diverges.iter().enumerate() {
        let (line, column) = runtime_keys.get(i).copied().unwrap_or((1, 1));
        let at = |msg: String| YamlError::at(path, text, line, column, msg);
        if !profiles.by_name.contains_key(&d.runtime) {
            let known: Vec<&str> = profiles.by_name.keys().map(String::as_str).collect();
            let msg = format!(
                "unknown runtime {:?} in expect; profiles in {}: {}",
                d.runtime,
                profiles.dir.display(),
                known.join(", ")
            );
            out.push(Finding::from_yaml(
                Severity::Error,
                "unknown-runtime",
                &at(msg),
            ));
        }
        known(d, &at, &mut out);
    }
    catalog_ids(path, text, &file, catalog, &mut out);
    for (name, profile) in &profiles.by_name {
        for (service, own) in file.containers() {
            let effective = own.merged_over(&profile.container);
            for hit in profile.policy.check(&effective, file.build.as_ref()) {
                let after = service
                    .and_then(|svc| locate_nth_key(text, svc, 0))
                    .map_or(0, |(l, _)| l);
                let (line, column) = (0..64)
                    .map_while(|n| locate_nth_key(text, hit.key, n))
                    .find(|(l, _)| *l > after)
                    .or_else(|| locate_nth_key(text, "container", 0))
                    .unwrap_or((1, 1));
                let declared = file.expect.diverges.iter().any(|d| &d.runtime == name);
                let what = match service {
                    Some(svc) => format!("service {svc} of this scenario"),
                    None => "this scenario".to_string(),
                };
                let mut msg = format!(
                    "{name} {} {what} by policy (rule {}: {}; {}: {})",
                    hit.effect.verb(),
                    hit.rule,
                    hit.message,
                    hit.key,
                    hit.value
                );
                if let Some(link) = &hit.link {
                    msg.push_str(&format!(", see {link}"));
                }
                if hit.effect == Effect::Refuse && !declared {
                    msg.push_str(&format!("; to record it, declare `expect.diverges: [{{runtime: {name}, fields: [engine], reason: ...}}]`"));
                }
                let err = YamlError::at(path, text, line, column, msg);
                out.push(Finding::from_yaml(Severity::Note, "policy", &err));
            }
        }
    }
    out.sort_by_key(|f| (f.line, f.column));
    out
}

/// How a declared divergence is known: missing, or measured without a
/// source, or documented without a link, is a warning.
fn known(
    d: &crate::load::scenario::Divergence,
    at: &dyn Fn(String) -> YamlError,
    out: &mut Vec<Finding>,
) {
    let warn = |rule: &str, msg: String, out: &mut Vec<Finding>| {
        out.push(Finding::from_yaml(Severity::Warning, rule, &at(msg)));
    };
    match d.known {
        None => warn(
            "expect-known",
            format!(
                "say how the {} expectation is known: `known: measured` (and `source:` the engine and version), `documented` (with `link:`) or `inferred`",
                d.runtime
            ),
            out,
        ),
        Some(Known::Measured) if d.source.as_deref().is_none_or(|s| s.trim().is_empty()) => warn(
            "expect-source",
            "a measured expectation names where it was measured: `source:` engine, runtime and version".into(),
            out,
        ),
        Some(Known::Documented) if d.link.is_none() => warn(
            "expect-link",
            "a documented expectation gives the `link:` to the documentation".into(),
            out,
        ),
        _ => {}
    }
}

/// Every catalog id named in `covers` (the scenario's and each
/// expectation's) must be a row of the catalog.
fn catalog_ids(
    path: &Path,
    text: &str,
    file: &ScenarioFile,
    catalog: Option<&Catalog>,
    out: &mut Vec<Finding>,
) {
    let named: Vec<&String> = file
        .covers
        .iter()
        .chain(file.expect.diverges.iter().flat_map(|d| d.covers.iter()))
        .collect();
    if named.is_empty() {
        return;
    }
    let Some(catalog) = catalog else {
        out.push(Finding::in_file(
            path,
            Severity::Warning,
            "catalog",
            format!("no {CATALOG_FILE} beside the scenarios folder: `covers` ids are not checked"),
        ));
        return;
    };
    let mut seen = Vec::new();
    for id in named {
        if catalog.contains(id) || seen.contains(&id) {
            continue;
        }
        seen.push(id);
        let (line, column) = text
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("covers") && l.contains(id.as_str()))
            .map(|(i, l)| (i as u64 + 1, l.find(id.as_str()).unwrap_or(0) as u64 + 1))
            .unwrap_or((1, 1));
        let msg = format!(
            "catalog id {id:?} is not a row of {}; add the row or fix the id",
            catalog.path.display()
        );
        out.push(Finding::from_yaml(
            Severity::Warning,
            "catalog-id",
            &YamlError::at(path, text, line, column, msg),
        ));
    }
}

/// The schema line a file at `id` should start with.
pub fn expected_schema_line(id: &str) -> String {
    let depth = id.matches('/').count();
    format!(
        "# yaml-language-server: $schema={}{SCHEMA_FILE}",
        "../".repeat(depth)
    )
}

fn schema_line(path: &Path, id: &str, text: &str, out: &mut Vec<Finding>) {
    let want = expected_schema_line(id);
    let found = text
        .lines()
        .enumerate()
        .take_while(|(_, l)| l.trim().is_empty() || l.trim_start().starts_with('#'))
        .find(|(_, l)| l.contains("yaml-language-server:") && l.contains("$schema="));
    match found {
        Some((_, line)) if line.trim() == want => {}
        Some((i, line)) => out.push(Finding::from_yaml(
            Severity::Warning,
            "schema-line",
            &YamlError::at(
                path,
                text,
                i as u64 + 1,
                1,
                format!(
                    "schema line points elsewhere: {:?}; expected {want:?}",
                    line.trim()
                ),
            ),
        )),
        None => out.push(Finding::from_yaml(
            Severity::Warning,
            "schema-line",
            &YamlError::at(
                path,
                text,
                1,
                1,
                format!("missing schema line: start the file with {want:?} so editors check it"),
            ),
        )),
    }
}

/// `parity lint`: the rendered findings of `paths` and the exit status.
pub fn command(paths: &[PathBuf], profiles: &Profiles, json: bool, strict: bool) -> (String, i32) {
    let findings = lint_paths(paths, profiles);
    (render(&findings, json), exit_status(&findings, strict))
}

/// The exit status: 1 when an error (or, `strict`, a warning) was found.
pub fn exit_status(findings: &[Finding], strict: bool) -> i32 {
    let fails =
        |f: &&Finding| f.severity == Severity::Error || (strict && f.severity == Severity::Warning);
    if findings.iter().any(|f| fails(&f)) {
        1
    } else {
        0
    }
}

/// The findings as `parity lint` prints them: JSON (a list of findings),
/// or one headline per finding with its snippet and a count line.
pub fn render(findings: &[Finding], json: bool) -> String {
    if json {
        return serde_json::to_string_pretty(findings).unwrap_or_default() + "\n";
    }
    let mut out = String::new();
    for f in findings {
        out.push_str(&f.headline());
        out.push('\n');
        if let Some(snippet) = &f.snippet {
            out.push_str(snippet);
            out.push('\n');
        }
    }
    let count = |sev| findings.iter().filter(|f| f.severity == sev).count();
    out.push_str(&format!(
        "{} error(s), {} warning(s), {} note(s)\n",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Note)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn profiles() -> Profiles {
        Profiles::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtimes")).unwrap()
    }

    const HEAD: &str = "# yaml-language-server: $schema=../scenario.schema.json\n";

    fn lint(body: &str) -> Vec<Finding> {
        let text = format!("{HEAD}{body}");
        lint_text(
            Path::new("scenarios"),
            Path::new("scenarios/area/s.yaml"),
            "area/s",
            &text,
            &profiles(),
            Some(&catalog()),
        )
    }

    fn catalog() -> Catalog {
        Catalog::parse(
            Path::new("docs/catalog.md"),
            "| S9 | ok | EPERM | src | `area/s` |\n| C7 | ok | ok | src | `area/s` |\n",
        )
    }

    fn rules(findings: &[Finding]) -> Vec<(String, u64)> {
        findings.iter().map(|f| (f.rule.clone(), f.line)).collect()
    }

    #[test]
    fn a_clean_file_has_no_findings() {
        let f = lint(
            "description: d\ncommand: [\"true\"]\ncovers: [C7]\nexpect:\n  diverges:\n    - runtime: userns-remap\n      reason: r\n      known: measured\n      source: Docker 20.10\n      covers: [S9]\n",
        );
        assert!(f.is_empty(), "{f:?}");
    }

    #[rstest]
    #[case::no_known("      reason: r\n", "expect-known", 6)]
    #[case::measured_without_source("      reason: r\n      known: measured\n", "expect-source", 6)]
    #[case::documented_without_link("      reason: r\n      known: documented\n", "expect-link", 6)]
    #[case::unknown_catalog_id(
        "      reason: r\n      known: inferred\n      covers: [S99]\n",
        "catalog-id",
        9
    )]
    fn how_it_is_known_and_catalog_ids_are_warnings(
        #[case] entry: &str,
        #[case] rule: &str,
        #[case] line: u64,
    ) {
        let f = lint(&format!(
            "description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: userns-remap\n{entry}"
        ));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].rule.as_str(), f[0].severity, f[0].line),
            (rule, Severity::Warning, line),
            "{f:?}"
        );
        assert_eq!(exit_status(&f, false), 0);
        assert_eq!(exit_status(&f, true), 1);
    }

    #[test]
    fn a_scenario_level_catalog_id_is_checked_too() {
        let f = lint("description: d\ncommand: [x]\ncovers: [C7, Z1]\n");
        assert_eq!(rules(&f), vec![("catalog-id".into(), 4)], "{f:?}");
        assert!(f[0].message.contains("\"Z1\""), "{}", f[0].message);
    }

    #[rstest]
    #[case::typo_in_key("description: d\ncomand: [x]\n", "schema", 3)]
    #[case::unknown_container_key(
        "description: d\ncommand: [x]\ncontainer:\n  priviledged: true\n",
        "schema",
        5
    )]
    #[case::bad_observe_field(
        "description: d\ncommand: [x]\nobserve: [exit_code, stdot]\n",
        "schema",
        4
    )]
    #[case::timeout_not_a_duration("description: d\ncommand: [x]\ntimeout: soon\n", "schema", 4)]
    #[case::timeout_without_unit("description: d\ncommand: [x]\ntimeout: 30\n", "schema", 4)]
    #[case::yaml_syntax("description: d\ncommand: [x\n", "schema", 3)]
    #[case::empty_command("description: d\ncommand: []\n", "command", 3)]
    #[case::bad_pattern(
        "description: d\ncommand: [x]\nnormalize:\n  - { pattern: \"(\" }\n",
        "normalize-pattern",
        5
    )]
    #[case::no_reason(
        "description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: userns-remap\n      reason: \" \"\n",
        "expect-reason",
        7
    )]
    #[case::missing_reason(
        "description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: userns-remap\n",
        "schema",
        6
    )]
    #[case::unknown_runtime(
        "description: d\ncommand: [x]\nexpect:\n  diverges:\n    - runtime: sysbox\n      reason: r\n",
        "unknown-runtime",
        6
    )]
    fn errors_name_rule_and_line(#[case] body: &str, #[case] rule: &str, #[case] line: u64) {
        let f = lint(body);
        let errors: Vec<_> = f.iter().filter(|f| f.severity == Severity::Error).collect();
        assert_eq!(errors.len(), 1, "{f:?}");
        assert_eq!(
            (errors[0].rule.as_str(), errors[0].line),
            (rule, line),
            "{f:?}"
        );
        assert_eq!(exit_status(&f, false), 1);
    }

    #[test]
    fn every_problem_is_reported_not_only_the_first() {
        let f = lint(
            "description: d\ncommand: []\nrepeat: 0\nnormalize:\n  - { pattern: \"a\" }\n  - { pattern: \"(\" }\nexpect:\n  diverges:\n    - runtime: nope\n      reason: \"\"\n      known: inferred\n    - runtime: runc2\n      reason: r\n      known: inferred\n",
        );
        assert_eq!(
            rules(&f),
            vec![
                ("command".into(), 3),
                ("repeat".into(), 4),
                ("normalize-pattern".into(), 7),
                ("unknown-runtime".into(), 10),
                ("expect-reason".into(), 11),
                ("unknown-runtime".into(), 13),
            ]
        );
    }

    #[test]
    fn typo_names_file_line_and_column_with_a_snippet() {
        let f = lint(
            "description: d\ncommand: [x]\nobserve: [exit_code]\ncontainer:\n  cap_ad: [SYS_ADMIN]\n",
        );
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            f[0].headline().split(": ").next().unwrap(),
            "scenarios/area/s.yaml:6:3"
        );
        assert!(
            f[0].message.contains("unknown field `cap_ad`"),
            "{}",
            f[0].message
        );
        assert!(
            f[0].snippet
                .as_deref()
                .unwrap()
                .contains("cap_ad: [SYS_ADMIN]")
        );
    }

    #[rstest]
    #[case::missing("description: d\ncommand: [x]\n", None)]
    #[case::elsewhere(
        "# yaml-language-server: $schema=../../x.json\ndescription: d\ncommand: [x]\n",
        None
    )]
    #[case::present(&format!("{HEAD}description: d\ncommand: [x]\n"), Some(()))]
    fn schema_line_is_checked(#[case] text: &str, #[case] clean: Option<()>) {
        let f = lint_text(
            Path::new("s"),
            Path::new("s/a/x.yaml"),
            "a/x",
            text,
            &profiles(),
            None,
        );
        assert_eq!(f.is_empty(), clean.is_some(), "{f:?}");
        if clean.is_none() {
            assert_eq!(
                (f[0].rule.as_str(), f[0].severity),
                ("schema-line", Severity::Warning)
            );
            assert_eq!(exit_status(&f, false), 0);
            assert_eq!(exit_status(&f, true), 1);
        }
    }

    #[rstest]
    #[case::top_level("x", "# yaml-language-server: $schema=scenario.schema.json")]
    #[case::area("a/x", "# yaml-language-server: $schema=../scenario.schema.json")]
    #[case::nested("a/b/x", "# yaml-language-server: $schema=../../scenario.schema.json")]
    fn schema_line_follows_depth(#[case] id: &str, #[case] want: &str) {
        assert_eq!(expected_schema_line(id), want);
    }

    #[rstest]
    #[case::pid_host("container:\n  pid: host\n", "N1", 5)]
    #[case::docker_sock(
        "container:\n  volumes: [\"/var/run/docker.sock:/var/run/docker.sock\"]\n",
        "E3",
        5
    )]
    #[case::runtime_override("container:\n  runtime: runc\n", "E1", 5)]
    fn policy_refusals_are_notes_with_the_rule(
        #[case] container: &str,
        #[case] rule: &str,
        #[case] line: u64,
    ) {
        let f = lint(&format!("description: d\ncommand: [x]\n{container}"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(
            (f[0].rule.as_str(), f[0].severity, f[0].line),
            ("policy", Severity::Note, line)
        );
        assert!(
            f[0].message.contains(&format!("rule {rule}")),
            "{}",
            f[0].message
        );
        assert!(f[0].message.starts_with("eci "), "{}", f[0].message);
        assert_eq!(exit_status(&f, true), 0);
    }

    #[rstest]
    #[case::network_host("  network: host\n", &[("B1", 6)])]
    #[case::entitlement_network_host("  entitlements: [network.host]\n", &[("B2", 6)])]
    #[case::entitlement_insecure("  entitlements: [security.insecure]\n", &[("B2", 6)])]
    #[case::both_entitlements(
        "  network: none\n  entitlements: [network.host, security.insecure]\n",
        &[("B2", 7), ("B2", 7)]
    )]
    #[case::host_and_entitlement(
        "  network: host\n  entitlements: [security.insecure]\n",
        &[("B1", 6), ("B2", 7)]
    )]
    #[case::network_none("  network: none\n", &[])]
    #[case::network_default("  network: default\n  args: { A: host }\n", &[])]
    #[case::plain("", &[])]
    fn eci_flags_every_build_it_refuses_and_nothing_else(
        #[case] build: &str,
        #[case] want: &[(&str, u64)],
    ) {
        let f = lint(&format!(
            "description: d\ncovers: [C7]\nbuild:\n  dockerfile: \"FROM busybox\\nRUN true\\n\"\n{build}"
        ));
        let got: Vec<(String, u64)> = f
            .iter()
            .map(|f| {
                assert_eq!(
                    (f.rule.as_str(), f.severity),
                    ("policy", Severity::Note),
                    "{f:?}"
                );
                assert!(f.message.starts_with("eci would refuse"), "{}", f.message);
                assert!(
                    f.message
                        .contains("enhanced-container-isolation/limitations"),
                    "{}",
                    f.message
                );
                let rule = f.message.split("(rule ").nth(1).unwrap_or_default();
                (
                    rule.split(':').next().unwrap_or_default().to_string(),
                    f.line,
                )
            })
            .collect();
        let want: Vec<(String, u64)> = want.iter().map(|(r, l)| (r.to_string(), *l)).collect();
        assert_eq!(got, want, "{f:?}");
    }

    #[test]
    fn duplicate_ids_and_orphans_are_found() {
        let dir = std::env::temp_dir().join(format!("parity-lint-{}", std::process::id()));
        let area = dir.join("scenarios/area");
        std::fs::create_dir_all(area.join("snapshots")).unwrap();
        let body = format!("{HEAD}description: d\ncommand: [x]\n");
        std::fs::write(area.join("a.yaml"), &body).unwrap();
        std::fs::write(area.join("a.yml"), &body).unwrap();
        std::fs::write(area.join("snapshots/gone@runc.snap"), "---\n---\n").unwrap();
        let f = lint_paths(&[dir.join("scenarios")], &profiles());
        let got: Vec<&str> = f.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            got,
            vec!["duplicate-id", "duplicate-id", "orphan-snapshot"],
            "{f:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod link_tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn loop_dangling_and_self_links_are_located_errors_not_hangs() {
        let dir = std::env::temp_dir().join(format!("parity-lint-links-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let area = dir.join("scenarios/area");
        std::fs::create_dir_all(area.join("snapshots")).unwrap();
        std::fs::write(
            area.join("a.yaml"),
            "# yaml-language-server: $schema=../scenario.schema.json\ndescription: d\ncommand: [x]\n",
        )
        .unwrap();
        symlink("..", area.join("up")).unwrap();
        symlink(".", area.join("snapshots/here")).unwrap();
        symlink("gone.yaml", area.join("dangling.yaml")).unwrap();
        symlink("self.yaml", area.join("self.yaml")).unwrap();
        let profiles =
            Profiles::load_dir(&crate::config::workspace_root().join("runtimes")).unwrap();
        let start = std::time::Instant::now();
        let f = lint_paths(&[dir.join("scenarios")], &profiles);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "lint hung"
        );
        let links: Vec<String> = f
            .iter()
            .filter(|f| f.rule == "link" && f.severity == Severity::Error)
            .map(|f| f.file.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for name in ["dangling.yaml", "self.yaml", "up", "here"] {
            assert!(
                links.iter().any(|l| l == name),
                "{name} in {links:?}: {f:?}"
            );
        }
        assert_eq!(exit_status(&f, false), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
