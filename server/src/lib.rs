//! postern-server: the daemon `posternd` as a library, so every layer can be
//! tested on its own.
//!
//! Data flows one way: a packet source turns frames into
//! [`packet::Packet`]s, the pure [`matcher`] turns packets into grants and,
//! at their deadlines, revokes, and a [`firewall::Firewall`] carries them
//! out. `config` is checked once, up front (and again on every reload);
//! `daemon` wires the pieces together without naming an OS type.
//! [`platform`] is the OS boundary: the capture and firewall adapters
//! (AF_PACKET, nftables, iptables + ipset on Linux; WinDivert and Windows
//! Firewall next) and how the OS asks the daemon to stop or reload.

pub mod admin;
pub mod capture;
pub mod config;
pub mod daemon;
#[cfg(all(target_os = "linux", feature = "netns-testing"))]
pub mod demo;
pub mod firewall;
pub mod log;
pub mod matcher;
#[cfg(all(target_os = "linux", feature = "netns-testing"))]
pub mod netns;
pub mod packet;
pub mod platform;
pub mod state;
pub mod when;
