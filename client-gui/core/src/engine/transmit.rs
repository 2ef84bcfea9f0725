//! The transmitter: turns a [`KnockPlan`] into packets (DESIGN.md §2).
//!
//! This is the only module in the client that opens sockets. The loop in
//! [`transmit`] is generic over a [`PacketSink`] and a [`Sleeper`] so tests
//! can check order, pauses and decoys without a network or a clock; the real
//! [`SocketSink`] stays small and unprivileged except where a method truly
//! needs raw packets (the SYN token).

use postern_proto::plan::{KnockPlan, Wire};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

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
    #[error(
        "the SYN token needs a raw packet sender, which this Windows build does not have yet \
         (it needs the WinDivert sender); ask your administrator for a profile with another method"
    )]
    RawUnsupported,
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

/// How ICMP echo requests are sent.
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
#[derive(Debug)]
pub struct SocketSink {
    pub icmp: IcmpMode,
    /// Echo identifier / sequence counter for ICMP knocks.
    echo_seq: u16,
    /// TCP knocks still connecting. They are closed when the sink is
    /// dropped, after the whole plan: the SYN is on its way when
    /// `connect()` returns, and keeping the socket until then means no
    /// stack can cancel it before it leaves.
    tcp_knocks: Vec<Socket>,
}

impl Default for SocketSink {
    fn default() -> Self {
        SocketSink {
            icmp: IcmpMode::from_env(),
            echo_seq: 0,
            tcp_knocks: Vec::new(),
        }
    }
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
            Wire::IcmpEcho { payload } => {
                self.echo_seq = self.echo_seq.wrapping_add(1);
                icmp_knock(dest, payload, self.echo_seq, self.icmp)
            }
            Wire::RawSyn { port, seq } => raw::send_syn(dest, *port, *seq),
        }
    }
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

/// Builds an echo request: type, code 0, checksum, identifier, sequence,
/// payload. The checksum is computed for ICMPv4; for ICMPv6 the kernel
/// fills it in (it needs the pseudo-header), as it does the identifier of
/// unprivileged sockets.
pub fn echo_request(v6: bool, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + payload.len());
    b.push(if v6 { 128 } else { 8 });
    b.push(0);
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&ident.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(payload);
    if !v6 {
        let sum = internet_checksum(&b);
        b[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    b
}

/// RFC 1071 one's-complement sum.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in data.chunks(2) {
        let word = u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]);
        sum = sum.wrapping_add(u32::from(word));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn icmp_knock(dest: IpAddr, payload: &[u8], seq: u16, mode: IcmpMode) -> Result<(), SendError> {
    let v6 = dest.is_ipv6();
    let (domain, proto) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let to: SockAddr = SocketAddr::new(dest, 0).into();
    let packet = echo_request(v6, std::process::id() as u16, seq, payload);
    let io = |cause| SendError::Io {
        what: "ICMP echo",
        dest: SocketAddr::new(dest, 0),
        cause,
    };
    // A socket we cannot open means "not allowed here"; a send error on a
    // socket we got is a network problem and is reported as such.
    let open = |ty: Type| Socket::new(domain, ty, Some(proto));
    let unprivileged = match mode {
        IcmpMode::Raw => io::Error::other("not tried (POSTERN_ICMP=raw)"),
        _ => match open(Type::DGRAM) {
            Ok(s) => return s.send_to(&packet, &to).map(drop).map_err(io),
            Err(e) => e,
        },
    };
    let raw = match mode {
        IcmpMode::Unprivileged => "raw sockets not tried (POSTERN_ICMP=unprivileged)".to_owned(),
        _ => match open(Type::RAW) {
            Ok(s) => return s.send_to(&packet, &to).map(drop).map_err(io),
            Err(e) => format!("raw socket: {e}"),
        },
    };
    Err(SendError::IcmpNotAllowed {
        unprivileged,
        raw: format!("; {raw}"),
    })
}

#[cfg(not(windows))]
mod raw {
    //! Raw TCP SYN through pnet's layer-4 transport channel: the kernel
    //! builds the IP header, we build the TCP header with the chosen
    //! sequence number and its checksum.
    use super::SendError;
    use pnet::packet::ip::IpNextHeaderProtocols;
    use pnet::packet::tcp::{self, MutableTcpPacket, TcpFlags};
    use pnet::transport::{TransportChannelType, TransportProtocol, transport_channel};
    use rand::Rng;
    use std::io;
    use std::net::{IpAddr, SocketAddr};

    pub(super) fn send_syn(dest: IpAddr, port: u16, seq: u32) -> Result<(), SendError> {
        let to = SocketAddr::new(dest, port);
        let io = |cause| SendError::Io {
            what: "raw TCP SYN",
            dest: to,
            cause,
        };
        let src = crate::engine::resolve::local_source_for(dest).map_err(io)?;
        let mut buf = [0u8; 20];
        let mut tcp_pkt = MutableTcpPacket::new(&mut buf)
            .ok_or_else(|| io(io::Error::other("TCP header buffer too small")))?;
        tcp_pkt.set_source(rand::rng().random_range(32768..61000));
        tcp_pkt.set_destination(port);
        tcp_pkt.set_sequence(seq);
        tcp_pkt.set_acknowledgement(0);
        tcp_pkt.set_data_offset(5);
        tcp_pkt.set_flags(TcpFlags::SYN);
        tcp_pkt.set_window(64240);
        let sum = match (src, dest) {
            (IpAddr::V4(s), IpAddr::V4(d)) => tcp::ipv4_checksum(&tcp_pkt.to_immutable(), &s, &d),
            (IpAddr::V6(s), IpAddr::V6(d)) => tcp::ipv6_checksum(&tcp_pkt.to_immutable(), &s, &d),
            _ => {
                return Err(io(io::Error::other(
                    "source and destination families differ",
                )));
            }
        };
        tcp_pkt.set_checksum(sum);
        let proto = match dest {
            IpAddr::V4(_) => TransportProtocol::Ipv4(IpNextHeaderProtocols::Tcp),
            IpAddr::V6(_) => TransportProtocol::Ipv6(IpNextHeaderProtocols::Tcp),
        };
        let (mut tx, _rx) =
            transport_channel(4096, TransportChannelType::Layer4(proto)).map_err(|e| {
                if e.kind() == io::ErrorKind::PermissionDenied {
                    SendError::RawNotAllowed(e)
                } else {
                    io(e)
                }
            })?;
        tx.send_to(tcp_pkt, dest).map_err(io)?;
        Ok(())
    }
}

#[cfg(windows)]
mod raw {
    use super::SendError;
    use std::net::IpAddr;

    pub(super) fn send_syn(_dest: IpAddr, _port: u16, _seq: u32) -> Result<(), SendError> {
        Err(SendError::RawUnsupported)
    }
}

#[cfg(test)]
pub(crate) mod tests;
