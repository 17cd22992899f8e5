//! Which runner runs the trials and what a trial that cannot run gives
//! there, and the quick availability look taken when trials are built.
//!
//! nextest lists a test binary (`--list`, then `--list --ignored`) and runs
//! each trial in a process of its own (`--exact NAME`, with `--ignored`
//! for one it listed as ignored). A trial ignored at run time exits 0
//! there, which nextest counts as a pass; so under nextest (`NEXTEST=1`),
//! or with `PARITY_STRICT_SKIP=1`, or when `--ignored` /
//! `--include-ignored` asked for trials that cannot run, such a trial
//! fails with its reason. The availability look connects to each engine
//! and reads `info` under a short deadline, and is cached for a few
//! seconds next to the test binary, so nextest's two listings agree.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Arguments, Completion, Failed};

use super::Harness;
use crate::suite::Availability;

/// How long the availability look may take per engine.
const DEADLINE: Duration = Duration::from_secs(5);
/// How long a cached availability look is trusted.
const CACHE_TTL: Duration = Duration::from_secs(30);

/// How the trials of this process are run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mode {
    /// `--list`: only names and ignored flags are asked for.
    pub listing: bool,
    /// `--ignored` or `--include-ignored`: ignored trials were asked to run.
    pub forced: bool,
    /// `--ignored`: only trials with the ignored flag are selected.
    pub ignored_only: bool,
    /// One process per trial (nextest): flags are set so that the trial
    /// nextest names is always selected, and availability is judged by
    /// the trial itself.
    pub per_process: bool,
    /// A trial that cannot run fails instead of being ignored.
    pub strict: bool,
}

impl Mode {
    /// From the trial arguments and the environment.
    pub fn new(args: &Arguments, env: impl Fn(&str) -> Option<String>) -> Mode {
        let per_process = env("NEXTEST").as_deref() == Some("1") || env("NEXTEST_RUN_ID").is_some();
        let switch = matches!(
            env("PARITY_STRICT_SKIP").as_deref(),
            Some("1") | Some("true") | Some("yes")
        );
        Mode {
            listing: args.list,
            forced: args.ignored || args.include_ignored,
            ignored_only: args.ignored,
            per_process,
            strict: per_process || switch,
        }
    }

    /// Whether a trial gets libtest's ignored flag.
    pub fn ignored_flag(&self, available: bool) -> bool {
        if self.per_process && !self.listing {
            // nextest already chose this trial from its listing; select it
            // whether it passed `--ignored` or not.
            self.ignored_only
        } else {
            !available
        }
    }

    /// Whether the availability look is needed for the flags.
    fn needs_availability(&self) -> bool {
        !self.per_process || self.listing
    }

    /// What a trial that cannot run (`reason`) gives: ignored under
    /// libtest's own runner, a failure where ignored would read as a pass
    /// or where it was asked to run.
    pub fn cannot_run(&self, reason: String) -> Result<Completion, Failed> {
        if self.strict {
            Err(format!(
                "cannot run here: {reason}\n(a trial that cannot run fails under nextest or PARITY_STRICT_SKIP=1 \
                 instead of passing; `cargo test` shows it as ignored)"
            )
            .into())
        } else if self.forced {
            Err(format!(
                "cannot run here: {reason}\n(it was asked to run by --ignored or --include-ignored)"
            )
            .into())
        } else {
            Ok(Completion::ignored_with(reason))
        }
    }
}

impl Harness {
    /// The runtimes among the baseline and `candidates` whose trials
    /// cannot run here, with why (all of them when the baseline cannot).
    /// Empty when the flags do not depend on it (nextest's trial runs).
    pub(super) fn unavailable(&self, candidates: &[String]) -> BTreeMap<String, String> {
        if !self.mode.needs_availability() {
            return BTreeMap::new();
        }
        let baseline = self.options.baseline.clone();
        let mut names = vec![baseline.clone()];
        names.extend(candidates.iter().cloned());
        let cache = cache_file();
        let cache_key = format!("{}|{}", self.project.root.display(), names.join(","));
        let found = read_cache(cache.as_ref(), &cache_key).unwrap_or_else(|| {
            let profiles = match self.project.profiles() {
                Ok(p) => p,
                Err(e) => {
                    return names
                        .iter()
                        .map(|n| (n.clone(), Some(e.to_string())))
                        .collect();
                }
            };
            let checked = self.block_on(crate::suite::availability::check(
                &profiles, &names, DEADLINE,
            ));
            let found: BTreeMap<String, Option<String>> = checked
                .into_iter()
                .map(|(n, a)| match a {
                    Availability::Ready => (n, None),
                    Availability::Unavailable(why) => (n, Some(why)),
                })
                .collect();
            write_cache(cache.as_ref(), &cache_key, &found);
            found
        });
        let mut out = BTreeMap::new();
        if let Some(Some(why)) = found.get(&baseline) {
            for c in candidates {
                out.insert(c.clone(), format!("no engine for the baseline: {why}"));
            }
        } else {
            for c in candidates {
                if let Some(Some(why)) = found.get(c) {
                    out.insert(c.clone(), format!("{c} unavailable: {why}"));
                }
            }
        }
        if !self.mode.listing {
            for (c, why) in &out {
                eprintln!("note: the trials of {c} are ignored: {why}");
            }
        }
        out
    }
}

