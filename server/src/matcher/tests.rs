//! Matcher tests on virtual time: no clock, no sockets.

use super::*;
use crate::config;
use crate::packet::{Packet, Transport};
use postern_proto::method::DoorProto;
use postern_proto::method::spa as spa_codec;
use postern_proto::wire::spa::{AllowAddr, SpaRequest};
use postern_proto::{ServerId, UserKey};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const SID: &str = "00112233445566778899aabbccddeeff";
const ALICE: [u8; 32] = [1; 32];
const T0: u64 = 1_800_000_000_000; // ms

fn cfg_text() -> String {
    format!(
        r#"[server]
server_id = "{SID}"
interfaces = ["veth0"]

[limits]
max_sources = 1000
scan_limit = 20

[[door]]
name = "ssh"
proto = "tcp"
port = 22
duration = 30
sequence = "7000,8000:udp,9000,64:icmp"
spa = true
syn_token = "keyed"

[[door]]
name = "web"
proto = "tcp"
port = 443
syn_token = "static"
dynamic = {{ length = 3, port_min = 40000, port_max = 40999 }}

[[user]]
name = "alice"
key = "{}"
doors = ["ssh", "web"]
sources = ["198.18.0.0/15", "fd00::/8"]
max_duration = 60
"#,
        UserKey::from_bytes(ALICE).to_base64()
    )
}

fn matcher() -> Matcher {
    let cfg = config::parse(&cfg_text(), "test.toml").expect("valid config");
    Matcher::new(Policy::new(&cfg), T0)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn tcp(src: &str, port: u16, seq: u32) -> Packet<'static> {
    Packet {
        src: ip(src),
        dst: ip("198.18.0.1"),
        transport: Transport::Tcp {
            dst_port: port,
            src_port: 40000,
            seq,
            syn: true,
            ack: false,
        },
    }
}

fn udp<'a>(src: &str, port: u16, payload: &'a [u8]) -> Packet<'a> {
    Packet {
        src: ip(src),
        dst: ip("198.18.0.1"),
        transport: Transport::Udp {
            dst_port: port,
            src_port: 40000,
            payload,
        },
    }
}

fn icmp<'a>(src: &str, payload: &'a [u8]) -> Packet<'a> {
    Packet {
        src: ip(src),
        dst: ip("198.18.0.1"),
        transport: Transport::IcmpEcho { payload },
    }
}

fn events(m: &mut Matcher) -> (Vec<Grant>, Vec<Decision>) {
    let mut g = Vec::new();
    let mut d = Vec::new();
    while let Some(e) = m.poll_event() {
        match e {
            Event::Grant(x) => {
                d.push(x.decision());
                g.push(x);
            }
            Event::Decision(x) => d.push(x),
            Event::Suppressed { .. } => {}
        }
    }
    (g, d)
}

fn knock_static(m: &mut Matcher, src: &str, t: u64) {
    let ping = [0u8; 64];
    m.handle_packet(t, &tcp(src, 7000, 1));
    m.handle_packet(t + 10, &udp(src, 8000, &[]));
    m.handle_packet(t + 20, &tcp(src, 9000, 1));
    m.handle_packet(t + 30, &icmp(src, &ping));
}

#[test]
fn static_sequence_opens_for_the_source_only() {
    let mut m = matcher();
    knock_static(&mut m, "198.18.0.2", T0);
    let (g, d) = events(&mut m);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].source, ip("198.18.0.2"));
    assert_eq!(
        g[0].door,
        Door {
            proto: DoorProto::Tcp,
            port: 22
        }
    );
    assert_eq!(g[0].ttl, Duration::from_secs(30));
    assert_eq!(g[0].method, Method::Sequence);
    assert!(d[0].accepted && d[0].reason.contains("opened 22/tcp for 198.18.0.2"));
}

