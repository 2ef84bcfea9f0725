//! Replay bookkeeping, pure: what to remember and until when. Storage (and
//! persistence across restarts) belongs to the server.
//!
//! SPA packets are remembered by digest until their timestamp leaves the
//! accepted window; after that the time check rejects them anyway. Dynamic
//! sequences and keyed SYN tokens burn `(user, step)`: the digest of that
//! pair is remembered until the step can no longer be accepted.
//!
//! When the cache is full it refuses new entries instead of evicting live
//! ones: evicting would make an evicted packet valid again (fail closed).

use crate::{Step, UnixTime};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;

/// 16 bytes that identify something already used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 16]);

impl Digest {
    /// The burn mark of a step-bound knock: `SHA-256(method || 0 || user || 0 || step_be || extra)[0..16]`.
    pub fn of_step(method: &str, user: &str, step: Step, extra: &[u8]) -> Digest {
        let mut h = Sha256::new();
        h.update(method.as_bytes());
        h.update([0]);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(step.0.to_be_bytes());
        h.update(extra);
        let out = h.finalize();
        let mut d = [0u8; 16];
        d.copy_from_slice(&out[..16]);
        Digest(d)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("replayed: this packet or step was already used")]
    Replayed,
    #[error("replay cache full ({0} entries): refusing new knocks until entries expire")]
    Full(usize),
}

/// Remembered digests and when each may be forgotten.
#[derive(Debug, Clone)]
pub struct ReplayCache {
    entries: HashMap<Digest, UnixTime>,
    capacity: usize,
}

impl ReplayCache {
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `digest` until `forget_after`, or says it was already used.
    /// Expired entries are pruned first when the cache is full.
    pub fn check_and_insert(
        &mut self,
        digest: Digest,
        forget_after: UnixTime,
        now: UnixTime,
    ) -> Result<(), ReplayError> {
        if let Some(&until) = self.entries.get(&digest)
            && until >= now
        {
            return Err(ReplayError::Replayed);
        }
        if self.entries.len() >= self.capacity {
            self.prune(now);
            if self.entries.len() >= self.capacity {
                return Err(ReplayError::Full(self.capacity));
            }
        }
        self.entries.insert(digest, forget_after);
        Ok(())
    }

    pub fn contains(&self, digest: &Digest, now: UnixTime) -> bool {
        self.entries.get(digest).is_some_and(|&u| u >= now)
    }

    /// Forgets everything whose time has passed.
    pub fn prune(&mut self, now: UnixTime) {
        self.entries.retain(|_, until| *until >= now);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries for persistence, in a stable order.
    pub fn entries(&self) -> Vec<(Digest, UnixTime)> {
        let mut v: Vec<_> = self.entries.iter().map(|(d, u)| (*d, *u)).collect();
        v.sort();
        v
    }

    /// Restores persisted entries, dropping expired ones.
    pub fn restore(
        &mut self,
        entries: impl IntoIterator<Item = (Digest, UnixTime)>,
        now: UnixTime,
    ) {
        for (d, u) in entries {
            if u >= now && self.entries.len() < self.capacity {
                self.entries.insert(d, u);
            }
        }
    }
}

/// How long an SPA digest must be remembered: until its timestamp falls
/// out of the ±`max_skew` window.
pub fn spa_forget_after(timestamp: u64, max_skew: u64) -> UnixTime {
    UnixTime(timestamp).plus_secs(max_skew.saturating_add(1))
}

/// How long a burned step must be remembered: until the last moment a
/// server accepting `radius` steps of drift could still accept it.
pub fn step_forget_after(step: Step, step_secs: u64, radius: u64) -> UnixTime {
    Step(step.0.saturating_add(radius)).end(step_secs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn replay_is_refused_until_expiry() {
        let mut c = ReplayCache::new(10);
        let d = Digest([1; 16]);
        assert_eq!(c.check_and_insert(d, UnixTime(100), UnixTime(50)), Ok(()));
        assert_eq!(
            c.check_and_insert(d, UnixTime(100), UnixTime(60)),
            Err(ReplayError::Replayed)
        );
        // After expiry the time window rejects the packet; the cache may forget.
        assert_eq!(c.check_and_insert(d, UnixTime(200), UnixTime(101)), Ok(()));
    }

    #[test]
    fn full_cache_fails_closed_and_prunes() {
        let mut c = ReplayCache::new(2);
        c.check_and_insert(Digest([1; 16]), UnixTime(100), UnixTime(0))
            .expect("room");
        c.check_and_insert(Digest([2; 16]), UnixTime(100), UnixTime(0))
            .expect("room");
        assert_eq!(
            c.check_and_insert(Digest([3; 16]), UnixTime(100), UnixTime(0)),
            Err(ReplayError::Full(2))
        );
        assert_eq!(
            c.check_and_insert(Digest([3; 16]), UnixTime(300), UnixTime(101)),
            Ok(())
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn persistence_round_trip_drops_expired() {
        let mut c = ReplayCache::new(10);
        c.check_and_insert(Digest([1; 16]), UnixTime(100), UnixTime(0))
            .expect("room");
        c.check_and_insert(Digest([2; 16]), UnixTime(10), UnixTime(0))
            .expect("room");
        let mut r = ReplayCache::new(10);
        r.restore(c.entries(), UnixTime(50));
        assert!(r.contains(&Digest([1; 16]), UnixTime(50)));
        assert!(!r.contains(&Digest([2; 16]), UnixTime(50)));
    }

    #[test]
    fn forget_times() {
        assert_eq!(spa_forget_after(1000, 60), UnixTime(1061));
        assert_eq!(step_forget_after(Step(10), 30, 1), UnixTime(360));
        assert_ne!(
            Digest::of_step("dyn", "alice", Step(1), &[]),
            Digest::of_step("dyn", "bob", Step(1), &[])
        );
    }

    proptest! {
        #[test]
        fn never_exceeds_capacity(ops in proptest::collection::vec((any::<u8>(), 0u64..100, 0u64..100), 0..300), cap in 1usize..20) {
            let mut c = ReplayCache::new(cap);
            for (d, until, now) in ops {
                let _ = c.check_and_insert(Digest([d; 16]), UnixTime(until), UnixTime(now));
                prop_assert!(c.len() <= cap);
            }
        }
    }
}
