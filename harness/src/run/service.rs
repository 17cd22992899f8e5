//! Service scenarios: a container that keeps running, awaited until it is
//! ready, then poked with exec steps, in order.
//!
//! Owns the service path over the engine's primitives: create (with the
//! probe), attach before start, start, readiness (`ready`), each step as an
//! exec (traced by its own `probe wrap` + `probe attach` pair when syscalls
//! are observed), `stop_on_failure`, the mount table read after the last
//! step, then kill, drain, download and removal on every path (a failing
//! step, a timeout, an interrupt). Nested containers live in the service's
//! PID and mount namespaces and die with it. It turns what happened into
//! the [`Observation`]: the service's own fields (its output over its whole
//! life, `running` or how it ended, its mount changes), `ready`, and one
//! [`StepObservation`] per step. Comparing them is `judge`'s job.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::load::runtime::RuntimeProfile;
use crate::load::scenario::{Field, Scenario};
use crate::load::service::ReadyCheck;
use crate::run::engine::{
    Deadline, Engine, EngineError, ExecRun, ExecSpec, RawRun, Refusal, RunContext,
};
use crate::run::image::{PROBE_OUT, PROBE_PATH};
use crate::run::observe::{
    Captured, EngineOutcome, ExitStatus, Observation, ReadyObservation, StepObservation,
};
use crate::run::plan::{ProbePlan, RunSpec, SYSTEMD_INIT};
use crate::run::probe_view;
use crate::run::ready::{ReadyKind, await_ready};

/// How long a step's tracer may take to attach and report, and the mount
/// snapshot to run, on top of the steps' own limits.
const STEP_GRACE: Duration = Duration::from_secs(10);
/// How long the probe waits for a step's tracer before running it untraced.
const STEP_TRACER_WAIT_SECS: u32 = 10;

