//! The administrator's lifecycle of a key (`Standing`): a disabled,
//! expired or rotated-out key is refused for every method, at one place,
//! with the reason in the log; the sender sees what any refusal gets.

use super::spa::spa_packet;
use super::*;
use postern_proto::method::syn_token;
use postern_proto::wire::spa::AllowAddr;
use postern_proto::{UnixTime, UserKey};

const NEW: [u8; 32] = [7; 32];
const NOW: u64 = T0 / 1000;

fn with_alice(standing: Standing) -> Matcher {
    let alice = PolicyUser {
        standing,
        ..fixture::alice()
    };
    Matcher::new(
        fixture::policy_with(
            vec![fixture::ssh("7000,8000:udp,9000,64:icmp"), fixture::web()],
            vec![alice],
        ),
        T0,
    )
}

fn spa_from_alice(
    m: &mut Matcher,
    key: [u8; 32],
    at_ms: u64,
    seed: u64,
) -> (Vec<Grant>, Vec<Decision>) {
    let p = spa_packet(key, sid(), at_ms / 1000, AllowAddr::Source, 22, 30, seed);
    m.handle_packet(at_ms, &udp("198.18.0.2", 62201, &p));
    events(m)
}

#[test]
fn a_disabled_user_is_refused_and_the_log_says_so() {
    let mut m = with_alice(Standing {
        disabled: true,
        ends: None,
    });
    let (g, d) = spa_from_alice(&mut m, ALICE, T0, 1);
    assert!(g.is_empty());
    assert_eq!(d[0].user.as_deref(), Some("alice"));
    assert!(d[0].reason.starts_with("user is disabled"), "{d:?}");
    // Refused before the replay mark: nothing to persist.
    assert!(m.take_replay_update().is_none());
    // The keyed SYN token of the same user is refused the same way.
    let (seq, sport) = syn_token::keyed_token(
        &UserKey::from_bytes(ALICE),
        &sid(),
        UnixTime(NOW).step(30),
        22,
        ip("198.18.0.2"),
    );
    m.handle_packet(T0, &tcp_from("198.18.0.2", sport, 22, seq));
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert_eq!(d[0].method, Method::SynTokenKeyed);
    assert!(d[0].reason.starts_with("user is disabled"), "{d:?}");
}

#[test]
fn an_expired_user_opens_until_the_moment_and_not_after() {
    let mut m = with_alice(Standing {
        disabled: false,
        ends: Some((UnixTime(NOW + 5), KeyEnd::Expires)),
    });
    let (g, d) = spa_from_alice(&mut m, ALICE, T0 + 4_999, 1);
    assert_eq!(g.len(), 1, "{d:?}");
    let (g, d) = spa_from_alice(&mut m, ALICE, T0 + 5_000, 2);
    assert!(g.is_empty());
    assert!(
        d[0].reason
            .starts_with("user expired at 2027-01-15T08:00:05Z"),
        "{d:?}"
    );
}

/// A rotation: the new key and (in its grace) the old one both open; after
/// the grace the old one is refused as rotated out, the new one still opens.
#[test]
fn a_rotated_out_key_works_through_its_grace_only() {
    let current = PolicyUser {
        key: UserKey::from_bytes(NEW),
        ..fixture::alice()
    };
    let previous = PolicyUser {
        standing: Standing {
            disabled: false,
            ends: Some((UnixTime(NOW + 3), KeyEnd::RotatedOut)),
        },
        ..fixture::alice()
    };
    let mut m = Matcher::new(
        fixture::policy_with(
            vec![fixture::ssh("7000,8000:udp,9000,64:icmp"), fixture::web()],
            vec![current, previous],
        ),
        T0,
    );
    let (g, d) = spa_from_alice(&mut m, ALICE, T0, 1);
    assert_eq!(g.len(), 1, "old key in its grace: {d:?}");
    let (g, d) = spa_from_alice(&mut m, ALICE, T0 + 3_000, 2);
    assert!(g.is_empty());
    assert_eq!(d[0].user.as_deref(), Some("alice"));
    assert!(d[0].reason.starts_with("rotated-out key"), "{d:?}");
    let (g, d) = spa_from_alice(&mut m, NEW, T0 + 3_000, 3);
    assert_eq!(g.len(), 1, "the new key: {d:?}");
}

#[test]
fn disabling_a_user_ends_their_live_grants_at_the_reload() {
    let mut m = with_alice(Standing::default());
    let (g, _) = spa_from_alice(&mut m, ALICE, T0, 1);
    assert_eq!(g.len(), 1);
    let disabled = PolicyUser {
        standing: Standing {
            disabled: true,
            ends: None,
        },
        ..fixture::alice()
    };
    m.reload(
        fixture::policy_with(
            vec![fixture::ssh("7000,8000:udp,9000,64:icmp"), fixture::web()],
            vec![disabled],
        ),
        T0 + 100,
    );
    let (_, _, r) = all_events(&mut m);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].why, RevokeWhy::NotAllowedAnymore);
}
