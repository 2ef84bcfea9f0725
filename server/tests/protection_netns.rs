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
        Stage::with_server_lines(tag, subnet, backend, listen, "")
    }

    /// Like [`Stage::new`], with `extra` lines added to `[server]`.
    fn with_server_lines(
        tag: &str,
        subnet: u8,
        backend: &str,
        listen: bool,
        extra: &str,
    ) -> Option<Stage> {
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
            &format!("[server]\nverify_secs = {VERIFY_SECS}\n{extra}"),
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

/// An iptables stage whose port is closed, tampered with by `tamper(stage,
/// chain)`; returns once the daemon has noticed (its log says `reason`),
/// `restored` holds and the port is closed again.
fn iptables_tampered(
    tag: &str,
    subnet: u8,
    tamper: impl FnOnce(&Stage, &str),
    mut restored: impl FnMut(&Stage, &str) -> bool,
    reason: &str,
) -> Option<Stage> {
    let st = Stage::new(tag, subnet, "iptables", true)?;
    let server = st.net.server_v4;
    assert!(
        is_closed(&st.net, None, server, SPA_PORT),
        "closed at start"
    );
    let chain = st.table.to_ascii_uppercase();
    tamper(&st, &chain);
    assert!(
        st.within_verify_interval(|| restored(&st, &chain)),
        "not restored:\n{}",
        st.daemon.log_text()
    );
    assert!(is_closed(&st.net, None, server, SPA_PORT), "closed again");
    let log = st.daemon.log_text();
    assert!(log.contains("PROTECTION LOST"), "{log}");
    assert!(log.contains(reason), "{log}");
    Some(st)
}

/// A ufw / firewalld reload can drop the jump from INPUT into Postern's
/// chain: the chain and sets are still there but nothing uses them.
#[test]
fn a_deleted_iptables_jump_is_put_back() {
    let Some(st) = iptables_tampered(
        "ij",
        141,
        |st, chain| {
            st.server_sh(&["iptables", "-w", "-D", "INPUT", "-j", chain])
                .expect("delete jump");
        },
        |st, chain| {
            st.server_sh(&["iptables", "-w", "-C", "INPUT", "-j", chain])
                .is_ok()
        },
        "jump INPUT",
    ) else {
        return;
    };
    let status = st.status();
    assert!(
        status.contains("protection reinstalled 1 time(s)"),
        "{status}"
    );
}

/// A rule inserted ahead of the jump (here an ACCEPT for the protected
/// port, as a hurried admin or another firewall tool would add) leaves the
/// chain and the jump intact but lets every SYN past them: iptables stops
/// at the first ACCEPT. The daemon must notice and move its jump back on
/// top, leaving the other rule where it is.
#[test]
fn a_rule_put_ahead_of_the_iptables_jump_is_noticed_and_outranked() {
    let port = SPA_PORT.to_string();
    let accept = ["-p", "tcp", "--dport", port.as_str(), "-j", "ACCEPT"];
    let Some(st) = iptables_tampered(
        "ia",
        151,
        |st, _| {
            let mut insert = vec!["iptables", "-w", "-I", "INPUT", "1"];
            insert.extend(accept);
            st.server_sh(&insert).expect("insert accept");
        },
        |st, chain| {
            st.server_sh(&["iptables", "-w", "-S", "INPUT"])
                .is_ok_and(|r| {
                    r.lines().find(|l| l.starts_with("-A INPUT"))
                        == Some(&format!("-A INPUT -j {chain}"))
                })
        },
        "a rule was put ahead of the jump",
    ) else {
        return;
    };
    let mut check = vec!["iptables", "-w", "-C", "INPUT"];
    check.extend(accept);
    assert!(st.server_sh(&check).is_ok(), "the admin's rule was removed");
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

/// Item 6: the fail2ban filter shipped in installers/linux/fail2ban (and
/// quoted in docs/admin.md) run by Debian's `fail2ban-regex` over the log of
/// a real run: junk at the SPA port (forgeable: any source can be spoofed)
/// never matches; a failure after a valid key tag (a replayed SPA packet)
/// does.
#[test]
fn fail2ban_filter_bans_only_post_tag_failures() {
    let Some(st) = Stage::new("fb", 144, "nftables", true) else {
        return;
    };
    let (server, client) = (st.net.server_v4, st.net.client_v4);
    // Junk from the client namespace: forgeable.
    run_in(&st.net.client, move || {
        let s = std::net::UdpSocket::bind((client, 0)).expect("udp");
        for i in 0..3u8 {
            s.send_to(&[i; 200], (server, 62201)).expect("junk");
        }
    })
    .expect("junk thread");
    // A valid SPA packet, then the same packet again: a replay, post-tag.
    let p = profile(
        spa_method(KEY),
        SPA_PORT,
        postern_proto::profile::AllowMode::Source,
        sid(),
    );
    let knock = plan(&p, now(), client);
    send(&st.net, server, client, &knock);
    assert!(st.daemon.wait_log("accepted"), "{}", st.daemon.log_text());
    send(&st.net, server, client, &knock);
    assert!(
        st.daemon.wait_log("evidence=post-tag"),
        "{}",
        st.daemon.log_text()
    );
    assert!(
        st.daemon.wait_log("evidence=forgeable"),
        "{}",
        st.daemon.log_text()
    );
    let log_text = st.daemon.log_text();
    let post_tag = log_text.matches("evidence=post-tag").count();

    // The filter as shipped, next to the common.conf it includes.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let filter = repo.join("installers/linux/fail2ban/filter.d/posternd.conf");
    let filter_text = std::fs::read_to_string(&filter).expect("filter");
    let failregex = filter_text
        .lines()
        .find(|l| l.starts_with("failregex"))
        .expect("failregex line");
    let admin = std::fs::read_to_string(repo.join("docs/admin.md")).expect("admin.md");
    assert!(
        admin.contains(failregex),
        "docs/admin.md must quote the shipped filter"
    );
    let f2b = st.dir.0.join("fail2ban");
    std::fs::create_dir_all(&f2b).expect("dir");
    std::fs::copy(&filter, f2b.join("posternd.conf")).expect("copy filter");
    std::fs::copy(
        "/etc/fail2ban/filter.d/common.conf",
        f2b.join("common.conf"),
    )
    .expect("common.conf: install Debian's fail2ban (scripts/test.sh does)");
    let out = std::process::Command::new("fail2ban-regex")
        .arg(&st.daemon.log)
        .arg(f2b.join("posternd.conf"))
        .output()
        .expect("fail2ban-regex: install Debian's fail2ban (scripts/test.sh does)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let lines = stdout
        .lines()
        .find(|l| l.starts_with("Lines:"))
        .unwrap_or_else(|| panic!("no summary:\n{stdout}"));
    // "Lines: 12 lines, 0 ignored, 1 matched, 11 missed"
    let matched: usize = lines
        .split(", ")
        .find_map(|part| part.strip_suffix(" matched"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no matched count in {lines:?}"));
    assert!(post_tag >= 1);
    assert_eq!(
        matched, post_tag,
        "exactly the post-tag lines match, no junk line does:\n{stdout}\n{log_text}"
    );
}

/// Item 4, boot: `posternd baseline` (what posternd-baseline.service runs
/// before the network) closes every protected port with no daemon running,
/// and they stay closed — a daemon that cannot start leaves nothing open.
#[test]
fn baseline_closes_the_doors_without_a_daemon() {
    if !is_root() {
        eprintln!("skipping baseline: needs root (network namespaces, firewall)");
        return;
    }
    for (tag, subnet, backend) in [("bn", 145, "nftables"), ("bi", 146, "iptables")] {
        let net = NetnsPair::create(&format!("pp{}{tag}", std::process::id()), subnet)
            .expect("namespaces");
        let dir = TempDir::new(&format!("prot-{tag}"));
        let cfg = dir.0.join("posternd.toml");
        let table = format!("pp_{tag}");
        std::fs::write(
            &cfg,
            config_text(&net, backend, &table, &dir.0.join("state")),
        )
        .expect("config");
        let _echo = EchoServer::start(&net.server, SPA_PORT).expect("echo");
        let server = net.server_v4;
        assert!(
            is_open(&net, None, server, SPA_PORT),
            "{backend}: open before the baseline (the service answers)"
        );
        let cfg_arg = cfg.display().to_string();
        let out = net
            .exec(
                &net.server,
                &[posternd_bin(), "--config", &cfg_arg, "baseline"],
            )
            .expect("posternd baseline");
        assert!(out.contains("closed to everyone"), "{out}");
        assert!(
            is_closed(&net, None, server, SPA_PORT),
            "{backend}: closed after the baseline, with no daemon"
        );
    }
}

/// Item 12: an SPA knock inside an ICMP echo request used to get the
/// kernel's echo reply (the sealed packet sent back, confirming a knock
/// was received). With `[spa] icmp = true` Postern's rules drop echo
/// requests of knock size; the capture still sees them, so the ICMP knock
/// opens the door, and ordinary pings still get their replies.
#[test]
fn icmp_knocks_get_no_echo_reply_but_open_the_door() {
    for (tag, subnet, backend) in [("ic", 147, "nftables"), ("ici", 148, "iptables")] {
        let Some(st) = Stage::new(tag, subnet, backend, true) else {
            return;
        };
        let (server, client) = (st.net.server_v4, st.net.client_v4);
        let ping = |size: usize| echo_answered(&st.net, size, Duration::from_secs(2));
        assert!(ping(56), "{backend}: an ordinary ping is answered");
        assert!(ping(1200), "{backend}: a large (MTU) ping is answered");
        assert!(!ping(150), "{backend}: a knock-sized echo was answered");
        let method = postern_proto::profile::MethodSpec::Spa {
            user: "alice".into(),
            key: Some(postern_proto::UserKey::from_bytes(KEY)),
            port: 62201,
            transport: postern_proto::profile::SpaTransport::Icmp,
            action: None,
        };
        let p = profile(
            method,
            SPA_PORT,
            postern_proto::profile::AllowMode::Source,
            sid(),
        );
        send(&st.net, server, client, &plan(&p, now(), client));
        assert!(
            is_open(&st.net, None, server, SPA_PORT),
            "{backend}: the ICMP knock did not open:\n{}",
            st.daemon.log_text()
        );
    }
}

/// Sends one ICMP echo request with `size` bytes of data from the client
/// namespace (raw socket, checksum by hand) and reports whether its echo
/// reply came back within `wait`.
fn echo_answered(net: &NetnsPair, size: usize, wait: Duration) -> bool {
    let dest = net.server_v4;
    run_in(&net.client, move || {
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).expect("raw icmp");
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let id = u16::try_from(std::process::id() & 0xffff).unwrap_or(1);
        let mut pkt = vec![8u8, 0, 0, 0];
        pkt.extend_from_slice(&id.to_be_bytes());
        pkt.extend_from_slice(&1u16.to_be_bytes());
        pkt.extend((0..size).map(|i| u8::try_from(i % 251).unwrap_or(0)));
        let mut sum: u32 = pkt
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let check = !(u16::try_from(sum).unwrap_or(0xffff));
        pkt[2..4].copy_from_slice(&check.to_be_bytes());
        s.send_to(&pkt, &SockAddr::from(SocketAddr::new(dest, 0)))
            .expect("send echo");
        let deadline = Instant::now() + wait;
        let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
        while Instant::now() < deadline {
            let Ok(n) = s.recv(&mut buf) else { continue };
            // SAFETY: recv initialised the first n bytes.
            let got: Vec<u8> = buf[..n]
                .iter()
                .map(|b| unsafe { b.assume_init() })
                .collect();
            let ihl = usize::from(got.first().map_or(0, |b| b & 0x0f)) * 4;
            let Some(icmp) = got.get(ihl..ihl + 8) else {
                continue;
            };
            if icmp[0] == 0 && u16::from_be_bytes([icmp[4], icmp[5]]) == id {
                return true;
            }
        }
        false
    })
    .expect("echo thread")
}

/// Item 5 (firewall part): the kernel sets are bounded by `grant_set_size`.
/// When full, a further grant is refused by the kernel, logged, and that
/// door stays closed for the new source (fail-closed).
#[test]
fn a_full_grant_set_fails_closed_and_says_so() {
    for (tag, subnet, backend) in [("sz", 149, "nftables"), ("szi", 150, "iptables")] {
        let Some(st) = Stage::with_server_lines(tag, subnet, backend, true, "grant_set_size = 1\n")
        else {
            return;
        };
        let (server, client, alt) = (st.net.server_v4, st.net.client_v4, st.net.client_v4_alt);
        let p = profile(
            spa_method(KEY),
            SPA_PORT,
            postern_proto::profile::AllowMode::Source,
            sid(),
        );
        send(&st.net, server, client, &plan(&p, now(), client));
        assert!(
            is_open(&st.net, Some(client), server, SPA_PORT),
            "{backend}: {}",
            st.daemon.log_text()
        );
        // Another packet (a second later), not a replay of the first.
        let later = postern_proto::UnixTime(now().0 + 1);
        send(&st.net, server, alt, &plan(&p, later, alt));
        assert!(
            st.daemon.wait_log("could not open"),
            "{backend}: a grant beyond the set size was not refused:\n{}",
            st.daemon.log_text()
        );
        assert!(
            is_closed(&st.net, Some(alt), server, SPA_PORT),
            "{backend}: full set let the second source in"
        );
    }
}
