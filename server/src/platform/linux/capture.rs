//! Linux capture adapter: one `AF_PACKET` socket per interface, with the
//! knock-candidate filter from [`filter`] running in the kernel.
//!
//! Why raw libc instead of `pnet_datalink`: pnet does not expose the socket,
//! so a filter cannot be attached, and it cannot attach it *before* the
//! socket starts receiving. Here the order is: `socket(..., protocol 0)` (a
//! packet socket with protocol 0 receives nothing), `SO_ATTACH_FILTER`, drain
//! (empty by construction; kept as libpcap does, so a future change to the
//! socket call cannot leak unfiltered frames), `SO_RCVTIMEO`, then `bind` to
//! the interface with `ETH_P_ALL`. No unfiltered frame is ever queued.
//!
//! Socket kind per interface:
//! - Ethernet and loopback devices: `SOCK_RAW`, frames keep their Ethernet
//!   header ([`LinkType::Ethernet`]; loopback's MACs are all zero).
//! - "any" (ifindex 0) and every other device type (tun, WireGuard, PPP,
//!   GRE, ...): `SOCK_DGRAM`, which strips whatever link header the device
//!   has, so frames start at the IP header ([`LinkType::RawIp`]) and the
//!   filter dispatches on the skb protocol instead of an Ethernet type. On
//!   "any", VLAN tags are therefore invisible and loopback traffic is
//!   captured too (the filter still drops the outgoing copy).
//!
//! Only incoming frames count: the filter rejects `PACKET_OUTGOING` and
//! `PACKET_OTHERHOST`, and [`Capture::recv`] checks `sll_pkttype` again,
//! which also covers [`Capture::open_unfiltered`].
//!
//! # What the kernel filter saves (measured)
//!
//! Two namespaces joined by a veth pair on the 2-core Debian 12 build VM,
//! release build. A sender thread in B fires N = 200 000 UDP datagrams
//! (32-byte payload, ~600 kpps) at a non-knock port of A; a capture thread
//! in A counts what `recv` returns; the kernel's `PACKET_STATISTICS` say how
//! many frames passed the filter and how many of those overflowed the socket
//! queue (`tests/capture_netns.rs`, `filter_savings_measurement`, run with
//! `--ignored --nocapture`). Three runs each, ranges:
//!
//! | capture      | passed filter | dropped (queue full) | returned by `recv` | capture-thread CPU | sender-thread CPU¹ |
//! |--------------|--------------:|---------------------:|-------------------:|-------------------:|-------------------:|
//! | no filter    |       200 008 |       3 318 – 120 663 |    79 338 – 196 683 |       118 – 150 ms |       258 – 335 ms |
//! | knock filter |             0 |                    0 |                  0 |     0.1 – 0.2 ms |       234 – 236 ms |
//!
//! ¹ includes the receive path on veth (softirq runs in the sender's
//! context), so the difference is the kernel's cost of cloning and queueing
//! every frame for an unfiltered packet socket: 10–40 %.
//!
//! Besides ~0.7 µs of capture-thread CPU per frame (before any parsing), the
//! unfiltered socket overflows under such a flood and drops frames at
//! random — knocks included. With the filter, junk aimed at other ports
//! never competes with knocks for queue space; only traffic to the knock
//! ports themselves (and echo requests, if enabled) does, and bounding that
//! is the matcher's job. The filter costs about 20 classic-BPF instructions
//! per frame in softirq context.
//!
//! This file is the only unsafe code in the capture path; every unsafe
//! block says why it is sound.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use crate::capture::filter::{self, BpfInsn, BpfProgram, FilterLink, FilterSpec};
use crate::capture::{LinkType, PacketSource};

/// How long [`Capture::recv`] blocks before returning `Ok(None)`, so the
/// daemon notices a stop request within this time.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Frames skipped (outgoing, not IP) in one `recv` call before it returns
/// `Ok(None)` anyway, so a busy host cannot starve the stop check.
const MAX_SKIPS_PER_RECV: usize = 64;

/// Name of the pseudo-interface that captures on every interface.
pub const ANY: &str = "any";

