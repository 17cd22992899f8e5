//! A BuildKit build observed: its vertices as the author's Dockerfile
//! steps, and the build's outcome.
//!
//! Owns choosing, among the vertices BuildKit reported
//! ([`run::engine::Trace`](crate::run::engine::Trace)), those that are the
//! author's steps (`[N/M] INSTRUCTION`, `[STAGE N/M] ...` in a multi-stage
//! build; BuildKit's own `[internal] ...` and `exporting ...` vertices are
//! not), in Dockerfile order (stage, then step; parallel stages report in
//! any order), each with its log bytes by stream in full, its exit code
//! from its error, and whether it was cached; and the outcome: built,
//! failed at a step with its exit code, or refused (a step the runtime
//! would not run, or the whole build: an engine or frontend message such
//! as Docker 20.10's `Unknown flag: network` or a denied entitlement).
//! Driving the build is `run::build`'s; comparing is `judge`'s.

use std::time::Instant;

use regex::Regex;

use crate::run::engine::Decision;
use crate::run::engine::{Trace, Vertex};
use crate::run::observe::{Captured, EngineOutcome, ExitStatus, Observation, StepObservation};

/// The name of the step that holds the built image's config and files
/// (both builders).
pub const IMAGE_STEP: &str = "image";
/// Longest step name kept (the instruction is cut after it).
const NAME_CAP: usize = 80;

/// How one of the author's steps went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepEnd {
    /// Ran (or came from the cache) and succeeded.
    Done,
    /// Its command exited with this code.
    Exited(i64),
    /// BuildKit would not run it (a mount it could not make, a runtime
    /// that refused it): its error.
    Refused(String),
    /// It never ran: the build stopped before (or it was cancelled).
    NotRun(String),
}

/// One of the author's Dockerfile steps, as BuildKit ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KitStep {
    /// `[2/3] RUN mknod /tmp/n c 1 3` (cut at 80 characters).
    pub name: String,
    pub cached: bool,
    pub end: StepEnd,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// How a BuildKit build ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KitEnd {
    Built,
    /// A step's command exited non-zero: the step and its code.
    Failed {
        step: String,
        code: i64,
        message: String,
    },
    /// BuildKit, the frontend or the engine would not build: the step it
    /// stopped at (none: before any step) and the message.
    Refused {
        step: Option<String>,
        message: String,
    },
    TimedOut,
}

/// The exit code in a vertex's error (`executor failed running [...]:
/// exit code: 1`, `process "..." did not complete successfully: exit
/// code: 1`).
pub fn exit_code(error: &str) -> Option<i64> {
    let re = Regex::new(r"exit code: (-?\d+)").expect("a valid regex");
    re.captures_iter(error)
        .last()
        .and_then(|c| c[1].parse().ok())
}

/// `(stage, step)` of a Dockerfile step's vertex name, `None` for
/// BuildKit's own vertices. `stages` are the Dockerfile's `AS` names by
/// `FROM` index.
fn position(name: &str, stages: &[Option<String>]) -> Option<(usize, u64)> {
    let re = Regex::new(r"^\[(?:(\S+) )?(\d+)/(\d+)\] ").expect("a valid regex");
    let c = re.captures(name)?;
    let step: u64 = c[2].parse().ok()?;
    let stage = match c.get(1).map(|m| m.as_str()) {
        None => 0,
        Some(s) => match s.strip_prefix("stage-").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => stages
                .iter()
                .position(|n| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(s)))
                .unwrap_or(usize::MAX),
        },
    };
    Some((stage, step))
}

/// The `AS` name of each `FROM` line, in order.
fn stage_names(dockerfile: &str) -> Vec<Option<String>> {
    dockerfile
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.first().is_some_and(|w| w.eq_ignore_ascii_case("from")))
        .map(|w| {
            let rest: Vec<&str> = w[1..]
                .iter()
                .copied()
                .filter(|w| !w.starts_with("--"))
                .collect();
            match rest.as_slice() {
                [_, kw, name, ..] if kw.eq_ignore_ascii_case("as") => Some(name.to_string()),
                _ => None,
            }
        })
        .collect()
}

