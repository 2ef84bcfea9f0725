//! The live grants and their deadlines, so expiry is the core's job and not
//! only the kernel's: Windows Firewall rules have no timers, and a reload
//! must know which open doors the new policy still allows.
//!
//! One entry per (source, door). A renewed grant keeps one entry whose
//! deadline is the later of the two, so each grant is revoked exactly once,
//! at its final deadline, never before it.
//!
//! The table is bounded by [`Limits::max_grants`](super::Limits), the same
//! budget that bounds the firewall's set of grants. When it is full, a new
//! grant first revokes the tracked grant closest to its deadline
//! ([`RevokeWhy::TableFull`]), then is tracked itself. That keeps the one
//! property that must never fail: no door is open that the core does not
//! track (an untracked rule on a firewall without timers would stay open
//! for good). The choice of victim costs the least open time, and a fresh
//! knock — the user acting now — is served rather than refused. It also
//! holds up under a flood of spoofed static SYN tokens (anyone can make
//! those): their grants last 10 s, so the flood mostly evicts its own older
//! entries, while refusing new grants would lock every real user out for
//! as long as the flood lasts. At 65 536 entries the table stays within a
//! few MB.

use super::events::{LiveGrant, Revoke, RevokeWhy};
use postern_proto::method::Door;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

type Key = (IpAddr, Door);

#[derive(Debug, Clone)]
struct Entry {
    expires_ms: u64,
    user: Option<String>,
}

#[derive(Debug)]
pub struct GrantTable {
    live: HashMap<Key, Entry>,
    /// The same entries ordered by deadline.
    by_deadline: BTreeSet<(u64, Key)>,
    /// The unauthenticated entries ordered by deadline.
    unauth: BTreeSet<(u64, Key)>,
    /// Live grants per user.
    per_user: HashMap<String, usize>,
    capacity: usize,
    unauth_capacity: usize,
}

impl GrantTable {
    #[cfg(test)]
    pub fn new(capacity: usize) -> Self {
        GrantTable::with_unauth(capacity, capacity)
    }