/// What the service path does, from the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    pub ready: Option<ReadyPlan>,
    pub steps: Vec<StepPlan>,
    /// Trace each step's syscalls with the probe.
    pub trace_steps: bool,
    /// Read the service's mount table after the last step.
    pub mounts: bool,
    /// PID 1 runs as written, without the probe's wrapper.
    pub unwrapped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyPlan {
    pub kind: ReadyKind,
    pub timeout: Duration,
    pub stop_on_failure: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPlan {
    pub name: String,
    pub exec: ExecSpec,
    pub timeout: Duration,
    pub stop_on_failure: bool,
}

impl ReadyPlan {
    /// The plan of a `ready:` key; `None` when it names no single check
    /// (validation refuses that).
    pub fn new(r: &crate::load::service::Ready) -> Option<ReadyPlan> {
        let kind = match r.check()? {
            ReadyCheck::Log(re) => ReadyKind::Log(re.to_string()),
            ReadyCheck::Exec(cmd) => ReadyKind::Exec(cmd.to_vec()),
            ReadyCheck::File(path) => ReadyKind::File(path.to_string()),
        };
        Some(ReadyPlan {
            kind,
            timeout: r.timeout.0,
            stop_on_failure: r.stop_on_failure,
        })
    }
}

impl StepPlan {
    /// The plan of step `s`, whose default time limit is `timeout`.
    pub fn new(s: &crate::load::service::Step, timeout: Duration) -> StepPlan {
        StepPlan {
            name: s.name.clone(),
            exec: ExecSpec {
                cmd: s.run.clone(),
                user: s.user.clone(),
                env: s
                    .environment
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
                working_dir: s.working_dir.clone(),
            },
            timeout: s.timeout.map_or(timeout, |t| t.0),
            stop_on_failure: s.stop_on_failure,
        }
    }
}

impl ServicePlan {
    /// The plan of `scenario` as `spec` runs it.
    pub fn new(scenario: &Scenario, spec: &RunSpec) -> ServicePlan {
        let file = &scenario.file;
        let probe = spec.probe.as_ref();
        let ready = file.ready.as_ref().and_then(ReadyPlan::new);
        let steps = file
            .steps
            .iter()
            .map(|s| StepPlan::new(s, file.timeout.0))
            .collect();
        ServicePlan {
            ready,
            steps,
            trace_steps: probe.is_some_and(|p| p.syscalls),
            mounts: probe.is_some_and(|p| p.mounts),
            unwrapped: probe.is_some_and(|p| p.unwrapped),
        }
    }

    /// The most the service path may take between start and teardown.
    pub fn budget(&self) -> Duration {
        let ready = self.ready.as_ref().map_or(Duration::ZERO, |r| r.timeout);
        self.steps
            .iter()
            .fold(ready + STEP_GRACE, |t, s| t + s.timeout + STEP_GRACE)
    }
}

/// What a step's exec gave, before it becomes an observation.
struct StepRun {
    name: String,
    /// `Err`: refused by the engine (with how that was decided), or not
    /// run (`not run: ...`, no decision).
    outcome: Result<ExitStatus, (String, Option<crate::run::engine::Decision>)>,
    stdout: Captured,
    stderr: Captured,
    duration: Duration,
}

impl StepRun {
    fn not_run(name: &str, why: &str) -> StepRun {
        StepRun {
            name: name.to_string(),
            outcome: Err((format!("not run: {why}"), None)),
            stdout: Captured::default(),
            stderr: Captured::default(),
            duration: Duration::ZERO,
        }
    }

    fn from_exec(name: &str, run: ExecRun) -> StepRun {
        StepRun {
            name: name.to_string(),
            outcome: run.outcome.map_err(|r| (r.message, Some(r.decision))),
            stdout: run.stdout,
            stderr: run.stderr,
            duration: run.duration,
        }
    }
}

/// Everything the service path saw, before it becomes an observation.
struct ServiceRun {
    raw: RawRun,
    ready: Option<ReadyObservation>,
    steps: Vec<StepRun>,
    /// Whether the mount table was read after the last step.
    snapshot: bool,
}

/// Runs the service scenario `scenario` as `spec` plans it and observes
/// it. Refusals are observations; only engine trouble is an error.
pub async fn observe(
    engine: &Engine,
    scenario: &Scenario,
    spec: &RunSpec,
    ctx: &RunContext,
    profile: &RuntimeProfile,
) -> Result<(Observation, serde_json::Value), EngineError> {
    let plan = ServicePlan::new(scenario, spec);
    let run = run(engine, spec, &plan, ctx).await?;
    let config = run.raw.config.clone();
    Ok((
        observation(&spec.runtime, spec, &plan, run, profile),
        config,
    ))
}

async fn run(
    engine: &Engine,
    spec: &RunSpec,
    plan: &ServicePlan,
    ctx: &RunContext,
) -> Result<ServiceRun, EngineError> {
    let started = Instant::now();
    let deadline = Deadline::after(plan.budget() + spec.grace);
    let refused = |refusal: Refusal, config: serde_json::Value| ServiceRun {
        raw: RawRun::refused(refusal, config, started.elapsed()),
        ready: None,
        steps: Vec::new(),
        snapshot: false,
    };
    let (mut created, config, refusal) = match engine.create(spec, ctx, &deadline).await? {
        Ok(c) => c,
        Err((config, message)) => return Ok(refused(message, config)),
    };
    if let Some(message) = refusal {
        engine.remove_created(&mut created).await;
        return Ok(refused(message, config));
    }
    let id = created.id.clone().expect("a created container has an id");
    let outcome = drive(engine, plan, ctx, &id, &deadline, started, config).await;
    engine.remove_created(&mut created).await;
    outcome
}

async fn drive(
    engine: &Engine,
    plan: &ServicePlan,
    ctx: &RunContext,
    id: &str,
    deadline: &Deadline,
    started: Instant,
    config: serde_json::Value,
) -> Result<ServiceRun, EngineError> {
    let logged = matches!(
        plan.ready.as_ref().map(|r| &r.kind),
        Some(ReadyKind::Log(_))
    );
    let (tap, rx) = match logged {
        true => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        }
        false => (None, None),
    };
    let attached = engine.attach(id, deadline, tap).await?;
    if ctx.cancel.is_cancelled() {
        attached.abort();
        return Err(EngineError::Cancelled);
    }
    if let Some(message) = engine.start(id, deadline).await? {
        attached.abort();
        return Ok(ServiceRun {
            raw: RawRun::refused(message, config, started.elapsed()),
            ready: None,
            steps: Vec::new(),
            snapshot: false,
        });
    }
    let up = Instant::now();
    let inner = async {
        let ready = match &plan.ready {
            Some(r) => Some(
                await_ready(
                    engine,
                    id,
                    &r.kind,
                    r.timeout,
                    rx,
                    deadline,
                    &ctx.cancel,
                    up,
                )
                .await?,
            ),
            None => None,
        };
        let steps = run_steps(engine, plan, ready.as_ref(), id, deadline, ctx).await?;
        // The mount table once the steps are done, while the service runs.
        let running = engine.running(id, deadline).await?;
        let mut snapshot = false;
        if running && plan.mounts && !plan.unwrapped {
            let cmd = vec![
                PROBE_PATH.to_string(),
                "snapshot".into(),
                "--pid".into(),
                "1".into(),
                "--out".into(),
                PROBE_OUT.into(),
            ];
            let spec = ExecSpec {
                cmd,
                user: Some("0".into()),
                ..Default::default()
            };
            let r = engine.exec(id, &spec, STEP_GRACE, deadline).await?;
            snapshot = r.outcome == Ok(ExitStatus::Code(0));
        }
        let exit = if running {
            engine.kill(id, deadline).await?;
            ExitStatus::Running
        } else {
            engine.ended(id, deadline).await?
        };
        Ok::<_, EngineError>((ready, steps, snapshot, exit))
    };
    let (ready, steps, snapshot, exit) = match inner.await {
        Ok(r) => r,
        Err(e) => {
            attached.abort();
            return Err(e);
        }
    };
    let drained = attached.finish(engine, deadline).await?;
    let probe_files = deadline
        .within(
            engine,
            "probe results download",
            engine.download(id, PROBE_OUT),
        )
        .await?
        .unwrap_or_default();
    Ok(ServiceRun {
        raw: RawRun {
            engine: EngineOutcome::Started,
            exit: Some(exit),
            stdout: drained.stdout,
            stderr: drained.stderr,
            probe_files,
            duration: started.elapsed(),
            config,
        },
        ready,
        steps,
        snapshot,
    })
}

