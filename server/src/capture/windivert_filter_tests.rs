//! Tests of the WinDivert filter generator, run on a small evaluator of the
//! subset of WinDivert's filter language `windivert_filter.rs` emits
//! (`and`, `or`, `!`, parentheses, `==`, `>=`, `<=`, flags), over the
//! fields WinDivert would report for packets built for IPv4 and IPv6 — so
//! each door kind is checked by what the filter lets through, not by how
//! its string looks.

use super::*;
use crate::capture::{LinkType, parse_frame};
use crate::config;
use crate::daemon::filter_spec;
use std::collections::HashMap;

/// The fields WinDivert reports for one packet (absent = protocol absent).
type Fields = HashMap<&'static str, u32>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ip {
    V4,
    V6,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Syn(u16),
    SynAck(u16),
    Udp(u16),
    EchoRequest,
    EchoReply,
}

/// The raw IP packet (what WinDivert's network layer delivers) and the
/// fields its filter engine would see, inbound.
fn packet(ip: Ip, kind: Kind, inbound: bool) -> (Vec<u8>, Fields) {
    let b = match ip {
        Ip::V4 => etherparse::PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 0, 1], 64),
        Ip::V6 => etherparse::PacketBuilder::ipv6(
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            64,
        ),
    };
    let mut f = Fields::new();
    f.insert("inbound", u32::from(inbound));
    f.insert(if ip == Ip::V4 { "ip" } else { "ipv6" }, 1);
    let mut out = Vec::new();
    let payload = [0u8; 40];
    let written = match kind {
        Kind::Syn(port) | Kind::SynAck(port) => {
            f.insert("tcp", 1);
            f.insert("tcp.DstPort", u32::from(port));
            f.insert("tcp.Syn", 1);
            let ack = matches!(kind, Kind::SynAck(_));
            f.insert("tcp.Ack", u32::from(ack));
            let t = b.tcp(40001, port, 17, 1024).syn();
            if ack {
                t.ack(1).write(&mut out, &[])
            } else {
                t.write(&mut out, &[])
            }
        }
        Kind::Udp(port) => {
            f.insert("udp", 1);
            f.insert("udp.DstPort", u32::from(port));
            b.udp(40001, port).write(&mut out, &payload)
        }
        Kind::EchoRequest | Kind::EchoReply => {
            let request = matches!(kind, Kind::EchoRequest);
            match ip {
                Ip::V4 => {
                    f.insert("icmp", 1);
                    f.insert("icmp.Type", if request { 8 } else { 0 });
                    if request {
                        b.icmpv4_echo_request(1, 1).write(&mut out, &payload)
                    } else {
                        b.icmpv4_echo_reply(1, 1).write(&mut out, &payload)
                    }
                }
                Ip::V6 => {
                    f.insert("icmpv6", 1);
                    f.insert("icmpv6.Type", if request { 128 } else { 129 });
                    if request {
                        b.icmpv6_echo_request(1, 1).write(&mut out, &payload)
                    } else {
                        b.icmpv6_echo_reply(1, 1).write(&mut out, &payload)
                    }
                }
            }
        }
    };
    written.expect("build packet");
    (out, f)
}

/// Evaluates `filter` on `fields` like WinDivert: a field of an absent
/// protocol makes its test false.
fn eval(filter: &str, fields: &Fields) -> bool {
    let spaced = filter.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut p = Parser {
        tokens,
        at: 0,
        fields,
    };
    let v = p.or();
    assert_eq!(p.at, p.tokens.len(), "trailing tokens in {filter}");
    v
}

