//! `allow = auto` end to end, on real kernels: client → router (nftables
//! masquerade) → server, with posternd and coturn's STUN server in the
//! server namespace (issue 13). The lab itself is in `nat_lab`.
//!
//! Root only; without root or without `ip` / `nft` / `turnserver` each
//! test prints why and returns. `posternd` must be built beside `postern`
//! (`cargo test --workspace` does): without it the tests fail rather than
//! pass unseen. Addresses only from 198.18.0.0/15. The
//! client's inside network 198.18.10.0/24 is not a private range, so the
//! profile lists it in `nat_networks` ("this network is behind a NAT"), as
//! an organisation whose inside network is not RFC 1918 would; the no-NAT
//! test does not.

mod nat_lab;
mod support;

use nat_lab::{CLIENT, DOOR, Lab, POSTERN, ROUTER_IN, ROUTER_OUT, SERVER, SERVER_2, text};
use std::process::Command;
use std::time::{Duration, Instant};

fn skip_reason() -> Option<String> {
    support::skip_reason(&["ip", "nft", "turnserver"])
}

#[test]
fn behind_nat_the_door_opens_for_the_routers_address_found_by_stun() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping namespace test: {why}");
        return;
    }
    let mut lab = Lab::new("n", true);
    lab.start_server(false);
    let p = lab.profile(&format!(
        "mode = \"auto\"\nstun = [\"{SERVER}:3478\"]\nnat_networks = [\"198.18.10.0/24\"]"
    ));
    let out = lab.knock(&p, &[]);
    let said = text(&out);
    assert!(
        out.status.success(),
        "{said}\nposternd:\n{}",
        lab.log("posternd.log")
    );
    assert!(said.contains(&format!("bound to {ROUTER_OUT}")), "{said}");
    assert!(said.contains("reported by STUN"), "{said}");
    assert!(
        lab.stun_requests() > 0,
        "no STUN request reached the server side"
    );
    assert!(
        lab.wait_log("posternd.log", &format!("for {ROUTER_OUT}")),
        "{}",
        lab.log("posternd.log")
    );
}

#[test]
fn without_nat_the_own_address_is_bound_and_no_stun_server_is_asked() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping namespace test: {why}");
        return;
    }
    let mut lab = Lab::new("d", false);
    lab.start_server(false);
    let p = lab.profile(&format!("mode = \"auto\"\nstun = [\"{SERVER}:3478\"]"));
    let out = lab.knock(&p, &[]);
    let said = text(&out);
    assert!(
        out.status.success(),
        "{said}\nposternd:\n{}",
        lab.log("posternd.log")
    );
    assert!(
        said.contains(&format!("bound to {CLIENT} (this computer's own address)")),
        "{said}"
    );
    assert_eq!(lab.stun_requests(), 0, "a STUN server was asked");
    assert!(
        lab.wait_log("posternd.log", &format!("for {CLIENT}")),
        "{}",
        lab.log("posternd.log")
    );
}

/// Two real STUN servers that see different addresses, as one that lies
/// would: coturn on the router's inside address sees the client's own
/// address (that leg is not masqueraded), coturn on the server side sees
/// the router's. The knock is refused in plain words and no SPA packet
/// leaves.
#[test]
fn disagreeing_stun_servers_stop_the_knock_with_a_plain_message_and_nothing_sent() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping namespace test: {why}");
        return;
    }
    let mut lab = Lab::new("a", true);
    lab.start_server(false);
    let r = lab.r.clone();
    lab.start_stun(&r, ROUTER_IN);
    let p = lab.profile(&format!(
        "mode = \"auto\"\nstun = [\"{SERVER}:3478\", \"{ROUTER_IN}:3478\"]\nnat_networks = [\"198.18.10.0/24\"]"
    ));
    let out = lab.knock(&p, &[]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "the STUN servers disagree about your public address ({SERVER}:3478 says {ROUTER_OUT}, {ROUTER_IN}:3478 says {CLIENT}); not knocking"
        )),
        "{said}"
    );
    assert!(
        lab.stun_requests() > 0,
        "the server-side STUN server was not asked"
    );
    assert_eq!(lab.spa_packets(), 0, "an SPA packet was sent\n{said}");
    assert!(!said.contains("bound to"), "{said}");
    let log = lab.log("posternd.log");
    assert!(
        !log.contains("accepted") && !log.contains("opened"),
        "{log}"
    );
}

