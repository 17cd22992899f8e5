//! `cargo test` runs the scenario library: one trial per scenario and
//! candidate runtime (`[runc-vs-userns-remap] mounts/tmpfs`), plus the
//! meta-scenarios under `harness/tests/meta/VERDICT/`, whose verdict must be
//! exactly the folder's name. Trials run real containers on the engines
//! `runtimes/setup-host.sh` starts; the trials of a runtime that is not
//! available here (no engine, runtime not registered) are listed as ignored,
//! so `cargo test` shows them ignored and `cargo nextest run` skipped; none
//! of them ever passes (see `parity::trial`).

use libtest_mimic::Arguments;
use parity::config::workspace_root;
use parity::judge::compare::Verdict;
use parity::trial::{Check, Harness};

fn main() {
    let args = Arguments::from_args();
    let root = workspace_root();
    let harness = match Harness::new(&root, &args) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("parity test harness: {e}");
            std::process::exit(2);
        }
    };
    let library = root.join(&harness.project().config.scenarios);
    let mut trials = harness.trials(&library, &library, |_| Check::Library);
    let meta = root.join("harness/tests/meta");
    // Meta-scenarios declare their outcomes for the userns-remap stand-in,
    // which setup-host.sh starts on every host.
    let stand_in = ["userns-remap".to_string()];
    trials.extend(harness.trials_for(&meta, &meta, &stand_in, |path| {
        let dir = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        let verdict = Verdict::ALL
            .into_iter()
            .find(|v| Some(v.name()) == dir.as_deref());
        Check::Verdict(verdict.unwrap_or_else(|| {
            panic!(
                "{}: meta-scenarios live in a folder named after their verdict",
                path.display()
            )
        }))
    }));
    let conclusion = libtest_mimic::run(&args, trials);
    harness.settle();
    // Reports, when PARITY_REPORT_DIR or parity.toml's report_dir asks for them.
    let config = &harness.project().config;
    match parity::report::write_test_reports(
        &root,
        config.report_dir.as_deref(),
        &harness.results_document(),
    ) {
        Ok(Some(dir)) => eprintln!("parity reports written to {}", dir.display()),
        Ok(None) => {}
        Err(e) => eprintln!("parity: writing reports: {e}"),
    }
    conclusion.exit();
}
