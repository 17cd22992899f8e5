//! Snapshots end to end, on the real engines, through the same trial
//! function `cargo test` uses, against a temporary project:
//! - a fresh scenario records one snapshot per runtime in the folder of
//!   this host's environment key (`snapshots/<key>/NAME@RUNTIME.snap`) and
//!   passes; the same behaviour matches on the second run; a changed
//!   behaviour under the same environment fails and leaves `.snap.new`;
//! - with recording off (CI) a missing snapshot passes, nothing is written
//!   into the checkout, the would-be snapshot goes to the artifacts folder,
//!   and `parity snapshots accept` brings it in so the next run compares;
//! - a second environment (the default image built from another busybox
//!   build, in a child process with `PARITY_BUSYBOX`) gets its own
//!   snapshots recorded instead of failing, and the first environment's
//!   still compare.
//!
//! Ignored with the reason when the engines are not reachable.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Conclusion};
use parity::config::workspace_root;
use parity::judge::snapshot::{Artifacts, Recording};
use parity::judge::snapshot_files;
use parity::judge::snapshot_key::busybox_banner_version;
use parity::trial::{Check, Harness};

const RUNC: &str = "/var/run/docker.sock";
const REMAPPED: &str = "/run/parity/userns-remap.sock";
/// Set in the child process of the second-environment test.
const INNER: &str = "PARITY_TEST_INNER_PROJECT";

fn engines_reachable() -> Result<(), String> {
    for sock in [RUNC, REMAPPED] {
        std::os::unix::net::UnixStream::connect(sock).map_err(|e| format!("{sock}: {e}"))?;
    }
    Ok(())
}

struct Project {
    root: PathBuf,
    owned: bool,
}

impl Project {
    fn new(name: &str) -> Project {
        let root =
            std::env::temp_dir().join(format!("parity-snapshots-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("scenarios/fresh")).unwrap();
        let runtimes = workspace_root().join("runtimes");
        std::fs::write(
            root.join("parity.toml"),
            format!(
                "baseline = \"runc\"\ncandidates = [\"userns-remap\"]\nscenarios = \"scenarios\"\nruntimes = {:?}\n",
                runtimes.display().to_string()
            ),
        )
        .unwrap();
        Project { root, owned: true }
    }

    /// A project another process made (and removes).
    fn open(root: PathBuf) -> Project {
        Project { root, owned: false }
    }

    fn scenarios(&self) -> PathBuf {
        self.root.join("scenarios")
    }

    fn write(&self, id: &str, command: &str) {
        let text = format!(
            "# yaml-language-server: $schema=../scenario.schema.json\n\
             description: a fresh scenario\n\
             command: [sh, -c, {command:?}]\n\
             observe: [exit_code, stdout, stderr]\n"
        );
        std::fs::write(self.scenarios().join(format!("{id}.yaml")), text).unwrap();
    }

    /// What the last inner run printed.
    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("last-run.log")).unwrap_or_default()
    }

    /// The environment key folders that hold snapshots of `area`.
    fn keys(&self, area: &str) -> Vec<String> {
        let dir = self.scenarios().join(area).join("snapshots");
        let mut keys: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        keys.sort();
        keys
    }

    fn snapshot(&self, id: &str, key: &str, runtime: &str) -> PathBuf {
        snapshot_files::snapshot_path(&self.scenarios().join(format!("{id}.yaml")), key, runtime)
    }

    /// One `cargo test`-like run of every scenario through the trial harness.
    fn run(&self, recording: Recording, artifacts: Option<Artifacts>) -> Conclusion {
        // The inner run's own report goes to a log, not to this test's
        // output, where its expected failures would read as ours.
        let args = Arguments {
            test_threads: Some(1),
            logfile: Some(self.root.join("last-run.log").display().to_string()),
            ..Arguments::default()
        };
        let harness = Harness::new(&self.root, &args)
            .unwrap()
            .with_recording(recording, artifacts);
        let scenarios = self.scenarios();
        let trials = harness.trials(&scenarios, &scenarios, |_| Check::Library);
        let conclusion = libtest_mimic::run(&args, trials);
        harness.settle();
        conclusion
    }

