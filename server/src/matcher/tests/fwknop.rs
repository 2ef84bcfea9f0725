//! fwknop packets (matcher/fwknop.rs): the same checks as Postern's SPA,
//! and Postern's own SPA still served on the shared port.

use super::spa::spa_packet;
use super::*;
use postern_proto::fixtures::fwknop as captured;
use postern_proto::method::fwknop::{self, AccessRequest, FwknopKeys, FwknopMessage, HmacType};
use postern_proto::wire::spa::AllowAddr;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const CLIENT: &str = "198.18.0.2";

fn keys() -> FwknopKeys {
    FwknopKeys::new(&[5; 32], &[6; 64], HmacType::Sha256).expect("keys")
}

fn alice(require_address: bool) -> PolicyUser {
    PolicyUser {
        fwknop: Some(keys()),
        require_address,
        ..fixture::alice()
    }
}

fn matcher_with(users: Vec<PolicyUser>) -> Matcher {
    Matcher::new(
        fixture::policy_with(
            vec![fixture::ssh("7000,8000:udp,9000,64:icmp"), fixture::web()],
            users,
        ),
        T0,
    )
}

fn packet(
    k: &FwknopKeys,
    addr: &str,
    port: u16,
    timeout: Option<u32>,
    ts: u64,
    seed: u64,
) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let access = AccessRequest {
        addr: ip(addr),
        doors: vec![door(port)],
    };
    let m = FwknopMessage::new(&mut rng, "alice", ts, access, timeout);
    fwknop::seal(k, &m, &mut rng).into_bytes()
}

fn reasons(d: &[Decision]) -> String {
    d.iter()
        .map(|d| d.reason.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn an_fwknop_packet_opens_the_door_once() {
    let mut m = matcher_with(vec![alice(false)]);
    let p = packet(&keys(), CLIENT, 22, None, T0 / 1000, 1);
    m.handle_packet(T0, &udp(CLIENT, 62201, &p));
    let (g, _) = events(&mut m);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].door, door(22));
    assert_eq!(g[0].source, ip(CLIENT));
    assert_eq!(g[0].method, Method::Fwknop);
    assert_eq!(g[0].user.as_deref(), Some("alice"));
    assert_eq!(
        g[0].ttl.as_secs(),
        30,
        "no client timeout: the door's duration"
    );
    m.handle_packet(T0 + 1000, &udp(CLIENT, 62201, &p));
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(reasons(&d).contains("replayed"), "{d:?}");
}

#[test]
fn the_client_timeout_is_capped_by_the_doors_spa_limit() {
    let mut m = matcher_with(vec![alice(false)]);
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62201,
            &packet(&keys(), CLIENT, 22, Some(20), T0 / 1000, 2),
        ),
    );
    assert_eq!(events(&mut m).0[0].ttl.as_secs(), 20);
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62201,
            &packet(&keys(), CLIENT, 22, Some(9999), T0 / 1000, 3),
        ),
    );
    assert_eq!(events(&mut m).0[0].ttl.as_secs(), 60);
}

#[test]
fn other_keys_a_stale_clock_and_foreign_doors_are_refused() {
    let mut m = matcher_with(vec![alice(false)]);
    let other = FwknopKeys::new(&[7; 32], &[8; 64], HmacType::Sha256).expect("keys");
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62201,
            &packet(&other, CLIENT, 22, None, T0 / 1000, 4),
        ),
    );
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62201,
            &packet(&keys(), CLIENT, 22, None, T0 / 1000 - 3600, 5),
        ),
    );
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62201,
            &packet(&keys(), CLIENT, 443, None, T0 / 1000, 6),
        ),
    );
    m.handle_packet(
        T0,
        &udp(
            "203.0.113.9",
            62201,
            &packet(&keys(), "203.0.113.9", 22, None, T0 / 1000, 7),
        ),
    );
    let (g, d) = events(&mut m);
    assert!(g.is_empty(), "{g:?}");
    let r = reasons(&d);
    assert!(r.contains("no fwknop user's HMAC key matches"), "{r}");
    assert!(r.contains("skew"), "{r}");
    assert!(
        r.contains("door 443/tcp is not open to this user by SPA"),
        "{r}"
    );
    assert!(r.contains("outside the user's allowed ranges"), "{r}");
    assert!(d.iter().all(|d| d.method == Method::Fwknop));
}