#[test]
fn duplicates_and_noise_do_not_break_a_knock() {
    let mut m = matcher();
    let src = "198.18.0.2";
    m.handle_packet(T0, &tcp(src, 7000, 1));
    m.handle_packet(T0 + 1000, &tcp(src, 7000, 1)); // SYN retransmit
    m.handle_packet(T0 + 1001, &tcp(src, 5555, 1)); // not in the set: ignored
    m.handle_packet(T0 + 1002, &udp(src, 8000, &[]));
    m.handle_packet(T0 + 1003, &udp(src, 8000, &[]));
    m.handle_packet(T0 + 1004, &tcp(src, 9000, 1));
    m.handle_packet(T0 + 1005, &icmp(src, &[0u8; 64]));
    assert_eq!(events(&mut m).0.len(), 1);
}

#[test]
fn out_of_order_resets_and_says_why() {
    let mut m = matcher();
    let src = "198.18.0.2";
    m.handle_packet(T0, &tcp(src, 7000, 1));
    m.handle_packet(T0 + 1, &tcp(src, 9000, 1)); // wrong: 8000/udp expected
    m.handle_packet(T0 + 2, &udp(src, 8000, &[]));
    m.handle_packet(T0 + 3, &tcp(src, 9000, 1));
    m.handle_packet(T0 + 4, &icmp(src, &[0u8; 64]));
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(
        d.iter().any(
            |d| !d.accepted && d.reason == "sequence for door ssh reset: 9000:tcp out of order"
        ),
        "{d:?}"
    );
    // Starting over works.
    knock_static(&mut m, src, T0 + 100);
    assert_eq!(events(&mut m).0.len(), 1);
}

#[test]
fn slow_sequence_times_out() {
    let mut m = matcher();
    let src = "198.18.0.2";
    m.handle_packet(T0, &tcp(src, 7000, 1));
    m.handle_packet(T0 + 5_000, &udp(src, 8000, &[]));
    m.handle_packet(T0 + 11_000, &tcp(src, 9000, 1));
    m.handle_packet(T0 + 11_001, &icmp(src, &[0u8; 64]));
    assert!(events(&mut m).0.is_empty());
}

#[test]
fn sources_do_not_share_attempts() {
    let mut m = matcher();
    m.handle_packet(T0, &tcp("198.18.0.2", 7000, 1));
    m.handle_packet(T0 + 1, &udp("198.18.0.3", 8000, &[]));
    m.handle_packet(T0 + 2, &tcp("198.18.0.2", 9000, 1));
    m.handle_packet(T0 + 3, &icmp("198.18.0.3", &[0u8; 64]));
    assert!(events(&mut m).0.is_empty());
}

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

fn spa_packet(
    key: [u8; 32],
    sid: ServerId,
    ts: u64,
    allow: AllowAddr,
    port: u16,
    dur: u32,
    seed: u64,
) -> Vec<u8> {
    let req = SpaRequest {
        timestamp: ts,
        duration: dur,
        allow,
        doors: vec![Door {
            proto: DoorProto::Tcp,
            port,
        }],
        action: None,
    };
    spa_codec::seal(
        &UserKey::from_bytes(key),
        &sid,
        &req,
        &mut ChaCha20Rng::seed_from_u64(seed),
    )
    .expect("seal")
}

fn sid() -> ServerId {
    ServerId::from_hex(SID).expect("sid")
}

#[test]
fn spa_opens_caps_duration_and_refuses_replay() {
    let mut m = matcher();
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 3600, 1);
    m.handle_packet(T0, &udp("198.18.0.2", 62201, &p));
    let (g, d) = events(&mut m);
    assert_eq!(g.len(), 1, "{d:?}");
    assert_eq!(g[0].ttl, Duration::from_secs(60), "capped at max_duration");
    assert_eq!(g[0].user.as_deref(), Some("alice"));
    assert!(m.take_replay_update().is_some());
    m.handle_packet(T0 + 500, &udp("198.18.0.2", 62201, &p));
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(d[0].reason.starts_with("replayed"), "{d:?}");
}

#[test]
fn replay_survives_a_restart_through_persisted_entries() {
    let mut m = matcher();
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 2);
    m.handle_packet(T0, &udp("198.18.0.2", 62201, &p));
    assert_eq!(events(&mut m).0.len(), 1);
    let saved = m.take_replay_update().expect("dirty");
    let mut restarted = matcher();
    restarted.restore_replay(saved, T0 + 2000);
    restarted.handle_packet(T0 + 2000, &udp("198.18.0.2", 62201, &p));
    let (g, d) = events(&mut restarted);
    assert!(g.is_empty());
    assert!(d[0].reason.starts_with("replayed"));
}

