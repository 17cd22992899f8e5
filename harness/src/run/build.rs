//! Build scenarios: a Dockerfile built on one side's engine, observed step
//! by step, and the built image's config and files.
//!
//! Owns turning a scenario's `build:` into a build request (a tag unique to
//! the run, labelled with the run id; no cache, so both sides print the
//! same steps; the classic builder's network), reading the build's output
//! into one [`StepObservation`] per Dockerfile step (`Step N/M : ...`; ids,
//! `Running in` and `Removing intermediate container` lines and colour
//! codes dropped), the outcome (built; failed at a step with its exit code;
//! refused by the engine with its message, such as a user-namespaced
//! engine's refusal of `--network host`, settled as a refusal by a second
//! build answering the same way), an `image` step holding the
//! built image's config and the files of its own layers, and the removal
//! of every image the build made, on every path. Comparing is `judge`'s.

use std::collections::HashMap;
use std::time::Instant;

use regex::Regex;

use crate::load::build::{BuildNetwork, Entitlement};
use crate::load::scenario::Scenario;
use crate::run::engine::{
    Answer, BuildContext, BuildRequest, Decision, Engine, Fault, Look, Phase, RUN_LABEL,
    RunContext, Second, look, settle,
};
use crate::run::observe::{Captured, EngineOutcome, ExitStatus, Observation, StepObservation};

/// Repository of build scenarios' images (each removed after its run).
pub const SCENARIO_BUILD_REPOSITORY: &str = "parity-build-run";
/// The name of the step that holds the built image's config and files.
pub const IMAGE_STEP: &str = "image";
/// Longest step name kept (the instruction is cut after it).
const NAME_CAP: usize = 80;

/// One Dockerfile step as the classic builder printed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildStep {
    /// `step 2/3: RUN mknod /tmp/n c 1 3`.
    pub name: String,
    /// A `FROM` step: its image is a base, never removed.
    pub is_from: bool,
    /// The step's own output (what its `RUN` printed).
    pub output: String,
    /// The image the step committed (` ---> id`).
    pub image: Option<String>,
}

/// The steps of a classic build's output, in order.
pub fn parse_steps(lines: &[String]) -> Vec<BuildStep> {
    let ansi = Regex::new("\x1b\\[[0-9;]*m").expect("a valid regex");
    let step = Regex::new(r"^Step (\d+/\d+) : (.*)$").expect("a valid regex");
    let arrow = Regex::new(r"^ ---> ([0-9a-f]{12,64})$").expect("a valid regex");
    let text: String = lines.concat();
    let text = ansi.replace_all(&text, "");
    let mut out: Vec<BuildStep> = Vec::new();
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if let Some(c) = step.captures(line) {
            let instruction = c[2].trim();
            let mut name = format!("step {}: {instruction}", &c[1]);
            if name.chars().count() > NAME_CAP {
                name = name.chars().take(NAME_CAP).collect::<String>() + "...";
            }
            out.push(BuildStep {
                name,
                is_from: instruction
                    .split_whitespace()
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case("from")),
                ..BuildStep::default()
            });
            continue;
        }
        let Some(current) = out.last_mut() else {
            continue;
        };
        if let Some(c) = arrow.captures(line) {
            current.image = Some(c[1].to_string());
            continue;
        }
        if line.starts_with(" ---> ")
            || line.starts_with("Removing intermediate container ")
            || line.starts_with("Successfully built ")
            || line.starts_with("Successfully tagged ")
        {
            continue;
        }
        current.output.push_str(line);
        current.output.push('\n');
    }
    for s in &mut out {
        let kept = s.output.trim_end_matches('\n').len();
        s.output.truncate(kept);
        if !s.output.is_empty() {
            s.output.push('\n');
        }
    }
    out
}

/// How a build ended, from the engine's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildEnd {
    Built,
    /// A step's command exited non-zero.
    Failed {
        code: i64,
        message: String,
    },
    /// The engine refused or could not run a step; how that was decided
    /// (`None` until a second build settled it).
    Refused {
        message: String,
        decision: Option<Decision>,
    },
    TimedOut,
}

