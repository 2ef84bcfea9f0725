//! The matcher: a pure state machine from captured packets to grants and,
//! at their deadlines, revokes.
//!
//! It never reads a clock, a socket or a file. Use it like this:
//!
//! 1. [`Matcher::handle_packet`] for every captured packet, with the wall
//!    time in milliseconds;
//! 2. [`Matcher::poll_event`] until `None`: grants to install, revokes to
//!    carry out and decisions to log, in order;
//! 3. [`Matcher::take_replay_update`] before installing a grant, and persist
//!    it, so a restart cannot make a used packet valid again;
//! 4. [`Matcher::handle_timeout`] whenever [`Matcher::poll_timeout`] says,
//!    then 2. again: that is when grants expire. A firewall whose kernel
//!    expires grants by itself may ignore [`RevokeWhy::Expired`].
//! 5. [`Matcher::reload`] with a new [`Policy`] when the configuration
//!    changes, then 2.
//!
//! This module only dispatches: each job owns its state in its own module
//! — the SPA verifier ([`spa`]), the SYN-token verifier ([`syn`]), the scan
//! guard ([`scan`]) and the sequence engine ([`sequence`]) decide; the live
//! grants ([`grants`]), the replay cache ([`replay`]) and the log limit
//! ([`log_limit`]) are the shared context ([`context`]) they decide into.
//!
//! Cheap checks come first (port lookups, the key-id table), crypto only
//! for candidates that pass them, and a work budget bounds the crypto a
//! flood can cause. Bad knocks never produce a reply; rejections are logged
//! under a rate limit and summarized beyond it.

mod context;
mod events;
mod fwknop;
mod grants;
mod guess;
mod log_limit;
mod policy;
mod ratelimit;
mod reload;
mod replay;
mod scan;
mod sequence;
mod sources;
mod spa;
mod syn;
#[cfg(test)]
pub(crate) mod tests;

pub use events::{Decision, Event, Evidence, Grant, LiveGrant, Method, Revoke, RevokeWhy, Stats};
pub use guess::{DEFAULT_GUESSES_PER_PREFIX, DEFAULT_GUESSES_PER_SOURCE, MAX_GUESSES_PER_WINDOW};
pub use policy::{
    DEFAULT_MAX_GRANTS, DEFAULT_MAX_UNAUTH_GRANTS, DEFAULT_UNAUTH_GRANT_RATE,
    DEFAULT_USER_MAX_GRANTS, DEFAULT_USER_REPLAY_QUOTA, KeyEnd, Limits, Policy, PolicyDoor,
    PolicyUser, SpaListen, Standing, SynToken, UserIdx, key_id_radius,
};
pub use sources::SourceTable;

use crate::packet::{Packet, Transport};
use context::{Ctx, Output};
use fwknop::FwknopVerifier;
use postern_proto::UnixTime;
use postern_proto::method::KnockProto;
use postern_proto::method::sequence::Knock;
use postern_proto::replay::Digest;
use replay::Replay;
use sequence::SequenceEngine;
use spa::SpaVerifier;
use syn::SynVerifier;

#[derive(Debug)]
pub struct Matcher {
    policy: Policy,
    replay: Replay,
    out: Output,
    /// Per-source state of the scan guard and the sequence engine, under
    /// one memory bound.
    sources: SourceTable,
    /// The scan guard's windows per network (/64, /24), keyed by the
    /// network address ([`sources::prefix_of`]).
    networks: SourceTable,
    sequences: SequenceEngine,
    spa: SpaVerifier,
    syn: SynVerifier,
    fwknop: FwknopVerifier,
    next_housekeeping_ms: u64,
}

/// How often `handle_timeout` wants to run besides grant deadlines.
const HOUSEKEEPING_MS: u64 = 1000;

impl Matcher {
    pub fn new(policy: Policy, now_ms: u64) -> Self {
        let limits = policy.limits;
        let mut m = Matcher {
            replay: Replay::new(limits.replay_capacity),
            out: Output::new(&limits, now_ms),
            sources: SourceTable::new(limits.max_sources),
            networks: SourceTable::new(limits.max_sources),
            sequences: SequenceEngine::default(),
            spa: SpaVerifier::new(&policy),
            syn: SynVerifier::new(&limits),
            fwknop: FwknopVerifier::new(&limits),
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
            ..self.out.stats
        }
    }

    pub fn sources(&self) -> &SourceTable {
        &self.sources
    }

