//! `junit.xml`: one test case per scenario and candidate, for CI test
//! views. The class name is the runtime pair (`runc-vs-sysbox-runc`), the
//! name the scenario id; divergence and stale are failures with the diff as
//! text, flaky a failure of type `flaky`, error an error, skipped skipped.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::event::ScenarioResult;
use crate::judge::compare::Verdict;
use crate::report::signoff::{Source, column_results, columns, direction, sign_off};
use crate::report::text::visible;

/// The JUnit document for `sources`: a test suite per column.
pub fn junit_report(sources: &[Source]) -> Report {
    let mut report = Report::new("parity");
    let signoff = sign_off(sources);
    for (col, summary) in columns(sources).into_iter().zip(&signoff.columns) {
        let mut suite = TestSuite::new(clean(&col.label));
        suite.add_property(quick_junit::Property::new(
            "run_id",
            clean(&sources[col.source].doc.run_id),
        ));
        // The report's sign-off in the words of every other format, and
        // this candidate's coverage.
        for (name, value) in [("signoff", signoff.word), ("signoff_state", signoff.class)] {
            suite.add_property(quick_junit::Property::new(name, value));
        }
        suite.add_property(quick_junit::Property::new(
            "signoff_because",
            clean(&signoff.because),
        ));
        suite.add_property(quick_junit::Property::new(
            "coverage",
            clean(&summary.coverage_text),
        ));
        let doc = &sources[col.source].doc;
        for (i, line) in crate::report::hostview::host_lines(&doc.engines, &doc.host)
            .iter()
            .enumerate()
        {
            suite.add_property(quick_junit::Property::new(
                format!("host_fact_{}", i + 1),
                clean(line),
            ));
        }
        for r in column_results(sources, &col) {
            suite.add_test_case(test_case(&col.pair, r));
        }
        report.add_test_suite(suite);
    }
    report
}

/// The document as XML text.
pub fn junit_xml(sources: &[Source]) -> Result<String, quick_junit::SerializeError> {
    junit_report(sources).to_string()
}

fn clean(s: &str) -> String {
    visible(s).into_owned()
}