/// `step N/M: ...` numbered as the author's Dockerfile is, without the
/// `LABEL` step the builder appends for the build's labels (M - 1).
pub fn without_label_step(name: &str) -> String {
    let re = Regex::new(r"^step (\d+)/(\d+): ").expect("a valid regex");
    match re.captures(name) {
        Some(c) => {
            let total: u64 = c[2].parse().unwrap_or(1);
            format!(
                "step {}/{}: {}",
                &c[1],
                total.saturating_sub(1).max(1),
                &name[c[0].len()..]
            )
        }
        None => name.to_string(),
    }
}

/// The end of a build from its error (`None`: built).
pub fn build_end(error: Option<&str>, timed_out: bool) -> BuildEnd {
    let code = Regex::new(r"returned a non-zero code: (-?\d+)").expect("a valid regex");
    match (error, timed_out) {
        (_, true) => BuildEnd::TimedOut,
        (None, false) => BuildEnd::Built,
        (Some(m), false) => match code.captures(m).and_then(|c| c[1].parse().ok()) {
            Some(code) => BuildEnd::Failed {
                code,
                message: m.trim().to_string(),
            },
            None => BuildEnd::Refused {
                message: m.trim().to_string(),
                decision: None,
            },
        },
    }
}

/// Builds `request` once: its steps, how it ended and the built image's
/// text; every image the build made is removed before this returns.
async fn build_once(
    engine: &Engine,
    context: &BuildContext,
    request: &BuildRequest,
    limit: std::time::Duration,
) -> Result<(Vec<BuildStep>, BuildEnd, Option<String>), String> {
    let output = engine.build_observed(context, request, limit).await;
    let mut steps = parse_steps(&output.lines);
    // The run's label is the builder's last step: count the author's.
    if !request.labels.is_empty() {
        for s in &mut steps {
            s.name = without_label_step(&s.name);
        }
    }
    let end = build_end(output.error.as_deref(), output.timed_out);
    let image = match end {
        BuildEnd::Built => Some(image_text(engine, &request.tag, &context.bases).await),
        _ => None,
    };
    let committed: Vec<String> = steps
        .iter()
        .filter(|s| !s.is_from)
        .filter_map(|s| s.image.clone())
        .collect();
    let removed = engine.remove_build(&request.tag, &committed).await;
    // The last step is the builder's LABEL of parity's run label, which
    // names the run: not the author's, not compared.
    if steps
        .last()
        .is_some_and(|s| s.name.contains(&format!(": LABEL {RUN_LABEL}=")))
    {
        steps.pop();
    }
    let image = image.transpose().map_err(|e| e.to_string())?;
    removed.map_err(|e| e.to_string())?;
    Ok((steps, end, image))
}

