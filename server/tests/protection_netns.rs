//! Protection that must not silently vanish or leak (issue #14, items 4
//! and 10), against the real `posternd` and real kernels in two network
//! namespaces. Run as root: `cargo test -p postern-server --test
//! protection_netns`. Without root every test says it is skipped.
#![cfg(target_os = "linux")]

mod support;

use postern_server::netns::{EchoServer, NetnsPair, is_root, run_in};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use support::*;

/// Seconds between the daemon's protection checks in these tests.
const VERIFY_SECS: u64 = 1;

struct Stage {
    net: NetnsPair,
    dir: TempDir,
    cfg: PathBuf,
    table: String,
    daemon: Posternd,
    _echo: Option<EchoServer>,
}

impl Stage {
    /// The standard config with a short check interval; an echo server on
    /// the SPA door when `listen`.
    fn new(tag: &str, subnet: u8, backend: &str, listen: bool) -> Option<Stage> {
        if !is_root() {
            eprintln!("skipping {tag}: needs root (network namespaces, firewall)");
            return None;
        }
        let net = NetnsPair::create(&format!("pp{}{tag}", std::process::id()), subnet)
            .expect("namespaces");
        let dir = TempDir::new(&format!("prot-{tag}"));
        let cfg = dir.0.join("posternd.toml");
        let table = format!("pp_{tag}");
        let text = config_text(&net, backend, &table, &dir.0.join("state")).replacen(
            "[server]\n",
            &format!("[server]\nverify_secs = {VERIFY_SECS}\n"),
            1,
        );
        std::fs::write(&cfg, text).expect("config");
        let echo = listen.then(|| EchoServer::start(&net.server, SPA_PORT).expect("echo"));
        let daemon = Posternd::start(&net, &cfg, &dir.0.join("posternd.log"));
        Some(Stage {
            net,
            dir,
            cfg,
            table,
            daemon,
            _echo: echo,
        })
    }

    fn server_sh(&self, args: &[&str]) -> Result<String, String> {
        self.net
            .exec(&self.net.server, args)
            .map_err(|e| format!("{e:#}"))
    }

    fn status(&self) -> String {
        let cfg = self.cfg.display().to_string();
        self.server_sh(&[posternd_bin(), "--config", &cfg, "status"])
            .expect("posternd status")
    }

