//! The replay cache and the marks added since they were last persisted.
//!
//! A mark is recorded before the grant it protects is queued, and the caller
//! persists [`Replay::take_update`] before carrying out that grant, so a
//! restart cannot make a used knock valid again.

use postern_proto::UnixTime;
use postern_proto::replay::{Digest, ReplayCache, ReplayError};

#[derive(Debug)]
pub struct Replay {
    cache: ReplayCache,
    capacity: usize,
    /// Marks added since the last `take_update`.
    new: Vec<(Digest, UnixTime)>,
}

impl Replay {
    pub fn new(capacity: usize) -> Self {
        Replay {
            cache: ReplayCache::new(capacity),
            capacity,
            new: Vec::new(),
        }
    }

    /// Records `mark` until `forget_after` unless it is live already (a
    /// replay) or the cache is full.
    pub fn burn(
        &mut self,
        mark: Digest,
        forget_after: UnixTime,
        now: UnixTime,
    ) -> Result<(), ReplayError> {
        self.cache.check_and_insert(mark, forget_after, now)?;
        self.new.push((mark, forget_after));
        Ok(())
    }

    pub fn restore(&mut self, entries: Vec<(Digest, UnixTime)>, now: UnixTime) {
        self.cache.restore(entries, now);
    }

    pub fn take_update(&mut self) -> Option<Vec<(Digest, UnixTime)>> {
        if self.new.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.new))
    }

    pub fn prune(&mut self, now: UnixTime) {
        self.cache.prune(now);
    }

    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn entries(&self) -> Vec<(Digest, UnixTime)> {
        self.cache.entries()
    }

    /// Applies a new capacity, keeping every live mark that fits (marks not
    /// yet taken stay pending).
    pub fn set_capacity(&mut self, capacity: usize, now: UnixTime) {
        if capacity == self.capacity {
            return;
        }
        let mut cache = ReplayCache::new(capacity);
        cache.restore(self.cache.entries(), now);
        self.cache = cache;
        self.capacity = capacity;
    }
}
