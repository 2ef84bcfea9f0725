//! The matcher: a pure state machine from captured packets to grants.
//!
//! It never reads a clock, a socket or a file. Use it like this:
//!
//! 1. [`Matcher::handle_packet`] for every captured packet, with the wall
//!    time in milliseconds;
//! 2. [`Matcher::poll_event`] until `None`: grants to install and decisions
//!    to log, in order;
//! 3. [`Matcher::take_replay_update`] before installing a grant, and persist
//!    it, so a restart cannot make a used packet valid again;
//! 4. [`Matcher::handle_timeout`] whenever [`Matcher::poll_timeout`] says.
//!
//! Cheap checks come first (port lookups, the key-id table), crypto only
//! for candidates that pass them, and a work budget bounds the crypto a
//! flood can cause. Bad knocks never produce a reply; rejections are logged
//! under a rate limit and summarized beyond it.

mod policy;
mod ratelimit;
mod sequence;
mod sources;
mod spa;
mod syn;
#[cfg(test)]
mod tests;

pub use policy::Policy;
pub use sources::SourceTable;

use crate::packet::{Packet, Transport};
use policy::{DoorIdx, UserIdx};
use postern_proto::keyid::KeyIdTable;
use postern_proto::method::sequence::Knock;
use postern_proto::method::{Door, KnockProto};
use postern_proto::replay::{Digest, ReplayCache};
use postern_proto::{Step, UnixTime};
use ratelimit::Bucket;
use sequence::{Attempt, Outcome, Target};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// How a knock was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Sequence,
    DynamicSequence,
    Spa,
    SynToken,
    SynTokenKeyed,
    /// Not a knock of any method (junk at the SPA port, scans).
    Unknown,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Sequence => "sequence",
            Method::DynamicSequence => "dynamic-sequence",
            Method::Spa => "spa",
            Method::SynToken => "syn-token",
            Method::SynTokenKeyed => "syn-token-keyed",
            Method::Unknown => "unknown",
        })
    }
}

/// Open `door` to `source` for `ttl`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Grant {
    pub source: IpAddr,
    pub door: Door,
    pub ttl: Duration,
    pub user: Option<String>,
    pub method: Method,
    /// The knock packet's source (an SPA packet may ask for another
    /// address to be let in).
    pub knocked_from: IpAddr,
}

impl Grant {
    /// Its "accepted" log line, written once the door is actually open.
    pub fn decision(&self) -> Decision {
        Decision {
            accepted: true,
            source: self.knocked_from,
            user: self.user.clone(),
            method: self.method,
            reason: format!(
                "opened {} for {} for {} s",
                self.door,
                self.source,
                self.ttl.as_secs()
            ),
        }
    }
}

/// One line of the decision log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub accepted: bool,
    /// The packet's source address.
    pub source: IpAddr,
    pub user: Option<String>,
    pub method: Method,
    /// Plain words: "opened 22/tcp for 198.18.0.2 for 30 s",
    /// "clock skew +312 s exceeds the allowed 60 s".
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Grant(Grant),
    Decision(Decision),
    /// Rejections not logged one by one because of the rate limit.
    Suppressed {
        count: u64,
        window_secs: u64,
    },
}

/// Counters for `status` and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets: u64,
    pub grants: u64,
    pub rejected: u64,
    pub evicted_sources: u64,
}

/// Dynamic sequences expected now: per (door, user, step) the knocks, and
/// the reverse index from a knock to the sequences it belongs to.
#[derive(Debug, Default)]
struct DynamicTable {
    steps: Vec<Step>,
    seqs: HashMap<(DoorIdx, UserIdx, Step), Vec<Knock>>,
    by_knock: HashMap<Knock, Vec<(DoorIdx, UserIdx, Step)>>,
}

#[derive(Debug)]
pub struct Matcher {
    policy: Policy,
    keyids: KeyIdTable<UserIdx>,
    replay: ReplayCache,
    /// Replay marks added since the last `take_replay_update`.
    replay_new: Vec<(Digest, UnixTime)>,
    sources: SourceTable,
    dynamic: DynamicTable,
    events: VecDeque<Event>,
    log_bucket: Bucket,
    suppressed: u64,
    last_summary_ms: u64,
    work: Bucket,
    stats: Stats,
    next_housekeeping_ms: u64,
}

/// How often `handle_timeout` wants to run.
const HOUSEKEEPING_MS: u64 = 1000;
/// Rejections beyond the rate limit are summarized this often.
const SUMMARY_MS: u64 = 10_000;
/// Keyed SYN-token HMACs allowed per second (a flood of SYNs at a guarded
/// port must not buy unbounded crypto).
const SYN_HMACS_PER_SEC: u32 = 200_000;