async fn run_steps(
    engine: &Engine,
    plan: &ServicePlan,
    ready: Option<&ReadyObservation>,
    id: &str,
    deadline: &Deadline,
    ctx: &RunContext,
) -> Result<Vec<StepRun>, EngineError> {
    let mut stop: Option<String> = match (&plan.ready, ready) {
        (Some(r), Some(o))
            if r.stop_on_failure && o.outcome != crate::run::observe::ReadyOutcome::Ready =>
        {
            Some("the service was not ready (ready.stop_on_failure)".into())
        }
        _ => None,
    };
    let mut out = Vec::new();
    for (i, step) in plan.steps.iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        if let Some(why) = &stop {
            out.push(StepRun::not_run(&step.name, why));
            continue;
        }
        if !engine.running(id, deadline).await? {
            out.push(StepRun::not_run(&step.name, "the service had exited"));
            continue;
        }
        let run = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => return Err(EngineError::Cancelled),
            r = run_step(engine, id, i, step, plan.trace_steps, deadline) => r,
        };
        let run = match run {
            Ok(r) => r,
            // The service may have exited between the check and the exec.
            Err(e) if !engine.running(id, deadline).await? => {
                let _ = e;
                StepRun::not_run(&step.name, "the service had exited")
            }
            Err(e) => return Err(e),
        };
        if step.stop_on_failure && run.outcome != Ok(ExitStatus::Code(0)) {
            stop = Some(format!(
                "step {:?} did not succeed and says stop_on_failure",
                step.name
            ));
        }
        out.push(run);
    }
    Ok(out)
}

/// The folder of step `i`'s probe results inside the container.
fn step_dir(i: usize) -> String {
    format!("{PROBE_OUT}/step-{i}")
}

