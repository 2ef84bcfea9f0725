//! Grant expiry in the core, on virtual time: each grant is revoked exactly
//! once, at (never before) its final deadline.

use super::spa::spa_packet;
use super::*;
use postern_proto::wire::spa::AllowAddr;
use proptest::prelude::*;
use std::collections::HashMap;

/// The static sequence's grant: 30 s from its last knock.
fn knocked(m: &mut Matcher, src: &str, t: u64) -> Grant {
    knock_static(m, src, t);
    let (g, _, r) = all_events(m);
    assert!(r.is_empty(), "{r:?}");
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].expires_ms, t + 30 + 30_000);
    g.into_iter().next().expect("one grant")
}

#[test]
fn a_grant_is_revoked_once_at_its_deadline() {
    let mut m = matcher();
    let g = knocked(&mut m, "198.18.0.2", T0);
    let live: Vec<LiveGrant> = m.live_grants().collect();
    assert_eq!(live.len(), 1);
    assert_eq!((live[0].source, live[0].door), (g.source, g.door));
    assert_eq!(live[0].expires_ms, g.expires_ms);
    assert!(m.poll_timeout() <= g.expires_ms);

    m.handle_timeout(g.expires_ms - 1);
    assert!(all_events(&mut m).2.is_empty(), "revoked early");
    assert_eq!(
        m.poll_timeout(),
        g.expires_ms,
        "the deadline is the next timeout"
    );

    m.handle_timeout(g.expires_ms);
    let r = all_events(&mut m).2;
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].source, r[0].door), (g.source, g.door));
    assert_eq!((r[0].why, r[0].user.as_deref()), (RevokeWhy::Expired, None));
    assert_eq!(m.live_grants().count(), 0);

    m.handle_timeout(g.expires_ms + 60_000);
    assert!(all_events(&mut m).2.is_empty(), "revoked twice");
    assert_eq!(m.stats().revoked, 1);
}

#[test]
fn a_renewed_grant_is_revoked_at_the_later_deadline() {
    let mut m = matcher();
    let first = knocked(&mut m, "198.18.0.2", T0);
    let second = knocked(&mut m, "198.18.0.2", T0 + 20_000);
    assert!(second.expires_ms > first.expires_ms);
    assert_eq!(m.live_grants().count(), 1);
    m.handle_timeout(first.expires_ms);
    assert!(
        all_events(&mut m).2.is_empty(),
        "the first deadline no longer counts"
    );
    m.handle_timeout(second.expires_ms);
    assert_eq!(all_events(&mut m).2.len(), 1);
}

#[test]
fn a_knock_after_the_deadline_sees_the_revoke_before_its_grant() {
    let mut m = matcher();
    let g = knocked(&mut m, "198.18.0.2", T0);
    // No timer ran: the next packet past the deadline expires it first.
    knock_static(&mut m, "198.18.0.2", g.expires_ms);
    let mut order = Vec::new();
    while let Some(e) = m.poll_event() {
        match e {
            Event::Revoke(_) => order.push("revoke"),
            Event::Grant(_) => order.push("grant"),
            _ => {}
        }
    }
    assert_eq!(order, ["revoke", "grant"]);
    assert_eq!(m.live_grants().count(), 1);
}

