//! Two network namespaces joined by a veth pair: the stage for the demo and
//! the end-to-end tests. Linux only, root only.
//!
//! Addresses come only from 198.18.0.0/15 and fd00::/8 (benchmarking and
//! unique-local ranges that never leave the namespaces). Code runs "inside"
//! a namespace on a dedicated thread that joined it with `setns`; processes
//! are started with `ip netns exec`. Everything is removed on drop, also
//! after a panic.

use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

/// A server namespace and a client namespace, with a veth between them.
#[derive(Debug)]
pub struct NetnsPair {
    /// Namespace of the server (posternd, the protected listener).
    pub server: String,
    /// Namespace of the client (the knocker).
    pub client: String,
    /// Interface name inside the server namespace.
    pub server_if: String,
    pub server_v4: IpAddr,
    pub server_v6: IpAddr,
    pub client_v4: IpAddr,
    pub client_v6: IpAddr,
    /// A second client address (v4) for spoofing and "bind address A" tests.
    pub client_v4_alt: IpAddr,
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    nix_like_euid() == 0
}

fn nix_like_euid() -> u32 {
    // Reading /proc avoids unsafe code; the "Uid:" line holds real,
    // effective, saved and fs uids.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).and_then(|u| u.parse().ok()))
        })
        .unwrap_or(u32::MAX)
}

/// Runs a command, failing with its stderr.
pub fn sh(args: &[&str]) -> Result<String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {}", args[0]))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl NetnsPair {
    /// Creates `<prefix>-s` and `<prefix>-c`. `subnet` (0–255) picks the
    /// third octet of 198.18.X.0/24 and the fd00:5053:X::/64 prefix, so
    /// parallel users do not share addresses (they could, being in separate
    /// namespaces, but logs are easier to read).
    pub fn create(prefix: &str, subnet: u8) -> Result<NetnsPair> {
        let n = NetnsPair {
            server: format!("{prefix}-s"),
            client: format!("{prefix}-c"),
            server_if: "pst0".into(),
            server_v4: format!("198.18.{subnet}.1").parse()?,
            client_v4: format!("198.18.{subnet}.2").parse()?,
            client_v4_alt: format!("198.18.{subnet}.3").parse()?,
            server_v6: format!("fd00:5053:{subnet:x}::1").parse()?,
            client_v6: format!("fd00:5053:{subnet:x}::2").parse()?,
        };
        for ns in [&n.server, &n.client] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
        sh(&["ip", "netns", "add", &n.server])?;
        sh(&["ip", "netns", "add", &n.client])?;
        n.exec(
            &n.server,
            &[
                "ip", "link", "add", "pst0", "type", "veth", "peer", "name", "pcl0",
            ],
        )?;
        n.exec(
            &n.server,
            &["ip", "link", "set", "pcl0", "netns", &n.client],
        )?;
        let (s4, c4, c4b) = (n.server_v4, n.client_v4, n.client_v4_alt);
        let (s6, c6) = (n.server_v6, n.client_v6);
        for (ns, dev, v4s, v6) in [
            (
                &n.server,
                "pst0",
                vec![format!("{s4}/24")],
                format!("{s6}/64"),
            ),
            (
                &n.client,
                "pcl0",
                vec![format!("{c4}/24"), format!("{c4b}/24")],
                format!("{c6}/64"),
            ),
        ] {
            n.exec(ns, &["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"])?;
            n.exec(
                ns,
                &["sysctl", "-qw", &format!("net.ipv4.conf.{dev}.rp_filter=0")],
            )?;
            n.exec(
                ns,
                &["sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647"],
            )?;
            for v4 in v4s {
                n.exec(ns, &["ip", "addr", "add", &v4, "dev", dev])?;
            }
            n.exec(ns, &["ip", "-6", "addr", "add", &v6, "dev", dev, "nodad"])?;
            n.exec(ns, &["ip", "link", "set", dev, "up"])?;
            n.exec(ns, &["ip", "link", "set", "lo", "up"])?;
        }
        Ok(n)
    }

    /// Runs a command inside namespace `ns`.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Result<String> {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        sh(&full)
    }

    /// A `Command` that will run inside namespace `ns`.
    pub fn command(&self, ns: &str, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }

    /// Whether a TCP connection from the client namespace to the server's
    /// `port` is answered within `timeout`.
    pub fn connect(&self, to: IpAddr, port: u16, timeout: Duration) -> Result<Option<TcpStream>> {
        run_in(&self.client, move || {
            TcpStream::connect_timeout(&SocketAddr::new(to, port), timeout).ok()
        })
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        for ns in [&self.server, &self.client] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Where `ip netns` keeps namespace `ns`: the file a thread joins with
/// `setns` ([`crate::platform::linux::capture::enter_netns`]).
pub fn netns_path(ns: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/run/netns/{ns}"))
}

/// Runs `f` on a new thread that joined namespace `ns` first; a panic in
/// `f` is resumed in the caller.
pub fn run_in<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let path = netns_path(ns);
    thread::spawn(move || -> Result<T> {
        crate::platform::linux::capture::enter_netns(&path)
            .with_context(|| format!("joining {}", path.display()))?;
        Ok(f())
    })
    .join()
    // A panic inside `f` (a failed assertion in a test) goes on unwinding
    // in the caller, message intact.
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// A TCP echo service on `[::]:port` inside a namespace (dual stack), for
/// as long as the guard lives: the "protected service" of demos and tests.
#[derive(Debug)]
pub struct EchoServer(Arc<AtomicBool>);

impl EchoServer {
    pub fn start(ns: &str, port: u16) -> Result<EchoServer> {
        let listener = run_in(ns, move || {
            TcpListener::bind(SocketAddr::from(([0u16; 8], port)))
        })?
        .with_context(|| format!("binding port {port}"))?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        thread::spawn(move || {
                            let _ = conn.set_nonblocking(false);
                            let mut buf = [0u8; 256];
                            while let Ok(n @ 1..) = conn.read(&mut buf) {
                                if conn.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(EchoServer(stop))
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Whether an open connection still echoes.
pub fn echo_works(conn: &mut TcpStream) -> bool {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(3)));
    let mut buf = [0u8; 5];
    conn.write_all(b"hello").is_ok() && conn.read_exact(&mut buf).is_ok() && &buf == b"hello"
}