/// Runs one step; traced, it runs under `probe wrap`, which waits for a
/// `probe attach` started beside it as the same user (so ptrace is
/// allowed without extra capabilities) and then execs the step in place.
async fn run_step(
    engine: &Engine,
    id: &str,
    i: usize,
    step: &StepPlan,
    trace: bool,
    deadline: &Deadline,
) -> Result<StepRun, EngineError> {
    let mut exec = step.exec.clone();
    if trace {
        let dir = step_dir(i);
        let tracer = ExecSpec {
            cmd: vec![
                PROBE_PATH.into(),
                "attach".into(),
                "--pid-file".into(),
                format!("{dir}/wrap.pid"),
                "--out".into(),
                dir.clone(),
                "--syscalls".into(),
            ],
            user: step.exec.user.clone(),
            ..Default::default()
        };
        // A tracer that does not start leaves the step untraced; the
        // probe's report says why.
        let _ = engine.exec_detached_as(id, &tracer, deadline).await;
        let mut cmd = vec![
            PROBE_PATH.to_string(),
            "wrap".into(),
            "--out".into(),
            dir,
            "--wait-tracer".into(),
            STEP_TRACER_WAIT_SECS.to_string(),
            "--".into(),
        ];
        cmd.extend(step.exec.cmd.iter().cloned());
        exec.cmd = cmd;
    }
    let run = engine.exec(id, &exec, step.timeout, deadline).await?;
    Ok(StepRun::from_exec(&step.name, run))
}

/// Why a service's own syscalls are not compared.
pub const SERVICE_NOT_TRACED: &str =
    "not traced: a service runs for the whole scenario and is not traced; each step is";

fn observation(
    runtime: &str,
    spec: &RunSpec,
    plan: &ServicePlan,
    run: ServiceRun,
    profile: &RuntimeProfile,
) -> Observation {
    let ServiceRun {
        raw,
        ready,
        steps,
        snapshot,
    } = run;
    let (own, per_step) = split_files(&raw.probe_files);
    let own_raw = RawRun {
        probe_files: own,
        ..raw.clone()
    };
    let mut probe = probe_view::fields(&own_raw, spec.probe.as_ref(), profile);
    if raw.engine == EngineOutcome::Started {
        for (field, text) in probe.iter_mut() {
            match field {
                Field::Syscalls => *text = SERVICE_NOT_TRACED.into(),
                _ if plan.unwrapped => {
                    *text = format!(
                        "not observed: PID 1 is {SYSTEMD_INIT}, run as written (Sysbox recognises systemd by that argv[0]), so the probe did not wrap it"
                    )
                }
                Field::Mounts if !snapshot => {
                    *text = "unavailable (the service had exited before its mount table after the steps could be read)".into()
                }
                _ => {}
            }
        }
    }
    let steps = steps
        .into_iter()
        .enumerate()
        .map(|(i, s)| step_observation(i, s, plan, &per_step, profile))
        .collect();
    Observation {
        runtime: runtime.to_string(),
        probe,
        engine: raw.engine,
        exit_code: raw.exit,
        stdout: raw.stdout,
        stderr: raw.stderr,
        duration_ms: raw.duration.as_millis() as u64,
        steps,
        ready,
    }
}

fn step_observation(
    i: usize,
    s: StepRun,
    plan: &ServicePlan,
    files: &BTreeMap<usize, BTreeMap<String, Vec<u8>>>,
    profile: &RuntimeProfile,
) -> StepObservation {
    let (engine, exit_code) = match s.outcome {
        Ok(status) => (EngineOutcome::Started, Some(status)),
        Err((message, decision)) => (EngineOutcome::Refused { message, decision }, None),
    };
    let mut probe = BTreeMap::new();
    if plan.trace_steps && engine == EngineOutcome::Started {
        let text = if exit_code == Some(ExitStatus::Timeout) {
            "unavailable (the step timed out before its tracer reported)".to_string()
        } else {
            let raw = RawRun {
                probe_files: files.get(&i).cloned().unwrap_or_default(),
                ..RawRun::empty()
            };
            let traced = ProbePlan {
                syscalls: true,
                mounts: false,
                facts: Default::default(),
                service: false,
                unwrapped: false,
            };
            probe_view::fields(&raw, Some(&traced), profile)
                .remove(&Field::Syscalls)
                .unwrap_or_default()
        };
        probe.insert(Field::Syscalls, text);
    }
    StepObservation {
        kind: Default::default(),
        ready: None,
        name: s.name,
        engine,
        exit_code,
        stdout: s.stdout,
        stderr: s.stderr,
        probe,
        duration_ms: s.duration.as_millis() as u64,
    }
}

