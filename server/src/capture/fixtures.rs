//! Hand-built frames shared by the parser and filter tests.
//!
//! Built byte by byte (not with etherparse's builder) so the tests do not
//! check the parser against itself. Each fixture states what the parser must
//! return and whether the kernel filter built from [`spec`] must accept it —
//! the two disagree on purpose in a few places (e.g. IPv6 extension headers,
//! UDP first fragments), and those cases are documented in `filter.rs`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::LinkType;
use super::filter::FilterSpec;
use crate::packet::{Packet, Transport};

pub(crate) const KNOCK_UDP: u16 = 62201;
pub(crate) const KNOCK_TCP: u16 = 7000;
const CLIENT_PORT: u16 = 40001;
const SRC4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const DST4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
const DST6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_ARP: u16 = 0x0806;
const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMPV6: u8 = 58;
const V6_HOP_BY_HOP: u8 = 0;
const V6_ROUTING: u8 = 43;
const V6_FRAGMENT: u8 = 44;
const V6_DEST_OPTS: u8 = 60;
const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

pub(crate) const SPA: &[u8] = b"postern spa: opaque encrypted bytes";

/// What `ping -s 56` sends after the echo header.
pub(crate) static PING56: [u8; 56] = {
    let mut p = [0u8; 56];
    let mut i = 0;
    while i < 56 {
        p[i] = i as u8;
        i += 1;
    }
    p
};

