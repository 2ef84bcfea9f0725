//! The daemon's one clock: wall-clock milliseconds (what the matcher's
//! deadlines are in) and a way to sleep until one of them.
//!
//! Behind a trait so that tests drive the real daemon loop on a
//! [`ManualClock`]: time moves only when the test says, and
//! [`ManualClock::settle`] tells when the loop has dealt with everything
//! that was due, so a test can check "not yet at 29.999 s, closed at 30 s"
//! without sleeping and without timing races.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// A boxed future, so the trait stays object-safe.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Wall-clock time in milliseconds and sleeping until such a time.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;

    /// Completes once `now_ms() >= deadline_ms` (or earlier: the loop
    /// re-checks, so waking early is harmless).
    fn sleep_until(&self, deadline_ms: u64) -> Sleep<'_>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// Longest single sleep. The matcher wakes at least once a second anyway;
/// this also bounds what a wall-clock step backwards can delay a revoke by,
/// since the sleep itself runs on the monotonic clock.
const MAX_SLEEP: Duration = Duration::from_secs(1);

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn sleep_until(&self, deadline_ms: u64) -> Sleep<'_> {
        let wait = Duration::from_millis(deadline_ms.saturating_sub(self.now_ms()));
        Box::pin(tokio::time::sleep(wait.min(MAX_SLEEP)))
    }
}

/// Wall-clock time that never runs backwards: the highest time read so
/// far. The daemon runs on this.
///
/// Attack (issue #14, item 11): replay marks are forgotten once the wall
/// clock passes their expiry. If the clock is then stepped back (a wrong
/// NTP server, an attacker who can feed the host time, an admin's `date
/// -s`), a recorded knock whose mark is gone falls inside the allowed skew
/// again and would be accepted twice. On this clock the matcher's time
/// stands still until the wall clock has caught up, so such a knock looks
/// as old as it is (and is refused for skew), and a mark is never dropped
/// earlier in real time than it would have been without the step. The cost
/// of a large backward correction is that knocks are refused until the wall
/// clock passes the old time again; that is logged. A clock stepped back
/// across a restart is caught at start-up (`core::check_clock`).
pub struct NeverBack {
    inner: std::sync::Arc<dyn Clock>,
    high: std::sync::atomic::AtomicU64,
    /// Whether the current step back was logged already.
    behind: std::sync::atomic::AtomicBool,
}

impl NeverBack {
    pub fn new(inner: std::sync::Arc<dyn Clock>) -> Self {
        let now = inner.now_ms();
        NeverBack {
            inner,
            high: std::sync::atomic::AtomicU64::new(now),
            behind: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Clock for NeverBack {
    fn now_ms(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let wall = self.inner.now_ms();
        let high = self.high.fetch_max(wall, Relaxed).max(wall);
        // A second of slack: reads on two threads may interleave.
        let stepped_back = high.saturating_sub(wall) > 1000;
        if stepped_back != self.behind.swap(stepped_back, Relaxed) {
            if stepped_back {
                tracing::error!(
                    "the system clock went back by {} s: posternd's time stands still until it catches up (knocks are refused as skewed meanwhile, so none can be replayed)",
                    (high - wall) / 1000
                );
            } else {
                tracing::warn!("the system clock caught up again");
            }
        }
        high
    }

    fn sleep_until(&self, deadline_ms: u64) -> Sleep<'_> {
        // The inner clock may be behind; then the wait ends when it has
        // caught up (the system clock sleeps at most a second at a time).
        let lag = self.high.load(std::sync::atomic::Ordering::Relaxed);
        let behind = lag.saturating_sub(self.inner.now_ms());
        self.inner.sleep_until(deadline_ms.saturating_sub(behind))
    }
}

/// A clock that only the test moves. One daemon loop may sleep on it.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<u64>,
    /// The deadline the loop is sleeping for right now, if it is.
    parked: Mutex<Option<u64>>,
    parked_changed: Condvar,
}

impl ManualClock {
    pub fn new(start_ms: u64) -> Self {
        ManualClock {
            now: watch::Sender::new(start_ms),
            parked: Mutex::new(None),
            parked_changed: Condvar::new(),
        }
    }

    /// Moves the time to `now_ms` (also backwards: a stepped wall clock).
    pub fn set(&self, now_ms: u64) {
        self.now.send_replace(now_ms);
    }

    pub fn advance(&self, by_ms: u64) {
        self.now.send_modify(|t| *t = t.saturating_add(by_ms));
    }

    /// Waits until the daemon loop sleeps again for a deadline after the
    /// current time, i.e. it has handled everything due up to now. False if
    /// that does not happen within 30 s (a hung loop: a test failure, not
    /// a timing assertion).
    pub fn settle(&self) -> bool {
        let now = self.now_ms();
        let parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        let (_guard, timeout) = self
            .parked_changed
            .wait_timeout_while(parked, Duration::from_secs(30), |p| {
                !p.is_some_and(|d| d > now)
            })
            .unwrap_or_else(PoisonError::into_inner);
        !timeout.timed_out()
    }

    fn park(&self, deadline: Option<u64>) {
        *self.parked.lock().unwrap_or_else(PoisonError::into_inner) = deadline;
        self.parked_changed.notify_all();
    }
}

/// Marks the loop as sleeping for as long as the sleep future lives.
struct Parked<'a>(&'a ManualClock);

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.park(None);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline_ms: u64) -> Sleep<'_> {
        Box::pin(async move {
            let mut now = self.now.subscribe();
            self.park(Some(deadline_ms));
            let _parked = Parked(self);
            // The sender lives in `self`, so this only ends when the time
            // is reached.
            let _ = now.wait_for(|&t| t >= deadline_ms).await;
        })
    }
}

#[cfg(test)]
mod never_back_tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn never_back_holds_the_highest_time() {
        let manual = Arc::new(ManualClock::new(10_000));
        let clock = NeverBack::new(Arc::clone(&manual) as Arc<dyn Clock>);
        assert_eq!(clock.now_ms(), 10_000);
        manual.set(4_000);
        assert_eq!(clock.now_ms(), 10_000, "a step back does not move it");
        manual.set(10_500);
        assert_eq!(clock.now_ms(), 10_500);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_sleep_ends_when_the_time_is_set_past_the_deadline() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let clock = std::sync::Arc::new(ManualClock::new(1_000));
        let c = std::sync::Arc::clone(&clock);
        let mover = std::thread::spawn(move || {
            assert!(c.settle(), "the sleeper parks");
            c.set(1_499);
            assert!(c.settle(), "still parked: 1499 < 1500");
            c.advance(1);
        });
        rt.block_on(clock.sleep_until(1_500));
        assert_eq!(clock.now_ms(), 1_500);
        mover.join().expect("mover");
    }

    #[test]
    fn system_sleep_is_bounded_by_a_second() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        let clock = SystemClock;
        let started = tokio::time::Instant::now;
        rt.block_on(async {
            let t0 = started();
            // A deadline an hour away (a wall clock stepped back).
            clock.sleep_until(clock.now_ms() + 3_600_000).await;
            assert_eq!(started() - t0, MAX_SLEEP);
        });
    }
}
