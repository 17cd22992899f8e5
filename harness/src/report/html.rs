//! The HTML report: one self-contained page (inline CSS and a small inline
//! script, no network) that a release manager signs off, and the page of
//! `parity compare`.
//!
//! Owns the view model the templates under `reports/templates/` render and
//! the minijinja environment: auto-escape for `.html` templates, and a
//! formatter that makes control characters visible before escaping, so no
//! byte from a scenario or container reaches the page raw. Templates never
//! use `|safe`; only the embedded CSS and JS assets are marked safe.

use std::collections::BTreeSet;

use minijinja::{Environment, Value};
use serde::Serialize;

use crate::event::{ScenarioResult, SkipCause};
use crate::judge::compare::Verdict;
use crate::report::diffview::{DiffView, diff_view};
use crate::report::signoff::{
    Column, SignOff, Source, column_results, columns, direction, engine_answers, sign_off,
};
use crate::report::text::visible;
use crate::run::observe::{Captured, EngineOutcome, Observation};

const INDEX_TEMPLATE: &str = include_str!("../../../reports/templates/index.html.j2");
const CHANGES_TEMPLATE: &str = include_str!("../../../reports/templates/changes.html.j2");
const MACROS_TEMPLATE: &str = include_str!("../../../reports/templates/macros.html.j2");
const CSS: &str = include_str!("../../../reports/assets/report.css");
const JS: &str = include_str!("../../../reports/assets/report.js");

/// Output shown per stream in the page; results.json keeps the capture.
pub const SHOWN_OUTPUT_CAP: usize = 64 * 1024;

/// The template environment every HTML page is rendered with.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(minijinja::default_auto_escape_callback);
    env.set_formatter(|out, state, value| {
        if value.is_safe() || value.is_undefined() || value.is_none() {
            return minijinja::escape_formatter(out, state, value);
        }
        let text = value.to_string();
        minijinja::escape_formatter(out, state, &Value::from(visible(&text).into_owned()))
    });
    for (name, source) in [
        ("index.html.j2", INDEX_TEMPLATE),
        ("changes.html.j2", CHANGES_TEMPLATE),
        ("macros.html.j2", MACROS_TEMPLATE),
    ] {
        env.add_template(name, source)
            .expect("embedded templates parse");
    }
    env
}

/// Renders `template` with `view` plus the inline assets.
pub fn render(template: &str, view: &impl Serialize) -> Result<String, minijinja::Error> {
    let env = environment();
    let ctx = minijinja::context! {
        css => Value::from_safe_string(CSS.to_string()),
        js => Value::from_safe_string(JS.to_string()),
        ..Value::from(minijinja::value::Serde(view))
    };
    env.get_template(template)?.render(ctx)
}

/// The index page for `sources`.
pub fn index_html(sources: &[Source]) -> Result<String, minijinja::Error> {
    render("index.html.j2", &index_view(sources))
}

/// What `index.html.j2` renders.
#[derive(Debug, Serialize)]
pub struct IndexView {
    pub title: String,
    pub parity_version: String,
    pub signoff: SignOff,
    pub sources: Vec<SourceView>,
    pub columns: Vec<Column>,
    pub verdicts: Vec<&'static str>,
    pub tags: Vec<String>,
    pub rows: Vec<RowView>,
    /// `expected` verdicts that rest on inference, listed apart.
    pub inferred: Vec<InferredView>,
    /// Every failure, first thing under the sign-off word.
    pub failures: Vec<FailureView>,
}

/// One failed result, as the top of the page lists it.
#[derive(Debug, Serialize)]
pub struct FailureView {
    pub id: String,
    pub column: String,
    pub verdict: Verdict,
    pub anchor: String,
    /// The first field that differs (undeclared first), e.g. `exit_code`.
    pub field: Option<String>,
    /// The first likely cause, else the result's reason.
    pub cause: Option<String>,
}

fn failure_view(id: &str, column: &str, anchor: &str, r: &ScenarioResult) -> FailureView {
    let field = r
        .diffs
        .iter()
        .find(|d| !d.declared)
        .or(r.diffs.first())
        .map(|d| d.label());
    let cause = r
        .likely_causes
        .first()
        .map(|c| format!("likely cause: {}", c.text))
        .or_else(|| r.reason.clone());
    FailureView {
        id: id.to_string(),
        column: column.to_string(),
        verdict: r.verdict,
        anchor: anchor.to_string(),
        field,
        cause,
    }
}

