//! Knock → open latency: the wall time from just before the client starts
//! to the first TCP connect that completes, probed with sub-millisecond
//! resolution.
//!
//! A dropped SYN never completes, so the prober keeps a few non-blocking
//! connects in flight and starts a new one every `PROBE_INTERVAL`; the first
//! SYN sent after the firewall opens is answered within one round trip.
//! Between attempts the prober waits in `poll(2)` on the connects in
//! flight rather than sleeping, so a completed handshake is seen when it
//! happens, not at the next attempt: the figure is then late by at most
//! one interval (the wait for the next SYN) instead of up to two.

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// Gap between new connection attempts: the resolution of the measurement.
pub const PROBE_INTERVAL: Duration = Duration::from_micros(200);
/// Attempts watched at once. On a veth a SYN is answered in well under one
/// interval, and a dropped SYN is only retried after a second, so only the
/// newest attempts can complete; watching few keeps the prober from
/// stealing CPU from the processes it measures.
const IN_FLIGHT: usize = 4;

/// Probes until a connection completes or `deadline` passes; returns the
/// instant it completed.
pub fn first_open(to: SocketAddr, deadline: Instant) -> Option<Instant> {
    // The default 50 µs timer slack would stretch every interval by a
    // quarter; 1 µs keeps the attempts 200 µs apart.
    // SAFETY: PR_SET_TIMERSLACK takes one integer and affects only the
    // calling thread (a throwaway thread of `run_in`).
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong);
    }
    let mut pending: VecDeque<Socket> = VecDeque::new();
    loop {
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        if let Ok(s) = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP)) {
            let _ = s.set_nonblocking(true);
            let _ = s.connect(&SockAddr::from(to));
            pending.push_back(s);
            if pending.len() > IN_FLIGHT {
                pending.pop_front();
            }
        }
        let next_attempt = (now + PROBE_INTERVAL).min(deadline);
        if wait_connected(&mut pending, next_attempt) {
            return Some(Instant::now());
        }
    }
}

/// Waits until one of `pending` has completed its handshake (true) or
/// `until` passes (false). Attempts that failed (refused, unreachable) are
/// dropped so they do not wake the wait again.
fn wait_connected(pending: &mut VecDeque<Socket>, until: Instant) -> bool {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut fds: Vec<libc::pollfd> = pending
            .iter()
            .map(|s| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            })
            .collect();
        // ppoll(2), not poll(2): the wait is a fraction of a millisecond.
        let ts = libc::timespec {
            tv_sec: left.as_secs().try_into().unwrap_or(libc::time_t::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for
        // the duration of the call; `ts` outlives it; no signal mask.
        let ready = unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                &ts,
                std::ptr::null(),
            )
        };
        if ready <= 0 {
            continue;
        }
        let mut failed = Vec::new();
        for (i, fd) in fds.iter().enumerate() {
            if fd.revents == 0 {
                continue;
            }
            let ok = pending
                .get(i)
                .is_some_and(|s| matches!(s.take_error(), Ok(None)) && s.peer_addr().is_ok());
            if ok {
                return true;
            }
            failed.push(i);
        }
        for i in failed.into_iter().rev() {
            pending.remove(i);
        }
    }
}

/// Whether the port answers right now (one attempt, short timeout).
pub fn answers(to: SocketAddr, timeout: Duration) -> bool {
    std::net::TcpStream::connect_timeout(&to, timeout).is_ok()
}
