//! When the capture thread should stop asking the kernel to wake it.
//!
//! A thread that blocks in `recv` whenever its queue is empty is woken for
//! the next frame that passes the filter. Under a flood at a knock port that
//! is one wake-up per frame, and the kernel pays for each one in the
//! softirq that delivers the frame: waking a thread that sleeps on another
//! CPU means an inter-processor interrupt, which on a VM is an exit to the
//! hypervisor. Measured on the 2-core Debian 12 VM (`perf record -a` during
//! the bench's SYN flood from one address, 80 kpps): `sock_def_readable`'s
//! wake-up was 10 % of all samples, a fifth of the delivering core, and the
//! flood sender could not reach 100 kpps because of it.
//!
//! Network drivers solve the same problem with NAPI: while traffic is heavy,
//! stop taking interrupts and check back after a pause. [`WakePacer`] does
//! that for the capture loop. While a window of [`WINDOW`] has seen at least
//! [`BUSY_FRAMES`] frames, an empty queue means "nap for [`NAP`], then drain
//! without waiting" instead of "wait to be woken"; frames queue in the
//! socket meanwhile (its buffer holds thousands) and no one is woken for
//! them. A knock arriving during a flood is handled at most one nap later.
//! A window with fewer frames — any real knocking, which is a handful of
//! packets — returns the loop to waiting on the socket, so a quiet server
//! handles a knock the moment it arrives. Measured with it (scripts/bench.sh,
//! docs/benchmarks.md): the sender holds 105 kpps in every flood case,
//! every valid knock still opens, and `posternd` uses 0.15–0.22 cores
//! instead of 0.22–0.34.
//!
//! Pure logic: the caller passes the time in.

use std::time::{Duration, Instant};

/// Length of the window in which frames are counted.
pub const WINDOW: Duration = Duration::from_millis(10);
/// Frames in one window (5 000 per second) from which the loop naps instead
/// of waiting. Far above what a knock brings through the kernel filter: a
/// sequence is a handful of packets, and decoys avoid the knock ports. If
/// many clients knock at once, the cost is at most one nap per knock.
pub const BUSY_FRAMES: u32 = 50;
/// Pause between drains while busy: at 100 kpps about 20 frames queue up in
/// it, and it is what a valid knock may wait for under a flood.
pub const NAP: Duration = Duration::from_micros(200);

/// Counts frames per [`WINDOW`] and says when to nap.
#[derive(Debug, Clone)]
pub struct WakePacer {
    window_start: Option<Instant>,
    frames: u32,
    busy: bool,
}

impl Default for WakePacer {
    fn default() -> Self {
        Self::new()
    }
}

impl WakePacer {
    pub const fn new() -> Self {
        Self {
            window_start: None,
            frames: 0,
            busy: false,
        }
    }

    /// Whether the loop is napping between drains: it should then read
    /// without waiting, since it will not be woken.
    pub fn busy(&self) -> bool {
        self.busy
    }

    /// One frame was handled at `now`.
    pub fn frame(&mut self, now: Instant) {
        self.roll(now);
        self.frames = self.frames.saturating_add(1);
        if self.frames >= BUSY_FRAMES {
            self.busy = true;
        }
    }

    /// The queue was found empty at `now`: `Some(pause)` to nap before the
    /// next non-waiting read, `None` to wait on the socket.
    pub fn empty(&mut self, now: Instant) -> Option<Duration> {
        self.roll(now);
        self.busy.then_some(NAP)
    }

    /// Closes the window if `now` is past it: the loop stays busy only if
    /// the window that just ended was busy and followed right on.
    fn roll(&mut self, now: Instant) {
        let Some(start) = self.window_start else {
            self.window_start = Some(now);
            return;
        };
        let elapsed = now.saturating_duration_since(start);
        if elapsed < WINDOW {
            return;
        }
        let adjacent = elapsed < WINDOW * 2;
        self.busy = adjacent && self.frames >= BUSY_FRAMES;
        self.frames = 0;
        self.window_start = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Feeds `frames` frames evenly over `span`, starting at `t`.
    fn feed(p: &mut WakePacer, t: Instant, frames: u32, span: Duration) -> Instant {
        for i in 0..frames {
            p.frame(t + span * i / frames.max(1));
        }
        t + span
    }

    #[test]
    fn a_quiet_server_waits_on_the_socket() {
        let mut p = WakePacer::new();
        let t = Instant::now();
        // A nine-packet knock with decoys inside one window.
        let t = feed(&mut p, t, 9, Duration::from_millis(3));
        assert!(!p.busy());
        assert_eq!(p.empty(t), None);
    }

    #[test]
    fn a_flood_turns_waiting_into_napping_within_one_window() {
        let mut p = WakePacer::new();
        let t = Instant::now();
        // 100 kpps: BUSY_FRAMES arrive within half a millisecond.
        let t = feed(&mut p, t, BUSY_FRAMES, Duration::from_micros(500));
        assert!(p.busy());
        assert_eq!(p.empty(t), Some(NAP));
    }

    #[test]
    fn a_flood_that_goes_on_keeps_the_loop_napping() {
        let mut p = WakePacer::new();
        let mut t = Instant::now();
        for _ in 0..20 {
            t = feed(&mut p, t, 1000, WINDOW);
            assert_eq!(p.empty(t), Some(NAP));
        }
    }

    #[test]
    fn the_loop_waits_again_one_window_after_the_flood_ends() {
        let mut p = WakePacer::new();
        let t = Instant::now();
        let t = feed(&mut p, t, 1000, WINDOW);
        // Drains come back empty every nap; the window after the flood
        // closes with no frames in it.
        let mut now = t;
        let mut naps = 0;
        while p.empty(now).is_some() {
            naps += 1;
            now += NAP;
            assert!(naps < 1000, "never stopped napping");
        }
        assert!(now - t <= WINDOW * 2);
        assert!(!p.busy());
    }

    #[test]
    fn a_long_silence_ends_a_busy_window_at_once() {
        let mut p = WakePacer::new();
        let t = Instant::now();
        let t = feed(&mut p, t, 1000, WINDOW / 2);
        assert!(p.busy());
        // The blocking read timed out long after the flood: even though
        // the last window was busy, it did not just end.
        assert_eq!(p.empty(t + Duration::from_secs(1)), None);
    }

    #[test]
    fn a_clock_that_steps_back_is_not_a_reason_to_nap() {
        let mut p = WakePacer::new();
        let t = Instant::now() + Duration::from_secs(5);
        p.frame(t);
        assert_eq!(p.empty(t - Duration::from_secs(1)), None);
    }

    proptest! {
        /// Whatever the timing, the loop only naps if some window saw
        /// BUSY_FRAMES frames, and a nap is never longer than NAP.
        #[test]
        fn naps_only_after_busy_windows(gaps in prop::collection::vec(0u64..3_000, 1..400)) {
            let mut p = WakePacer::new();
            let start = Instant::now();
            let mut now = start;
            let mut times = Vec::new();
            for g in gaps {
                now += Duration::from_micros(g);
                p.frame(now);
                times.push(now);
                if let Some(nap) = p.empty(now) {
                    prop_assert_eq!(nap, NAP);
                    // Some WINDOW-long span up to now held BUSY_FRAMES frames.
                    let busiest = times
                        .iter()
                        .map(|&a| times.iter().filter(|&&b| b >= a && b < a + WINDOW).count())
                        .max()
                        .unwrap_or(0);
                    prop_assert!(busiest >= BUSY_FRAMES as usize);
                }
            }
        }
    }
}
