//! The scan guard: its window on its own, and scans through the
//! dispatcher.

use super::super::scan::{ScanWindow, Verdict, admit};
use super::super::sequence::Attempts;
use super::*;
use postern_proto::method::KnockProto;
use postern_proto::method::sequence::Knock;

#[test]
fn sequential_scan_never_opens() {
    for proto in ["tcp", "udp", "both"] {
        let mut m = matcher();
        let src = "198.18.0.9";
        let mut t = T0;
        for port in 1..=u16::MAX {
            t += 1;
            match proto {
                "tcp" => m.handle_packet(t, &tcp(src, port, 0)),
                "udp" => m.handle_packet(t, &udp(src, port, &[])),
                _ => {
                    m.handle_packet(t, &tcp(src, port, 0));
                    m.handle_packet(t, &udp(src, port, &[]));
                }
            }
            if port % 1000 == 0 {
                m.handle_packet(t, &icmp(src, &[0u8; 64]));
            }
        }
        let (g, d) = events(&mut m);
        assert!(g.is_empty(), "{proto} scan opened {g:?}");
        assert!(
            d.iter().any(|d| d.reason.starts_with("scan guard")),
            "{d:?}"
        );
    }
}

#[test]
fn connecting_to_the_door_between_knocks_is_not_scanning() {
    // A client that knocks four times in a row (16 knock-port changes)
    // while probing the door between knocks must not trip the scan guard
    // (scan_limit = 20): counting the door would make it 32.
    let mut m = matcher();
    let src = "198.18.0.2";
    let mut t = T0;
    for _ in 0..4 {
        for p in [7000u16, 22, 22] {
            t += 1;
            m.handle_packet(t, &tcp(src, p, 1));
        }
        t += 1;
        m.handle_packet(t, &udp(src, 8000, &[]));
        m.handle_packet(t, &tcp(src, 22, 1));
        m.handle_packet(t, &tcp(src, 9000, 1));
        m.handle_packet(t, &tcp(src, 22, 1));
        m.handle_packet(t, &icmp(src, &[0u8; 64]));
    }
    let (g, d) = events(&mut m);
    assert_eq!(g.len(), 4, "{d:?}");
}

#[test]
fn a_million_spoofed_sources_stay_within_the_bound() {
    let mut m = matcher(); // max_sources = 1000
    for i in 0..1_000_000u32 {
        let src = IpAddr::V4(std::net::Ipv4Addr::from(0xC612_0000 | (i & 0x1_ffff)));
        let src = if i < 0x2_0000 {
            src
        } else {
            IpAddr::V6(std::net::Ipv6Addr::from(0xfd00_u128 << 112 | u128::from(i)))
        };
        m.handle_packet(
            T0 + u64::from(i / 1000),
            &Packet {
                src,
                dst: ip("198.18.0.1"),
                transport: Transport::Tcp {
                    dst_port: 7000,
                    src_port: 1,
                    seq: 0,
                    syn: true,
                    ack: false,
                },
            },
        );
        assert!(m.sources().len() <= 1000);
    }
    let bound = SourceTable::bound_bytes(1000);
    assert!(
        m.sources().approx_bytes() <= bound,
        "{} > {bound}",
        m.sources().approx_bytes()
    );
    assert!(m.stats().evicted_sources >= 999_000);
    // A legitimate knock still works during and after the flood.
    knock_static(&mut m, "198.18.0.2", T0 + 1_000_000);
    assert_eq!(events(&mut m).0.len(), 1);
}

fn k(port: u16) -> Knock {
    Knock {
        proto: KnockProto::Tcp,
        value: port,
    }
}

/// The window on its own: repeats and door connections do not count; the
/// first knock over the limit trips it, later ones are blocked, and a new
/// window starts clean.
#[test]
fn the_window_trips_once_then_blocks_until_it_ends() {
    let l = fixture::limits(); // 20 changes per 10 s
    let mut w = ScanWindow::starting(T0);
    for port in 1..=20 {
        assert_eq!(w.observe(T0, k(port), || false, &l), Verdict::Pass);
        assert_eq!(
            w.observe(T0, k(port), || false, &l),
            Verdict::Pass,
            "a repeat"
        );
        assert_eq!(w.observe(T0, k(22), || true, &l), Verdict::Pass, "the door");
    }
    assert!(!w.blocks(T0, &l));
    assert_eq!(w.observe(T0 + 1, k(21), || false, &l), Verdict::Tripped);
    assert_eq!(w.observe(T0 + 2, k(22), || true, &l), Verdict::Blocked);
    assert!(w.blocks(T0 + 9_999, &l));
    assert!(!w.blocks(T0 + 10_000, &l));
    assert_eq!(w.observe(T0 + 10_000, k(23), || false, &l), Verdict::Pass);
}

/// The guard in front of the engine voids the source's attempts when it
/// trips, and says so once.
#[test]
fn tripping_the_guard_voids_attempts_and_says_so_once() {
    let mut rig = Rig::new(fixture::policy());
    let mut w = ScanWindow::starting(T0);
    let mut attempts = Attempts::default();
    attempts.push_first(k(7000), T0, false);
    let src = ip("198.18.0.9");
    for port in 1..=20 {
        assert!(admit(
            &mut rig.ctx(),
            &mut w,
            &mut attempts,
            src,
            k(port),
            T0
        ));
    }
    assert!(!attempts.is_empty());
    assert!(!admit(
        &mut rig.ctx(),
        &mut w,
        &mut attempts,
        src,
        k(21),
        T0
    ));
    assert!(attempts.is_empty());
    assert!(!admit(
        &mut rig.ctx(),
        &mut w,
        &mut attempts,
        src,
        k(7000),
        T0
    ));
    let out = rig.drain();
    assert_eq!(out.decisions.len(), 1);
    assert_eq!(
        out.decisions[0].reason,
        "scan guard: more than 20 ports in 10 s; knock attempts voided"
    );
}

/// A scan spread over a /64 (or a /24), one address per knock, trips the
/// guard for the whole network: before, each address had its own window.
#[test]
fn a_scan_from_rotating_addresses_trips_the_network_guard() {
    for (fmt, net) in [("fd00:9::{}", "fd00:9::"), ("198.18.7.{}", "198.18.7.0")] {
        let mut m = matcher();
        let limit = m.policy().limits().scan_limit * super::super::scan::NETWORK_SCAN_FACTOR;
        for i in 0..=limit {
            let src = fmt.replace("{}", &(i % 200 + 1).to_string());
            m.handle_packet(T0 + u64::from(i), &tcp(&src, 30_000 + i as u16, 0));
        }
        let (_, d) = events(&mut m);
        assert!(
            d.iter()
                .any(|d| d.reason.contains(&format!("from network {net}"))),
            "{net}: {d:?}"
        );
        // Blocked now: a fresh address of the network cannot knock.
        let src = fmt.replace("{}", "250");
        let seq = {
            let p = m.policy().doors()[1].dynamic.expect("dynamic");
            p.sequence_for(
                &postern_proto::UserKey::from_bytes(ALICE),
                &sid(),
                postern_proto::UnixTime(T0 / 1000).step(30),
            )
            .0
        };
        for (i, k) in seq.iter().enumerate() {
            m.handle_packet(T0 + 100 + i as u64, &tcp(&src, k.value, 5));
        }
        assert!(events(&mut m).0.is_empty(), "{net}");
    }
}