    /// Polls `check` every 100 ms for at most three check intervals plus
    /// slack for a loaded machine.
    fn within_verify_interval(&self, mut check: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(3 * VERIFY_SECS + 10);
        while Instant::now() < deadline {
            if check() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

/// `systemctl restart nftables` on Debian runs `nft flush ruleset`: every
/// protected port is open while posternd runs on. The daemon notices within
/// its check interval, puts its table back, says so loudly in its log and
/// in `posternd status`, and the door is closed again.
#[test]
fn a_flushed_nftables_ruleset_is_put_back() {
    let Some(st) = Stage::new("fn", 140, "nftables", true) else {
        return;
    };
    let (server, client) = (st.net.server_v4, st.net.client_v4);
    assert!(
        is_closed(&st.net, None, server, SPA_PORT),
        "closed at start"
    );
    st.server_sh(&["nft", "flush", "ruleset"]).expect("flush");
    let table = st.table.clone();
    assert!(
        st.within_verify_interval(|| st
            .server_sh(&["nft", "list", "table", "inet", &table])
            .is_ok()),
        "table not put back:\n{}",
        st.daemon.log_text()
    );
    assert!(is_closed(&st.net, None, server, SPA_PORT), "closed again");
    let log = st.daemon.log_text();
    assert!(log.contains("PROTECTION LOST"), "{log}");
    assert!(log.contains("protection reinstalled"), "{log}");
    let status = st.status();
    assert!(
        status.contains("protection reinstalled 1 time(s)"),
        "{status}"
    );
    assert!(status.contains("protection last verified"), "{status}");
    // And it still works: a knock opens the door.
    let p = profile(
        spa_method(KEY),
        SPA_PORT,
        postern_proto::profile::AllowMode::Source,
        sid(),
    );
    send(&st.net, server, client, &plan(&p, now(), client));
    assert!(
        is_open(&st.net, None, server, SPA_PORT),
        "{}",
        st.daemon.log_text()
    );
}

/// A ufw / firewalld reload can drop the jump from INPUT into Postern's
/// chain: the chain and sets are still there but nothing uses them.
#[test]
fn a_deleted_iptables_jump_is_put_back() {
    let Some(st) = Stage::new("ij", 141, "iptables", true) else {
        return;
    };
    let server = st.net.server_v4;
    assert!(
        is_closed(&st.net, None, server, SPA_PORT),
        "closed at start"
    );
    let chain = st.table.to_ascii_uppercase();
    st.server_sh(&["iptables", "-w", "-D", "INPUT", "-j", &chain])
        .expect("delete jump");
    assert!(
        st.within_verify_interval(|| st
            .server_sh(&["iptables", "-w", "-C", "INPUT", "-j", &chain])
            .is_ok()),
        "jump not put back:\n{}",
        st.daemon.log_text()
    );
    assert!(is_closed(&st.net, None, server, SPA_PORT), "closed again");
    let log = st.daemon.log_text();
    assert!(log.contains("PROTECTION LOST"), "{log}");
    assert!(log.contains("jump INPUT"), "{log}");
    let status = st.status();
    assert!(
        status.contains("protection reinstalled 1 time(s)"),
        "{status}"
    );
}

/// Sends one bare FIN from the client namespace to `port` and reports
/// whether a RST came back within `wait` (a raw socket sees every TCP
/// packet the client namespace receives).
fn fin_gets_rst(net: &NetnsPair, port: u16, wait: Duration) -> bool {
    let (source, dest) = (net.client_v4, net.server_v4);
    run_in(&net.client, move || {
        let (IpAddr::V4(s), IpAddr::V4(d)) = (source, dest) else {
            panic!("v4 only");
        };
        let rx = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP)).expect("raw rx");
        rx.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
            .tcp(42000, port, 1_000, 1024)
            .fin()
            .write(&mut out, &[])
            .expect("build");
        let tx = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::TCP)).expect("raw tx");
        tx.send_to(&out[20..], &SockAddr::from(SocketAddr::new(dest, 0)))
            .expect("send fin");
        let deadline = Instant::now() + wait;
        let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
        while Instant::now() < deadline {
            let Ok(n) = rx.recv(&mut buf) else { continue };
            // SAFETY: recv initialised the first n bytes.
            let pkt: Vec<u8> = buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            let ihl = usize::from(pkt.first().map_or(0, |b| b & 0x0f)) * 4;
            let Some(tcp) = pkt.get(ihl..ihl + 14) else {
                continue;
            };
            let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
            let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
            if sport == port && dport == 42000 && tcp[13] & 0x04 != 0 {
                return true;
            }
        }
        false
    })
    .expect("probe thread")
}

/// Item 10: only NEW packets used to be dropped, so a FIN probe (conntrack
/// INVALID) reached the stack: a closed port answered RST, a listening
/// service stayed silent — the probe told them apart. Now everything not
/// part of an established connection is dropped at protected ports; an
/// unprotected closed port still answers RST, which shows the probe works.
#[test]
fn fin_probes_cannot_tell_listening_from_closed_protected_ports() {
    for (tag, subnet, backend) in [("fi", 142, "nftables"), ("fii", 143, "iptables")] {
        // No listener on the SPA door: a closed port behind the firewall.
        let Some(st) = Stage::new(tag, subnet, backend, false) else {
            return;
        };
        let unprotected_closed = 2999;
        assert!(
            fin_gets_rst(&st.net, unprotected_closed, Duration::from_secs(3)),
            "{backend}: the probe gets no RST even from an unprotected closed port"
        );
        assert!(
            !fin_gets_rst(&st.net, SPA_PORT, Duration::from_secs(1)),
            "{backend}: a FIN to a protected closed port was answered"
        );
        assert!(
            st.daemon.log_text().contains("posternd started"),
            "{}",
            st.daemon.log_text()
        );
    }
}
