//! Snapshots end to end, on the real engines: a fresh scenario records one
//! snapshot per runtime on its first run and passes; the same behaviour
//! matches on the second run; a changed behaviour (an edited command)
//! fails and leaves `.snap.new` files for `cargo insta review`. Runs the
//! same trial function `cargo test` uses, against a temporary project.
//! Ignored with the reason when the engines are not reachable.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Conclusion};
use parity::config::workspace_root;
use parity::judge::snapshot::Recording;
use parity::trial::{Check, Harness};

const RUNC: &str = "/var/run/docker.sock";
const REMAPPED: &str = "/run/parity/userns-remap.sock";

fn engines_reachable() -> Result<(), String> {
    for sock in [RUNC, REMAPPED] {
        std::os::unix::net::UnixStream::connect(sock).map_err(|e| format!("{sock}: {e}"))?;
    }
    Ok(())
}

struct Project {
    root: PathBuf,
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
        Project { root }
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

    fn snapshot(&self, id: &str, runtime: &str) -> PathBuf {
        let (area, name) = id.split_once('/').unwrap();
        self.scenarios()
            .join(area)
            .join("snapshots")
            .join(format!("{name}@{runtime}.snap"))
    }

    /// One `cargo test`-like run of every scenario through the trial harness.
    fn run(&self, recording: Recording) -> Conclusion {
        let harness = Harness::new(&self.root).unwrap().with_recording(recording);
        let scenarios = self.scenarios();
        let trials = harness.trials(&scenarios, &scenarios, |_| Check::Library);
        // The inner run's own report goes to a log, not to this test's
        // output, where its expected failures would read as ours.
        let args = Arguments {
            test_threads: Some(1),
            logfile: Some(self.root.join("last-run.log").display().to_string()),
            ..Arguments::default()
        };
        libtest_mimic::run(&args, trials)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
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

fn exists(p: &Path) -> bool {
    p.is_file()
}

#[test]
fn fresh_scenario_records_then_fails_when_behaviour_changes() {
    // The pairing of runtimes comes from the temporary parity.toml.
    if !runnable() {
        return;
    }
    let p = Project::new("drift");
    p.write("fresh/echo", "echo one");

    let first = p.run(Recording::Record);
    assert_eq!(
        (first.num_passed, first.num_failed),
        (1, 0),
        "first run records and passes: {}",
        p.log()
    );
    for runtime in ["runc", "userns-remap"] {
        let snap = p.snapshot("fresh/echo", runtime);
        let text = std::fs::read_to_string(&snap).unwrap();
        assert!(text.contains("stdout: |\n  one\n"), "{text}");
        assert!(!text.contains("duration"), "{text}");
    }
    let recorded = std::fs::read_to_string(p.snapshot("fresh/echo", "runc")).unwrap();

    let second = p.run(Recording::Record);
    assert_eq!(
        (second.num_passed, second.num_failed),
        (1, 0),
        "same behaviour matches: {}",
        p.log()
    );
    assert_eq!(
        std::fs::read_to_string(p.snapshot("fresh/echo", "runc")).unwrap(),
        recorded,
        "running twice gives identical snapshots"
    );

    p.write("fresh/echo", "echo two");
    let third = p.run(Recording::Record);
    assert_eq!(
        (third.num_passed, third.num_failed),
        (0, 1),
        "changed behaviour fails: {}",
        p.log()
    );
    assert_eq!(
        std::fs::read_to_string(p.snapshot("fresh/echo", "runc")).unwrap(),
        recorded,
        "a changed snapshot is not overwritten"
    );
    if !parity_ci() {
        let pending = p.snapshot("fresh/echo", "runc").with_extension("snap.new");
        assert!(
            exists(&pending),
            "insta leaves {} for review",
            pending.display()
        );
    }
}

#[test]
fn missing_snapshot_with_recording_off_passes_and_writes_nothing() {
    if !runnable() {
        return;
    }
    let p = Project::new("ci");
    p.write("fresh/quiet", "true");
    let run = p.run(Recording::Off("CI is set, so nothing is written".into()));
    assert_eq!((run.num_passed, run.num_failed), (1, 0), "{}", p.log());
    assert!(!exists(&p.snapshot("fresh/quiet", "runc")));
    assert!(!p.scenarios().join("fresh/snapshots").exists());
}

/// insta writes no `.snap.new` when it thinks it runs in CI.
fn parity_ci() -> bool {
    !matches!(
        std::env::var("CI").as_deref(),
        Err(_) | Ok("") | Ok("0") | Ok("false")
    ) || std::env::var_os("TF_BUILD").is_some()
        || std::env::var("INSTA_UPDATE").as_deref() == Ok("no")
}
