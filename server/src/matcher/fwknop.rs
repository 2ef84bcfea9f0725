//! The fwknop verifier (protocol.md §11.4): packets from fwknop 2.6 clients,
//! for users that have fwknop keys, with the checks of Postern's own SPA
//! (matcher/spa.rs) in the same order: the user (by HMAC), the message,
//! time, source ranges, the bound address, the doors, then the replay mark
//! and the grant in one step ([`Ctx::burn_then_grant`]).
//!
//! fwknop packets carry no key id, so the user is found by trying each
//! fwknop user's HMAC key, as fwknopd tries its access.conf stanzas: one
//! HMAC-SHA256 per user, before any decryption. That makes every
//! base64-looking datagram at the port cost an HMAC per user, so the cheap
//! checks come first (length range, base64 alphabet, a length that fits
//! the user's digest type) and a work budget, [`FWKNOP_HMACS_PER_SEC`],
//! bounds the rest.

use super::context::{Ctx, Mark, Opening};
use super::events::Method;
use super::guess::{GuessGuard, Tripped};
use super::policy::Limits;
use super::policy::UserIdx;
use super::ratelimit::Bucket;
use super::spa::admit;
use postern_proto::method::fwknop::{self, FwknopError, FwknopMessage};
use postern_proto::replay::spa_forget_after;
use postern_proto::wire::spa::AllowAddr;
use std::net::IpAddr;

/// fwknop HMACs allowed per second, over all users and sources.
///
/// The attack: a flood of base64 text at UDP 62201 (anyone can send it,
/// from forged sources) costs one HMAC per fwknop user per datagram; at
/// 120 000 datagrams/s and 10 users that is 1.2 million HMACs a second,
/// more than this machine's two cores can do. Measured here (release
/// build, SHA-NI), a wrong-key check costs 2.5 µs for a 204-byte packet
/// (what fwknop 2.6 sends) and 8 µs for the largest accepted, 1500 bytes.
/// 10 000 per second caps a flood at 25 ms of one core per second for
/// packets of real size and 80 ms (8 %) for the worst, while leaving room
/// for 10 000 knocks a second from a single user or 100 a second with 100
/// users — far above what people knocking need. Beyond the budget a
/// datagram is dropped unchecked (counted in the suppressed-lines summary),
/// so during a flood from forged sources a real packet gets through with a
/// chance of budget / flood; it opens normally once the flood stops. A
/// flood from one address or network cannot do that: see
/// [`FWKNOP_FAILS_PER_SOURCE`]. Postern's own SPA on the same port is not
/// touched: its packets never reach here.
pub const FWKNOP_HMACS_PER_SEC: u32 = 10_000;

/// Packets no fwknop user's HMAC key matches that one address may send per
/// minute ([`super::guess::GUESS_WINDOW_MS`]) before its packets are dropped unchecked
/// for the rest of the minute.
///
/// The attack: one address (or one network, below) floods base64 at the
/// port and spends the whole [`FWKNOP_HMACS_PER_SEC`] budget, so every
/// real knock from anywhere else is dropped unchecked. With this cap the
/// flooder buys 30 checks a minute and the budget stays with everyone
/// else. A real client fails only with wrong keys or a packet for another
/// server: a few a minute. (The keys are 256-bit: the cap is about work,
/// not guessing.)
pub const FWKNOP_FAILS_PER_SOURCE: u32 = 30;
/// The same per /24 (IPv4) or /64 (IPv6): an attacker holding a /64 has
/// 2^64 addresses. Four times the per-address cap leaves room for a few
/// users behind one NAT. Floods from forged addresses all over the
/// internet remain bounded only by the global budget: fwknop's packets
/// carry no key id, so nothing cheaper than an HMAC tells them apart.
pub const FWKNOP_FAILS_PER_NETWORK: u32 = 120;

/// The fwknop verifier's state: its work budget and the per-source guard.
#[derive(Debug)]
pub struct FwknopVerifier {
    work: Bucket,
    fails: GuessGuard,
}

impl FwknopVerifier {
    /// `max_sources` bounds the guard's memory like the source table's.
    pub fn new(limits: &Limits) -> Self {
        FwknopVerifier {
            work: Bucket::new(FWKNOP_HMACS_PER_SEC, FWKNOP_HMACS_PER_SEC),
            fails: GuessGuard::new(
                limits.max_sources,
                FWKNOP_FAILS_PER_SOURCE,
                FWKNOP_FAILS_PER_NETWORK,
            ),
        }
    }
}

