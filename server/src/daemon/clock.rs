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