// `BpfInsn` is handed to the kernel as `struct sock_filter`.
const _: () = assert!(size_of::<BpfInsn>() == size_of::<libc::sock_filter>());
const _: () = assert!(align_of::<BpfInsn>() == align_of::<libc::sock_filter>());

/// A live capture on one interface.
#[derive(Debug)]
pub struct Capture {
    fd: OwnedFd,
    iface: String,
    link: LinkType,
}

/// One frame read by [`Capture::recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// How to parse the bytes (see [`parse_frame`](crate::capture::parse_frame)).
    pub link: LinkType,
    /// Bytes written to the caller's buffer.
    pub len: usize,
    /// Length of the frame as captured (after the filter's snap length);
    /// larger than `len` when the buffer was too small.
    pub orig_len: usize,
}

/// Kernel counters since the previous call (`PACKET_STATISTICS` resets them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CaptureStats {
    /// Frames that passed the filter (queued or dropped).
    pub packets: u32,
    /// Of those, frames dropped because the receive queue was full.
    pub drops: u32,
}

impl Capture {
    /// Opens a capture on `iface` (or [`ANY`]) that only receives the knock
    /// candidates described by `spec`.
    ///
    /// The socket is created in the calling thread's network namespace.
    /// Needs `CAP_NET_RAW`.
    pub fn open(iface: &str, spec: &FilterSpec) -> io::Result<Capture> {
        Self::open_inner(iface, Some(spec))
    }

    /// Opens a capture without a kernel filter: every incoming frame reaches
    /// user space. For measurements and diagnostics only; the daemon always
    /// uses [`Capture::open`].
    pub fn open_unfiltered(iface: &str) -> io::Result<Capture> {
        Self::open_inner(iface, None)
    }

    fn open_inner(iface: &str, spec: Option<&FilterSpec>) -> io::Result<Capture> {
        let context = |e: io::Error, what: &str| {
            io::Error::new(e.kind(), format!("capture on {iface}: {what}: {e}"))
        };
        let (ifindex, kind) = if iface == ANY {
            (0, FilterLink::Network)
        } else {
            let ifindex = interface_index(iface).map_err(|e| context(e, "interface"))?;
            let hatype = hardware_type(iface).map_err(|e| context(e, "hardware type"))?;
            let kind = match hatype {
                libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK => FilterLink::Ethernet,
                _ => FilterLink::Network,
            };
            (ifindex, kind)
        };
        let (sock_type, link) = match kind {
            FilterLink::Ethernet => (libc::SOCK_RAW, LinkType::Ethernet),
            FilterLink::Network => (libc::SOCK_DGRAM, LinkType::RawIp),
        };
        let fd = packet_socket(sock_type).map_err(|e| context(e, "socket"))?;
        if let Some(spec) = spec {
            let program = filter::build(spec, kind)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            attach_filter(fd.as_fd(), &program).map_err(|e| context(e, "SO_ATTACH_FILTER"))?;
        }
        drain(fd.as_fd()).map_err(|e| context(e, "drain"))?;
        set_recv_timeout(fd.as_fd(), POLL_INTERVAL).map_err(|e| context(e, "SO_RCVTIMEO"))?;
        set_recv_buffer(fd.as_fd()).map_err(|e| context(e, "SO_RCVBUF"))?;
        bind(fd.as_fd(), ifindex).map_err(|e| context(e, "bind"))?;
        Ok(Capture {
            fd,
            iface: iface.to_owned(),
            link,
        })
    }

    /// The interface name this capture was opened on.
    pub fn interface(&self) -> &str {
        &self.iface
    }

