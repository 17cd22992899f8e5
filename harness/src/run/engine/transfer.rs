//! Long image transfers (a pull, `docker save`, `docker save | docker
//! load` between engines) bounded by progress rather than by a clock.
//!
//! Owns the rule: a transfer may take as long as it keeps moving; it is
//! stalled, and fails, when neither a byte nor an engine message has come
//! for [`TRANSFER_STALL`]. A slow, steady copy of a large image on a slow
//! host is fine. Owns the byte count the caller's progress line shows
//! ([`Moved`], sampled every [`TICK`]). The Engine API client's own
//! request timeout (which would cut a quiet `docker load` that answers only
//! at its end) is lifted for these calls: [`long_client`]. It does not
//! draw anything: the caller hears of the bytes and shows them.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::Docker;
use tokio::time::Instant;

/// How long a transfer may go without a byte or a message from the engine.
/// Generous: the engine of Docker 25 and earlier writes a whole image to a
/// folder before `docker save` sends its first byte.
pub const TRANSFER_STALL: Duration = Duration::from_secs(300);
/// How often the byte count is passed on.
pub const TICK: Duration = Duration::from_secs(1);
/// The client timeout of a transfer's calls: far beyond any stall limit,
/// so only [`watch`] ends a transfer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// A client for transfer calls: `docker` without its per-request timeout.
pub fn long_client(docker: &Docker) -> Docker {
    docker.clone().with_timeout(CLIENT_TIMEOUT)
}

/// What a transfer has moved so far, shared between the stream that moves
/// it and the watch that bounds it.
#[derive(Debug, Clone)]
pub struct Moved {
    bytes: Arc<AtomicU64>,
    /// Milliseconds since `start` of the last byte or message.
    last: Arc<AtomicU64>,
    start: Instant,
}

impl Default for Moved {
    fn default() -> Moved {
        Moved {
            bytes: Arc::default(),
            last: Arc::default(),
            start: Instant::now(),
        }
    }
}

impl Moved {
    /// `n` more bytes arrived.
    pub fn bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.touch();
    }

    /// The engine said something (a progress message): it is working.
    pub fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// How long since the last byte or message (or since the start).
    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// Why a watched transfer did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stalled {
    /// Bytes moved before it stalled.
    pub bytes: u64,
    pub quiet: Duration,
}

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nothing moved for {}s (after {})",
            self.quiet.as_secs(),
            size_text(self.bytes)
        )
    }
}

/// Runs `transfer` while it keeps moving: `Stalled` once `moved` has been
/// quiet for `stall`. `on_tick` hears the byte count every [`TICK`].
pub async fn watch<T>(
    transfer: impl Future<Output = T>,
    moved: &Moved,
    stall: Duration,
    on_tick: &(dyn Fn(u64) + Sync),
) -> Result<T, Stalled> {
    tokio::pin!(transfer);
    let mut tick = tokio::time::interval(TICK.min(stall));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            done = &mut transfer => return Ok(done),
            _ = tick.tick() => {
                let quiet = moved.quiet_for();
                if quiet >= stall {
                    return Err(Stalled { bytes: moved.total(), quiet });
                }
                on_tick(moved.total());
            }
        }
    }
}

/// `12.3 MB`, `950 kB`, `17 B`: decimal units, as Docker prints sizes.
pub fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[rstest::rstest]
    #[case(17, "17 B")]
    #[case(950_000, "950 kB")]
    #[case(12_345_678, "12 MB")]
    #[case(4_660_000, "4.7 MB")]
    #[case(1_200_000_000, "1.2 GB")]
    fn sizes_read_as_docker_prints_them(#[case] bytes: u64, #[case] want: &str) {
        assert_eq!(size_text(bytes), want);
    }

    // Real time, scaled down: a tick is the stall limit when that is
    // shorter than a second.

    #[tokio::test]
    async fn a_slow_steady_transfer_runs_past_the_stall_limit() {
        let moved = Moved::default();
        let ticks = Mutex::new(Vec::new());
        let feeder = moved.clone();
        // A byte every 50 ms for 1 s: five times the 200 ms limit overall.
        let transfer = async move {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(50)).await;
                feeder.bytes(1);
            }
            "done"
        };
        let got = watch(transfer, &moved, Duration::from_millis(200), &|b| {
            ticks.lock().unwrap().push(b)
        })
        .await;
        assert_eq!(got, Ok("done"));
        let ticks = ticks.into_inner().unwrap();
        assert!(ticks.len() >= 3, "{ticks:?}");
        assert!(ticks.windows(2).all(|w| w[0] <= w[1]), "{ticks:?}");
    }

    #[tokio::test]
    async fn a_transfer_that_stops_moving_is_stalled() {
        let moved = Moved::default();
        let feeder = moved.clone();
        let transfer = async move {
            feeder.bytes(3000);
            tokio::time::sleep(Duration::from_millis(100)).await;
            feeder.touch();
            // then nothing, for good
            std::future::pending::<()>().await
        };
        let started = Instant::now();
        let e = watch(transfer, &moved, Duration::from_millis(300), &|_| {})
            .await
            .unwrap_err();
        assert_eq!(e.bytes, 3000);
        assert!(e.quiet >= Duration::from_millis(300), "{e:?}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(5),
            "{took:?}"
        );
        assert!(e.to_string().ends_with("s (after 3.0 kB)"), "{e}");
    }
}
