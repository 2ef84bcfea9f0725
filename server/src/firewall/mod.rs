//! Firewall adapters: the only code that changes the host's packet filter.
//!
//! Protection model (DESIGN.md §4): every protected port drops NEW
//! connections unless (source, proto, port) is a live grant. Grants expire
//! in the kernel (nftables set timeouts, ipset timeouts), so a crashed daemon
//! never leaves a door open past its ttl. Postern touches only its own table /
//! chains / sets.

use std::net::IpAddr;
use std::time::Duration;

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

/// One firewall backend. Implementations: nftables, iptables + ipset,
/// Windows Firewall, and an in-memory fake for tests.
pub trait Firewall {
    /// Short name for logs ("nftables", "iptables").
    fn name(&self) -> &'static str;

    /// Make `ports` protected. Idempotent: replaces whatever Postern had
    /// installed before (stale grants included) in one atomic step where the
    /// backend allows it.
    fn install(&mut self, ports: &[ProtectedPort]) -> Result<(), FirewallError>;

    /// Let `grant.source` open NEW connections to `grant.port` for
    /// `grant.ttl`; the kernel removes it by itself afterwards. Re-granting a
    /// live grant refreshes its timeout. Must not spawn a process per call.
    fn grant(&mut self, grant: &FwGrant) -> Result<(), FirewallError>;

    /// Grants currently live in the kernel.
    fn grants(&mut self) -> Result<Vec<LiveGrant>, FirewallError>;

    /// Drop all grants but keep ports protected: used when the daemon stops
    /// (fail-closed).
    fn revoke_all(&mut self) -> Result<(), FirewallError>;

    /// Remove everything Postern added, and nothing else.
    fn uninstall(&mut self) -> Result<(), FirewallError>;
}