#[test]
fn command_messages_are_refused_with_the_reason() {
    let user = PolicyUser {
        fwknop: Some(captured::keys(HmacType::Sha256)),
        ..fixture::alice()
    };
    let mut m = matcher_with(vec![user]);
    m.handle_packet(T0, &udp(CLIENT, 62201, captured::COMMAND.as_bytes()));
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(reasons(&d).contains("command messages"), "{d:?}");
    assert_eq!(d[0].user.as_deref(), Some("alice"));
}

#[test]
fn zero_address_means_the_source_unless_the_user_binds_one() {
    let mut m = matcher_with(vec![alice(false)]);
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62201,
            &packet(&keys(), "0.0.0.0", 22, None, T0 / 1000, 8),
        ),
    );
    assert_eq!(events(&mut m).0[0].source, ip(CLIENT));
    let mut m = matcher_with(vec![alice(true)]);
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62201,
            &packet(&keys(), "0.0.0.0", 22, None, T0 / 1000, 9),
        ),
    );
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(reasons(&d).contains("names no address"), "{d:?}");
}

#[test]
fn postern_spa_still_opens_on_the_shared_port() {
    let mut m = matcher_with(vec![alice(false)]);
    let p = spa_packet(ALICE, sid(), T0 / 1000, AllowAddr::Source, 22, 30, 10);
    m.handle_packet(T0, &udp(CLIENT, 62201, &p));
    let (g, _) = events(&mut m);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].method, Method::Spa);
}

#[test]
fn a_dedicated_fwknop_port_refuses_junk_and_leaves_spa_alone() {
    let policy = fixture::policy_with(
        vec![fixture::ssh("7000,8000:udp,9000,64:icmp")],
        vec![alice(false)],
    )
    .with_fwknop_port(62202);
    let mut m = Matcher::new(policy, T0);
    m.handle_packet(T0, &udp(CLIENT, 62202, b"hello"));
    let (_, d) = events(&mut m);
    assert!(reasons(&d).contains("not fwknop SPA data"), "{d:?}");
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62202,
            &packet(&keys(), CLIENT, 22, None, T0 / 1000, 11),
        ),
    );
    assert_eq!(events(&mut m).0.len(), 1);
    // An fwknop packet to the SPA port is not SPA.
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62201,
            &packet(&keys(), CLIENT, 22, None, T0 / 1000, 12),
        ),
    );
    assert!(events(&mut m).0.is_empty());
}

#[test]
fn without_fwknop_users_the_port_is_postern_spa_only() {
    let mut m = matcher();
    m.handle_packet(
        T0,
        &udp(
            CLIENT,
            62201,
            &packet(&keys(), CLIENT, 22, None, T0 / 1000, 13),
        ),
    );
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(d.iter().all(|d| d.method == Method::Spa), "{d:?}");
}

/// fwknop keys follow the user's lifecycle like every other method: an
/// expired user's fwknop packet is refused with the reason in the log.
#[test]
fn an_expired_users_fwknop_packet_is_refused() {
    let expired = PolicyUser {
        standing: Standing {
            disabled: false,
            ends: Some((postern_proto::UnixTime(T0 / 1000), KeyEnd::Expires)),
        },
        ..alice(false)
    };
    let mut m = matcher_with(vec![expired]);
    let p = packet(&keys(), CLIENT, 22, None, T0 / 1000, 1);
    m.handle_packet(T0, &udp(CLIENT, 62201, &p));
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert_eq!(d[0].method, Method::Fwknop);
    assert!(reasons(&d).starts_with("user expired at"), "{d:?}");
}

/// A forged source for the n-th flood packet: one packet per address,
/// spread over 512 /24 networks of 198.18.0.0/15 (so no address or
/// network reaches its cap), never `CLIENT`.
fn forged(n: u32) -> String {
    format!("198.{}.{}.{}", 18 + (n >> 8) % 2, n % 256, 100 + n / 512)
}

