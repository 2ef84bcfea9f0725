//! The SYN-token verifier (protocol.md §5): the seed's static form and the
//! keyed form. It owns the work budget that bounds the HMACs a flood of
//! SYNs at a guarded port can cost, and the guess guard that caps failed
//! guesses per address and per /64 (/24) before any HMAC.

use super::context::{Ctx, Opening};
use super::events::Method;
use super::guess::{GUESS_WINDOW_MS, GuessGuard, Tripped};
use super::policy::Limits;
use super::ratelimit::Bucket;
use super::sources::SourceTable;
use postern_proto::UnixTime;
use postern_proto::method::syn_token;
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// Keyed SYN-token HMACs allowed per second (a flood of SYNs at a guarded
/// port must not buy unbounded crypto).
const SYN_HMACS_PER_SEC: u32 = 200_000;

#[derive(Debug)]
pub struct SynVerifier {
    work: Bucket,
    guesses: GuessGuard,
}

impl SynVerifier {
    /// `max_sources` bounds the guess guard's memory like the source
    /// table's; the guess caps come from the limits too.
    pub fn new(limits: &Limits) -> Self {
        SynVerifier {
            work: Bucket::new(SYN_HMACS_PER_SEC, SYN_HMACS_PER_SEC),
            guesses: GuessGuard::new(
                limits.max_sources,
                limits.syn_guesses_per_source,
                limits.syn_guesses_per_network,
            ),
        }
    }

    /// Applies reloaded limits (the guess caps); counts already made stay.
    pub fn reload(&mut self, limits: &Limits) {
        self.guesses.set_caps(
            limits.syn_guesses_per_source,
            limits.syn_guesses_per_network,
        );
    }
}

impl SynVerifier {
    /// Returns whether the SYN was a valid token (and so not a sequence
    /// knock). A static token is a constant knock, so a source the scan
    /// guard has blocked (in `sources`) gets nothing for it.
    #[allow(clippy::too_many_arguments)]
    pub fn handle(
        &mut self,
        ctx: &mut Ctx<'_>,
        sources: &mut SourceTable,
        now_ms: u64,
        src: IpAddr,
        dst_port: u16,
        src_port: u16,
        seq: u32,
    ) -> bool {
        let policy = ctx.policy;
        if let Some(target) = syn_token::static_target(dst_port, seq)
            && let Some(&door) = policy.static_syn_ports.get(&target)
        {
            let st = sources.get_or_insert(src, now_ms);
            if !st.scan.blocks(now_ms, &policy.limits) {
                let o = Opening {
                    knocked_from: src,
                    allow: src,
                    ttl_secs: syn_token::STATIC_TTL_SECS,
                    user: None,
                    method: Method::SynToken,
                    standing: Default::default(),
                };
                ctx.grant(now_ms, door, &o);
            }
            return true;
        }
        let Some(&door) = policy.keyed_syn_ports.get(&dst_port) else {
            return false;
        };
        let (Some(users), Some(d)) = (policy.door_users.get(door), policy.doors.get(door)) else {
            return false;
        };
        // A source (or its network) that used up its guesses is not even
        // compared: its SYN is an ordinary one.
        if self.guesses.blocks(src, now_ms) {
            ctx.out.log.suppress();
            return false;
        }
        if !self.work.take(now_ms, (users.len() * 3) as f64) {
            // Over the work budget: treat as an ordinary SYN.
            ctx.out.log.suppress();
            return false;
        }
        // The door's step, the one its users' profiles are issued with.
        let step_secs = d.syn_step_secs;
        let center = UnixTime(now_ms / 1000).step(step_secs);
        let mut got = [0u8; 6];
        got[..4].copy_from_slice(&seq.to_be_bytes());
        got[4..].copy_from_slice(&src_port.to_be_bytes());
        for user in users.iter().filter_map(|&u| policy.users.get(u)) {
            for step in center.around(1) {
                let (want_seq, want_port) =
                    syn_token::keyed_token(&user.key, &policy.server_id, step, dst_port, src);
                let mut want = [0u8; 6];
                want[..4].copy_from_slice(&want_seq.to_be_bytes());
                want[4..].copy_from_slice(&want_port.to_be_bytes());
                if !bool::from(want.ct_eq(&got)) {
                    continue;
                }
                ctx.grant_step_keyed(
                    now_ms,
                    src,
                    door,
                    user,
                    Method::SynTokenKeyed,
                    ("syn", &dst_port.to_be_bytes()),
                    (step, step_secs),
                );
                return true;
            }
        }
        // An address that holds a grant of this door is let in by the
        // firewall already: its SYNs here are connects (a browser opens
        // dozens a minute, an RDP client reconnects), not guesses. Counting
        // them locked a user out of re-knocking, and its network's users
        // with it, for the rest of the window. A guesser gains nothing from
        // the exemption: it needs a grant of the door to get it.
        if ctx.out.grants.contains(src, d.door) {
            return false;
        }
        if let Tripped::Now { who, prefix } = self.guesses.fail(src, now_ms) {
            let (per_source, per_prefix) = self.guesses.caps();
            let (cap, what) = if prefix {
                (per_prefix, "network")
            } else {
                (per_source, "address")
            };
            ctx.reject(now_ms, src, None, Method::SynTokenKeyed, || {
                format!(
                    "SYN token guessing: {cap} wrong tokens from {what} {who} within {} s; \
                     its SYNs are not checked for the rest of the window",
                    GUESS_WINDOW_MS / 1000
                )
            });
        }
        false
    }
}
