//! What every verifier shares: the policy to decide by, the replay cache,
//! and the output side (events, log limit, live grants, counters). A
//! verifier gets it as a [`Ctx`] argument and owns only its own state.

use super::events::{Decision, Event, Grant, Method, Stats};
use super::grants::GrantTable;
use super::log_limit::LogLimit;
use super::policy::{DoorIdx, Limits, Policy, PolicyUser, Standing};
use super::ratelimit::Bucket;
use super::replay::Replay;
use postern_proto::replay::{Digest, step_forget_after};
use postern_proto::{Step, UnixTime};
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

/// Where decisions go: the event queue, the rejection rate limit, the
/// live grants and the counters.
#[derive(Debug)]
pub struct Output {
    pub events: VecDeque<Event>,
    pub log: LogLimit,
    pub grants: GrantTable,
    pub stats: Stats,
    /// The global budget of unauthenticated grants
    /// ([`Limits::unauth_grant_rate`]).
    unauth_budget: Bucket,
    unauth_rate: u32,
}

impl Output {
    pub fn new(limits: &Limits, now_ms: u64) -> Self {
        Output {
            events: VecDeque::new(),
            log: LogLimit::new(limits.log_rate, now_ms),
            grants: GrantTable::with_unauth(limits.max_grants, limits.max_unauth_grants),
            stats: Stats::default(),
            unauth_budget: Bucket::new(limits.unauth_grant_rate, limits.unauth_grant_rate),
            unauth_rate: limits.unauth_grant_rate,
        }
    }

    /// Applies reloaded limits to the budget (a new rate starts full).
    pub fn set_unauth_rate(&mut self, rate: u32) {
        if rate != self.unauth_rate {
            self.unauth_budget = Bucket::new(rate, rate);
            self.unauth_rate = rate;
        }
    }

    /// A rejection's log line: out of line, as most junk is never logged.
    #[cold]
    fn log_rejection(&mut self, src: IpAddr, user: Option<String>, method: Method, reason: String) {
        self.events.push_back(Event::Decision(Decision {
            accepted: false,
            source: src,
            user,
            method,
            reason,
        }));
    }
}

/// A replay mark to record before granting: a knock may open once.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    pub digest: Digest,
    pub forget_after: UnixTime,
    /// The time step a step-based knock was for; named in a refusal.
    pub step: Option<Step>,
}

/// Who is let in where from a knock, for how long.
#[derive(Debug, Clone)]
pub struct Opening {
    /// The knock packet's source.
    pub knocked_from: IpAddr,
    /// The address let in (an SPA packet may name another).
    pub allow: IpAddr,
    pub ttl_secs: u64,
    pub user: Option<String>,
    pub method: Method,
    /// The lifecycle of the key that knocked (default for user-less
    /// knocks); [`Ctx::burn_then_grant`] refuses a disabled, expired or
    /// rotated-out one.
    pub standing: Standing,
}

#[derive(Debug)]
pub struct Ctx<'a> {
    pub policy: &'a Policy,
    pub replay: &'a mut Replay,
    pub out: &'a mut Output,
}

