//! The scan guard: a source that changes destination port more than
//! `scan_limit` times in `scan_window` seconds has its knock attempts
//! voided and is ignored for the rest of the window, so a scan cannot walk
//! through a sequence in order.
//!
//! Its state is one [`ScanWindow`] per source, kept in the per-source
//! table next to the sequence engine's attempts (one bound, one eviction
//! order for both), and one per network (/64 for IPv6, /24 for IPv4) in a
//! second table of the same kind: a guesser who rotates addresses within
//! its own network (a /64 holds 2^64) would otherwise get a fresh window
//! per address and walk a dynamic sequence's range freely.

use super::context::Ctx;
use super::events::Method;
use super::policy::Limits;
use super::sequence::Attempts;
use postern_proto::method::sequence::Knock;
use std::net::IpAddr;

/// One source's port changes in the current window.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanWindow {
    start_ms: u64,
    changes: u32,
    /// The previous knock, to count changes and skip repeats.
    last_knock: Option<Knock>,
    /// Over the limit in this window: attempts void, knocks ignored.
    voided: bool,
}

/// What the guard says about a knock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// This knock went over the limit.
    Tripped,
    /// Over the limit earlier in this window.
    Blocked,
}

impl ScanWindow {
    pub fn starting(now_ms: u64) -> Self {
        ScanWindow {
            start_ms: now_ms,
            ..ScanWindow::default()
        }
    }

    fn window_ms(limits: &Limits) -> u64 {
        limits.scan_window.saturating_mul(1000)
    }

    /// Counts `knock`. `to_door` says whether it is a connection to a
    /// protected port: what a client does after knocking, never scanning.
    /// It is asked only for a changed knock (it costs a hash lookup).
    pub fn observe(
        &mut self,
        now_ms: u64,
        knock: Knock,
        to_door: impl FnOnce() -> bool,
        limits: &Limits,
    ) -> Verdict {
        if now_ms.saturating_sub(self.start_ms) >= Self::window_ms(limits) {
            self.start_ms = now_ms;
            self.changes = 0;
            self.voided = false;
        }
        // A repeated knock (retransmit, a client reconnecting) does not
        // count as a change.
        if self.last_knock != Some(knock) && !to_door() {
            self.changes = self.changes.saturating_add(1);
            self.last_knock = Some(knock);
        }
        if self.changes <= limits.scan_limit {
            Verdict::Pass
        } else if self.voided {
            Verdict::Blocked
        } else {
            self.voided = true;
            Verdict::Tripped
        }
    }

    /// Whether the source is still blocked at `now_ms` (for knocks that are
    /// not counted, like static SYN tokens).
    pub fn blocks(&self, now_ms: u64, limits: &Limits) -> bool {
        self.voided && now_ms.saturating_sub(self.start_ms) < Self::window_ms(limits)
    }
}

/// The guard in front of the sequence engine: whether `knock` from `src`
/// may go on. Tripping it voids the source's attempts and says so once.
pub fn admit(
    ctx: &mut Ctx<'_>,
    window: &mut ScanWindow,
    attempts: &mut Attempts,
    src: IpAddr,
    knock: Knock,
    now_ms: u64,
) -> bool {
    admit_for(ctx, window, attempts, src, None, knock, now_ms)
}

/// How many times one address's `scan_limit` a whole network (/64, /24)
/// may change ports per window. Stops: a guesser rotating addresses within
/// its network to get a fresh window per address. Not 1: an office or
/// campus network has several people knocking at once, each a few ports.
pub const NETWORK_SCAN_FACTOR: u32 = 4;

/// [`admit`] for the window of `src`'s network `net` (all its addresses
/// together), at [`NETWORK_SCAN_FACTOR`] times the limit.
pub fn admit_network(
    ctx: &mut Ctx<'_>,
    window: &mut ScanWindow,
    attempts: &mut Attempts,
    src: IpAddr,
    net: IpAddr,
    knock: Knock,
    now_ms: u64,
) -> bool {
    admit_for(ctx, window, attempts, src, Some(net), knock, now_ms)
}

fn admit_for(
    ctx: &mut Ctx<'_>,
    window: &mut ScanWindow,
    attempts: &mut Attempts,
    src: IpAddr,
    net: Option<IpAddr>,
    knock: Knock,
    now_ms: u64,
) -> bool {
    let mut l = ctx.policy.limits;
    if net.is_some() {
        l.scan_limit = l.scan_limit.saturating_mul(NETWORK_SCAN_FACTOR);
    }
    let doors = &ctx.policy.door_knocks;
    match window.observe(now_ms, knock, || doors.contains(&knock), &l) {
        Verdict::Pass => true,
        Verdict::Blocked => false,
        Verdict::Tripped => {
            let had = !attempts.is_empty();
            attempts.clear();
            ctx.reject(now_ms, src, None, Method::Unknown, || {
                format!(
                    "scan guard: more than {} ports in {} s{}{}",
                    l.scan_limit,
                    l.scan_window,
                    net.map(|n| format!(" from network {n}"))
                        .unwrap_or_default(),
                    if had { "; knock attempts voided" } else { "" }
                )
            });
            false
        }
    }
}
