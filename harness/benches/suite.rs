//! What a whole `parity run` costs on top of the raw engine, as ratios:
//! `cargo bench -p parity --bench suite` (engines from
//! runtimes/setup-host.sh must be running).
//!
//! N generated trivial scenarios (`echo hello N; ls / > /dev/null`) run
//! with baseline `runc` (production engine) and candidate `userns-remap`,
//! so 2N containers on two engines, `--jobs` containers at once. The same
//! 2N containers are first run by a minimal Engine API client (create,
//! start, wait, logs, remove: the floor every ratio is taken against) and
//! by the docker CLI (`docker run --rm`), with the same concurrency. Then
//! the `parity` binary itself runs the scenarios: observing only
//! exit_code/stdout/stderr (no probe), the default observation set with
//! `--no-trace`, and traced. The probed run is repeated at the large size
//! to show the cost per scenario stays flat, and once more with two
//! candidates to give the peak RSS a large run needs.
//!
//! Settings: `PARITY_BENCH_SCENARIOS` (N, default 30),
//! `PARITY_BENCH_LARGE` (default 300; 0 skips the large runs),
//! `PARITY_BENCH_JOBS` (default 2).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptions, LogsOptions, RemoveContainerOptions, StartContainerOptions,
    WaitContainerOptions,
};
use futures_util::StreamExt;
use parity::run::engine::Engine;
use parity::run::image::ImageSource;

const PRODUCTION: &str = "unix:///var/run/docker.sock";
const REMAPPED: &str = "unix:///run/parity/userns-remap.sock";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn workload(i: usize) -> String {
    format!("echo hello {i}; ls / > /dev/null")
}

/// One measured mode: wall time, containers run, and peak RSS of the
/// measured process (parity's own; none for the in-process loops).
struct Measured {
    name: String,
    wall: Duration,
    containers: usize,
    peak_rss_kib: Option<i64>,
}

impl Measured {
    fn per_container_ms(&self) -> f64 {
        self.wall.as_secs_f64() * 1000.0 / self.containers as f64
    }
}

