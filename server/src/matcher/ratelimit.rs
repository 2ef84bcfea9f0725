//! Token buckets: one keeps rejection logging bounded under floods (excess
//! lines are counted and summarized), one bounds the crypto work spent on
//! candidates that need it (keyed SYN tokens).

/// A token bucket on a millisecond clock the caller supplies.
#[derive(Debug, Clone)]
pub struct Bucket {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    last_ms: u64,
}

impl Bucket {
    pub fn new(per_sec: u32, burst: u32) -> Self {
        Bucket {
            per_sec: f64::from(per_sec),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last_ms: 0,
        }
    }

    /// Takes `n` tokens if there are that many.
    pub fn take(&mut self, now_ms: u64, n: f64) -> bool {
        let dt = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.last_ms = self.last_ms.max(now_ms);
        self.tokens = (self.tokens + dt * self.per_sec).min(self.burst);
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refills_over_time() {
        let mut b = Bucket::new(10, 2);
        assert!(b.take(0, 1.0));
        assert!(b.take(0, 1.0));
        assert!(!b.take(0, 1.0));
        assert!(b.take(100, 1.0));
        assert!(!b.take(100, 1.0));
    }
}