#[test]
fn spa_rejections_say_why() {
    let mut m = matcher();
    let src = "198.18.0.2";
    let mut tampered = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 12);
    tampered[40] ^= 1;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            spa_packet([9; 32], sid(), T0 / 1000, AllowAddr::Source, 22, 30, 3),
            "unknown key id",
        ),
        (
            spa_packet(
                ALICE,
                ServerId([7; 16]),
                T0 / 1000,
                AllowAddr::Source,
                22,
                30,
                4,
            ),
            "unknown key id (no user of this server",
        ),
        (tampered, "authentication failed"),
        (
            spa_packet(ALICE, sid(), T0 / 1000 + 312, AllowAddr::Source, 22, 30, 5),
            "clock skew +312 s exceeds the allowed 60 s",
        ),
        (
            spa_packet(ALICE, sid(), T0 / 1000 - 90, AllowAddr::Source, 22, 30, 6),
            "clock skew -90 s",
        ),
        (
            spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 443, 30, 7),
            "door 443/tcp is not open to this user by SPA",
        ),
        (
            spa_packet(
                ALICE,
                sid(),
                T0 / 1000,
                AllowAddr::Explicit(ip("203.0.113.5")),
                22,
                30,
                8,
            ),
            "requested address 203.0.113.5 is outside",
        ),
        (vec![1u8; 40], "not an SPA packet"),
    ];
    for (i, (p, why)) in cases.iter().enumerate() {
        m.handle_packet(T0 + i as u64, &udp(src, 62201, p));
        let (g, d) = events(&mut m);
        assert!(g.is_empty(), "case {why}");
        assert!(
            d.len() == 1 && !d[0].accepted && d[0].reason.starts_with(why),
            "case {why}: {d:?}"
        );
    }
    // Source outside the user's ranges.
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 9);
    m.handle_packet(T0 + 100, &udp("10.9.9.9", 62201, &p));
    let (g, d) = events(&mut m);
    assert!(g.is_empty() && d[0].reason.contains("outside the user's allowed ranges"));
}

#[test]
fn spa_explicit_address_wins_over_source() {
    let mut m = matcher();
    let p = spa_packet(
        ALICE,
        sid(),
        T0 / 1000,
        AllowAddr::Explicit(ip("198.18.5.5")),
        22,
        30,
        10,
    );
    m.handle_packet(T0, &udp("198.18.0.2", 62201, &p));
    let (g, _) = events(&mut m);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].source, ip("198.18.5.5"));
}

#[test]
fn spa_over_icmp_and_ipv6() {
    let mut m = matcher();
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 11);
    m.handle_packet(T0, &icmp("fd00::2", &p));
    let (g, _) = events(&mut m);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].source, ip("fd00::2"));
}

#[test]
fn dynamic_sequence_opens_once_per_step() {
    let mut m = matcher();
    let params = m.policy().doors[1].dynamic.expect("dynamic").params();
    let seq = params.sequence_for(
        &UserKey::from_bytes(ALICE),
        &sid(),
        UnixTime(T0 / 1000).step(30),
    );
    let src = "198.18.0.2";
    for (i, k) in seq.0.iter().enumerate() {
        m.handle_packet(T0 + i as u64, &tcp(src, k.value, 5));
    }
    let (g, d) = events(&mut m);
    assert_eq!(g.len(), 1, "{d:?}");
    assert_eq!(
        (g[0].door.port, g[0].method),
        (443, Method::DynamicSequence)
    );
    for (i, k) in seq.0.iter().enumerate() {
        m.handle_packet(T0 + 100 + i as u64, &tcp(src, k.value, 5));
    }
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(d.iter().any(|d| d.reason.contains("already used")), "{d:?}");
    // The previous step's sequence is still accepted (clock drift) once.
    let prev = params.sequence_for(
        &UserKey::from_bytes(ALICE),
        &sid(),
        Step(UnixTime(T0 / 1000).step(30).0 - 1),
    );
    for (i, k) in prev.0.iter().enumerate() {
        m.handle_packet(T0 + 200 + i as u64, &tcp("198.18.0.3", k.value, 5));
    }
    assert_eq!(events(&mut m).0.len(), 1);
}

