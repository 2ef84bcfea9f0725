//! The Unix send calls: ICMP echo requests through an unprivileged ICMP
//! socket (or a raw one), and the SYN token's segment through a raw
//! socket (pnet's layer-4 channel: the kernel adds the IP header).

use super::packets::{SynToken, echo_request, tcp_syn_segment};
use super::{IcmpMode, SendError};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};

/// Sends echo requests; one per call, numbered.
#[derive(Debug)]
pub(super) struct IcmpSender {
    pub(super) mode: IcmpMode,
    /// Echo sequence counter.
    seq: u16,
}

impl Default for IcmpSender {
    fn default() -> Self {
        IcmpSender {
            mode: IcmpMode::from_env(),
            seq: 0,
        }
    }
}

impl IcmpSender {
    pub(super) fn send(&mut self, dest: IpAddr, payload: &[u8]) -> Result<(), SendError> {
        self.seq = self.seq.wrapping_add(1);
        icmp_knock(dest, payload, self.seq, self.mode)
    }
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

/// Sends SYN tokens through a raw socket (one per SYN: the kernel needs
/// the privilege only to open it).
#[derive(Debug, Default)]
pub(super) struct SynSender;

impl SynSender {
    pub(super) fn send(&mut self, token: &SynToken) -> Result<(), SendError> {
        send_syn(token)
    }
}

fn send_syn(token: &SynToken) -> Result<(), SendError> {
    use pnet::packet::ip::IpNextHeaderProtocols;
    use pnet::packet::tcp::TcpPacket;
    use pnet::transport::{TransportChannelType, TransportProtocol, transport_channel};

    let to = SocketAddr::new(token.dst, token.dst_port);
    let io = |cause| SendError::Io {
        what: "raw TCP SYN",
        dest: to,
        cause,
    };
    let segment = tcp_syn_segment(token).map_err(|e| io(io::Error::other(e)))?;
    let packet = TcpPacket::new(&segment)
        .ok_or_else(|| io(io::Error::other("TCP header buffer too small")))?;
    let proto = match token.dst {
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
    tx.send_to(packet, token.dst).map_err(io)?;
    Ok(())
}