    /// Link type of every frame this capture returns.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Waits up to [`POLL_INTERVAL`] for an incoming frame and copies it into
    /// `buf` (2048 bytes hold any frame the filter lets through). `Ok(None)`
    /// means nothing arrived (or only skipped frames did): check the stop
    /// flag and call again.
    pub fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        self.recv_flags(buf, 0)
    }

    /// Like [`Capture::recv`] but never waits: `Ok(None)` when the queue is
    /// empty. For draining while the loop naps (see
    /// [`crate::capture::pacing`]).
    pub fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        self.recv_flags(buf, libc::MSG_DONTWAIT)
    }

    fn recv_flags(&mut self, buf: &mut [u8], flags: libc::c_int) -> io::Result<Option<Received>> {
        for _ in 0..MAX_SKIPS_PER_RECV {
            // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
            let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
            let mut addr_len = socklen_of::<libc::sockaddr_ll>();
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes and
            // `addr` for `addr_len` bytes; the kernel writes within those.
            // MSG_TRUNC only changes the return value to the full length.
            let n = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC | flags,
                    (&raw mut addr).cast(),
                    &mut addr_len,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(e),
                }
            }
            let orig_len = usize::try_from(n).unwrap_or(0);
            if matches!(
                addr.sll_pkttype,
                libc::PACKET_OUTGOING | libc::PACKET_OTHERHOST
            ) {
                continue;
            }
            if self.link == LinkType::RawIp
                && !matches!(
                    u16::from_be(addr.sll_protocol),
                    0x0800 /* IPv4 */ | 0x86dd /* IPv6 */
                )
            {
                continue;
            }
            return Ok(Some(Received {
                link: self.link,
                len: orig_len.min(buf.len()),
                orig_len,
            }));
        }
        Ok(None)
    }

    /// Reads and resets the kernel's counters for this socket.
    pub fn stats(&self) -> io::Result<CaptureStats> {
        // SAFETY: tpacket_stats is plain old data; all-zero is valid.
        let mut st: libc::tpacket_stats = unsafe { zeroed() };
        let mut len = socklen_of::<libc::tpacket_stats>();
        // SAFETY: `st` is valid for `len` bytes, which the kernel updates.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&raw mut st).cast(),
                &mut len,
            )
        };
        check(rc)?;
        Ok(CaptureStats {
            packets: st.tp_packets,
            drops: st.tp_drops,
        })
    }
}

/// The daemon can `poll(2)` several captures on these descriptors.
impl AsFd for Capture {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl PacketSource for Capture {
    fn name(&self) -> &str {
        &self.iface
    }

    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>> {
        Ok(self.recv(buf)?.map(|r| (r.link, r.len)))
    }

    fn try_next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>> {
        Ok(self.try_recv(buf)?.map(|r| (r.link, r.len)))
    }
}

/// Moves the calling thread (only it: network namespaces are per thread)
/// into the network namespace at `path`, e.g. `/var/run/netns/NAME`. Packet
/// sockets stay in the namespace of the thread that created them, so call
/// this before [`Capture::open`]. Used by the namespace tests.
pub fn enter_netns(path: &Path) -> io::Result<()> {
    let ns = File::open(path)?;
    // SAFETY: `ns` is an open namespace file for the duration of the call;
    // setns only changes this thread's namespace membership.
    check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) })
}

/// CPU time (user + system) used so far by the calling thread, to measure
/// what capture costs.
pub fn thread_cpu_time() -> io::Result<Duration> {
    // SAFETY: rusage is plain old data; all-zero is valid.
    let mut ru: libc::rusage = unsafe { zeroed() };
    // SAFETY: `ru` is a valid, writable rusage.
    check(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) })?;
    let tv = |t: libc::timeval| {
        Duration::new(
            u64::try_from(t.tv_sec).unwrap_or(0),
            u32::try_from(t.tv_usec).unwrap_or(0).saturating_mul(1000),
        )
    };
    Ok(tv(ru.ru_utime) + tv(ru.ru_stime))
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn socklen_of<T>() -> libc::socklen_t {
    // Socket structs are a few dozen bytes: always fits.
    libc::socklen_t::try_from(size_of::<T>()).unwrap_or(libc::socklen_t::MAX)
}

fn c_name(iface: &str) -> io::Result<CString> {
    if iface.is_empty() || iface.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interface names are 1 to 15 bytes",
        ));
    }
    CString::new(iface).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))
}

fn interface_index(iface: &str) -> io::Result<libc::c_int> {
    let name = c_name(iface)?;
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(io::Error::last_os_error());
    }
    libc::c_int::try_from(index).map_err(|_| io::Error::other("ifindex out of range"))
}