struct Parser<'a> {
    tokens: Vec<&'a str>,
    at: usize,
    fields: &'a Fields,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.at).copied()
    }

    fn next(&mut self) -> &str {
        let t = self.tokens.get(self.at).copied().expect("unexpected end");
        self.at += 1;
        t
    }

    fn or(&mut self) -> bool {
        let mut v = self.and();
        while self.peek() == Some("or") {
            self.at += 1;
            v |= self.and();
        }
        v
    }

    fn and(&mut self) -> bool {
        let mut v = self.unary();
        while self.peek() == Some("and") {
            self.at += 1;
            v &= self.unary();
        }
        v
    }

    fn unary(&mut self) -> bool {
        let t = self.next().to_owned();
        if t == "(" {
            let v = self.or();
            assert_eq!(self.next(), ")");
            return v;
        }
        if let Some(rest) = t.strip_prefix('!') {
            return !self.field_true(rest);
        }
        match t.as_str() {
            "true" => return true,
            "false" => return false,
            _ => {}
        }
        let op = self.peek().map(str::to_owned);
        match op.as_deref() {
            Some(o @ ("==" | ">=" | "<=")) => {
                self.at += 1;
                let n: u32 = self.next().parse().expect("number");
                let Some(&v) = self.fields.get(t.as_str()) else {
                    return false;
                };
                match o {
                    "==" => v == n,
                    ">=" => v >= n,
                    _ => v <= n,
                }
            }
            _ => self.field_true(&t),
        }
    }

    fn field_true(&self, name: &str) -> bool {
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'),
            "not a field: {name}"
        );
        self.fields.get(name).is_some_and(|v| *v != 0)
    }
}

/// What passes `spec`'s filter, checked against what the spec asks for.
fn passes(spec: &FilterSpec, ip: Ip, kind: Kind) -> bool {
    let filter = build(spec).expect("small spec builds");
    let (bytes, fields) = packet(ip, kind, true);
    let accepted = eval(filter.as_str(), &fields);
    if accepted {
        // What passes must reach the matcher: WinDivert frames are raw IP.
        assert!(
            parse_frame(LinkType::RawIp, &bytes).is_some(),
            "{kind:?} over {ip:?} passes the filter but does not parse"
        );
    }
    // Never a packet sent by this host.
    let (_, outbound) = packet(ip, kind, false);
    assert!(!eval(filter.as_str(), &outbound), "outbound {kind:?}");
    accepted
}

fn door_config(door: &str) -> config::Config {
    door_on(3389, door)
}

fn door_on(port: u16, door: &str) -> config::Config {
    let text = format!(
        "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"Ethernet\"]\n\
         [spa]\nport = 62201\nicmp = false\n\
         [[door]]\nname = \"rdp\"\nproto = \"tcp\"\nport = {port}\n{door}\n"
    );
    config::parse(&text, "t.toml").expect("valid config")
}

const BOTH: [Ip; 2] = [Ip::V4, Ip::V6];

#[test]
fn spa_door_listens_on_the_spa_port_only() {
    let spec = filter_spec(&door_config("spa = true"));
    for ip in BOTH {
        assert!(passes(&spec, ip, Kind::Udp(62201)), "{ip:?}");
        assert!(!passes(&spec, ip, Kind::Udp(62202)), "{ip:?}");
        assert!(!passes(&spec, ip, Kind::Syn(3389)), "{ip:?}");
        assert!(!passes(&spec, ip, Kind::EchoRequest), "{ip:?}");
    }
}

#[test]
fn spa_over_icmp_lets_echo_requests_in_but_not_replies() {
    let mut cfg = door_config("spa = true");
    cfg.spa.icmp = true;
    let spec = filter_spec(&cfg);
    for ip in BOTH {
        assert!(passes(&spec, ip, Kind::EchoRequest), "{ip:?}");
        assert!(!passes(&spec, ip, Kind::EchoReply), "{ip:?}");
    }
}

#[test]
fn tcp_sequence_door_takes_syns_but_not_syn_acks() {
    let spec = filter_spec(&door_config("sequence = \"7000,9000,8000\""));
    for ip in BOTH {
        for port in [7000, 8000, 9000, 12345] {
            assert!(passes(&spec, ip, Kind::Syn(port)), "{ip:?} {port}");
            assert!(!passes(&spec, ip, Kind::SynAck(port)), "{ip:?} {port}");
        }
        assert!(passes(&spec, ip, Kind::Udp(62201)), "{ip:?}");
        assert!(!passes(&spec, ip, Kind::Udp(7000)), "{ip:?}");
    }
}

#[test]
fn udp_and_icmp_sequence_doors_take_their_knocks() {
    let spec = filter_spec(&door_config("sequence = \"7000:udp,9000:udp,8000:udp\""));
    let icmp = filter_spec(&door_config("sequence = \"100:icmp,200:icmp,300:icmp\""));
    for ip in BOTH {
        for port in [7000, 8000, 9000, 1, 65535] {
            assert!(passes(&spec, ip, Kind::Udp(port)), "{ip:?} {port}");
        }
        assert!(!passes(&spec, ip, Kind::Syn(7000)), "{ip:?}");
        assert!(passes(&icmp, ip, Kind::EchoRequest), "{ip:?}");
        assert!(!passes(&icmp, ip, Kind::EchoReply), "{ip:?}");
    }
}

