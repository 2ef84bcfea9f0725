//! postern-server: the daemon `posternd` as a library, so every layer can be
//! tested on its own.
//!
//! Data flows one way: `capture` (adapter: AF_PACKET / WinDivert) turns
//! frames into [`packet::Packet`]s, the pure [`matcher`] turns packets into
//! grants, and the `firewall` adapter (nftables, iptables+ipset, Windows
//! Firewall) installs them with a kernel-side expiry. `config` is checked
//! once, up front; `daemon` wires the pieces together.

pub mod admin;
pub mod capture;
pub mod config;
pub mod daemon;
#[cfg(target_os = "linux")]
pub mod demo;
pub mod firewall;
pub mod log;
pub mod matcher;
#[cfg(target_os = "linux")]
pub mod netns;
pub mod packet;
pub mod state;
