//! Stack scenarios: several services started together on one side, on
//! networks and volumes made for that side and run alone.
//!
//! Owns the stack path over the engine's primitives: the run's networks
//! and volumes (labelled with the run id), each service created, joined
//! and started in dependency order (`service_started`, `service_healthy`,
//! `service_completed_successfully`) under the side's runtime, readiness
//! per service (its `ready:` check, then the engine's healthcheck), the
//! steps as execs into the service they name, then kill, drain and removal
//! of every container, network and volume on every path (a refusal, a
//! service that never gets healthy, an interrupt, a dropped future). It
//! turns what happened into one [`Observation`] whose entries are the
//! services (their start or refusal, readiness, exit, output) and then
//! the steps. Comparing them is `judge`'s job.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::load::scenario::{Field, Scenario, ScenarioFile};
use crate::load::stack::{Condition, Stack, StackService, service_ref};
use crate::run::engine::{Attached, Deadline, Engine, EngineError, Health, RunContext, run_labels};
use crate::run::observe::{
    Captured, EngineOutcome, ExitStatus, Observation, ReadyObservation, ReadyOutcome, StepKind,
    StepObservation,
};
use crate::run::plan::{PlanOptions, ProbePlan, RunProfile, RunSpec, StackMember, plan};
use crate::run::ready::{ReadyKind, await_ready};
use crate::run::service::{ReadyPlan, StepPlan};

/// Room per service for create, start and teardown, on top of its waits.
const SERVICE_GRACE: Duration = Duration::from_secs(20);
const FIRST_PAUSE: Duration = Duration::from_millis(50);
/// How long a service must have been up to be observed `running`.
const SETTLE: Duration = Duration::from_secs(2);
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// Each service's run spec under one profile, by name (images still to
/// be provided by the caller).
pub fn specs(
    scenario: &Scenario,
    rp: &RunProfile<'_>,
    opts: PlanOptions,
) -> Vec<(String, RunSpec)> {
    let Some(stack) = scenario.file.stack() else {
        return Vec::new();
    };
    stack
        .services
        .iter()
        .map(|(name, s)| (name.clone(), service_spec(scenario, name, s, rp, opts)))
        .collect()
}

fn service_spec(
    scenario: &Scenario,
    name: &str,
    s: &StackService,
    rp: &RunProfile<'_>,
    opts: PlanOptions,
) -> RunSpec {
    let one = Scenario {
        id: format!("{}/{name}", scenario.id),
        path: scenario.path.clone(),
        file: ScenarioFile {
            image: s.image.clone(),
            command: s.command.clone(),
            container: s.container.clone(),
            timeout: scenario.file.timeout,
            observe: vec![Field::ExitCode, Field::Stdout, Field::Stderr],
            ..empty_file()
        },
    };
    let mut spec = plan(&one, rp, opts);
    spec.scenario_id = scenario.id.clone();
    // No probe wraps a stack's service; it is uploaded only to check a
    // `ready: { file }` from inside.
    let file_check = s.ready.as_ref().is_some_and(|r| r.file.is_some());
    spec.probe = file_check.then(|| ProbePlan {
        syscalls: false,
        mounts: false,
        facts: Default::default(),
        service: true,
        unwrapped: true,
    });
    // The stack decides the network; `none` is parity's one-container default.
    spec.container.network_mode = s.container.network_mode.clone();
    spec
}

fn empty_file() -> ScenarioFile {
    crate::load::yaml::from_str(std::path::Path::new("-"), "description: ''\n")
        .expect("the empty scenario loads")
}

/// One service's life on this side.
struct Member {
    name: String,
    id: Option<String>,
    /// `Err(message)`: refused, or not run (`not run: ...`).
    outcome: Result<(), String>,
    /// How the engine's refusal was decided (reported only).
    decision: Option<crate::run::engine::Decision>,
    attached: Option<Attached>,
    ready: Option<ReadyObservation>,
    exit: Option<ExitStatus>,
    stdout: Captured,
    stderr: Captured,
    started: Instant,
    duration: Duration,
}

