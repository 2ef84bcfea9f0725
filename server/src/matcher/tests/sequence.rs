//! The sequence engine: static and dynamic sequences, through the
//! dispatcher and on its own.

use super::super::sequence::{Attempts, SLOTS, SequenceEngine};
use super::*;
use postern_proto::method::Door;
use postern_proto::method::sequence::{DynamicParams, Knock, Sequence};
use postern_proto::{Step, UnixTime, UserKey};
use proptest::prelude::*;
use std::collections::HashMap;
use std::time::Duration;

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
fn dynamic_sequence_opens_once_per_step() {
    let mut m = matcher();
    let params = m.policy().doors()[1].dynamic.expect("dynamic");
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
    let key = |u: usize| {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&(u as u64 + 1).to_be_bytes());
        UserKey::from_bytes(k)
    };
    let web = PolicyDoor {
        dynamic: Some(DynamicParams {
            length: 3,
            port_min: 40000,
            port_max,
            proto: postern_proto::method::KnockProto::Udp,
            step_secs: 30,
        }),
        ..fixture::door("web", 443)
    };
    let people: Vec<PolicyUser> = (0..users)
        .map(|u| PolicyUser {
            name: format!("u{u}"),
            key: key(u),
            doors: vec!["web".into()],
            sources: Vec::new(),
            max_duration: 3600,
            require_address: false,
            fwknop: None,
            standing: Default::default(),
        })
        .collect();
    let limits = Limits {
        max_sources: 100_000,
        scan_limit: 40,
        ..fixture::limits()
    };
    let mut m = Matcher::new(
        Policy::new(sid(), fixture::spa(), limits, vec![web], people),
        T0,
    );
    let params = m.policy().doors()[0].dynamic.expect("dynamic");
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
    assert!(most > SLOTS, "too sparse to test anything: {most}");
    let mut failed = Vec::new();
    for (n, seq) in seqs.iter().enumerate() {
        // One /64 each: so many people knocking within a second from one
        // network would trip the network's scan guard.
        let src = format!("fd00:{:x}::1", n + 1);
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
    let policy = fixture::policy_with(
        vec![fixture::ssh("7000,8000,7000,9000"), fixture::web()],
        vec![fixture::alice()],
    );
    let mut m = Matcher::new(policy, T0);
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
}

/// The engine alone: one source's attempts, the fixture's static sequence
/// and alice's dynamic one, without the dispatcher or the scan guard.
#[test]
fn the_engine_alone_opens_and_reports_out_of_order_knocks() {
    let mut rig = Rig::new(fixture::policy());
    let mut engine = SequenceEngine::default();
    engine.refresh(&rig.policy, UnixTime(T0 / 1000));
    let mut attempts = Attempts::default();
    let src = ip("198.18.0.2");
    let seq = Sequence::parse("7000,8000:udp,9000,64:icmp")
        .expect("valid")
        .0;
    for (i, &knock) in seq.iter().enumerate() {
        engine.handle_knock(&mut rig.ctx(), &mut attempts, src, knock, T0 + i as u64);
    }
    let out = rig.drain();
    assert_eq!(out.grants.len(), 1);
    assert_eq!(
        (out.grants[0].door.port, out.grants[0].method),
        (22, Method::Sequence)
    );
    assert!(
        attempts.is_empty(),
        "a finished sequence leaves nothing behind"
    );

    engine.handle_knock(&mut rig.ctx(), &mut attempts, src, seq[0], T0 + 100);
    engine.handle_knock(&mut rig.ctx(), &mut attempts, src, seq[2], T0 + 101);
    let out = rig.drain();
    assert!(out.grants.is_empty());
    assert_eq!(
        out.decisions[0].reason,
        "sequence for door ssh reset: 9000:tcp out of order"
    );

    let params = rig.policy.doors()[1].dynamic.expect("dynamic");
    let dynamic = params.sequence_for(
        &UserKey::from_bytes(ALICE),
        &sid(),
        UnixTime(T0 / 1000).step(30),
    );
    let mut attempts = Attempts::default();
    for (i, &knock) in dynamic.0.iter().enumerate() {
        engine.handle_knock(
            &mut rig.ctx(),
            &mut attempts,
            src,
            knock,
            T0 + 200 + i as u64,
        );
    }
    let out = rig.drain();
    assert_eq!(out.grants.len(), 1, "{:?}", out.decisions);
    assert_eq!(out.grants[0].user.as_deref(), Some("alice"));
    assert!(rig.replay.take_update().is_some(), "the step is burnt");
}

fn alice_dynamic(m: &Matcher, t_ms: u64) -> Vec<Knock> {
    let params = m.policy().doors()[1].dynamic.expect("dynamic");
    params
        .sequence_for(
            &UserKey::from_bytes(ALICE),
            &sid(),
            UnixTime(t_ms / 1000).step(30),
        )
        .0
}

/// A knock inside the dynamic range that is not the next one voids the
/// attempt. Before, such knocks were ignored: a guesser could spray the
/// range and the right ports advanced the attempt whenever they came up.
#[test]
fn a_wrong_knock_in_the_dynamic_range_voids_the_attempt() {
    let mut m = matcher();
    let seq = alice_dynamic(&m, T0);
    let src = "198.18.0.2";
    let wrong = (40_000..=40_999)
        .find(|p| !seq.iter().any(|k| k.value == *p))
        .expect("a port outside the sequence");
    // Mid-sequence.
    m.handle_packet(T0, &tcp(src, seq[0].value, 5));
    m.handle_packet(T0 + 1, &tcp(src, seq[1].value, 5));
    m.handle_packet(T0 + 2, &tcp(src, wrong, 5));
    for (i, k) in seq.iter().enumerate().skip(2) {
        m.handle_packet(T0 + 3 + i as u64, &tcp(src, k.value, 5));
    }
    assert!(
        events(&mut m).0.is_empty(),
        "a guess in between let it open"
    );
    // After the first knock.
    m.handle_packet(T0 + 20, &tcp(src, seq[0].value, 5));
    m.handle_packet(T0 + 21, &tcp(src, wrong, 5));
    for (i, k) in seq.iter().enumerate().skip(1) {
        m.handle_packet(T0 + 22 + i as u64, &tcp(src, k.value, 5));
    }
    assert!(events(&mut m).0.is_empty(), "a guess after the first knock");
    // Outside the range nothing is voided (noise, other services).
    m.handle_packet(T0 + 40, &tcp(src, seq[0].value, 5));
    m.handle_packet(T0 + 41, &tcp(src, 50_000, 5));
    for (i, k) in seq.iter().enumerate().skip(1) {
        m.handle_packet(T0 + 42 + i as u64, &tcp(src, k.value, 5));
    }
    assert_eq!(events(&mut m).0.len(), 1);
}

/// A half-done dynamic sequence belongs to the address that began it: the
/// rest from another address (even in the same /64) does not finish it.
#[test]
fn a_half_done_dynamic_sequence_is_bound_to_its_source() {
    let mut m = matcher();
    let seq = alice_dynamic(&m, T0);
    let half = seq.len() / 2;
    for (i, k) in seq.iter().enumerate().take(half) {
        m.handle_packet(T0 + i as u64, &tcp("fd00::2", k.value, 5));
    }
    for (i, k) in seq.iter().enumerate().skip(half) {
        m.handle_packet(T0 + 10 + i as u64, &tcp("fd00::3", k.value, 5));
    }
    assert!(events(&mut m).0.is_empty());
}
