//! The terminal reporter: one line per verdict as it lands and, for each
//! failure, which fields differed with a colored unified diff; skips are
//! grouped (one line per unavailable candidate and per host limit, with
//! the count; `-v` lists each), and the run ends with its sign-off word.
//! Colors go through `anstream`, which drops them when NO_COLOR is set or
//! the output is not a terminal.

use std::io::Write;

use anstyle::{AnsiColor, Style};

use crate::event::{Event, Reporter, ScenarioResult, SkipCause, totals};
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
    if let Some(line) = crate::report::signoff::engine_answers(r) {
        out.push_str(&format!(
            "    {}\n",
            dim(&crate::report::text::visible(&line))
        ));
    }
    for note in crate::report::hostview::expectation_notes(r) {
        let note = crate::report::text::visible(&note).into_owned();
        out.push_str(&format!("    {}\n", dim(&format!("host: {note}"))));
    }
    if r.verdict.is_failure() || (verbose && !r.diffs.is_empty()) {
        let bold = Style::new().bold();
        for c in &r.likely_causes {
            out.push_str(&format!(
                "    {bold}likely cause:{bold:#} {}\n",
                crate::report::text::visible(&c.text)
            ));
            if let Some(link) = &c.link {
                out.push_str(&format!("      {}\n", dim(link)));
            }
        }
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
                engines,
                ..
            } => {
                let mut text = format!(
                    "running {scenarios} scenario(s): baseline {baseline} vs {}\n",
                    candidates.join(", ")
                );
                for e in engines {
                    let line = crate::report::hostview::engine_line(e);
                    text.push_str(&format!("{}\n", dim(&format!("  engine {line}"))));
                }
                text
            }
            Event::ScenarioStarted { .. } => return,
            Event::Progress { message } => format!("{}\n", dim(&format!("... {message}"))),
            Event::Verdict(r) if r.verdict == Verdict::Skipped && !self.verbose => return,
            Event::Verdict(r) => render_result(r, self.verbose),
            Event::Finished { results } => summary(results),
            Event::SignedOff {
                word,
                class,
                because,
                not_covered,
            } => signoff_text(word, class, because, not_covered),
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
    for line in skip_groups(results) {
        out.push_str(&format!("{}\n", dim(&line)));
    }
    for path in crate::report::results::device_paths(results) {
        let node = crate::report::results::DeviceNode::read(&path);
        out.push_str(&format!("{}\n", dim(&format!("ran with host {node}"))));
    }
    let failed: Vec<&ScenarioResult> = results.iter().filter(|r| r.verdict.is_failure()).collect();
    if !failed.is_empty() {
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

/// One line per unavailable candidate (its reason, which carries the
/// install hint, and how many scenarios it skipped) and one per host
/// limit (with the candidates it applied to), in first-seen order.
pub fn skip_groups(results: &[ScenarioResult]) -> Vec<String> {
    // (cause, reason) -> (count, candidates)
    let mut groups: Vec<(SkipCause, String, usize, Vec<String>)> = Vec::new();
    for r in results {
        let Some(cause) = r.skip_cause() else {
            continue;
        };
        let reason = r
            .reason
            .clone()
            .unwrap_or_else(|| format!("{} skipped: no reason given", r.candidate));
        match groups
            .iter_mut()
            .find(|(c, why, _, _)| *c == cause && *why == reason)
        {
            Some((_, _, n, cands)) => {
                *n += 1;
                if !cands.contains(&r.candidate) {
                    cands.push(r.candidate.clone());
                }
            }
            None => groups.push((cause, reason, 1, vec![r.candidate.clone()])),
        }
    }
    groups
        .into_iter()
        .map(|(cause, reason, n, cands)| match cause {
            SkipCause::Unavailable => format!("{reason}; {n} scenario(s) skipped"),
            SkipCause::HostLimit => format!(
                "{reason}; {n} scenario(s) skipped (under {})",
                cands.join(", ")
            ),
        })
        .collect()
}

/// The sign-off block: the word in its colour (green READY, yellow
/// INCOMPLETE, red NOT READY), why, and each candidate not covered.
pub fn signoff_text(word: &str, class: &str, because: &str, not_covered: &[String]) -> String {
    let color = match class {
        "ready" => AnsiColor::Green,
        "incomplete" => AnsiColor::Yellow,
        _ => AnsiColor::Red,
    };
    let st = Style::new().fg_color(Some(color.into())).bold();
    let mut out = format!("{st}{word}{st:#}: {because}\n");
    for n in not_covered {
        out.push_str(&format!("  {st}!{st:#} {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn skipped(id: &str, cand: &str, cause: SkipCause, why: &str) -> ScenarioResult {
        let mut r = fixture::result(id, cand, Verdict::Skipped);
        r.skip = Some(cause);
        r.reason = Some(why.into());
        r
    }

    #[test]
    fn a_divergence_shows_its_likely_causes() {
        let doc = crate::report::fixture::sample();
        let r = doc
            .results
            .iter()
            .find(|r| r.id == "devices/mknod_undeclared")
            .unwrap();
        let text = anstream::adapter::strip_str(&render_result(r, false)).to_string();
        assert!(
            text.contains("    likely cause: mknodat /tmp/n: EPERM under userns-remap (ok under runc): device nodes cannot be created in a user namespace"),
            "{text}"
        );
        assert!(text.contains("      https://docs.docker.com/engine/security/userns-remap/\n"));
    }

    #[test]
    fn skips_are_grouped_with_counts() {
        let unavailable = "sysbox-runc unavailable: no runtime; install: x";
        let limit = "this host cannot run privileged containers: caps";
        let results = vec![
            skipped("a", "sysbox-runc", SkipCause::Unavailable, unavailable),
            skipped("b", "sysbox-runc", SkipCause::Unavailable, unavailable),
            skipped("c", "sysbox-runc", SkipCause::Unavailable, unavailable),
            skipped("p", "userns-remap", SkipCause::HostLimit, limit),
            skipped("q", "userns-remap", SkipCause::HostLimit, limit),
            fixture::result("a", "userns-remap", Verdict::Parity),
        ];
        assert_eq!(
            skip_groups(&results),
            [
                format!("{unavailable}; 3 scenario(s) skipped"),
                format!("{limit}; 2 scenario(s) skipped (under userns-remap)"),
            ]
        );
        let text = summary(&results);
        assert_eq!(text.matches("unavailable").count(), 1, "{text}");
    }

    #[test]
    fn skipped_verdicts_print_only_when_verbose() {
        let r = skipped("a", "c", SkipCause::Unavailable, "c unavailable: down");
        let mut quiet = TerminalReporter::new(Vec::new());
        quiet.on_event(&Event::Verdict(Box::new(r.clone())));
        assert!(quiet.into_inner().is_empty());
        let mut loud = TerminalReporter::new(Vec::new());
        loud.verbose = true;
        loud.on_event(&Event::Verdict(Box::new(r)));
        assert!(
            String::from_utf8(loud.into_inner())
                .unwrap()
                .contains("SKIPPED")
        );
    }
}
