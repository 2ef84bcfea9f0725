//! The knock methods (DESIGN.md §3, protocol.md §3–§6).
//!
//! Each submodule holds both halves of one method: what the client sends and
//! what the server expects, as pure functions of keys, time and addresses.

pub mod sequence;
pub mod spa;
pub mod syn_token;

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

/// Transport protocol of a door (the port a knock opens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DoorProto {
    Tcp,
    Udp,
}

impl DoorProto {
    /// IANA protocol number, as carried inside SPA payloads.
    pub fn number(self) -> u8 {
        match self {
            DoorProto::Tcp => 6,
            DoorProto::Udp => 17,
        }
    }

    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            6 => Some(DoorProto::Tcp),
            17 => Some(DoorProto::Udp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DoorProto::Tcp => "tcp",
            DoorProto::Udp => "udp",
        }
    }
}

/// A protected port: what a knock opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Door {
    pub proto: DoorProto,
    pub port: u16,
}

impl std::fmt::Display for Door {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.port, self.proto.as_str())
    }
}
