//! The transmitter: turns a [`KnockPlan`] into packets (DESIGN.md §2).
//!
//! This is the only module in the client that opens sockets. The loop in
//! [`transmit`] is generic over a [`PacketSink`] and a [`Sleeper`] so tests
//! can check order, pauses and decoys without a network or a clock; the real
//! [`SocketSink`] stays small and unprivileged except where a method truly
//! needs raw packets (the SYN token).
//!
//! The packets the OS does not build for us are built by pure code in
//! [`packets`], the same on every platform; only the send calls differ
//! (`unix.rs`, `windows.rs`, with the pure half of the Windows one in
//! [`windows_logic`]).

use postern_proto::plan::{KnockPlan, Wire};
use rand::Rng;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::time::Duration;

pub mod packets;
#[cfg(not(windows))]
mod unix;
#[cfg(not(windows))]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;
pub mod windows_logic;

pub use packets::echo_request;
pub use windows_logic::DivertFailure;

/// Sends one packet to one destination.
pub trait PacketSink {
    fn send(&mut self, wire: &Wire, dest: IpAddr) -> Result<(), SendError>;
}

/// Takes the pause before a packet. Real code sleeps the thread; tests
/// record the pauses instead, so a plan's timing is checked without waiting.
pub trait Sleeper {
    fn sleep(&mut self, d: Duration);
}

/// The real sleeper.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&mut self, d: Duration) {
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }
}

/// One packet has been sent. Decoys are reported like real packets: the UI
/// must not single them out (an onlooker at the screen is an onlooker too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// 1-based.
    pub index: usize,
    pub total: usize,
    pub dest: IpAddr,
}

/// Why a packet could not be sent. The messages say what to try.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(
        "could not send an ICMP echo request: unprivileged ICMP sockets are not allowed ({unprivileged}){raw}. \
         Allow them for your group with `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`, \
         run as administrator, or use a profile with UDP or TCP knocks"
    )]
    IcmpNotAllowed {
        unprivileged: io::Error,
        raw: String,
    },
    #[error(
        "the SYN token needs raw sockets and administrator rights ({0}); run postern with sudo, \
         or give it CAP_NET_RAW: `setcap cap_net_raw+ep $(command -v postern)`"
    )]
    RawNotAllowed(io::Error),
    /// Windows: WinDivert, which sends the SYN token, could not be opened.
    #[error("{0}")]
    Divert(DivertFailure),
    #[error("could not send a {what} packet to {dest}: {cause}")]
    Io {
        what: &'static str,
        dest: SocketAddr,
        cause: io::Error,
    },
}

/// A packet of the plan could not be sent; the knock stopped there.
#[derive(Debug, thiserror::Error)]
#[error("packet {index} of {total}: {cause}")]
pub struct TransmitError {
    pub index: usize,
    pub total: usize,
    pub cause: SendError,
}

/// Sends every packet of `plan` to `dest`, in order, each after its pause.
///
/// Stops at the first packet that cannot be sent: a sequence with a hole in
/// it cannot open anything, and the error says why the packet failed.
pub fn transmit(
    plan: &KnockPlan,
    dest: IpAddr,
    sink: &mut dyn PacketSink,
    sleeper: &mut dyn Sleeper,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), TransmitError> {
    let total = plan.packets.len();
    for (i, p) in plan.packets.iter().enumerate() {
        sleeper.sleep(p.wait);
        sink.send(&p.wire, dest).map_err(|cause| TransmitError {
            index: i + 1,
            total,
            cause,
        })?;
        progress(Progress {
            index: i + 1,
            total,
            dest,
        });
    }
    Ok(())
}

/// How ICMP echo requests are sent on Linux and macOS (Windows has one
/// way: the ICMP helper API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IcmpMode {
    /// Unprivileged ICMP socket, else a raw socket.
    #[default]
    Auto,
    /// Only the unprivileged socket (tests of the error path; users who
    /// want to be sure postern never uses privileges).
    Unprivileged,
    /// Only a raw socket.
    Raw,
}

