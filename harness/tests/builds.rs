//! Build scenarios through the `parity` binary against the real engines:
//! a BuildKit build's outcome and steps, a failure at step N, the
//! classic builder's refusal of `--network host` on the userns-remap
//! engine compared as a refusal and BuildKit's failed first step there,
//! entitlements through `/grpc` and frontend refusals as observations, a
//! difference in the built image's files caught though every step agrees,
//! and nothing left behind (images, intermediate images, build cache,
//! volumes, containers) on either engine, and a copy of an image between
//! the engines (same id, its bytes reported). Tests that need engines return
//! where they are not running (CI always starts them). They run one at a
//! time: the leftover checks compare the engines' untagged and build
//! images, whose lists another test's build would change.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

mod common;
use common::{ENGINES, engines_up, root};
use parity::run::engine::Engine;

static SERIAL: Mutex<()> = Mutex::new(());

fn docker(sock: &str, args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(["-H", &format!("unix://{sock}")])
        .args(args)
        .output()
        .expect("docker CLI");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a build could leave behind on both engines: the images a build
/// makes (tagged `parity-build-run/...`, or untagged: intermediate and
/// dangling ones, but the parents of the library's kept images), the
/// build cache's size, and the containers of the
/// parity process `pid` (none given: of any parity run). The engines are
/// shared with whatever else runs on the host, so only what a build of
/// ours could leave is compared.
fn engine_state(pid: Option<u32>) -> String {
    ENGINES
        .iter()
        .map(|sock| {
            // The library's images (`parity-build/...`, built once and
            // kept, with the builder's cache) keep their parent images:
            // not a build's leftovers, even when a run makes them first.
            let kept: Vec<String> = docker(
                sock,
                &[
                    "images",
                    "--filter",
                    "label=io.parity.build",
                    "--format",
                    "{{.ID}}",
                ],
            )
            .lines()
            .flat_map(|id| {
                docker(sock, &["history", "-q", "--no-trunc", id])
                    .lines()
                    .filter(|l| l.starts_with("sha256:"))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
            let mut images: Vec<String> = docker(
                sock,
                &[
                    "images",
                    "-a",
                    "--no-trunc",
                    "--format",
                    "{{.ID}} {{.Repository}}:{{.Tag}}",
                ],
            )
            .lines()
            .filter(|l| l.contains(" <none>:") || l.contains(" parity-build-run/"))
            .filter(|l| !kept.iter().any(|k| l.starts_with(k.as_str())))
            .map(str::to_string)
            .collect();
            images.sort();
            let cache: String = docker(
                sock,
                &[
                    "system",
                    "df",
                    "--format",
                    "{{.Type}} {{.TotalCount}} {{.Size}}",
                ],
            )
            .lines()
            .filter(|l| l.starts_with("Build Cache"))
            .collect();
            let label = match pid {
                Some(pid) => format!("label=io.parity.pid={pid}"),
                None => "label=io.parity.run".to_string(),
            };
            format!(
                "{sock}\nimages: {}\n{cache}\ncontainers: {}",
                images.join(" "),
                docker(sock, &["ps", "-aq", "--filter", &label]),
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `parity run FILES --candidate userns-remap --format json` in `dir`;
/// the results and the exit status.
fn run_json(dir: &Path, files: &[&str]) -> (Vec<serde_json::Value>, Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_parity"))
        .arg("run")
        .args(files)
        .args(["--candidate", "userns-remap", "--format", "json"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PARITY_ROOT", root())
        .output()
        .expect("parity runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    let results = doc["results"].as_array().cloned().unwrap_or_default();
    (results, out.status.code(), stderr)
}

/// [`run_json`], also returning the parity process's id (its containers'
/// `io.parity.pid` label).
fn run_json_pid(dir: &Path, files: &[&str]) -> (Vec<serde_json::Value>, u32, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_parity"))
        .arg("run")
        .args(files)
        .args(["--candidate", "userns-remap", "--format", "json"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PARITY_ROOT", root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("parity runs");
    let pid = child.id();
    let out = child.wait_with_output().expect("parity runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    let results = doc["results"].as_array().cloned().unwrap_or_default();
    (results, pid, stderr)
}

/// A scenario file written under the library's `builds/` folder would
/// change tracked files; these go in a temporary folder of the same
/// depth, run with the project's profiles.
fn scenario(dir: &Path, name: &str, body: &str) -> String {
    let area = dir.join("scenarios").join("builds");
    std::fs::create_dir_all(&area).unwrap();
    let path = area.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!("# yaml-language-server: $schema=../scenario.schema.json\n{body}"),
    )
    .unwrap();
    path.display().to_string()
}

fn step<'a>(run: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name:?} in {run:#}"))
}

#[test]
fn a_build_is_observed_step_by_step_with_its_image() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !engines_up() {
        return;
    }
    let (results, code, stderr) = run_json(&root(), &["scenarios/builds/plain.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
    let r = &results[0];
    assert_eq!(r["verdict"], "parity", "{r:#}");
    for run in [&r["baseline_runs"][0], &r["candidate_runs"][0]] {
        assert_eq!(run["exit_code"]["code"], 0, "{run:#}");
        let summary = run["stdout"]["text"].as_str().unwrap();
        // ENV sets metadata only: BuildKit has no vertex for it.
        assert!(summary.starts_with("built in 3 steps\n"), "{run:#}");
        // A no-cache build runs every RUN step.
        assert!(summary.contains("\n[3/3] RUN echo"), "{summary}");
        assert!(
            !summary
                .lines()
                .any(|l| l.contains("] RUN ") && l.ends_with(": cached")),
            "{summary}"
        );
        let names: Vec<&str> = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names[0], "FROM docker.io/library/busybox", "{names:?}");
        assert!(names[2].starts_with("[3/3] RUN echo"), "{names:?}");
        assert_eq!(names[3], "image", "{names:?}");
        let run_step = step(run, names[2]);
        assert_eq!(
            run_step["stdout"]["text"], "hello from the build\n",
            "{run_step:#}"
        );
        let image = step(run, "image")["stdout"]["text"].as_str().unwrap();
        assert!(image.contains("env: GREETING=hello"), "{image}");
        assert!(image.contains("working_dir: /app"), "{image}");
        assert!(image.contains("-0640 0:0 5 /app/data"), "{image}");
    }
}

#[test]
fn a_failed_step_is_named_with_its_exit_code() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !engines_up() {
        return;
    }
    let (results, code, stderr) = run_json(&root(), &["scenarios/builds/failing.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
    let r = &results[0];
    assert_eq!(r["verdict"], "parity", "{r:#}");
    for run in [&r["baseline_runs"][0], &r["candidate_runs"][0]] {
        assert_eq!(run["exit_code"]["code"], 3, "{run:#}");
        assert!(
            run["stdout"]["text"]
                .as_str()
                .unwrap()
                .starts_with("failed at [3/4] RUN echo about to fail && exit 3 (exit code 3)\n"),
            "{run:#}"
        );
        let failed = step(run, "[3/4] RUN echo about to fail && exit 3");
        assert_eq!(failed["exit_code"]["code"], 3, "{failed:#}");
        assert_eq!(failed["stdout"]["text"], "about to fail\n", "{failed:#}");
        let never = step(run, "[4/4] RUN echo never");
        assert_eq!(never["engine"]["status"], "refused", "{never:#}");
        assert!(
            never["engine"]["message"]
                .as_str()
                .unwrap()
                .starts_with("not run"),
            "{never:#}"
        );
        let steps = run["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 4, "no image after the failure: {run:#}");
    }
}

#[test]
fn a_refused_host_network_build_is_compared_as_a_refusal() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !engines_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let undeclared = scenario(
        dir.path(),
        "host_undeclared",
        "description: d\nbuild:\n  builder: classic\n  dockerfile: |\n    FROM busybox\n    RUN echo hi\n  network: host\n",
    );
    let (results, code, stderr) =
        run_json(&root(), &["scenarios/builds/network_host_classic.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
    let r = &results[0];
    assert_eq!(r["verdict"], "expected", "{r:#}");
    assert_eq!(r["baseline_runs"][0]["engine"]["status"], "started");
    let refused = &r["candidate_runs"][0]["engine"];
    assert_eq!(refused["status"], "refused", "{refused:#}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("cannot share the host's network namespace when user namespaces are enabled"),
        "{refused:#}"
    );
    // The same build, undeclared, is a divergence in the engine field.
    let (results, code, _) = run_json(&root(), &[&undeclared]);
    assert_ne!(code, Some(0));
    let r = &results[0];
    assert_eq!(r["verdict"], "divergence", "{r:#}");
    assert!(
        r["diffs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["field"] == "engine"),
        "{r:#}"
    );
}

/// The same build with BuildKit: the remapped engine starts it, and its
/// first RUN step fails (runc cannot mount sysfs in the host's network
/// namespace from a user namespace), where the classic builder was
/// refused before any step.
#[test]
fn buildkit_starts_a_host_network_build_the_classic_builder_is_refused() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !engines_up() {
        return;
    }
    let (results, code, stderr) = run_json(&root(), &["scenarios/builds/network_host.yaml"]);
    assert_eq!(code, Some(0), "{stderr}");
    let r = &results[0];
    assert_eq!(r["verdict"], "expected", "{r:#}");
    let base = &r["baseline_runs"][0];
    assert_eq!(base["exit_code"]["code"], 0, "{base:#}");
    let run = &r["candidate_runs"][0];
    assert_eq!(run["engine"]["status"], "started", "{run:#}");
    assert_eq!(run["exit_code"]["code"], 1, "{run:#}");
    let first = step(run, "[2/2] RUN echo built with the host network");
    assert_eq!(first["exit_code"]["code"], 1, "{first:#}");
    assert!(
        first["stderr"]["text"].as_str().unwrap().contains("sysfs"),
        "{first:#}"
    );
}

/// Entitlements go in a Solve through the engine's /grpc: the 20.10
/// engine grants network.host (the build's network stays none) and
/// refuses security.insecure by its configuration; its built-in
/// Dockerfile frontend refuses RUN --network. Refusals are observations,
/// the same on both engines.
#[test]
fn entitlements_and_buildkit_flags_are_observed_as_the_engine_answers() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !engines_up() {
        return;
    }
    let (results, code, stderr) = run_json(
        &root(),
        &[
            "scenarios/builds/entitlement_network_host_buildkit.yaml",
            "scenarios/builds/entitlement_insecure_buildkit.yaml",
            "scenarios/builds/run_network_host.yaml",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let by_id = |id: &str| {
        results
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("no {id}: {results:#?}"))
    };
    let granted = by_id("builds/entitlement_network_host_buildkit");
    assert_eq!(granted["verdict"], "parity", "{granted:#}");
    for run in [&granted["baseline_runs"][0], &granted["candidate_runs"][0]] {
        assert_eq!(run["exit_code"]["code"], 0, "{run:#}");
        let s = step(run, "[2/2] RUN echo granted && grep -c : /proc/net/dev");
        assert_eq!(s["stdout"]["text"], "granted\n1\n", "only lo: {s:#}");
    }
    for (id, needle) in [
        (
            "builds/entitlement_insecure_buildkit",
            "granting entitlement security.insecure is not allowed",
        ),
        ("builds/run_network_host", "Unknown flag: network"),
    ] {
        let r = by_id(id);
        assert_eq!(r["verdict"], "parity", "{r:#}");
        for run in [&r["baseline_runs"][0], &r["candidate_runs"][0]] {
            assert_eq!(run["engine"]["status"], "refused", "{run:#}");
            let m = run["engine"]["message"].as_str().unwrap();
            assert!(m.contains(needle), "{m}");
            assert_eq!(run["stdout"]["text"], "refused before any step\n");
        }
    }
}

#[test]
fn a_difference_in_the_built_files_is_caught() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !engines_up() {
        return;
    }
    // The library's copy_new_dirs, without its declaration: every step
    // agrees, the image's file listing does not.
    let text = std::fs::read_to_string(root().join("scenarios/builds/copy_new_dirs.yaml")).unwrap();
    let body = text[..text.find("expect:").unwrap()]
        .trim_start_matches("# yaml-language-server: $schema=../scenario.schema.json\n")
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "copy_new_dirs", &body);
    let (results, code, stderr) = run_json(&root(), &[&file]);
    assert_ne!(code, Some(0), "{stderr}");
    let r = &results[0];
    assert_eq!(r["verdict"], "divergence", "{r:#}");
    let diffs = r["diffs"].as_array().unwrap();
    assert!(!diffs.is_empty(), "{r:#}");
    for d in diffs {
        assert_eq!(d["step"], "image", "only the image differs: {d:#}");
    }
    let listing = step(&r["baseline_runs"][0], "image")["stdout"]["text"]
        .as_str()
        .unwrap();
    assert!(listing.contains("d0755 0:0  /usr/local/bin"), "{listing}");
    let remapped = step(&r["candidate_runs"][0], "image")["stdout"]["text"]
        .as_str()
        .unwrap();
    assert!(!remapped.contains("/usr/local/bin\n"), "{remapped}");
    assert!(
        remapped.contains("-0755 0:0 9 /usr/local/bin/app"),
        "{remapped}"
    );
}

#[test]
fn builds_leave_no_image_cache_volume_or_container_behind() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !engines_up() {
        return;
    }
    let before = engine_state(Some(0));
    let (results, pid, stderr) = run_json_pid(
        &root(),
        &[
            "scenarios/builds/plain.yaml",
            "scenarios/builds/failing.yaml",
            "scenarios/builds/multi_stage.yaml",
            "scenarios/builds/multi_stage_owner.yaml",
            "scenarios/builds/network_host.yaml",
            "scenarios/builds/network_host_classic.yaml",
            "scenarios/builds/add_copy_ownership.yaml",
            "scenarios/builds/run_mount_cache.yaml",
            "scenarios/builds/entitlement_network_host_buildkit.yaml",
        ],
    );
    assert_eq!(results.len(), 9, "{stderr}");
    for r in &results {
        assert!(
            r["verdict"] == "parity" || r["verdict"] == "expected",
            "{r:#}"
        );
    }
    let after = engine_state(Some(pid));
    assert_eq!(
        before.replace("io.parity.pid=0", ""),
        after.replace(&format!("io.parity.pid={pid}"), ""),
        "the builds left something behind"
    );
}

/// A profile whose builds run in a builder container (`builds: {
/// in_container: images/dind }`) under runc, where a nested engine cannot
/// start unprivileged: the scenario is an error naming the builder and the
/// inner engine's reason, never a build outcome, and nothing is left.
#[test]
fn a_builder_container_that_cannot_start_its_engine_is_an_error() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !engines_up() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("runtimes")).unwrap();
    std::fs::create_dir_all(p.join("scenarios/images/dind")).unwrap();
    for f in ["Dockerfile", "save-image.sh"] {
        std::fs::copy(
            root().join("scenarios/images/dind").join(f),
            p.join("scenarios/images/dind").join(f),
        )
        .unwrap();
    }
    std::fs::copy(
        root().join("runtimes/runc.yaml"),
        p.join("runtimes/runc.yaml"),
    )
    .unwrap();
    std::fs::write(
        p.join("runtimes/runc-builder.yaml"),
        "name: runc-builder\noci_runtime: runc\nbuilds: { in_container: images/dind }\n",
    )
    .unwrap();
    std::fs::write(
        p.join("parity.toml"),
        "baseline = \"runc\"\ncandidates = [\"runc-builder\"]\nscenarios = \"scenarios\"\nruntimes = \"runtimes\"\n",
    )
    .unwrap();
    let file = scenario(
        p,
        "plain",
        "description: d\nbuild:\n  dockerfile: |\n    FROM busybox\n    RUN echo hi\n  network: none\n",
    );
    let before = engine_state(Some(0));
    let child = Command::new(env!("CARGO_BIN_EXE_parity"))
        .args([
            "run",
            &file,
            "--candidate",
            "runc-builder",
            "--format",
            "json",
        ])
        .current_dir(p)
        .env("NO_COLOR", "1")
        .env("PARITY_ROOT", p)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("parity runs");
    let pid = child.id();
    let out = child.wait_with_output().expect("parity runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let doc: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    let r = &doc["results"][0];
    assert_eq!(r["verdict"], "error", "{r:#}");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("the builder container"), "{reason}");
    assert!(reason.contains("under runc"), "{reason}");
    assert!(reason.contains("failed to start daemon"), "{reason}");
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(
        before,
        engine_state(Some(0)),
        "the builder left something behind"
    );
    assert_eq!(
        engine_state(Some(pid)).replace(&format!("io.parity.pid={pid}"), ""),
        before,
        "the builder left a container"
    );
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("parity-builder-")
        })
        .collect();
    assert!(left.is_empty(), "socket folders left: {left:?}");
}

/// `docker save | docker load` between the engines (how a build's base
/// images and the library's images reach another engine): the same id
/// arrives, and the bytes moved are reported as they go.
#[test]
fn a_copy_between_engines_keeps_the_id_and_reports_its_bytes() {
    if !engines_up() {
        return;
    }
    let tag = format!("parity-copy-test/{}:latest", std::process::id());
    docker(ENGINES[0], &["tag", "busybox:latest", &tag]);
    let id = docker(
        ENGINES[0],
        &["image", "inspect", "--format", "{{.Id}}", &tag],
    );
    let seen = std::sync::Mutex::new(Vec::new());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let copied = rt.block_on(async {
        let from = Engine::connect(&format!("unix://{}", ENGINES[0]))
            .await
            .map_err(|e| e.to_string())?;
        let to = Engine::connect(&format!("unix://{}", ENGINES[1]))
            .await
            .map_err(|e| e.to_string())?;
        from.copy_image_to(&to, &tag, &|bytes| seen.lock().unwrap().push(bytes))
            .await
            .map_err(|e| e.to_string())
    });
    // Untagging only: busybox:latest keeps the image in both engines.
    for sock in ENGINES {
        let _ = Command::new("docker")
            .args(["-H", &format!("unix://{sock}"), "rmi", &tag])
            .output();
    }
    assert_eq!(copied, Ok(id.trim().to_string()));
    let seen = seen.into_inner().unwrap();
    let last = seen.last().copied().unwrap_or(0);
    assert!(
        last > 1_000_000,
        "the saved busybox moved {last} bytes: {seen:?}"
    );
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
}