    /// A table of `capacity` grants of which at most `unauth_capacity`
    /// have no user.
    pub fn with_unauth(capacity: usize, unauth_capacity: usize) -> Self {
        let capacity = capacity.max(1);
        GrantTable {
            live: HashMap::new(),
            by_deadline: BTreeSet::new(),
            unauth: BTreeSet::new(),
            per_user: HashMap::new(),
            capacity,
            unauth_capacity: unauth_capacity.clamp(1, capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Live unauthenticated grants.
    pub fn unauth_len(&self) -> usize {
        self.unauth.len()
    }

    /// Live grants of `user`.
    pub fn user_len(&self, user: &str) -> usize {
        self.per_user.get(user).copied().unwrap_or(0)
    }

    /// Whether a grant for `source` at `door` is live (a new grant there is
    /// a renewal and takes no room).
    pub fn contains(&self, source: IpAddr, door: Door) -> bool {
        self.live.contains_key(&(source, door))
    }

    fn count(&mut self, user: Option<&str>, deadline: u64, key: Key, add: bool) {
        match user {
            None => {
                if add {
                    self.unauth.insert((deadline, key));
                } else {
                    self.unauth.remove(&(deadline, key));
                }
            }
            Some(u) => {
                if add {
                    *self.per_user.entry(u.to_owned()).or_default() += 1;
                } else if let Some(n) = self.per_user.get_mut(u) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.per_user.remove(u);
                    }
                }
            }
        }
    }

    /// Tracks a grant until `expires_ms`; a live grant for the same source
    /// and door keeps the later deadline and takes the new user. Returns
    /// the grant revoked to make room, if the table was full.
    pub fn insert(
        &mut self,
        source: IpAddr,
        door: Door,
        expires_ms: u64,
        user: Option<String>,
    ) -> Option<Revoke> {
        let key = (source, door);
        if let Some(e) = self.live.get(&key).cloned() {
            self.count(e.user.as_deref(), e.expires_ms, key, false);
            let deadline = e.expires_ms.max(expires_ms);
            if deadline != e.expires_ms {
                self.by_deadline.remove(&(e.expires_ms, key));
                self.by_deadline.insert((deadline, key));
            }
            self.count(user.as_deref(), deadline, key, true);
            self.live.insert(
                key,
                Entry {
                    expires_ms: deadline,
                    user,
                },
            );
            return None;
        }
        let evicted = if user.is_none() && self.unauth.len() >= self.unauth_capacity {
            self.pop_first_unauth()
        } else if self.live.len() >= self.capacity {
            self.pop_first(RevokeWhy::TableFull)
        } else {
            None
        };
        self.count(user.as_deref(), expires_ms, key, true);
        self.live.insert(key, Entry { expires_ms, user });
        self.by_deadline.insert((expires_ms, key));
        evicted
    }

    /// Revokes the unauthenticated grant closest to its deadline.
    fn pop_first_unauth(&mut self) -> Option<Revoke> {
        let (deadline, key) = self.unauth.pop_first()?;
        self.by_deadline.remove(&(deadline, key));
        let e = self.live.remove(&key)?;
        Some(revoke(key, e, RevokeWhy::TableFull))
    }

    /// The earliest deadline, if any grant is live.
    pub fn next_deadline(&self) -> Option<u64> {
        self.by_deadline.first().map(|&(t, _)| t)
    }

    /// Removes and returns the grant whose deadline has passed at `now_ms`
    /// (deadline ≤ now), earliest first; call until `None`.
    pub fn pop_expired(&mut self, now_ms: u64) -> Option<Revoke> {
        if self.next_deadline()? > now_ms {
            return None;
        }
        self.pop_first(RevokeWhy::Expired)
    }

    fn pop_first(&mut self, why: RevokeWhy) -> Option<Revoke> {
        let (_, key) = self.by_deadline.pop_first()?;
        let e = self.live.remove(&key)?;
        self.count(e.user.as_deref(), e.expires_ms, key, false);
        Some(revoke(key, e, why))
    }

    /// Drops every grant `why` says no to (`None`: keep), returning their
    /// revokes in deadline order.
    pub fn revoke_where(
        &mut self,
        mut why: impl FnMut(IpAddr, Door, Option<&str>) -> Option<RevokeWhy>,
    ) -> Vec<Revoke> {
        let mut out = Vec::new();
        let live = &mut self.live;
        self.by_deadline.retain(|&(_, key)| {
            let Some(e) = live.get(&key) else {
                return false;
            };
            let Some(w) = why(key.0, key.1, e.user.as_deref()) else {
                return true;
            };
            if let Some(e) = live.remove(&key) {
                out.push(revoke(key, e, w));
            }
            false
        });
        for r in &out {
            self.uncount_revoked(r);
        }
        out
    }

    /// Drops a revoked grant from the counts (its deadline is unknown
    /// once removed, so the unauthenticated set is searched by key).
    fn uncount_revoked(&mut self, r: &Revoke) {
        match &r.user {
            Some(u) => self.count(Some(u), 0, (r.source, r.door), false),
            None => {
                let key = (r.source, r.door);
                self.unauth.retain(|&(_, k)| k != key);
            }
        }
    }

    /// Applies a new bound; beyond it the grants closest to their deadline
    /// are revoked.
    pub fn set_capacity(&mut self, capacity: usize, unauth_capacity: usize) -> Vec<Revoke> {
        self.capacity = capacity.max(1);
        self.unauth_capacity = unauth_capacity.clamp(1, self.capacity);
        let mut out = Vec::new();
        while self.unauth.len() > self.unauth_capacity {
            out.extend(self.pop_first_unauth());
        }
        while self.live.len() > self.capacity {
            out.extend(self.pop_first(RevokeWhy::TableFull));
        }
        out
    }

    /// The live grants, earliest deadline first.
    pub fn iter(&self) -> impl Iterator<Item = LiveGrant> + '_ {
        self.by_deadline.iter().filter_map(|&(expires_ms, key)| {
            let e = self.live.get(&key)?;
            Some(LiveGrant {
                source: key.0,
                door: key.1,
                user: e.user.clone(),
                expires_ms,
            })
        })
    }
}

