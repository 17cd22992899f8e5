//! Orchestration: scenarios × (baseline, candidates) → verdicts.
//!
//! Owns connecting the engines each profile names, deciding what is
//! available and what the host can run, running baseline and candidates side
//! by side under one concurrency bound, sharing one baseline observation
//! among all candidates of a scenario, and emitting events. The `parity`
//! CLI and the `cargo test` harness are both thin layers over [`Suite`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OnceCell, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Project, Selection};
use crate::event::{Event, ScenarioResult, SideDecision, SkipCause};
use crate::judge::compare::{Verdict, compare_refusals_as_such, diff_fields, flakiness, judge};
use crate::judge::explain::explain;
use crate::judge::host::{self, Side};
use crate::judge::normalize::Normalizer;
use crate::judge::streams::first_difference;
use crate::load::runtime::{Builds, Profiles, RuntimeError, RuntimeProfile};
use crate::load::scenario::{Field, Scenario};
use crate::run::engine::{
    Engine, EngineError, EngineInfo, Fault, ImageCache, ImageProgress, RunContext,
};
use crate::run::image::ImageSource;
use crate::run::observe::{Observation, Subject, Texts};
use crate::run::plan::{HostLimits, PlanOptions, RunProfile, RunSpec, plan};
use crate::run::probe_view;
use crate::run::service;

/// How a suite runs.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub baseline: String,
    pub candidates: Vec<String>,
    /// Concurrent containers at most.
    pub jobs: usize,
    /// Overrides every scenario's `repeat`.
    pub repeat: Option<u32>,
    pub plan: PlanOptions,
}

impl SuiteOptions {
    /// The project's runtimes (as `selection` overrides them) and jobs.
    pub fn new(project: &Project, selection: &Selection) -> SuiteOptions {
        SuiteOptions {
            baseline: project.baseline(selection),
            candidates: project.candidates(selection),
            jobs: project.jobs(),
            repeat: None,
            plan: PlanOptions {
                grace: project.grace(),
                ..PlanOptions::default()
            },
        }
    }
}

/// Whether a profile can be used on this host, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Ready,
    Unavailable(String),
}

/// How long one engine's sweep of leftover containers may take.
const SWEEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

type Runs = Result<Vec<(Observation, RunSpec, Option<serde_json::Value>)>, Fault>;

/// A prepared suite: engines connected, host probed.
pub struct Suite {
    pub options: SuiteOptions,
    pub run_id: String,
    profiles: Profiles,
    engines: BTreeMap<String, Result<Arc<Engine>, EngineError>>,
    availability: BTreeMap<String, Availability>,
    limits: HostLimits,
    image: Result<Arc<ImageSource>, String>,
    probe: Arc<Vec<u8>>,
    permits: Semaphore,
    seq: AtomicU64,
    baselines: Mutex<HashMap<String, Arc<OnceCell<Runs>>>>,
    /// Images named or built by scenarios, provided once per engine.
    images: ImageCache,
    /// Where progress goes (image pulls and builds) while `run_all` runs.
    events: Mutex<Option<mpsc::UnboundedSender<Event>>>,
    /// Cancelled on an interrupt: no new container is created and every
    /// container path stops at its next step, removing what it made.
    pub cancel: CancellationToken,
    /// Every task of this run, so an interrupt can wait for their cleanup.
    tracker: TaskTracker,
}

/// Who a run is: its id (in every container's name and label) and the
/// token that interrupts it. Made before the suite is prepared, so an
/// interrupt during start-up is handled too.
#[derive(Debug, Clone)]
pub struct RunHandle {
    pub id: String,
    pub cancel: CancellationToken,
}

impl Default for RunHandle {
    fn default() -> Self {
        RunHandle {
            id: new_run_id(),
            cancel: CancellationToken::new(),
        }
    }
}