/// Builds `scenario` on `engine` and observes it; every image the build
/// made is removed before this returns. Base images `engine` lacks are
/// copied from `bases_from` (the side's own engine, when `engine` is a
/// builder container's). `Err` is harness trouble only.
pub async fn observe(
    engine: &Engine,
    bases_from: Option<&Engine>,
    scenario: &Scenario,
    ctx: &RunContext,
    runtime: &str,
) -> Result<(Observation, serde_json::Value), Fault> {
    let build = scenario
        .file
        .build
        .as_ref()
        .ok_or_else(|| format!("{} is not a build scenario", scenario.id))?;
    let started = Instant::now();
    let dir = build.context_dir(&scenario.path);
    let (context, dockerfile) = match (&build.dockerfile, &build.file) {
        (Some(text), _) => {
            let name = match dir.as_ref().is_some_and(|d| d.join("Dockerfile").exists()) {
                true => ".parity.Dockerfile",
                false => "Dockerfile",
            };
            let c = BuildContext::pack(dir.as_deref(), Some((name, text)), text);
            (c, name.to_string())
        }
        (None, Some(file)) => {
            let d = dir.clone().unwrap_or_default();
            let text = std::fs::read_to_string(d.join(file))
                .map_err(|e| format!("{}: {file}: {e}", scenario.id))?;
            (BuildContext::pack(Some(&d), None, &text), file.clone())
        }
        (None, None) => return Err(format!("{}: build has no Dockerfile", scenario.id).into()),
    };
    let context = context.map_err(|e| e.to_string())?;
    if let Some(source) = bases_from {
        for base in &context.bases {
            if engine
                .image_id(base)
                .await
                .map_err(|e| e.to_string())?
                .is_none()
                && source
                    .image_id(base)
                    .await
                    .map_err(|e| e.to_string())?
                    .is_some()
            {
                source
                    .copy_image_to(engine, base, &|_| {})
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    let network = match build.network_mode() {
        BuildNetwork::Default => None,
        n => Some(n.name().to_string()),
    };
    let request = BuildRequest {
        tag: format!(
            "{SCENARIO_BUILD_REPOSITORY}/{}-{}:latest",
            ctx.run_id.to_lowercase(),
            ctx.seq
        ),
        dockerfile,
        network,
        args: build
            .args
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        labels: HashMap::from([(RUN_LABEL.to_string(), ctx.run_id.clone())]),
        cache: false,
    };
    let config = serde_json::json!({
        "build": {
            "builder": "classic (BuilderV1)",
            "tag": request.tag,
            "dockerfile": request.dockerfile,
            "network": request.network,
            "args": build.args,
            "nocache": true,
            "rm": true,
            "forcerm": true,
        }
    });
    let limit = scenario.file.timeout.0;
    let (mut steps, mut end, mut image) = build_once(engine, &context, &request, limit).await?;
    // An error that is not a step's exit status is settled by building
    // again (`classify`): a refusal answers the same way twice.
    if let BuildEnd::Refused {
        message,
        decision: None,
    } = &end
    {
        let first = Answer::streamed(message);
        if let Look::Decided(d) = look(Phase::Build, &first) {
            if !d.is_refusal() {
                return Err(Fault {
                    message: format!("build: {message} ({})", d.describe()),
                    decision: Some(d),
                });
            }
        }
        let again = build_once(engine, &context, &request, limit).await?;
        let second = match &again.1 {
            BuildEnd::Built => Second::Succeeded,
            BuildEnd::Refused { message, .. } | BuildEnd::Failed { message, .. } => {
                Second::Answered(Answer::streamed(message))
            }
            BuildEnd::TimedOut => Second::NotMade("the second build timed out".into()),
        };
        let d = settle(Phase::Build, &first, &second);
        match (d.is_refusal(), &again.1) {
            (true, _) => {
                end = BuildEnd::Refused {
                    message: message.clone(),
                    decision: Some(d),
                }
            }
            // Trouble that passed: the second build is the observation.
            (false, BuildEnd::Built) => (steps, end, image) = again,
            (false, _) => {
                return Err(Fault {
                    message: format!("build: {message} ({})", d.describe()),
                    decision: Some(d),
                });
            }
        }
    }
    let obs = observation(runtime, build, &steps, &end, image, started);
    Ok((obs, config))
}

/// The `image` step's text: the config, then the files of the layers the
/// build added over its base.
async fn image_text(
    engine: &Engine,
    tag: &str,
    bases: &[String],
) -> Result<String, crate::run::engine::ImageError> {
    let layers = engine.image_layers(tag).await?;
    let mut skip = 0;
    for base in bases {
        if let Ok(base_layers) = engine.image_layers(base).await {
            let shared = layers
                .iter()
                .zip(&base_layers)
                .take_while(|(a, b)| a == b)
                .count();
            if shared == base_layers.len() {
                skip = skip.max(shared);
            }
        }
    }
    let config = engine.image_config_text(tag).await?;
    let files = engine
        .image_files_text(tag, skip, crate::run::engine::TRANSFER_TIMEOUT)
        .await?;
    Ok(format!("config:\n{config}\nfiles:\n{files}\n"))
}

fn step_obs(name: &str, exit: Option<ExitStatus>, out: &str, err: &str) -> StepObservation {
    StepObservation {
        kind: Default::default(),
        ready: None,
        name: name.to_string(),
        engine: EngineOutcome::Started,
        exit_code: exit,
        stdout: Captured::from_bytes(out.as_bytes()),
        stderr: Captured::from_bytes(err.as_bytes()),
        probe: Default::default(),
        duration_ms: 0,
    }
}

/// The observation of a build: its outcome, its steps, the built image.
pub fn observation(
    runtime: &str,
    build: &crate::load::build::Build,
    steps: &[BuildStep],
    end: &BuildEnd,
    image: Option<String>,
    started: Instant,
) -> Observation {
    let last = steps.len().saturating_sub(1);
    let mut observed: Vec<StepObservation> = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut o = step_obs(&s.name, Some(ExitStatus::Code(0)), &s.output, "");
            if i == last {
                match end {
                    BuildEnd::Built => {}
                    BuildEnd::Failed { code, message } => {
                        o.exit_code = Some(ExitStatus::Code(*code));
                        o.stderr = Captured::from_bytes(format!("{message}\n").as_bytes());
                    }
                    BuildEnd::Refused { message, decision } => {
                        o.engine = EngineOutcome::Refused {
                            message: message.clone(),
                            decision: decision.clone(),
                        };
                        o.exit_code = None;
                    }
                    BuildEnd::TimedOut => o.exit_code = Some(ExitStatus::Timeout),
                }
            }
            o
        })
        .collect();
    if let Some(text) = &image {
        observed.push(step_obs(IMAGE_STEP, Some(ExitStatus::Code(0)), text, ""));
    }
    let at = steps.last().map(|s| s.name.as_str()).unwrap_or("its start");
    let ungranted: Vec<&str> = build
        .entitlements
        .iter()
        .filter(|e| **e == Entitlement::SecurityInsecure)
        .map(|e| e.name())
        .collect();
    let mut summary = match end {
        BuildEnd::Built => format!("built in {} steps\n", steps.len()),
        BuildEnd::Failed { .. } => format!("failed at {at}\n"),
        BuildEnd::Refused { .. } => format!("refused at {at}\n"),
        BuildEnd::TimedOut => format!("not done within the timeout, at {at}\n"),
    };
    if !ungranted.is_empty() {
        summary.push_str(&format!(
            "entitlements the classic builder cannot grant: {}\n",
            ungranted.join(", ")
        ));
    }
    let (engine, exit_code, stderr) = match end {
        BuildEnd::Built => (
            EngineOutcome::Started,
            Some(ExitStatus::Code(0)),
            String::new(),
        ),
        BuildEnd::Failed { code, message } => (
            EngineOutcome::Started,
            Some(ExitStatus::Code(*code)),
            format!("{message}\n"),
        ),
        BuildEnd::Refused { message, decision } => (
            EngineOutcome::Refused {
                message: message.clone(),
                decision: decision.clone(),
            },
            None,
            String::new(),
        ),
        BuildEnd::TimedOut => (
            EngineOutcome::Started,
            Some(ExitStatus::Timeout),
            String::new(),
        ),
    };
    Observation {
        runtime: runtime.to_string(),
        engine,
        exit_code,
        stdout: Captured::from_bytes(summary.as_bytes()),
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

    fn lines(text: &str) -> Vec<String> {
        text.split_inclusive('\n').map(str::to_string).collect()
    }

    #[test]
    fn steps_keep_their_output_and_drop_ids() {
        let out = lines(
            "Step 1/3 : FROM busybox\n ---> beda72e65b45\nStep 2/3 : RUN echo hi && mknod /tmp/n c 1 3\n ---> Running in 7e899f074990\nhi\n\x1b[91mmknod: /tmp/n: Operation not permitted\n\x1b[0mRemoving intermediate container 7e899f074990\n ---> 95effadd4e83\nStep 3/3 : RUN true\nSuccessfully built 1\n",
        );
        let steps = parse_steps(&out);
        assert_eq!(steps.len(), 3);
        assert!(steps[0].is_from);
        assert_eq!(steps[0].image.as_deref(), Some("beda72e65b45"));
        assert_eq!(steps[1].name, "step 2/3: RUN echo hi && mknod /tmp/n c 1 3");
        assert_eq!(
            steps[1].output,
            "hi\nmknod: /tmp/n: Operation not permitted\n"
        );
        assert_eq!(steps[1].image.as_deref(), Some("95effadd4e83"));
        assert_eq!(steps[2].output, "");
    }

    #[test]
    fn steps_are_numbered_as_the_author_wrote_them() {
        assert_eq!(
            without_label_step("step 3/5: RUN exit 3"),
            "step 3/4: RUN exit 3"
        );
        assert_eq!(without_label_step("image"), "image");
    }

    #[test]
    fn the_end_tells_failed_from_refused() {
        assert_eq!(build_end(None, false), BuildEnd::Built);
        assert!(matches!(
            build_end(
                Some("The command '/bin/sh -c false' returned a non-zero code: 1"),
                false
            ),
            BuildEnd::Failed { code: 1, .. }
        ));
        assert!(matches!(
            build_end(
                Some("cannot share the host's network namespace when user namespaces are enabled"),
                false
            ),
            BuildEnd::Refused { .. }
        ));
        assert_eq!(build_end(Some("x"), true), BuildEnd::TimedOut);
    }
}