#[test]
fn a_full_table_revokes_the_grant_closest_to_its_deadline_first() {
    let policy = Policy::new(
        sid(),
        fixture::spa(),
        Limits {
            max_grants: 2,
            ..fixture::limits()
        },
        vec![fixture::ssh("7000,8000:udp,9000,64:icmp"), fixture::web()],
        vec![fixture::alice()],
    );
    let mut m = Matcher::new(policy, T0);
    // Static SYN tokens: 10 s each, from three sources, one second apart.
    for (i, src) in ["198.18.0.2", "198.18.0.3", "198.18.0.4"]
        .iter()
        .enumerate()
    {
        m.handle_packet(T0 + i as u64 * 1000, &tcp(src, 10443, 17));
    }
    let mut seen = Vec::new();
    while let Some(e) = m.poll_event() {
        match e {
            Event::Grant(g) => seen.push(format!("grant {}", g.source)),
            Event::Revoke(r) => seen.push(format!("revoke {} {}", r.source, r.why)),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        [
            "grant 198.18.0.2",
            "grant 198.18.0.3",
            "revoke 198.18.0.2 too many live grants",
            "grant 198.18.0.4"
        ]
    );
    assert_eq!(m.live_grants().count(), 2);
    m.handle_timeout(T0 + 60_000);
    assert_eq!(all_events(&mut m).2.len(), 2, "the two tracked ones expire");
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    /// An SPA knock from 198.18.0.`src` for door 22 or 5432, `ttl` s.
    Knock {
        src: u8,
        db: bool,
        ttl: u32,
    },
    Wait(u64),
    Timeout,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u8..4, any::<bool>(), 1u32..90).prop_map(|(src, db, ttl)| Op::Knock { src, db, ttl }),
        (0u64..40_000).prop_map(Op::Wait),
        Just(Op::Timeout),
    ]
}

/// Checks every revoke against the grants seen so far: live, and past
/// its latest deadline at `now`.
fn check(
    m: &mut Matcher,
    now: u64,
    live: &mut HashMap<(IpAddr, u16), u64>,
) -> Result<(), TestCaseError> {
    while let Some(e) = m.poll_event() {
        match e {
            Event::Grant(g) => {
                let d = live.entry((g.source, g.door.port)).or_insert(0);
                *d = (*d).max(g.expires_ms);
            }
            Event::Revoke(r) => {
                prop_assert_eq!(r.why, RevokeWhy::Expired);
                let deadline = live.remove(&(r.source, r.door.port));
                prop_assert!(
                    deadline.is_some(),
                    "revoked twice or never granted: {:?}",
                    r
                );
                prop_assert!(
                    deadline <= Some(now),
                    "revoked at {} before {:?}",
                    now,
                    deadline
                );
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_grant_is_revoked_exactly_once_and_never_early(ops in proptest::collection::vec(op(), 1..60)) {
        let db = PolicyDoor { spa: true, ..fixture::door("db", 5432) };
        let alice = PolicyUser { doors: vec!["ssh".into(), "db".into()], ..fixture::alice() };
        let mut m = Matcher::new(
            fixture::policy_with(vec![fixture::ssh("7000,8000:udp,9000,64:icmp"), db], vec![alice]),
            T0,
        );
        let mut now = T0;
        let mut live = HashMap::new();
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Knock { src, db, ttl } => {
                    let port = if db { 5432 } else { 22 };
                    let p = spa_packet(ALICE, sid(), now / 1000, AllowAddr::Source, port, ttl, i as u64);
                    m.handle_packet(now, &udp(&format!("198.18.0.{src}"), 62201, &p));
                }
                Op::Wait(ms) => now += ms,
                Op::Timeout => {
                    if now >= m.poll_timeout() {
                        m.handle_timeout(now);
                    }
                }
            }
            check(&mut m, now, &mut live)?;
            let tracked: HashMap<(IpAddr, u16), u64> =
                m.live_grants().map(|g| ((g.source, g.door.port), g.expires_ms)).collect();
            prop_assert_eq!(&tracked, &live);
        }
        // Run the timers until nothing is left.
        while let Some(next) = m.live_grants().map(|g| g.expires_ms).min() {
            now = now.max(m.poll_timeout());
            m.handle_timeout(now);
            check(&mut m, now, &mut live)?;
            prop_assert!(m.live_grants().all(|g| g.expires_ms > now), "{next}");
        }
        prop_assert!(live.is_empty(), "never revoked: {:?}", live);
    }
}

fn with_limits(limits: Limits) -> Matcher {
    Matcher::new(
        Policy::new(
            sid(),
            fixture::spa(),
            limits,
            vec![fixture::ssh("7000,8000:udp,9000,64:icmp"), fixture::web()],
            vec![fixture::alice()],
        ),
        T0,
    )
}

/// A flood of valid static SYN tokens from spoofed sources: at most the
/// budget's worth of grants (and "accepted" lines) per second, never more
/// unauthenticated grants tracked than their bound, and an SPA user still
/// gets in. Before, every forged knock was a grant and a log line.
#[test]
fn a_spoofed_static_flood_is_held_to_its_budget_and_spa_still_opens() {
    let mut m = with_limits(Limits {
        max_grants: 64,
        max_unauth_grants: 16,
        unauth_grant_rate: 10,
        ..fixture::limits()
    });
    let mut granted = 0usize;
    let mut refused_lines = 0usize;
    // 5000 forged knocks over one second of virtual time.
    for i in 0..5000u32 {
        let src = format!("198.18.{}.{}", i / 250, i % 250 + 1);
        m.handle_packet(T0 + u64::from(i / 5), &tcp(&src, 10443, 17));
        let (g, d) = events(&mut m);
        granted += g.len();
        refused_lines += d.iter().filter(|d| !d.accepted).count();
        let (all, unauth) = m.grant_counts();
        assert!(unauth <= 16 && all <= 64);
    }
    assert!(
        granted <= 10 + 10 + 1,
        "budget: 10 burst + 10/s, got {granted}"
    );
    assert!(
        refused_lines <= 5000 / 2,
        "refusals are rate-limited: {refused_lines}"
    );
    assert!(m.stats().rejected >= 4900);
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 1);
    m.handle_packet(T0 + 1000, &udp("198.18.200.2", 62201, &p));
    let (g, d) = events(&mut m);
    assert_eq!(g.len(), 1, "{d:?}");
    assert_eq!(g[0].user.as_deref(), Some("alice"));
}