/// An `expected` verdict whose expectation is inferred or not stated.
#[derive(Debug, Serialize)]
pub struct InferredView {
    pub id: String,
    pub column: String,
    pub anchor: String,
    pub known: String,
}

#[derive(Debug, Serialize)]
pub struct SourceView {
    pub label: String,
    pub run_id: String,
    pub started_at: String,
    pub baseline: String,
    pub candidates: Vec<String>,
    pub git_commit: String,
    pub hostname: String,
    pub kernel: String,
    pub engines: Vec<crate::run::engine::EngineInfo>,
    pub host_notes: Vec<String>,
    /// The host facts the run ran with, a line each (engines, then the
    /// device nodes its scenarios passed in).
    pub host_facts: Vec<String>,
    /// The device nodes alone, for the environment section.
    pub devices: Vec<String>,
}

/// One scenario: a table row with a cell per column, and the details of
/// every result that is not parity.
#[derive(Debug, Serialize)]
pub struct RowView {
    pub id: String,
    pub description: String,
    pub tags: Vec<String>,
    /// Space-separated verdicts present in the row (for filtering).
    pub verdicts: String,
    pub failed: bool,
    pub cells: Vec<Option<CellView>>,
    pub details: Vec<DetailView>,
}

#[derive(Debug, Serialize)]
pub struct CellView {
    pub verdict: Verdict,
    pub anchor: String,
    /// Beside the verdict when an expectation is limited to host facts:
    /// `declared for cgroup v2`, or how many did not apply here.
    pub host: Option<String>,
}

/// The short note beside a verdict whose expectations name host facts.
fn cell_host_note(r: &ScenarioResult) -> Option<String> {
    if crate::report::hostview::expectation_notes(r).is_empty() {
        return None;
    }
    match r.not_applicable.len() {
        0 => r.expected.iter().find_map(crate::judge::host::host_text),
        1 => Some("an expectation does not apply on this host".into()),
        n => Some(format!("{n} expectations do not apply on this host")),
    }
}

/// Everything about one result.
#[derive(Debug, Serialize)]
pub struct DetailView {
    pub anchor: String,
    pub column: String,
    pub baseline: String,
    pub candidate: String,
    pub verdict: Verdict,
    pub failed: bool,
    pub reason: Option<String>,
    pub direction: Option<String>,
    /// How the engine's answers were taken (refusal or trouble, and why).
    pub answers: Option<String>,
    pub diffs: Vec<FieldView>,
    /// Likely causes from the candidate profile's `explain:` rules.
    pub causes: Vec<CauseView>,
    pub expected: Vec<ExpectView>,
    /// Which expectations are limited to host facts, and whether they
    /// applied on this host.
    pub host_notes: Vec<String>,
    pub runs: Vec<RunView>,
    /// A service scenario's readiness and steps, side by side.
    pub steps: Vec<crate::report::steps::StepRow>,
    pub config: Option<String>,
    pub path: String,
}

/// A likely cause; `href` only for http(s) links.
#[derive(Debug, Serialize)]
pub struct CauseView {
    pub text: String,
    pub declared: bool,
    pub link: Option<String>,
    pub href: Option<String>,
}

fn web_link(link: &Option<String>) -> Option<String> {
    link.clone().filter(|l| {
        (l.starts_with("https://") || l.starts_with("http://"))
            && !l.chars().any(|c| c.is_control())
    })
}

/// A declared divergence; `href` only for http(s) links.
#[derive(Debug, Serialize)]
pub struct ExpectView {
    pub runtime: String,
    pub fields: String,
    pub reason: String,
    pub link: Option<String>,
    pub href: Option<String>,
    /// How it is known: `measured (...)`, `documented`, `inferred`, `not stated`.
    pub known: String,
    pub inferred: bool,
    pub covers: Vec<String>,
}

