//! Doors as the SPA payload carries them (protocol.md §3.3): a transport
//! protocol, by its IANA number, and a port.
//!
//! These live in the wire layer, not in `method`, because the payload codec
//! needs them and the wire layer must depend on nothing above it. Profiles,
//! methods and the server's config all build on these same types;
//! `crate::method` re-exports them under their old paths.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_numbers_round_trip_and_unknown_ones_are_refused() {
        for p in [DoorProto::Tcp, DoorProto::Udp] {
            assert_eq!(DoorProto::from_number(p.number()), Some(p));
        }
        assert_eq!(DoorProto::from_number(1), None);
        let d = Door {
            proto: DoorProto::Udp,
            port: 3389,
        };
        assert_eq!(d.to_string(), "3389/udp");
    }
}
