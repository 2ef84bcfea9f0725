//! Frame bytes → [`Packet`]: the pure half of capture.
//!
//! Input is untrusted (anyone can send us a frame), so every read goes through
//! `etherparse`'s checked slices (STYLE.md rule 3): each layer is length-checked
//! against the layer above before a field is read, IPv4 honours IHL and total
//! length (so Ethernet padding is never mistaken for payload), IPv6 extension
//! headers are walked with bounds, and UDP payloads end where the UDP length
//! field says. Anything that is not a knock candidate — or is malformed — is
//! `None`; bad knocks are dropped silently (rule 4), so there is no error type.
//!
//! What counts as a candidate, and why:
//! - TCP: any segment; flags are reported so the matcher decides (it wants
//!   SYN without ACK). A first fragment is accepted because its TCP header is
//!   complete; non-first fragments carry no header and are ignored.
//! - UDP: the payload is the SPA / knock data, so fragmented datagrams are
//!   ignored (the payload would be incomplete, and a knock is never that big).
//! - ICMP echo request (type 8) over IPv4 and ICMPv6 echo request (type 128)
//!   over IPv6 only; the payload starts after the 8-byte echo header, so
//!   `ping -s 56` gives 56 bytes. ICMP carried in the wrong IP version, and
//!   every other ICMP type, is `None`.
//!
//! Direction (incoming vs. outgoing) is not this module's business: the
//! capture adapter drops outgoing frames before they get here.

use std::net::IpAddr;

use etherparse::{
    EtherType, Icmpv4Slice, Icmpv6Slice, IpNumber, IpPayloadSlice, Ipv6ExtensionSlice, NetSlice,
    SlicedPacket, TcpSlice, UdpSlice,
};

use super::LinkType;
use crate::packet::{Packet, Transport};

/// ICMP (v4) type of an echo request (RFC 792).
const ICMPV4_ECHO_REQUEST: u8 = 8;
/// ICMPv6 type of an echo request (RFC 4443 §4.1).
const ICMPV6_ECHO_REQUEST: u8 = 128;

/// Byte layout of the Linux cooked v2 header (`LINKTYPE_LINUX_SLL2`), which
/// etherparse does not know. Only the protocol field is needed.
mod sll2 {
    use std::ops::Range;
    /// Ether type of the payload, big endian.
    pub const PROTOCOL: Range<usize> = 0..2;
    /// Total header length; the network header starts here.
    pub const HEADER_LEN: usize = 20;
}

