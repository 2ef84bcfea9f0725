//! The real `postern` knocks Debian's fwknopd (fwknop-server 2.6) across a
//! veth pair between two network namespaces (issue #17): the hosts come
//! from a `.fwknoprc` through `postern import-fwknoprc`; fwknopd runs in
//! the server namespace with its own config in a temp dir (UDP server mode,
//! iptables backend, `FW_ACCESS_TIMEOUT` 3 s).
//!
//! closed → `postern knock` → open → closed after the timeout; a host with
//! a wrong HMAC key stays closed; the same packet sent again stays closed.
//! To have a packet to send again, a second host points at an address of
//! the client namespace, where the test receives what `postern` sends and
//! hands it to fwknopd itself, twice.
//!
//! Root only; without root or without `ip` / `fwknopd` / `iptables` the
//! test prints why and returns. Addresses only from 198.18.0.0/15. fwknopd
//! is stopped by its PID; namespaces are deleted on drop.
#![cfg(target_os = "linux")]

mod support;

use postern_server::netns::{EchoServer, NetnsPair, run_in};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");
const DOOR: u16 = 2222;
const TIMEOUT_SECS: u64 = 3;
/// Made by `fwknop --key-gen` for these tests only.
const KEY: &str = "A6yLICVZxmi9UcBTqC5ZOXHKKsqDkD1RHwpNoEaSGMo=";
const HMAC: &str =
    "8Q5w6ef/nNlS/JVVyrXDfHdR6fiNYf24HMpOKWYdUtfgiqHMSUrFEf2gBKFWBo2hjBH15mLNekodNbqc/vcDxg==";
/// Another HMAC key (fwknop --key-gen).
const WRONG_HMAC: &str =
    "iehZggcpEFPImgpvMQsiWcX4AOBdbtiLjPA/es6pK3CJC50GMkSRTHvNPuodkkD7NIhLnIxFC/k+xeCRWb8BAw==";

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// fwknopd in the server namespace, stopped (SIGTERM, so it removes its
/// chain) by its PID when dropped.
struct Fwknopd {
    child: Child,
    log: PathBuf,
}

