//! `probe snapshot` and `probe exists`: what the harness asks of a service
//! that keeps running. `snapshot` reads a process's mount table now (a
//! service's PID 1 after the last step) and completes the wrapper's
//! `before.json` with it into `report.json`, so the mount changes of a
//! service are observed without a tracer on PID 1 and without its exit.
//! `exists` answers a readiness check for a file from inside the container,
//! where tmpfs and /run are what the workload sees.

use crate::mountinfo;
use crate::out;
use crate::procfs::ProcFs;
use parity_wire::{MountsObservation, ProbeReport};
use std::path::Path;

/// `before` completed with `after` (or why it could not be read).
pub fn complete(
    before: Option<ProbeReport>,
    after: Result<Vec<parity_wire::MountEntry>, String>,
) -> ProbeReport {
    let mut report =
        before.unwrap_or_else(|| ProbeReport::new(env!("CARGO_PKG_VERSION"), Vec::new()));
    let mounts_wanted = !matches!(report.mounts, MountsObservation::NotRequested);
    let before = report.mounts.before().to_vec();
    if mounts_wanted {
        report.mounts = match after {
            Ok(after) => MountsObservation::Ok { before, after },
            Err(reason) => MountsObservation::Unavailable { reason, before },
        };
    }
    report
}

/// Runs `snapshot`: 0 when `report.json` was written.
pub fn run(pid: i32, dir: &Path, proc: &impl ProcFs) -> i32 {
    let after = proc
        .read(&format!("/proc/{pid}/mountinfo"))
        .map(|t| mountinfo::parse(&t))
        .map_err(|e| format!("reading /proc/{pid}/mountinfo: {e}"));
    let report = complete(out::read_json(dir, out::BEFORE), after);
    match out::write_json(dir, out::REPORT, &report) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("parity-probe: writing {}: {e}", out::REPORT);
            1
        }
    }
}

/// Runs `exists`: 0 when `path` exists (a dangling symlink counts), 1 when
/// it does not, 2 when it cannot be told.
pub fn exists(path: &Path) -> i32 {
    match std::fs::symlink_metadata(path) {
        Ok(_) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 1,
        Err(e) => {
            eprintln!("parity-probe: {}: {e}", path.display());
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::fake::FakeProcFs;

    const TABLE: &str = "1 0 0:1 / / rw - overlay overlay rw\n2 1 0:2 / /mnt rw - tmpfs none rw\n";

    #[test]
    fn completes_the_wrappers_report_with_the_table_now() {
        let dir = std::env::temp_dir().join(format!("parity-snapshot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut before = ProbeReport::new("0.1.0", vec!["httpd".into()]);
        before.mounts = MountsObservation::Unavailable {
            reason: "no tracer".into(),
            before: mountinfo::parse("1 0 0:1 / / rw - overlay overlay rw\n"),
        };
        out::write_json(&dir, out::BEFORE, &before).unwrap();
        let proc = FakeProcFs::default().with("/proc/7/mountinfo", TABLE);
        assert_eq!(run(7, &dir, &proc), 0);
        let r: ProbeReport = out::read_json(&dir, out::REPORT).unwrap();
        let MountsObservation::Ok { before, after } = r.mounts else {
            panic!("{:?}", r.mounts)
        };
        assert_eq!((before.len(), after.len()), (1, 2));
        assert_eq!(r.workload.argv, ["httpd"]);
        assert_eq!(
            run(8, &dir, &proc),
            0,
            "a missing table is a reason, not a failure"
        );
        let r: ProbeReport = out::read_json(&dir, out::REPORT).unwrap();
        assert!(
            matches!(r.mounts, MountsObservation::Unavailable { ref reason, .. } if reason.contains("/proc/8"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mounts_not_asked_for_stay_not_asked_for() {
        let r = complete(Some(ProbeReport::new("0.1.0", vec![])), Ok(vec![]));
        assert_eq!(r.mounts, MountsObservation::NotRequested);
    }

    #[test]
    fn exists_answers_by_exit_status() {
        assert_eq!(exists(Path::new("/")), 0);
        assert_eq!(exists(Path::new("/nonexistent/parity")), 1);
    }
}
