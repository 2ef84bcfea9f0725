//! End-to-end on real kernels: the real `postern` binary knocks Debian's
//! knockd across a veth pair between two network namespaces, and sends ICMP
//! knocks through unprivileged ICMP sockets (DESIGN.md §6).
//!
//! Root only (namespaces); without root, or without `ip` / `knockd` / `nft`,
//! each test prints why and returns. Addresses come only from
//! 198.18.0.0/15 and fd00::/8. Every process started here is killed by its
//! PID; namespaces are deleted on drop.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const POSTERN: &str = env!("CARGO_BIN_EXE_postern");

fn skip_reason() -> Option<String> {
    support::skip_reason(&["ip", "knockd", "nft"])
}

macro_rules! require_root {
    () => {
        if let Some(why) = skip_reason() {
            eprintln!("skipping namespace test: {why}");
            return;
        }
    };
}

use support::sh;

/// Two namespaces joined by a veth pair: A = 198.18.0.1 / fd00:18::1,
/// B = 198.18.0.2 / fd00:18::2.
struct Lab {
    a: String,
    b: String,
    veth_a: String,
    tmp: PathBuf,
    children: Vec<Child>,
}

static N: AtomicU32 = AtomicU32::new(0);

impl Lab {
    fn new() -> Lab {
        let pid = std::process::id();
        let n = N.fetch_add(1, Ordering::Relaxed);
        let a = format!("pcl-{pid}-{n}-a");
        let b = format!("pcl-{pid}-{n}-b");
        // Interface names are at most 15 bytes.
        let veth_a = format!("pc{}{n}a", pid % 1_000_000);
        let veth_b = format!("pc{}{n}b", pid % 1_000_000);
        let tmp = std::env::temp_dir().join(format!("pcl-{pid}-{n}"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).expect("tmp");
        let lab = Lab {
            a,
            b,
            veth_a: veth_a.clone(),
            tmp,
            children: Vec::new(),
        };
        sh(&["ip", "netns", "add", &lab.a]);
        sh(&["ip", "netns", "add", &lab.b]);
        sh(&[
            "ip", "link", "add", &veth_a, "netns", &lab.a, "type", "veth", "peer", "name", &veth_b,
            "netns", &lab.b,
        ]);
        for (ns, dev, v4, v6) in [
            (&lab.a, &veth_a, "198.18.0.1/24", "fd00:18::1/64"),
            (&lab.b, &veth_b, "198.18.0.2/24", "fd00:18::2/64"),
        ] {
            lab.exec(ns, &["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"]);
            lab.exec(
                ns,
                &["sysctl", "-qw", &format!("net.ipv4.conf.{dev}.rp_filter=0")],
            );
            lab.exec(ns, &["ip", "addr", "add", v4, "dev", dev]);
            lab.exec(ns, &["ip", "-6", "addr", "add", v6, "dev", dev, "nodad"]);
            lab.exec(ns, &["ip", "link", "set", "lo", "up"]);
            lab.exec(ns, &["ip", "link", "set", dev, "up"]);
        }
        lab
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut v = vec!["ip", "netns", "exec", ns];
        v.extend_from_slice(args);
        sh(&v)
    }

    /// Runs the real `postern` inside namespace B.
    fn postern(&self, args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
        let start = Instant::now();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.b, POSTERN])
            .args(args)
            .env("POSTERN_CONFIG_DIR", self.tmp.join("config"))
            .env("POSTERN_SECRETS", "file");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("run postern");
        (out, start.elapsed())
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.tmp.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// Starts knockd in A with one door whose start_command touches a marker.
    fn start_knockd(&mut self, sequence: &str) -> PathBuf {
        let marker = self.tmp.join("fired");
        let log = self.tmp.join("knockd.log");
        let conf = self.write(
            "knockd.conf",
            &format!(
                "[options]\n    LogFile = {}\n    PidFile = {}\n\n[door]\n    sequence = {sequence}\n    \
                 seq_timeout = 10\n    tcpflags = syn\n    start_command = /bin/touch {}\n",
                log.display(),
                self.tmp.join("knockd.pid").display(),
                marker.display()
            ),
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &self.a, "knockd", "-i", &self.veth_a, "-c"])
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start knockd");
        self.children.push(child);
        // Ready once it logs that it listens (pcap is open).
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            let l = std::fs::read_to_string(&log).unwrap_or_default();
            if l.contains("listening") {
                return marker;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "knockd did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // `ip netns exec` execs knockd, so the child's PID is knockd's.
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.a]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).output();
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