/// Everything the run made on this side, removed on every path:
/// containers first, then networks and volumes.
struct Made {
    docker: bollard::Docker,
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

impl Made {
    async fn remove(&mut self, engine: &Engine) {
        for id in std::mem::take(&mut self.containers) {
            let _ =
                tokio::time::timeout(crate::run::engine::REMOVE_TIMEOUT, engine.remove(&id)).await;
        }
        for n in std::mem::take(&mut self.networks) {
            engine.remove_network(&n).await;
        }
        for v in std::mem::take(&mut self.volumes) {
            engine.remove_volume(&v).await;
        }
    }
}

impl Drop for Made {
    /// The last line of defence (a dropped future, a panic).
    fn drop(&mut self) {
        if self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty() {
            return;
        }
        let (docker, containers, networks, volumes) = (
            self.docker.clone(),
            std::mem::take(&mut self.containers),
            std::mem::take(&mut self.networks),
            std::mem::take(&mut self.volumes),
        );
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let t = crate::run::engine::REMOVE_TIMEOUT;
                for id in containers {
                    let opts = bollard::query_parameters::RemoveContainerOptions {
                        force: true,
                        v: true,
                        ..Default::default()
                    };
                    let _ = tokio::time::timeout(t, docker.remove_container(&id, Some(opts))).await;
                }
                for n in networks {
                    let _ = tokio::time::timeout(t, docker.remove_network(&n)).await;
                }
                for v in volumes {
                    let none = None::<bollard::query_parameters::RemoveVolumeOptions>;
                    let _ = tokio::time::timeout(t, docker.remove_volume(&v, none)).await;
                }
            });
        }
    }
}

/// Runs the stack scenario with each service's `specs` and observes it.
/// Refusals are observations; only engine trouble is an error.
pub async fn observe(
    engine: &Engine,
    scenario: &Scenario,
    specs: &[(String, RunSpec)],
    ctx: &RunContext,
) -> Result<(Observation, serde_json::Value), EngineError> {
    let stack = scenario
        .file
        .stack()
        .expect("a stack scenario has services");
    let started = Instant::now();
    let steps: Vec<(StepPlan, String)> = scenario
        .file
        .steps
        .iter()
        .map(|s| {
            let service = s
                .service
                .clone()
                .or_else(|| stack.services.keys().next().cloned())
                .unwrap_or_default();
            (StepPlan::new(s, scenario.file.timeout.0), service)
        })
        .collect();
    let deadline = Deadline::after(budget(&stack, &steps, scenario, specs));
    let mut made = Made {
        docker: engine.docker.clone(),
        containers: Vec::new(),
        networks: Vec::new(),
        volumes: Vec::new(),
    };
    let mut config = serde_json::Map::new();
    let outcome = drive(
        engine,
        &stack,
        specs,
        &steps,
        ctx,
        &deadline,
        &mut made,
        &mut config,
    )
    .await;
    made.remove(engine).await;
    let entries = outcome?;
    let engine_outcome = match &entries {
        Ok(_) => EngineOutcome::Started,
        Err(message) => EngineOutcome::Refused {
            message: message.clone(),
            decision: None,
        },
    };
    Ok((
        Observation {
            runtime: specs
                .first()
                .map(|(_, s)| s.runtime.clone())
                .unwrap_or_default(),
            engine: engine_outcome,
            exit_code: None,
            stdout: Captured::default(),
            stderr: Captured::default(),
            probe: BTreeMap::new(),
            duration_ms: started.elapsed().as_millis() as u64,
            steps: entries.unwrap_or_default(),
            ready: None,
        },
        serde_json::Value::Object(config),
    ))
}

