//! Shared pieces of the end-to-end tests: the real `posternd` binary in a
//! server namespace, and a small test-only sender that turns a
//! `postern_proto` KnockPlan into packets from the client namespace.
#![allow(dead_code)]

pub mod stage;

use postern_proto::plan::{KnockPlan, PlanInput, Wire};
use postern_proto::profile::{
    AllowMode, DecoySettings, DoorSpec, IpPreference, MethodSpec, Profile,
};
use postern_proto::{ServerId, UnixTime, UserKey};
use postern_server::netns::{NetnsPair, run_in};
use rand::SeedableRng;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const SID: &str = "5a5a0123456789abcdef0123456789ab";
pub const KEY: [u8; 32] = [0x42; 32];
pub const TTL: u32 = 3;

pub fn sid() -> ServerId {
    ServerId::from_hex(SID).expect("sid")
}

pub fn now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
}

/// The daemon under test, killed (SIGKILL) when dropped if still running.
pub struct Posternd {
    pub child: Option<Child>,
    pub log: PathBuf,
}

pub fn posternd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_posternd")
}

impl Posternd {
    pub fn start(net: &NetnsPair, cfg: &Path, log: &Path) -> Posternd {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let child = net
            .command(&net.server, Path::new(posternd_bin()))
            .args(["--config", &cfg.display().to_string(), "run"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn posternd");
        let d = Posternd {
            child: Some(child),
            log: log.to_owned(),
        };
        let started_before = d.log_text().matches("posternd started").count();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if d.log_text().matches("posternd started").count() > started_before {
                return d;
            }
            assert!(
                Instant::now() < deadline,
                "posternd did not start:\n{}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle` (decisions are logged right
    /// after the packet is handled).
    pub fn wait_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn signal(&mut self, sig: &str) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for Posternd {
    fn drop(&mut self) {
        self.signal("-KILL");
    }
}

/// A test directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("postern-e2e-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Door ports of the standard test config.
pub const SEQ_PORT: u16 = 2201;
pub const DYN_PORT: u16 = 2202;
pub const SPA_PORT: u16 = 2203;
pub const SYN_PORT: u16 = 2204;
pub const TOKEN_PORT: u16 = 204;
/// A door with a sequence Debian's `knock` client can send (no ICMP).
pub const KNOCKD_PORT: u16 = 2205;

pub fn config_text(net: &NetnsPair, backend: &str, table: &str, state: &Path) -> String {
    format!(
        r#"[server]
server_id = "{SID}"
interfaces = ["{iface}"]
backend = "{backend}"
state_dir = "{state}"
table = "{table}"

[limits]
scan_limit = 30

[[door]]
name = "seq"
proto = "tcp"
port = {SEQ_PORT}
duration = {TTL}
sequence = "7101,7202:udp,7303,64:icmp"

[[door]]
name = "knk"
proto = "tcp"
port = {KNOCKD_PORT}
duration = {TTL}
sequence = "7401,7502:udp,7603"

[[door]]
name = "dyn"
proto = "tcp"
port = {DYN_PORT}
duration = {TTL}
dynamic = {{ length = 5, port_min = 30000, port_max = 30999, proto = "udp" }}

[[door]]
name = "spa"
proto = "tcp"
port = {SPA_PORT}
duration = {TTL}
spa = true

[[door]]
name = "syn"
proto = "tcp"
port = {SYN_PORT}
duration = {TTL}
syn_token = "keyed"

[[door]]
name = "tok"
proto = "tcp"
port = {TOKEN_PORT}
syn_token = "static"

[[user]]
name = "alice"
key = "{key}"
doors = ["seq", "dyn", "spa", "syn", "tok"]
sources = ["198.18.0.0/15", "fd00::/8"]
max_duration = {TTL}
"#,
        iface = net.server_if,
        state = state.display(),
        key = UserKey::from_bytes(KEY).to_base64(),
    )
}

pub fn profile(method: MethodSpec, port: u16, allow: AllowMode, server: ServerId) -> Profile {
    Profile {
        version: 1,
        name: "t".into(),
        host: "198.18.0.1".into(),
        server_id: server,
        ip: IpPreference::Auto,
        allow,
        doors: vec![DoorSpec {
            proto: postern_proto::method::DoorProto::Tcp,
            port,
            duration: TTL,
        }],
        method,
        decoys: DecoySettings {
            count: 0,
            jitter_ms: 0,
        },
        launch: None,
    }
}

pub fn spa_method(key: [u8; 32]) -> MethodSpec {
    MethodSpec::Spa {
        user: "alice".into(),
        key: Some(UserKey::from_bytes(key)),
        port: 62201,
        transport: Default::default(),
        action: None,
    }
}

/// Plans a knock at time `at` from `source`.
pub fn plan(p: &Profile, at: UnixTime, source: IpAddr) -> KnockPlan {
    postern_proto::plan::plan(
        &PlanInput {
            profile: p,
            key: None,
            now: at,
            source: Some(source),
            resolved_allow: None,
            decoys: None,
        },
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(at.0 ^ u64::from(p.doors[0].port)),
    )
    .expect("plan")
}

/// Sends every packet of `plan` from the client namespace to `dest`, with
/// UDP sent from `bind` when given (a second local address).
pub fn send(net: &NetnsPair, dest: IpAddr, source: IpAddr, plan: &KnockPlan) {
    let packets: Vec<(Duration, Wire)> = plan
        .packets
        .iter()
        .map(|p| (p.wait, p.wire.clone()))
        .collect();
    run_in(&net.client, move || {
        for (wait, w) in packets {
            std::thread::sleep(wait);
            send_one(dest, source, &w);
        }
    })
    .expect("sender thread");
}

fn send_one(dest: IpAddr, source: IpAddr, w: &Wire) {
    match w {
        Wire::TcpSyn { port } => {
            let _ = TcpStream::connect_timeout(
                &SocketAddr::new(dest, *port),
                Duration::from_millis(30),
            );
        }
        Wire::Udp { port, payload } => {
            let s = UdpSocket::bind(SocketAddr::new(source, 0)).expect("udp bind");
            s.send_to(payload, SocketAddr::new(dest, *port))
                .expect("udp send");
        }
        Wire::IcmpEcho { payload } => {
            let (domain, proto, ty) = match dest {
                IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, 8u8),
                IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, 128u8),
            };
            let s = Socket::new(domain, Type::DGRAM, Some(proto))
                .expect("icmp socket (ping_group_range)");
            let mut pkt = vec![ty, 0, 0, 0, 0, 0, 0, 1];
            pkt.extend_from_slice(payload);
            s.send_to(&pkt, &SockAddr::from(SocketAddr::new(dest, 0)))
                .expect("icmp send");
        }
        Wire::RawSyn {
            port,
            seq,
            src_port,
        } => raw_syn_from(source, dest, *port, *seq, src_port.unwrap_or(41000)),
    }
}

/// A hand-built SYN with a chosen sequence number through a raw socket
/// (the kernel adds the IP header).
pub fn raw_syn(source: IpAddr, dest: IpAddr, port: u16, seq: u32) {
    raw_syn_from(source, dest, port, seq, 41000);
}

/// [`raw_syn`] from a chosen source port (a keyed SYN token's).
pub fn raw_syn_from(source: IpAddr, dest: IpAddr, port: u16, seq: u32, src_port: u16) {
    let mut out = Vec::new();
    let (domain, header) = match (source, dest) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
                .tcp(src_port, port, seq, 1024)
                .syn()
                .write(&mut out, &[])
                .expect("build");
            (Domain::IPV4, 20)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64)
                .tcp(src_port, port, seq, 1024)
                .syn()
                .write(&mut out, &[])
                .expect("build");
            (Domain::IPV6, 40)
        }
        _ => panic!("mixed families"),
    };
    let s = Socket::new(domain, Type::RAW, Some(Protocol::TCP)).expect("raw socket");
    s.send_to(&out[header..], &SockAddr::from(SocketAddr::new(dest, 0)))
        .expect("raw send");
}

