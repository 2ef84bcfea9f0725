//! [`Wire`]: one packet the client puts on the wire, described as data.
//!
//! Both the knock planner ([`crate::plan`]) and the decoy generator
//! ([`crate::decoy`]) produce these, so the type lives below both of them:
//! decoys need nothing from the planner, and the planner uses decoys. The
//! client's transmitter turns a `Wire` into a real packet.

/// One packet on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// A TCP SYN, sent with an ordinary non-blocking `connect()`.
    TcpSyn { port: u16 },
    /// A TCP SYN with a chosen sequence number (raw socket) and, for a
    /// keyed SYN token, a chosen source port (`None`: any).
    RawSyn {
        port: u16,
        seq: u32,
        src_port: Option<u16>,
    },
    /// A UDP datagram.
    Udp { port: u16, payload: Vec<u8> },
    /// An ICMP / ICMPv6 echo request with this payload.
    IcmpEcho { payload: Vec<u8> },
}

impl Wire {
    /// Destination port, if the packet has one.
    pub fn port(&self) -> Option<u16> {
        match self {
            Wire::TcpSyn { port } | Wire::RawSyn { port, .. } | Wire::Udp { port, .. } => {
                Some(*port)
            }
            Wire::IcmpEcho { .. } => None,
        }
    }
}