impl Suite {
    /// Loads the profiles, connects their engines, sweeps containers left by
    /// dead runs, and probes what the host can run.
    pub async fn prepare(
        profiles: Profiles,
        options: SuiteOptions,
        run: RunHandle,
    ) -> Result<Suite, RuntimeError> {
        let mut names = vec![options.baseline.clone()];
        names.extend(options.candidates.iter().cloned());
        let mut engines = BTreeMap::new();
        let mut availability = BTreeMap::new();
        for name in &names {
            let profile = profiles.get(name)?;
            let resolved = profile.resolve_endpoint();
            let endpoint = resolved.endpoint.clone();
            if !engines.contains_key(&endpoint) {
                let engine = match &resolved.problem {
                    Some(problem) => Err(crate::run::engine::EngineError::Unreachable {
                        endpoint: endpoint.clone(),
                        message: problem.clone(),
                    }),
                    None => Engine::connect_resolved(&resolved).await.map(Arc::new),
                };
                if let Ok(e) = &engine {
                    let _ = tokio::time::timeout(SWEEP_TIMEOUT, e.sweep(None)).await;
                    let _ = tokio::time::timeout(SWEEP_TIMEOUT, e.sweep_objects(None)).await;
                }
                engines.insert(endpoint.clone(), engine);
            }
            let avail = crate::suite::availability::decide(profile, &endpoint, &engines[&endpoint]);
            availability.insert(name.clone(), avail);
        }
        let probe = Arc::new(crate::run::probe_bin::probe_binary().to_vec());
        let image = ImageSource::from_host(&probe)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        let mut suite = Suite {
            run_id: run.id,
            cancel: run.cancel,
            tracker: TaskTracker::new(),
            permits: Semaphore::new(options.jobs.max(1)),
            options,
            profiles,
            engines,
            availability,
            limits: HostLimits::default(),
            image,
            probe,
            seq: AtomicU64::new(0),
            baselines: Mutex::new(HashMap::new()),
            images: ImageCache::default(),
            events: Mutex::new(None),
        };
        suite.limits = suite.probe_host().await;
        Ok(suite)
    }

    pub fn availability(&self, runtime: &str) -> Availability {
        self.availability
            .get(runtime)
            .cloned()
            .unwrap_or_else(|| Availability::Unavailable(format!("unknown runtime {runtime}")))
    }

    /// Containers running now: those holding one of the `jobs` permits.
    pub fn containers_running(&self) -> usize {
        self.options
            .jobs
            .max(1)
            .saturating_sub(self.permits.available_permits())
    }

    pub fn host_limits(&self) -> &HostLimits {
        &self.limits
    }

    /// Every connected engine, once each.
    pub fn engines(&self) -> Vec<Arc<Engine>> {
        self.engines
            .values()
            .filter_map(|e| e.as_ref().ok())
            .cloned()
            .collect()
    }

    /// The id of this run (the label of everything it makes).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Facts about every connected engine.
    pub fn engine_infos(&self) -> Vec<EngineInfo> {
        self.engines
            .values()
            .filter_map(|e| e.as_ref().ok())
            .map(|e| e.info().clone())
            .collect()
    }

    /// Facts about the engine `runtime` runs on, when it is connected.
    pub fn engine_info(&self, runtime: &str) -> Option<&EngineInfo> {
        let endpoint = self.profiles.get(runtime).ok()?.endpoint();
        self.engines.get(&endpoint)?.as_ref().ok().map(|e| e.info())
    }

    /// The default image's inputs (the host's busybox and the probe).
    pub fn image_source(&self) -> Option<&ImageSource> {
        self.image.as_ref().ok().map(|i| i.as_ref())
    }

    fn profile(&self, name: &str) -> &RuntimeProfile {
        self.profiles
            .get(name)
            .expect("profiles were checked in prepare")
    }

    fn engine_for(&self, name: &str) -> Result<Arc<Engine>, String> {
        let endpoint = self.profile(name).endpoint();
        match self.engines.get(&endpoint) {
            Some(Ok(e)) => Ok(e.clone()),
            Some(Err(e)) => Err(e.to_string()),
            None => Err(format!("no engine for {name}")),
        }
    }

    /// Finds once whether the baseline's engine can start a privileged
    /// container (this VM cannot: its bounding set lacks CAP_SYS_RESOURCE).
    async fn probe_host(&self) -> HostLimits {
        let unprobed = |why: String| HostLimits {
            unprobed: Some(why),
            ..HostLimits::default()
        };
        let engine = match self.engine_for(&self.options.baseline) {
            Ok(engine) => engine,
            Err(why) => return unprobed(why.to_string()),
        };
        let image = match self.default_image(&engine).await {
            Ok(image) => image,
            Err(why) => return unprobed(why),
        };
        let profile = self.profile(&self.options.baseline);
        let mut spec_file: crate::load::scenario::ScenarioFile = serde_saphyr::from_str(
            "description: host probe\ncommand: [\"true\"]\nobserve: [exit_code]\ncontainer: { privileged: true }\n",
        )
        .expect("the host probe scenario is valid");
        spec_file.timeout = crate::load::scenario::Timeout(std::time::Duration::from_secs(30));
        let scenario = Scenario {
            id: "parity/host-probe".into(),
            path: "parity.toml".into(),
            file: spec_file,
        };
        let rp = RunProfile {
            profile,
            endpoint: profile.endpoint(),
        };
        let spec = plan(&scenario, &rp, self.options.plan);
        match engine.run(&spec, &self.context(image)).await {
            Ok(raw) => match raw.engine {
                crate::run::observe::EngineOutcome::Refused { message, .. } => HostLimits {
                    privileged_blocked: Some(message),
                    ..HostLimits::default()
                },
                crate::run::observe::EngineOutcome::Started => HostLimits::default(),
            },
            Err(e) => unprobed(e.to_string()),
        }
    }