impl Matcher {
    pub fn new(policy: Policy, now_ms: u64) -> Self {
        let users = policy
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (i, u.key.clone()))
            .collect();
        let limits = policy.limits;
        let mut m = Matcher {
            keyids: KeyIdTable::new(policy.server_id, users, limits.key_id_radius),
            replay: ReplayCache::new(limits.replay_capacity),
            replay_new: Vec::new(),
            sources: SourceTable::new(limits.max_sources),
            dynamic: DynamicTable::default(),
            events: VecDeque::new(),
            log_bucket: Bucket::new(limits.log_rate, limits.log_rate.saturating_mul(2)),
            suppressed: 0,
            last_summary_ms: now_ms,
            work: Bucket::new(SYN_HMACS_PER_SEC, SYN_HMACS_PER_SEC),
            stats: Stats::default(),
            next_housekeeping_ms: now_ms,
            policy,
        };
        m.handle_timeout(now_ms);
        m
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn stats(&self) -> Stats {
        Stats {
            evicted_sources: self.sources.evicted(),
            ..self.stats
        }
    }

    pub fn sources(&self) -> &SourceTable {
        &self.sources
    }

    /// Restores the persisted replay cache (after a restart).
    pub fn restore_replay(&mut self, entries: Vec<(Digest, UnixTime)>, now_ms: u64) {
        self.replay.restore(entries, UnixTime(now_ms / 1000));
    }

    /// Replay marks added since the last call, if any. Persist them before
    /// installing the grants polled since.
    pub fn take_replay_update(&mut self) -> Option<Vec<(Digest, UnixTime)>> {
        if self.replay_new.is_empty() {
            return None;
        }
        Some(std::mem::take(&mut self.replay_new))
    }

    /// Number of live replay marks.
    pub fn replay_len(&self) -> usize {
        self.replay.len()
    }

    /// Every live replay mark (to compact the persisted log).
    pub fn replay_entries(&self) -> Vec<(Digest, UnixTime)> {
        self.replay.entries()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next (ms).
    pub fn poll_timeout(&self) -> u64 {
        self.next_housekeeping_ms
    }

    /// Housekeeping: rotate key ids and dynamic sequences with the clock,
    /// forget idle sources and expired replay entries, summarize suppressed
    /// log lines.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let now = UnixTime(now_ms / 1000);
        self.keyids.advance(now);
        self.refresh_dynamic(now);
        let l = self.policy.limits;
        let idle = l.seq_timeout.max(l.scan_window).saturating_mul(1000);
        self.sources.expire_idle(now_ms, idle);
        if now_ms.saturating_sub(self.last_summary_ms) >= SUMMARY_MS {
            self.replay.prune(now);
            if self.suppressed > 0 {
                self.events.push_back(Event::Suppressed {
                    count: self.suppressed,
                    window_secs: now_ms.saturating_sub(self.last_summary_ms) / 1000,
                });
                self.suppressed = 0;
            }
            self.last_summary_ms = now_ms;
        }
        self.next_housekeeping_ms = now_ms.saturating_add(HOUSEKEEPING_MS);
    }

    fn refresh_dynamic(&mut self, now: UnixTime) {
        let steps: Vec<Step> = self
            .policy
            .dynamic_doors
            .iter()
            .filter_map(|&d| {
                self.policy.doors[d]
                    .dynamic
                    .map(|dy| now.step(dy.step_secs))
            })
            .collect();
        if steps == self.dynamic.steps {
            return;
        }
        let mut t = DynamicTable {
            steps,
            ..DynamicTable::default()
        };
        for (&d, &center) in self.policy.dynamic_doors.iter().zip(&t.steps) {
            let Some(params) = self.policy.doors[d].dynamic.map(|dy| dy.params()) else {
                continue;
            };
            for &u in &self.policy.door_users[d] {
                let key = &self.policy.users[u].key;
                for step in center.around(1) {
                    let seq = params.sequence_for(key, &self.policy.server_id, step).0;
                    for k in &seq {
                        t.by_knock.entry(*k).or_default().push((d, u, step));
                    }
                    t.seqs.insert((d, u, step), seq);
                }
            }
        }
        self.dynamic = t;
    }

