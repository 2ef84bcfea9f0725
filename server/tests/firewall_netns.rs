//! The Linux firewall adapters against real kernels, in throw-away network
//! namespaces (DESIGN.md §6, STYLE.md rule 10).
//!
//! Each test makes its own pair of namespaces, `pfw-<pid>-<tag>-a` (server,
//! where the backend runs and a TCP echo listener waits) and `…-b` (client),
//! joined by a veth with addresses from 198.18.0.0/15 and fd00::/8. Code runs
//! "inside" a namespace on a dedicated thread that called `setns`; processes
//! it spawns (`nft`, `iptables`, `ipset`) inherit the namespace, so the
//! production code needs no test hooks. Run as root:
//! `cargo test -p postern-server --test firewall_netns`.
#![cfg(target_os = "linux")]

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use postern_server::netns::{self, EchoServer, NetnsPair, echo_works};

use postern_server::config::Backend;
use postern_server::firewall::{FwGrant, ProtectedPort, Proto};
use postern_server::platform::linux::open_firewall;

const PORT: u16 = 2222;
const TCP: ProtectedPort = ProtectedPort {
    proto: Proto::Tcp,
    port: PORT,
};
const UDP: ProtectedPort = ProtectedPort {
    proto: Proto::Udp,
    port: 5353,
};
const TTL: Duration = Duration::from_secs(2);
/// Expiry is checked after ttl plus this margin.
const MARGIN: Duration = Duration::from_secs(3);
/// A dropped SYN looks like this long a silence.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);

fn sh(args: &[&str]) -> String {
    netns::sh(args).unwrap_or_else(|e| panic!("{e:#}"))
}

fn in_ns(ns: &str, args: &[&str]) -> String {
    let mut full = vec!["ip", "netns", "exec", ns];
    full.extend_from_slice(args);
    sh(&full)
}

/// Server namespace `…-s` (backend, echo listener) and client `…-c`.
fn stage(tag: &str) -> NetnsPair {
    NetnsPair::create(&format!("pfw{}{tag}", std::process::id()), 0).expect("namespaces")
}

fn server_addr(net: &NetnsPair, v6: bool) -> IpAddr {
    if v6 { net.server_v6 } else { net.server_v4 }
}

fn client_addr(net: &NetnsPair, v6: bool) -> IpAddr {
    if v6 { net.client_v6 } else { net.client_v4 }
}

/// Run `f` on a fresh thread that has joined namespace `ns`.
fn run_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    netns::run_in(ns, f).unwrap_or_else(|e| panic!("{e:#}"))
}

/// Connect from namespace `ns`; `None` if the SYN goes unanswered.
fn connect_from(ns: &str, to: IpAddr) -> Option<TcpStream> {
    run_in(ns, move || {
        TcpStream::connect_timeout(&SocketAddr::new(to, PORT), CONNECT_TIMEOUT).ok()
    })
}

/// The whole life cycle of one backend for one IP family.
fn lifecycle(backend: Backend, v6: bool, tag: &str) {
    if !netns::is_root() {
        eprintln!("skipping {tag}: needs root (network namespaces, firewall)");
        return;
    }
    let net = stage(tag);
    let table = format!("pt_{}", tag.replace('-', "_"));
    let (a, b) = (net.server.clone(), net.client.clone());
    let server = server_addr(&net, v6);
    let client = client_addr(&net, v6);
    let _listener = EchoServer::start(&a, PORT).expect("echo listener");

    // Something that is not ours, to check that uninstall leaves it alone.
    match backend {
        Backend::Iptables => {
            in_ns(
                &a,
                &[
                    "iptables", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "9", "-j", "ACCEPT",
                ],
            );
            in_ns(
                &a,
                &[
                    "ip6tables",
                    "-w",
                    "-A",
                    "INPUT",
                    "-p",
                    "tcp",
                    "--dport",
                    "9",
                    "-j",
                    "ACCEPT",
                ],
            );
            in_ns(&a, &["ipset", "create", "unrelated", "hash:ip"]);
        }
        _ => {
            in_ns(
                &a,
                &[
                    "nft",
                    "add table inet unrelated; add chain inet unrelated c",
                ],
            );
        }
    }

    assert!(
        connect_from(&b, server).is_some(),
        "reachable before install"
    );

    // The backend runs on a thread inside `a`, so that every process it
    // spawns (its coprocess included) lives there; clients connect from `b`.
    let (t, client_ns) = (table.clone(), b.clone());
    run_in(&a, move || {
        scenario(backend, v6, &t, &client_ns, server, client)
    });
    let tables = in_ns(&a, &["nft", "list", "tables"]);
    assert!(!tables.contains(&table), "{tables}");
    let ipt = in_ns(&a, &["iptables", "-S"]) + &in_ns(&a, &["ip6tables", "-S"]);
    assert!(!ipt.contains(&table.to_uppercase()), "{ipt}");
    let sets = in_ns(&a, &["ipset", "list", "-n"]);
    assert!(!sets.contains(&table), "{sets}");
    match backend {
        Backend::Iptables => {
            assert!(ipt.contains("--dport 9 -j ACCEPT"), "{ipt}");
            assert!(sets.contains("unrelated"), "{sets}");
        }
        _ => assert!(tables.contains("inet unrelated"), "{tables}"),
    }
    assert!(
        connect_from(&b, server).is_some(),
        "reachable after uninstall"
    );
}