type Files = BTreeMap<String, Vec<u8>>;

/// The probe's files of the service itself (top level) and of each step
/// (`step-N/NAME`).
fn split_files(files: &Files) -> (Files, BTreeMap<usize, Files>) {
    let mut own = Files::new();
    let mut steps: BTreeMap<usize, Files> = BTreeMap::new();
    for (path, data) in files {
        match path.split_once('/') {
            None => {
                own.insert(path.clone(), data.clone());
            }
            Some((dir, name)) => {
                if let Some(i) = dir.strip_prefix("step-").and_then(|n| n.parse().ok()) {
                    steps
                        .entry(i)
                        .or_default()
                        .insert(name.to_string(), data.clone());
                }
            }
        }
    }
    (own, steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::runtime::RuntimeProfile;
    use crate::run::plan::{PlanOptions, RunProfile, plan};
    use std::path::Path;

    fn scenario(text: &str) -> Scenario {
        let file = crate::load::yaml::from_str(Path::new("s.yaml"), text).unwrap();
        Scenario {
            id: "services/s".into(),
            path: "s.yaml".into(),
            file,
        }
    }

    fn spec_of(s: &Scenario, opts: PlanOptions) -> RunSpec {
        let profile: RuntimeProfile =
            crate::load::yaml::from_str(Path::new("p.yaml"), "name: p\noci_runtime: runc\n")
                .unwrap();
        let rp = RunProfile {
            profile: &profile,
            endpoint: "unix:///x".into(),
        };
        plan(s, &rp, opts)
    }

    #[test]
    fn steps_take_the_scenario_timeout_unless_they_say_otherwise() {
        let s = scenario(
            "description: d\ncommand: [httpd, -f]\ntimeout: 7s\nready: { file: /run/up, timeout: 20s }\nsteps:\n  - { name: a, run: [\"true\"], user: \"1000\", environment: { A: b }, working_dir: /tmp }\n  - { name: b, run: [\"false\"], timeout: 2s, stop_on_failure: true }\n",
        );
        let spec = spec_of(&s, PlanOptions::default());
        let p = ServicePlan::new(&s, &spec);
        assert_eq!(
            p.ready.as_ref().unwrap().kind,
            ReadyKind::File("/run/up".into())
        );
        assert_eq!(p.steps[0].timeout, Duration::from_secs(7));
        assert_eq!(p.steps[1].timeout, Duration::from_secs(2));
        assert!(p.steps[1].stop_on_failure);
        assert_eq!(p.steps[0].exec.env, vec!["A=b"]);
        assert_eq!(p.steps[0].exec.user.as_deref(), Some("1000"));
        assert!(p.trace_steps && p.mounts && !p.unwrapped);
        assert_eq!(p.budget(), Duration::from_secs(20 + 7 + 2) + STEP_GRACE * 3);
        let probe = spec.probe.unwrap();
        assert!(
            probe.service && !probe.needs_tracer(),
            "PID 1 of a service is never traced"
        );
    }

    #[test]
    fn init_runs_unwrapped_and_no_trace_leaves_steps_untraced() {
        let s =
            scenario("description: d\ncommand: [/sbin/init]\nsteps: [{ name: a, run: [id] }]\n");
        let spec = spec_of(
            &s,
            PlanOptions {
                no_trace: true,
                ..PlanOptions::default()
            },
        );
        let p = ServicePlan::new(&s, &spec);
        assert!(p.unwrapped && !p.trace_steps);
    }

    #[test]
    fn probe_files_split_by_step() {
        let files: Files = [
            ("report.json".to_string(), b"r".to_vec()),
            ("step-0/report.json".to_string(), b"s0".to_vec()),
            ("step-12/wrap.pid".to_string(), b"7".to_vec()),
            ("other/x".to_string(), b"x".to_vec()),
        ]
        .into_iter()
        .collect();
        let (own, steps) = split_files(&files);
        assert_eq!(own.keys().collect::<Vec<_>>(), ["report.json"]);
        assert_eq!(steps[&0]["report.json"], b"s0");
        assert_eq!(steps[&12]["wrap.pid"], b"7");
        assert_eq!(steps.len(), 2);
    }
}