#[test]
fn static_syn_token_is_the_seed_scheme() {
    let mut m = matcher();
    m.handle_packet(T0, &tcp("198.18.0.2", 10443, 17));
    let (g, _) = events(&mut m);
    assert_eq!(g.len(), 1);
    assert_eq!(
        (g[0].door.port, g[0].ttl, g[0].source),
        (443, Duration::from_secs(10), ip("198.18.0.2"))
    );
    m.handle_packet(T0, &tcp("198.18.0.2", 10443, 18));
    m.handle_packet(T0, &tcp("198.18.0.2", 1022, 17)); // door 22 has no static token
    assert!(events(&mut m).0.is_empty());
}

#[test]
fn keyed_syn_token_binds_source_and_burns() {
    let mut m = matcher();
    let step = UnixTime(T0 / 1000).step(30);
    let tok = syn_token::keyed_token(
        &UserKey::from_bytes(ALICE),
        &sid(),
        step,
        22,
        ip("198.18.0.2"),
    );
    m.handle_packet(T0, &tcp("198.18.0.3", 22, tok)); // other source
    assert!(events(&mut m).0.is_empty());
    m.handle_packet(T0, &tcp("198.18.0.2", 22, tok));
    let (g, _) = events(&mut m);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].method, Method::SynTokenKeyed);
    m.handle_packet(T0 + 10, &tcp("198.18.0.2", 22, tok));
    let (g, d) = events(&mut m);
    assert!(g.is_empty() && d[0].reason.contains("already used"));
}

use postern_proto::method::syn_token;

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

