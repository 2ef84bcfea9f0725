//! The guess guard: caps failed keyed-SYN-token guesses per source address
//! and per network prefix (/64 for IPv6, /24 for IPv4), before any HMAC is
//! computed.
//!
//! A keyed token is a secret in a SYN. Without a cap, one address could
//! send SYNs at line rate and compare each with the token, and its flood
//! would also spend the global comparison budget, so real tokens went
//! unchecked. With the cap a source that keeps guessing gets its SYNs
//! ignored (they are ordinary SYNs then) until its window ends, and the
//! guessing is logged once per window with its count.

use super::sources::prefix_of;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Length of a guess window. Failures count from the window's first one.
pub const GUESS_WINDOW_MS: u64 = 60_000;
/// Default failed guesses one address may make per window
/// (`[limits] syn_guesses_per_source`). A legitimate client fails only by
/// connecting to the door before its grant is in place (an ordinary SYN at
/// a keyed port looks like a wrong token; once the address holds a grant of
/// the door its connects are not counted, see `SynVerifier`) or with a
/// clock in the wrong step: a few per minute. 30 per minute caps a guesser
/// at 0.5 guesses/s: three steps are accepted, so a guess hits with
/// probability 3 / 2^47 and takes on average 2^47 / 3 / 2 / 0.5 s ≈ 1.5
/// million years.
pub const DEFAULT_GUESSES_PER_SOURCE: u32 = 30;
/// Default failed guesses one /64 (IPv6) or /24 (IPv4) may make per window
/// (`[limits] syn_guesses_per_network`): an attacker holding a /64 has 2^64
/// addresses, so the per-address cap alone would not slow it down. Four
/// times the per-source cap leaves room for a few users behind one NAT or
/// in one office network; a /64 or /24 then needs about 370 000 years on
/// average.
pub const DEFAULT_GUESSES_PER_PREFIX: u32 = 120;
/// Largest accepted setting of either cap. At 100 000 failures a minute a
/// guesser still needs 2^47 / 3 / 2 / 1667 s ≈ 450 years on average; above
/// it the 47 bits stop being the protection the threat model promises.
pub const MAX_GUESSES_PER_WINDOW: u32 = 100_000;

#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: u64,
    fails: u32,
}

/// Failure windows for addresses and prefixes, at most `capacity` of each
/// kind (the oldest is forgotten beyond it, as in the source table).
#[derive(Debug)]
pub struct GuessGuard {
    /// Keyed by address and whether it is a prefix (a network address
    /// like 198.18.0.0 is also a host's address).
    map: HashMap<(IpAddr, bool), Window>,
    order: VecDeque<(IpAddr, bool)>,
    capacity: usize,
    per_source: u32,
    per_prefix: u32,
}

/// What the guard says about a failed guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tripped {
    No,
    /// This failure reached the cap for the address or prefix named.
    Now {
        who: IpAddr,
        prefix: bool,
    },
}

impl GuessGuard {
    /// `per_source` and `per_prefix` are the caps per window (at least 1).
    pub fn new(capacity: usize, per_source: u32, per_prefix: u32) -> Self {
        GuessGuard {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            per_source: per_source.max(1),
            per_prefix: per_prefix.max(1),
        }
    }

    /// The caps of a reloaded config; windows already counted keep their
    /// counts and are judged by the new caps.
    pub fn set_caps(&mut self, per_source: u32, per_prefix: u32) {
        self.per_source = per_source.max(1);
        self.per_prefix = per_prefix.max(1);
    }

    /// The caps per window: (address, network).
    pub fn caps(&self) -> (u32, u32) {
        (self.per_source, self.per_prefix)
    }

    fn window(&mut self, key: (IpAddr, bool), now_ms: u64) -> &mut Window {
        if !self.map.contains_key(&key) {
            while self.map.len() >= self.capacity {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                self.map.remove(&old);
            }
            self.order.push_back(key);
        }
        let w = self.map.entry(key).or_insert(Window {
            start_ms: now_ms,
            fails: 0,
        });
        if now_ms.saturating_sub(w.start_ms) >= GUESS_WINDOW_MS {
            *w = Window {
                start_ms: now_ms,
                fails: 0,
            };
        }
        w
    }

    fn over(&self, key: (IpAddr, bool), cap: u32, now_ms: u64) -> bool {
        self.map
            .get(&key)
            .is_some_and(|w| w.fails >= cap && now_ms.saturating_sub(w.start_ms) < GUESS_WINDOW_MS)
    }

    /// Whether `src` (or its prefix) has used up its guesses: then its SYN
    /// is not compared at all.
    pub fn blocks(&self, src: IpAddr, now_ms: u64) -> bool {
        self.over((src, false), self.per_source, now_ms)
            || self.over((prefix_of(src), true), self.per_prefix, now_ms)
    }

    /// Counts a failed guess from `src`; says whether it reached a cap (so
    /// the caller logs it once per window).
    pub fn fail(&mut self, src: IpAddr, now_ms: u64) -> Tripped {
        let prefix = prefix_of(src);
        let mut out = Tripped::No;
        for (key, cap, is_prefix) in [
            (src, self.per_source, false),
            (prefix, self.per_prefix, true),
        ] {
            let w = self.window((key, is_prefix), now_ms);
            w.fails = w.fails.saturating_add(1);
            if w.fails == cap && out == Tripped::No {
                out = Tripped::Now {
                    who: key,
                    prefix: is_prefix,
                };
            }
        }
        out
    }
}
