//! The sequence engine: static (knockd-style) and dynamic knock sequences
//! (protocol.md §4). It owns the table of dynamic sequences expected now;
//! each source's attempts are handed in by the caller, who keeps them in
//! the bounded per-source table.
//!
//! A knock may belong to several sequences (many users' dynamic sequences
//! share a port range), so one knock is applied to every sequence it could
//! concern: first to the attempts under way, then to the recent first
//! knocks it may continue. Out-of-order knocks are reported only when no
//! sequence explains them.

mod attempts;
mod dynamic;

pub use attempts::Attempts;
#[cfg(test)]
pub use attempts::SLOTS;

use super::context::{Ctx, Opening};
use super::events::Method;
use super::policy::Policy;
use attempts::{Attempt, Outcome, Target, advance};
use dynamic::DynamicTable;
use postern_proto::UnixTime;
use postern_proto::method::sequence::Knock;
use std::net::IpAddr;

#[derive(Debug, Default)]
pub struct SequenceEngine {
    dynamic: DynamicTable,
}

/// Where a knock's sequences are looked up: the policy's static ones and
/// the dynamic table.
#[derive(Clone, Copy)]
struct Lookup<'a> {
    policy: &'a Policy,
    dynamic: &'a DynamicTable,
}

impl<'a> Lookup<'a> {
    /// The sequences a knock belongs to.
    fn containing(self, k: Knock) -> impl Iterator<Item = Target> + 'a {
        let statics = self.policy.static_knocks.get(&k).into_iter().flatten();
        let dynamics = self.dynamic.by_knock.get(&k).into_iter().flatten();
        statics
            .map(|&d| Target::Static(d))
            .chain(dynamics.map(|&(door, user, step)| Target::Dynamic { door, user, step }))
    }

    /// A sequence's knocks.
    fn knocks_of(self, t: Target) -> Option<&'a [Knock]> {
        match t {
            Target::Static(d) => self.policy.doors.get(d)?.sequence.as_deref(),
            Target::Dynamic { door, user, step } => self
                .dynamic
                .seqs
                .get(&(door, user, step))
                .map(Vec::as_slice),
        }
    }

    /// Whether `k` lies in the port range (and protocol) of a dynamic
    /// door: then it is a guess at that door's sequences, right or wrong.
    fn in_dynamic_range(self, k: Knock, door: Option<usize>) -> bool {
        let p = self.policy;
        p.dynamic_doors
            .iter()
            .filter(|&&d| door.is_none_or(|x| x == d))
            .filter_map(|&d| p.doors.get(d)?.dynamic)
            .any(|dy| dy.proto == k.proto && (dy.port_min..=dy.port_max).contains(&k.value))
    }

    /// How many sequences `first` begins.
    fn begun_by(self, first: Knock) -> usize {
        self.containing(first)
            .filter(|&t| self.knocks_of(t).and_then(<[Knock]>::first) == Some(&first))
            .count()
    }
}

/// What one knock did, collected before any of it is applied.
#[derive(Debug, Default)]
struct Effects {
    completed: Vec<Target>,
    resets: Vec<Target>,
    /// Sequences continued from a first knock: (target, first knock's time).
    fresh: Vec<(Target, u64)>,
    /// Sequences whose attempt under way took this knock.
    handled: Vec<Target>,
    /// Whether this knock is the next (or a repeated) knock of some
    /// sequence: then the others it contradicts merely share a port with
    /// it, which is not the sender's mistake, and are not reported.
    explained: bool,
    /// It is the first knock of a sequence of two or more.
    starts_some: bool,
    /// A sequence under way started over at this knock.
    restart: bool,
}

impl SequenceEngine {
    /// Brings the dynamic sequences to `now`.
    pub fn refresh(&mut self, policy: &Policy, now: UnixTime) {
        self.dynamic.refresh(policy, now);
    }

    /// One knock from `src`, past the scan guard; `attempts` are the
    /// source's.
    pub fn handle_knock(
        &self,
        ctx: &mut Ctx<'_>,
        attempts: &mut Attempts,
        src: IpAddr,
        knock: Knock,
        now_ms: u64,
    ) {
        let lk = Lookup {
            policy: ctx.policy,
            dynamic: &self.dynamic,
        };
        let in_range = lk.in_dynamic_range(knock, None);
        if !in_range && lk.containing(knock).next().is_none() {
            return;
        }
        let timeout_ms = ctx.policy.limits.seq_timeout.saturating_mul(1000);
        attempts.expire(now_ms, timeout_ms);
        let mut e = Effects::default();
        advance_under_way(lk, attempts, knock, now_ms, &mut e);
        continue_firsts(lk, attempts, knock, in_range, &mut e);
        if in_range {
            void_guessed(lk, attempts, knock, &mut e);
        }
        e.completed.dedup();
        for &(target, started_ms) in &e.fresh {
            attempts.push(Attempt {
                target,
                progress: 2,
                started_ms,
            });
        }
        if e.starts_some {
            attempts.push_first(knock, now_ms, e.restart);
        }
        if !e.explained {
            for &t in &e.resets {
                let (method, user, door) = describe(ctx.policy, t);
                ctx.reject(now_ms, src, user, method, || {
                    format!("sequence for door {door} reset: {knock} out of order")
                });
            }
        }
        for &t in &e.completed {
            complete(ctx, now_ms, src, t);
        }
    }
}

