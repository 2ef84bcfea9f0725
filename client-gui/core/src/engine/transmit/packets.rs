//! Pure packet building for the knocks the OS cannot build for us: the
//! ICMP echo request of a raw/unprivileged socket, and the SYN of a SYN
//! token (a chosen sequence number, and for keyed tokens a chosen source
//! port). Shared by every platform so that only the send call differs:
//! Linux/macOS hand the TCP segment to a raw socket (the kernel adds the
//! IP header), Windows hands the whole IP packet to WinDivert.

use std::net::IpAddr;

/// Builds an echo request: type, code 0, checksum, identifier, sequence,
/// payload. The checksum is computed for ICMPv4; for ICMPv6 the kernel
/// fills it in (it needs the pseudo-header), as it does the identifier of
/// unprivileged sockets.
pub fn echo_request(v6: bool, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + payload.len());
    b.push(if v6 { 128 } else { 8 });
    b.push(0);
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&ident.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(payload);
    if !v6 {
        let sum = internet_checksum(&b);
        b[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    b
}

/// RFC 1071 one's-complement sum.
pub(crate) fn internet_checksum(data: &[u8]) -> u16 {
    !fold(sum_words(0, data))
}

/// Adds `data` as big-endian 16-bit words (odd length padded with zero).
fn sum_words(mut sum: u32, data: &[u8]) -> u32 {
    for c in data.chunks(2) {
        let word = u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]);
        sum = sum.wrapping_add(u32::from(word));
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// TCP window of the SYN: what a current Windows or Linux stack offers on
/// Ethernet, so the knock does not stand out by its window.
const SYN_WINDOW: u16 = 64240;

/// The addresses and ports of one SYN-token knock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynToken {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
}

/// Why a SYN could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the source address {src} and the destination {dst} are not of the same IP version")]
pub struct MixedFamilies {
    pub src: IpAddr,
    pub dst: IpAddr,
}

/// The 20-byte TCP header of the SYN (no options), checksum included.
pub fn tcp_syn_segment(t: &SynToken) -> Result<[u8; 20], MixedFamilies> {
    let mut h = [0u8; 20];
    h[0..2].copy_from_slice(&t.src_port.to_be_bytes());
    h[2..4].copy_from_slice(&t.dst_port.to_be_bytes());
    h[4..8].copy_from_slice(&t.seq.to_be_bytes());
    // Acknowledgement 0; data offset 5 words; flags SYN.
    h[12] = 5 << 4;
    h[13] = 0x02;
    h[14..16].copy_from_slice(&SYN_WINDOW.to_be_bytes());
    let pseudo = pseudo_header_sum(t.src, t.dst, h.len())?;
    let sum = !fold(sum_words(pseudo, &h));
    h[16..18].copy_from_slice(&sum.to_be_bytes());
    Ok(h)
}

/// The sum of the TCP pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1).
fn pseudo_header_sum(src: IpAddr, dst: IpAddr, tcp_len: usize) -> Result<u32, MixedFamilies> {
    const TCP: u32 = 6;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let sum = sum_words(sum_words(0, &s.octets()), &d.octets());
            Ok(sum + TCP + tcp_len as u32)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let sum = sum_words(sum_words(0, &s.octets()), &d.octets());
            Ok(sum + TCP + tcp_len as u32)
        }
        _ => Err(MixedFamilies { src, dst }),
    }
}

/// Hop limit of the SYN's IP header: Windows' default, as the packet
/// leaves a Windows computer (WinDivert sends what we build, unchanged).
const HOP_LIMIT: u8 = 128;

/// The whole IP packet of the SYN (IPv4 header with its checksum, or the
/// IPv6 header) for senders that inject at the network layer. `ip_id` is
/// the IPv4 identification (unused for IPv6).
pub fn ip_syn_packet(t: &SynToken, ip_id: u16) -> Result<Vec<u8>, MixedFamilies> {
    let tcp = tcp_syn_segment(t)?;
    let mut p = Vec::with_capacity(60);
    match (t.src, t.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + tcp.len()) as u16;
            p.extend_from_slice(&[0x45, 0]);
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&ip_id.to_be_bytes());
            // Don't fragment, offset 0.
            p.extend_from_slice(&[0x40, 0]);
            p.extend_from_slice(&[HOP_LIMIT, 6, 0, 0]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            let sum = internet_checksum(&p);
            p[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            p.extend_from_slice(&[6, HOP_LIMIT]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
        }
        _ => {
            return Err(MixedFamilies {
                src: t.src,
                dst: t.dst,
            });
        }
    }
    p.extend_from_slice(&tcp);
    Ok(p)
}

#[cfg(test)]
mod tests;