fn expect_view(d: &crate::load::scenario::Divergence) -> ExpectView {
    let fields = d.fields_text();
    let href = web_link(&d.link);
    ExpectView {
        runtime: d.runtime.clone(),
        fields,
        reason: d.reason.clone(),
        link: d.link.clone(),
        href,
        known: d.known_text(),
        inferred: d.rests_on_inference(),
        covers: d.covers.clone(),
    }
}

#[derive(Debug, Serialize)]
pub struct FieldView {
    pub field: String,
    pub declared: bool,
    pub summary: Vec<String>,
    pub left_name: String,
    pub right_name: String,
    pub view: DiffView,
}

#[derive(Debug, Serialize)]
pub struct RunView {
    pub label: String,
    pub engine: String,
    pub exit_code: String,
    /// A service's readiness (`ready after 40 ms`), if awaited.
    pub ready: Option<String>,
    pub duration_ms: u64,
    pub stdout: StreamView,
    pub stderr: StreamView,
}

#[derive(Debug, Serialize)]
pub struct StreamView {
    pub text: String,
    pub note: Option<String>,
}

fn stream(c: &Captured) -> StreamView {
    let mut notes = Vec::new();
    let mut text = c.text.clone();
    if text.len() > SHOWN_OUTPUT_CAP {
        let mut end = SHOWN_OUTPUT_CAP;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        notes.push(format!(
            "showing the first {end} bytes here; results.json has {} bytes",
            c.text.len()
        ));
    }
    if let Some(cap) = c.truncated_at {
        notes.push(format!(
            "captured the first {cap} of {} bytes written",
            c.bytes
        ));
    }
    StreamView {
        text,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    }
}

fn run_view(label: String, o: &Observation) -> RunView {
    RunView {
        label,
        engine: match &o.engine {
            EngineOutcome::Started => "started".into(),
            EngineOutcome::Refused { message, .. } => format!("refused: {message}"),
        },
        exit_code: o
            .exit_code
            .as_ref()
            .map_or_else(|| "none".into(), ToString::to_string),
        ready: o
            .ready
            .as_ref()
            .map(|r| format!("{} after {} ms ({})", r.outcome, r.after_ms, r.check)),
        duration_ms: o.duration_ms,
        stdout: stream(&o.stdout),
        stderr: stream(&o.stderr),
    }
}

fn detail(anchor: String, col: &Column, r: &ScenarioResult) -> DetailView {
    let flaky = r.verdict == Verdict::Flaky;
    let mut runs = Vec::new();
    let multi = |n: usize| n > 1;
    for (i, o) in r.baseline_runs.iter().enumerate() {
        let n = if multi(r.baseline_runs.len()) {
            format!(" run {}", i + 1)
        } else {
            String::new()
        };
        runs.push(run_view(format!("baseline {}{n}", r.baseline), o));
    }
    for (i, o) in r.candidate_runs.iter().enumerate() {
        let n = if multi(r.candidate_runs.len()) {
            format!(" run {}", i + 1)
        } else {
            String::new()
        };
        runs.push(run_view(format!("candidate {}{n}", r.candidate), o));
    }
    DetailView {
        anchor,
        column: col.label.clone(),
        baseline: r.baseline.clone(),
        candidate: r.candidate.clone(),
        verdict: r.verdict,
        failed: r.verdict.is_failure(),
        reason: r.reason.clone(),
        direction: direction(r),
        answers: engine_answers(r),
        diffs: r
            .diffs
            .iter()
            .map(|d| FieldView {
                field: d.label(),
                declared: d.declared,
                summary: d.summary.clone(),
                left_name: if flaky {
                    "first run".into()
                } else {
                    r.baseline.clone()
                },
                right_name: if flaky {
                    "disagreeing run".into()
                } else {
                    r.candidate.clone()
                },
                view: diff_view(&d.left, &d.right, 3),
            })
            .collect(),
        causes: r
            .likely_causes
            .iter()
            .map(|c| CauseView {
                text: c.text.clone(),
                declared: c.declared,
                link: c.link.clone(),
                href: web_link(&c.link),
            })
            .collect(),
        expected: r.expected.iter().map(expect_view).collect(),
        host_notes: crate::report::hostview::expectation_notes(r),
        runs,
        steps: crate::report::steps::step_rows(r),
        config: r
            .config
            .as_ref()
            .and_then(|c| serde_json::to_string_pretty(c).ok()),
        path: r.path.clone(),
    }
}