/// Beside the test binary (`target/debug/parity-availability.json`).
fn cache_file() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.join("parity-availability.json"))
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Cached {
    key: String,
    written: u64,
    availability: BTreeMap<String, Option<String>>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read_cache(path: Option<&PathBuf>, key: &str) -> Option<BTreeMap<String, Option<String>>> {
    let text = std::fs::read_to_string(path?).ok()?;
    let cached: Cached = serde_json::from_str(&text).ok()?;
    (cached.key == key && now().saturating_sub(cached.written) <= CACHE_TTL.as_secs())
        .then_some(cached.availability)
}

fn write_cache(path: Option<&PathBuf>, key: &str, found: &BTreeMap<String, Option<String>>) {
    let Some(path) = path else { return };
    let cached = Cached {
        key: key.to_string(),
        written: now(),
        availability: found.clone(),
    };
    if let Ok(text) = serde_json::to_string(&cached) {
        let _ = crate::judge::snapshot_files::write_atomically(path, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn mode(args: &[&str], env: &[(&str, &str)]) -> Mode {
        let mut argv = vec!["scenarios"];
        argv.extend_from_slice(args);
        let args = Arguments::from_iter(argv);
        Mode::new(&args, |k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[rstest]
    #[case::cargo_test(&[], &[], true, false)]
    #[case::cargo_test_list(&["--list"], &[], true, false)]
    #[case::nextest_list(&["--list", "--format", "terse"], &[("NEXTEST", "1")], true, false)]
    #[case::nextest_list_ignored(&["--list", "--ignored"], &[("NEXTEST", "1")], true, false)]
    #[case::nextest_run(&["--exact", "x"], &[("NEXTEST", "1")], false, false)]
    #[case::nextest_run_ignored(&["--exact", "x", "--ignored"], &[("NEXTEST", "1")], true, true)]
    fn flags_follow_the_runner(
        #[case] args: &[&str],
        #[case] env: &[(&str, &str)],
        #[case] unavailable_flag: bool,
        #[case] available_flag: bool,
    ) {
        let m = mode(args, env);
        assert_eq!(m.ignored_flag(false), unavailable_flag, "{m:?}");
        assert_eq!(m.ignored_flag(true), available_flag, "{m:?}");
    }

    #[rstest]
    #[case::cargo_test(&[], &[], false)]
    #[case::include_ignored(&["--include-ignored"], &[], true)]
    #[case::ignored(&["--ignored"], &[], true)]
    #[case::nextest(&["--exact", "x"], &[("NEXTEST", "1")], true)]
    #[case::nextest_run_id(&["--exact", "x"], &[("NEXTEST_RUN_ID", "abc")], true)]
    #[case::switch(&[], &[("PARITY_STRICT_SKIP", "1")], true)]
    fn a_trial_that_cannot_run_never_passes(
        #[case] args: &[&str],
        #[case] env: &[(&str, &str)],
        #[case] fails: bool,
    ) {
        let got = mode(args, env).cannot_run("sysbox-runc unavailable".into());
        match got {
            Err(e) => {
                assert!(fails, "failed where ignored was expected");
                assert!(
                    e.message().unwrap().contains("sysbox-runc unavailable"),
                    "{e:?}"
                );
            }
            Ok(Completion::Ignored { reason }) => {
                assert!(!fails, "ignored where a failure was expected");
                assert_eq!(reason.as_deref(), Some("sysbox-runc unavailable"));
            }
            Ok(Completion::Completed) => panic!("a trial that cannot run passed"),
        }
    }
}
