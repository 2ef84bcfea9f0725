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

/// The verifier alone: a static token is a constant knock, so a source the
/// scan guard blocked gets nothing for it (and the SYN is still consumed).
#[test]
fn the_verifier_alone_honours_the_scan_guard_for_static_tokens() {
    let mut rig = Rig::new(fixture::policy());
    let mut v = SynVerifier::default();
    let mut sources = SourceTable::new(10);
    let src = ip("198.18.0.2");
    assert!(v.handle(&mut rig.ctx(), &mut sources, T0, src, 10443, 17));
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
    assert!(v.handle(&mut rig.ctx(), &mut sources, T0 + 1, src, 10443, 17));
    assert!(rig.drain().grants.is_empty());
    // A window later it counts again.
    let later = T0 + limits.scan_window * 1000;
    assert!(v.handle(&mut rig.ctx(), &mut sources, later, src, 10443, 17));
    assert_eq!(rig.drain().grants.len(), 1);
}

/// A keyed token is burnt before it grants: the same token again is
/// refused with its step, and a SYN that is no token is not consumed.
#[test]
fn the_verifier_alone_burns_keyed_tokens() {
    let mut rig = Rig::new(fixture::policy());
    let mut v = SynVerifier::default();
    let mut sources = SourceTable::new(10);
    let src = ip("198.18.0.2");
    let step = UnixTime(T0 / 1000).step(30);
    let tok = syn_token::keyed_token(&UserKey::from_bytes(ALICE), &sid(), step, 22, src);
    assert!(!v.handle(&mut rig.ctx(), &mut sources, T0, src, 22, tok ^ 1));
    assert!(v.handle(&mut rig.ctx(), &mut sources, T0, src, 22, tok));
    let out = rig.drain();
    assert_eq!(out.grants.len(), 1);
    assert_eq!(out.grants[0].ttl, Duration::from_secs(30));
    assert!(rig.replay.take_update().is_some());
    assert!(v.handle(&mut rig.ctx(), &mut sources, T0 + 5, src, 22, tok));
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
