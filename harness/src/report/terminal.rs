//! The terminal reporter: one line per verdict as it lands and, for each
//! failure, which fields differed with a colored unified diff. Colors go
//! through `anstream`, which drops them when NO_COLOR is set or the output
//! is not a terminal.

use std::io::Write;

use anstyle::{AnsiColor, Style};

use crate::event::{Event, Reporter, ScenarioResult, totals};
use crate::judge::compare::{FieldDiff, Verdict};

/// Prints to a writer (stdout for `parity run`, a buffer in tests).
pub struct TerminalReporter<W: Write + Send> {
    out: W,
    /// Show diffs for expected verdicts too.
    pub verbose: bool,
}

impl TerminalReporter<anstream::AutoStream<std::io::Stdout>> {
    pub fn stdout() -> Self {
        TerminalReporter {
            out: anstream::stdout(),
            verbose: false,
        }
    }
}

impl TerminalReporter<anstream::AutoStream<std::io::Stderr>> {
    /// For `--format json`, where stdout carries the document.
    pub fn stderr() -> Self {
        TerminalReporter {
            out: anstream::stderr(),
            verbose: false,
        }
    }
}

impl<W: Write + Send> TerminalReporter<W> {
    pub fn new(out: W) -> Self {
        TerminalReporter {
            out,
            verbose: false,
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

fn style(v: Verdict) -> Style {
    let color = match v {
        Verdict::Parity => AnsiColor::Green,
        Verdict::Expected => AnsiColor::Cyan,
        Verdict::Divergence | Verdict::Error => AnsiColor::Red,
        Verdict::Stale | Verdict::Flaky => AnsiColor::Yellow,
        Verdict::Skipped => AnsiColor::BrightBlack,
    };
    Style::new().fg_color(Some(color.into())).bold()
}

/// The lines printed for one result (without trailing newline handling).
pub fn render_result(r: &ScenarioResult, verbose: bool) -> String {
    let s = style(r.verdict);
    let mut out = format!(
        "{s}{:<10}{s:#} {} {}",
        r.verdict.name().to_uppercase(),
        r.id,
        dim(&format!("[{} vs {}]", r.baseline, r.candidate)),
    );
    if let Some(reason) = &r.reason {
        out.push_str(&format!(": {reason}"));
    }
    if crate::report::signoff::rests_on_inference(r) {
        out.push_str(&format!(
            " {}",
            dim(&format!(
                "(rests on inference: {})",
                crate::report::signoff::known_text(r)
            ))
        ));
    }
    out.push('\n');
    if r.verdict.is_failure() || (verbose && !r.diffs.is_empty()) {
        for line in crate::report::steps::step_lines(r) {
            out.push_str(&format!("    {}\n", crate::report::text::visible(&line)));
        }
        for d in &r.diffs {
            out.push_str(&render_diff(d));
        }
    }
    out
}

fn dim(s: &str) -> String {
    let d = Style::new().dimmed();
    format!("{d}{s}{d:#}")
}

fn render_diff(d: &FieldDiff) -> String {
    let mark = if d.declared { " (declared)" } else { "" };
    let head = Style::new().bold();
    let mut out = format!("    {head}{}{head:#}{mark} differs:\n", d.label());
    for line in &d.summary {
        out.push_str(&format!("      {line}\n"));
    }
    let red = Style::new().fg_color(Some(AnsiColor::Red.into()));
    let green = Style::new().fg_color(Some(AnsiColor::Green.into()));
    let cyan = Style::new().fg_color(Some(AnsiColor::Cyan.into()));
    for line in d.unified.lines() {
        let st = if line.starts_with("+++") || line.starts_with("---") {
            head
        } else if line.starts_with('+') {
            green
        } else if line.starts_with('-') {
            red
        } else if line.starts_with("@@") {
            cyan
        } else {
            Style::new()
        };
        out.push_str(&format!("      {st}{line}{st:#}\n"));
    }
    out
}

impl<W: Write + Send> Reporter for TerminalReporter<W> {
    fn on_event(&mut self, event: &Event) {
        let text = match event {
            Event::Started {
                baseline,
                candidates,
                scenarios,
                ..
            } => format!(
                "running {scenarios} scenario(s): baseline {baseline} vs {}\n",
                candidates.join(", ")
            ),
            Event::ScenarioStarted { .. } => return,
            Event::Progress { message } => format!("{}\n", dim(&format!("... {message}"))),
            Event::Verdict(r) => render_result(r, self.verbose),
            Event::Finished { results } => summary(results),
        };
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }
}

/// Totals by candidate and verdict, and the list of failures.
pub fn summary(results: &[crate::event::ScenarioResult]) -> String {
    let mut candidates: Vec<String> = Vec::new();
    for r in results {
        if !candidates.contains(&r.candidate) {
            candidates.push(r.candidate.clone());
        }
    }
    let mut out = String::from("\n");
    for t in totals(results, &candidates) {
        let parts: Vec<String> = Verdict::ALL
            .iter()
            .filter_map(|v| t.by_verdict.get(v).map(|n| format!("{n} {}", v.name())))
            .collect();
        out.push_str(&format!("{}: {}\n", t.candidate, parts.join(", ")));
    }
    let failed: Vec<&ScenarioResult> = results.iter().filter(|r| r.verdict.is_failure()).collect();
    if failed.is_empty() {
        out.push_str("no failures\n");
    } else {
        out.push_str(&format!("{} failure(s):\n", failed.len()));
        for r in failed {
            out.push_str(&format!(
                "  {} {} [{}]\n",
                r.verdict.name(),
                r.id,
                r.candidate
            ));
        }
    }
    out
}
