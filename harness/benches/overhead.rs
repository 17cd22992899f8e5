//! What parity costs on top of the raw engine, as ratios:
//! `cargo bench -p parity --bench overhead` (engines from
//! runtimes/setup-host.sh must be running).
//!
//! The same syscall-heavy workload runs through the Engine API without the
//! probe (the raw engine: create, start, wait, logs, remove), with the probe
//! but without syscall tracing (exit-time mount snapshot only), and traced.
//! `PARITY_BENCH_RUNS` sets the runs per mode (default 5); `PARITY_BENCH_ENGINE`
//! the endpoint (default the production engine).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parity::load::container::ContainerSpec;
use parity::run::engine::{Engine, RunContext};
use parity::run::image::ImageSource;
use parity::run::plan::{ProbePlan, RunSpec};

const WORKLOAD: &str =
    "i=0; while [ $i -lt 3000 ]; do cat /proc/self/stat > /dev/null; i=$((i+1)); done; echo done";

fn spec(endpoint: &str, probe: Option<ProbePlan>) -> RunSpec {
    RunSpec {
        stack: None,
        scenario_id: "bench/overhead".into(),
        scenario_path: "bench.yaml".into(),
        runtime: "runc".into(),
        oci_runtime: "runc".into(),
        endpoint: endpoint.into(),
        image: None,
        command: vec!["sh".into(), "-c".into(), WORKLOAD.into()],
        container: ContainerSpec {
            network_mode: Some("none".into()),
            ..Default::default()
        },
        timeout: Duration::from_secs(300),
        grace: parity::run::plan::DEFAULT_GRACE,
        probe,
        build: None,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: u32 = std::env::var("PARITY_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let endpoint = std::env::var("PARITY_BENCH_ENGINE")
        .unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let engine = match Engine::connect(&endpoint).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("overhead bench skipped: {e}");
                return;
            }
        };
        let probe = Arc::new(parity::run::probe_bin::probe_binary().to_vec());
        let source = ImageSource::from_host(&probe).expect("static busybox");
        let image = engine
            .ensure_default_image(&source)
            .await
            .expect("default image");
        let modes = [
            ("raw engine (no probe)", None),
            (
                "probe, untraced",
                Some(ProbePlan {
                    syscalls: false,
                    mounts: true,
                    facts: BTreeSet::new(),
                    service: false,
                    unwrapped: false,
                }),
            ),
            (
                "probe, syscalls traced",
                Some(ProbePlan {
                    syscalls: true,
                    mounts: true,
                    facts: BTreeSet::new(),
                    service: false,
                    unwrapped: false,
                }),
            ),
        ];
        let mut means = Vec::new();
        for (name, plan) in modes {
            let s = spec(&endpoint, plan);
            let mut total = Duration::ZERO;
            for i in 0..runs {
                let ctx = RunContext {
                    run_id: format!("bench{}", std::process::id()),
                    seq: u64::from(i),
                    default_image: image.clone(),
                    probe: probe.clone(),
                    cancel: Default::default(),
                    cleanup: Default::default(),
                };
                let started = Instant::now();
                let raw = engine.run(&s, &ctx).await.expect("run");
                total += started.elapsed();
                assert_eq!(raw.stdout.text.trim(), "done", "{name}: the workload ran");
            }
            let mean = total / runs;
            means.push(mean);
            let ratio = mean.as_secs_f64() / means[0].as_secs_f64();
            println!(
                "{name:<24} mean {:>8.1} ms over {runs} runs   x{ratio:.2} of the raw engine",
                mean.as_secs_f64() * 1000.0
            );
        }
    });
}
