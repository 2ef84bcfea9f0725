//! Firewall adapters: the only code that changes the host's packet filter.
//!
//! Protection model (DESIGN.md §4): every protected port drops NEW
//! connections unless (source, proto, port) is a live grant. Postern touches
//! only its own table / chains / sets.
//!
//! Who closes a door again: the daemon's core. Every grant carries a
//! deadline, and the matcher emits a revoke at that deadline, which the
//! daemon carries out with [`Firewall::revoke`]. That works on every
//! packet filter, also on one without timers (Windows Firewall rules).
//! Where the kernel can expire an entry by itself (nftables set timeouts,
//! ipset timeouts) the adapters give every grant its ttl as well: a second
//! line of defence, so a crashed or killed daemon never leaves a door open
//! past its ttl. The two race harmlessly: revoking what the kernel already
//! expired is success.

use std::net::IpAddr;
use std::time::Duration;

pub mod fake;
pub mod winfw;
pub mod winfw_plan;
pub mod winfw_rules;

/// Transport protocol of a protected port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

/// A port the firewall keeps closed to everyone without a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtectedPort {
    pub proto: Proto,
    pub port: u16,
}

impl From<postern_proto::method::Door> for ProtectedPort {
    fn from(d: postern_proto::method::Door) -> Self {
        use postern_proto::method::DoorProto;
        ProtectedPort {
            proto: match d.proto {
                DoorProto::Tcp => Proto::Tcp,
                DoorProto::Udp => Proto::Udp,
            },
            port: d.port,
        }
    }
}

/// Permission for one source address to open NEW connections to one
/// protected port until `ttl` has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FwGrant {
    pub source: IpAddr,
    pub port: ProtectedPort,
    pub ttl: Duration,
}

/// A grant as the kernel reports it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveGrant {
    pub source: IpAddr,
    pub port: ProtectedPort,
    pub remaining: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    #[error("{backend}: {what}")]
    Backend { backend: &'static str, what: String },
    #[error("{backend}: {context}: {source}")]
    Io {
        backend: &'static str,
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// One firewall backend. Implementations: nftables and iptables + ipset
/// (`platform::linux`), Windows Firewall (`firewall::winfw` over COM), and an
/// in-memory fake for tests ([`fake`]). Which one runs is the platform's
/// choice, from the config (`crate::platform`).
pub trait Firewall {
    /// Short name for logs ("nftables", "iptables").
    fn name(&self) -> &'static str;

    /// Make `ports` protected, with exactly the grants in `keep` live (each
    /// for its `ttl`, i.e. the time it has left). Idempotent: replaces
    /// whatever Postern had installed before — other grants, stale ones
    /// from a crashed run included, are gone afterwards — in one atomic step
    /// where the backend allows it, so a kept grant is never briefly closed.
    /// Start-up passes no `keep`; a config reload passes the live grants the
    /// new config still allows.
    fn install(&mut self, ports: &[ProtectedPort], keep: &[FwGrant]) -> Result<(), FirewallError>;

    /// Let `grant.source` open NEW connections to `grant.port` for
    /// `grant.ttl`. Re-granting a live grant refreshes its timeout. The
    /// daemon revokes it at its deadline; backends with kernel timers also
    /// expire it by themselves. Must not spawn a process per call.
    fn grant(&mut self, grant: &FwGrant) -> Result<(), FirewallError>;

    /// Close one grant now. Idempotent: revoking a grant that is not there
    /// (the kernel already expired it, or it was never installed) is `Ok`.
    /// Must not spawn a process per call.
    fn revoke(&mut self, source: IpAddr, port: ProtectedPort) -> Result<(), FirewallError>;

    /// Grants currently live in the kernel.
    fn grants(&mut self) -> Result<Vec<LiveGrant>, FirewallError>;

    /// Drop all grants but keep ports protected: used when the daemon stops
    /// (fail-closed).
    fn revoke_all(&mut self) -> Result<(), FirewallError>;

    /// Remove everything Postern added, and nothing else.
    fn uninstall(&mut self) -> Result<(), FirewallError>;

    /// Is the protection the last [`install`](Firewall::install) put in
    /// place still in effect, unchanged? `Ok(None)` when it is; otherwise
    /// what is missing or changed, e.g. after `systemctl restart nftables`
    /// (`flush ruleset`) or a ufw / firewalld reload that dropped the
    /// iptables jump. Those leave every protected port open while the
    /// daemon runs on, so the daemon calls this every few seconds and
    /// reinstalls on anything but `Ok(None)` (an `Err` — the tool itself
    /// failed — is treated the same: unknown is not safe). Compares the
    /// rules and sets (not the grants, which change all the time) with what
    /// the kernel reported right after the install.
    fn verify(&mut self) -> Result<Option<String>, FirewallError>;

    /// Whether the next [`install`](Firewall::install) also drops ICMP echo
    /// requests whose data is knock-sized ([`ICMP_KNOCK_DATA`]), i.e. set
    /// when `[spa] icmp = true`. Attack: the kernel answers an SPA knock
    /// sent inside an ICMP echo like any ping, echoing the sealed packet
    /// back and confirming to an observer that a knock was received. The
    /// capture sees the request before the input hook drops it, so the
    /// knock still works; ordinary pings (56 bytes on Linux and macOS, 32
    /// on Windows) and path-MTU probes (≥ 1 000 bytes) still get replies.
    /// Backends without ICMP rules ignore it.
    fn set_icmp_knock_drop(&mut self, _on: bool) {}
}

/// Echo data lengths that can hold an SPA packet (the sealed packet is the
/// echo's data): the requests [`Firewall::set_icmp_knock_drop`] drops.
pub const ICMP_KNOCK_DATA: std::ops::RangeInclusive<usize> =
    postern_proto::wire::spa::MIN_PACKET..=postern_proto::wire::spa::MAX_PACKET;

/// Largest number of grants per address family a backend's set holds
/// unless the config says otherwise (`[server] grant_set_size`). A bounded
/// set bounds the kernel memory a flood of (spoofed) valid static knocks
/// can take; when a set is full the kernel refuses the grant, the daemon
/// logs "could not open" and the door stays closed: full fails closed,
/// never open.
pub const DEFAULT_SET_SIZE: u32 = 65_536;

impl Proto {
    /// The keyword nft, iptables and ipset all use for this protocol.
    pub fn keyword(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }

    /// Inverse of [`Proto::keyword`], for parsing what the kernel reports.
    pub fn from_keyword(word: &str) -> Option<Proto> {
        match word {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }
}

/// Default name of Postern's nftables table (and prefix of its iptables
/// chain and ipsets).
pub const DEFAULT_TABLE_NAME: &str = "postern";
