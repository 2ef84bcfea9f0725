//! Knock → open latency: the wall time from just before the client starts
//! to the first TCP connect that completes, probed with sub-millisecond
//! resolution.
//!
//! A dropped SYN never completes, so the prober keeps many non-blocking
//! connects in flight and starts a new one every `PROBE_INTERVAL`; the first
//! SYN sent after the firewall opens is answered within one round trip.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Gap between new connection attempts: the resolution of the measurement.
pub const PROBE_INTERVAL: Duration = Duration::from_micros(200);
/// Attempts checked each round. On a veth a SYN is answered in well under
/// one interval, and a dropped SYN is only retried after a second, so only
/// the newest attempts can complete; checking few keeps the prober from
/// stealing CPU from the processes it measures.
const IN_FLIGHT: usize = 4;

/// Probes until a connection completes or `deadline` passes; returns the
/// instant it completed.
pub fn first_open(to: SocketAddr, deadline: Instant) -> Option<Instant> {
    let mut pending: std::collections::VecDeque<Socket> = std::collections::VecDeque::new();
    while Instant::now() < deadline {
        for s in &pending {
            if s.peer_addr().is_ok() {
                return Some(Instant::now());
            }
        }
        if let Ok(s) = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP)) {
            let _ = s.set_nonblocking(true);
            let _ = s.connect(&SockAddr::from(to));
            pending.push_back(s);
            if pending.len() > IN_FLIGHT {
                pending.pop_front();
            }
        }
        std::thread::sleep(PROBE_INTERVAL);
    }
    None
}

/// Whether the port answers right now (one attempt, short timeout).
pub fn answers(to: SocketAddr, timeout: Duration) -> bool {
    std::net::TcpStream::connect_timeout(&to, timeout).is_ok()
}