impl IcmpMode {
    /// Reads `POSTERN_ICMP` (`auto`, `unprivileged`, `raw`); anything else
    /// is auto.
    pub fn from_env() -> Self {
        match std::env::var("POSTERN_ICMP").as_deref() {
            Ok("unprivileged") => IcmpMode::Unprivileged,
            Ok("raw") => IcmpMode::Raw,
            _ => IcmpMode::Auto,
        }
    }
}

/// The real sink: ordinary sockets, raw ones only where unavoidable.
#[derive(Debug, Default)]
pub struct SocketSink {
    icmp: platform::IcmpSender,
    syn: platform::SynSender,
    /// TCP knocks still connecting. They are closed when the sink is
    /// dropped, after the whole plan: the SYN is on its way when
    /// `connect()` returns, and keeping the socket until then means no
    /// stack can cancel it before it leaves.
    tcp_knocks: Vec<Socket>,
}

impl PacketSink for SocketSink {
    fn send(&mut self, wire: &Wire, dest: IpAddr) -> Result<(), SendError> {
        match wire {
            Wire::TcpSyn { port } => {
                let s = tcp_knock(SocketAddr::new(dest, *port))?;
                self.tcp_knocks.push(s);
                Ok(())
            }
            Wire::Udp { port, payload } => {
                let to = SocketAddr::new(dest, *port);
                let io = |cause| SendError::Io {
                    what: "UDP",
                    dest: to,
                    cause,
                };
                let bind: SocketAddr = match dest {
                    IpAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
                    IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
                };
                let s = UdpSocket::bind(bind).map_err(io)?;
                s.send_to(payload, to).map_err(io)?;
                Ok(())
            }
            Wire::IcmpEcho { payload } => self.icmp.send(dest, payload),
            Wire::RawSyn {
                port,
                seq,
                src_port,
            } => {
                let token = syn_token(dest, *port, *seq, *src_port)?;
                self.syn.send(&token)
            }
        }
    }
}

/// The source ports the OS would pick itself (Linux's default range; the
/// IANA dynamic range on Windows), so an unkeyed token's SYN looks like
/// any other connection attempt from this computer.
#[cfg(not(windows))]
const EPHEMERAL_PORTS: RangeInclusive<u16> = 32768..=60999;
#[cfg(windows)]
const EPHEMERAL_PORTS: RangeInclusive<u16> = 49152..=65535;

/// The addresses and ports of a SYN-token knock: the source address the
/// OS would use towards `dest`, and a keyed token's own source port (part
/// of the secret) or an ephemeral one.
fn syn_token(
    dest: IpAddr,
    port: u16,
    seq: u32,
    src_port: Option<u16>,
) -> Result<packets::SynToken, SendError> {
    let src = crate::engine::resolve::local_source_for(dest).map_err(|cause| SendError::Io {
        what: "raw TCP SYN",
        dest: SocketAddr::new(dest, port),
        cause,
    })?;
    Ok(packets::SynToken {
        src,
        dst: dest,
        src_port: src_port.unwrap_or_else(|| rand::rng().random_range(EPHEMERAL_PORTS)),
        dst_port: port,
        seq,
    })
}

/// A TCP knock: a non-blocking `connect()`, which puts the SYN on the wire
/// before it returns. Like knockd's client it does not wait for an answer:
/// a knock port normally drops the SYN, and waiting for the connect to time
/// out cost up to 5 ms per knock (a refusal still cost a round trip). The
/// errors that mean the SYN never left (no route, a local firewall) come
/// back from `connect()` itself and are reported.
fn tcp_knock(to: SocketAddr) -> Result<Socket, SendError> {
    let io = |cause| SendError::Io {
        what: "TCP",
        dest: to,
        cause,
    };
    let s = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP)).map_err(io)?;
    s.set_nonblocking(true).map_err(io)?;
    match s.connect(&to.into()) {
        Ok(()) => Ok(s),
        Err(e) if connect_started(&e) => Ok(s),
        Err(e) => Err(io(e)),
    }
}

/// Whether a non-blocking connect's error means "the handshake started" (or
/// already ended in a refusal, which is a knock that arrived).
fn connect_started(e: &io::Error) -> bool {
    #[cfg(unix)]
    if e.raw_os_error() == Some(libc::EINPROGRESS) {
        return true;
    }
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
pub(crate) mod tests;
