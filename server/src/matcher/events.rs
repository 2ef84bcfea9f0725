//! What the matcher tells its caller: grants to carry out, revokes at their
//! deadlines, and decisions to log.

use postern_proto::method::Door;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// How a knock was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Sequence,
    DynamicSequence,
    Spa,
    /// A packet from an fwknop 2.6 client (matcher/fwknop.rs).
    Fwknop,
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
            Method::Fwknop => "fwknop",
            Method::SynToken => "syn-token",
            Method::SynTokenKeyed => "syn-token-keyed",
            Method::Unknown => "unknown",
        })
    }
}

/// Open `door` to `source` for `ttl`, that is until `expires_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Grant {
    pub source: IpAddr,
    pub door: Door,
    pub ttl: Duration,
    /// The deadline (wall ms): the knock's time plus `ttl`. The matcher
    /// emits the matching [`Revoke`] once it has passed (later if the
    /// grant is renewed meanwhile).
    pub expires_ms: u64,
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
            reason: if self.source == self.knocked_from {
                format!(
                    "opened {} for {} for {} s",
                    self.door,
                    self.source,
                    self.ttl.as_secs()
                )
            } else {
                format!(
                    "opened {} for {} for {} s (the address the packet names; it came from {})",
                    self.door,
                    self.source,
                    self.ttl.as_secs(),
                    self.knocked_from
                )
            },
        }
    }
}

/// Why a grant ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeWhy {
    /// Its deadline passed.
    Expired,
    /// A reload removed its door (or moved it to another port).
    DoorRemoved,
    /// A reload removed its user, or took the door or the source range
    /// away from them.
    NotAllowedAnymore,
    /// The table of live grants was full: the grant closest to its
    /// deadline made room for a new one (see `grants`).
    TableFull,
}

impl fmt::Display for RevokeWhy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RevokeWhy::Expired => "expired",
            RevokeWhy::DoorRemoved => "door removed",
            RevokeWhy::NotAllowedAnymore => "not allowed anymore",
            RevokeWhy::TableFull => "too many live grants",
        })
    }
}

/// Close `door` to `source` again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Revoke {
    pub source: IpAddr,
    pub door: Door,
    /// The user of the grant being revoked (the latest, if renewed).
    pub user: Option<String>,
    pub why: RevokeWhy,
}

/// A grant the matcher tracks until its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveGrant {
    pub source: IpAddr,
    pub door: Door,
    pub user: Option<String>,
    pub expires_ms: u64,
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

/// What a rejection proves about its sender, for fail2ban (issue #14,
/// item 6). Derived, not stored: a rejection names a user exactly when the
/// packet carried a value only that user's key makes — an SPA key id, a
/// keyed SYN token, the first knocks of a dynamic sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// Junk, unknown key ids, scans, wrong static knocks: anyone can send
    /// these with any (spoofed) source address. Never ban on them.
    Forgeable,
    /// A failure after a valid key tag (bad MAC, skew, replay, address or
    /// door not allowed): the sender had a key-derived value.
    PostTag,
}

impl Evidence {
    /// The `evidence=` word in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Forgeable => "forgeable",
            Evidence::PostTag => "post-tag",
        }
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Decision {
    pub fn evidence(&self) -> Evidence {
        if self.user.is_some() {
            Evidence::PostTag
        } else {
            Evidence::Forgeable
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Grant(Grant),
    Revoke(Revoke),
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
    pub revoked: u64,
}