fn scenario(backend: Backend, v6: bool, table: &str, b: &str, server: IpAddr, client: IpAddr) {
    let grant = |port, ttl| FwGrant {
        source: client,
        port,
        ttl,
    };
    let mut fw = open_firewall(backend, table, postern_server::firewall::DEFAULT_SET_SIZE)
        .expect("open backend");
    fw.install(&[TCP, UDP], &[]).expect("install");
    assert!(connect_from(b, server).is_none(), "closed after install");

    fw.grant(&grant(TCP, TTL)).expect("grant tcp");
    fw.grant(&grant(UDP, Duration::from_secs(60)))
        .expect("grant udp");
    let mut established = connect_from(b, server).expect("reachable with a grant");
    assert!(echo_works(&mut established));

    let mut live = fw.grants().expect("grants");
    live.sort_by_key(|g| g.port);
    assert_eq!(live.len(), 2, "{live:?}");
    assert!(live.iter().all(|g| g.source == client), "{live:?}");
    assert_eq!((live[0].port, live[1].port), (TCP, UDP), "{live:?}");
    assert!(live[0].remaining <= TTL, "{live:?}");
    assert!(live[1].remaining > Duration::from_secs(50), "{live:?}");

    let started = Instant::now();
    thread::sleep(TTL + MARGIN);
    assert!(started.elapsed() >= TTL + MARGIN);
    assert!(
        echo_works(&mut established),
        "established connection survives expiry"
    );
    assert!(
        connect_from(b, server).is_none(),
        "closed again after expiry"
    );
    let live = fw.grants().expect("grants");
    assert_eq!(live.len(), 1, "only the udp grant is left: {live:?}");

    // Re-granting refreshes the timeout.
    fw.grant(&grant(TCP, TTL)).expect("grant");
    fw.grant(&grant(TCP, Duration::from_secs(600)))
        .expect("refresh");
    let live = fw.grants().expect("grants");
    assert!(
        live.iter()
            .any(|g| g.port == TCP && g.remaining > Duration::from_secs(500)),
        "{live:?}"
    );

    // A reload's install keeps exactly the grants it is given, with the
    // time they have left, and drops the others (the udp grant, and one
    // from an address that is not ours).
    let stranger = if v6 {
        "fd00::99".parse().expect("literal")
    } else {
        "198.18.99.9".parse().expect("literal")
    };
    fw.grant(&FwGrant {
        source: stranger,
        port: TCP,
        ttl: Duration::from_secs(600),
    })
    .expect("grant");
    let mut kept = connect_from(b, server).expect("open before the reload");
    fw.install(&[TCP, UDP], &[grant(TCP, Duration::from_secs(300))])
        .expect("install with keep");
    let live = fw.grants().expect("grants");
    assert_eq!(live.len(), 1, "only the kept grant: {live:?}");
    assert_eq!((live[0].source, live[0].port), (client, TCP), "{live:?}");
    assert!(
        live[0].remaining > Duration::from_secs(250)
            && live[0].remaining <= Duration::from_secs(300),
        "the kept grant has the ttl it was given: {live:?}"
    );
    assert!(echo_works(&mut kept), "established connection survives");
    assert!(connect_from(b, server).is_some(), "kept grant still opens");

    // Revoking closes one grant at once and is idempotent.
    fw.grant(&grant(UDP, Duration::from_secs(60)))
        .expect("grant udp");
    fw.revoke(client, TCP).expect("revoke");
    assert!(connect_from(b, server).is_none(), "closed after revoke");
    let live = fw.grants().expect("grants");
    assert_eq!(live.len(), 1, "only the udp grant is left: {live:?}");
    assert_eq!(live[0].port, UDP, "{live:?}");
    fw.revoke(client, TCP)
        .expect("revoking an absent grant is fine");
    fw.revoke(stranger, UDP)
        .expect("revoking a grant never made is fine");
    fw.grant(&grant(TCP, Duration::from_secs(1)))
        .expect("grant");
    thread::sleep(Duration::from_secs(3));
    fw.revoke(client, TCP)
        .expect("revoking what the kernel expired is fine");

    // That grant is now stale: installing again must drop it and stay closed.
    fw.grant(&grant(TCP, Duration::from_secs(600)))
        .expect("grant");
    fw.install(&[TCP, UDP], &[]).expect("install twice");
    assert!(
        fw.grants().expect("grants").is_empty(),
        "reinstall removes stale grants"
    );
    assert!(connect_from(b, server).is_none(), "closed after reinstall");
    let rules = match backend {
        Backend::Iptables => sh(&[if v6 { "ip6tables" } else { "iptables" }, "-w", "-S"]),
        _ => sh(&["nft", "list", "table", "inet", table]),
    };
    // Two protected ports (iptables: per family) or two families (nft).
    assert_eq!(
        rules.matches("DROP").count() + rules.matches(" drop").count(),
        2,
        "{rules}"
    );

    fw.grant(&grant(TCP, Duration::from_secs(600)))
        .expect("grant");
    fw.revoke_all().expect("revoke_all");
    assert!(fw.grants().expect("grants").is_empty());
    assert!(
        connect_from(b, server).is_none(),
        "closed after revoke_all (fail-closed)"
    );

    fw.uninstall().expect("uninstall");
    fw.uninstall().expect("uninstall when absent");
}

