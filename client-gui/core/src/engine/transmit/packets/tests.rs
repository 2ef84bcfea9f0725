use super::*;
use std::net::Ipv6Addr;

fn token(src: &str, dst: &str) -> SynToken {
    SynToken {
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        src_port: 50123,
        dst_port: 3389,
        seq: 0xdead_beef,
    }
}

/// The receiver's check: pseudo-header plus segment sums to 0xffff.
fn tcp_checksum_ok(t: &SynToken, seg: &[u8]) -> bool {
    let pseudo = pseudo_header_sum(t.src, t.dst, seg.len()).unwrap();
    fold(sum_words(pseudo, seg)) == 0xffff
}

#[test]
fn echo_request_checksum_is_valid() {
    let b = echo_request(false, 0x1234, 7, &[0xab; 13]);
    assert_eq!(b[0], 8);
    assert_eq!(b.len(), 8 + 13);
    // A correct checksum makes the whole message sum to 0xffff (i.e. !0).
    assert_eq!(internet_checksum(&b), 0);
    let v6 = echo_request(true, 1, 1, &[1, 2, 3]);
    assert_eq!((v6[0], v6[2], v6[3]), (128, 0, 0));
}

#[test]
fn syn_segment_carries_the_token_and_a_valid_checksum() {
    for t in [
        token("198.18.0.2", "198.19.0.1"),
        token("fd00::2", "fd00::1"),
    ] {
        let seg = tcp_syn_segment(&t).unwrap();
        assert_eq!(u16::from_be_bytes([seg[0], seg[1]]), 50123);
        assert_eq!(u16::from_be_bytes([seg[2], seg[3]]), 3389);
        assert_eq!(
            u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]),
            0xdead_beef
        );
        assert_eq!(&seg[8..12], &[0; 4], "acknowledgement");
        assert_eq!(seg[12] >> 4, 5, "no options");
        assert_eq!(seg[13], 0x02, "SYN only");
        assert!(tcp_checksum_ok(&t, &seg), "{t:?}");
    }
}

/// The checksum agrees with pnet's, which Linux and macOS used before
/// the packet building moved here.
#[cfg(not(windows))]
#[test]
fn syn_checksum_matches_pnet() {
    use pnet::packet::tcp::{TcpPacket, ipv4_checksum, ipv6_checksum};
    use std::net::Ipv4Addr;
    let t4 = token("198.18.7.9", "198.19.200.1");
    let seg = tcp_syn_segment(&t4).unwrap();
    let p = TcpPacket::new(&seg).unwrap();
    let (s, d) = (Ipv4Addr::new(198, 18, 7, 9), Ipv4Addr::new(198, 19, 200, 1));
    assert_eq!(
        ipv4_checksum(&p, &s, &d),
        u16::from_be_bytes([seg[16], seg[17]])
    );
    let t6 = token("fd00::a:2", "fd00::1:1");
    let seg = tcp_syn_segment(&t6).unwrap();
    let p = TcpPacket::new(&seg).unwrap();
    let (s, d): (Ipv6Addr, Ipv6Addr) = ("fd00::a:2".parse().unwrap(), "fd00::1:1".parse().unwrap());
    assert_eq!(
        ipv6_checksum(&p, &s, &d),
        u16::from_be_bytes([seg[16], seg[17]])
    );
}

#[test]
fn ipv4_packet_has_a_valid_header_around_the_segment() {
    let t = token("198.18.0.2", "198.19.0.1");
    let p = ip_syn_packet(&t, 0x4242).unwrap();
    assert_eq!(p.len(), 40);
    assert_eq!(p[0], 0x45);
    assert_eq!(u16::from_be_bytes([p[2], p[3]]), 40, "total length");
    assert_eq!(u16::from_be_bytes([p[4], p[5]]), 0x4242, "identification");
    assert_eq!(p[6] & 0x40, 0x40, "don't fragment");
    assert_eq!((p[8], p[9]), (128, 6), "ttl, protocol TCP");
    assert_eq!(internet_checksum(&p[..20]), 0, "header checksum");
    assert_eq!(&p[12..16], &[198, 18, 0, 2]);
    assert_eq!(&p[16..20], &[198, 19, 0, 1]);
    assert_eq!(&p[20..], &tcp_syn_segment(&t).unwrap());
}

#[test]
fn ipv6_packet_has_the_fixed_header_around_the_segment() {
    let t = token("fd00::2", "fd00::1");
    let p = ip_syn_packet(&t, 0).unwrap();
    assert_eq!(p.len(), 60);
    assert_eq!(p[0] >> 4, 6);
    assert_eq!(u16::from_be_bytes([p[4], p[5]]), 20, "payload length");
    assert_eq!((p[6], p[7]), (6, 128), "next header TCP, hop limit");
    assert_eq!(&p[8..24], &"fd00::2".parse::<Ipv6Addr>().unwrap().octets());
    assert_eq!(&p[24..40], &"fd00::1".parse::<Ipv6Addr>().unwrap().octets());
    assert!(tcp_checksum_ok(&t, &p[40..]));
}

#[test]
fn mixed_families_are_refused() {
    let t = token("198.18.0.2", "fd00::1");
    assert!(tcp_syn_segment(&t).is_err());
    let e = ip_syn_packet(&t, 1).unwrap_err();
    assert!(e.to_string().contains("not of the same IP version"), "{e}");
}