fn cut(name: &str) -> String {
    match name.chars().count() > NAME_CAP {
        true => name.chars().take(NAME_CAP).collect::<String>() + "...",
        false => name.to_string(),
    }
}

fn step_end(v: &Vertex, built: bool) -> StepEnd {
    if !v.error.is_empty() {
        return match exit_code(&v.error) {
            Some(code) => StepEnd::Exited(code),
            None if v.error.contains("context canceled") => {
                StepEnd::NotRun("cancelled: another step failed".into())
            }
            None => StepEnd::Refused(v.error.trim().to_string()),
        };
    }
    match (v.completed || v.cached, built) {
        (true, _) | (false, true) => StepEnd::Done,
        (false, false) => StepEnd::NotRun("the build stopped before it ended".into()),
    }
}

/// An image reference as BuildKit names it and as a `FROM` line may:
/// without `docker.io/library/` and `:latest`.
fn short_ref(image: &str) -> String {
    let i = image.strip_prefix("docker.io/").unwrap_or(image);
    let i = i.strip_prefix("library/").unwrap_or(i);
    i.strip_suffix(":latest").unwrap_or(i).to_lowercase()
}

/// A `FROM` vertex's name and place. BuildKit runs one vertex for stages
/// that start from the same image and names it after whichever stage it
/// met first, so it is named by its image alone (`FROM
/// docker.io/library/busybox`) and placed at the first stage that names
/// that image.
fn from_step(name: &str, dockerfile: &str) -> Option<(String, (usize, u64))> {
    let re = Regex::new(r"^\[[^\]]*\] (FROM (\S+).*)$").expect("a valid regex");
    let c = re.captures(name)?;
    let image = short_ref(&c[2]);
    let stage = dockerfile
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.first().is_some_and(|w| w.eq_ignore_ascii_case("from")))
        .position(|w| {
            w[1..]
                .iter()
                .find(|w| !w.starts_with("--"))
                .is_some_and(|i| short_ref(i) == image)
        })
        .unwrap_or(usize::MAX);
    Some((c[1].to_string(), (stage, 0)))
}

/// The author's steps among `trace`'s vertices, in Dockerfile order.
/// A step's name as the author reads it, the same across BuildKit
/// versions: newer ones (Docker 23 and later) name the only stage of a
/// single-stage Dockerfile `stage-0` (`[stage-0 2/2] RUN ...`), older ones
/// print no stage (`[2/2] RUN ...`); the label carries nothing there, so
/// it is dropped. Stages of a multi-stage Dockerfile keep their names.
fn plain_name(name: &str, stages: &[Option<String>]) -> String {
    match (stages, name.strip_prefix("[stage-0 ")) {
        ([None], Some(rest)) => format!("[{rest}"),
        _ => name.to_string(),
    }
}

pub fn steps(trace: &Trace, dockerfile: &str, built: bool) -> Vec<KitStep> {
    let stages = stage_names(dockerfile);
    let mut found: Vec<((usize, u64), KitStep)> = trace
        .vertices
        .iter()
        .filter_map(|v| {
            let at = position(&v.name, &stages)?;
            let (name, at) =
                from_step(&v.name, dockerfile).unwrap_or((plain_name(&v.name, &stages), at));
            Some((
                at,
                KitStep {
                    name: cut(&name),
                    cached: v.cached,
                    end: step_end(v, built),
                    stdout: v.stdout.clone(),
                    stderr: v.stderr.clone(),
                },
            ))
        })
        .collect();
    found.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.name.cmp(&y.name)));
    let mut out: Vec<KitStep> = Vec::new();
    for (_, mut s) in found {
        // Step names key the comparison: keep them unique.
        let base = s.name.clone();
        let mut n = 2;
        while out.iter().any(|o| o.name == s.name) {
            s.name = format!("{base} ({n})");
            n += 1;
        }
        out.push(s);
    }
    out
}

