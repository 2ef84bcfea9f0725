//! The replay cache and the marks added since they were last persisted.
//!
//! A mark is recorded before the grant it protects is queued, and the caller
//! persists [`Replay::take_update`] before carrying out that grant, so a
//! restart cannot make a used knock valid again.

use postern_proto::UnixTime;
use postern_proto::replay::{Digest, ReplayCache, ReplayError};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

#[derive(Debug)]
pub struct Replay {
    cache: ReplayCache,
    capacity: usize,
    /// Marks added since the last `take_update`.
    new: Vec<(Digest, UnixTime)>,
    /// Per user, when each of their live marks is forgotten: the count
    /// behind `Limits::user_replay_quota`. Marks restored after a restart
    /// belong to no user (the persisted log does not say whose they are).
    per_user: HashMap<String, BinaryHeap<Reverse<u64>>>,
}

impl Replay {
    pub fn new(capacity: usize) -> Self {
        Replay {
            cache: ReplayCache::new(capacity),
            capacity,
            new: Vec::new(),
            per_user: HashMap::new(),
        }
    }

    /// Records `mark` until `forget_after` unless it is live already (a
    /// replay) or the cache is full; counts it against `user`.
    pub fn burn(
        &mut self,
        mark: Digest,
        forget_after: UnixTime,
        now: UnixTime,
        user: Option<&str>,
    ) -> Result<(), ReplayError> {
        self.cache.check_and_insert(mark, forget_after, now)?;
        self.new.push((mark, forget_after));
        if let Some(u) = user {
            self.per_user
                .entry(u.to_owned())
                .or_default()
                .push(Reverse(forget_after.0));
        }
        Ok(())
    }

    /// Live marks `user` holds at `now`.
    pub fn user_len(&mut self, user: &str, now: UnixTime) -> usize {
        let Some(h) = self.per_user.get_mut(user) else {
            return 0;
        };
        while h.peek().is_some_and(|Reverse(t)| *t <= now.0) {
            h.pop();
        }
        h.len()
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
        self.per_user.retain(|_, h| {
            while h.peek().is_some_and(|Reverse(t)| *t <= now.0) {
                h.pop();
            }
            !h.is_empty()
        });
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
