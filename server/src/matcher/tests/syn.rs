//! The SYN-token verifier: static and keyed tokens, through the
//! dispatcher and on its own.

use super::super::sources::SourceTable;
use super::super::syn::SynVerifier;
use super::*;
use postern_proto::UnixTime;
use postern_proto::UserKey;
use postern_proto::method::syn_token;
use std::time::Duration;

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
    let (seq, sport) = tok;
    m.handle_packet(T0, &tcp_from("198.18.0.3", sport, 22, seq)); // other source
    assert!(events(&mut m).0.is_empty());
    // The right sequence number from the wrong source port is no token:
    // the port carries the other 16 bits.
    m.handle_packet(T0, &tcp_from("198.18.0.2", sport ^ 1, 22, seq));
    assert!(events(&mut m).0.is_empty());
    m.handle_packet(T0, &tcp_from("198.18.0.2", sport, 22, seq));
    let (g, _) = events(&mut m);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].method, Method::SynTokenKeyed);
    m.handle_packet(T0 + 10, &tcp_from("198.18.0.2", sport, 22, seq));
    let (g, d) = events(&mut m);
    assert!(g.is_empty() && d[0].reason.contains("already used"));
}

/// The verifier alone: a static token is a constant knock, so a source the
/// scan guard blocked gets nothing for it (and the SYN is still consumed).
#[test]
fn the_verifier_alone_honours_the_scan_guard_for_static_tokens() {
    let mut rig = Rig::new(fixture::policy());
    let mut v = SynVerifier::new(&fixture::limits());
    let mut sources = SourceTable::new(10);
    let src = ip("198.18.0.2");
    assert!(v.handle(&mut rig.ctx(), &mut sources, T0, src, 10443, 4000, 17));
    let out = rig.drain();
    assert_eq!(out.grants.len(), 1);
    assert_eq!(
        (out.grants[0].method, out.grants[0].user.clone()),
        (Method::SynToken, None)
    );

    // Trip the guard for this source.
    let limits = rig.policy.limits;
    let st = sources.get_or_insert(src, T0);
    for port in 0..=limits.scan_limit {
        let k = postern_proto::method::sequence::Knock {
            proto: postern_proto::method::KnockProto::Tcp,
            value: 30_000 + port as u16,
        };
        let _ = st.scan.observe(T0, k, || false, &limits);
    }
    assert!(v.handle(&mut rig.ctx(), &mut sources, T0 + 1, src, 10443, 4000, 17));
    assert!(rig.drain().grants.is_empty());
    // A window later it counts again.
    let later = T0 + limits.scan_window * 1000;
    assert!(v.handle(&mut rig.ctx(), &mut sources, later, src, 10443, 4000, 17));
    assert_eq!(rig.drain().grants.len(), 1);
}

/// A keyed token is burnt before it grants: the same token again is
/// refused with its step, and a SYN that is no token is not consumed.
#[test]
fn the_verifier_alone_burns_keyed_tokens() {
    let mut rig = Rig::new(fixture::policy());
    let mut v = SynVerifier::new(&fixture::limits());
    let mut sources = SourceTable::new(10);
    let src = ip("198.18.0.2");
    let step = UnixTime(T0 / 1000).step(30);
    let (tok, sport) = syn_token::keyed_token(&UserKey::from_bytes(ALICE), &sid(), step, 22, src);
    assert!(!v.handle(&mut rig.ctx(), &mut sources, T0, src, 22, sport, tok ^ 1));
    assert!(v.handle(&mut rig.ctx(), &mut sources, T0, src, 22, sport, tok));
    let out = rig.drain();
    assert_eq!(out.grants.len(), 1);
    assert_eq!(out.grants[0].ttl, Duration::from_secs(30));
    assert!(rig.replay.take_update().is_some());
    assert!(v.handle(&mut rig.ctx(), &mut sources, T0 + 5, src, 22, sport, tok));
    let out = rig.drain();
    assert!(out.grants.is_empty());
    assert_eq!(
        out.decisions[0].reason,
        format!(
            "step {}: replayed: this packet or step was already used",
            step.0
        )
    );
}

