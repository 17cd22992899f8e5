//! `summary.md`: the compact Markdown a CI job appends to
//! `$GITHUB_STEP_SUMMARY`: ready or not, totals per candidate, what was
//! not covered, and each failure with its one-line reason, its likely
//! causes (and, for a service scenario, its readiness and steps that
//! differ). Every text from
//! a scenario is escaped so it renders literally.

use crate::judge::compare::Verdict;
use crate::report::signoff::{
    SignOffState, Source, column_results, engine_answers, known_text, rests_on_inference, sign_off,
};
use crate::report::text::{clip, markdown_inline};

/// Failures listed before the list is cut.
const MAX_LISTED: usize = 50;
/// Differing steps listed under one failure.
const MAX_STEPS: usize = 5;

/// The Markdown summary of `sources`.
pub fn summary_md(sources: &[Source]) -> String {
    let s = sign_off(sources);
    let icon = match s.state {
        SignOffState::Ready => "✅",
        SignOffState::Incomplete => "⚠️",
        SignOffState::NotReady => "❌",
    };
    let mut out = format!(
        "## {icon} parity: {}\n\n{}\n\n",
        s.word,
        markdown_inline(&s.because)
    );
    if !s.not_covered.is_empty() {
        out.push_str("**Not covered by this report:**\n\n");
        for u in &s.not_covered {
            out.push_str(&format!("- ⚠️ {}\n", markdown_inline(&clip(u, 300))));
        }
        out.push('\n');
    }
    for src in sources {
        let d = &src.doc;
        out.push_str(&format!(
            "- run {} started {} on {} (kernel {}), scenarios at {}\n",
            markdown_inline(&src.label),
            markdown_inline(&d.started_at),
            markdown_inline(&d.host.hostname),
            markdown_inline(&d.host.kernel),
            d.host
                .git_commit
                .as_deref()
                .map_or("an unknown commit".into(), |c| format!(
                    "`{}`",
                    clip(&c.replace('`', ""), 12)
                )),
        ));
        for line in crate::report::hostview::host_lines(&d.engines, &d.host) {
            out.push_str(&format!("  - {}\n", markdown_inline(&clip(&line, 300))));
        }
    }
    out.push('\n');
    out.push_str("| candidate | baseline |");
    for v in Verdict::ALL {
        out.push_str(&format!(" {} |", v.name()));
    }
    out.push_str("\n|---|---|");
    out.push_str(&"---:|".repeat(Verdict::ALL.len()));
    out.push('\n');
    for c in &s.columns {
        out.push_str(&format!(
            "| {} | {} |",
            markdown_inline(&c.column.label),
            markdown_inline(&c.column.baseline)
        ));
        for v in Verdict::ALL {
            match c.by_verdict.get(&v) {
                Some(n) if v.is_failure() => out.push_str(&format!(" **{n}** |")),
                Some(n) => out.push_str(&format!(" {n} |")),
                None => out.push_str(" 0 |"),
            }
        }
        out.push('\n');
    }
    let mut inferred = Vec::new();
    for c in &s.columns {
        for r in column_results(sources, &c.column).filter(|r| rests_on_inference(r)) {
            inferred.push(format!(
                "- `{}` ({}): {}\n",
                clip(&markdown_code(&r.id), 120),
                markdown_inline(&c.column.label),
                markdown_inline(&clip(&known_text(r), 200)),
            ));
        }
    }
    if !inferred.is_empty() {
        out.push_str(&format!(
            "\n**Expected only by inference ({}):** declared, but neither measured nor documented\n\n",
            inferred.len()
        ));
        for i in inferred.iter().take(MAX_LISTED) {
            out.push_str(i);
        }
    }
    let mut failures = Vec::new();
    for c in &s.columns {
        for r in column_results(sources, &c.column).filter(|r| r.verdict.is_failure()) {
            let mut item = format!(
                "- **{}** `{}` ({}): {}\n",
                r.verdict.name(),
                clip(&markdown_code(&r.id), 120),
                markdown_inline(&c.column.label),
                markdown_inline(&clip(r.reason.as_deref().unwrap_or("no reason given"), 200)),
            );
            if let Some(line) = engine_answers(r) {
                item.push_str(&format!("  - {}\n", markdown_inline(&clip(&line, 300))));
            }
            for note in crate::report::hostview::expectation_notes(r) {
                item.push_str(&format!(
                    "  - host: {}\n",
                    markdown_inline(&clip(&note, 300))
                ));
            }
            for cause in &r.likely_causes {
                let text = markdown_inline(&clip(&cause.text, 300));
                match &cause.link {
                    Some(link) if link.starts_with("https://") && !link.contains([')', ' ']) => {
                        item.push_str(&format!("  - likely cause: {text} ([docs]({link}))\n"))
                    }
                    _ => item.push_str(&format!("  - likely cause: {text}\n")),
                }
            }
            // A service's readiness and steps that differ, in run order.
            for row in crate::report::steps::step_rows(r)
                .iter()
                .filter(|row| row.differs())
                .take(MAX_STEPS)
            {
                let name = if row.readiness {
                    "readiness".to_string()
                } else {
                    format!("{} `{}`", row.kind, clip(&markdown_code(&row.name), 60))
                };
                item.push_str(&format!(
                    "  - {name}: {} vs {} ({})\n",
                    markdown_inline(&clip(&row.baseline, 100)),
                    markdown_inline(&clip(&row.candidate, 100)),
                    markdown_inline(&row.verdict_text()),
                ));
            }
            failures.push(item);
        }
    }
    let mut limited = Vec::new();
    for c in &s.columns {
        for r in column_results(sources, &c.column).filter(|r| !r.verdict.is_failure()) {
            for note in crate::report::hostview::expectation_notes(r) {
                limited.push(format!(
                    "- {} `{}` ({}): {}\n",
                    r.verdict.name(),
                    clip(&markdown_code(&r.id), 120),
                    markdown_inline(&c.column.label),
                    markdown_inline(&clip(&note, 300)),
                ));
            }
        }
    }
    if !limited.is_empty() {
        out.push_str(&format!(
            "\n**Expectations limited to host facts ({}):**\n\n",
            limited.len()
        ));
        for l in limited.iter().take(MAX_LISTED) {
            out.push_str(l);
        }
    }
    if !failures.is_empty() {
        out.push_str(&format!("\n**Failures ({}):**\n\n", failures.len()));
        let n = failures.len();
        for f in failures.into_iter().take(MAX_LISTED) {
            out.push_str(&f);
        }
        if n > MAX_LISTED {
            out.push_str(&format!(
                "- … and {} more (see the HTML report)\n",
                n - MAX_LISTED
            ));
        }
    }
    out
}

