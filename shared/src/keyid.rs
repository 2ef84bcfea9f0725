//! The server's key-id table (protocol.md §3.1), pure.
//!
//! Maps every user's key id for the steps `now ± radius` to the user, so an
//! SPA packet finds its user with one hash lookup and random junk costs one
//! miss. Advancing one step computes one HMAC per user and forgets one step,
//! instead of rebuilding the table.

use crate::keys::{Purpose, SubKey};
use crate::method::spa::{KEY_ID_STEP_SECS, key_id_from_subkey};
use crate::{ServerId, Step, UnixTime, UserKey};
use std::collections::HashMap;

/// Key ids of all users around the current step.
#[derive(Debug)]
pub struct KeyIdTable<U> {
    server: ServerId,
    users: Vec<(U, UserKey)>,
    /// Each user's `spa-key-id` subkey, derived once.
    subkeys: Vec<SubKey>,
    radius: u64,
    /// Steps currently in the table, `lo..=hi`; `None` before the first `advance`.
    window: Option<(Step, Step)>,
    map: HashMap<[u8; 8], (usize, Step)>,
}

/// What a key id stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyIdHit<'a, U> {
    pub user: &'a U,
    pub key: &'a UserKey,
    /// The step the client's clock was in when it sealed the packet.
    pub step: Step,
}

impl<U> KeyIdTable<U> {
    /// `radius` steps either side of now are recognized. It should cover
    /// more than the accepted clock skew, so a skewed packet is still found
    /// and rejected *with its measured skew* instead of as unknown.
    pub fn new(server: ServerId, users: Vec<(U, UserKey)>, radius: u64) -> Self {
        let subkeys = users
            .iter()
            .map(|(_, k)| k.derive(Purpose::KeyId))
            .collect();
        KeyIdTable {
            server,
            users,
            subkeys,
            radius,
            window: None,
            map: HashMap::new(),
        }
    }

    /// Brings the table to the steps around `now`. Cheap when nothing
    /// changed; one HMAC per user per new step otherwise.
    pub fn advance(&mut self, now: UnixTime) {
        let center = now.step(KEY_ID_STEP_SECS);
        let lo = Step(center.0.saturating_sub(self.radius));
        let hi = Step(center.0.saturating_add(self.radius));
        let (old_lo, old_hi) = match self.window {
            Some(w) if w == (lo, hi) => return,
            // Far jump (or first call): rebuild.
            Some((ol, oh)) if ol.0 <= hi.0 && lo.0 <= oh.0 => (ol, oh),
            _ => {
                self.map.clear();
                self.map
                    .reserve(self.users.len() * (2 * self.radius as usize + 1));
                (Step(u64::MAX), Step(u64::MAX))
            }
        };
        self.map
            .retain(|_, (_, step)| step.0 >= lo.0 && step.0 <= hi.0);
        for s in lo.0..=hi.0 {
            if old_lo.0 != u64::MAX && s >= old_lo.0 && s <= old_hi.0 {
                continue;
            }
            for (i, sub) in self.subkeys.iter().enumerate() {
                let id = key_id_from_subkey(sub, &self.server, Step(s));
                self.map.insert(id, (i, Step(s)));
            }
        }
        self.window = Some((lo, hi));
    }

    pub fn lookup(&self, id: &[u8; 8]) -> Option<KeyIdHit<'_, U>> {
        let &(i, step) = self.map.get(id)?;
        let (user, key) = self.users.get(i)?;
        Some(KeyIdHit { user, key, step })
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn users(&self) -> impl Iterator<Item = &(U, UserKey)> {
        self.users.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::spa::key_id;

    fn table() -> KeyIdTable<&'static str> {
        KeyIdTable::new(
            ServerId([1; 16]),
            vec![
                ("alice", UserKey::from_bytes([1; 32])),
                ("bob", UserKey::from_bytes([2; 32])),
            ],
            2,
        )
    }

    #[test]
    fn finds_users_within_radius_only() {
        let mut t = table();
        t.advance(UnixTime(3000)); // step 100
        assert_eq!(t.len(), 2 * 5);
        let bob = UserKey::from_bytes([2; 32]);
        let hit = t
            .lookup(&key_id(&bob, &ServerId([1; 16]), Step(98)))
            .expect("in window");
        assert_eq!((*hit.user, hit.step), ("bob", Step(98)));
        assert!(
            t.lookup(&key_id(&bob, &ServerId([1; 16]), Step(97)))
                .is_none()
        );
        assert!(
            t.lookup(&key_id(&bob, &ServerId([2; 16]), Step(100)))
                .is_none()
        );
    }

    #[test]
    fn incremental_advance_equals_rebuild() {
        let mut a = table();
        a.advance(UnixTime(3000));
        a.advance(UnixTime(3030));
        a.advance(UnixTime(3090));
        let mut b = table();
        b.advance(UnixTime(3090));
        assert_eq!(a.len(), b.len());
        for (k, v) in &b.map {
            assert_eq!(a.map.get(k), Some(v));
        }
        // A far jump rebuilds.
        a.advance(UnixTime(90_000));
        assert_eq!(a.len(), 10);
    }
}
