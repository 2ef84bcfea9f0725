//! The Linux capture adapter on a real kernel: two network namespaces joined
//! by a veth pair (198.18.0.0/15 and fd00::/8 only), the capture in A, a
//! sender in B. Needs root; without it each test prints why and passes.
//!
//! Every test makes its own pair of namespaces (`pcap-<pid>-<n>-a/-b`), so
//! the tests run in parallel; a guard deletes them even when a test panics.
//!
//! `cargo test -p postern-server --test capture_netns -- --ignored --nocapture`
//! also runs the filter measurement quoted in `src/capture/linux.rs`.
#![cfg(target_os = "linux")]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use postern_server::capture::linux::{self, Capture};
use postern_server::capture::{FilterSpec, parse_frame};
use postern_server::packet::Transport;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const A4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
const KNOCK_UDP: u16 = 62201;
const KNOCK_TCP: u16 = 7000;
const NOISE_UDP: u16 = 9999;
const NOISE_TCP: u16 = 2222;

fn spec() -> FilterSpec {
    FilterSpec {
        udp_ports: vec![KNOCK_UDP],
        tcp_syn_any_port: false,
        tcp_ports: vec![KNOCK_TCP],
        icmp_echo: true,
    }
}

// ---- namespaces ---------------------------------------------------------------

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("Uid:"))?;
            // Real, effective, saved, fs: the effective uid decides.
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Two namespaces A and B joined by veth `va` (in A) — `vb` (in B).
/// Deleting a namespace deletes its end of the veth, and with it the pair.
struct NsPair {
    a: String,
    b: String,
}

impl NsPair {
    /// `None` (after printing why) when this machine cannot run the test.
    fn create() -> Option<NsPair> {
        if !is_root() {
            eprintln!("skipping: capture namespace tests need root");
            return None;
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let base = format!("pcap-{}-{n}", std::process::id());
        let pair = NsPair {
            a: format!("{base}-a"),
            b: format!("{base}-b"),
        };
        match pair.setup() {
            Ok(()) => Some(pair),
            Err(e) => {
                eprintln!("skipping: cannot build network namespaces: {e}");
                None // the guard removes whatever was created
            }
        }
    }

    fn setup(&self) -> Result<(), String> {
        let (a, b) = (self.a.as_str(), self.b.as_str());
        run(&["ip", "netns", "add", a])?;
        run(&["ip", "netns", "add", b])?;
        run(&[
            "ip", "-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b,
        ])?;
        for (ns, dev, v4, v6) in [
            (a, "va", "198.18.0.1/24", "fd00::1/64"),
            (b, "vb", "198.18.0.2/24", "fd00::2/64"),
        ] {
            for key in ["all", "default", dev] {
                run(&[
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv4.conf.{key}.rp_filter=0"),
                ])?;
            }
            run(&["ip", "-n", ns, "addr", "add", v4, "dev", dev])?;
            run(&["ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(())
    }

    fn path(ns: &str) -> PathBuf {
        PathBuf::from("/var/run/netns").join(ns)
    }
}

impl Drop for NsPair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

// ---- capture side -------------------------------------------------------------

/// An owned summary of a parsed packet (the real one borrows the buffer).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Udp {
        src: IpAddr,
        dst_port: u16,
        payload: Vec<u8>,
    },
    TcpSyn {
        src: IpAddr,
        dst_port: u16,
    },
    TcpOther {
        src: IpAddr,
        dst_port: u16,
    },
    Echo {
        src: IpAddr,
        len: usize,
    },
}

struct Running {
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<Result<(), String>>,
}

impl Running {
    /// Waits until `done(seen)` holds or 5 s pass, lets stragglers arrive,
    /// stops the capture and returns everything it saw.
    fn finish(self, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !done(&self.seen.lock().expect("lock")) {
            thread::sleep(Duration::from_millis(20));
        }
        thread::sleep(Duration::from_millis(300));
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .expect("capture thread")
            .expect("capture");
        self.seen.lock().expect("lock").clone()
    }
}

/// Opens a capture on `iface` inside namespace `ns` (in a thread of its
/// own: setns is per thread) and records what it parses.
fn start_capture(ns: &str, iface: &'static str, spec: Option<FilterSpec>) -> Running {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel();
    let path = NsPair::path(ns);
    let (seen2, stop2) = (seen.clone(), stop.clone());
    let thread = thread::spawn(move || -> Result<(), String> {
        linux::enter_netns(&path).map_err(|e| format!("setns: {e}"))?;
        let opened = match &spec {
            Some(spec) => Capture::open(iface, spec),
            None => Capture::open_unfiltered(iface),
        };
        let mut cap = match opened {
            Ok(cap) => cap,
            Err(e) => {
                let _ = ready_tx.send(());
                return Err(e.to_string());
            }
        };
        let _ = ready_tx.send(());
        let mut buf = [0u8; 2048];
        while !stop2.load(Ordering::Relaxed) {
            let Some(r) = cap.recv(&mut buf).map_err(|e| e.to_string())? else {
                continue;
            };
            let Some(p) = parse_frame(r.link, &buf[..r.len]) else {
                continue;
            };
            let s = match p.transport {
                Transport::Udp {
                    dst_port, payload, ..
                } => Seen::Udp {
                    src: p.src,
                    dst_port,
                    payload: payload.to_vec(),
                },
                Transport::Tcp {
                    dst_port,
                    syn: true,
                    ack: false,
                    ..
                } => Seen::TcpSyn {
                    src: p.src,
                    dst_port,
                },
                Transport::Tcp { dst_port, .. } => Seen::TcpOther {
                    src: p.src,
                    dst_port,
                },
                Transport::IcmpEcho { payload } => Seen::Echo {
                    src: p.src,
                    len: payload.len(),
                },
            };
            seen2.lock().expect("lock").push(s);
        }
        Ok(())
    });
    ready_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("capture thread starts");
    Running { seen, stop, thread }
}

// ---- sending side -------------------------------------------------------------

/// Runs `f` on a thread inside namespace `ns`.
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = NsPair::path(ns);
    thread::spawn(move || {
        linux::enter_netns(&path).expect("setns");
        f()
    })
    .join()
    .expect("sender thread")
}

fn echo_request(icmp_type: u8, payload_len: usize) -> Vec<u8> {
    let mut m = vec![icmp_type, 0, 0, 0, 0x50, 0x53, 0, 1];
    m.extend((0..payload_len).map(|i| i as u8));
    // Internet checksum (the kernel fills it in itself for ICMPv6).
    let mut sum: u32 = m
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    m[2..4].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    m
}

/// From inside B: one of each knock to `dst`, plus noise the filter must drop.
fn send_knocks_and_noise(dst: IpAddr) {
    let bind: SocketAddr = match dst {
        IpAddr::V4(_) => "0.0.0.0:0".parse().expect("addr"),
        IpAddr::V6(_) => "[::]:0".parse().expect("addr"),
    };
    let udp = UdpSocket::bind(bind).expect("udp socket");
    udp.send_to(format!("knock {dst}").as_bytes(), (dst, KNOCK_UDP))
        .expect("udp knock");
    udp.send_to(b"noise", (dst, NOISE_UDP)).expect("udp noise");
    // Closed ports: the SYN goes out, a RST comes back, connect fails fast.
    let timeout = Duration::from_secs(1);
    let _ = TcpStream::connect_timeout(&SocketAddr::new(dst, KNOCK_TCP), timeout);
    let _ = TcpStream::connect_timeout(&SocketAddr::new(dst, NOISE_TCP), timeout);
    let (domain, proto, echo_type) = match dst {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4, 8),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6, 128),
    };
    let icmp = Socket::new(domain, Type::RAW, Some(proto)).expect("raw icmp socket");
    icmp.send_to(
        &echo_request(echo_type, 56),
        &SockAddr::from(SocketAddr::new(dst, 0)),
    )
    .expect("echo request");
}

