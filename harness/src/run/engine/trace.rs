//! A trace of the Engine API calls parity makes, with their durations:
//! where the time of a run goes. Off unless `PARITY_TRACE_API` is set: to
//! `1` (or `stderr`) for standard error, or to a file path (appended).
//! Each line: seconds since the process started, the endpoint, the call,
//! the container (when known) and how long the call took in milliseconds.

use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Sink {
    start: Instant,
    out: Mutex<Box<dyn Write + Send>>,
}

fn sink() -> Option<&'static Sink> {
    static SINK: OnceLock<Option<Sink>> = OnceLock::new();
    SINK.get_or_init(|| {
        let target = std::env::var("PARITY_TRACE_API").ok()?;
        let out: Box<dyn Write + Send> = match target.as_str() {
            "" | "0" => return None,
            "1" | "stderr" => Box::new(std::io::stderr()),
            path => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .ok()?,
            ),
        };
        Some(Sink {
            start: Instant::now(),
            out: Mutex::new(out),
        })
    })
    .as_ref()
}

/// Whether calls are traced.
pub fn enabled() -> bool {
    sink().is_some()
}

/// Records one call that started at `started` and took `took`.
pub fn record(endpoint: &str, what: &str, started: Instant, took: Duration) {
    let Some(s) = sink() else { return };
    let at = started.saturating_duration_since(s.start).as_secs_f64();
    if let Ok(mut out) = s.out.lock() {
        let _ = writeln!(
            out,
            "api {at:10.3} {endpoint} {what} {:.1}ms",
            took.as_secs_f64() * 1000.0
        );
    }
}
