//! The three-namespace lab of the `allow` tests (issue 13): client →
//! router (nftables masquerade when asked) → server, with posternd and a
//! listener behind its door in the server namespace, and STUN servers
//! (coturn) wherever a test puts them.
//!
//! Shared by `stun_nat_netns.rs` and `allow_url_netns.rs`; each uses a
//! part of it, hence the `dead_code` allowance (as in the other test
//! support modules). Addresses only from 198.18.0.0/15.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const POSTERN: &str = env!("CARGO_BIN_EXE_postern");
pub const KEY_B64: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
pub const SID: &str = "00112233445566778899aabbccddeeff";
pub const CLIENT: &str = "198.18.10.2";
pub const ROUTER_IN: &str = "198.18.10.1";
pub const ROUTER_OUT: &str = "198.18.20.1";
pub const SERVER: &str = "198.18.20.2";
/// A second address of the server namespace: a silent STUN server in the
/// STUN tests, the HTTPS address service in the URL tests.
pub const SERVER_2: &str = "198.18.20.3";
pub const DOOR: u16 = 2222;
pub const SPA_PORT: u16 = 62201;

pub fn posternd() -> PathBuf {
    Path::new(POSTERN).with_file_name("posternd")
}

/// Runs a command to completion (panicking with its stderr if it fails)
/// and returns its output as text.
pub fn sh(args: &[&str]) -> String {
    String::from_utf8_lossy(&crate::support::sh(args).stdout).into_owned()
}

/// Three namespaces: C (client) — R (router, masquerading when `nat`) — S
/// (server: posternd, the door's listener, services).
pub struct Lab {
    pub c: String,
    pub r: String,
    pub s: String,
    pub tmp: PathBuf,
    children: Vec<Child>,
}

impl Lab {
    pub fn new(tag: &str, nat: bool) -> Lab {
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
            (&lab.s, "sv0", format!("{SERVER_2}/24")),
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
        // Counts what reaches the server side: STUN requests, SPA packets.
        lab.ex(&lab.s, &["nft", &format!("add table inet count; add counter inet count stun; add counter inet count spa; add chain inet count in {{ type filter hook input priority -10; }}; add rule inet count in udp dport 3478 counter name stun; add rule inet count in udp dport {SPA_PORT} counter name spa")]);
        lab
    }

    pub fn ex(&self, ns: &str, args: &[&str]) -> String {
        let mut v = vec!["ip", "netns", "exec", ns];
        v.extend_from_slice(args);
        sh(&v)
    }

    /// Starts `args` in namespace `ns` with stdout and stderr to `log`; it
    /// is killed when the lab is dropped.
    pub fn spawn(&mut self, ns: &str, args: &[&str], log: &str) {
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

    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.tmp.join(name)).unwrap_or_default()
    }

    pub fn wait_log(&self, name: &str, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.log(name).contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// posternd and the door's listener, then coturn on 198.18.20.2:3478.
    pub fn start_server(&mut self, source_must_match: bool) {
        self.start_posternd(source_must_match);
        let s = self.s.clone();
        self.start_stun(&s, SERVER);
    }

    /// posternd (one SPA door, a require_address user) and a listener
    /// behind the door, in the server namespace.
    pub fn start_posternd(&mut self, source_must_match: bool) {
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
    }

    /// coturn in STUN-only mode on `addr`:3478 in namespace `ns`, logging
    /// to `stun-ADDR.log`.
    pub fn start_stun(&mut self, ns: &str, addr: &str) {
        let log = format!("stun-{addr}.log");
        self.spawn(
            ns,
            &[
                "turnserver",
                "-n",
                "--stun-only",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "-L",
                addr,
                "-p",
                "3478",
                "--log-file",
                "stdout",
                "--simple-log",
            ],
            &log,
        );
        self.wait_udp(ns, addr, 3478, &log);
    }

    /// Waits until something listens on UDP `addr:port` in `ns` (coturn has
    /// no "ready" line common to all versions).
    pub fn wait_udp(&self, ns: &str, addr: &str, port: u16, log: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self
            .ex(ns, &["ss", "-uln"])
            .contains(&format!("{addr}:{port}"))
        {
            assert!(
                Instant::now() < deadline,
                "nothing listens on {addr}:{port}: {}",
                self.log(log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn counter(&self, name: &str) -> u64 {
        let out = self.ex(&self.s, &["nft", "list", "counter", "inet", "count", name]);
        out.split("packets ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// STUN requests that reached the server namespace.
    pub fn stun_requests(&self) -> u64 {
        self.counter("stun")
    }

    /// Packets to the SPA port that reached the server namespace.
    pub fn spa_packets(&self) -> u64 {
        self.counter("spa")
    }

    /// A profile for the lab's door with `allow` as its `[allow]` table.
    pub fn profile(&self, allow: &str) -> PathBuf {
        let p = self.tmp.join("office.postern");
        std::fs::write(
            &p,
            format!(
                "version = 1\nname = \"Office\"\nhost = \"{SERVER}\"\nserver_id = \"{SID}\"\n\
                 [allow]\n{allow}\n\
                 [[door]]\nproto = \"tcp\"\nport = {DOOR}\nduration = 30\n\
                 [method]\nkind = \"spa\"\nuser = \"alice\"\nkey = \"{KEY_B64}\"\nport = {SPA_PORT}\n"
            ),
        )
        .expect("profile");
        p
    }

    /// `postern knock PROFILE --verify` from the client namespace.
    pub fn knock(&self, profile: &Path, extra: &[&str]) -> Output {
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

/// A command's status and output, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
