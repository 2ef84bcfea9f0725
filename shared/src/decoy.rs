//! Smoke screen: decoy packets that look like knocks but can never be
//! part of one (DESIGN.md §3).
//!
//! Decoys use the protocols the real knock uses and the sizes real packets
//! have, go only to ports outside the door's port set, and are interleaved
//! with jittered timing, so an observer cannot tell which packets matter.
//! The server ignores them because they miss every port it watches.

use crate::method::KnockProto;
use crate::packet::Wire;
use rand::{Rng, RngCore};
use std::collections::BTreeSet;
use std::ops::RangeInclusive;

/// Ports decoys may use: above the well-known range, so they do not poke
/// real services.
pub const DECOY_PORTS: RangeInclusive<u16> = 1024..=65535;

/// What decoys for one knock must look like and must avoid.
#[derive(Debug, Clone, Default)]
pub struct DecoySpec {
    /// Protocols of the real knock; each decoy uses one of them.
    pub protos: Vec<KnockProto>,
    /// Ports a decoy must never hit (doors, knock ports, SPA port).
    pub avoid_ports: BTreeSet<u16>,
    /// Whole ranges to avoid (a dynamic sequence's port range).
    pub avoid_ranges: Vec<RangeInclusive<u16>>,
    /// ICMP payload lengths a decoy must not use (ICMP knocks).
    pub avoid_icmp_lens: BTreeSet<u16>,
    /// TCP knocks are raw SYNs with chosen sequence numbers (SYN tokens).
    pub raw_syn: bool,
    /// Decoys carry random bytes of the SPA length distribution.
    pub spa_sized: bool,
}

impl DecoySpec {
    pub fn port_allowed(&self, port: u16) -> bool {
        DECOY_PORTS.contains(&port)
            && !self.avoid_ports.contains(&port)
            && !self.avoid_ranges.iter().any(|r| r.contains(&port))
    }

    fn port(&self, rng: &mut impl RngCore) -> u16 {
        // Rejection sampling; the avoided set is tiny next to 64k ports, but
        // a pathological spec (everything avoided) falls back to a scan.
        for _ in 0..64 {
            let p = rng.random_range(DECOY_PORTS);
            if self.port_allowed(p) {
                return p;
            }
        }
        let start = rng.random_range(DECOY_PORTS);
        (start..=u16::MAX)
            .chain(*DECOY_PORTS.start()..start)
            .find(|&p| self.port_allowed(p))
            .unwrap_or(start)
    }

    fn payload(&self, rng: &mut impl RngCore) -> Vec<u8> {
        if self.spa_sized {
            let len = crate::method::spa::padded_len(rng, 0);
            let mut v = vec![0u8; len];
            rng.fill_bytes(&mut v);
            v
        } else {
            Vec::new()
        }
    }

    /// One decoy packet. `None` when the spec has no protocol to imitate or
    /// no port left to use.
    pub fn make(&self, rng: &mut impl RngCore) -> Option<Wire> {
        if self.protos.is_empty() {
            return None;
        }
        let proto = self.protos[rng.random_range(0..self.protos.len())];
        Some(match proto {
            KnockProto::Tcp => {
                let port = self.port(rng);
                if !self.port_allowed(port) {
                    return None;
                }
                if self.raw_syn {
                    // Never 17, the static token's magic number.
                    let seq = loop {
                        let s = rng.next_u32();
                        if s != crate::method::syn_token::STATIC_SEQ {
                            break s;
                        }
                    };
                    // A keyed token's source port is uniform over
                    // 1024–65535: so is a decoy's, so it cannot be told apart.
                    let src_port =
                        rng.random_range(crate::method::syn_token::KEYED_SRC_PORT_MIN..=u16::MAX);
                    Wire::RawSyn {
                        port,
                        seq,
                        src_port: Some(src_port),
                    }
                } else {
                    Wire::TcpSyn { port }
                }
            }
            KnockProto::Udp => {
                let port = self.port(rng);
                if !self.port_allowed(port) {
                    return None;
                }
                Wire::Udp {
                    port,
                    payload: self.payload(rng),
                }
            }
            KnockProto::Icmp => {
                let payload = if self.spa_sized {
                    self.payload(rng)
                } else {
                    let len = loop {
                        // Sizes people ping with: 8..=1400 bytes.
                        let l = rng.random_range(8u16..=1400);
                        if !self.avoid_icmp_lens.contains(&l) {
                            break l;
                        }
                    };
                    let mut v = vec![0u8; usize::from(len)];
                    rng.fill_bytes(&mut v);
                    v
                };
                Wire::IcmpEcho { payload }
            }
        })
    }
}