impl Ctx<'_> {
    /// Logs a rejection if the rate limit allows, else counts it. The
    /// reason is built only when the line is written, so junk beyond the
    /// rate limit costs no allocation. Inlined: it is on the path of every
    /// junk packet, where the line is almost never written.
    #[inline]
    pub fn reject(
        &mut self,
        now_ms: u64,
        src: IpAddr,
        user: Option<String>,
        method: Method,
        reason: impl FnOnce() -> String,
    ) {
        self.out.stats.rejected += 1;
        if self.out.log.admit(now_ms) {
            self.out.log_rejection(src, user, method, reason());
        }
    }

    /// Queues a grant of `door` and tracks it until its deadline; its
    /// "accepted" line is `Grant::decision`. A grant pushed out of a full
    /// table is revoked first.
    ///
    /// An unauthenticated grant (no user) first takes from the global
    /// budget: when it is spent the knock is refused, under the rejection
    /// log's rate limit, so a flood of forged static knocks costs neither
    /// firewall writes nor "accepted" lines beyond the budget. A user over
    /// their grant quota is refused likewise.
    pub fn grant(&mut self, now_ms: u64, door: DoorIdx, o: &Opening) {
        let Some(d) = self.policy.doors.get(door) else {
            return;
        };
        let renewal = self.out.grants.contains(o.allow, d.door);
        match &o.user {
            None if !self.out.unauth_budget.take(now_ms, 1.0) => {
                let rate = self.policy.limits.unauth_grant_rate;
                self.reject(now_ms, o.knocked_from, None, o.method, || {
                    format!(
                        "grant budget for unauthenticated knocks ({rate}/s) spent; door {} not opened",
                        d.name
                    )
                });
                return;
            }
            Some(u) if !renewal && self.over_grant_quota(u) => {
                let quota = self.policy.limits.user_max_grants;
                self.reject(now_ms, o.knocked_from, o.user.clone(), o.method, || {
                    format!(
                        "user holds {quota} grants (their quota); door {} not opened",
                        d.name
                    )
                });
                return;
            }
            _ => {}
        }
        let ttl = Duration::from_secs(o.ttl_secs);
        let expires_ms = now_ms.saturating_add(o.ttl_secs.saturating_mul(1000));
        let out = &mut *self.out;
        if let Some(r) = out
            .grants
            .insert(o.allow, d.door, expires_ms, o.user.clone())
        {
            out.stats.revoked += 1;
            out.events.push_back(Event::Revoke(r));
        }
        out.stats.grants += 1;
        out.events.push_back(Event::Grant(Grant {
            source: o.allow,
            door: d.door,
            ttl,
            expires_ms,
            user: o.user.clone(),
            method: o.method,
            knocked_from: o.knocked_from,
        }));
    }

    /// A step-keyed knock (dynamic sequence, keyed SYN token) by `user`
    /// completed from `src`: refused when `src` is outside the user's
    /// ranges, else burned once per (method `scope`, user, `step`,
    /// `subject`) and granted for the door's duration capped at the user's.
    #[allow(clippy::too_many_arguments)]
    pub fn grant_step_keyed(
        &mut self,
        now_ms: u64,
        src: IpAddr,
        door: DoorIdx,
        user: &PolicyUser,
        method: Method,
        (scope, subject): (&str, &[u8]),
        (step, step_secs): (Step, u64),
    ) {
        let Some(d) = self.policy.doors.get(door) else {
            return;
        };
        let name = user.name.clone();
        if !user.source_allowed(src) {
            self.reject(now_ms, src, Some(name), method, || {
                format!("source {src} is outside the user's allowed ranges")
            });
            return;
        }
        let mark = Mark {
            digest: Digest::of_step(scope, &name, step, subject),
            forget_after: step_forget_after(step, step_secs, 1),
            step: Some(step),
        };
        let o = Opening {
            knocked_from: src,
            allow: src,
            ttl_secs: u64::from(d.duration.min(user.max_duration)),
            user: Some(name),
            method,
            standing: user.standing,
        };
        self.burn_then_grant(now_ms, mark, &o, &[door]);
    }

    /// Records `mark`, then grants `doors`: the one path from a one-time
    /// knock to a grant, so no grant is queued whose mark is not in the
    /// cache (and in the next `take_replay_update`). A replayed knock, or a
    /// full cache, is refused and logged instead; returns whether granted.
    ///
    /// Every authenticated method (SPA, fwknop, dynamic sequences, keyed
    /// SYN tokens) comes through here once the knock proved its key, so
    /// this is the one place a disabled, expired or rotated-out key is
    /// refused: before its mark is burned, so re-enabling a user makes
    /// their next knock work.
    pub fn burn_then_grant(
        &mut self,
        now_ms: u64,
        mark: Mark,
        o: &Opening,
        doors: &[DoorIdx],
    ) -> bool {
        let now = UnixTime(now_ms / 1000);
        if let Some(why) = o.standing.refusal(now) {
            self.reject(now_ms, o.knocked_from, o.user.clone(), o.method, || why);
            return false;
        }
        if let Some(u) = &o.user {
            let quota = self.policy.limits.user_replay_quota;
            if self.replay.user_len(u, now) >= quota {
                self.reject(now_ms, o.knocked_from, o.user.clone(), o.method, || {
                    format!("user holds {quota} replay marks (their quota); knock refused")
                });
                return false;
            }
        }
        if let Err(e) = self
            .replay
            .burn(mark.digest, mark.forget_after, now, o.user.as_deref())
        {
            self.reject(
                now_ms,
                o.knocked_from,
                o.user.clone(),
                o.method,
                || match mark.step {
                    Some(s) => format!("step {}: {e}", s.0),
                    None => e.to_string(),
                },
            );
            return false;
        }
        for &d in doors {
            self.grant(now_ms, d, o);
        }
        true
    }

    fn over_grant_quota(&self, user: &str) -> bool {
        self.out.grants.user_len(user) >= self.policy.limits.user_max_grants
    }
}