/// Connects from the client namespace (optionally from a given local
/// address); `Some` when the SYN is answered.
pub fn connect(
    net: &NetnsPair,
    from: Option<IpAddr>,
    to: IpAddr,
    port: u16,
    timeout: Duration,
) -> Option<TcpStream> {
    run_in(&net.client, move || {
        let addr = SocketAddr::new(to, port);
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).ok()?;
        if let Some(f) = from {
            s.bind(&SockAddr::from(SocketAddr::new(f, 0))).ok()?;
        }
        s.connect_timeout(&SockAddr::from(addr), timeout).ok()?;
        Some(TcpStream::from(s))
    })
    .expect("connect thread")
}

/// Open: answered within a couple of seconds (the grant is installed right
/// after the knock is matched). Closed: a dropped SYN gets no answer.
pub fn is_open(net: &NetnsPair, from: Option<IpAddr>, to: IpAddr, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if connect(net, from, to, port, Duration::from_millis(300)).is_some() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
    }
}

pub fn is_closed(net: &NetnsPair, from: Option<IpAddr>, to: IpAddr, port: u16) -> bool {
    connect(net, from, to, port, Duration::from_millis(700)).is_none()
}

/// One forged packet's transport part.
#[derive(Debug, Clone, Copy)]
pub enum Forged {
    Syn { src_port: u16, port: u16, seq: u32 },
    Udp { src_port: u16, port: u16 },
}

/// Sends packets whose IP header (and so source address) we write
/// ourselves (IPPROTO_RAW, header included), for floods from addresses the
/// client namespace does not hold. Stops after `max` packets or `limit`
/// time, whichever comes first; returns how many were sent. Run it in the
/// client namespace.
pub fn forge_flood(
    dest: IpAddr,
    max: usize,
    limit: Duration,
    mut next: impl FnMut(usize) -> (IpAddr, Forged),
) -> usize {
    let domain = if dest.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::RAW, Some(Protocol::from(255))).expect("raw socket");
    if dest.is_ipv6() {
        s.set_header_included_v6(true).expect("IPV6_HDRINCL");
    }
    let to = SockAddr::from(SocketAddr::new(dest, 0));
    let started = std::time::Instant::now();
    let mut sent = 0;
    while sent < max && started.elapsed() < limit {
        let (source, what) = next(sent);
        let builder = match (source, dest) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64)
            }
            _ => panic!("mixed families"),
        };
        let mut out = Vec::new();
        match what {
            Forged::Syn {
                src_port,
                port,
                seq,
            } => builder
                .tcp(src_port, port, seq, 1024)
                .syn()
                .write(&mut out, &[]),
            Forged::Udp { src_port, port } => builder.udp(src_port, port).write(&mut out, &[]),
        }
        .expect("build");
        if s.send_to(&out, &to).is_ok() {
            sent += 1;
        }
    }
    sent
}
