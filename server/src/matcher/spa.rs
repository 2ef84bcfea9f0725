//! The SPA verifier (protocol.md §3.5), in the order of the spec: cheap
//! checks first, then crypto, then time, replay and policy. It owns the
//! key-id table that finds a packet's user without trying every key.

use super::context::{Ctx, Mark, Opening};
use super::events::Method;
use super::policy::{Policy, PolicyUser, UserIdx, key_id_radius};
use postern_proto::UnixTime;
use postern_proto::keyid::KeyIdTable;
use postern_proto::method::spa::{self, SpaError};
use postern_proto::replay::spa_forget_after;
use postern_proto::wire::spa::{AllowAddr, SpaPacket};
use std::net::IpAddr;

#[derive(Debug)]
pub struct SpaVerifier {
    keyids: KeyIdTable<UserIdx>,
}

impl SpaVerifier {
    /// The key-id table for `policy`'s users, recognizing ids just beyond
    /// `max_skew` ([`key_id_radius`]); empty until the first
    /// [`advance`](Self::advance).
    pub fn new(policy: &Policy) -> Self {
        let users = policy
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (i, u.key.clone()))
            .collect();
        SpaVerifier {
            keyids: KeyIdTable::new(
                policy.server_id,
                users,
                key_id_radius(policy.limits.max_skew),
            ),
        }
    }

    /// Rotates the key ids with the clock.
    pub fn advance(&mut self, now: UnixTime) {
        self.keyids.advance(now);
    }

    /// Handles a possible SPA datagram. Returns whether it was one (its key
    /// id was known); for ICMP, unknown payloads fall back to ICMP knocks.
    pub fn handle(
        &self,
        ctx: &mut Ctx<'_>,
        now_ms: u64,
        src: IpAddr,
        payload: &[u8],
        icmp: bool,
    ) -> bool {
        let pkt = match SpaPacket::new_checked(payload) {
            Ok(p) => p,
            Err(e) => {
                if !icmp {
                    ctx.reject(now_ms, src, None, Method::Spa, || {
                        format!("not an SPA packet: {e}")
                    });
                }
                return false;
            }
        };
        let Some(hit) = self.keyids.lookup(&pkt.key_id()) else {
            if !icmp {
                ctx.reject(now_ms, src, None, Method::Spa, || "unknown key id (no user of this server: wrong key, or a packet for another server)".into());
            }
            return false;
        };
        let uidx = *hit.user;
        let policy = ctx.policy;
        let Some(u) = policy.users.get(uidx) else {
            return false;
        };
        let user = u.name.clone();
        let req = match spa::open(hit.key, &policy.server_id, &pkt) {
            Ok(r) => r,
            Err(e) => {
                ctx.reject(now_ms, src, Some(user), Method::Spa, || e.to_string());
                return true;
            }
        };
        let max_skew = policy.limits.max_skew;
        let Some(allow) = admit(ctx, now_ms, src, u, req.timestamp, req.allow, Method::Spa) else {
            return true;
        };
        let mut doors = Vec::with_capacity(req.doors.len());
        for d in &req.doors {
            let found = policy
                .doors
                .iter()
                .position(|c| c.spa && c.door == *d)
                .filter(|&i| policy.user_may(uidx, i));
            match found {
                Some(i) => doors.push(i),
                None => {
                    ctx.reject(now_ms, src, Some(user), Method::Spa, || {
                        format!("door {d} is not open to this user by SPA")
                    });
                    return true;
                }
            }
        }
        let mark = Mark {
            digest: spa::replay_digest(payload),
            forget_after: spa_forget_after(req.timestamp, max_skew),
            step: None,
        };
        // At most what the user may have and what each door allows SPA to
        // ask for (its duration unless the admin set spa_max_duration).
        let door_cap = doors
            .iter()
            .filter_map(|&i| policy.doors.get(i))
            .map(|d| d.spa_cap())
            .min()
            .unwrap_or(1);
        let cap = u.max_duration.min(door_cap).max(1);
        let o = Opening {
            knocked_from: src,
            allow,
            ttl_secs: u64::from(req.duration.clamp(1, cap)),
            user: Some(user),
            method: Method::Spa,
            standing: u.standing,
        };
        ctx.burn_then_grant(now_ms, mark, &o, &doors);
        true
    }
}

/// The address a decrypted request lets in, or `None` after rejecting it
/// (protocol.md §3.5 step 7). A named address binds the packet to it: a
/// copy sent from elsewhere still opens only that address, and the log
/// names both so an admin sees the mismatch. Users whose profile binds the
/// address must name one; `source_must_match` refuses any mismatch. fwknop
/// packets (matcher/fwknop.rs) go through the same rules.
/// The checks an opened SPA request (Postern's or fwknop's) passes before
/// its doors are looked at: its time within `max_skew`, the sender inside
/// the user's source ranges, the address to let in (bound as the user's
/// profile requires) inside them too. Rejects and returns `None` on the
/// first that fails.
pub(super) fn admit(
    ctx: &mut Ctx<'_>,
    now_ms: u64,
    src: IpAddr,
    u: &PolicyUser,
    timestamp: u64,
    asked: AllowAddr,
    method: Method,
) -> Option<IpAddr> {
    let now = UnixTime(now_ms / 1000);
    let max_skew = ctx.policy.limits.max_skew;
    if let Err(e @ SpaError::Skew { .. }) = spa::check_time(timestamp, now, max_skew) {
        ctx.reject(now_ms, src, Some(u.name.clone()), method, || e.to_string());
        return None;
    }
    if !u.source_allowed(src) {
        ctx.reject(now_ms, src, Some(u.name.clone()), method, || {
            format!("source {src} is outside the user's allowed ranges")
        });
        return None;
    }
    let allow = bound_address(ctx, now_ms, src, asked, u, method)?;
    if !u.source_allowed(allow) {
        ctx.reject(now_ms, src, Some(u.name.clone()), method, || {
            format!("requested address {allow} is outside the user's allowed ranges")
        });
        return None;
    }
    Some(allow)
}

pub(super) fn bound_address(
    ctx: &mut Ctx<'_>,
    now_ms: u64,
    src: IpAddr,
    allow: AllowAddr,
    u: &PolicyUser,
    method: Method,
) -> Option<IpAddr> {
    let reject = |ctx: &mut Ctx<'_>, why: String| {
        ctx.reject(now_ms, src, Some(u.name.clone()), method, || why);
        None
    };
    match allow {
        AllowAddr::Source if u.require_address => reject(
            ctx,
            "the packet names no address but this user's profile binds one: \
             an old profile or a copied packet (re-issue the profile with posternd user add)"
                .into(),
        ),
        AllowAddr::Source => Some(src),
        AllowAddr::Explicit(a) if !spa::is_grantable(a) => {
            let kind = spa::explicit_address_refusal(a).unwrap_or("unusable");
            reject(
                ctx,
                format!("the packet names {a}, which is {kind} and cannot be let in"),
            )
        }
        AllowAddr::Explicit(a) if a != src && ctx.policy.limits.source_must_match => reject(
            ctx,
            format!("the packet names {a} but came from {src} (source_must_match is on)"),
        ),
        AllowAddr::Explicit(a) => Some(a),
    }
}