/// The failure text: reason, direction and each field's unified diff.
pub fn failure_text(r: &ScenarioResult) -> String {
    let mut out = String::new();
    if let Some(d) = direction(r) {
        out.push_str(&format!("{d}\n"));
    }
    if let Some(reason) = &r.reason {
        out.push_str(&format!("{reason}\n"));
    }
    for note in crate::report::hostview::expectation_notes(r) {
        out.push_str(&format!("host: {note}\n"));
    }
    for c in &r.likely_causes {
        out.push_str(&format!("likely cause: {}\n", c.text));
        if let Some(link) = &c.link {
            out.push_str(&format!("  {link}\n"));
        }
    }
    for line in crate::report::steps::step_lines(r) {
        out.push_str(&format!("{line}\n"));
    }
    for d in &r.diffs {
        let mark = if d.declared { " (declared)" } else { "" };
        out.push_str(&format!("\n{}{mark} differs:\n", d.label()));
        for line in &d.summary {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str(&d.unified);
    }
    clean(&out)
}

fn test_case(pair: &str, r: &ScenarioResult) -> TestCase {
    let message = clean(r.reason.as_deref().unwrap_or(r.verdict.name()));
    let non_success = |kind: NonSuccessKind, ty: &str| {
        let mut status = TestCaseStatus::non_success(kind);
        status.set_message(message.clone());
        status.set_type(ty);
        status.set_description(failure_text(r));
        status
    };
    let status = match r.verdict {
        Verdict::Parity | Verdict::Expected => TestCaseStatus::success(),
        Verdict::Divergence | Verdict::Stale => {
            non_success(NonSuccessKind::Failure, r.verdict.name())
        }
        Verdict::Flaky => non_success(NonSuccessKind::Failure, "flaky"),
        Verdict::Error => non_success(NonSuccessKind::Error, "error"),
        Verdict::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(message.clone());
            s
        }
    };
    let mut case = TestCase::new(clean(&r.id), status);
    case.set_classname(clean(pair));
    let ms: u64 = r
        .baseline_runs
        .iter()
        .chain(&r.candidate_runs)
        .map(|o| o.duration_ms)
        .sum();
    case.set_time(std::time::Duration::from_millis(ms));
    if let Some(o) = r.candidate_runs.first() {
        case.set_system_out(clean(&o.stdout.text));
        case.set_system_err(clean(&o.stderr.text));
    }
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;
    use quick_xml::events::Event as XmlEvent;

    /// (classname, name, status element) of every test case.
    fn cases(xml: &str) -> Vec<(String, String, String)> {
        let mut reader = quick_xml::Reader::from_str(xml);
        let mut out: Vec<(String, String, String)> = Vec::new();
        let attr = |e: &quick_xml::events::BytesStart, k: &str| {
            e.attributes()
                .flatten()
                .find(|a| a.key.as_ref() == k.as_bytes())
                .map(|a| a.unescape_value().unwrap().into_owned())
                .unwrap_or_default()
        };
        loop {
            match reader.read_event().expect("junit.xml is well-formed") {
                XmlEvent::Eof => break,
                XmlEvent::Start(e) | XmlEvent::Empty(e) => match e.name().as_ref() {
                    b"testcase" => {
                        out.push((attr(&e, "classname"), attr(&e, "name"), "passed".into()))
                    }
                    b"failure" | b"error" | b"skipped" => {
                        let kind = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                        let ty = attr(&e, "type");
                        out.last_mut().expect("inside a testcase").2 = if ty.is_empty() {
                            kind
                        } else {
                            format!("{kind}:{ty}")
                        };
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        out
    }

    #[test]
    fn one_case_per_scenario_and_candidate_with_the_verdict_kind() {
        let doc = fixture::sample();
        let xml = junit_xml(&[Source::from_doc(doc.clone())]).unwrap();
        let got = cases(&xml);
        assert_eq!(got.len(), doc.results.len());
        let find = |id: &str, class: &str| {
            got.iter()
                .find(|c| c.1 == id && c.0 == class)
                .unwrap_or_else(|| panic!("{id} {class} in {got:?}"))
                .2
                .clone()
        };
        assert_eq!(find("basics/hello", "runc-vs-userns-remap"), "passed");
        assert_eq!(find("devices/mknod_null", "runc-vs-userns-remap"), "passed");
        assert_eq!(
            find("mounts/tmpfs_with_sys_admin", "runc-vs-userns-remap"),
            "failure:divergence"
        );
        assert_eq!(
            find("net/raw_socket", "runc-vs-userns-remap"),
            "failure:stale"
        );
        assert_eq!(find("proc/uptime", "runc-vs-userns-remap"), "failure:flaky");
        assert_eq!(
            find("images/missing", "runc-vs-userns-remap"),
            "error:error"
        );
        assert_eq!(find("basics/hello", "runc-vs-sysbox-runc"), "skipped");
    }

    #[test]
    fn failure_text_names_the_likely_cause() {
        let doc = crate::report::fixture::sample();
        let r = doc
            .results
            .iter()
            .find(|r| r.id == "devices/mknod_undeclared")
            .unwrap();
        let text = failure_text(r);
        assert!(
            text.contains("likely cause: mknodat /tmp/n: EPERM under userns-remap"),
            "{text}"
        );
    }

    #[test]
    fn failure_text_carries_the_diff_and_no_control_bytes() {
        let doc = fixture::sample();
        let r = doc
            .results
            .iter()
            .find(|r| r.id == "mounts/tmpfs_with_sys_admin")
            .unwrap();
        let text = failure_text(r);
        assert!(
            text.starts_with("works in production (runc), breaks under userns-remap\n"),
            "{text}"
        );
        assert!(text.contains("-0\n+32\n"), "{text}");
        let xml = junit_xml(&[Source::from_doc(doc)]).unwrap();
        assert!(!xml.contains('\0') && !xml.contains('\x1b'));
        assert!(!xml.contains("<script>"));
    }
}