/// The end of a build from its steps and the build's error (`None`:
/// built).
pub fn end(steps: &[KitStep], error: Option<&str>, timed_out: bool) -> KitEnd {
    if timed_out {
        return KitEnd::TimedOut;
    }
    let Some(message) = error else {
        return KitEnd::Built;
    };
    let message = message.trim().to_string();
    for s in steps {
        match &s.end {
            StepEnd::Exited(code) => {
                return KitEnd::Failed {
                    step: s.name.clone(),
                    code: *code,
                    message,
                };
            }
            StepEnd::Refused(_) => {
                return KitEnd::Refused {
                    step: Some(s.name.clone()),
                    message,
                };
            }
            _ => {}
        }
    }
    KitEnd::Refused {
        step: None,
        message,
    }
}

/// The run's summary: the outcome, then each step and whether it ran or
/// came from the cache (a no-cache build runs every step).
pub fn summary(steps: &[KitStep], end: &KitEnd) -> String {
    let mut out = match end {
        KitEnd::Built => format!("built in {} steps\n", steps.len()),
        KitEnd::Failed { step, code, .. } => format!("failed at {step} (exit code {code})\n"),
        KitEnd::Refused { step: Some(s), .. } => format!("refused at {s}\n"),
        KitEnd::Refused { step: None, .. } => "refused before any step\n".to_string(),
        KitEnd::TimedOut => "not done within the timeout\n".to_string(),
    };
    for s in steps {
        let how = match (&s.end, s.cached) {
            (StepEnd::NotRun(_), _) => "not run",
            (StepEnd::Refused(_), _) => "refused",
            (_, true) => "cached",
            (_, false) => "ran",
        };
        out.push_str(&format!("{}: {how}\n", s.name));
    }
    out
}