fn expected_knocks(src: IpAddr, dst: IpAddr) -> Vec<Seen> {
    vec![
        Seen::Udp {
            src,
            dst_port: KNOCK_UDP,
            payload: format!("knock {dst}").into_bytes(),
        },
        Seen::TcpSyn {
            src,
            dst_port: KNOCK_TCP,
        },
        Seen::Echo { src, len: 56 },
    ]
}

fn contains_all(seen: &[Seen], want: &[Seen]) -> bool {
    want.iter().all(|w| seen.contains(w))
}

fn is_noise(s: &Seen) -> bool {
    matches!(
        s,
        Seen::Udp {
            dst_port: NOISE_UDP,
            ..
        }
    ) || matches!(
        s,
        Seen::TcpSyn {
            dst_port: NOISE_TCP,
            ..
        } | Seen::TcpOther { .. }
    )
}

// ---- tests --------------------------------------------------------------------

#[test]
fn veth_capture_sees_ipv4_and_ipv6_knocks_and_nothing_else() {
    let Some(ns) = NsPair::create() else { return };
    let filtered = start_capture(&ns.a, "va", Some(spec()));
    let unfiltered = start_capture(&ns.a, "va", None);
    in_ns(&ns.b, || {
        send_knocks_and_noise(IpAddr::V4(A4));
        send_knocks_and_noise(IpAddr::V6(A6));
    });
    let mut want = expected_knocks(IpAddr::V4(B4), IpAddr::V4(A4));
    want.extend(expected_knocks(IpAddr::V6(B6), IpAddr::V6(A6)));

    let seen = filtered.finish(|s| contains_all(s, &want));
    assert!(contains_all(&seen, &want), "missing knocks; saw {seen:#?}");
    assert!(
        !seen.iter().any(is_noise),
        "filter let noise through: {seen:#?}"
    );
    // Incoming only, and no duplicates: exactly what B sent.
    assert_eq!(seen.len(), want.len(), "unexpected extra frames: {seen:#?}");

    // The same traffic without the kernel filter does contain the noise, so
    // the assertion above is not vacuous.
    let raw = unfiltered.finish(|s| s.iter().any(is_noise));
    assert!(
        raw.iter().any(|s| matches!(
            s,
            Seen::Udp {
                dst_port: NOISE_UDP,
                ..
            }
        )),
        "{raw:#?}"
    );
}