    async fn default_image(&self, engine: &Engine) -> Result<String, String> {
        let source = self.image.as_ref().map_err(Clone::clone)?;
        engine
            .ensure_default_image(source)
            .await
            .map_err(|e| e.to_string())
    }

    fn context(&self, default_image: String) -> RunContext {
        RunContext {
            run_id: self.run_id.clone(),
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
            default_image,
            probe: self.probe.clone(),
            cancel: self.cancel.clone(),
            cleanup: self.tracker.clone(),
        }
    }

    /// All runs of `scenario` under `runtime` (its `repeat` count).
    async fn observe(&self, scenario: &Scenario, runtime: &str) -> Runs {
        let engine = self.engine_for(runtime)?;
        let profile = self.profile(runtime);
        let rp = RunProfile {
            profile,
            endpoint: profile.endpoint(),
        };
        let mut spec = plan(scenario, &rp, self.options.plan);
        if !engine.transport().is_local() {
            let text = std::fs::read_to_string(&scenario.path).unwrap_or_default();
            if let Some(why) = crate::run::plan::remote_bind_problem(&spec, &text, &rp.endpoint) {
                return Err(why.into());
            }
        }
        let mut members = crate::run::stack::specs(scenario, &rp, self.options.plan);
        for (_, member) in members.iter_mut() {
            member.image = self.provide_image(&engine, member).await?;
        }
        if !scenario.file.is_stack() {
            spec.image = self.provide_image(&engine, &spec).await?;
        }
        let repeat = self.options.repeat.unwrap_or(scenario.file.repeat).max(1);
        let mut runs = Vec::new();
        for _ in 0..repeat {
            let image = self.default_image(&engine).await?;
            let ctx = self.context(image);
            let _permit = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Err("interrupted".into()),
                p = self.permits.acquire() => p.map_err(|e| e.to_string())?,
            };
            if scenario.file.is_build() {
                let (obs, config) = self.build(&engine, scenario, &spec, &ctx, runtime).await?;
                runs.push((obs, spec.clone(), Some(config)));
                continue;
            }
            if scenario.file.is_stack() {
                let (obs, config) = crate::run::stack::observe(&engine, scenario, &members, &ctx)
                    .await
                    .map_err(|e| e.to_string())?;
                runs.push((obs, spec.clone(), Some(config)));
                continue;
            }
            if scenario.file.is_service() {
                let (obs, config) =
                    service::observe(&engine, scenario, &spec, &ctx, profile).await?;
                runs.push((obs, spec.clone(), Some(config)));
                continue;
            }
            let raw = engine.run(&spec, &ctx).await?;
            let obs = Observation {
                runtime: runtime.to_string(),
                probe: probe_view::fields(&raw, spec.probe.as_ref(), profile),
                engine: raw.engine,
                exit_code: raw.exit,
                stdout: raw.stdout,
                stderr: raw.stderr,
                duration_ms: raw.duration.as_millis() as u64,
                steps: Vec::new(),
                ready: None,
            };
            runs.push((obs, spec.clone(), Some(raw.config)));
        }
        Ok(runs)
    }

    /// A build scenario's run under `runtime`: on its engine, or in a
    /// builder container under its runtime, as its profile says.
    async fn build(
        &self,
        engine: &Arc<Engine>,
        scenario: &Scenario,
        spec: &RunSpec,
        ctx: &RunContext,
        runtime: &str,
    ) -> Result<(Observation, serde_json::Value), Fault> {
        let image = match &self.profile(runtime).builds {
            Builds::Engine => {
                return crate::run::build::observe(engine, None, scenario, ctx, runtime).await;
            }
            Builds::InContainer(image) => image,
        };
        // A folder of the scenario library, or an image name.
        let root = scenario
            .path
            .ancestors()
            .nth(scenario.id.split('/').count())
            .unwrap_or(std::path::Path::new("."));
        let mut source = spec.clone();
        match root.join(image).join("Dockerfile").is_file() {
            true => (source.build, source.image) = (Some(root.join(image)), None),
            false => (source.build, source.image) = (None, Some(image.clone())),
        }
        let image = self
            .provide_image(engine, &source)
            .await?
            .ok_or("the builder container has no image")?;
        let builder = crate::run::builder::start(engine, spec, &image, ctx).await?;
        let built =
            crate::run::build::observe(&builder.engine, Some(engine), scenario, ctx, runtime).await;
        let inner = builder.engine.info().clone();
        builder.stop(engine).await;
        let (obs, mut config) = built?;
        let kind = config["build"]["builder"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        config["build"]["builder"] = serde_json::json!(format!(
            "{kind} of Docker {} inside a builder container ({image} under {})",
            inner.server_version, spec.oci_runtime
        ));
        Ok((obs, config))
    }

    /// The image `spec` names or builds, provided in `engine` (pulled, or
    /// built on the builder and copied), or `None` for parity's own.
    async fn provide_image(
        &self,
        engine: &Arc<Engine>,
        spec: &RunSpec,
    ) -> Result<Option<String>, String> {
        let progress = |note: ImageProgress| {
            let event = match note {
                ImageProgress::Begun(message) | ImageProgress::Ended(message) => {
                    Event::Progress { message }
                }
                ImageProgress::Moving { what, bytes, done } => {
                    Event::Transfer { what, bytes, done }
                }
            };
            if let Some(tx) = self.events.lock().expect("events lock").as_ref() {
                let _ = tx.send(event);
            }
        };
        let provided = match (&spec.build, &spec.image) {
            (Some(dir), _) => {
                // Builds run where RUN steps reach the network: the
                // baseline's engine unless it remaps users, else any that
                // does not, else the engine itself.
                let base = self.engine_for(&self.options.baseline).ok();
                let builder = base
                    .into_iter()
                    .chain(self.engines.values().flatten().cloned())
                    .find(|e| !e.info().userns_remap)
                    .unwrap_or_else(|| engine.clone());
                let sources: Vec<Arc<Engine>> = self.engines.values().flatten().cloned().collect();
                self.images
                    .built(engine, &builder, dir, &sources, &progress)
                    .await
            }
            (None, Some(name)) => {
                let sources: Vec<Arc<Engine>> = self.engines.values().flatten().cloned().collect();
                self.images.named(engine, name, &sources, &progress).await
            }
            (None, None) => return Ok(None),
        };
        provided.map(Some).map_err(|e| e.to_string())
    }

    async fn baseline_runs(&self, scenario: &Scenario) -> Runs {
        let cell = {
            let mut map = self.baselines.lock().expect("baseline cache lock");
            map.entry(scenario.id.clone()).or_default().clone()
        };
        cell.get_or_init(|| self.observe(scenario, &self.options.baseline))
            .await
            .clone()
    }

    /// The verdict for `scenario` under `candidate`.
    pub async fn judge(&self, scenario: &Scenario, candidate: &str) -> ScenarioResult {
        let baseline = self.options.baseline.clone();
        let mut result = ScenarioResult {
            id: scenario.id.clone(),
            path: scenario.path.display().to_string(),
            description: scenario.file.description.clone(),
            tags: scenario.file.tags.clone(),
            baseline: baseline.clone(),
            candidate: candidate.to_string(),
            verdict: Verdict::Skipped,
            reason: None,
            skip: None,
            diffs: Vec::new(),
            expected: scenario.expected_for(candidate).cloned().collect(),
            not_applicable: Vec::new(),
            baseline_runs: Vec::new(),
            candidate_runs: Vec::new(),
            config: None,
            likely_causes: Vec::new(),
            trouble: None,
        };
        if let Availability::Unavailable(why) = self.availability(&baseline) {
            result.verdict = Verdict::Error;
            result.reason = Some(format!("baseline {baseline} unavailable: {why}"));
            return result;
        }
        if let Availability::Unavailable(why) = self.availability(candidate) {
            result.reason = Some(format!("{candidate} unavailable: {why}"));
            result.skip = Some(SkipCause::Unavailable);
            return result;
        }
        let probe_profile = self.profile(candidate);
        let rp = RunProfile {
            profile: probe_profile,
            endpoint: probe_profile.endpoint(),
        };
        if let Some(why) = self.limits.blocks(&plan(scenario, &rp, self.options.plan)) {
            result.reason = Some(why);
            result.skip = Some(SkipCause::HostLimit);
            return result;
        }
        // Which declared divergences apply with these engines; a skipped
        // result keeps them all, as declared.
        let sides = [baseline.as_str(), candidate].map(|runtime| Side {
            runtime,
            info: self.engine_info(runtime),
        });
        let (declared, not_applicable) = host::split(scenario.expected_for(candidate), &sides);
        result.expected = declared.iter().map(|d| (*d).clone()).collect();
        result.not_applicable = not_applicable;
        let (base, cand) = tokio::join!(
            self.baseline_runs(scenario),
            self.observe(scenario, candidate)
        );
        let (base, cand) = match (base, cand) {
            (Ok(b), Ok(c)) => (b, c),
            (b, c) => {
                let (side, e) = match (b, c) {
                    (Err(e), _) => (baseline.clone(), e),
                    (_, Err(e)) => (candidate.to_string(), e),
                    _ => unreachable!("both sides ran"),
                };
                result.verdict = Verdict::Error;
                result.reason = Some(format!("{side}: {e}"));
                result.trouble = e.decision.map(|decision| SideDecision {
                    runtime: side,
                    decision,
                });
                return result;
            }
        };
        result.config = cand.first().and_then(|(_, _, c)| c.clone());
        result.baseline_runs = base.iter().map(|(o, _, _)| o.clone()).collect();
        result.candidate_runs = cand.iter().map(|(o, _, _)| o.clone()).collect();
        let fields = scenario.observed();
        let normalizer = |runtime: &str| {
            Normalizer::new(
                &self.profile(runtime).normalize.text,
                &scenario.file.normalize,
            )
            .map_err(|e| e.to_string())
        };
        let (nb, nc) = match (normalizer(&baseline), normalizer(candidate)) {
            (Ok(b), Ok(c)) => (b, c),
            (Err(e), _) | (_, Err(e)) => {
                result.verdict = Verdict::Error;
                result.reason = Some(e);
                return result;
            }
        };
        let texts = |runs: &[Observation], n: &Normalizer| -> Vec<Texts> {
            runs.iter().map(|o| comparable(n, o, &fields)).collect()
        };
        let (bt, ct) = (
            texts(&result.baseline_runs, &nb),
            texts(&result.candidate_runs, &nc),
        );
        for (runs, name) in [(&bt, baseline.as_str()), (&ct, candidate)] {
            if let Some(diffs) = flakiness(runs, name) {
                result.verdict = Verdict::Flaky;
                result.reason = Some(format!("repeats under {name} disagreed"));
                result.diffs = diffs;
                return result;
            }
        }
        let (mut left, mut right) = (bt[0].clone(), ct[0].clone());
        compare_refusals_as_such(&mut left, &mut right);
        let mut diffs = diff_fields(&left, &right, &baseline, candidate);
        let (lo, ro) = (&result.baseline_runs[0], &result.candidate_runs[0]);
        for d in &mut diffs {
            let subject = subject_of(lo, d);
            if let (Some(a), Some(b)) = (lo.stream(&subject), ro.stream(&subject)) {
                if let Some(first) = first_difference(&nb, a, &nc, b, d.field) {
                    d.summary.push(first.summary(&baseline, candidate));
                }
            }
        }
        let cmp = judge(diffs, &declared);
        result.verdict = cmp.verdict;
        result.reason = cmp.reason;
        result.diffs = cmp.diffs;
        if matches!(result.verdict, Verdict::Divergence | Verdict::Expected) {
            result.likely_causes = explain(
                &self.profile(candidate).explain,
                &baseline,
                candidate,
                &result.diffs,
            );
        }
        result
    }

    /// The normalized comparable texts of one observation of `scenario`
    /// under `runtime`: what snapshots hold.
    pub fn comparable_texts(
        &self,
        scenario: &Scenario,
        runtime: &str,
        obs: &Observation,
    ) -> Result<Texts, String> {
        let profile = self.profiles.get(runtime).map_err(|e| e.to_string())?;
        let n = Normalizer::new(&profile.normalize.text, &scenario.file.normalize)
            .map_err(|e| e.to_string())?;
        Ok(comparable(&n, obs, &scenario.observed()))
    }

    /// Runs every scenario under every candidate, emitting events on `tx`
    /// as verdicts land, and returns the results in scenario order.
    pub async fn run_all(
        self: &Arc<Self>,
        scenarios: &[Scenario],
        tx: mpsc::UnboundedSender<Event>,
    ) -> Vec<ScenarioResult> {
        *self.events.lock().expect("events lock") = Some(tx.clone());
        let _ = tx.send(Event::Started {
            run_id: self.run_id.clone(),
            baseline: self.options.baseline.clone(),
            candidates: self.options.candidates.clone(),
            scenarios: scenarios.len(),
            engines: self.engine_infos(),
        });
        let mut tasks = Vec::new();
        for (i, scenario) in scenarios.iter().enumerate() {
            for (j, candidate) in self.options.candidates.iter().enumerate() {
                let suite = self.clone();
                let scenario = scenario.clone();
                let candidate = candidate.clone();
                let tx = tx.clone();
                tasks.push(self.tracker.spawn(async move {
                    if j == 0 {
                        let _ = tx.send(Event::ScenarioStarted {
                            id: scenario.id.clone(),
                        });
                    }
                    let r = suite.judge(&scenario, &candidate).await;
                    let _ = tx.send(Event::Verdict(Box::new(r.clone())));
                    ((i, j), r)
                }));
            }
        }
        let mut results = Vec::new();
        for t in tasks {
            match t.await {
                Ok(r) => results.push(r),
                Err(e) => {
                    let msg = format!("internal error: {e}");
                    results.push(((usize::MAX, 0), error_result(&msg)));
                }
            }
        }
        results.sort_by_key(|(k, _)| *k);
        let results: Vec<ScenarioResult> = results.into_iter().map(|(_, r)| r).collect();
        let _ = tx.send(Event::Finished {
            results: results.clone(),
        });
        *self.events.lock().expect("events lock") = None;
        results
    }

    /// Waits for every task of this run to finish (each removes its own
    /// containers), at most `bound`.
    pub async fn wait_tasks(&self, bound: std::time::Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(bound, self.tracker.wait())
            .await
            .is_ok()
    }

    /// Removes every container of this run that is still there (after an
    /// interrupt, or at the end of a run whose engine was too slow to
    /// remove one in time), each engine's sweep bounded.
    pub async fn sweep_run(&self) -> usize {
        let mut n = 0;
        for e in self.engines.values().flatten() {
            let sweep = e.sweep(Some(&self.run_id));
            n += tokio::time::timeout(SWEEP_TIMEOUT, sweep)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
            // A stack's networks and volumes, once no container uses them.
            let objects = e.sweep_objects(Some(&self.run_id));
            n += tokio::time::timeout(SWEEP_TIMEOUT, objects)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0);
        }
        n
    }
}

