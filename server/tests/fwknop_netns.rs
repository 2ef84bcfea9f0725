//! Debian's `fwknop` client (fwknop-client 2.6) against the real `posternd`
//! in a network namespace, configured by `posternd import-fwknopd` from an
//! access.conf written here (issue #17): the client's packet opens the
//! door; the same packet sent again is refused, also after a restart (the
//! replay marks are persisted); a packet made with another server's keys
//! is refused. Run as root: `cargo test -p postern-server --test
//! fwknop_netns`. Without root the test says it is skipped.
#![cfg(target_os = "linux")]

mod support;

use postern_server::netns::{EchoServer, NetnsPair, is_root, run_in};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;
use support::*;

const DOOR: u16 = 2222;
/// Made by `fwknop --key-gen` for these tests only.
const KEY: &str = "A6yLICVZxmi9UcBTqC5ZOXHKKsqDkD1RHwpNoEaSGMo=";
const HMAC: &str =
    "8Q5w6ef/nNlS/JVVyrXDfHdR6fiNYf24HMpOKWYdUtfgiqHMSUrFEf2gBKFWBo2hjBH15mLNekodNbqc/vcDxg==";
/// Another server's keys.
const OTHER_KEY: &str = "krn+9ym9/XlfDyqh9SXUpvXTodSVWS43zGp+vfjRl6Y=";
const OTHER_HMAC: &str =
    "iehZggcpEFPImgpvMQsiWcX4AOBdbtiLjPA/es6pK3CJC50GMkSRTHvNPuodkkD7NIhLnIxFC/k+xeCRWb8BAw==";

fn access_conf() -> String {
    format!(
        "# written by fwknop_netns.rs\n\
         SOURCE                  198.18.0.0/15\n\
         OPEN_PORTS              tcp/{DOOR}\n\
         KEY_BASE64              {KEY}\n\
         HMAC_KEY_BASE64         {HMAC}\n\
         FW_ACCESS_TIMEOUT       {TTL}\n\
         REQUIRE_SOURCE_ADDRESS  Y\n"
    )
}

/// Runs Debian's `fwknop` in the client namespace with `HOME` in `dir`
/// (no rc file read or written elsewhere), saving the packet to `save`.
fn fwknop(net: &NetnsPair, dir: &Path, key: &str, hmac: &str, save: &Path) {
    let server = net.server_v4.to_string();
    let client = net.client_v4.to_string();
    let home = format!("HOME={}", dir.display());
    let door = format!("tcp/{DOOR}");
    let save = save.display().to_string();
    net.exec(
        &net.client,
        &[
            "env",
            &home,
            "fwknop",
            "--no-rc-file",
            "-A",
            &door,
            "-a",
            &client,
            "-D",
            &server,
            "--key-base64-rijndael",
            key,
            "--key-base64-hmac",
            hmac,
            "--use-hmac",
            "-B",
            &save,
        ],
    )
    .expect("Debian's fwknop client (apt-get install fwknop-client)");
}

/// Sends `packet` again as one UDP datagram from the client namespace.
fn resend(net: &NetnsPair, packet: Vec<u8>) {
    let to = SocketAddr::new(net.server_v4, 62201);
    run_in(&net.client, move || {
        let s = UdpSocket::bind("0.0.0.0:0").expect("udp socket");
        s.send_to(&packet, to).expect("send");
    })
    .expect("client thread");
}

#[test]
fn debian_fwknop_client_opens_a_posternd_door_configured_from_access_conf() {
    let tag = "fwk";
    if !is_root() {
        eprintln!("skipping {tag}: needs root (network namespaces, firewall)");
        return;
    }
    let net = NetnsPair::create(&format!("pf{}{tag}", std::process::id()), 77).expect("netns");
    let dir = TempDir::new(tag);
    let cfg = dir.0.join("posternd.toml");
    let server: IpAddr = net.server_v4;
    std::fs::write(
        &cfg,
        format!(
            "[server]\nserver_id = \"{SID}\"\ninterfaces = [\"{}\"]\nbackend = \"nftables\"\n\
             state_dir = \"{}\"\ntable = \"pf_{tag}\"\n",
            net.server_if,
            dir.0.join("state").display()
        ),
    )
    .expect("config");
    let access = dir.0.join("access.conf");
    std::fs::write(&access, access_conf()).expect("access.conf");
    let out = std::process::Command::new(posternd_bin())
        .args(["--config", &cfg.display().to_string(), "import-fwknopd"])
        .arg(&access)
        .arg("--append")
        .output()
        .expect("posternd import-fwknopd");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _echo = EchoServer::start(&net.server, DOOR).expect("echo");
    let log = dir.0.join("posternd.log");
    let mut daemon = Posternd::start(&net, &cfg, &log);
    assert!(is_closed(&net, None, server, DOOR), "open before the knock");

    // The real client's packet opens the door, for the ttl.
    let pkt = dir.0.join("spa.pkt");
    fwknop(&net, &dir.0, KEY, HMAC, &pkt);
    assert!(
        is_open(&net, None, server, DOOR),
        "fwknop did not open the door\n{}",
        daemon.log_text()
    );
    assert!(
        daemon.wait_log("method=fwknop reason=\"opened 2222/tcp for 198.18.77.2"),
        "{}",
        daemon.log_text()
    );
    std::thread::sleep(Duration::from_secs(u64::from(TTL) + 1));
    assert!(
        is_closed(&net, None, server, DOOR),
        "still open after the ttl"
    );

    // The same packet again: refused.
    let packet = std::fs::read(&pkt).expect("saved packet");
    let packet: Vec<u8> = packet.trim_ascii().to_vec();
    resend(&net, packet.clone());
    assert!(daemon.wait_log("replayed"), "{}", daemon.log_text());
    assert!(
        is_closed(&net, None, server, DOOR),
        "a replay opened the door"
    );

    // And after a restart (the replay marks are persisted).
    daemon.signal("-TERM");
    let before = daemon.log_text().matches("replayed").count();
    daemon = Posternd::start(&net, &cfg, &log);
    resend(&net, packet);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while daemon.log_text().matches("replayed").count() == before
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        daemon.log_text().matches("replayed").count() > before,
        "{}",
        daemon.log_text()
    );
    assert!(
        is_closed(&net, None, server, DOOR),
        "a replay opened the door after a restart"
    );

    // A packet made with another server's keys: refused.
    fwknop(
        &net,
        &dir.0,
        OTHER_KEY,
        OTHER_HMAC,
        &dir.0.join("other.pkt"),
    );
    assert!(
        daemon.wait_log("no fwknop user's HMAC key matches"),
        "{}",
        daemon.log_text()
    );
    assert!(
        is_closed(&net, None, server, DOOR),
        "another server's packet opened the door"
    );
}