fn wait_for(path: &Path, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if path.exists() {
            return Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn profile(host: &str, sequence: &str, extra: &str) -> String {
    format!(
        "version = 1\nname = \"Lab\"\nhost = \"{host}\"\nserver_id = \"00112233445566778899aabbccddeeff\"\n\
         {extra}\n[[door]]\nproto = \"tcp\"\nport = 22\n\n[method]\nkind = \"static-sequence\"\n\
         sequence = \"{sequence}\"\n\n[decoys]\ncount = 0\njitter_ms = 0\n"
    )
}

#[test]
fn postern_opens_a_knockd_door() {
    require_root!();
    let mut lab = Lab::new();
    let marker = lab.start_knockd("7000,8000:udp,9000");
    let file = lab.write(
        "lab.postern",
        &profile("198.18.0.1", "7000,8000:udp,9000", ""),
    );
    let file = file.to_str().expect("utf-8 path");

    let (out, took) = lab.postern(&["knock", file], &[]);
    assert!(
        out.status.success(),
        "postern failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fired = wait_for(&marker, Duration::from_secs(3)).expect("knockd did not fire");
    eprintln!(
        "knockd fired {} ms after postern exited (postern ran {} ms)",
        fired.as_millis(),
        took.as_millis()
    );

    // With decoys mixed in, knockd (which only watches its ports) still opens.
    std::fs::remove_file(&marker).expect("rm marker");
    let (out, _) = lab.postern(&["knock", file, "--decoys", "6", "-4"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(&marker, Duration::from_secs(3)).expect("knockd did not fire with decoys");

    // A wrong sequence does not open it.
    std::fs::remove_file(&marker).expect("rm marker");
    let wrong = lab.write(
        "wrong.postern",
        &profile("198.18.0.1", "7000,8001:udp,9000", ""),
    );
    let (out, _) = lab.postern(&["knock", wrong.to_str().expect("utf-8")], &[]);
    assert!(out.status.success());
    assert_eq!(wait_for(&marker, Duration::from_millis(500)), None);
}

#[test]
fn saved_knockd_door_via_import_knockd_door() {
    require_root!();
    let mut lab = Lab::new();
    let marker = lab.start_knockd("7100:udp,7200,7300:udp");
    let (out, _) = lab.postern(
        &[
            "import-knockd-door",
            "--host",
            "198.18.0.1",
            "--sequence",
            "7100:udp,7200,7300:udp",
            "--door",
            "22/tcp",
            "--name",
            "Lab Door",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (out, _) = lab.postern(&["list"], &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Lab Door"));
    let (out, _) = lab.postern(&["knock", "lab door"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(&marker, Duration::from_secs(3)).expect("knockd did not fire");
}

/// Counts echo requests arriving in A with nftables (independent of postern).
fn count_echo(lab: &Lab) -> u64 {
    let out = lab.exec(&lab.a, &["nft", "list", "chain", "inet", "pcl", "in"]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("packets ")
        .skip(1)
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn icmp_knock_is_unprivileged_or_says_what_to_do() {
    require_root!();
    let lab = Lab::new();
    lab.exec(&lab.a, &["nft", "add", "table", "inet", "pcl"]);
    lab.exec(
        &lab.a,
        &[
            "nft",
            "add",
            "chain",
            "inet",
            "pcl",
            "in",
            "{ type filter hook input priority 0; }",
        ],
    );
    lab.exec(
        &lab.a,
        &[
            "nft",
            "add",
            "rule",
            "inet",
            "pcl",
            "in",
            "icmp",
            "type",
            "echo-request",
            "counter",
        ],
    );
    lab.exec(
        &lab.a,
        &[
            "nft",
            "add",
            "rule",
            "inet",
            "pcl",
            "in",
            "icmpv6",
            "type",
            "echo-request",
            "counter",
        ],
    );
    let v4 = lab.write("icmp4.postern", &profile("198.18.0.1", "100:icmp,7000", ""));
    let v6 = lab.write("icmp6.postern", &profile("fd00:18::1", "100:icmp,7000", ""));
    let unpriv = [("POSTERN_ICMP", "unprivileged")];

    lab.exec(
        &lab.b,
        &["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"],
    );
    for f in [&v4, &v6] {
        let (out, _) = lab.postern(&["knock", f.to_str().expect("utf-8")], &unpriv);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(count_echo(&lab), 2, "one echo request per family");

    lab.exec(&lab.b, &["sysctl", "-qw", "net.ipv4.ping_group_range=1 0"]);
    let (out, _) = lab.postern(&["knock", v4.to_str().expect("utf-8")], &unpriv);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("postern: ") && err.contains("ping_group_range"),
        "unclear message: {err}"
    );
    // As root the automatic mode falls back to a raw socket.
    let (out, _) = lab.postern(&["knock", v4.to_str().expect("utf-8")], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(count_echo(&lab), 3);
}

/// Not a test by itself: when `PCL_LISTEN` is set, accepts TCP connections
/// on that address for a few seconds. The verify test starts it inside
/// namespace A as a door that answers.
#[test]
fn helper_listen() {
    let Ok(addr) = std::env::var("PCL_LISTEN") else {
        return;
    };
    let l = std::net::TcpListener::bind(&addr).expect("bind");
    l.set_nonblocking(true).expect("nonblocking");
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        match l.accept() {
            Ok(_) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

#[test]
fn verify_reports_open_and_closed_in_plain_words() {
    require_root!();
    let mut lab = Lab::new();
    // A real door: port 22 in A drops everyone not in @allowed; knockd adds
    // the knocking address to the set.
    let rules = lab.write(
        "door.nft",
        "table inet pcl {\n  set allowed { type ipv4_addr; flags timeout; }\n  chain in {\n    \
         type filter hook input priority 0;\n    tcp dport 22 ip saddr @allowed accept\n    \
         tcp dport 22 drop\n  }\n}\n",
    );
    lab.exec(&lab.a, &["nft", "-f", rules.to_str().expect("utf-8")]);
    let log = lab.tmp.join("knockd.log");
    let conf = lab.write(
        "knockd.conf",
        &format!(
            "[options]\n    LogFile = {}\n    PidFile = {}\n\n[door]\n    sequence = 7000,8000:udp,9000\n    \
             seq_timeout = 10\n    tcpflags = syn\n    \
             start_command = /usr/sbin/nft add element inet pcl allowed {{ %IP% timeout 30s }}\n",
            log.display(),
            lab.tmp.join("knockd.pid").display()
        ),
    );
    let knockd = Command::new("ip")
        .args(["netns", "exec", &lab.a, "knockd", "-i", &lab.veth_a, "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("knockd");
    lab.children.push(knockd);
    let listener = Command::new("ip")
        .args(["netns", "exec", &lab.a])
        .arg(std::env::current_exe().expect("test exe"))
        .args(["--exact", "helper_listen", "--nocapture"])
        .env("PCL_LISTEN", "198.18.0.1:22")
        .stdout(Stdio::null())
        .spawn()
        .expect("listener");
    lab.children.push(listener);
    let t = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("listening")
    {
        assert!(t.elapsed() < Duration::from_secs(5), "knockd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200)); // listener bind

    let wrong = lab.write(
        "wrong.postern",
        &profile("198.18.0.1", "7000,8001:udp,9000", ""),
    );
    let (out, _) = lab.postern(
        &[
            "knock",
            wrong.to_str().expect("utf-8"),
            "--verify",
            "--deadline-ms",
            "400",
        ],
        &[],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("still closed") && err.contains("knocking once more"),
        "{err}"
    );

    let good = lab.write(
        "good.postern",
        &profile("198.18.0.1", "7000,8000:udp,9000", ""),
    );
    let mut opened = Vec::new();
    for _ in 0..10 {
        lab.exec(&lab.a, &["nft", "flush", "set", "inet", "pcl", "allowed"]);
        let (out, _) = lab.postern(
            &[
                "knock",
                good.to_str().expect("utf-8"),
                "--verify",
                "--no-reknock",
            ],
            &[],
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ms: u64 = text
            .split("open after ")
            .nth(1)
            .and_then(|r| r.split(" ms").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no time in {text:?}"));
        opened.push(ms);
    }
    opened.sort_unstable();
    eprintln!(
        "knock → door open (verified by connect), n = 10: median {} ms, min {} ms, max {} ms",
        opened[5], opened[0], opened[9]
    );
}