#[test]
fn nftables_ipv4() {
    lifecycle(Backend::Nftables, false, "n4");
}

#[test]
fn nftables_ipv6() {
    lifecycle(Backend::Nftables, true, "n6");
}

#[test]
fn iptables_ipv4() {
    lifecycle(Backend::Iptables, false, "i4");
}

#[test]
fn iptables_ipv6() {
    lifecycle(Backend::Iptables, true, "i6");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Grant latency of the coprocess vs. one `nft`/`ipset` process per grant.
/// The numbers are quoted at the top of nftables.rs. Run with
/// `cargo test --release -p postern-server --test firewall_netns -- --ignored --nocapture grant_latency`.
#[test]
#[ignore = "benchmark; prints numbers"]
fn grant_latency() {
    if !netns::is_root() {
        eprintln!("skipping grant_latency: needs root");
        return;
    }
    const N: u16 = 200;
    let net = stage("lat");
    run_in(&net.server, || {
        for backend in [Backend::Nftables, Backend::Iptables] {
            let table = "pt_lat";
            let mut fw = open_firewall(backend, table, postern_server::firewall::DEFAULT_SET_SIZE)
                .expect("open");
            fw.install(&[TCP], &[]).expect("install");
            let source = |i: u16| IpAddr::from([198, 19, (i >> 8) as u8, i as u8]);
            let coprocess: Vec<Duration> = (0..N)
                .map(|i| {
                    let started = Instant::now();
                    fw.grant(&FwGrant {
                        source: source(i),
                        port: TCP,
                        ttl: TTL,
                    })
                    .expect("grant");
                    started.elapsed()
                })
                .collect();
            let spawned: Vec<Duration> = (0..N)
                .map(|i| {
                    let addr = source(i + N);
                    let started = Instant::now();
                    match backend {
                        Backend::Iptables => sh(&[
                            "ipset", "add", &format!("{table}-4"),
                            &format!("{addr},tcp:{PORT}"), "timeout", "2", "-exist",
                        ]),
                        _ => sh(&[
                            "nft",
                            &format!("add element inet {table} grants4 {{ {addr} . tcp . {PORT} timeout 2s }}"),
                        ]),
                    };
                    started.elapsed()
                })
                .collect();
            assert!(fw.grants().expect("grants").len() >= usize::from(N));
            fw.uninstall().expect("uninstall");
            println!(
                "{}: median grant latency over {N}: Firewall::grant (netlink for nftables, ipset coprocess for iptables) {:?}, process per grant {:?}",
                fw.name(),
                median(coprocess),
                median(spawned)
            );
        }
    });
}