/// Applies the knock to the sequences under way that it belongs to, and
/// notes whether it begins some.
fn advance_under_way(
    lk: Lookup<'_>,
    attempts: &mut Attempts,
    knock: Knock,
    now_ms: u64,
    e: &mut Effects,
) {
    for target in lk.containing(knock) {
        let Some(seq) = lk.knocks_of(target) else {
            continue;
        };
        if let Some((i, mut attempt)) = attempts.find(target) {
            e.handled.push(target);
            match advance(&mut attempt, seq, knock, now_ms) {
                Outcome::Completed => {
                    attempts.remove(i);
                    e.completed.push(target);
                    e.explained = true;
                }
                Outcome::Advanced | Outcome::Duplicate => {
                    attempts.update(i, attempt);
                    e.explained = true;
                }
                // Starting over at this knock is a first knock again.
                Outcome::Reset { restarted } => {
                    attempts.remove(i);
                    e.resets.push(target);
                    e.restart |= restarted;
                }
            }
        }
        if seq.first() == Some(&knock) {
            if seq.len() == 1 {
                e.completed.push(target);
                e.explained = true;
            } else {
                e.starts_some = true;
            }
        }
    }
}

/// A knock inside a dynamic door's port range that did not advance a
/// dynamic sequence under way there voids it. Stops: brute force. If wrong
/// knocks were merely ignored, a guesser could spray the range and let the
/// right ports advance the attempt whenever they came up; now each try
/// must get every knock right in order, so it costs the full 48+ bits.
fn void_guessed(lk: Lookup<'_>, attempts: &mut Attempts, knock: Knock, e: &mut Effects) {
    for (slot, a) in attempts.under_way().into_iter().flatten() {
        let Target::Dynamic { door, .. } = a.target else {
            continue;
        };
        if e.handled.contains(&a.target)
            || e.fresh.iter().any(|(t, _)| *t == a.target)
            || !lk.in_dynamic_range(knock, Some(door))
        {
            continue;
        }
        attempts.remove(slot);
        if !e.resets.contains(&a.target) {
            e.resets.push(a.target);
        }
    }
}

/// Sequences whose first knock came earlier: this is their second knock,
/// or it contradicts them. `in_range`: the knock lies in a dynamic door's
/// range, so a first knock there that it does not continue is voided (see
/// [`void_guessed`]).
fn continue_firsts(
    lk: Lookup<'_>,
    attempts: &mut Attempts,
    knock: Knock,
    in_range: bool,
    e: &mut Effects,
) {
    for (slot, first, at) in attempts.firsts().into_iter().flatten() {
        if first == knock {
            continue;
        }
        let mut continued = false;
        let mut contradicted = 0usize;
        for target in lk.containing(knock) {
            let Some(seq) = lk.knocks_of(target) else {
                continue;
            };
            if seq.first() != Some(&first) || e.handled.contains(&target) {
                continue;
            }
            if seq.get(1) == Some(&knock) {
                continued = true;
                e.explained = true;
                if seq.len() == 2 {
                    e.completed.push(target);
                } else if !e.fresh.iter().any(|(t, _)| *t == target) {
                    e.fresh.push((target, at));
                }
            } else if !e.resets.contains(&target) {
                contradicted += 1;
                e.resets.push(target);
            }
        }
        // A wrong knock voids a first knock only when it contradicts
        // every sequence that first knock could begin: with many users a
        // port starts several sequences, and another user's knock order
        // says nothing about this sender's. A first knock that was
        // continued has done its work.
        let guessed = in_range && lk.in_dynamic_range(first, None);
        if continued || guessed || (contradicted > 0 && contradicted >= lk.begun_by(first)) {
            attempts.remove(slot);
        }
    }
}

/// Method, user and door name of a sequence, for its log lines.
fn describe(policy: &Policy, t: Target) -> (Method, Option<String>, String) {
    let door_name = |d: usize| policy.doors.get(d).map(|d| d.name.clone());
    match t {
        Target::Static(d) => (Method::Sequence, None, door_name(d).unwrap_or_default()),
        Target::Dynamic { door, user, .. } => (
            Method::DynamicSequence,
            policy.users.get(user).map(|u| u.name.clone()),
            door_name(door).unwrap_or_default(),
        ),
    }
}

/// A finished sequence: grant its door. A dynamic sequence is the user's
/// for one step, so it may open once: its replay mark is recorded first.
fn complete(ctx: &mut Ctx<'_>, now_ms: u64, src: IpAddr, t: Target) {
    match t {
        Target::Static(d) => {
            let Some(door) = ctx.policy.doors.get(d) else {
                return;
            };
            let o = Opening {
                knocked_from: src,
                allow: src,
                ttl_secs: u64::from(door.duration),
                user: None,
                method: Method::Sequence,
                standing: Default::default(),
            };
            ctx.grant(now_ms, d, &o);
        }
        Target::Dynamic { door, user, step } => {
            // The policy outlives the context borrow: look both up once.
            let policy = ctx.policy;
            let (Some(d), Some(u)) = (policy.doors.get(door), policy.users.get(user)) else {
                return;
            };
            let step_secs = d.dynamic.map_or(30, |dy| dy.step_secs);
            ctx.grant_step_keyed(
                now_ms,
                src,
                door,
                u,
                Method::DynamicSequence,
                ("dynamic", d.name.as_bytes()),
                (step, step_secs),
            );
        }
    }
}