    /// Feeds one captured packet.
    pub fn handle_packet(&mut self, now_ms: u64, pkt: &Packet<'_>) {
        self.stats.packets += 1;
        if now_ms >= self.next_housekeeping_ms {
            self.handle_timeout(now_ms);
        }
        match pkt.transport {
            Transport::Udp {
                dst_port, payload, ..
            } if dst_port == self.policy.spa_port => {
                self.handle_spa(now_ms, pkt.src, payload, false);
            }
            Transport::Udp { dst_port, .. } => self.handle_knock(
                now_ms,
                pkt.src,
                Knock {
                    proto: KnockProto::Udp,
                    value: dst_port,
                },
            ),
            Transport::IcmpEcho { payload } => {
                if self.policy.spa_icmp && self.handle_spa(now_ms, pkt.src, payload, true) {
                    return;
                }
                let value = u16::try_from(payload.len()).unwrap_or(u16::MAX);
                self.handle_knock(
                    now_ms,
                    pkt.src,
                    Knock {
                        proto: KnockProto::Icmp,
                        value,
                    },
                );
            }
            Transport::Tcp {
                dst_port,
                seq,
                syn: true,
                ack: false,
                ..
            } => {
                if self.handle_syn_token(now_ms, pkt.src, dst_port, seq) {
                    return;
                }
                self.handle_knock(
                    now_ms,
                    pkt.src,
                    Knock {
                        proto: KnockProto::Tcp,
                        value: dst_port,
                    },
                );
            }
            Transport::Tcp { .. } => {}
        }
    }

    fn handle_knock(&mut self, now_ms: u64, src: IpAddr, knock: Knock) {
        let l = self.policy.limits;
        let st = self.sources.get_or_insert(src, now_ms);

        // Scan guard: count changes of destination within the window; a
        // repeated knock (retransmit, a client reconnecting) does not count.
        if now_ms.saturating_sub(st.window_start_ms) >= l.scan_window.saturating_mul(1000) {
            st.window_start_ms = now_ms;
            st.changes = 0;
            st.voided = false;
        }
        // Connections to the protected ports themselves are what a client
        // does after knocking; they never count as scanning.
        if st.last_knock != Some(knock) && !self.policy.door_knocks.contains(&knock) {
            st.changes = st.changes.saturating_add(1);
            st.last_knock = Some(knock);
        }
        if st.changes > l.scan_limit {
            if !st.voided {
                st.voided = true;
                let had = !st.attempts.is_empty();
                st.attempts.clear();
                let reason = format!(
                    "scan guard: more than {} ports in {} s{}",
                    l.scan_limit,
                    l.scan_window,
                    if had { "; knock attempts voided" } else { "" }
                );
                self.reject(now_ms, src, None, Method::Unknown, || reason);
            }
            return;
        }

        let policy = &self.policy;
        let dynamic = &self.dynamic;
        // The sequences a knock belongs to, and each one's knocks.
        let containing = |k: &Knock| {
            let statics = policy.static_knocks.get(k).into_iter().flatten();
            let dynamics = dynamic.by_knock.get(k).into_iter().flatten();
            statics
                .map(|&d| Target::Static(d))
                .chain(dynamics.map(|&(door, user, step)| Target::Dynamic { door, user, step }))
        };
        let knocks_of = |t: Target| -> Option<&[Knock]> {
            match t {
                Target::Static(d) => policy.doors[d].sequence.as_ref().map(|s| s.0.as_slice()),
                Target::Dynamic { door, user, step } => {
                    dynamic.seqs.get(&(door, user, step)).map(Vec::as_slice)
                }
            }
        };
        if containing(&knock).next().is_none() {
            return;
        }

        st.attempts
            .expire(now_ms, l.seq_timeout.saturating_mul(1000));
        let mut completed: Vec<Target> = Vec::new();
        let mut resets: Vec<Target> = Vec::new();
        let mut fresh: Vec<(Target, u64)> = Vec::new();
        let mut handled: Vec<Target> = Vec::new();
        // Whether this knock is the next (or a repeated) knock of some
        // sequence: then the others it contradicts merely share a port with
        // it, which is not the sender's mistake, and are not reported.
        let mut explained = false;
        let mut starts_some = false;
        let mut restart = false;
        // Sequences under way.
        for target in containing(&knock) {
            let Some(seq) = knocks_of(target) else {
                continue;
            };
            if let Some((i, mut attempt)) = st.attempts.find(target) {
                handled.push(target);
                match sequence::advance(&mut attempt, seq, knock, now_ms) {
                    Outcome::Completed => {
                        st.attempts.remove(i);
                        completed.push(target);
                        explained = true;
                    }
                    Outcome::Advanced | Outcome::Duplicate => {
                        st.attempts.update(i, attempt);
                        explained = true;
                    }
                    // Starting over at this knock is a first knock again.
                    Outcome::Reset { restarted } => {
                        st.attempts.remove(i);
                        resets.push(target);
                        restart |= restarted;
                    }
                }
            }
            if seq.first() == Some(&knock) {
                if seq.len() == 1 {
                    completed.push(target);
                    explained = true;
                } else {
                    starts_some = true;
                }
            }
        }
        // Sequences whose first knock came earlier: this is their second
        // knock, or it contradicts them.
        for (slot, first, at) in st.attempts.firsts().into_iter().flatten() {
            if first == knock {
                continue;
            }
            let mut continued = false;
            let mut contradicted = 0usize;
            for target in containing(&knock) {
                let Some(seq) = knocks_of(target) else {
                    continue;
                };
                if seq.first() != Some(&first) || handled.contains(&target) {
                    continue;
                }
                if seq.get(1) == Some(&knock) {
                    continued = true;
                    explained = true;
                    if seq.len() == 2 {
                        completed.push(target);
                    } else if !fresh.iter().any(|(t, _)| *t == target) {
                        fresh.push((target, at));
                    }
                } else if !resets.contains(&target) {
                    contradicted += 1;
                    resets.push(target);
                }
            }
            // A wrong knock voids a first knock only when it contradicts
            // every sequence that first knock could begin: with many users
            // a port starts several sequences, and another user's knock
            // order says nothing about this sender's.
            // A first knock that was continued has done its work.
            let void = continued
                || (contradicted > 0
                    && contradicted
                        >= containing(&first)
                            .filter(|&t| knocks_of(t).and_then(<[Knock]>::first) == Some(&first))
                            .count());
            if void {
                st.attempts.remove(slot);
            }
        }
        completed.dedup();
        for (target, started_ms) in fresh {
            st.attempts.push(Attempt {
                target,
                progress: 2,
                started_ms,
            });
        }
        if starts_some {
            st.attempts.push_first(knock, now_ms, restart);
        }
        if !explained {
            for t in resets {
                let (method, user, door) = self.describe(t);
                self.reject(now_ms, src, user, method, || {
                    format!("sequence for door {door} reset: {knock} out of order")
                });
            }
        }
        for t in completed {
            self.complete_sequence(now_ms, src, t);
        }
    }

