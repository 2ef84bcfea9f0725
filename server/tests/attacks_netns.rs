//! Attacks against the real `posternd` on real kernels (issue #14): keyed
//! SYN-token guessing, brute force of a dynamic sequence from rotating
//! sources, and a flood of forged static knocks. Every flood is bounded in
//! count and time. Run as root: `cargo test -p postern-server --test
//! attacks_netns`.
#![cfg(target_os = "linux")]

mod support;

use std::net::IpAddr;
use std::time::Duration;
use support::stage::Stage;
use support::*;

/// Grants to `port` in the stage's nftables sets: what is open on the
/// wire, whoever it is open for (forged sources cannot be probed).
fn grants_in_sets(st: &Stage, tag: &str, port: u16) -> usize {
    let mut n = 0;
    for set in ["grants4", "grants6"] {
        let table = format!("pe_{tag}");
        let json = st
            .net
            .exec(
                &st.net.server,
                &["nft", "-j", "list", "set", "inet", &table, set],
            )
            .expect("nft list set");
        let v: serde_json::Value = serde_json::from_str(&json).expect("nft json");
        let sets = v["nftables"].as_array().cloned().unwrap_or_default();
        for s in sets.iter().filter_map(|o| o.get("set")) {
            for e in s["elem"].as_array().cloned().unwrap_or_default() {
                let val = e.get("elem").map_or(&e, |x| x.get("val").unwrap_or(x));
                if val["concat"][2].as_u64() == Some(u64::from(port)) {
                    n += 1;
                }
            }
        }
    }
    n
}

/// Issue 14 item 2: a guessing flood of keyed SYN tokens (bounded: 3000
/// SYNs or 3 s each) from one address, then from addresses rotating
/// through one /64, opens nothing, and each is logged as guessing.
#[test]
fn syn_token_guessing_opens_nothing_and_is_logged() {
    let Some(st) = Stage::new("sg", 43, "nftables", true) else {
        return;
    };
    let (server, one) = (st.server(), st.client());
    let guess = |i: usize| Forged::Syn {
        src_port: 1024 + (i % 60_000) as u16,
        port: SYN_PORT,
        seq: (i as u32).wrapping_mul(2_654_435_761),
    };
    let sent = postern_server::netns::run_in(&st.net.client, move || {
        forge_flood(server, 3000, Duration::from_secs(3), |i| (one, guess(i)))
    })
    .expect("flood from one address");
    assert!(
        st.daemon.wait_log(&format!(
            "SYN token guessing: 30 wrong tokens from address {one}"
        )),
        "{sent} guesses: {}",
        st.daemon.log_text()
    );
    let sent = postern_server::netns::run_in(&st.net.client, move || {
        forge_flood(server, 3000, Duration::from_secs(3), |i| {
            let src: IpAddr = format!("fd00:5053:2b:77::{:x}", i + 1).parse().expect("ip");
            (src, guess(i + 7))
        })
    })
    .expect("flood from a /64");
    assert!(
        st.daemon
            .wait_log("wrong tokens from network fd00:5053:2b:77::"),
        "{sent} guesses: {}",
        st.daemon.log_text()
    );
    assert_eq!(grants_in_sets(&st, "sg", SYN_PORT), 0);
    assert!(st.closed(SYN_PORT));
    assert!(!st.daemon.log_text().contains("accepted"));
    // The rest of the guesses were not even checked: a few log lines, not
    // one per SYN.
    assert!(st.daemon.log_text().lines().count() < 200);
}

/// Issue 14 item 3: a brute force of the dynamic sequence from sources
/// rotating through one /24 (bounded: 2000 knocks or 3 s), each source
/// trying one whole 5-knock guess, opens nothing; the network's scan
/// guard trips (per address it never would: 5 knocks each).
#[test]
fn dynamic_sequence_brute_force_from_rotating_sources_opens_nothing() {
    let Some(st) = Stage::new("dg", 44, "nftables", false) else {
        return;
    };
    let server = st.server();
    let sent = postern_server::netns::run_in(&st.net.client, move || {
        forge_flood(server, 2000, Duration::from_secs(3), |i| {
            let src: IpAddr = format!("198.18.44.{}", 10 + (i / 5) % 240)
                .parse()
                .expect("ip");
            let port = 30_000 + ((i as u32).wrapping_mul(2_654_435_761) >> 8) as u16 % 1000;
            (
                src,
                Forged::Udp {
                    src_port: 40_000,
                    port,
                },
            )
        })
    })
    .expect("brute force");
    assert!(
        st.daemon.wait_log("from network 198.18.44.0"),
        "{sent} knocks: {}",
        st.daemon.log_text()
    );
    assert_eq!(grants_in_sets(&st, "dg", DYN_PORT), 0);
    assert!(!st.daemon.log_text().contains("accepted"));
}

/// Issue 14 item 5: a flood of valid static SYN tokens from forged sources
/// (bounded: 3000 SYNs or 3 s) is held to the unauthenticated grant
/// budget and bound, while an SPA user still gets in.
#[test]
fn a_forged_static_flood_leaves_room_for_spa() {
    let Some(st) = Stage::with_config("uf", 45, "nftables", false, |c| {
        c.replace(
            "[limits]\n",
            "[limits]\nmax_grants = 64\nmax_unauth_grants = 8\nunauth_grant_rate = 5\n",
        )
    }) else {
        return;
    };
    let server = st.server();
    let knock_port =
        postern_proto::method::syn_token::static_knock_port(TOKEN_PORT).expect("token port");
    let ns = st.net.client.clone();
    let flooder = std::thread::spawn(move || {
        postern_server::netns::run_in(&ns, move || {
            forge_flood(server, 3000, Duration::from_secs(3), |i| {
                let src: IpAddr = format!("198.18.45.{}", 10 + i % 240).parse().expect("ip");
                (
                    src,
                    Forged::Syn {
                        src_port: 40_000,
                        port: knock_port,
                        seq: postern_proto::method::syn_token::STATIC_SEQ,
                    },
                )
            })
        })
        .expect("flooder")
    });
    std::thread::sleep(Duration::from_millis(200));
    st.knock(spa_method(KEY), SPA_PORT);
    let opened = st.open(SPA_PORT);
    let sent = flooder.join().expect("flooder thread");
    assert!(opened, "SPA kept out by {sent} forged static tokens");
    assert!(sent >= 500, "the flood was not one: {sent}");
    let live = grants_in_sets(&st, "uf", TOKEN_PORT);
    assert!(
        live <= 8,
        "{live} unauthenticated grants live: {}",
        st.daemon.log_text()
    );
    assert!(
        st.daemon
            .log_text()
            .contains("grant budget for unauthenticated knocks"),
        "{}",
        st.daemon.log_text()
    );
}