/// Failed guesses are capped per address: past the cap even the right
/// token from that address is not checked until the window ends, and the
/// guessing is logged once. Without the cap a guesser compares at line
/// rate.
#[test]
fn guesses_are_capped_per_source_and_logged() {
    use super::super::guess::GUESS_WINDOW_MS;
    let mut m = matcher();
    let src = "198.18.0.2";
    let step = UnixTime(T0 / 1000).step(30);
    let (seq, sport) =
        syn_token::keyed_token(&UserKey::from_bytes(ALICE), &sid(), step, 22, ip(src));
    for i in 0..DEFAULT_GUESSES_PER_SOURCE {
        m.handle_packet(T0 + u64::from(i), &tcp_from(src, 5000, 22, seq ^ (i + 1)));
    }
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    let logged: Vec<_> = d
        .iter()
        .filter(|d| d.reason.starts_with("SYN token guessing"))
        .collect();
    assert_eq!(logged.len(), 1, "{d:?}");
    assert!(
        logged[0].reason.contains("address 198.18.0.2"),
        "{}",
        logged[0].reason
    );
    // The right token now is ignored: the address used up its guesses.
    m.handle_packet(T0 + 100, &tcp_from(src, sport, 22, seq));
    assert!(events(&mut m).0.is_empty());
    // After the window it is checked again (a fresh step's token).
    let later = T0 + GUESS_WINDOW_MS;
    let (seq, sport) = syn_token::keyed_token(
        &UserKey::from_bytes(ALICE),
        &sid(),
        UnixTime(later / 1000).step(30),
        22,
        ip(src),
    );
    m.handle_packet(later, &tcp_from(src, sport, 22, seq));
    assert_eq!(events(&mut m).0.len(), 1);
}

/// Rotating addresses within one /64 does not escape the cap: the /64 as a
/// whole gets a bounded number of guesses.
#[test]
fn guesses_are_capped_per_64_when_the_address_rotates() {
    let mut m = matcher();
    for i in 0..DEFAULT_GUESSES_PER_PREFIX {
        let src = format!("fd00:1::{:x}", i + 1);
        m.handle_packet(T0 + u64::from(i), &tcp_from(&src, 5000, 22, i));
    }
    let (_, d) = events(&mut m);
    assert!(
        d.iter().any(|d| d.reason.contains("network fd00:1::")),
        "{d:?}"
    );
    // A fresh address in the same /64 with the right token: ignored.
    let src = "fd00:1::beef";
    let step = UnixTime(T0 / 1000).step(30);
    let (seq, sport) =
        syn_token::keyed_token(&UserKey::from_bytes(ALICE), &sid(), step, 22, ip(src));
    m.handle_packet(T0 + 500, &tcp_from(src, sport, 22, seq));
    assert!(events(&mut m).0.is_empty());
    // Another /64 is not affected.
    let src = "fd00:2::1";
    let (seq, sport) =
        syn_token::keyed_token(&UserKey::from_bytes(ALICE), &sid(), step, 22, ip(src));
    m.handle_packet(T0 + 500, &tcp_from(src, sport, 22, seq));
    assert_eq!(events(&mut m).0.len(), 1);
}