/// The observation of a BuildKit build: the outcome (the run's fields),
/// each step, and the built image's `image` step.
pub fn observation(
    runtime: &str,
    steps: &[KitStep],
    end: &KitEnd,
    decision: Option<Decision>,
    image: Option<String>,
    started: Instant,
) -> Observation {
    let mut observed: Vec<StepObservation> = steps
        .iter()
        .map(|s| {
            let mut o = StepObservation::started(&s.name, None, &s.stdout, &s.stderr);
            match &s.end {
                StepEnd::Done => o.exit_code = Some(ExitStatus::Code(0)),
                StepEnd::Exited(code) => o.exit_code = Some(ExitStatus::Code(*code)),
                StepEnd::Refused(m) => {
                    o.engine = EngineOutcome::Refused {
                        message: m.clone(),
                        decision: decision.clone(),
                    }
                }
                StepEnd::NotRun(why) => {
                    o.engine = EngineOutcome::Refused {
                        message: format!("not run: {why}"),
                        decision: None,
                    }
                }
            }
            if matches!(end, KitEnd::TimedOut) && matches!(s.end, StepEnd::NotRun(_)) {
                o.engine = EngineOutcome::Started;
                o.exit_code = Some(ExitStatus::Timeout);
            }
            o
        })
        .collect();
    if let Some(text) = &image {
        observed.push(StepObservation::started(
            IMAGE_STEP,
            Some(ExitStatus::Code(0)),
            text.as_bytes(),
            b"",
        ));
    }
    let (engine, exit_code, stderr) = match end {
        KitEnd::Built => (
            EngineOutcome::Started,
            Some(ExitStatus::Code(0)),
            String::new(),
        ),
        KitEnd::Failed { code, message, .. } => (
            EngineOutcome::Started,
            Some(ExitStatus::Code(*code)),
            format!("{message}\n"),
        ),
        KitEnd::Refused { message, .. } => (
            EngineOutcome::Refused {
                message: message.clone(),
                decision,
            },
            None,
            String::new(),
        ),
        KitEnd::TimedOut => (
            EngineOutcome::Started,
            Some(ExitStatus::Timeout),
            String::new(),
        ),
    };
    Observation {
        runtime: runtime.to_string(),
        engine,
        exit_code,
        stdout: Captured::from_bytes(summary(steps, end).as_bytes()),
        stderr: Captured::from_bytes(stderr.as_bytes()),
        probe: Default::default(),
        duration_ms: started.elapsed().as_millis() as u64,
        steps: observed,
        ready: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn a_single_stage_reads_the_same_on_every_buildkit() {
        let one = stage_names("FROM busybox\nRUN true\n");
        assert_eq!(plain_name("[stage-0 2/2] RUN true", &one), "[2/2] RUN true");
        assert_eq!(plain_name("[2/2] RUN true", &one), "[2/2] RUN true");
        let named = stage_names("FROM busybox AS b\nRUN true\n");
        assert_eq!(plain_name("[b 2/2] RUN true", &named), "[b 2/2] RUN true");
        let two = stage_names("FROM busybox\nRUN true\nFROM busybox\nRUN false\n");
        assert_eq!(
            plain_name("[stage-0 2/2] RUN true", &two),
            "[stage-0 2/2] RUN true"
        );
    }

    fn vertex(name: &str, error: &str, cached: bool, out: &[u8]) -> Vertex {
        Vertex {
            digest: format!("sha256:{name}"),
            name: name.into(),
            cached,
            error: error.into(),
            started: true,
            completed: true,
            stdout: out.to_vec(),
            stderr: Vec::new(),
        }
    }

    #[rstest]
    #[case("executor failed running [/bin/sh -c exit 3]: exit code: 3", Some(3))]
    #[case(
        "process \"/bin/sh -c false\" did not complete successfully: exit code: 1",
        Some(1)
    )]
    #[case("failed to mount sysfs: operation not permitted", None)]
    fn exit_codes_come_from_the_error(#[case] error: &str, #[case] code: Option<i64>) {
        assert_eq!(exit_code(error), code);
    }

    #[test]
    fn only_the_authors_steps_in_dockerfile_order() {
        let df = "FROM busybox AS build\nRUN echo a\nFROM busybox\nCOPY --from=build /a /a\n";
        let mut t = Trace::default();
        t.vertices = vec![
            vertex(
                "[internal] load build definition from Dockerfile",
                "",
                false,
                b"",
            ),
            vertex("[stage-1 2/2] COPY --from=build /a /a", "", false, b""),
            vertex("[build 2/2] RUN echo a", "", false, b"a\n"),
            vertex(
                "[build 1/2] FROM docker.io/library/busybox:latest",
                "",
                true,
                b"",
            ),
            vertex("exporting to image", "", false, b""),
        ];
        let s = steps(&t, df, true);
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "FROM docker.io/library/busybox:latest",
                "[build 2/2] RUN echo a",
                "[stage-1 2/2] COPY --from=build /a /a"
            ]
        );
        assert_eq!(s[1].stdout, b"a\n");
        assert_eq!(end(&s, None, false), KitEnd::Built);
        assert_eq!(
            summary(&s, &KitEnd::Built),
            "built in 3 steps\nFROM docker.io/library/busybox:latest: cached\n[build 2/2] RUN echo a: ran\n[stage-1 2/2] COPY --from=build /a /a: ran\n"
        );
    }

    #[test]
    fn a_failed_step_names_its_exit_code_and_a_frontend_error_is_a_refusal() {
        let mut t = Trace::default();
        t.vertices = vec![
            vertex("[1/3] FROM docker.io/library/busybox", "", false, b""),
            vertex(
                "[2/3] RUN exit 3",
                "executor failed running [/bin/sh -c exit 3]: exit code: 3",
                false,
                b"",
            ),
            Vertex {
                completed: false,
                started: false,
                ..vertex("[3/3] RUN true", "", false, b"")
            },
        ];
        let s = steps(&t, "FROM busybox\nRUN exit 3\nRUN true\n", false);
        assert_eq!(s[1].end, StepEnd::Exited(3));
        assert!(matches!(s[2].end, StepEnd::NotRun(_)));
        let e = end(&s, Some("executor failed ...: exit code: 3"), false);
        assert!(matches!(e, KitEnd::Failed { code: 3, .. }), "{e:?}");
        assert!(summary(&s, &e).starts_with("failed at [2/3] RUN exit 3 (exit code 3)\n"));
        assert!(summary(&s, &e).ends_with("[3/3] RUN true: not run\n"));
        let e = end(
            &[],
            Some(
                "failed to solve with frontend dockerfile.v0: Dockerfile parse error line 2: Unknown flag: network",
            ),
            false,
        );
        assert!(matches!(e, KitEnd::Refused { step: None, .. }), "{e:?}");
    }
}