/// The subject of a diff, as `obs` numbers its steps.
fn subject_of(obs: &Observation, d: &crate::judge::compare::FieldDiff) -> Subject {
    match &d.step {
        None => d.field.into(),
        Some(name) => {
            let i = obs
                .steps
                .iter()
                .position(|s| &s.name == name)
                .unwrap_or(usize::MAX);
            match d.service {
                true => Subject::service(i, name, d.field),
                false => Subject::step(i, name, d.field),
            }
        }
    }
}

fn error_result(message: &str) -> ScenarioResult {
    ScenarioResult {
        id: "(internal)".into(),
        path: String::new(),
        description: String::new(),
        tags: Vec::new(),
        baseline: String::new(),
        candidate: String::new(),
        verdict: Verdict::Error,
        reason: Some(message.into()),
        skip: None,
        diffs: Vec::new(),
        expected: Vec::new(),
        not_applicable: Vec::new(),
        baseline_runs: Vec::new(),
        candidate_runs: Vec::new(),
        config: None,
        likely_causes: Vec::new(),
        trouble: None,
    }
}

/// The normalized texts compared for one observation: only the engine
/// outcome when the engine refused the container.
pub fn comparable(
    n: &Normalizer,
    obs: &Observation,
    fields: &std::collections::BTreeSet<Field>,
) -> Texts {
    n.texts(obs, fields)
}

/// A short id, unique enough per run: time and pid, base 36.
pub fn new_run_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut n = (t << 16) ^ u64::from(std::process::id());
    let mut s = String::new();
    while n > 0 {
        let d = (n % 36) as u8;
        s.push(char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 }));
        n /= 36;
    }
    s.chars().rev().take(10).collect()
}