/// Text for inside a code span: no backticks, no line breaks, controls visible.
fn markdown_code(s: &str) -> String {
    crate::report::text::visible(s)
        .chars()
        .map(|c| match c {
            '`' => '\'',
            '\n' | '\t' => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn summary_of_the_sample() {
        let md = summary_md(&[Source::from_doc(fixture::sample())]);
        insta::assert_snapshot!("summary_md_sample", md);
    }

    #[test]
    fn ready_summary_says_so() {
        let doc = fixture::doc_with(&["c"], vec![fixture::result("a", "c", Verdict::Parity)]);
        let md = summary_md(&[Source::from_doc(doc)]);
        assert!(md.starts_with("## ✅ parity: READY\n"), "{md}");
        assert!(!md.contains("Failures"));
    }

    #[test]
    fn expectations_resting_on_inference_are_listed_apart() {
        use crate::load::scenario::{Divergence, Known};
        let declared = |known| Divergence {
            host: None,
            runtime: "c".into(),
            fields: Vec::new(),
            steps: Vec::new(),
            reason: "r".into(),
            link: None,
            known,
            source: None,
            covers: Vec::new(),
        };
        let mut guessed = fixture::result("a/guessed", "c", Verdict::Expected);
        guessed.expected = vec![declared(Some(Known::Inferred))];
        let mut seen = fixture::result("a/seen", "c", Verdict::Expected);
        seen.expected = vec![declared(Some(Known::Measured))];
        let mut unstated = fixture::result("a/unstated", "c", Verdict::Expected);
        unstated.expected = vec![declared(None)];
        let doc = fixture::doc_with(&["c"], vec![guessed, seen, unstated]);
        let md = summary_md(&[Source::from_doc(doc)]);
        assert!(md.contains("**Expected only by inference (2):**"), "{md}");
        assert!(md.contains("- `a/guessed` (c): inferred"), "{md}");
        assert!(md.contains("- `a/unstated` (c): not stated"), "{md}");
        assert!(!md.contains("a/seen"), "{md}");
    }

    #[test]
    fn an_unavailable_candidate_is_incomplete_not_green() {
        let mut skip = fixture::result("a", "sysbox-runc", Verdict::Skipped);
        skip.skip = Some(crate::event::SkipCause::Unavailable);
        skip.reason = Some("sysbox-runc unavailable: no runtime".into());
        let doc = fixture::doc_with(
            &["userns-remap", "sysbox-runc"],
            vec![fixture::result("a", "userns-remap", Verdict::Parity), skip],
        );
        let md = summary_md(&[Source::from_doc(doc)]);
        assert!(md.starts_with("## ⚠️ parity: INCOMPLETE\n"), "{md}");
        assert!(!md.contains('✅'), "{md}");
        let top = &md[..md.find("| candidate |").unwrap()];
        assert!(
            top.contains(
                "sysbox-runc: not covered \\(skipped: sysbox-runc unavailable: no runtime\\)"
            ),
            "{top}"
        );
    }

    #[test]
    fn hostile_text_cannot_break_out() {
        let md = summary_md(&[Source::from_doc(fixture::sample())]);
        assert!(!md.contains("<script>") && !md.contains("<img"));
        assert!(!md.contains('\0') && !md.contains('\x1b'));
        let hostile = md.lines().find(|l| l.contains("hostile/output")).unwrap();
        assert!(hostile.contains("&lt;script&gt;"), "{hostile}");
    }
}
