//! SPA packets that name the address to let in (`allow = auto`): a copy
//! sent from elsewhere opens nothing for its sender.

use super::spa::spa_packet;
use super::*;
use postern_proto::wire::spa::AllowAddr;

const CLIENT: &str = "198.18.0.2";
const THIEF: &str = "198.18.0.66";

fn binding_alice(require_address: bool, source_must_match: bool) -> Matcher {
    let policy = Policy::new(
        sid(),
        fixture::spa(),
        Limits {
            source_must_match,
            ..fixture::limits()
        },
        vec![fixture::ssh("7000,8000:udp,9000,64:icmp"), fixture::web()],
        vec![PolicyUser {
            require_address,
            ..fixture::alice()
        }],
    );
    Matcher::new(policy, T0)
}

fn named(seed: u64) -> Vec<u8> {
    spa_packet(
        ALICE,
        sid(),
        T0 / 1000,
        AllowAddr::Explicit(ip(CLIENT)),
        22,
        30,
        seed,
    )
}

#[test]
fn a_copy_from_another_address_opens_only_the_named_one_and_logs_both() {
    let mut m = binding_alice(true, false);
    m.handle_packet(T0, &udp(THIEF, 62201, &named(1)));
    let (g, _) = events(&mut m);
    assert_eq!(g.len(), 1);
    assert_eq!(
        g[0].source,
        ip(CLIENT),
        "the grant goes to the named address"
    );
    assert_eq!(g[0].knocked_from, ip(THIEF));
    let line = g[0].decision();
    assert_eq!(line.source, ip(THIEF));
    assert!(
        line.reason.contains(CLIENT) && line.reason.contains(THIEF),
        "{}",
        line.reason
    );
}

#[test]
fn source_must_match_refuses_a_mismatch_and_names_both_addresses() {
    let mut m = binding_alice(true, true);
    m.handle_packet(T0, &udp(THIEF, 62201, &named(2)));
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert_eq!(d[0].source, ip(THIEF));
    assert!(d[0].reason.contains(CLIENT), "{d:?}");
    assert!(d[0].reason.contains("source_must_match"), "{d:?}");
    // From the named address itself it still opens.
    m.handle_packet(T0 + 10, &udp(CLIENT, 62201, &named(3)));
    assert_eq!(events(&mut m).0.len(), 1);
}

#[test]
fn a_user_that_requires_an_address_refuses_packets_without_one() {
    let mut m = binding_alice(true, false);
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 4);
    m.handle_packet(T0, &udp(CLIENT, 62201, &p));
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(d[0].reason.contains("re-issue the profile"), "{d:?}");
    // Users added before keep their address-less profiles working.
    let mut old = binding_alice(false, false);
    old.handle_packet(T0, &udp(CLIENT, 62201, &p));
    assert_eq!(events(&mut old).0[0].source, ip(CLIENT));
}

#[test]
fn addresses_that_cannot_be_let_in_are_refused() {
    for bad in [
        "0.0.0.0",
        "127.0.0.1",
        "224.0.0.9",
        "255.255.255.255",
        "::ffff:198.18.0.2",
    ] {
        let mut m = binding_alice(false, false);
        let p = spa_packet(
            ALICE,
            sid(),
            T0 / 1000,
            AllowAddr::Explicit(ip(bad)),
            22,
            30,
            5,
        );
        m.handle_packet(T0, &udp(CLIENT, 62201, &p));
        let (g, d) = events(&mut m);
        assert!(g.is_empty(), "{bad}");
        assert!(d[0].reason.contains("cannot be let in"), "{bad}: {d:?}");
    }
}