fn revoke((source, door): Key, e: Entry, why: RevokeWhy) -> Revoke {
    Revoke {
        source,
        door,
        user: e.user,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_proto::method::DoorProto;

    fn door(port: u16) -> Door {
        Door {
            proto: DoorProto::Tcp,
            port,
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([198, 18, 0, last])
    }

    #[test]
    fn expires_in_deadline_order_and_not_before() {
        let mut t = GrantTable::new(8);
        assert!(t.insert(ip(1), door(22), 300, None).is_none());
        assert!(t.insert(ip(2), door(22), 100, Some("a".into())).is_none());
        assert_eq!(t.next_deadline(), Some(100));
        assert!(t.pop_expired(99).is_none());
        let r = t.pop_expired(100).expect("due");
        assert_eq!(
            (r.source, r.why, r.user.as_deref()),
            (ip(2), RevokeWhy::Expired, Some("a"))
        );
        assert!(t.pop_expired(299).is_none());
        assert_eq!(t.pop_expired(1000).map(|r| r.source), Some(ip(1)));
        assert!(t.pop_expired(u64::MAX).is_none());
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn renewal_keeps_the_later_deadline() {
        let mut t = GrantTable::new(8);
        let _ = t.insert(ip(1), door(22), 100, None);
        let _ = t.insert(ip(1), door(22), 500, Some("b".into()));
        let _ = t.insert(ip(1), door(22), 200, Some("c".into()));
        let live: Vec<_> = t.iter().collect();
        assert_eq!(live.len(), 1);
        assert_eq!(
            (live[0].expires_ms, live[0].user.as_deref()),
            (500, Some("c"))
        );
        assert!(t.pop_expired(499).is_none());
        assert!(t.pop_expired(500).is_some());
    }

    #[test]
    fn a_full_table_revokes_the_earliest_deadline_first() {
        let mut t = GrantTable::new(2);
        let _ = t.insert(ip(1), door(22), 300, None);
        let _ = t.insert(ip(2), door(22), 100, None);
        let r = t.insert(ip(3), door(22), 200, None).expect("full");
        assert_eq!((r.source, r.why), (ip(2), RevokeWhy::TableFull));
        assert_eq!(t.len(), 2);
        // Renewing a tracked grant needs no room.
        assert!(t.insert(ip(1), door(22), 400, None).is_none());
        let shrunk = t.set_capacity(1, 1);
        assert_eq!(
            shrunk.iter().map(|r| r.source).collect::<Vec<_>>(),
            vec![ip(3)]
        );
        assert_eq!(t.iter().map(|g| g.source).collect::<Vec<_>>(), vec![ip(1)]);
    }

    /// Unauthenticated grants (forgeable by anyone) push out only each
    /// other: a flood of them cannot evict a user's grant nor take more
    /// than their share of the table.
    #[test]
    fn unauthenticated_grants_never_push_out_authenticated_ones() {
        let mut t = GrantTable::with_unauth(4, 2);
        assert!(t.insert(ip(1), door(22), 100, Some("a".into())).is_none());
        for i in 0..50u8 {
            let r = t.insert(ip(100 + i), door(22), 1_000 + u64::from(i), None);
            if let Some(r) = r {
                assert!(r.user.is_none(), "a user's grant was pushed out");
            }
            assert!(t.unauth_len() <= 2);
        }
        assert_eq!(t.len(), 3);
        assert_eq!(t.user_len("a"), 1);
        // Room is left for users.
        assert!(t.insert(ip(2), door(22), 200, Some("b".into())).is_none());
        assert_eq!(t.len(), 4);
        let _ = t.pop_expired(100);
        assert_eq!(t.user_len("a"), 0);
        let out = t.revoke_where(|_, _, u| u.is_none().then_some(RevokeWhy::DoorRemoved));
        assert_eq!(out.len(), 2);
        assert_eq!(t.unauth_len(), 0);
    }

    #[test]
    fn revoke_where_keeps_the_rest() {
        let mut t = GrantTable::new(8);
        let _ = t.insert(ip(1), door(22), 300, None);
        let _ = t.insert(ip(2), door(443), 100, Some("a".into()));
        let out = t.revoke_where(|_, d, _| (d.port == 443).then_some(RevokeWhy::DoorRemoved));
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].source, out[0].why), (ip(2), RevokeWhy::DoorRemoved));
        assert_eq!(t.next_deadline(), Some(300));
        assert_eq!(t.len(), 1);
    }
}
