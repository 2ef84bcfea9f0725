//! Time as the protocol sees it: whole Unix seconds and time steps.
//!
//! The caller reads the clock; the protocol only does arithmetic on it.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, as read by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub u64);

/// Default length of a time step in seconds (key ids, dynamic sequences,
/// keyed SYN tokens), as in TOTP.
pub const DEFAULT_STEP_SECS: u64 = 30;

/// A time step number: `unix_seconds / step_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Step(pub u64);

impl UnixTime {
    /// The step `self` falls in. `step_secs` of 0 is treated as 1 so a bad
    /// value can never divide by zero.
    pub fn step(self, step_secs: u64) -> Step {
        Step(self.0 / step_secs.max(1))
    }

    /// Signed difference `self - other` in seconds (saturating).
    pub fn skew_from(self, other: UnixTime) -> i64 {
        let d = i128::from(self.0) - i128::from(other.0);
        d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }

    pub fn plus_secs(self, secs: u64) -> UnixTime {
        UnixTime(self.0.saturating_add(secs))
    }
}

impl Step {
    /// The steps `self - radius ..= self + radius`, oldest first.
    pub fn around(self, radius: u64) -> impl Iterator<Item = Step> {
        let lo = self.0.saturating_sub(radius);
        let hi = self.0.saturating_add(radius);
        (lo..=hi).map(Step)
    }

    /// First second after the step ends.
    pub fn end(self, step_secs: u64) -> UnixTime {
        UnixTime(self.0.saturating_add(1).saturating_mul(step_secs.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps() {
        assert_eq!(UnixTime(59).step(30), Step(1));
        assert_eq!(UnixTime(60).step(30), Step(2));
        assert_eq!(UnixTime(5).step(0), Step(5));
        assert_eq!(Step(2).end(30), UnixTime(90));
        let v: Vec<_> = Step(1).around(2).collect();
        assert_eq!(v, vec![Step(0), Step(1), Step(2), Step(3)]);
        assert_eq!(UnixTime(10).skew_from(UnixTime(322)), -312);
    }
}
