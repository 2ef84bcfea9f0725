//! `allow = auto` end to end, on real kernels: client → router (nftables
//! masquerade) → server, with posternd and coturn's STUN server in the
//! server namespace (issue 13).
//!
//! Root only; without root or without `ip` / `nft` / `turnserver` /
//! `posternd` (built beside `postern` by `cargo test --workspace`) each
//! test prints why and returns. Addresses only from 198.18.0.0/15. The
//! client's inside network 198.18.10.0/24 is not a private range, so the
//! profile lists it in `nat_networks` ("this network is behind a NAT"), as
//! an organisation whose inside network is not RFC 1918 would; the no-NAT
//! test does not.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");
const KEY_B64: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const SID: &str = "00112233445566778899aabbccddeeff";
const CLIENT: &str = "198.18.10.2";
const ROUTER_IN: &str = "198.18.10.1";
const ROUTER_OUT: &str = "198.18.20.1";
const SERVER: &str = "198.18.20.2";
const DOOR: u16 = 2222;

fn posternd() -> PathBuf {
    Path::new(POSTERN).with_file_name("posternd")
}

fn skip_reason() -> Option<String> {
    support::skip_reason(&["ip", "nft", "turnserver"])
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three namespaces: C (client) — R (router, masquerading when `nat`) — S
/// (server: posternd, the door's listener, coturn).
struct Lab {
    c: String,
    r: String,
    s: String,
    tmp: PathBuf,
    children: Vec<Child>,
}

impl Lab {
    fn new(tag: &str, nat: bool) -> Lab {
        let pid = std::process::id();
        let lab = Lab {
            c: format!("p13{tag}-{pid}-c"),
            r: format!("p13{tag}-{pid}-r"),
            s: format!("p13{tag}-{pid}-s"),
            tmp: std::env::temp_dir().join(format!("p13{tag}-{pid}")),
            children: Vec::new(),
        };
        let _ = std::fs::remove_dir_all(&lab.tmp);
        std::fs::create_dir_all(lab.tmp.join("state")).expect("tmp");
        for ns in [&lab.c, &lab.r, &lab.s] {
            sh(&["ip", "netns", "add", ns]);
            lab.ex(ns, &["ip", "link", "set", "lo", "up"]);
        }
        lab.ex(
            &lab.c,
            &[
                "ip", "link", "add", "cl0", "type", "veth", "peer", "name", "rc0",
            ],
        );
        lab.ex(&lab.c, &["ip", "link", "set", "rc0", "netns", &lab.r]);
        lab.ex(
            &lab.s,
            &[
                "ip", "link", "add", "sv0", "type", "veth", "peer", "name", "rs0",
            ],
        );
        lab.ex(&lab.s, &["ip", "link", "set", "rs0", "netns", &lab.r]);
        for (ns, dev, addr) in [
            (&lab.c, "cl0", format!("{CLIENT}/24")),
            (&lab.r, "rc0", format!("{ROUTER_IN}/24")),
            (&lab.r, "rs0", format!("{ROUTER_OUT}/24")),
            (&lab.s, "sv0", format!("{SERVER}/24")),
            (&lab.s, "sv0", "198.18.20.3/24".to_owned()),
        ] {
            lab.ex(ns, &["ip", "addr", "add", &addr, "dev", dev]);
            lab.ex(ns, &["ip", "link", "set", dev, "up"]);
        }
        lab.ex(&lab.c, &["ip", "route", "add", "default", "via", ROUTER_IN]);
        lab.ex(
            &lab.s,
            &["ip", "route", "add", "default", "via", ROUTER_OUT],
        );
        lab.ex(&lab.r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        if nat {
            lab.ex(&lab.r, &["nft", "add table ip nat; add chain ip nat post { type nat hook postrouting priority 100; }; add rule ip nat post oifname rs0 masquerade"]);
        }
        // Counts STUN requests reaching the server side.
        lab.ex(&lab.s, &["nft", "add table inet count; add chain inet count in { type filter hook input priority -10; }; add rule inet count in udp dport 3478 counter"]);
        lab
    }

    fn ex(&self, ns: &str, args: &[&str]) -> String {
        let mut v = vec!["ip", "netns", "exec", ns];
        v.extend_from_slice(args);
        sh(&v)
    }

    fn spawn(&mut self, ns: &str, args: &[&str], log: &str) {
        let file = std::fs::File::create(self.tmp.join(log)).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("spawn");
        self.children.push(child);
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.tmp.join(name)).unwrap_or_default()
    }

    fn wait_log(&self, name: &str, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.log(name).contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// posternd (one SPA door, a require_address user), a listener behind
    /// the door, and coturn in STUN-only mode on 198.18.20.2:3478.
    fn start_server(&mut self, source_must_match: bool) {
        let cfg = self.tmp.join("posternd.toml");
        std::fs::write(
            &cfg,
            format!(
                "[server]\nserver_id = \"{SID}\"\ninterfaces = [\"sv0\"]\nstate_dir = \"{}\"\ntable = \"p13\"\n\
                 [limits]\nsource_must_match = {source_must_match}\n\
                 [[door]]\nname = \"rdp\"\nproto = \"tcp\"\nport = {DOOR}\nduration = 30\nspa = true\n\
                 [[user]]\nname = \"alice\"\nkey = \"{KEY_B64}\"\ndoors = [\"rdp\"]\nrequire_address = true\n",
                self.tmp.join("state").display()
            ),
        )
        .expect("config");
        let s = self.s.clone();
        let bin = posternd().display().to_string();
        self.spawn(
            &s,
            &[&bin, "--config", &cfg.display().to_string(), "run"],
            "posternd.log",
        );
        assert!(
            self.wait_log("posternd.log", "posternd started"),
            "{}",
            self.log("posternd.log")
        );
        self.spawn(
            &s,
            &["python3", "-c", &format!("import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('{SERVER}',{DOOR}))\ns.listen(8)\nprint('listening',flush=True)\nwhile True:\n  c,a=s.accept()\n  c.close()\n")],
            "door.log",
        );
        assert!(
            self.wait_log("door.log", "listening"),
            "{}",
            self.log("door.log")
        );
        self.spawn(
            &s,
            &[
                "turnserver",
                "-n",
                "--stun-only",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "-L",
                SERVER,
                "-p",
                "3478",
                "--log-file",
                "stdout",
                "--simple-log",
            ],
            "stun.log",
        );
        // coturn has no "ready" line common to all versions: wait for its socket.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self
            .ex(&s, &["ss", "-uln"])
            .contains(&format!("{SERVER}:3478"))
        {
            assert!(
                Instant::now() < deadline,
                "coturn did not start: {}",
                self.log("stun.log")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stun_requests(&self) -> u64 {
        let out = self.ex(&self.s, &["nft", "list", "table", "inet", "count"]);
        out.split("packets ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    fn profile(&self, allow: &str) -> PathBuf {
        let p = self.tmp.join("office.postern");
        std::fs::write(
            &p,
            format!(
                "version = 1\nname = \"Office\"\nhost = \"{SERVER}\"\nserver_id = \"{SID}\"\n\
                 [allow]\n{allow}\n\
                 [[door]]\nproto = \"tcp\"\nport = {DOOR}\nduration = 30\n\
                 [method]\nkind = \"spa\"\nuser = \"alice\"\nkey = \"{KEY_B64}\"\nport = 62201\n"
            ),
        )
        .expect("profile");
        p
    }

    fn knock(&self, profile: &Path, extra: &[&str]) -> Output {
        let p = profile.display().to_string();
        let mut args = vec!["knock", p.as_str(), "--verify", "--deadline-ms", "2000"];
        args.extend_from_slice(extra);
        Command::new("ip")
            .args(["netns", "exec", &self.c, POSTERN])
            .args(&args)
            .env("POSTERN_CONFIG_DIR", self.tmp.join("config"))
            .env("POSTERN_SECRETS", "file")
            .output()
            .expect("run postern")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.c, &self.r, &self.s] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
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

#[test]
fn disagreeing_or_silent_stun_servers_stop_the_knock_with_a_plain_message() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping namespace test: {why}");
        return;
    }
    let mut lab = Lab::new("q", true);
    lab.start_server(false);
    // 198.18.20.3:3478 has no STUN server: the knock fails within the
    // deadline and names it.
    let p = lab.profile(&format!(
        "mode = \"auto\"\nstun = [\"{SERVER}:3478\", \"198.18.20.3:3478\"]\nnat_networks = [\"198.18.10.0/24\"]"
    ));
    let start = Instant::now();
    let out = lab.knock(&p, &[]);
    let took = start.elapsed();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("198.18.20.3:3478 did not answer"), "{said}");
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
