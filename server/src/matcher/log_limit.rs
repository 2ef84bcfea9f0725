//! Rejection logging under a rate limit: lines beyond it are counted and
//! summarized every [`SUMMARY_MS`], so a flood of junk cannot flood the log.

use super::events::Event;
use super::ratelimit::Bucket;

/// Rejections beyond the rate limit are summarized this often.
pub const SUMMARY_MS: u64 = 10_000;

#[derive(Debug)]
pub struct LogLimit {
    bucket: Bucket,
    suppressed: u64,
    last_summary_ms: u64,
}

impl LogLimit {
    pub fn new(per_sec: u32, now_ms: u64) -> Self {
        LogLimit {
            bucket: Self::bucket(per_sec),
            suppressed: 0,
            last_summary_ms: now_ms,
        }
    }

    fn bucket(per_sec: u32) -> Bucket {
        Bucket::new(per_sec, per_sec.saturating_mul(2))
    }

    /// A new rate; the count of suppressed lines carries over.
    pub fn set_rate(&mut self, per_sec: u32) {
        self.bucket = Self::bucket(per_sec);
    }

    /// Whether a line may be written now; if not, it is counted.
    #[inline]
    pub fn admit(&mut self, now_ms: u64) -> bool {
        let ok = self.bucket.take(now_ms, 1.0);
        if !ok {
            self.suppressed += 1;
        }
        ok
    }

    /// Counts a rejection that is never logged one by one.
    pub fn suppress(&mut self) {
        self.suppressed += 1;
    }

    /// Whether the summary period has ended at `now_ms`.
    pub fn summary_due(&self, now_ms: u64) -> bool {
        now_ms.saturating_sub(self.last_summary_ms) >= SUMMARY_MS
    }

    /// Ends the summary period (call when [`summary_due`](Self::summary_due)).
    pub fn summarize(&mut self, now_ms: u64) -> Option<Event> {
        let window_secs = now_ms.saturating_sub(self.last_summary_ms) / 1000;
        self.last_summary_ms = now_ms;
        if self.suppressed == 0 {
            return None;
        }
        let count = std::mem::take(&mut self.suppressed);
        Some(Event::Suppressed { count, window_secs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_beyond_the_rate_are_counted_and_summarized_once() {
        let mut l = LogLimit::new(1, 0);
        assert!(l.admit(0) && l.admit(0));
        assert!(!l.admit(0));
        l.suppress();
        assert!(!l.summary_due(SUMMARY_MS - 1));
        assert!(l.summary_due(SUMMARY_MS));
        assert_eq!(
            l.summarize(SUMMARY_MS),
            Some(Event::Suppressed {
                count: 2,
                window_secs: 10
            })
        );
        assert_eq!(l.summarize(2 * SUMMARY_MS), None);
    }
}