/// The spec the filter expectations below are written against.
pub(crate) fn spec() -> FilterSpec {
    FilterSpec {
        udp_ports: vec![KNOCK_UDP, 62202, 62203, 1000],
        tcp_syn_any_port: false,
        tcp_ports: vec![KNOCK_TCP, 7001],
        icmp_echo: true,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Fixture {
    pub name: &'static str,
    pub link: LinkType,
    pub frame: Vec<u8>,
    pub parsed: Option<Packet<'static>>,
    /// Verdict of the filter built from [`spec`]; `None` when the kernel
    /// filter never sees this link type (pcap-only cooked headers).
    pub filter_accepts: Option<bool>,
}

fn fx(
    name: &'static str,
    link: LinkType,
    frame: Vec<u8>,
    parsed: Option<Packet<'static>>,
    filter_accepts: Option<bool>,
) -> Fixture {
    Fixture {
        name,
        link,
        frame,
        parsed,
        filter_accepts,
    }
}

// ---- expected packets -------------------------------------------------------

fn v4(transport: Transport<'static>) -> Option<Packet<'static>> {
    Some(Packet {
        src: IpAddr::V4(SRC4),
        dst: IpAddr::V4(DST4),
        transport,
    })
}

fn v6(transport: Transport<'static>) -> Option<Packet<'static>> {
    Some(Packet {
        src: IpAddr::V6(SRC6),
        dst: IpAddr::V6(DST6),
        transport,
    })
}

fn udp_t(dst_port: u16, payload: &'static [u8]) -> Transport<'static> {
    Transport::Udp {
        dst_port,
        src_port: CLIENT_PORT,
        payload,
    }
}

fn tcp_t(dst_port: u16, syn: bool, ack: bool) -> Transport<'static> {
    Transport::Tcp {
        dst_port,
        src_port: CLIENT_PORT,
        seq: 0x1122_3344,
        syn,
        ack,
    }
}

// ---- byte builders ----------------------------------------------------------

fn eth_with_macs(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    eth_with_macs([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], ethertype, payload)
}

/// 802.1Q tag (VLAN 42) followed by `inner` ether type; the caller wraps it
/// in `eth(0x8100, ..)`.
fn vlan(inner: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x00, 42];
    v.extend_from_slice(&inner.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// IPv4 header (+ `options`, a multiple of 4 bytes) around `payload`;
/// `frag` is the flags + fragment offset field.
fn ipv4_full(proto: u8, options: &[u8], frag: u16, payload: &[u8]) -> Vec<u8> {
    let hlen = 20 + options.len();
    let total = (hlen + payload.len()) as u16;
    let mut h = vec![0x40 | (hlen / 4) as u8, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34]); // identification
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&SRC4.octets());
    h.extend_from_slice(&DST4.octets());
    h.extend_from_slice(options);
    let sum = checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_full(proto, &[], 0, payload)
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&SRC6.octets());
    h.extend_from_slice(&DST6.octets());
    h.extend_from_slice(payload);
    h
}

/// An 8-byte options-style extension header (hop-by-hop, dest-opts, or a
/// routing header with segments-left 0) holding one PadN option.
fn ext8(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut e = vec![next, 0, 1, 4, 0, 0, 0, 0];
    e.extend_from_slice(payload);
    e
}

fn frag6(next: u8, offset_units: u16, more: bool, payload: &[u8]) -> Vec<u8> {
    let field = (offset_units << 3) | u16::from(more);
    let mut e = vec![next, 0];
    e.extend_from_slice(&field.to_be_bytes());
    e.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    e.extend_from_slice(payload);
    e
}

fn tcp(dst: u16, flags: u8) -> Vec<u8> {
    let mut t = Vec::with_capacity(20);
    t.extend_from_slice(&CLIENT_PORT.to_be_bytes());
    t.extend_from_slice(&dst.to_be_bytes());
    t.extend_from_slice(&0x1122_3344u32.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]); // ack number
    t.extend_from_slice(&[0x50, flags, 0xfa, 0xf0, 0, 0, 0, 0]);
    t
}

fn udp_len(dst: u16, length_field: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&CLIENT_PORT.to_be_bytes());
    u.extend_from_slice(&dst.to_be_bytes());
    u.extend_from_slice(&length_field.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn udp(dst: u16, payload: &[u8]) -> Vec<u8> {
    udp_len(dst, 8 + payload.len() as u16, payload)
}

fn icmp(icmp_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![icmp_type, 0, 0, 0, 0x12, 0x34, 0, 1];
    m.extend_from_slice(payload);
    m
}

/// Linux cooked v1 header: "sent to us", Ethernet hardware type.
fn sll(proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0];
    f.extend_from_slice(&proto.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Linux cooked v2 header: protocol, reserved, ifindex 3, Ethernet, host.
fn sll2(proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = proto.to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0]);
    f.extend_from_slice(payload);
    f
}

pub(crate) fn by_name(name: &str) -> Fixture {
    all_fixtures()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

/// Every fixture, as a table: one row per frame, so it stays readable.
#[rustfmt::skip]
pub(crate) fn all_fixtures() -> Vec<Fixture> {
    use LinkType::{Ethernet as E, LinuxSll, LinuxSll2, RawIp};
    let knock_udp4 = ipv4(PROTO_UDP, &udp(KNOCK_UDP, SPA));
    let knock_udp6 = ipv6(PROTO_UDP, &udp(KNOCK_UDP, SPA));
    let syn4 = ipv4(PROTO_TCP, &tcp(KNOCK_TCP, TCP_SYN));
    let syn6 = ipv6(PROTO_TCP, &tcp(KNOCK_TCP, TCP_SYN));
    let ping4 = ipv4(PROTO_ICMP, &icmp(8, &PING56));
    let ping6 = ipv6(PROTO_ICMPV6, &icmp(128, &PING56));
    let nop_options = [1, 1, 1, 0];
    let padded = {
        let mut f = eth(ETHERTYPE_IPV4, &ipv4(PROTO_UDP, &udp(KNOCK_UDP, b"k")));
        f.resize(60, 0xee); // Ethernet minimum frame: padding after IP
        f
    };
    let double_vlan = eth(0x88a8, &vlan(0x8100, &vlan(ETHERTYPE_IPV4, &knock_udp4)));
    vec![
        // --- IPv4 / UDP
        fx("eth_ipv4_udp_knock", E, eth(ETHERTYPE_IPV4, &knock_udp4), v4(udp_t(KNOCK_UDP, SPA)), Some(true)),
        fx("eth_vlan_ipv4_udp_knock", E, eth(0x8100, &vlan(ETHERTYPE_IPV4, &knock_udp4)), v4(udp_t(KNOCK_UDP, SPA)), Some(true)),
        fx("eth_qinq_ipv4_udp_knock", E, double_vlan, v4(udp_t(KNOCK_UDP, SPA)), Some(false)),
        fx("eth_ipv4_options_udp_knock", E, eth(ETHERTYPE_IPV4, &ipv4_full(PROTO_UDP, &nop_options, 0, &udp(KNOCK_UDP, SPA))), v4(udp_t(KNOCK_UDP, SPA)), Some(true)),
        fx("eth_ipv4_udp_padded", E, padded, v4(udp_t(KNOCK_UDP, b"k")), Some(true)),
        fx("eth_ipv4_udp_short_udp_length", E, eth(ETHERTYPE_IPV4, &ipv4(PROTO_UDP, &udp_len(KNOCK_UDP, 8 + 7, SPA))), v4(udp_t(KNOCK_UDP, &SPA[..7])), Some(true)),
        fx("eth_ipv4_udp_length_beyond_ip", E, eth(ETHERTYPE_IPV4, &ipv4(PROTO_UDP, &udp_len(KNOCK_UDP, 200, SPA))), None, Some(true)),
        fx("eth_ipv4_udp_length_zero", E, eth(ETHERTYPE_IPV4, &ipv4(PROTO_UDP, &udp_len(KNOCK_UDP, 0, SPA))), None, Some(true)),
        fx("eth_ipv4_udp_other_port", E, eth(ETHERTYPE_IPV4, &ipv4(PROTO_UDP, &udp(53, SPA))), v4(udp_t(53, SPA)), Some(false)),
        fx("eth_ipv4_udp_nonfirst_fragment", E, eth(ETHERTYPE_IPV4, &ipv4_full(PROTO_UDP, &[], 185, &udp(KNOCK_UDP, SPA))), None, Some(false)),
        fx("eth_ipv4_udp_first_fragment", E, eth(ETHERTYPE_IPV4, &ipv4_full(PROTO_UDP, &[], 0x2000, &udp(KNOCK_UDP, SPA))), None, Some(true)),
        fx("loopback_ipv4_udp_knock", E, eth_with_macs([0; 6], [0; 6], ETHERTYPE_IPV4, &knock_udp4), v4(udp_t(KNOCK_UDP, SPA)), Some(true)),
        // --- IPv4 / TCP
        fx("eth_ipv4_tcp_syn", E, eth(ETHERTYPE_IPV4, &syn4), v4(tcp_t(KNOCK_TCP, true, false)), Some(true)),
        fx("eth_ipv4_options_tcp_syn", E, eth(ETHERTYPE_IPV4, &ipv4_full(PROTO_TCP, &nop_options, 0, &tcp(KNOCK_TCP, TCP_SYN))), v4(tcp_t(KNOCK_TCP, true, false)), Some(true)),
        fx("eth_ipv4_tcp_syn_other_port", E, eth(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp(22, TCP_SYN))), v4(tcp_t(22, true, false)), Some(false)),
        fx("eth_ipv4_tcp_synack", E, eth(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp(KNOCK_TCP, TCP_SYN | TCP_ACK))), v4(tcp_t(KNOCK_TCP, true, true)), Some(false)),
        fx("eth_ipv4_tcp_ack", E, eth(ETHERTYPE_IPV4, &ipv4(PROTO_TCP, &tcp(KNOCK_TCP, TCP_ACK))), v4(tcp_t(KNOCK_TCP, false, true)), Some(false)),
        fx("eth_ipv4_tcp_syn_first_fragment", E, eth(ETHERTYPE_IPV4, &ipv4_full(PROTO_TCP, &[], 0x2000, &tcp(KNOCK_TCP, TCP_SYN))), v4(tcp_t(KNOCK_TCP, true, false)), Some(true)),
        // --- IPv4 / ICMP
        fx("eth_ipv4_icmp_echo_56", E, eth(ETHERTYPE_IPV4, &ping4), v4(Transport::IcmpEcho { payload: &PING56 }), Some(true)),
        fx("eth_ipv4_icmp_echo_reply", E, eth(ETHERTYPE_IPV4, &ipv4(PROTO_ICMP, &icmp(0, &PING56))), None, Some(false)),
        fx("eth_ipv4_carrying_icmpv6", E, eth(ETHERTYPE_IPV4, &ipv4(PROTO_ICMPV6, &icmp(128, &PING56))), None, Some(false)),
        // --- IPv6
        fx("eth_ipv6_udp_knock", E, eth(ETHERTYPE_IPV6, &knock_udp6), v6(udp_t(KNOCK_UDP, SPA)), Some(true)),
        fx("eth_ipv6_udp_other_port", E, eth(ETHERTYPE_IPV6, &ipv6(PROTO_UDP, &udp(53, SPA))), v6(udp_t(53, SPA)), Some(false)),
        fx("eth_vlan_ipv6_tcp_syn", E, eth(0x8100, &vlan(ETHERTYPE_IPV6, &syn6)), v6(tcp_t(KNOCK_TCP, true, false)), Some(true)),
        fx("eth_ipv6_tcp_synack", E, eth(ETHERTYPE_IPV6, &ipv6(PROTO_TCP, &tcp(KNOCK_TCP, TCP_SYN | TCP_ACK))), v6(tcp_t(KNOCK_TCP, true, true)), Some(false)),
        fx("eth_ipv6_icmpv6_echo_56", E, eth(ETHERTYPE_IPV6, &ping6), v6(Transport::IcmpEcho { payload: &PING56 }), Some(true)),
        fx("eth_ipv6_neighbor_solicit", E, eth(ETHERTYPE_IPV6, &ipv6(PROTO_ICMPV6, &icmp(135, &[0; 16]))), None, Some(false)),
        fx("eth_ipv6_carrying_icmpv4", E, eth(ETHERTYPE_IPV6, &ipv6(PROTO_ICMP, &icmp(8, &PING56))), None, Some(false)),
        // Extension headers: parsed, but the filter checks only the fixed
        // next-header field, so it drops them (documented in filter.rs).
        fx("eth_ipv6_ext_chain_udp_knock", E, eth(ETHERTYPE_IPV6, &ipv6(V6_HOP_BY_HOP, &ext8(V6_ROUTING, &ext8(V6_DEST_OPTS, &ext8(PROTO_UDP, &udp(KNOCK_UDP, SPA)))))), v6(udp_t(KNOCK_UDP, SPA)), Some(false)),
        fx("eth_ipv6_first_fragment_tcp_syn", E, eth(ETHERTYPE_IPV6, &ipv6(V6_FRAGMENT, &frag6(PROTO_TCP, 0, true, &tcp(KNOCK_TCP, TCP_SYN)))), v6(tcp_t(KNOCK_TCP, true, false)), Some(false)),
        fx("eth_ipv6_nonfirst_fragment_udp", E, eth(ETHERTYPE_IPV6, &ipv6(V6_FRAGMENT, &frag6(PROTO_UDP, 100, false, &udp(KNOCK_UDP, SPA)))), None, Some(false)),
        fx("eth_ipv6_hop_by_hop_truncated", E, eth(ETHERTYPE_IPV6, &ipv6(V6_HOP_BY_HOP, &[PROTO_UDP, 0, 1])), None, Some(false)),
        // --- not IP
        fx("eth_arp", E, eth(ETHERTYPE_ARP, &[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 198, 18, 0, 2, 0, 0, 0, 0, 0, 0, 198, 18, 0, 1]), None, Some(false)),
        fx("eth_empty", E, Vec::new(), None, Some(false)),
        // --- other link types
        fx("sll_ipv4_udp_knock", LinuxSll, sll(ETHERTYPE_IPV4, &knock_udp4), v4(udp_t(KNOCK_UDP, SPA)), None),
        fx("sll2_ipv6_udp_knock", LinuxSll2, sll2(ETHERTYPE_IPV6, &knock_udp6), v6(udp_t(KNOCK_UDP, SPA)), None),
        fx("sll2_arp", LinuxSll2, sll2(ETHERTYPE_ARP, &[0; 28]), None, None),
        fx("rawip_ipv4_udp_knock", RawIp, knock_udp4.clone(), v4(udp_t(KNOCK_UDP, SPA)), Some(true)),
        fx("rawip_ipv4_tcp_syn", RawIp, syn4, v4(tcp_t(KNOCK_TCP, true, false)), Some(true)),
        fx("rawip_ipv4_icmp_echo_56", RawIp, ping4, v4(Transport::IcmpEcho { payload: &PING56 }), Some(true)),
        fx("rawip_ipv6_icmpv6_echo_56", RawIp, ping6, v6(Transport::IcmpEcho { payload: &PING56 }), Some(true)),
        fx("rawip_ipv6_udp_other_port", RawIp, ipv6(PROTO_UDP, &udp(9, SPA)), v6(udp_t(9, SPA)), Some(false)),
        fx("rawip_garbage", RawIp, vec![0x45, 0, 0], None, Some(false)),
    ]
}
