//! Which address an SPA packet asks the server to let in (`allow = auto`).
//!
//! A packet that names no address opens the door for whoever sends it, so
//! a copy captured on the way (or simply raced) opens it for the copier.
//! Naming the address inside the encrypted payload makes a captured packet
//! worthless elsewhere. The difficulty is knowing which address the server
//! will see; this module decides it from facts the engine gathers (the
//! local source address the OS picks for the server, the server's address)
//! and says how the answer was found, for the knock report.
//!
//! Rules, in order:
//! 1. The local source address is not private → the server sees it as it
//!    is: embed it.
//! 2. It is private and so is the server's address → no NAT between us
//!    (a private address cannot be reached across the Internet; we are on
//!    the same network or a VPN): embed the local address.
//! 3. It is private and the server's is not → a NAT rewrites it on the way:
//!    ask STUN servers what it becomes, and embed that.
//!
//! "Private" is RFC 1918, shared address space (CGNAT, 100.64.0.0/10),
//! IPv6 unique-local (fc00::/7) and link-local, plus any network the admin
//! lists as behind a NAT (`[allow] nat_networks`), for organisations whose
//! inside network uses other ranges.

use ipnet::IpNet;
use std::net::IpAddr;

/// How the bound address was found, in words the knock report can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundBy {
    /// The computer's own address, which the server sees unchanged.
    OwnAddress,
    /// A private address on the server's own network (no NAT between).
    SameNetwork,
    /// The public address STUN servers reported behind a NAT.
    Stun { servers: Vec<String> },
    /// A fixed address from the profile.
    Explicit,
    /// The address an HTTPS service reported.
    Url { url: String },
}

impl std::fmt::Display for BoundBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BoundBy::OwnAddress => f.write_str("this computer's own address"),
            BoundBy::SameNetwork => f.write_str("this computer's address on the server's network"),
            BoundBy::Stun { servers } => {
                write!(
                    f,
                    "public address reported by STUN ({})",
                    servers.join(", ")
                )
            }
            BoundBy::Explicit => f.write_str("fixed address from the profile"),
            BoundBy::Url { url } => write!(f, "public address reported by {url}"),
        }
    }
}

/// What `allow = auto` needs before a packet can be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoStep {
    /// Embed this address; no question to ask anyone.
    Embed(IpAddr, BoundBy),
    /// Ask STUN servers for the public address of `local`.
    AskStun { local: IpAddr },
}

/// Decides `allow = auto` for a knock from `local` to `server`.
pub fn auto_step(local: IpAddr, server: IpAddr, nat_networks: &[IpNet]) -> AutoStep {
    if !is_private(local, nat_networks) {
        AutoStep::Embed(local, BoundBy::OwnAddress)
    } else if is_private(server, &[]) || local.is_loopback() {
        AutoStep::Embed(local, BoundBy::SameNetwork)
    } else {
        AutoStep::AskStun { local }
    }
}

/// Whether `a` is an address that a NAT would rewrite on its way out, or
/// that the Internet cannot route to (see the module doc).
pub fn is_private(a: IpAddr, nat_networks: &[IpNet]) -> bool {
    if nat_networks.iter().any(|n| n.contains(&a)) {
        return true;
    }
    match a {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_link_local()
                || v4.is_loopback()
                // 100.64.0.0/10, RFC 6598 shared address space (carrier NAT).
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4), nat_networks);
            }
            let s = v6.segments();
            v6.is_loopback()
                // fc00::/7 unique-local, fe80::/10 link-local.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The protocol crate's rule, shared with the server so the client never
/// embeds an address the server would refuse.
pub use postern_proto::method::spa::is_grantable;

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn private_ranges() {
        for a in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.10",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.1.1",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(is_private(ip(a), &[]), "{a}");
        }
        for a in [
            "198.18.0.1",
            "100.128.0.1",
            "100.63.255.255",
            "172.32.0.1",
            "2001:db8::1",
            "8.8.8.8",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(ip(a), &[]), "{a}");
        }
        let nat: Vec<IpNet> = vec!["198.18.10.0/24".parse().expect("net")];
        assert!(is_private(ip("198.18.10.2"), &nat));
        assert!(!is_private(ip("198.18.20.1"), &nat));
    }

    #[test]
    fn public_local_address_is_embedded_as_is() {
        assert_eq!(
            auto_step(ip("198.18.1.2"), ip("198.18.1.1"), &[]),
            AutoStep::Embed(ip("198.18.1.2"), BoundBy::OwnAddress)
        );
    }

    #[test]
    fn private_to_private_is_the_same_network() {
        assert_eq!(
            auto_step(ip("192.168.1.5"), ip("10.0.0.1"), &[]),
            AutoStep::Embed(ip("192.168.1.5"), BoundBy::SameNetwork)
        );
        assert_eq!(
            auto_step(ip("fd00:1::5"), ip("fd00:2::1"), &[]),
            AutoStep::Embed(ip("fd00:1::5"), BoundBy::SameNetwork)
        );
    }

    #[test]
    fn private_to_public_asks_stun() {
        assert_eq!(
            auto_step(ip("192.168.1.5"), ip("198.18.20.1"), &[]),
            AutoStep::AskStun {
                local: ip("192.168.1.5")
            }
        );
        let nat: Vec<IpNet> = vec!["198.18.10.0/24".parse().expect("net")];
        assert_eq!(
            auto_step(ip("198.18.10.2"), ip("198.18.20.1"), &nat),
            AutoStep::AskStun {
                local: ip("198.18.10.2")
            }
        );
    }

    #[test]
    fn grantable_addresses() {
        for a in [
            "0.0.0.0",
            "127.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "ff02::1",
            "::ffff:198.18.0.1",
        ] {
            assert!(!is_grantable(ip(a)), "{a}");
        }
        for a in ["198.18.0.1", "fd00::1", "10.0.0.1"] {
            assert!(is_grantable(ip(a)), "{a}");
        }
    }
}
