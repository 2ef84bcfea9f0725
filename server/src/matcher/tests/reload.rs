//! `Matcher::reload`: live grants the new policy allows stay (and still
//! expire on time), the others are revoked; replay marks stay; half-done
//! attempts go.

use super::spa::spa_packet;
use super::*;
use postern_proto::UserKey;
use postern_proto::wire::spa::AllowAddr;

const BOB: [u8; 32] = [2; 32];

fn bob() -> PolicyUser {
    PolicyUser {
        name: "bob".into(),
        key: UserKey::from_bytes(BOB),
        doors: vec!["ssh".into()],
        sources: Vec::new(),
        max_duration: 3600,
        require_address: false,
        fwknop: None,
        standing: Default::default(),
    }
}

fn ssh() -> PolicyDoor {
    fixture::ssh("7000,8000:udp,9000,64:icmp")
}

/// alice's SPA grant of 22 from .2 and a user-less static-token grant of
/// 443 to .3.
fn with_two_grants() -> Matcher {
    let mut m = matcher();
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 60, 1);
    m.handle_packet(T0, &udp("198.18.0.2", 62201, &p));
    m.handle_packet(T0, &tcp("198.18.0.3", 10443, 17));
    assert_eq!(all_events(&mut m).0.len(), 2);
    m
}

fn revoked(m: &mut Matcher) -> Vec<(String, u16, RevokeWhy)> {
    let (g, _, r) = all_events(m);
    assert!(g.is_empty(), "{g:?}");
    r.into_iter()
        .map(|r| (r.source.to_string(), r.door.port, r.why))
        .collect()
}

#[test]
fn grants_of_doors_that_stay_stay_and_a_new_user_can_knock() {
    let mut m = with_two_grants();
    let before: Vec<LiveGrant> = m.live_grants().collect();
    m.reload(
        fixture::policy_with(vec![ssh(), fixture::web()], vec![fixture::alice(), bob()]),
        T0 + 1000,
    );
    assert!(revoked(&mut m).is_empty());
    assert_eq!(m.live_grants().collect::<Vec<_>>(), before);

    let p = spa_packet(BOB, sid(), T0 / 1000 + 2, AllowAddr::Source, 22, 30, 2);
    m.handle_packet(T0 + 2000, &udp("203.0.113.9", 62201, &p));
    let (g, d) = events(&mut m);
    assert_eq!(g.len(), 1, "{d:?}");
    assert_eq!(g[0].user.as_deref(), Some("bob"));

    // The kept grants still end at their deadlines, once.
    m.handle_timeout(T0 + 59_999);
    let r = revoked(&mut m);
    assert_eq!(r.len(), 2, "443 after 10 s, bob's after 30 s: {r:?}");
    m.handle_timeout(T0 + 60_000);
    assert_eq!(
        revoked(&mut m),
        [("198.18.0.2".into(), 22, RevokeWhy::Expired)]
    );
}

#[test]
fn a_removed_door_is_revoked() {
    let mut m = with_two_grants();
    m.reload(
        fixture::policy_with(vec![ssh()], vec![fixture::alice()]),
        T0 + 1000,
    );
    assert_eq!(
        revoked(&mut m),
        [("198.18.0.3".into(), 443, RevokeWhy::DoorRemoved)]
    );
    assert_eq!(m.live_grants().count(), 1);
}

#[test]
fn a_door_renamed_or_moved_is_another_door() {
    for door in [
        PolicyDoor {
            name: "https".into(),
            ..fixture::web()
        },
        PolicyDoor {
            door: door(8443),
            ..fixture::web()
        },
    ] {
        let mut m = with_two_grants();
        m.reload(
            fixture::policy_with(vec![ssh(), door], vec![fixture::alice()]),
            T0 + 1000,
        );
        assert_eq!(
            revoked(&mut m),
            [("198.18.0.3".into(), 443, RevokeWhy::DoorRemoved)]
        );
    }
}

#[test]
fn a_user_removed_or_restricted_loses_the_grant() {
    let narrowed = PolicyUser {
        sources: vec!["198.19.0.0/16".parse().expect("net")],
        ..fixture::alice()
    };
    let without_ssh = PolicyUser {
        doors: vec!["web".into()],
        ..fixture::alice()
    };
    for users in [vec![bob()], vec![narrowed], vec![without_ssh]] {
        let mut m = with_two_grants();
        m.reload(
            fixture::policy_with(vec![ssh(), fixture::web()], users),
            T0 + 1000,
        );
        // The user-less grant of 443 needs only its door.
        assert_eq!(
            revoked(&mut m),
            [("198.18.0.2".into(), 22, RevokeWhy::NotAllowedAnymore)]
        );
        assert_eq!(m.live_grants().count(), 1);
    }
}

#[test]
fn a_used_knock_stays_used_across_a_reload() {
    let mut m = matcher();
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 3);
    m.handle_packet(T0, &udp("198.18.0.2", 62201, &p));
    assert_eq!(events(&mut m).0.len(), 1);
    m.reload(fixture::policy(), T0 + 1000);
    m.handle_packet(T0 + 1500, &udp("198.18.0.2", 62201, &p));
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(d[0].reason.starts_with("replayed"), "{d:?}");
}

#[test]
fn half_done_sequences_are_dropped() {
    let mut m = matcher();
    let src = "198.18.0.2";
    m.handle_packet(T0, &tcp(src, 7000, 1));
    m.handle_packet(T0 + 10, &udp(src, 8000, &[]));
    m.reload(fixture::policy(), T0 + 15);
    m.handle_packet(T0 + 20, &tcp(src, 9000, 1));
    m.handle_packet(T0 + 30, &icmp(src, &[0u8; 64]));
    assert!(events(&mut m).0.is_empty());
    // A whole sequence after the reload opens.
    knock_static(&mut m, src, T0 + 100);
    assert_eq!(events(&mut m).0.len(), 1);
}

#[test]
fn a_smaller_grant_table_revokes_the_earliest_deadlines() {
    let mut m = with_two_grants(); // 443 for 10 s, 22 for 60 s
    let policy = Policy::new(
        sid(),
        fixture::spa(),
        Limits {
            max_grants: 1,
            ..fixture::limits()
        },
        vec![ssh(), fixture::web()],
        vec![fixture::alice()],
    );
    m.reload(policy, T0 + 1000);
    assert_eq!(
        revoked(&mut m),
        [("198.18.0.3".into(), 443, RevokeWhy::TableFull)]
    );
}

#[test]
fn a_blocked_scanner_stays_blocked_across_a_reload() {
    for max_sources in [1000, 500] {
        let mut m = matcher();
        let src = "198.18.0.9";
        for port in 1..=21 {
            m.handle_packet(T0 + u64::from(port), &tcp(src, 30_000 + port, 0));
        }
        let (_, d) = events(&mut m);
        assert!(
            d.iter().any(|d| d.reason.starts_with("scan guard")),
            "{d:?}"
        );
        let limits = Limits {
            max_sources,
            ..fixture::limits()
        };
        m.reload(
            Policy::new(
                sid(),
                fixture::spa(),
                limits,
                vec![ssh(), fixture::web()],
                vec![fixture::alice()],
            ),
            T0 + 100,
        );
        knock_static(&mut m, src, T0 + 200);
        assert!(events(&mut m).0.is_empty(), "max_sources {max_sources}");
        assert_eq!(m.sources().len(), 1);
        // The window ends as it would have without the reload.
        knock_static(&mut m, src, T0 + 10_100);
        assert_eq!(events(&mut m).0.len(), 1, "max_sources {max_sources}");
    }
}