/// Parses one captured frame into a knock candidate.
///
/// Returns `None` for anything that is not IPv4/IPv6 carrying TCP, UDP or an
/// ICMP echo request, and for every malformed or truncated frame. Never panics,
/// whatever the bytes (see the proptests below).
pub fn parse_frame(link: LinkType, frame: &[u8]) -> Option<Packet<'_>> {
    let sliced = match link {
        LinkType::Ethernet => SlicedPacket::from_ethernet(frame),
        LinkType::LinuxSll => SlicedPacket::from_linux_sll(frame),
        LinkType::LinuxSll2 => {
            let proto = frame.get(sll2::PROTOCOL)?;
            let ether_type = EtherType(u16::from_be_bytes([proto[0], proto[1]]));
            SlicedPacket::from_ether_type(ether_type, frame.get(sll2::HEADER_LEN..)?)
        }
        LinkType::RawIp => SlicedPacket::from_ip(frame),
    }
    .ok()?;

    match sliced.net? {
        NetSlice::Ipv4(ip) => {
            let header = ip.header();
            let first_fragment = header.fragments_offset().value() == 0;
            Some(Packet {
                src: IpAddr::V4(header.source_addr()),
                dst: IpAddr::V4(header.destination_addr()),
                transport: transport(Family::V4, ip.payload(), first_fragment)?,
            })
        }
        NetSlice::Ipv6(ip) => {
            let header = ip.header();
            let first_fragment = ip.extensions().clone().into_iter().all(|ext| match ext {
                Ipv6ExtensionSlice::Fragment(frag) => frag.fragment_offset().value() == 0,
                _ => true,
            });
            Some(Packet {
                src: IpAddr::V6(header.source_addr()),
                dst: IpAddr::V6(header.destination_addr()),
                transport: transport(Family::V6, ip.payload(), first_fragment)?,
            })
        }
        NetSlice::Arp(_) => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

/// Reads the transport layer out of an IP payload that etherparse has already
/// bounded by the IP length fields.
fn transport<'a>(
    family: Family,
    ip: &IpPayloadSlice<'a>,
    first_fragment: bool,
) -> Option<Transport<'a>> {
    if ip.fragmented && !(first_fragment && ip.ip_number == IpNumber::TCP) {
        return None;
    }
    let data = ip.payload;
    match (ip.ip_number, family) {
        (IpNumber::TCP, _) => {
            let tcp = TcpSlice::from_slice(data).ok()?;
            Some(Transport::Tcp {
                dst_port: tcp.destination_port(),
                src_port: tcp.source_port(),
                seq: tcp.sequence_number(),
                syn: tcp.syn(),
                ack: tcp.ack(),
            })
        }
        (IpNumber::UDP, _) => {
            let udp = UdpSlice::from_slice(data).ok()?;
            // Length 0 means "use the IP length" only for IPv6 jumbograms
            // (RFC 2675), which no knock is; etherparse would accept it.
            if udp.length() == 0 {
                return None;
            }
            Some(Transport::Udp {
                dst_port: udp.destination_port(),
                src_port: udp.source_port(),
                payload: udp.payload(),
            })
        }
        (IpNumber::ICMP, Family::V4) => {
            let icmp = Icmpv4Slice::from_slice(data).ok()?;
            (icmp.type_u8() == ICMPV4_ECHO_REQUEST).then(|| Transport::IcmpEcho {
                payload: icmp.payload(),
            })
        }
        (IpNumber::IPV6_ICMP, Family::V6) => {
            let icmp = Icmpv6Slice::from_slice(data).ok()?;
            (icmp.type_u8() == ICMPV6_ECHO_REQUEST).then(|| Transport::IcmpEcho {
                payload: icmp.payload(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::fixtures::{self, all_fixtures};
    use proptest::prelude::*;

    #[test]
    fn every_fixture_parses_as_expected() {
        for fx in all_fixtures() {
            assert_eq!(
                parse_frame(fx.link, &fx.frame),
                fx.parsed,
                "fixture {}",
                fx.name
            );
        }
    }

    #[test]
    fn icmp_echo_payload_excludes_the_echo_header() {
        let fx = fixtures::by_name("eth_ipv4_icmp_echo_56");
        let Some(Packet {
            transport: Transport::IcmpEcho { payload },
            ..
        }) = parse_frame(fx.link, &fx.frame)
        else {
            panic!("not an echo: {:?}", parse_frame(fx.link, &fx.frame));
        };
        assert_eq!(payload.len(), 56);
    }

    #[test]
    fn every_truncation_of_every_fixture_is_handled() {
        // Cutting a frame anywhere must give None or (for cuts that only drop
        // Ethernet padding / bytes after the IP length) the same packet.
        for fx in all_fixtures() {
            for cut in 0..fx.frame.len() {
                let got = parse_frame(fx.link, &fx.frame[..cut]);
                assert!(
                    got.is_none() || got == fx.parsed,
                    "fixture {} cut at {cut}: {got:?}",
                    fx.name
                );
            }
        }
    }

    #[test]
    fn wrong_link_type_never_panics() {
        for fx in all_fixtures() {
            for link in [
                LinkType::Ethernet,
                LinkType::LinuxSll,
                LinkType::LinuxSll2,
                LinkType::RawIp,
            ] {
                let _ = parse_frame(link, &fx.frame);
            }
        }
    }

    fn any_link() -> impl Strategy<Value = LinkType> {
        prop_oneof![
            Just(LinkType::Ethernet),
            Just(LinkType::LinuxSll),
            Just(LinkType::LinuxSll2),
            Just(LinkType::RawIp),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn arbitrary_bytes_never_panic(
            link in any_link(),
            bytes in proptest::collection::vec(any::<u8>(), 0..1600),
        ) {
            let _ = parse_frame(link, &bytes);
        }

        /// Random bytes rarely get past the Ethernet / IP checks; mutating
        /// valid fixtures exercises the deeper layers.
        #[test]
        fn mutated_fixtures_never_panic(
            index in any::<prop::sample::Index>(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let fixtures = all_fixtures();
            let fx = index.get(&fixtures);
            let mut frame = fx.frame.clone();
            for (at, byte) in edits {
                if !frame.is_empty() {
                    let i = at.index(frame.len());
                    frame[i] = byte;
                }
            }
            let len = cut.index(frame.len() + 1);
            frame.truncate(len);
            if let Some(p) = parse_frame(fx.link, &frame) {
                // Payload slices always point inside the frame.
                let inner = match p.transport {
                    Transport::Udp { payload, .. } | Transport::IcmpEcho { payload } => payload.len(),
                    Transport::Tcp { .. } => 0,
                };
                prop_assert!(inner <= frame.len());
            }
        }
    }
}
