//! The knock methods (DESIGN.md §3, protocol.md §3–§6).
//!
//! Each submodule holds both halves of one method: what the client sends and
//! what the server expects, as pure functions of keys, time and addresses.

pub mod fwknop;
pub mod sequence;
pub mod spa;
pub mod syn_token;

/// Doors are a wire-level type (the SPA payload carries them); they are
/// re-exported here so `method::{Door, DoorProto}` keeps working.
pub use crate::wire::door::{Door, DoorProto};

use serde::{Deserialize, Serialize};

/// The protocol a single knock travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KnockProto {
    /// A TCP SYN to `value` (a port).
    Tcp,
    /// A UDP datagram to `value` (a port).
    Udp,
    /// An ICMP echo request whose payload is `value` bytes long, so that
    /// `ping -s N` can knock.
    Icmp,
}

impl KnockProto {
    pub fn as_str(self) -> &'static str {
        match self {
            KnockProto::Tcp => "tcp",
            KnockProto::Udp => "udp",
            KnockProto::Icmp => "icmp",
        }
    }
}