/// The work budget (matcher/fwknop.rs): a flood of base64 of a length an
/// fwknop packet can have, from forged sources all over, spends the HMAC
/// budget and then is dropped unchecked, so a real packet in the same
/// second is dropped too; one second later (the fake clock moved on) the
/// real packet opens. Junk of a length no packet has costs nothing from
/// the budget.
#[test]
fn a_flood_spends_the_hmac_budget_and_a_packet_after_it_opens() {
    use super::super::fwknop::FWKNOP_HMACS_PER_SEC;
    let other = FwknopKeys::new(&[7; 32], &[8; 64], HmacType::Sha256).expect("keys");
    let junk = packet(&other, CLIENT, 22, None, T0 / 1000, 20);
    let real = packet(&keys(), CLIENT, 22, None, T0 / 1000, 21);

    // One HMAC short of the budget, then the real packet: it opens.
    let mut m = matcher_with(vec![alice(false)]);
    for n in 1..FWKNOP_HMACS_PER_SEC {
        m.handle_packet(T0, &udp(&forged(n), 62201, &junk));
    }
    m.handle_packet(T0, &udp(CLIENT, 62201, &real));
    assert_eq!(events(&mut m).0.len(), 1, "the budget was not all there");

    // The whole budget spent: the real packet is dropped unchecked ...
    let mut m = matcher_with(vec![alice(false)]);
    // ... and junk whose length fits no HMAC type spends none of it.
    let mut odd = junk.clone();
    odd.push(b'A');
    for n in 0..2 * FWKNOP_HMACS_PER_SEC {
        m.handle_packet(T0, &udp(&forged(n), 62201, &odd));
    }
    for n in 0..FWKNOP_HMACS_PER_SEC {
        m.handle_packet(T0, &udp(&forged(n), 62201, &junk));
    }
    m.handle_packet(T0, &udp(CLIENT, 62201, &real));
    let (g, _) = events(&mut m);
    assert!(g.is_empty(), "opened beyond the budget: {g:?}");
    assert!(m.stats().rejected >= u64::from(3 * FWKNOP_HMACS_PER_SEC));

    // A second later the budget is back and the same packet opens (it was
    // never checked, so it is no replay).
    m.handle_packet(T0 + 1000, &udp(CLIENT, 62201, &real));
    assert_eq!(events(&mut m).0.len(), 1);
}

/// A flood from one address (or one network) cannot spend the budget that
/// everyone else's knocks need: after [`FWKNOP_FAILS_PER_SOURCE`] packets
/// no key matches, its packets are dropped unchecked (logged once with the
/// count), and a real packet from another address in the same second
/// opens. The flooder's own network is capped too.
#[test]
fn a_flood_from_one_address_does_not_starve_other_knocks() {
    use super::super::fwknop::{
        FWKNOP_FAILS_PER_NETWORK, FWKNOP_FAILS_PER_SOURCE, FWKNOP_HMACS_PER_SEC,
    };
    let other = FwknopKeys::new(&[7; 32], &[8; 64], HmacType::Sha256).expect("keys");
    let junk = packet(&other, CLIENT, 22, None, T0 / 1000, 30);
    let real = packet(&keys(), CLIENT, 22, None, T0 / 1000, 31);
    let mut m = matcher_with(vec![alice(false)]);
    for _ in 0..2 * FWKNOP_HMACS_PER_SEC {
        m.handle_packet(T0, &udp("198.19.7.7", 62201, &junk));
    }
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    let checked = d.iter().filter(|d| d.method == Method::Fwknop).count();
    assert_eq!(checked, FWKNOP_FAILS_PER_SOURCE as usize, "{d:?}");
    assert!(
        reasons(&d).contains("address 198.19.7.7 sent 30 such packets this minute"),
        "{d:?}"
    );
    // The rest of its network: once the /24 has sent its cap, even a real
    // packet from a fresh address in it is dropped unchecked (decisions
    // are rate-limited in the log, so the effect is what is checked).
    let per_host = FWKNOP_FAILS_PER_NETWORK / 4;
    for host in 0..4 {
        let src = format!("198.19.7.{}", 100 + host);
        for _ in 0..per_host {
            m.handle_packet(T0, &udp(&src, 62201, &junk));
        }
    }
    m.handle_packet(T0, &udp("198.19.7.250", 62201, &real));
    assert!(events(&mut m).0.is_empty(), "the network's cap held");
    // Meanwhile a real knock from elsewhere opens at once.
    m.handle_packet(T0, &udp(CLIENT, 62201, &real));
    assert_eq!(events(&mut m).0.len(), 1);
}