#[test]
fn any_interface_captures_cooked_ip_frames() {
    let Some(ns) = NsPair::create() else { return };
    let cap = start_capture(&ns.a, "any", Some(spec()));
    in_ns(&ns.b, || {
        send_knocks_and_noise(IpAddr::V4(A4));
        send_knocks_and_noise(IpAddr::V6(A6));
    });
    let mut want = expected_knocks(IpAddr::V4(B4), IpAddr::V4(A4));
    want.extend(expected_knocks(IpAddr::V6(B6), IpAddr::V6(A6)));
    let seen = cap.finish(|s| contains_all(s, &want));
    assert!(contains_all(&seen, &want), "missing knocks; saw {seen:#?}");
    assert!(
        !seen.iter().any(is_noise),
        "filter let noise through: {seen:#?}"
    );
    assert_eq!(seen.len(), want.len(), "unexpected extra frames: {seen:#?}");
}

#[test]
fn loopback_knock_is_seen_once() {
    let Some(ns) = NsPair::create() else { return };
    let cap = start_capture(&ns.a, "lo", Some(spec()));
    in_ns(&ns.a, || {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
        udp.send_to(b"local knock", ("127.0.0.1", KNOCK_UDP))
            .expect("send");
        udp.send_to(b"noise", ("127.0.0.1", NOISE_UDP))
            .expect("send");
    });
    let want = vec![Seen::Udp {
        src: IpAddr::V4(Ipv4Addr::LOCALHOST),
        dst_port: KNOCK_UDP,
        payload: b"local knock".to_vec(),
    }];
    // Loopback shows every frame twice (outgoing, then incoming); the
    // filter keeps only the incoming copy.
    let seen = cap.finish(|s| contains_all(s, &want));
    assert_eq!(seen, want);
}

#[test]
fn missing_interface_is_a_clear_error() {
    let Some(ns) = NsPair::create() else { return };
    let path = NsPair::path(&ns.a);
    let err = thread::spawn(move || {
        linux::enter_netns(&path).expect("setns");
        Capture::open("nosuchdev0", &spec()).expect_err("no such device")
    })
    .join()
    .expect("thread");
    assert!(err.to_string().contains("nosuchdev0"), "{err}");
}

/// Counts what reaches user space for a flood of non-candidates, with and
/// without the kernel filter. Prints numbers; asserts nothing about timing.
#[test]
#[ignore = "measurement: run with --ignored --nocapture"]
fn filter_savings_measurement() {
    const N: usize = 200_000;
    let Some(ns) = NsPair::create() else { return };
    println!(
        "{N} UDP datagrams (32 B) to non-knock port {NOISE_UDP}, veth, capture in the receiving namespace"
    );
    println!(
        "capture      | frames passed filter | kernel drops | recv() frames | capture CPU | sender CPU | send time"
    );
    for filtered in [false, true] {
        let path = NsPair::path(&ns.a);
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stop2 = stop.clone();
        let receiver = thread::spawn(move || {
            linux::enter_netns(&path).expect("setns");
            let cap = if filtered {
                Capture::open("va", &spec())
            } else {
                Capture::open_unfiltered("va")
            };
            let mut cap = cap.expect("open");
            cap.stats().expect("reset stats");
            let cpu0 = linux::thread_cpu_time().expect("rusage");
            ready_tx.send(()).expect("ready");
            let (mut frames, mut buf) = (0u64, [0u8; 2048]);
            loop {
                match cap.recv(&mut buf).expect("recv") {
                    Some(_) => frames += 1,
                    None if stop2.load(Ordering::Relaxed) => break,
                    None => {}
                }
            }
            let cpu = linux::thread_cpu_time().expect("rusage") - cpu0;
            (frames, cap.stats().expect("stats"), cpu)
        });
        ready_rx.recv().expect("receiver ready");
        let (send_time, sender_cpu) = in_ns(&ns.b, || {
            let udp = UdpSocket::bind("0.0.0.0:0").expect("udp");
            let payload = [0x5au8; 32];
            let cpu0 = linux::thread_cpu_time().expect("rusage");
            let t0 = Instant::now();
            for _ in 0..N {
                // Unconnected: ICMP port-unreachable replies are not reported.
                let _ = udp.send_to(&payload, (A4, NOISE_UDP));
            }
            (
                t0.elapsed(),
                linux::thread_cpu_time().expect("rusage") - cpu0,
            )
        });
        // The receiver exits after the first empty 100 ms poll once stopped.
        stop.store(true, Ordering::Relaxed);
        let (frames, stats, cpu) = receiver.join().expect("receiver");
        println!(
            "{:<12} | {:>20} | {:>12} | {:>13} | {:>8.1} ms | {:>7.1} ms | {:>6.0} ms",
            if filtered {
                "knock filter"
            } else {
                "no filter"
            },
            stats.packets,
            stats.drops,
            frames,
            cpu.as_secs_f64() * 1e3,
            sender_cpu.as_secs_f64() * 1e3,
            send_time.as_secs_f64() * 1e3,
        );
    }
}