#[test]
fn rejections_are_rate_limited_and_summarized() {
    let mut m = matcher();
    for i in 0..10_000u64 {
        m.handle_packet(T0 + i / 10, &udp("198.18.0.2", 62201, &[1u8; 100]));
    }
    m.handle_timeout(T0 + 20_000);
    let mut lines = 0;
    let mut suppressed = 0;
    while let Some(e) = m.poll_event() {
        match e {
            Event::Decision(_) => lines += 1,
            Event::Suppressed { count, .. } => suppressed += count,
            Event::Grant(_) => panic!("junk opened"),
        }
    }
    assert!(lines < 100, "{lines} lines for 10k junk packets");
    assert_eq!(lines + suppressed, 10_000);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn noise_outside_the_set_never_breaks_a_knock(noise in proptest::collection::vec((any::<bool>(), 10_000u16..60_000), 0..10), split in 0usize..4) {
        let mut m = matcher();
        let src = "198.18.0.2";
        let ping = [0u8; 64];
        let real: Vec<Packet<'_>> = vec![tcp(src, 7000, 1), udp(src, 8000, &[]), tcp(src, 9000, 1), icmp(src, &ping)];
        let mut t = T0;
        for (i, p) in real.iter().enumerate() {
            if i == split {
                for &(is_tcp, port) in &noise {
                    if [7000, 8000, 9000, 22, 443, 62201].contains(&port) || (40000..=40999).contains(&port) { continue; }
                    t += 1;
                    if is_tcp { m.handle_packet(t, &tcp(src, port, 3)); } else { m.handle_packet(t, &udp(src, port, &[])); }
                }
            }
            t += 1;
            m.handle_packet(t, p);
        }
        prop_assert_eq!(events(&mut m).0.len(), 1);
    }

    #[test]
    fn random_packets_never_open_or_panic(pkts in proptest::collection::vec((0u8..3, any::<u16>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..200)) {
        let mut m = matcher();
        for (i, (kind, port, seq, payload)) in pkts.iter().enumerate() {
            if [7000, 8000, 9000, 10443, 22].contains(port) || (40000..=40999).contains(port) { continue; }
            let p = match kind {
                0 => tcp("198.18.0.2", *port, *seq),
                1 => udp("198.18.0.2", *port, payload),
                _ => icmp("198.18.0.2", payload),
            };
            if *kind == 2 && payload.len() == 64 { continue; }
            m.handle_packet(T0 + i as u64, &p);
        }
        prop_assert!(events(&mut m).0.is_empty());
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

/// With many users, one user's knock ports are often other users' (or
/// other steps') first knocks too, so a knock could begin many sequences.
/// None of that may cost the sender's own sequence: every user's sequence,
/// for each accepted step, opens, even when a port begins several.
#[test]
fn crowded_dynamic_sequences_all_open() {
    for (users, port_max) in [(64, 40299u16), (400, 40299)] {
        crowded(users, port_max);
    }
}

fn crowded(users: usize, port_max: u16) {
    let mut text = format!(
        r#"[server]
server_id = "{SID}"
interfaces = ["veth0"]

[limits]
max_sources = 100000

[[door]]
name = "web"
proto = "tcp"
port = 443
dynamic = {{ length = 3, port_min = 40000, port_max = {port_max}, proto = "udp" }}
"#
    );
    let key = |u: usize| {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&(u as u64 + 1).to_be_bytes());
        UserKey::from_bytes(k)
    };
    for u in 0..users {
        text.push_str(&format!(
            "\n[[user]]\nname = \"u{u}\"\nkey = \"{}\"\ndoors = [\"web\"]\n",
            key(u).to_base64()
        ));
    }
    let cfg = config::parse(&text, "test.toml").expect("valid config");
    let mut m = Matcher::new(Policy::new(&cfg), T0);
    let params = m.policy().doors[0].dynamic.expect("dynamic").params();
    let now = UnixTime(T0 / 1000).step(30);
    let seqs: Vec<Vec<Knock>> = (0..users)
        .flat_map(|u| now.around(1).map(move |step| (u, step)))
        .map(|(u, step)| params.sequence_for(&key(u), &sid(), step).0)
        .collect();
    let mut starts: HashMap<Knock, usize> = HashMap::new();
    for s in &seqs {
        *starts.entry(s[0]).or_default() += 1;
    }
    let most = starts.values().copied().max().unwrap_or(0);
    assert!(
        most > sequence::SLOTS,
        "too sparse to test anything: {most}"
    );
    let mut failed = Vec::new();
    for (n, seq) in seqs.iter().enumerate() {
        let src = format!("198.18.{}.{}", n / 250, n % 250 + 1);
        for (i, k) in seq.iter().enumerate() {
            m.handle_packet(T0 + n as u64 * 10 + i as u64, &udp(&src, k.value, &[]));
        }
        let (g, d) = events(&mut m);
        if g.len() != 1 {
            failed.push((n, seq.clone()));
        }
        assert!(
            d.iter().all(|d| d.accepted),
            "a knock that opened must not also report resets: {d:?}"
        );
    }
    assert!(
        failed.is_empty(),
        "{users} users: {} of {} did not open: {failed:?}",
        failed.len(),
        seqs.len()
    );
}

#[test]
fn a_port_used_twice_in_a_sequence_still_opens_once() {
    let text = cfg_text().replace("7000,8000:udp,9000,64:icmp", "7000,8000,7000,9000");
    let cfg = config::parse(&text, "test.toml").expect("valid config");
    let mut m = Matcher::new(Policy::new(&cfg), T0);
    let src = "198.18.0.2";
    for (i, p) in [7000, 8000, 7000, 9000].into_iter().enumerate() {
        m.handle_packet(T0 + i as u64, &tcp(src, p, 1));
    }
    let (g, d) = events(&mut m);
    assert_eq!(g.len(), 1, "{d:?}");
    assert!(d.iter().all(|d| d.accepted), "{d:?}");
    // The same knocks again open again (no stale attempt left behind).
    for (i, p) in [7000, 8000, 7000, 9000].into_iter().enumerate() {
        m.handle_packet(T0 + 100 + i as u64, &tcp(src, p, 1));
    }
    assert_eq!(events(&mut m).0.len(), 1);
}