/// Builds the index page's view of `sources`.
pub fn index_view(sources: &[Source]) -> IndexView {
    let cols = columns(sources);
    let mut ids: Vec<String> = Vec::new();
    for s in sources {
        for r in &s.doc.results {
            if !ids.contains(&r.id) {
                ids.push(r.id.clone());
            }
        }
    }
    ids.sort();
    let mut tags = BTreeSet::new();
    let mut inferred = Vec::new();
    let mut failures = Vec::new();
    let rows = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            let mut cells = Vec::new();
            let mut details = Vec::new();
            let mut verdicts = BTreeSet::new();
            let (mut description, mut row_tags) = (String::new(), Vec::new());
            for (c, col) in cols.iter().enumerate() {
                let found = column_results(sources, col).find(|r| &r.id == id);
                cells.push(found.map(|r| {
                    if description.is_empty() {
                        description = r.description.clone();
                        row_tags = r.tags.clone();
                    }
                    verdicts.insert(r.verdict.name());
                    let mut anchor = format!("r{n}-c{c}");
                    let host = cell_host_note(r);
                    // An unavailable candidate's reason is said once, in
                    // the header's "not covered" list; its cells link there.
                    let unavailable = r.skip_cause() == Some(SkipCause::Unavailable);
                    if unavailable {
                        anchor = "not-covered".into();
                    } else if r.verdict != Verdict::Parity || host.is_some() {
                        details.push(detail(anchor.clone(), col, r));
                    }
                    if r.verdict.is_failure() {
                        failures.push(failure_view(id, &col.label, &anchor, r));
                    }
                    if crate::report::signoff::rests_on_inference(r) {
                        inferred.push(InferredView {
                            id: id.clone(),
                            column: col.label.clone(),
                            anchor: anchor.clone(),
                            known: crate::report::signoff::known_text(r),
                        });
                    }
                    CellView {
                        verdict: r.verdict,
                        anchor,
                        host,
                    }
                }));
            }
            tags.extend(row_tags.iter().cloned());
            RowView {
                id: id.clone(),
                description,
                tags: row_tags,
                failed: details.iter().any(|d| d.failed),
                verdicts: verdicts.into_iter().collect::<Vec<_>>().join(" "),
                cells,
                details,
            }
        })
        .collect();
    let signoff = sign_off(sources);
    IndexView {
        title: format!("parity report: {}", signoff.word),
        parity_version: sources
            .first()
            .map(|s| s.doc.parity_version.clone())
            .unwrap_or_default(),
        signoff,
        sources: sources.iter().map(source_view).collect(),
        columns: cols,
        verdicts: Verdict::ALL.iter().map(|v| v.name()).collect(),
        tags: tags.into_iter().collect(),
        rows,
        inferred,
        failures,
    }
}

fn source_view(s: &Source) -> SourceView {
    let d = &s.doc;
    SourceView {
        label: s.label.clone(),
        run_id: d.run_id.clone(),
        started_at: d.started_at.clone(),
        baseline: d.baseline.clone(),
        candidates: d.candidates.clone(),
        git_commit: d
            .host
            .git_commit
            .clone()
            .unwrap_or_else(|| "unknown (not a git checkout)".into()),
        hostname: d.host.hostname.clone(),
        kernel: d.host.kernel.clone(),
        engines: d.engines.clone(),
        host_facts: crate::report::hostview::host_lines(&d.engines, &d.host),
        devices: d
            .host
            .devices
            .iter()
            .map(|n| {
                let text = n.to_string();
                text.strip_prefix("device node ").unwrap_or(&text).to_string()
            })
            .collect(),
        host_notes: d
            .host
            .limits
            .privileged_blocked
            .iter()
            .map(|w| format!("privileged containers cannot start on this host: {w}"))
            .chain(d.host.limits.unprobed.iter().map(|w| {
                format!("the host's limits could not be probed (privileged scenarios ran unchecked): {w}")
            }))
            .collect(),
    }
}