impl Fwknopd {
    fn start(net: &NetnsPair, dir: &Path) -> Fwknopd {
        let conf = dir.join("fwknopd.conf");
        let access = dir.join("access.conf");
        std::fs::write(
            &conf,
            format!("PCAP_INTF {}\nENABLE_UDP_SERVER Y\n", net.server_if),
        )
        .expect("fwknopd.conf");
        std::fs::write(
            &access,
            format!(
                "SOURCE ANY\nOPEN_PORTS tcp/{DOOR}\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n\
                 FW_ACCESS_TIMEOUT {TIMEOUT_SECS}\n"
            ),
        )
        .expect("access.conf");
        for f in [&conf, &access] {
            let mut p = std::fs::metadata(f).expect("meta").permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o600);
            std::fs::set_permissions(f, p).expect("chmod");
        }
        let log = dir.join("fwknopd.log");
        let out = std::fs::File::create(&log).expect("log");
        let child = net
            .command(&net.server, Path::new("fwknopd"))
            .args(["-f", "-v", "-c"])
            .arg(&conf)
            .arg("-a")
            .arg(&access)
            .arg("-d")
            .arg(dir.join("digest.cache"))
            .arg("-p")
            .arg(dir.join("fwknopd.pid"))
            .arg("-r")
            .arg(dir)
            .args(["-i", &net.server_if])
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("Debian's fwknopd (apt-get install fwknop-server)");
        let d = Fwknopd { child, log };
        assert!(
            d.wait_log("Kicking off UDP server", 1),
            "fwknopd did not start:\n{}",
            d.text()
        );
        d
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to 5 s for `what` to appear at least `n` times.
    fn wait_log(&self, what: &str, n: usize) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if self.text().matches(what).count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Fwknopd {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn open(net: &NetnsPair) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        if net
            .connect(net.server_v4, DOOR, Duration::from_millis(300))
            .expect("probe")
            .is_some()
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn closed(net: &NetnsPair) -> bool {
    net.connect(net.server_v4, DOOR, Duration::from_millis(700))
        .expect("probe")
        .is_none()
}

/// Waits for the door to close (fwknopd checks its rules' expiry about
/// once a second).
fn closes_within(net: &NetnsPair, limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if closed(net) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

fn postern(net: &NetnsPair, config: &Path, args: &[&str]) -> Output {
    net.command(&net.client, Path::new(POSTERN))
        .args(args)
        .env("POSTERN_CONFIG_DIR", config)
        .env("POSTERN_SECRETS", "file")
        .stdin(Stdio::null())
        .output()
        .expect("run postern")
}

fn fwknoprc(net: &NetnsPair) -> String {
    let (server, me, capture) = (net.server_v4, net.client_v4, net.client_v4_alt);
    format!(
        "[default]\nACCESS tcp/{DOOR}\nKEY_BASE64 {KEY}\nUSE_HMAC Y\nSPOOF_USER alice\n\n\
         [lab]\nSPA_SERVER {server}\nHMAC_KEY_BASE64 {HMAC}\n\n\
         [wrong]\nSPA_SERVER {server}\nHMAC_KEY_BASE64 {WRONG_HMAC}\n\n\
         [capture]\nSPA_SERVER {capture}\nALLOW_IP {me}\nHMAC_KEY_BASE64 {HMAC}\n"
    )
}

#[test]
fn postern_knocks_debians_fwknopd() {
    if let Some(why) = support::skip_reason(&["ip", "fwknopd", "iptables"]) {
        eprintln!("skipping namespace test: {why}");
        return;
    }
    let net = NetnsPair::create(&format!("pfd{}", std::process::id()), 93).expect("netns");
    let dir = Dir(std::env::temp_dir().join(format!("postern-fwknopd-e2e-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).expect("dir");
    let config = dir.0.join("config");
    let _echo = EchoServer::start(&net.server, DOOR).expect("echo");
    // The door is shut unless fwknopd's chain (jumped to first) lets in.
    let door = DOOR.to_string();
    support::sh(&[
        "ip",
        "netns",
        "exec",
        &net.server,
        "iptables",
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        &door,
        "-j",
        "REJECT",
    ]);
    let fwknopd = Fwknopd::start(&net, &dir.0);
    assert!(closed(&net), "open before the knock");

    let rc = dir.0.join("fwknoprc");
    std::fs::write(&rc, fwknoprc(&net)).expect("rc");
    let out = postern(
        &net,
        &config,
        &["import-fwknoprc", &rc.display().to_string()],
    );
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{out:?}");
    assert!(said.contains("saved \"lab\""), "{said}");

    // closed → knock → open → closed after FW_ACCESS_TIMEOUT.
    let out = postern(&net, &config, &["knock", "lab"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        open(&net),
        "postern did not open fwknopd's door\n{}",
        fwknopd.text()
    );
    assert!(
        fwknopd.text().contains(&format!(
            "Added access rule to FWKNOP_INPUT for {}",
            net.client_v4
        )),
        "{}",
        fwknopd.text()
    );
    assert!(
        closes_within(&net, Duration::from_secs(TIMEOUT_SECS + 5)),
        "still open after FW_ACCESS_TIMEOUT"
    );

    // A wrong HMAC key: refused by fwknopd, the door stays shut.
    let out = postern(&net, &config, &["knock", "wrong"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        fwknopd.wait_log("udp_server: Got UDP datagram", 2),
        "{}",
        fwknopd.text()
    );
    assert!(closed(&net), "a wrong HMAC key opened the door");
    assert_eq!(
        fwknopd.text().matches("Added access rule").count(),
        1,
        "{}",
        fwknopd.text()
    );

    // One packet from postern, sent to fwknopd twice: it opens once.
    let packet = capture(&net, &config);
    resend(&net, packet.clone());
    assert!(
        open(&net),
        "the captured packet did not open\n{}",
        fwknopd.text()
    );
    assert!(closes_within(&net, Duration::from_secs(TIMEOUT_SECS + 5)));
    resend(&net, packet);
    assert!(fwknopd.wait_log("Replay detected", 1), "{}", fwknopd.text());
    assert!(closed(&net), "a replayed packet opened the door");
}

/// What `postern knock capture` sends, received on the client namespace's
/// second address.
fn capture(net: &NetnsPair, config: &Path) -> Vec<u8> {
    let at = SocketAddr::new(net.client_v4_alt, 62201);
    let sock = run_in(&net.client, move || UdpSocket::bind(at))
        .expect("thread")
        .expect("bind the capture socket");
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let out = postern(net, config, &["knock", "capture"]);
    assert!(out.status.success(), "{out:?}");
    let mut buf = [0u8; 2048];
    let (n, _) = sock.recv_from(&mut buf).expect("postern's packet");
    buf[..n].to_vec()
}

fn resend(net: &NetnsPair, packet: Vec<u8>) {
    let to = SocketAddr::new(net.server_v4, 62201);
    let from: IpAddr = net.client_v4;
    run_in(&net.client, move || {
        let s = UdpSocket::bind(SocketAddr::new(from, 0)).expect("udp socket");
        s.send_to(&packet, to).expect("send");
    })
    .expect("client thread");
}