#[test]
fn syn_token_doors_take_syns_to_any_port() {
    // Static tokens only open ports below 1000 (their SYN goes to 10xx).
    for (mode, door) in [("static", 22), ("keyed", 3389)] {
        let spec = filter_spec(&door_on(
            door,
            &format!("spa = true\nsyn_token = \"{mode}\""),
        ));
        for ip in BOTH {
            for port in [3389, 1017, 10017] {
                assert!(passes(&spec, ip, Kind::Syn(port)), "{mode} {ip:?} {port}");
                assert!(!passes(&spec, ip, Kind::SynAck(port)), "{mode} {ip:?}");
            }
        }
    }
}

#[test]
fn dynamic_sequence_doors_take_their_range() {
    let tcp = filter_spec(&door_config(
        "spa = true\ndynamic = { length = 5, port_min = 40000, port_max = 40999 }",
    ));
    let udp = filter_spec(&door_config(
        "spa = true\ndynamic = { length = 5, port_min = 40000, port_max = 40999, proto = \"udp\" }",
    ));
    for ip in BOTH {
        assert!(passes(&tcp, ip, Kind::Syn(40500)), "{ip:?}");
        assert!(passes(&udp, ip, Kind::Udp(40500)), "{ip:?}");
        assert!(passes(&udp, ip, Kind::Udp(40999)), "{ip:?}");
        assert!(!passes(&udp, ip, Kind::SynAck(40500)), "{ip:?}");
    }
}

#[test]
fn explicit_tcp_ports_and_ranges_are_exact() {
    let spec = FilterSpec {
        udp_ports: vec![62201, 5000, 5001, 5002],
        tcp_syn_any_port: false,
        tcp_ports: vec![7000, 7001, 7002, 9000],
        icmp_echo: false,
    };
    let f = build(&spec).expect("builds");
    assert_eq!(
        f.as_str(),
        "inbound and ((tcp and tcp.Syn and !tcp.Ack and ((tcp.DstPort >= 7000 and tcp.DstPort <= 7002) \
         or tcp.DstPort == 9000)) or (udp and ((udp.DstPort >= 5000 and udp.DstPort <= 5002) \
         or udp.DstPort == 62201)))"
    );
    for ip in BOTH {
        for (port, want) in [
            (6999, false),
            (7000, true),
            (7002, true),
            (7003, false),
            (9000, true),
        ] {
            assert_eq!(
                passes(&spec, ip, Kind::Syn(port)),
                want,
                "{ip:?} tcp {port}"
            );
        }
        for (port, want) in [(4999, false), (5001, true), (62201, true), (62200, false)] {
            assert_eq!(
                passes(&spec, ip, Kind::Udp(port)),
                want,
                "{ip:?} udp {port}"
            );
        }
    }
}

#[test]
fn an_empty_spec_passes_nothing() {
    let f = build(&FilterSpec::default()).expect("builds");
    assert_eq!(f.as_str(), "false");
    for ip in BOTH {
        assert!(!passes(&FilterSpec::default(), ip, Kind::Udp(62201)));
        assert!(!passes(&FilterSpec::default(), ip, Kind::Syn(22)));
    }
}

#[test]
fn too_many_scattered_ports_is_an_error_before_the_driver_sees_it() {
    let spec = FilterSpec {
        udp_ports: (0..300).map(|i| 1000 + 2 * i).collect(),
        ..FilterSpec::default()
    };
    let e = build(&spec).expect_err("too long");
    assert_eq!(e, WinDivertFilterError::TooLong { terms: 302 });
    assert!(
        e.to_string()
            .contains("use fewer, or contiguous, knock ports")
    );
    // Contiguous, the same number of ports is one range.
    let spec = FilterSpec {
        udp_ports: (1000..1300).collect(),
        ..FilterSpec::default()
    };
    assert_eq!(build(&spec).expect("one range").terms(), 4);
}