impl FwknopVerifier {
    /// Handles a datagram to the fwknop port. Returns whether it was
    /// fwknop data; when it is not, it is rejected here unless `shared`
    /// (the port is also Postern's SPA port, whose verifier takes it next).
    pub fn handle(
        &mut self,
        ctx: &mut Ctx<'_>,
        now_ms: u64,
        src: IpAddr,
        payload: &[u8],
        shared: bool,
    ) -> bool {
        if let Err(e) = fwknop::looks_like(payload) {
            if !shared {
                ctx.reject(now_ms, src, None, Method::Fwknop, || e.to_string());
            }
            return false;
        }
        let policy = ctx.policy;
        let fits = |i: &UserIdx| {
            policy
                .users
                .get(*i)
                .and_then(|u| u.fwknop.as_ref())
                .is_some_and(|k| fwknop::fits(k.hmac_type, payload.len()))
        };
        let candidates: Vec<UserIdx> = policy.fwknop_users.iter().copied().filter(fits).collect();
        if candidates.is_empty() {
            ctx.reject(now_ms, src, None, Method::Fwknop, || {
                format!(
                    "not fwknop SPA data: {} bytes fit no fwknop user's HMAC digest type",
                    payload.len()
                )
            });
            return true;
        }
        if self.fails.blocks(src, now_ms) || !self.work.take(now_ms, candidates.len() as f64) {
            // Over its source's cap or the budget: dropped unchecked, only
            // counted.
            ctx.out.log.suppress();
            ctx.out.stats.rejected += 1;
            return true;
        }
        let Some(found) = find_user(ctx, payload, &candidates) else {
            let tripped = self.fails.fail(src, now_ms);
            ctx.reject(now_ms, src, None, Method::Fwknop, || match tripped {
                Tripped::No => "no fwknop user's HMAC key matches (wrong keys, or a packet for \
                                another server)"
                    .into(),
                Tripped::Now { who, prefix } => format!(
                    "no fwknop user's HMAC key matches; {} {who} sent {} such packets this \
                     minute, the rest of its packets are dropped unchecked until the minute ends",
                    if prefix { "network" } else { "address" },
                    if prefix {
                        FWKNOP_FAILS_PER_NETWORK
                    } else {
                        FWKNOP_FAILS_PER_SOURCE
                    }
                ),
            });
            return true;
        };
        verify(ctx, now_ms, src, payload, found);
        true
    }
}

/// The checks after the user's HMAC matched.
fn verify(
    ctx: &mut Ctx<'_>,
    now_ms: u64,
    src: IpAddr,
    payload: &[u8],
    (uidx, opened): (UserIdx, Result<FwknopMessage, FwknopError>),
) {
    let policy = ctx.policy;
    let Some(u) = policy.users.get(uidx) else {
        return;
    };
    let user = u.name.clone();
    let m = match opened {
        Ok(m) => m,
        Err(e) => {
            ctx.reject(now_ms, src, Some(user), Method::Fwknop, || e.to_string());
            return;
        }
    };
    let max_skew = policy.limits.max_skew;
    // 0.0.0.0 is fwknop's "the address this packet comes from" (`-s`).
    let asked = if m.access.is_source() {
        AllowAddr::Source
    } else {
        AllowAddr::Explicit(m.access.addr)
    };
    let Some(allow) = admit(ctx, now_ms, src, u, m.timestamp, asked, Method::Fwknop) else {
        return;
    };
    let Some(doors) = doors_of(ctx, now_ms, src, uidx, &m) else {
        return;
    };
    let mark = Mark {
        digest: fwknop::replay_digest(payload),
        forget_after: spa_forget_after(m.timestamp, max_skew),
        step: None,
    };
    // Without a client timeout the grant lasts the door's duration (what
    // fwknopd's FW_ACCESS_TIMEOUT was); fwknop's `-f` may ask for another,
    // up to what each door allows SPA (MAX_FW_TIMEOUT); the user's cap
    // bounds both.
    let of_doors = |f: fn(&super::policy::PolicyDoor) -> u32| {
        doors
            .iter()
            .filter_map(|&i| policy.doors.get(i))
            .map(f)
            .min()
            .unwrap_or(1)
            .min(u.max_duration)
            .max(1)
    };
    let ttl = match m.client_timeout {
        Some(t) => t.clamp(1, of_doors(|d| d.spa_cap())),
        None => of_doors(|d| d.duration),
    };
    let o = Opening {
        knocked_from: src,
        allow,
        ttl_secs: u64::from(ttl),
        user: Some(user),
        method: Method::Fwknop,
        standing: u.standing,
    };
    ctx.burn_then_grant(now_ms, mark, &o, &doors);
}

/// The first fwknop user whose HMAC key matches, with what opening the
/// packet under their keys gave.
fn find_user(
    ctx: &Ctx<'_>,
    payload: &[u8],
    candidates: &[UserIdx],
) -> Option<(UserIdx, Result<FwknopMessage, FwknopError>)> {
    candidates.iter().find_map(|&i| {
        let keys = ctx.policy.users.get(i)?.fwknop.as_ref()?;
        match fwknop::open(keys, payload) {
            Err(FwknopError::Hmac) => None,
            r => Some((i, r)),
        }
    })
}

/// The requested doors, each one an SPA door this user may open; `None`
/// after rejecting the packet.
fn doors_of(
    ctx: &mut Ctx<'_>,
    now_ms: u64,
    src: IpAddr,
    uidx: UserIdx,
    m: &FwknopMessage,
) -> Option<Vec<usize>> {
    let policy = ctx.policy;
    let mut doors = Vec::with_capacity(m.access.doors.len());
    for d in &m.access.doors {
        let found = policy
            .doors
            .iter()
            .position(|c| c.spa && c.door == *d)
            .filter(|&i| policy.user_may(uidx, i));
        match found {
            Some(i) if !doors.contains(&i) => doors.push(i),
            Some(_) => {}
            None => {
                let user = policy.users.get(uidx).map(|u| u.name.clone());
                ctx.reject(now_ms, src, user, Method::Fwknop, || {
                    format!("door {d} is not open to this user by SPA")
                });
                return None;
            }
        }
    }
    Some(doors)
}
