//! `[allow]` across profile generations: files issued before `auto`
//! existed keep their meaning, and `auto` round-trips.

use postern_proto::profile::{AllowMode, parse};

const OLD: &str = include_str!("fixtures/issued-before-auto.postern");

/// A profile as `posternd user add` wrote it before `allow = auto`: it
/// still parses, still means "the packet's source", and writes back the same.
#[test]
fn a_profile_issued_before_auto_keeps_its_meaning() {
    let p = parse(OLD, "old.postern").expect("old profiles still parse");
    assert_eq!(p.version, 1);
    assert_eq!(p.allow, AllowMode::Source);
    assert!(!p.allow.binds_address());
    let again = parse(&p.to_toml().expect("toml"), "again").expect("round trip");
    assert_eq!(again, p);
}

/// Older still: no `[allow]` table at all means `source`.
#[test]
fn a_profile_without_allow_means_source() {
    let text = OLD.replace("[allow]\nmode = \"source\"\n", "");
    assert!(!text.contains("[allow]"));
    let p = parse(&text, "older.postern").expect("parses");
    assert_eq!(p.allow, AllowMode::Source);
}

#[test]
fn auto_with_stun_servers_and_nat_networks_round_trips() {
    let text = OLD.replace(
        "mode = \"source\"",
        "mode = \"auto\"\nstun = [\"stun.example.org:3478\", \"[fd00::5]:3478\"]\nnat_networks = [\"198.18.10.0/24\"]",
    );
    let p = parse(&text, "auto.postern").expect("parses");
    let AllowMode::Auto { stun, nat_networks } = &p.allow else {
        panic!("not auto: {:?}", p.allow);
    };
    assert_eq!(stun.len(), 2);
    assert_eq!(nat_networks[0].to_string(), "198.18.10.0/24");
    assert!(p.allow.binds_address());
    assert_eq!(parse(&p.to_toml().expect("toml"), "x").expect("again"), p);
}

#[test]
fn auto_refuses_a_stun_server_without_a_port_and_non_spa_methods() {
    let text = OLD.replace(
        "mode = \"source\"",
        "mode = \"auto\"\nstun = [\"stun.example.org\"]",
    );
    let e = parse(&text, "p").unwrap_err();
    assert!(e.to_string().contains("not host:port"), "{e}");
    let seq = OLD
        .replace("mode = \"source\"", "mode = \"auto\"")
        .replace(
            "kind = \"spa\"\nuser = \"alice\"\nkey = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"\nport = 62201\ntransport = \"udp\"",
            "kind = \"static-sequence\"\nsequence = \"7000,8000,9000\"",
        );
    let e = parse(&seq, "p").unwrap_err();
    assert!(e.to_string().contains("only SPA"), "{e}");
}

#[test]
fn url_ca_must_be_pem() {
    let text = OLD.replace(
        "mode = \"source\"",
        "mode = \"url\"\nurl = \"https://198.18.0.1/ip\"\nurl_ca = \"not a certificate\"",
    );
    let e = parse(&text, "p").unwrap_err();
    assert!(e.to_string().contains("PEM"), "{e}");
}