/// A user's connects to the door after its grant are not guesses: a
/// browser opens dozens of connections a minute, and each SYN at a keyed
/// port looks like a wrong token. Counted, they locked the user (and the
/// bench's prober) out of re-knocking for the rest of the minute.
#[test]
fn a_grant_holders_connects_are_not_counted_as_guesses() {
    let mut m = matcher();
    let src = "198.18.0.2";
    let token_at = |now_ms: u64| {
        syn_token::keyed_token(
            &UserKey::from_bytes(ALICE),
            &sid(),
            UnixTime(now_ms / 1000).step(30),
            22,
            ip(src),
        )
    };
    let (seq, sport) = token_at(T0);
    m.handle_packet(T0, &tcp_from(src, sport, 22, seq));
    assert_eq!(events(&mut m).0.len(), 1);
    // Ten times the cap of ordinary connects while the grant lives.
    for i in 0..DEFAULT_GUESSES_PER_SOURCE * 10 {
        m.handle_packet(T0 + 1 + u64::from(i), &tcp_from(src, 40_000, 22, i));
    }
    let (g, d) = events(&mut m);
    assert!(g.is_empty());
    assert!(
        !d.iter().any(|d| d.reason.starts_with("SYN token guessing")),
        "{d:?}"
    );
    // Re-knocking in the next step still renews the grant.
    let next = T0 + 30_000;
    let (seq, sport) = token_at(next);
    m.handle_packet(next, &tcp_from(src, sport, 22, seq));
    assert_eq!(events(&mut m).0.len(), 1, "the re-knock was not checked");
}

/// Another door's grant does not exempt an address: it could otherwise
/// hold a grant of a weak door and guess the tokens of a strong one.
#[test]
fn a_grant_of_another_door_does_not_exempt_guesses() {
    let mut m = matcher();
    let src = "198.18.0.2";
    m.handle_packet(T0, &tcp(src, 10443, 17)); // static token for 443
    assert_eq!(events(&mut m).0.len(), 1);
    for i in 0..DEFAULT_GUESSES_PER_SOURCE {
        m.handle_packet(T0 + 1 + u64::from(i), &tcp_from(src, 40_000, 22, i));
    }
    let (_, d) = events(&mut m);
    assert!(
        d.iter().any(|d| d.reason.starts_with("SYN token guessing")),
        "{d:?}"
    );
}

/// The caps are `[limits]` settings, applied again on reload: a site
/// lowers them, or raises them for many users behind one NAT.
#[test]
fn guess_caps_follow_the_limits_and_reload() {
    let policy = |per_source| {
        Policy::new(
            sid(),
            fixture::spa(),
            Limits {
                syn_guesses_per_source: per_source,
                ..fixture::limits()
            },
            vec![fixture::ssh("7000,8000:udp,9000,64:icmp")],
            vec![fixture::alice()],
        )
    };
    let mut m = Matcher::new(policy(3), T0);
    let src = "198.18.0.2";
    for i in 0..3 {
        m.handle_packet(T0 + i, &tcp_from(src, 40_000, 22, i as u32));
    }
    let (_, d) = events(&mut m);
    assert!(
        d.iter()
            .any(|d| d.reason.starts_with("SYN token guessing: 3 wrong tokens")),
        "{d:?}"
    );
    let (seq, sport) = syn_token::keyed_token(
        &UserKey::from_bytes(ALICE),
        &sid(),
        UnixTime(T0 / 1000).step(30),
        22,
        ip(src),
    );
    m.handle_packet(T0 + 10, &tcp_from(src, sport, 22, seq));
    assert!(events(&mut m).0.is_empty(), "blocked at the cap of 3");
    m.reload(policy(10), T0 + 20);
    events(&mut m);
    m.handle_packet(T0 + 30, &tcp_from(src, sport, 22, seq));
    assert_eq!(events(&mut m).0.len(), 1, "the reloaded cap of 10 applies");
}

/// The server checks tokens with the door's step, the one profiles for
/// it are issued with: a 300 s step used to never work (the server always
/// used 30 s).
#[test]
fn keyed_tokens_use_the_doors_step() {
    let mut ssh = fixture::ssh("7000,8000:udp,9000,64:icmp");
    ssh.syn_step_secs = 300;
    let mut m = Matcher::new(fixture::policy_with(vec![ssh], vec![fixture::alice()]), T0);
    let src = "198.18.0.2";
    let now = T0 + 200_000;
    let step = UnixTime(now / 1000).step(300);
    let (seq, sport) =
        syn_token::keyed_token(&UserKey::from_bytes(ALICE), &sid(), step, 22, ip(src));
    m.handle_packet(now, &tcp_from(src, sport, 22, seq));
    assert_eq!(events(&mut m).0.len(), 1);
}
