//! postern-server: the daemon `posternd` as a library, so every layer can be
//! tested on its own.
//!
//! Data flows one way: `capture` (adapter: pnet / WinDivert) turns frames into
//! [`packet::Packet`]s, the pure `matcher` turns packets into grants, and the
//! `firewall` adapter (nftables, iptables+ipset, Windows Firewall) installs them
//! with a kernel-side expiry.

pub mod capture;
pub mod firewall;
pub mod packet;