fn budget(
    stack: &Stack<'_>,
    steps: &[(StepPlan, String)],
    scenario: &Scenario,
    specs: &[(String, RunSpec)],
) -> Duration {
    let services: Duration = stack
        .services
        .values()
        .map(|s| {
            let ready = s.ready.as_ref().map_or(Duration::ZERO, |r| r.timeout.0);
            let health = s
                .healthcheck
                .as_ref()
                .filter(|h| h.active())
                .map_or(Duration::ZERO, |h| h.budget());
            ready + health + scenario.file.timeout.0 + SERVICE_GRACE
        })
        .sum();
    let steps: Duration = steps.iter().map(|(s, _)| s.timeout + SERVICE_GRACE).sum();
    let grace = specs.first().map_or(Duration::ZERO, |(_, s)| s.grace);
    services + steps + grace
}

/// `Ok(Err(message))`: the side could not set the stack up (a network or
/// volume refused).
#[allow(clippy::too_many_arguments)]
async fn drive(
    engine: &Engine,
    stack: &Stack<'_>,
    specs: &[(String, RunSpec)],
    steps: &[(StepPlan, String)],
    ctx: &RunContext,
    deadline: &Deadline,
    made: &mut Made,
    config: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<Result<Vec<StepObservation>, String>, EngineError> {
    let prefix = format!("parity-{}-{}", ctx.run_id, ctx.seq);
    let labels = run_labels(&ctx.run_id);
    let mut net_names = BTreeMap::new();
    for (name, def) in stack.run_networks() {
        let full = format!("{prefix}-{name}");
        let mut l = labels.clone();
        l.extend(def.labels.clone());
        let opts: HashMap<String, String> = def.driver_opts.clone().into_iter().collect();
        match engine
            .create_network(&full, l, def.internal, opts, deadline)
            .await?
        {
            Ok(()) => made.networks.push(full.clone()),
            Err(m) => return Ok(Err(format!("network {name:?}: {m}"))),
        }
        net_names.insert(name, full);
    }
    let mut vol_names = BTreeMap::new();
    for (name, def) in stack.volumes {
        let def = def.clone().unwrap_or_default();
        let full = format!("{prefix}-{name}");
        let mut l = labels.clone();
        l.extend(def.labels.clone());
        let opts: HashMap<String, String> = def.driver_opts.clone().into_iter().collect();
        match engine
            .create_volume(&full, l, def.driver.clone(), opts, deadline)
            .await?
        {
            Ok(()) => made.volumes.push(full.clone()),
            Err(m) => return Ok(Err(format!("volume {name:?}: {m}"))),
        }
        vol_names.insert(name.clone(), full);
    }
    let order = stack
        .order()
        .unwrap_or_else(|_| stack.services.keys().cloned().collect());
    let mut members: Vec<Member> = Vec::new();
    for name in &order {
        if ctx.cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let spec = specs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
            .expect("a spec per service");
        let member = start(
            engine, stack, name, spec, &members, &net_names, &vol_names, ctx, deadline, made,
            config,
        )
        .await?;
        members.push(member);
    }
    let mut out_steps = Vec::new();
    let mut stop: Option<String> = None;
    for (step, service) in steps {
        if ctx.cancel.is_cancelled() {
            return Err(EngineError::Cancelled);
        }
        let member = members.iter().find(|m| &m.name == service);
        let id = member.and_then(|m| m.outcome.is_ok().then_some(m.id.clone()).flatten());
        let why = match (&stop, &id) {
            (Some(why), _) => Some(why.clone()),
            (None, None) => Some(format!("service {service:?} did not start")),
            (None, Some(id)) if !engine.running(id, deadline).await? => {
                Some(format!("service {service:?} had exited"))
            }
            _ => None,
        };
        let obs = match (why, id) {
            (Some(why), _) => not_run(&step.name, StepKind::Step, &format!("not run: {why}")),
            (None, None) => not_run(&step.name, StepKind::Step, "not run"),
            (None, Some(id)) => {
                let run = tokio::select! {
                    biased;
                    _ = ctx.cancel.cancelled() => return Err(EngineError::Cancelled),
                    r = engine.exec(&id, &step.exec, step.timeout, deadline) => r?,
                };
                let (engine_outcome, exit_code) = match run.outcome {
                    Ok(status) => (EngineOutcome::Started, Some(status)),
                    Err(r) => (
                        EngineOutcome::Refused {
                            message: r.message,
                            decision: Some(r.decision),
                        },
                        None,
                    ),
                };
                StepObservation {
                    name: step.name.clone(),
                    kind: StepKind::Step,
                    ready: None,
                    engine: engine_outcome,
                    exit_code,
                    stdout: run.stdout,
                    stderr: run.stderr,
                    probe: BTreeMap::new(),
                    duration_ms: run.duration.as_millis() as u64,
                }
            }
        };
        if step.stop_on_failure && obs.exit_code != Some(ExitStatus::Code(0)) && stop.is_none() {
            stop = Some(format!(
                "step {:?} did not succeed and says stop_on_failure",
                step.name
            ));
        }
        out_steps.push(obs);
    }
    // A service is taken for still running only once it has been up
    // SETTLE: one that ends by itself right after its start (a one-shot
    // nobody waits for) is then seen to end on every side alike.
    if let Some(last) = members
        .iter()
        .filter(|m| m.outcome.is_ok())
        .map(|m| m.started)
        .max()
    {
        let left = SETTLE.saturating_sub(last.elapsed());
        tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => return Err(EngineError::Cancelled),
            _ = tokio::time::sleep(left) => {}
        }
    }
    // Every service: still up after the steps, or how it ended, all read
    // before any is killed (killing one ends those sharing its PID
    // namespace); then its output.
    for m in members.iter_mut() {
        let Some(id) = m.id.clone().filter(|_| m.outcome.is_ok()) else {
            continue;
        };
        if m.exit.is_none() {
            m.exit = Some(match engine.running(&id, deadline).await? {
                true => ExitStatus::Running,
                false => engine.ended(&id, deadline).await?,
            });
        }
    }
    for m in members.iter_mut() {
        let Some(id) = m.id.clone().filter(|_| m.outcome.is_ok()) else {
            continue;
        };
        if m.exit == Some(ExitStatus::Running) {
            engine.kill(&id, deadline).await?;
        }
        if let Some(attached) = m.attached.take() {
            let drained = attached.finish(engine, deadline).await?;
            m.stdout = drained.stdout;
            m.stderr = drained.stderr;
        }
        m.duration = m.started.elapsed();
    }
    let mut entries: Vec<StepObservation> = members.into_iter().map(member_observation).collect();
    entries.extend(out_steps);
    Ok(Ok(entries))
}