#[test]
fn a_silent_stun_server_fails_the_knock_within_the_deadline_and_is_named() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping namespace test: {why}");
        return;
    }
    let mut lab = Lab::new("q", true);
    lab.start_server(false);
    // 198.18.20.3:3478 has no STUN server: the knock fails within the
    // deadline and names it.
    let p = lab.profile(&format!(
        "mode = \"auto\"\nstun = [\"{SERVER}:3478\", \"{SERVER_2}:3478\"]\nnat_networks = [\"198.18.10.0/24\"]"
    ));
    let start = Instant::now();
    let out = lab.knock(&p, &[]);
    let took = start.elapsed();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(&format!("{SERVER_2}:3478 did not answer")),
        "{said}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(
        !lab.log("posternd.log").contains("opened"),
        "{}",
        lab.log("posternd.log")
    );
}

/// Captures the SPA datagram on the router before it is forwarded (and
/// drops it there), then sends its payload to the server from the router's
/// own address: a thief on the path.
const STEAL: &str = r#"import socket,struct
s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.ntohs(0x0800))
s.bind(('rc0',0))
print('ready',flush=True)
while True:
  f,_=s.recvfrom(65535)
  ip=f[14:]
  ihl=(ip[0]&15)*4
  if ip[9]!=17: continue
  udp=ip[ihl:]
  if struct.unpack('!H',udp[2:4])[0]!=62201: continue
  t=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
  t.bind(('198.18.20.1',0))
  t.sendto(udp[8:],('198.18.20.2',62201))
  print('resent',flush=True)
  break
"#;

fn connects(lab: &Lab, ns: &str) -> bool {
    let code = format!(
        "import socket\ns=socket.socket()\ns.settimeout(1)\ntry:\n  s.connect(('{SERVER}',{DOOR}))\n  print('open')\nexcept Exception:\n  print('closed')\n"
    );
    lab.ex(ns, &["python3", "-c", &code]).contains("open")
}

fn stolen_packet(source_must_match: bool) {
    if let Some(why) = skip_reason() {
        eprintln!("skipping namespace test: {why}");
        return;
    }
    let tag = if source_must_match { "m" } else { "t" };
    let mut lab = Lab::new(tag, false);
    lab.start_server(source_must_match);
    let r = lab.r.clone();
    // The original never arrives: the thief's copy is the only one.
    lab.ex(&r, &["nft", "add table inet steal; add chain inet steal relay { type filter hook forward priority 0; }; add rule inet steal relay udp dport 62201 drop"]);
    lab.spawn(&r, &["python3", "-c", STEAL], "steal.log");
    assert!(
        lab.wait_log("steal.log", "ready"),
        "{}",
        lab.log("steal.log")
    );
    let p = lab.profile("mode = \"auto\"");
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.c, POSTERN, "knock"])
        .arg(&p)
        .env("POSTERN_CONFIG_DIR", lab.tmp.join("config"))
        .env("POSTERN_SECRETS", "file")
        .output()
        .expect("postern");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        lab.wait_log("steal.log", "resent"),
        "{}",
        lab.log("steal.log")
    );
    assert!(
        lab.wait_log("posternd.log", ROUTER_OUT),
        "{}",
        lab.log("posternd.log")
    );
    std::thread::sleep(Duration::from_millis(300));
    let log = lab.log("posternd.log");
    assert!(!connects(&lab, &r), "the thief got in\n{log}");
    if source_must_match {
        assert!(log.contains("source_must_match"), "{log}");
        assert!(log.contains(CLIENT), "both addresses are logged: {log}");
        assert!(!log.contains("opened"), "{log}");
        assert!(
            !connects(&lab, &lab.c.clone()),
            "opened for the client too\n{log}"
        );
    } else {
        assert!(
            log.contains(&format!("for {CLIENT}"))
                && log.contains(&format!("came from {ROUTER_OUT}")),
            "{log}"
        );
        assert!(
            connects(&lab, &lab.c.clone()),
            "the named address is let in\n{log}"
        );
    }
}

#[test]
fn a_stolen_packet_resent_from_a_third_address_opens_nothing_for_it() {
    stolen_packet(false);
}

#[test]
fn with_source_must_match_a_stolen_packet_opens_nothing_at_all() {
    stolen_packet(true);
}
