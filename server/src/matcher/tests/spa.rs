//! The SPA verifier: through the dispatcher and on its own.

use super::super::spa::SpaVerifier;
use super::*;
use postern_proto::method::spa as spa_codec;
use postern_proto::method::{Door, DoorProto};
use postern_proto::wire::spa::{AllowAddr, SpaRequest};
use postern_proto::{ServerId, UnixTime, UserKey};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::time::Duration;

pub fn spa_packet(
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

#[test]
fn spa_opens_caps_duration_and_refuses_replay() {
    // The admin lets SPA ask for more than the door's 30 s here.
    let mut ssh = fixture::ssh("7000,8000:udp,9000,64:icmp");
    ssh.spa_max_duration = Some(600);
    let mut m = Matcher::new(fixture::policy_with(vec![ssh], vec![fixture::alice()]), T0);
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

/// SPA used to be capped only by the user's `max_duration` (default an
/// hour): the door's duration is the cap unless the admin raises it.
#[test]
fn spa_is_capped_at_the_doors_duration() {
    let ssh = PolicyDoor {
        spa_max_duration: None,
        ..fixture::ssh("7000,8000:udp,9000,64:icmp")
    };
    let mut m = Matcher::new(fixture::policy_with(vec![ssh], vec![fixture::alice()]), T0);
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 3600, 1);
    m.handle_packet(T0, &udp("198.18.0.2", 62201, &p));
    let (g, d) = events(&mut m);
    assert_eq!(g.len(), 1, "{d:?}");
    assert_eq!(g[0].ttl, Duration::from_secs(30), "the door's duration");
}

/// Explicit addresses that cannot be a client's are refused.
#[test]
fn spa_refuses_explicit_addresses_that_are_no_client() {
    let mut m = matcher();
    let wide = PolicyUser {
        sources: Vec::new(),
        ..fixture::alice()
    };
    m.reload(
        fixture::policy_with(vec![fixture::ssh("7000"), fixture::web()], vec![wide]),
        T0,
    );
    for (i, a) in [
        "0.0.0.0",
        "127.0.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::ffff:198.18.0.9",
        "::",
    ]
    .into_iter()
    .enumerate()
    {
        let p = spa_packet(
            ALICE,
            sid(),
            T0 / 1000,
            AllowAddr::Explicit(ip(a)),
            22,
            30,
            40 + i as u64,
        );
        m.handle_packet(T0 + i as u64, &udp("198.18.0.2", 62201, &p));
        let (g, d) = events(&mut m);
        assert!(g.is_empty(), "{a}");
        assert!(d[0].reason.contains("cannot be let in"), "{a}: {d:?}");
    }
}

/// Key ids are recognized only a step beyond max_skew (60 s → 3 steps of
/// 30 s), not for 10 minutes as before.
#[test]
fn key_ids_are_recognized_just_beyond_max_skew() {
    assert_eq!(crate::matcher::key_id_radius(60), 3);
    let mut m = matcher();
    let near = spa_packet(ALICE, sid(), T0 / 1000 + 75, AllowAddr::Source, 22, 30, 50);
    m.handle_packet(T0, &udp("198.18.0.2", 62201, &near));
    let (_, d) = events(&mut m);
    assert!(d[0].reason.starts_with("clock skew +75 s"), "{d:?}");
    let far = spa_packet(ALICE, sid(), T0 / 1000 + 300, AllowAddr::Source, 22, 30, 51);
    m.handle_packet(T0 + 1, &udp("198.18.0.2", 62201, &far));
    let (_, d) = events(&mut m);
    assert!(d[0].reason.starts_with("unknown key id"), "{d:?}");
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
            spa_packet(ALICE, sid(), T0 / 1000 + 80, AllowAddr::Source, 22, 30, 5),
            "clock skew +80 s exceeds the allowed 60 s",
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

/// The verifier alone: it finds the user by key id, burns the packet and
/// grants every door asked for, into the context it is given.
#[test]
fn the_verifier_alone_burns_then_grants() {
    let mut rig = Rig::new(fixture::policy());
    let mut v = SpaVerifier::new(&rig.policy);
    v.advance(UnixTime(T0 / 1000));
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 45, 20);
    assert!(v.handle(&mut rig.ctx(), T0, ip("fd00::7"), &p, false));
    let out = rig.drain();
    assert_eq!(out.grants.len(), 1, "{:?}", out.decisions);
    assert_eq!(out.grants[0].ttl, Duration::from_secs(45));
    assert_eq!(out.grants[0].expires_ms, T0 + 45_000);
    assert_eq!(rig.out.grants.len(), 1, "tracked until its deadline");
    let marks = rig.replay.take_update().expect("the packet's mark");
    assert_eq!(marks.len(), 1);

    // Burnt: the same bytes again are refused and grant nothing more.
    assert!(v.handle(&mut rig.ctx(), T0 + 1, ip("fd00::7"), &p, false));
    let out = rig.drain();
    assert!(out.grants.is_empty());
    assert!(out.decisions[0].reason.starts_with("replayed"));
    assert!(rig.replay.take_update().is_none());
}

/// Over ICMP, a payload that is not SPA is somebody's ping (or an ICMP
/// knock): the verifier passes it on without a word.
#[test]
fn the_verifier_passes_on_icmp_that_is_not_spa() {
    let mut rig = Rig::new(fixture::policy());
    let mut v = SpaVerifier::new(&rig.policy);
    v.advance(UnixTime(T0 / 1000));
    let stranger = spa_packet([9; 32], sid(), T0 / 1000, AllowAddr::Source, 22, 30, 21);
    for payload in [&[0u8; 64][..], &stranger] {
        assert!(!v.handle(&mut rig.ctx(), T0, ip("198.18.0.2"), payload, true));
    }
    let out = rig.drain();
    assert!(out.decisions.is_empty() && out.grants.is_empty());
    // Over UDP the same is a rejection with its reason.
    assert!(!v.handle(&mut rig.ctx(), T0, ip("198.18.0.2"), &stranger, false));
    assert!(
        rig.drain().decisions[0]
            .reason
            .starts_with("unknown key id")
    );
}
