//! The parsed form of a captured packet: only what the matcher needs.
//!
//! Produced by the capture adapter from untrusted bytes; consumed by the pure
//! matcher. Holds a borrowed payload so the hot path does not allocate.

use std::net::IpAddr;

/// Transport-level content of a knock candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// A TCP segment. Only SYNs without ACK are knock candidates, but the
    /// parser reports flags so the matcher can decide.
    Tcp {
        dst_port: u16,
        src_port: u16,
        seq: u32,
        syn: bool,
        ack: bool,
    },
    /// A UDP datagram with its payload (SPA packets travel here).
    Udp {
        dst_port: u16,
        src_port: u16,
        payload: &'a [u8],
    },
    /// An ICMP / ICMPv6 echo request; `payload` is the data after the echo
    /// header (identifier and sequence number), so `ping -s N` gives N bytes.
    IcmpEcho { payload: &'a [u8] },
}

/// One captured IPv4 or IPv6 packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub transport: Transport<'a>,
}