    /// The same run in a child process whose default image is built from
    /// the static busybox at `busybox`; returns (passed, failed).
    fn run_elsewhere(&self, busybox: &Path) -> (u64, u64) {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "inner_run", "--ignored", "--nocapture"])
            .env(INNER, &self.root)
            .env("PARITY_BUSYBOX", busybox)
            .output()
            .unwrap();
        let text = std::fs::read_to_string(self.root.join("inner-result")).unwrap_or_else(|_| {
            panic!(
                "the child run left no result: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let (p, f) = text.trim().split_once(' ').unwrap();
        (p.parse().unwrap(), f.parse().unwrap())
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Whether these tests can run here: they need the engines, and their own
/// runtime pairing (from the temporary parity.toml) must not be overridden.
fn runnable() -> bool {
    if std::env::var_os("PARITY_CANDIDATES").is_some()
        || std::env::var_os("PARITY_BASELINE").is_some()
    {
        eprintln!("ignored: PARITY_BASELINE/PARITY_CANDIDATES would override the test's runtimes");
        return false;
    }
    if let Err(why) = engines_reachable() {
        eprintln!("ignored: no engine reachable ({why})");
        return false;
    }
    true
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn fresh_scenario_records_then_fails_when_behaviour_changes() {
    if !runnable() {
        return;
    }
    let p = Project::new("drift");
    p.write("fresh/echo", "echo one");

    let first = p.run(Recording::Record, None);
    assert_eq!(
        (first.num_passed, first.num_failed),
        (1, 0),
        "first run records and passes: {}",
        p.log()
    );
    let keys = p.keys("fresh");
    assert_eq!(keys.len(), 1, "one environment: {keys:?}");
    let key = &keys[0];
    assert!(key.contains("busybox"), "{key}");
    for runtime in ["runc", "userns-remap"] {
        let text = read(&p.snapshot("fresh/echo", key, runtime));
        assert!(text.contains("stdout: |\n  one\n"), "{text}");
        assert!(!text.contains("duration"), "{text}");
    }
    let recorded = read(&p.snapshot("fresh/echo", key, "runc"));

    let second = p.run(Recording::Record, None);
    assert_eq!(
        (second.num_passed, second.num_failed),
        (1, 0),
        "same behaviour matches: {}",
        p.log()
    );
    assert_eq!(
        read(&p.snapshot("fresh/echo", key, "runc")),
        recorded,
        "running twice gives identical snapshots"
    );

    p.write("fresh/echo", "echo two");
    let third = p.run(Recording::Record, None);
    assert_eq!(
        (third.num_passed, third.num_failed),
        (0, 1),
        "changed behaviour under the same environment fails: {}",
        p.log()
    );
    assert_eq!(
        read(&p.snapshot("fresh/echo", key, "runc")),
        recorded,
        "a changed snapshot is not overwritten"
    );
    if !parity_ci() {
        let pending = p
            .snapshot("fresh/echo", key, "runc")
            .with_extension("snap.new");
        assert!(
            pending.is_file(),
            "insta leaves {} for review",
            pending.display()
        );
    }
}

#[test]
fn missing_snapshot_in_ci_passes_goes_to_the_artifact_and_is_accepted() {
    if !runnable() {
        return;
    }
    let p = Project::new("ci");
    p.write("fresh/quiet", "echo quiet");
    let out = p.root.join("artifact");
    let artifacts = Artifacts {
        dir: out.clone(),
        root: p.root.clone(),
    };
    let off = || Recording::Off("CI is set, so nothing is written".into());
    let run = p.run(off(), Some(artifacts.clone()));
    assert_eq!((run.num_passed, run.num_failed), (1, 0), "{}", p.log());
    assert!(
        !p.scenarios().join("fresh/snapshots").exists(),
        "nothing written into the checkout"
    );
    let done = snapshot_files::accept(&out, &p.root).unwrap();
    assert_eq!(done.added.len(), 2, "runc and userns-remap: {done:?}");
    let key = &p.keys("fresh")[0];
    assert!(p.snapshot("fresh/quiet", key, "runc").is_file());

    // Now the key has snapshots: the next CI run compares against them.
    let again = p.run(off(), Some(artifacts.clone()));
    assert_eq!((again.num_passed, again.num_failed), (1, 0), "{}", p.log());
    p.write("fresh/quiet", "echo loud");
    let drift = p.run(off(), Some(artifacts));
    assert_eq!((drift.num_passed, drift.num_failed), (0, 1), "{}", p.log());
    let pending = out
        .join("scenarios/fresh/snapshots")
        .join(key)
        .join("quiet@runc.snap.new");
    assert!(pending.is_file(), "the changed snapshot is in the artifact");
}

#[test]
fn a_second_environment_records_its_own_snapshots() {
    if !runnable() {
        return;
    }
    let p = Project::new("env");
    // The banner of the image's busybox: an observation the environment
    // shapes and the runtime does not.
    p.write("fresh/banner", "busybox | head -n 1");
    let first = p.run(Recording::Record, None);
    assert_eq!((first.num_passed, first.num_failed), (1, 0), "{}", p.log());
    let keys = p.keys("fresh");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let here = p.snapshot("fresh/banner", &keys[0], "runc");
    let recorded = read(&here);

    let other = match std::env::var_os("PARITY_SECOND_BUSYBOX") {
        Some(path) => PathBuf::from(path),
        None => another_busybox_build(&p.root),
    };
    let (passed, failed) = p.run_elsewhere(&other);
    assert_eq!(
        (passed, failed),
        (1, 0),
        "another environment records instead of failing: {}",
        p.log()
    );
    let keys_after = p.keys("fresh");
    assert_eq!(keys_after.len(), 2, "its own key folder: {keys_after:?}");
    let theirs = keys_after.iter().find(|k| **k != keys[0]).unwrap();
    let there = read(&p.snapshot("fresh/banner", theirs, "runc"));
    assert_ne!(there, recorded, "the observation differs between them");
    assert_eq!(
        read(&here),
        recorded,
        "the first environment's are untouched"
    );

    let back = p.run(Recording::Record, None);
    assert_eq!(
        (back.num_passed, back.num_failed),
        (1, 0),
        "the first environment's snapshots still compare: {}",
        p.log()
    );
    assert_eq!(p.keys("fresh"), keys_after, "no further key");
}

/// The child process of [`a_second_environment_records_its_own_snapshots`].
#[test]
#[ignore = "run by a_second_environment_records_its_own_snapshots in a child process"]
fn inner_run() {
    let root = PathBuf::from(std::env::var_os(INNER).expect("run by its parent test"));
    let p = Project::open(root);
    let c = p.run(Recording::Record, None);
    std::fs::write(
        p.root.join("inner-result"),
        format!("{} {}", c.num_passed, c.num_failed),
    )
    .unwrap();
}

/// The host's static busybox with another version in its banner: another
/// build, as far as the default image and the environment key can tell.
fn another_busybox_build(dir: &Path) -> PathBuf {
    let host = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .expect("a static busybox (the engines' default image needs one)");
    let mut bytes = std::fs::read(host).unwrap();
    // The version where the environment key reads it: the banner's.
    let version = busybox_banner_version(&bytes).expect("busybox has a banner");
    let end = version.end;
    bytes[end - 1] = if bytes[end - 1] == b'9' { b'8' } else { b'9' };
    let path = dir.join("busybox-other");
    std::fs::write(&path, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// insta writes no `.snap.new` when it thinks it runs in CI.
fn parity_ci() -> bool {
    !matches!(
        std::env::var("CI").as_deref(),
        Err(_) | Ok("") | Ok("0") | Ok("false")
    ) || std::env::var_os("TF_BUILD").is_some()
        || std::env::var("INSTA_UPDATE").as_deref() == Ok("no")
}