fn not_run(name: &str, kind: StepKind, message: &str) -> StepObservation {
    StepObservation {
        name: name.to_string(),
        kind,
        ready: None,
        engine: EngineOutcome::Refused {
            message: message.to_string(),
            decision: None,
        },
        exit_code: None,
        stdout: Captured::default(),
        stderr: Captured::default(),
        probe: BTreeMap::new(),
        duration_ms: 0,
    }
}

fn member_observation(m: Member) -> StepObservation {
    match m.outcome {
        Err(message) => StepObservation {
            engine: EngineOutcome::Refused {
                message,
                decision: m.decision,
            },
            ..not_run(&m.name, StepKind::Service, "")
        },
        Ok(()) => StepObservation {
            name: m.name,
            kind: StepKind::Service,
            ready: m.ready,
            engine: EngineOutcome::Started,
            exit_code: m.exit,
            stdout: m.stdout,
            stderr: m.stderr,
            probe: BTreeMap::new(),
            duration_ms: m.duration.as_millis() as u64,
        },
    }
}

/// Why a service cannot start yet its dependencies are as they are, once
/// they are (a `service_completed_successfully` one is awaited).
async fn unmet(
    engine: &Engine,
    stack: &Stack<'_>,
    name: &str,
    members: &mut [Member],
    deadline: &Deadline,
    ctx: &RunContext,
    wait: Duration,
) -> Result<Option<String>, EngineError> {
    for (dep, cond) in stack.needs(name) {
        let Some(m) = members.iter_mut().find(|m| m.name == dep) else {
            return Ok(Some(format!("not run: dependency {dep:?} was not started")));
        };
        let Some(id) = m.id.clone().filter(|_| m.outcome.is_ok()) else {
            return Ok(Some(format!("not run: dependency {dep:?} did not start")));
        };
        match cond {
            Condition::ServiceStarted => {}
            Condition::ServiceHealthy => {
                if let Some(r) = m
                    .ready
                    .as_ref()
                    .filter(|r| r.outcome != ReadyOutcome::Ready)
                {
                    return Ok(Some(format!(
                        "not run: dependency {dep:?} was not healthy ({})",
                        r.outcome
                    )));
                }
            }
            Condition::ServiceCompletedSuccessfully => {
                let t0 = Instant::now();
                let mut pause = FIRST_PAUSE;
                while engine.running(&id, deadline).await? {
                    if t0.elapsed() >= wait {
                        return Ok(Some(format!(
                            "not run: dependency {dep:?} was still running after {}",
                            humantime::format_duration(wait)
                        )));
                    }
                    tokio::select! {
                        biased;
                        _ = ctx.cancel.cancelled() => return Err(EngineError::Cancelled),
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                let exit = engine.ended(&id, deadline).await?;
                m.exit = Some(exit.clone());
                if exit != ExitStatus::Code(0) {
                    return Ok(Some(format!(
                        "not run: dependency {dep:?} did not complete successfully (exit {exit})"
                    )));
                }
            }
        }
    }
    Ok(None)
}

/// Creates, joins, starts and awaits one service.
#[allow(clippy::too_many_arguments)]
async fn start(
    engine: &Engine,
    stack: &Stack<'_>,
    name: &str,
    mut spec: RunSpec,
    members: &[Member],
    nets: &BTreeMap<String, String>,
    vols: &BTreeMap<String, String>,
    ctx: &RunContext,
    deadline: &Deadline,
    made: &mut Made,
    config: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<Member, EngineError> {
    let s = &stack.services[name];
    let mut member = Member {
        name: name.to_string(),
        id: None,
        outcome: Ok(()),
        decision: None,
        attached: None,
        ready: None,
        exit: None,
        stdout: Captured::default(),
        stderr: Captured::default(),
        started: Instant::now(),
        duration: Duration::ZERO,
    };
    let mut deps: Vec<Member> = members.iter().map(shallow).collect();
    if let Some(why) = unmet(engine, stack, name, &mut deps, deadline, ctx, spec.timeout).await? {
        member.outcome = Err(why);
        return Ok(member);
    }
    let id_of = |other: &str| {
        members
            .iter()
            .find(|m| m.name == other)
            .and_then(|m| m.id.clone())
            .unwrap_or_default()
    };
    let c = &mut spec.container;
    for v in [&mut c.network_mode, &mut c.pid, &mut c.ipc] {
        if let Some(other) = service_ref(v.as_deref()) {
            *v = Some(format!("container:{}", id_of(other)));
        }
    }
    let joins = stack.networks_of(name);
    let mut joins: Vec<(String, Vec<String>)> = joins
        .into_iter()
        .map(|(n, mut aliases)| {
            aliases.insert(0, name.to_string());
            (nets.get(&n).cloned().unwrap_or(n), aliases)
        })
        .collect();
    let first = (!joins.is_empty()).then(|| joins.remove(0));
    if let Some((net, _)) = &first {
        spec.container.network_mode = Some(net.clone());
    }
    spec.stack = Some(StackMember {
        service: name.to_string(),
        volumes: vols.clone(),
        network: first,
        healthcheck: s
            .healthcheck
            .as_ref()
            .filter(|h| h.active())
            .map(health_config),
    });
    let (mut created, body, refusal) = match engine.create(&spec, ctx, deadline).await? {
        Ok(c) => c,
        Err((body, message)) => {
            config.insert(name.to_string(), body);
            member.outcome = Err(format!("refused: {}", message.message));
            member.decision = Some(message.decision);
            return Ok(member);
        }
    };
    config.insert(name.to_string(), body);
    let id = created.id.take().expect("a created container has an id");
    made.containers.push(id.clone());
    member.id = Some(id.clone());
    if let Some(message) = refusal {
        member.outcome = Err(format!("refused: {}", message.message));
        member.decision = Some(message.decision);
        return Ok(member);
    }
    for (net, aliases) in joins {
        if let Err(m) = engine.join_network(&net, &id, aliases, deadline).await? {
            member.outcome = Err(format!("refused: {m}"));
            return Ok(member);
        }
    }
    let ready_plan = s.ready.as_ref().and_then(ReadyPlan::new);
    let logged = matches!(
        ready_plan.as_ref().map(|r| &r.kind),
        Some(ReadyKind::Log(_))
    );
    let (tap, rx) = match logged {
        true => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        }
        false => (None, None),
    };
    let attached = engine.attach(&id, deadline, tap).await?;
    if ctx.cancel.is_cancelled() {
        attached.abort();
        return Err(EngineError::Cancelled);
    }
    member.started = Instant::now();
    if let Some(message) = engine.start(&id, deadline).await? {
        attached.abort();
        member.outcome = Err(format!("refused: {}", message.message));
        member.decision = Some(message.decision);
        return Ok(member);
    }
    member.attached = Some(attached);
    let up = Instant::now();
    let mut ready = match &ready_plan {
        Some(r) => Some(
            await_ready(
                engine,
                &id,
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
    let health = s.healthcheck.as_ref().filter(|h| h.active());
    if let Some(h) = health
        && ready
            .as_ref()
            .is_none_or(|r| r.outcome == ReadyOutcome::Ready)
    {
        let mut obs = await_healthy(engine, &id, h.budget(), deadline, ctx, up).await?;
        if let Some(r) = &ready {
            obs.check = format!("{}, then {}", r.check, h.describe());
        } else {
            obs.check = h.describe();
        }
        ready = Some(obs);
    }
    member.ready = ready;
    Ok(member)
}

/// The fields of a member that a later service's dependency check reads.
fn shallow(m: &Member) -> Member {
    Member {
        name: m.name.clone(),
        id: m.id.clone(),
        outcome: m.outcome.clone(),
        decision: None,
        attached: None,
        ready: m.ready.clone(),
        exit: m.exit.clone(),
        stdout: Captured::default(),
        stderr: Captured::default(),
        started: m.started,
        duration: Duration::ZERO,
    }
}

fn health_config(h: &crate::load::stack::Healthcheck) -> bollard::models::HealthConfig {
    let ns = |d: Option<crate::load::duration::Timeout>| d.map(|t| t.0.as_nanos() as i64);
    bollard::models::HealthConfig {
        test: Some(h.test.0.clone()),
        interval: ns(h.interval),
        timeout: ns(h.timeout),
        retries: h.retries.map(i64::from),
        start_period: ns(h.start_period),
        start_interval: ns(h.start_interval),
    }
}

/// Waits for the engine to call the service healthy or unhealthy, at most
/// `budget`; a service that exits ends the wait.
async fn await_healthy(
    engine: &Engine,
    id: &str,
    budget: Duration,
    deadline: &Deadline,
    ctx: &RunContext,
    up: Instant,
) -> Result<ReadyObservation, EngineError> {
    let mut obs = ReadyObservation {
        outcome: ReadyOutcome::Ready,
        check: String::new(),
        after_ms: 0,
        attempts: 0,
        last_check: None,
    };
    let t0 = Instant::now();
    let mut pause = FIRST_PAUSE;
    obs.outcome = loop {
        obs.attempts += 1;
        if !engine.running(id, deadline).await? {
            break ReadyOutcome::Exited;
        }
        match engine.health(id, deadline).await? {
            Health::Healthy | Health::None => break ReadyOutcome::Ready,
            Health::Unhealthy(last) => {
                obs.last_check = Some(last);
                break ReadyOutcome::Unhealthy;
            }
            Health::Starting => {}
        }
        if t0.elapsed() >= budget {
            break ReadyOutcome::TimedOut {
                timeout_ms: budget.as_millis() as u64,
            };
        }
        tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => return Err(EngineError::Cancelled),
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    };
    obs.after_ms = up.elapsed().as_millis() as u64;
    Ok(obs)
}
