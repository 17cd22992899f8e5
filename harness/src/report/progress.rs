//! The progress line of a `parity run` on a terminal: checks done of the
//! total (one per scenario and candidate), containers running now,
//! failures so far, the time elapsed and each image copy under way with
//! the bytes it has moved, drawn on stderr with indicatif
//! and redrawn below the verdict lines (they are printed inside
//! [`Progress::suspend`], so the line never splits one). It draws nothing
//! when stderr is not a terminal or with `--format json`. Owns the counts
//! and their text; it prints no verdict and touches no engine.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::event::{Event, Reporter};
use crate::run::engine::ImageProgress;

/// What the progress line shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Checks (scenario x candidate) the run will judge.
    pub total: usize,
    /// Checks with a verdict.
    pub done: usize,
    /// Containers running now.
    pub running: usize,
    /// Verdicts that are failures so far.
    pub failed: usize,
}

/// The progress text: `12/58 done, 4 containers running, 1 failed, 0:42`.
pub fn line(c: &Counts, elapsed: Duration) -> String {
    let containers = if c.running == 1 {
        "container"
    } else {
        "containers"
    };
    format!(
        "{}/{} done, {} {containers} running, {} failed, {}",
        c.done,
        c.total,
        c.running,
        c.failed,
        clock(elapsed)
    )
}

/// `m:ss`, or `h:mm:ss` from an hour on.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// Whether a run draws the line: on a terminal, and not for `--format json`.
pub fn wanted(json: bool, stderr_is_terminal: bool) -> bool {
    !json && stderr_is_terminal
}

/// The progress line of one run; hidden (drawing nothing) when not wanted.
pub struct Progress {
    bar: ProgressBar,
    counts: Counts,
    /// Transfers under way: what, bytes moved so far.
    transfers: Vec<(String, u64)>,
    started: Instant,
    shown: bool,
}

impl Progress {
    /// A line on stderr once the run starts, when `show`; else a hidden one.
    pub fn new(show: bool) -> Progress {
        let bar = ProgressBar::hidden();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {wide_msg}") {
            bar.set_style(style);
        }
        Progress {
            bar,
            counts: Counts::default(),
            transfers: Vec::new(),
            started: Instant::now(),
            shown: show,
        }
    }

    /// A handle that clears the line from another task (the interrupt
    /// handler, before it prints).
    pub fn handle(&self) -> ProgressBar {
        self.bar.clone()
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Runs `f` (which prints) with the line cleared, then redraws it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Sets the containers running now and redraws (with the time).
    pub fn set_running(&mut self, running: usize) {
        self.counts.running = running;
        self.redraw();
    }

    /// Removes the line for good.
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }

    /// The line as drawn now.
    pub fn text(&self) -> String {
        let mut text = line(&self.counts, self.started.elapsed());
        for (what, bytes) in &self.transfers {
            text.push_str(&format!(", {}", ImageProgress::moving_text(what, *bytes)));
        }
        text
    }

    fn redraw(&self) {
        if !self.bar.is_finished() {
            self.bar.set_message(self.text());
            self.bar.tick();
        }
    }
}

impl Reporter for Progress {
    fn on_event(&mut self, event: &Event) {
        match event {
            Event::Started {
                candidates,
                scenarios,
                ..
            } => {
                self.counts.total = scenarios * candidates.len();
                self.started = Instant::now();
                if self.shown {
                    self.bar.set_draw_target(ProgressDrawTarget::stderr());
                }
            }
            Event::Verdict(r) => {
                self.counts.done += 1;
                if r.verdict.is_failure() {
                    self.counts.failed += 1;
                }
            }
            Event::Finished { .. } | Event::SignedOff { .. } => {
                self.clear();
                return;
            }
            Event::Transfer { what, bytes, done } => {
                self.transfers.retain(|(w, _)| w != what);
                if !done {
                    self.transfers.push((what.clone(), *bytes));
                }
            }
            Event::ScenarioStarted { .. } | Event::Progress { .. } => {}
        }
        self.redraw();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::compare::Verdict;
    use crate::report::fixture;
    use rstest::rstest;

    #[rstest]
    #[case(Counts { total: 58, done: 12, running: 4, failed: 1 }, 42, "12/58 done, 4 containers running, 1 failed, 0:42")]
    #[case(Counts { total: 3, done: 0, running: 1, failed: 0 }, 0, "0/3 done, 1 container running, 0 failed, 0:00")]
    #[case(Counts { total: 300, done: 300, running: 0, failed: 7 }, 3725, "300/300 done, 0 containers running, 7 failed, 1:02:05")]
    fn the_line_says_done_running_failed_elapsed(
        #[case] counts: Counts,
        #[case] secs: u64,
        #[case] want: &str,
    ) {
        assert_eq!(line(&counts, Duration::from_secs(secs)), want);
    }

    #[rstest]
    #[case(false, true, true)]
    #[case(true, true, false)]
    #[case(false, false, false)]
    #[case(true, false, false)]
    fn only_a_terminal_without_json_gets_the_line(
        #[case] json: bool,
        #[case] terminal: bool,
        #[case] want: bool,
    ) {
        assert_eq!(wanted(json, terminal), want);
    }

    #[test]
    fn a_copy_under_way_shows_its_bytes_until_it_ends() {
        let mut p = Progress::new(false);
        let what = "copying parity-build/ab into unix:///u.sock";
        for bytes in [1_000, 466_000_000] {
            p.on_event(&Event::Transfer {
                what: what.into(),
                bytes,
                done: false,
            });
        }
        assert!(
            p.text()
                .ends_with(", copying parity-build/ab into unix:///u.sock: 466 MB"),
            "{}",
            p.text()
        );
        p.on_event(&Event::Transfer {
            what: what.into(),
            bytes: 0,
            done: true,
        });
        assert!(!p.text().contains("copying"), "{}", p.text());
    }

    #[test]
    fn events_count_checks_and_failures() {
        let mut p = Progress::new(false);
        p.on_event(&Event::Started {
            run_id: "r".into(),
            baseline: "runc".into(),
            candidates: vec!["a".into(), "b".into()],
            scenarios: 3,
            engines: Vec::new(),
        });
        for v in [Verdict::Parity, Verdict::Divergence, Verdict::Skipped] {
            p.on_event(&Event::Verdict(Box::new(fixture::result("x", "a", v))));
        }
        p.set_running(2);
        assert_eq!(
            p.counts(),
            Counts {
                total: 6,
                done: 3,
                running: 2,
                failed: 1
            }
        );
    }
}