/// One user cannot hold more grants than their quota, so one key cannot
/// fill the table (and the firewall's sets) against the others.
#[test]
fn a_user_is_held_to_their_grant_quota() {
    let mut m = with_limits(Limits {
        user_max_grants: 3,
        ..fixture::limits()
    });
    let mut granted = 0;
    for i in 0..6u64 {
        let src = format!("198.18.1.{}", i + 1);
        let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 100 + i);
        m.handle_packet(T0 + i, &udp(&src, 62201, &p));
        let (g, d) = events(&mut m);
        granted += g.len();
        if i >= 3 {
            assert!(d[0].reason.contains("their quota"), "{d:?}");
        }
    }
    assert_eq!(granted, 3);
    // Renewing a grant it holds is no new grant.
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 200);
    m.handle_packet(T0 + 10, &udp("198.18.1.1", 62201, &p));
    assert_eq!(events(&mut m).0.len(), 1);
}

/// One user cannot fill the shared replay cache: beyond their quota of
/// marks their knocks are refused, and others' still open.
#[test]
fn a_user_is_held_to_their_replay_quota() {
    let bob = PolicyUser {
        name: "bob".into(),
        key: postern_proto::UserKey::from_bytes([9; 32]),
        ..fixture::alice()
    };
    let mut m = Matcher::new(
        Policy::new(
            sid(),
            fixture::spa(),
            Limits {
                user_replay_quota: 4,
                ..fixture::limits()
            },
            vec![fixture::ssh("7000,8000:udp,9000,64:icmp"), fixture::web()],
            vec![fixture::alice(), bob],
        ),
        T0,
    );
    for i in 0..6u64 {
        let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 300 + i);
        m.handle_packet(T0 + i, &udp("198.18.1.1", 62201, &p));
    }
    let (_, d) = events(&mut m);
    assert_eq!(d.iter().filter(|d| d.accepted).count(), 4, "{d:?}");
    assert!(
        d.iter()
            .any(|d| d.reason.contains("replay marks (their quota)"))
    );
    let p = spa_packet([9; 32], sid(), T0 / 1000, AllowAddr::Source, 22, 30, 400);
    m.handle_packet(T0 + 10, &udp("198.18.1.2", 62201, &p));
    assert_eq!(events(&mut m).0.len(), 1, "bob is not affected");
}