    fn describe(&self, t: Target) -> (Method, Option<String>, String) {
        match t {
            Target::Static(d) => (Method::Sequence, None, self.policy.doors[d].name.clone()),
            Target::Dynamic { door, user, .. } => (
                Method::DynamicSequence,
                Some(self.policy.users[user].name.clone()),
                self.policy.doors[door].name.clone(),
            ),
        }
    }

    fn complete_sequence(&mut self, now_ms: u64, src: IpAddr, t: Target) {
        match t {
            Target::Static(d) => {
                let ttl = Duration::from_secs(u64::from(self.policy.doors[d].duration));
                self.grant(src, d, src, ttl, None, Method::Sequence);
            }
            Target::Dynamic { door, user, step } => {
                let u = &self.policy.users[user];
                let name = u.name.clone();
                if !u.source_allowed(src) {
                    self.reject(now_ms, src, Some(name), Method::DynamicSequence, || {
                        format!("source {src} is outside the user's allowed ranges")
                    });
                    return;
                }
                let step_secs = self.policy.doors[door].dynamic.map_or(30, |d| d.step_secs);
                let mark = Digest::of_step(
                    "dynamic",
                    &name,
                    step,
                    self.policy.doors[door].name.as_bytes(),
                );
                let until = postern_proto::replay::step_forget_after(step, step_secs, 1);
                if let Err(e) = self
                    .replay
                    .check_and_insert(mark, until, UnixTime(now_ms / 1000))
                {
                    self.reject(now_ms, src, Some(name), Method::DynamicSequence, || {
                        format!("step {}: {e}", step.0)
                    });
                    return;
                }
                self.replay_new.push((mark, until));
                let ttl = self.policy.doors[door].duration.min(u.max_duration);
                self.grant(
                    src,
                    door,
                    src,
                    Duration::from_secs(u64::from(ttl)),
                    Some(name),
                    Method::DynamicSequence,
                );
            }
        }
    }

    /// Queues a grant; its "accepted" line is `Grant::decision`.
    fn grant(
        &mut self,
        packet_src: IpAddr,
        door: DoorIdx,
        allow: IpAddr,
        ttl: Duration,
        user: Option<String>,
        method: Method,
    ) {
        self.stats.grants += 1;
        self.events.push_back(Event::Grant(Grant {
            source: allow,
            door: self.policy.doors[door].door(),
            ttl,
            user,
            method,
            knocked_from: packet_src,
        }));
    }

    /// Logs a rejection if the rate limit allows, else counts it. The
    /// reason is built only when the line is written, so junk beyond the
    /// rate limit costs no allocation.
    fn reject(
        &mut self,
        now_ms: u64,
        src: IpAddr,
        user: Option<String>,
        method: Method,
        reason: impl FnOnce() -> String,
    ) {
        self.stats.rejected += 1;
        if self.log_bucket.take(now_ms, 1.0) {
            self.events.push_back(Event::Decision(Decision {
                accepted: false,
                source: src,
                user,
                method,
                reason: reason(),
            }));
        } else {
            self.suppressed += 1;
        }
    }
}
