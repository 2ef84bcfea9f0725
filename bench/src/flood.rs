//! A bounded junk flood from the client namespace, as whole Ethernet frames
//! on the client's veth (AF_PACKET), so sources can be spoofed.
//!
//! Hard limits, whatever the caller asks: destinations only inside
//! 198.18.0.0/15 or fd00::/8, at most `MAX_PACKETS` packets and
//! `MAX_SECONDS` seconds per flood.

use anyhow::{Context, Result, bail};
use rand::{Rng, RngCore, SeedableRng};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const MAX_PACKETS: u64 = 2_000_000;
pub const MAX_SECONDS: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Junk {
    /// Random bytes of SPA-like length to a UDP port.
    Udp { port: u16 },
    /// TCP SYNs to a port.
    Syn { port: u16 },
    /// Base64 text of the length Debian's fwknop sends (204 bytes) to a
    /// UDP port: what gets past fwknop's cheap checks (length, alphabet)
    /// and costs an HMAC per fwknop user (posternd, within its budget) or
    /// a full decode attempt (fwknopd).
    Base64 { port: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    /// One attacker address of its own (the client namespace's second
    /// address), not the knocking client's.
    Attacker,
    /// Random sources in 198.18.128.0/17 (spoofed).
    SpoofedV4,
    /// Every packet from a new address in fd00:5053:4d00::/40 (spoofed).
    DistinctV6,
}

#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub junk: Junk,
    pub sources: Sources,
    pub pps: u64,
    pub packets: u64,
    pub seconds: u64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Sent {
    pub packets: u64,
    pub seconds: f64,
}

impl Sent {
    pub fn pps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.packets as f64 / self.seconds
        } else {
            0.0
        }
    }
}

fn allowed(dst: IpAddr) -> bool {
    match dst {
        IpAddr::V4(a) => {
            let o = a.octets();
            o[0] == 198 && (o[1] == 18 || o[1] == 19)
        }
        IpAddr::V6(a) => a.octets()[0] == 0xfd,
    }
}

#[derive(Clone)]
pub struct Link {
    pub iface: String,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// Source of unspoofed junk: a second address in the client namespace.
    pub attacker_v4: Ipv4Addr,
    pub server_v4: Ipv4Addr,
    pub server_v6: Ipv6Addr,
}

pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let v: Vec<u8> = s
        .trim()
        .split(':')
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    v.try_into()
        .map_err(|_| anyhow::anyhow!("not a MAC address: {s:?}"))
}

/// Sends the flood; must run on a thread inside the client namespace.
pub fn run(link: &Link, spec: Spec, stop: &Arc<AtomicBool>) -> Result<Sent> {
    let dst = match spec.sources {
        Sources::DistinctV6 => IpAddr::V6(link.server_v6),
        _ => IpAddr::V4(link.server_v4),
    };
    if !allowed(dst) {
        bail!("refusing to flood {dst}: only 198.18.0.0/15 and fd00::/8");
    }
    let packets = spec.packets.min(MAX_PACKETS);
    let seconds = spec.seconds.min(MAX_SECONDS);
    let iface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == link.iface)
        .with_context(|| format!("interface {} not found", link.iface))?;
    let (mut tx, _rx) = match pnet_datalink::channel(&iface, Default::default())? {
        pnet_datalink::Channel::Ethernet(tx, rx) => (tx, rx),
        _ => bail!("not an Ethernet channel"),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut payloads: Vec<Vec<u8>> = Vec::with_capacity(256);
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for _ in 0..256 {
        let p = match spec.junk {
            Junk::Base64 { .. } => (0..204).map(|_| B64[rng.random_range(0..64)]).collect(),
            _ => {
                let mut p = vec![0u8; rng.random_range(128..=256)];
                rng.fill_bytes(&mut p);
                p
            }
        };
        payloads.push(p);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut frame = Vec::with_capacity(400);
    let mut sent = 0u64;
    while sent < packets && !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // Pace: never ahead of `pps`.
        let due = start + Duration::from_secs_f64(sent as f64 / spec.pps as f64);
        if due > now {
            std::thread::sleep(due - now);
        }
        frame.clear();
        let eth = etherparse::PacketBuilder::ethernet2(link.src_mac, link.dst_mac);
        let i = sent as usize;
        let built = match spec.sources {
            Sources::DistinctV6 => {
                let mut src = [0u8; 16];
                src[..5].copy_from_slice(&[0xfd, 0x00, 0x50, 0x53, 0x4d]);
                src[8..].copy_from_slice(&sent.to_be_bytes());
                let ip = eth.ipv6(src, link.server_v6.octets(), 64);
                write_l4(ip, spec.junk, &payloads[i & 255], &mut frame)
            }
            s => {
                let src = match s {
                    Sources::SpoofedV4 => Ipv4Addr::from(0xC612_8000 | (rng.next_u32() & 0x7fff)),
                    _ => link.attacker_v4,
                };
                let ip = eth.ipv4(src.octets(), link.server_v4.octets(), 64);
                write_l4(ip, spec.junk, &payloads[i & 255], &mut frame)
            }
        };
        built?;
        if let Some(Err(e)) = tx.send_to(&frame, None) {
            // A full queue under a flood is expected; anything else is not.
            if e.raw_os_error() != Some(105) {
                return Err(e).context("sending a frame");
            }
        }
        sent += 1;
    }
    Ok(Sent {
        packets: sent,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn write_l4(
    ip: etherparse::PacketBuilderStep<etherparse::IpHeaders>,
    junk: Junk,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    match junk {
        Junk::Udp { port } | Junk::Base64 { port } => ip.udp(40000, port).write(out, payload)?,
        Junk::Syn { port } => ip
            .tcp(40001, port, 0x1234_5678, 1024)
            .syn()
            .write(out, &[])?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_benchmark_ranges_can_be_flooded() {
        for ok in ["198.18.0.1", "198.19.255.254", "fd00::1", "fdff:ffff::1"] {
            assert!(allowed(ok.parse().expect("address")), "{ok} refused");
        }
        for no in [
            "198.17.255.255",
            "198.20.0.1",
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "fc00::1",
            "fe80::1",
            "::1",
            "::ffff:198.18.0.1",
        ] {
            assert!(!allowed(no.parse().expect("address")), "{no} allowed");
        }
    }

    #[test]
    fn a_flood_outside_the_ranges_is_refused_before_any_socket() {
        let link = Link {
            // No such interface: had the guard let the flood through, the
            // error would be about the interface instead.
            iface: "pb-nonexistent".into(),
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            attacker_v4: Ipv4Addr::new(198, 18, 0, 3),
            server_v4: Ipv4Addr::new(198, 20, 0, 1),
            server_v6: "fd00::1".parse().expect("address"),
        };
        let spec = Spec {
            junk: Junk::Udp { port: 9 },
            sources: Sources::Attacker,
            pps: 1,
            packets: 1,
            seconds: 1,
        };
        let err = run(&link, spec, &Arc::new(AtomicBool::new(false)))
            .expect_err("flood outside 198.18.0.0/15 started");
        assert!(
            err.to_string().contains("refusing to flood 198.20.0.1"),
            "{err}"
        );
    }
}