/// The device's `ARPHRD_*` type, via `SIOCGIFHWADDR` on a throwaway packet
/// socket, so it is looked up in the calling thread's namespace (sysfs would
/// show the namespace sysfs was mounted in).
fn hardware_type(iface: &str) -> io::Result<u16> {
    let probe = packet_socket(libc::SOCK_DGRAM)?;
    let name = c_name(iface)?;
    // SAFETY: ifreq is plain old data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.as_bytes_with_nul()) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq with a NUL-terminated name (c_name
    // checked it fits); SIOCGIFHWADDR writes only within it.
    check(unsafe { libc::ioctl(probe.as_raw_fd(), libc::SIOCGIFHWADDR, &raw mut req) })?;
    // SAFETY: SIOCGIFHWADDR fills the `ifru_hwaddr` member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_hwaddr.sa_family })
}

/// A packet socket with protocol 0: it receives nothing until `bind`.
fn packet_socket(sock_type: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_PACKET, sock_type | libc::SOCK_CLOEXEC, 0) };
    check(fd)?;
    // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn attach_filter(fd: BorrowedFd<'_>, program: &BpfProgram) -> io::Result<()> {
    let insns = program.instructions();
    let prog = libc::sock_fprog {
        len: u16::try_from(insns.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "filter too long"))?,
        // The kernel copies the program and never writes through this.
        filter: insns.as_ptr().cast_mut().cast(),
    };
    // SAFETY: `prog` points at `len` instructions laid out as sock_filter
    // (checked by the const asserts above) that outlive the call.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&raw const prog).cast(),
            socklen_of::<libc::sock_fprog>(),
        )
    })
}

/// Discards anything queued so far without blocking.
fn drain(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mut scratch = [0u8; 1];
    loop {
        // SAFETY: `scratch` is valid for 1 byte; MSG_TRUNC discards the rest.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                scratch.as_mut_ptr().cast(),
                scratch.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(()),
                io::ErrorKind::Interrupted => continue,
                _ => Err(e),
            };
        }
    }
}

/// Bytes of receive queue per capture socket. The default (~200 KiB, a few
/// hundred frames) overflows within milliseconds under a 100 kpps flood
/// at a knock port if the capture thread is descheduled, and an overflow
/// drops knocks as readily as junk. 8 MiB holds ~25 000 frames.
pub const RECV_BUFFER: usize = 8 << 20;

/// Sets the receive queue size: `SO_RCVBUFFORCE` (CAP_NET_ADMIN, which the
/// daemon has) ignores `net.core.rmem_max`; plain `SO_RCVBUF` is the fallback.
fn set_recv_buffer(fd: BorrowedFd<'_>) -> io::Result<()> {
    let size = libc::c_int::try_from(RECV_BUFFER).unwrap_or(libc::c_int::MAX);
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `size` is a valid c_int for the duration of the call.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&raw const size).cast(),
                socklen_of::<libc::c_int>(),
            )
        };
        if rc == 0 {
            return Ok(());
        }
    }
    Err(io::Error::last_os_error())
}

fn set_recv_timeout(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros()),
    };
    // SAFETY: `tv` is a valid timeval for the duration of the call.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            socklen_of::<libc::timeval>(),
        )
    })
}

/// Binds to `ifindex` (0 = every interface) for all protocols; from here
/// on frames that pass the filter are queued.
fn bind(fd: BorrowedFd<'_>, ifindex: libc::c_int) -> io::Result<()> {
    // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
    let mut addr: libc::sockaddr_ll = unsafe { zeroed() };
    addr.sll_family = libc::AF_PACKET as libc::c_ushort;
    addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    addr.sll_ifindex = ifindex;
    // SAFETY: `addr` is a valid sockaddr_ll of the length passed.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            socklen_of::<libc::sockaddr_ll>(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_interface_names_are_errors_not_panics() {
        let spec = FilterSpec::default();
        for name in ["", "a-name-that-is-way-too-long", "nul\0name"] {
            assert!(Capture::open(name, &spec).is_err(), "{name:?}");
        }
    }

    #[test]
    fn thread_cpu_time_is_monotonic() {
        let a = thread_cpu_time().expect("getrusage");
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let b = thread_cpu_time().expect("getrusage");
        assert!(b >= a);
    }
}