/// The raw loop: what a minimal client does for one container.
async fn raw_container(docker: Docker, image: String, i: usize) {
    let body = ContainerCreateBody {
        image: Some(image),
        cmd: Some(vec!["sh".into(), "-c".into(), workload(i)]),
        labels: Some([("parity.bench".to_string(), std::process::id().to_string())].into()),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            runtime: Some("runc".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let id = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .expect("create")
        .id;
    docker
        .start_container(&id, None::<StartContainerOptions>)
        .await
        .expect("start");
    let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
    while let Some(r) = wait.next().await {
        r.expect("wait");
    }
    let opts = LogsOptions {
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut logs = docker.logs(&id, Some(opts));
    let mut out = Vec::new();
    while let Some(chunk) = logs.next().await {
        out.extend_from_slice(&chunk.expect("logs").into_bytes());
    }
    assert_eq!(out, format!("hello {i}\n").into_bytes(), "raw loop output");
    let opts = RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    docker
        .remove_container(&id, Some(opts))
        .await
        .expect("remove");
}

/// The 2N containers through the Engine API, `jobs` at once, the two
/// engines' containers interleaved as parity schedules them.
async fn raw_loop(engines: &[(Docker, String)], n: usize, jobs: usize) -> Measured {
    let started = Instant::now();
    let work = (0..n).flat_map(|i| {
        engines
            .iter()
            .map(move |(d, img)| (d.clone(), img.clone(), i))
    });
    futures_util::stream::iter(work)
        .map(|(d, img, i)| tokio::spawn(raw_container(d, img, i)))
        .buffer_unordered(jobs)
        .for_each(|r| async { r.expect("raw container task") })
        .await;
    Measured {
        name: "raw Engine API loop".into(),
        wall: started.elapsed(),
        containers: n * engines.len(),
        peak_rss_kib: None,
    }
}

/// The same containers through `docker run --rm`, `jobs` at once.
fn cli_loop(images: &[(&str, String)], n: usize, jobs: usize) -> Option<Measured> {
    Command::new("docker").arg("--version").output().ok()?;
    let started = Instant::now();
    let work: Vec<(String, String, usize)> = (0..n)
        .flat_map(|i| {
            images
                .iter()
                .map(move |(e, img)| (e.to_string(), img.clone(), i))
        })
        .collect();
    let work = Arc::new(std::sync::Mutex::new(work.into_iter()));
    let threads: Vec<_> = (0..jobs)
        .map(|_| {
            let work = work.clone();
            std::thread::spawn(move || {
                loop {
                    let next = work.lock().unwrap().next();
                    let Some((endpoint, image, i)) = next else {
                        break;
                    };
                    let out = Command::new("docker")
                        .args(["-H", &endpoint, "run", "--rm", "--network", "none"])
                        .args(["--runtime", "runc", &image, "sh", "-c", &workload(i)])
                        .output()
                        .expect("docker run");
                    assert!(out.status.success(), "docker run: {out:?}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("cli thread");
    }
    Some(Measured {
        name: "docker CLI loop".into(),
        wall: started.elapsed(),
        containers: n * images.len(),
        peak_rss_kib: None,
    })
}

/// A throwaway project: parity.toml, the shipped runc and userns-remap
/// profiles plus a second name for the remapped engine (for a run with
/// two candidates), and N scenarios in each of two folders.
fn project(root: &Path, workspace: &Path, n: usize) {
    let runtimes = root.join("runtimes");
    std::fs::create_dir_all(&runtimes).unwrap();
    std::fs::write(
        root.join("parity.toml"),
        "baseline = \"runc\"\ncandidates = [\"userns-remap\"]\n\
         scenarios = \"scenarios\"\nruntimes = \"runtimes\"\n",
    )
    .unwrap();
    for name in ["runc", "userns-remap"] {
        let file = format!("{name}.yaml");
        std::fs::copy(workspace.join("runtimes").join(&file), runtimes.join(&file)).unwrap();
    }
    let second = std::fs::read_to_string(runtimes.join("userns-remap.yaml"))
        .unwrap()
        .replacen("name: userns-remap", "name: userns-remap-2", 1);
    std::fs::write(runtimes.join("userns-remap-2.yaml"), second).unwrap();
    for (folder, observe) in [
        ("plain", "observe: [exit_code, stdout, stderr]\n"),
        ("probed", ""),
    ] {
        let dir = root.join("scenarios").join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..n {
            let yaml = format!(
                "description: trivial workload {i}\n{observe}command: [sh, -c, \"{}\"]\n",
                workload(i)
            );
            std::fs::write(dir.join(format!("s{i:04}.yaml")), yaml).unwrap();
        }
    }
}

/// Runs the parity binary, measuring its wall time and peak RSS.
fn parity(name: &str, root: &Path, args: &[&str], containers: usize) -> Measured {
    let report = root.join("reports").join(name.replace([' ', ','], "-"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_parity"));
    cmd.arg("run")
        .arg("--root")
        .arg(root)
        .args(args)
        .arg("--report")
        .arg(&report)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    // Reaped with wait4 below (for its rusage), not with `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("parity runs");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter; `pid` is our child,
    // reaped here instead of by `Child::wait`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(reaped, pid, "wait4 on parity");
    let code = libc::WEXITSTATUS(status);
    if !libc::WIFEXITED(status) || code != 0 {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        panic!("{name}: parity exited with {status:#x}:\n{err}");
    }
    Measured {
        name: name.into(),
        wall,
        containers,
        peak_rss_kib: Some(usage.ru_maxrss),
    }
}

fn print(rows: &[Measured], floor: &Measured) {
    for m in rows {
        let ratio = m.per_container_ms() / floor.per_container_ms();
        let rss = m
            .peak_rss_kib
            .map(|k| format!("{:>6.1} MiB", k as f64 / 1024.0))
            .unwrap_or_else(|| "         -".into());
        println!(
            "{:<44} {:>4} containers {:>7.2} s {:>7.1} ms/container  x{ratio:.2}  peak RSS {rss}",
            m.name,
            m.containers,
            m.wall.as_secs_f64(),
            m.per_container_ms(),
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n = env_usize("PARITY_BENCH_SCENARIOS", 30).max(1);
    let large = env_usize("PARITY_BENCH_LARGE", 300);
    let jobs = env_usize("PARITY_BENCH_JOBS", 2).max(1);
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let engines = rt.block_on(async {
        let probe = parity::run::probe_bin::probe_binary().to_vec();
        let source = ImageSource::from_host(&probe).expect("static busybox");
        let mut engines = Vec::new();
        for endpoint in [PRODUCTION, REMAPPED] {
            let engine = match Engine::connect(endpoint).await {
                Ok(e) => e,
                Err(e) => {
                    eprintln!("suite bench skipped: {e}");
                    return None;
                }
            };
            let image = engine.ensure_default_image(&source).await.expect("image");
            let path = endpoint.strip_prefix("unix://").unwrap();
            let docker = Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
                .expect("connect");
            let docker = docker.negotiate_version().await.expect("negotiate");
            engines.push((endpoint, docker, image));
        }
        Some(engines)
    });
    let Some(engines) = engines else { return };
    let api: Vec<(Docker, String)> = engines
        .iter()
        .map(|(_, d, i)| (d.clone(), i.clone()))
        .collect();
    let cli: Vec<(&str, String)> = engines.iter().map(|(e, _, i)| (*e, i.clone())).collect();

    let tmp = tempfile::tempdir().expect("temp project");
    project(tmp.path(), &workspace, n.max(large));
    // Warm both engines (image layers, runtime binaries) before measuring.
    rt.block_on(raw_loop(&api, 2, jobs));

    let jobs_s = jobs.to_string();
    let pair = [
        "--baseline",
        "runc",
        "--candidate",
        "userns-remap",
        "--jobs",
        &jobs_s,
    ];
    let small = |folder: &str| -> Vec<String> {
        (0..n)
            .map(|i| format!("scenarios/{folder}/s{i:04}.yaml"))
            .collect()
    };
    let run_small = |name: &str, folder: &str, extra: &[&str]| {
        let files = small(folder);
        let abs: Vec<String> = files
            .iter()
            .map(|f| tmp.path().join(f).display().to_string())
            .collect();
        let mut args: Vec<&str> = pair.to_vec();
        args.extend_from_slice(extra);
        args.extend(abs.iter().map(String::as_str));
        parity(name, tmp.path(), &args, 2 * n)
    };

    println!("suite bench: {n} scenarios, 2 runtimes, {jobs} containers at once");
    let floor = rt.block_on(raw_loop(&api, n, jobs));
    let mut rows = Vec::new();
    if let Some(m) = cli_loop(&cli, n, jobs) {
        rows.push(m);
    }
    rows.push(run_small("parity, no probe", "plain", &[]));
    rows.push(run_small(
        "parity, probe --no-trace",
        "probed",
        &["--no-trace"],
    ));
    rows.push(run_small("parity, probe traced", "probed", &[]));
    print(std::slice::from_ref(&floor), &floor);
    print(&rows, &floor);

    if large == 0 {
        return;
    }
    println!("\nsuite bench: {large} scenarios (cost per scenario from {n} to {large})");
    let big_floor = rt.block_on(raw_loop(&api, large, jobs));
    let probed = tmp.path().join("scenarios/probed").display().to_string();
    let mut args: Vec<&str> = pair.to_vec();
    args.extend(["--no-trace", &probed]);
    let big = parity("parity, probe --no-trace", tmp.path(), &args, 2 * large);
    let two = [
        "--baseline",
        "runc",
        "--candidate",
        "userns-remap",
        "--candidate",
        "userns-remap-2",
        "--jobs",
        &jobs_s,
        &probed,
    ];
    let both = parity(
        "parity, probe traced, two candidates",
        tmp.path(),
        &two,
        3 * large,
    );
    let small_probe = &rows[rows.len() - 2];
    println!(
        "cost per container, probe --no-trace: {:.1} ms at {n}, {:.1} ms at {large} (x{:.2}); \
         raw loop {:.1} ms at {n}, {:.1} ms at {large}",
        small_probe.per_container_ms(),
        big.per_container_ms(),
        big.per_container_ms() / small_probe.per_container_ms(),
        floor.per_container_ms(),
        big_floor.per_container_ms(),
    );
    print(std::slice::from_ref(&big_floor), &big_floor);
    print(&[big, both], &big_floor);
}