    /// The grants given and not yet revoked, earliest deadline first.
    pub fn live_grants(&self) -> impl Iterator<Item = LiveGrant> + '_ {
        self.out.grants.iter()
    }

    /// Live grants tracked, and how many of them are unauthenticated (at
    /// most `max_grants` and `max_unauth_grants`).
    pub fn grant_counts(&self) -> (usize, usize) {
        (self.out.grants.len(), self.out.grants.unauth_len())
    }

    /// Restores the persisted replay cache (after a restart).
    pub fn restore_replay(&mut self, entries: Vec<(Digest, UnixTime)>, now_ms: u64) {
        self.replay.restore(entries, UnixTime(now_ms / 1000));
    }

    /// Replay marks added since the last call, if any. Persist them before
    /// installing the grants polled since.
    pub fn take_replay_update(&mut self) -> Option<Vec<(Digest, UnixTime)>> {
        self.replay.take_update()
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
        self.out.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should run next (wall
    /// ms): the next housekeeping or the earliest grant deadline.
    pub fn poll_timeout(&self) -> u64 {
        self.out
            .grants
            .next_deadline()
            .map_or(self.next_housekeeping_ms, |d| {
                d.min(self.next_housekeeping_ms)
            })
    }

    /// Revokes the grants whose deadline has passed, then housekeeping:
    /// rotate key ids and dynamic sequences with the clock, forget idle
    /// sources and expired replay entries, summarize suppressed log lines.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        while let Some(r) = self.out.grants.pop_expired(now_ms) {
            self.out.stats.revoked += 1;
            self.out.events.push_back(Event::Revoke(r));
        }
        let now = UnixTime(now_ms / 1000);
        self.spa.advance(now);
        self.sequences.refresh(&self.policy, now);
        let l = self.policy.limits;
        let idle = l.seq_timeout.max(l.scan_window).saturating_mul(1000);
        self.sources.expire_idle(now_ms, idle);
        self.networks.expire_idle(now_ms, idle);
        if self.out.log.summary_due(now_ms) {
            self.replay.prune(now);
            if let Some(e) = self.out.log.summarize(now_ms) {
                self.out.events.push_back(e);
            }
        }
        self.next_housekeeping_ms = now_ms.saturating_add(HOUSEKEEPING_MS);
    }

    /// Feeds one captured packet.
    pub fn handle_packet(&mut self, now_ms: u64, pkt: &Packet<'_>) {
        self.out.stats.packets += 1;
        if now_ms >= self.poll_timeout() {
            self.handle_timeout(now_ms);
        }
        let mut ctx = Ctx {
            policy: &self.policy,
            replay: &mut self.replay,
            out: &mut self.out,
        };
        let knock = match pkt.transport {
            // fwknop first: on a port shared with Postern's SPA, what is not
            // base64 text goes on to the SPA verifier.
            Transport::Udp {
                dst_port, payload, ..
            } if dst_port == ctx.policy.fwknop_port && !ctx.policy.fwknop_users.is_empty() => {
                let shared = dst_port == ctx.policy.spa.port;
                if !self
                    .fwknop
                    .handle(&mut ctx, now_ms, pkt.src, payload, shared)
                    && shared
                {
                    self.spa.handle(&mut ctx, now_ms, pkt.src, payload, false);
                }
                return;
            }
            Transport::Udp {
                dst_port, payload, ..
            } if dst_port == ctx.policy.spa.port => {
                self.spa.handle(&mut ctx, now_ms, pkt.src, payload, false);
                return;
            }
            Transport::Udp { dst_port, .. } => Knock {
                proto: KnockProto::Udp,
                value: dst_port,
            },
            Transport::IcmpEcho { payload } => {
                if ctx.policy.spa.icmp && self.spa.handle(&mut ctx, now_ms, pkt.src, payload, true)
                {
                    return;
                }
                Knock {
                    proto: KnockProto::Icmp,
                    value: u16::try_from(payload.len()).unwrap_or(u16::MAX),
                }
            }
            Transport::Tcp {
                dst_port,
                src_port,
                seq,
                syn: true,
                ack: false,
            } => {
                let sources = &mut self.sources;
                if self
                    .syn
                    .handle(&mut ctx, sources, now_ms, pkt.src, dst_port, src_port, seq)
                {
                    return;
                }
                Knock {
                    proto: KnockProto::Tcp,
                    value: dst_port,
                }
            }
            Transport::Tcp { .. } => return,
        };
        let src = pkt.src;
        let net = sources::prefix_of(src);
        let nw = &mut self.networks.get_or_insert(net, now_ms).scan;
        let st = self.sources.get_or_insert(src, now_ms);
        if scan::admit(&mut ctx, &mut st.scan, &mut st.attempts, src, knock, now_ms)
            && scan::admit_network(&mut ctx, nw, &mut st.attempts, src, net, knock, now_ms)
        {
            self.sequences
                .handle_knock(&mut ctx, &mut st.attempts, src, knock, now_ms);
        }
    }

    /// Applies a new policy. Keeps the replay cache (a used knock stays
    /// used), the counters, the scan-guard windows and the live grants the
    /// new policy still allows (see [`reload::revoke_why`]); emits
    /// [`Event::Revoke`] for the others. Drops half-done sequence attempts:
    /// their door and user indexes may mean others now.
    pub fn reload(&mut self, policy: Policy, now_ms: u64) {
        let old = std::mem::replace(&mut self.policy, policy);
        let new = &self.policy;
        let l = new.limits;
        let out = &mut self.out;
        let mut revoked = out
            .grants
            .revoke_where(|src, door, user| reload::revoke_why(&old, new, src, door, user));
        revoked.extend(out.grants.set_capacity(l.max_grants, l.max_unauth_grants));
        out.stats.revoked += revoked.len() as u64;
        out.events.extend(revoked.into_iter().map(Event::Revoke));
        out.log.set_rate(l.log_rate);
        out.set_unauth_rate(l.unauth_grant_rate);
        self.replay
            .set_capacity(l.replay_capacity, UnixTime(now_ms / 1000));
        self.sources.reload(l.max_sources);
        self.networks.reload(l.max_sources);
        self.syn.reload(&l);
        self.sequences = SequenceEngine::default();
        self.spa = SpaVerifier::new(new);
        self.handle_timeout(now_ms);
    }
}
