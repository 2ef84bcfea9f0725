//! Capture adapters: frames in, [`Packet`](crate::packet::Packet)s out.
//!
//! Four pieces, split so that only one of them touches the OS:
//!
//! - [`parse`] (pure): untrusted frame bytes → `Option<Packet>`. Everything
//!   that is not a knock candidate, or is malformed, is `None`; it never panics.
//! - [`filter`] (pure): builds the classic BPF program the kernel runs on every
//!   frame, so only knock candidates are copied to user space (DESIGN.md §4:
//!   a busy host pays nothing for traffic it is not interested in).
//! - [`pacing`] (pure): when the capture loop naps instead of asking to be
//!   woken for every frame, so a flood does not cost a wake-up per packet.
//! - `linux` (adapter, Linux only): an `AF_PACKET` socket per interface with
//!   that program attached. It is the only unsafe code of the capture path.
//!
//! The daemon loop reads frames through the [`PacketSource`] trait, so it can
//! be driven by [`ReplaySource`] in tests instead of a real interface.

use std::collections::VecDeque;
use std::io;

pub mod filter;
pub mod pacing;
pub mod parse;

#[cfg(target_os = "linux")]
pub mod linux;

#[cfg(test)]
mod fixtures;

pub use filter::{BpfInsn, BpfProgram, FilterError, FilterLink, FilterSpec};
pub use parse::parse_frame;

#[cfg(target_os = "linux")]
pub use linux::{Capture, Received, open_all};

/// How a captured frame begins, i.e. where the IP header is.
///
/// Names follow the pcap `LINKTYPE_*` registry so that frames from pcap files
/// can be fed through the same parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// Ethernet II, optionally with one (or, leniently, two) 802.1Q tags.
    /// Linux loopback also delivers this, with all-zero MAC addresses.
    Ethernet,
    /// Linux "cooked" capture v1 (`LINKTYPE_LINUX_SLL`, 16-byte header).
    LinuxSll,
    /// Linux "cooked" capture v2 (`LINKTYPE_LINUX_SLL2`, 20-byte header).
    LinuxSll2,
    /// No link header: the frame starts with the IPv4 or IPv6 header (tun
    /// devices, `SOCK_DGRAM` packet sockets, the "any" pseudo-interface).
    RawIp,
}

/// A source of captured frames, one frame per call.
///
/// Implemented by the Linux `Capture` and by [`ReplaySource`]; the daemon
/// polls it and checks its stop flag whenever `Ok(None)` comes back, which is
/// why implementations must return within a short, bounded time.
pub trait PacketSource {
    /// Copies the next frame into `buf` and returns its link type and the
    /// number of bytes written, or `Ok(None)` when nothing arrived within the
    /// source's poll interval.
    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>>;
}

/// A [`PacketSource`] that replays frames from memory: for tests of the
/// daemon loop and for feeding recorded traffic through the real parser.
#[derive(Debug, Clone, Default)]
pub struct ReplaySource {
    frames: VecDeque<(LinkType, Vec<u8>)>,
}

impl ReplaySource {
    /// A source that yields `frames` in order, then `Ok(None)` forever.
    pub fn new(frames: impl IntoIterator<Item = (LinkType, Vec<u8>)>) -> Self {
        Self {
            frames: frames.into_iter().collect(),
        }
    }

    /// Queues one more frame after those already queued.
    pub fn push(&mut self, link: LinkType, frame: Vec<u8>) {
        self.frames.push_back((link, frame));
    }

    /// Number of frames not yet read.
    pub fn remaining(&self) -> usize {
        self.frames.len()
    }
}

impl PacketSource for ReplaySource {
    /// Truncates frames longer than `buf`, as a capture with a small snap
    /// length would.
    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>> {
        let Some((link, frame)) = self.frames.pop_front() else {
            return Ok(None);
        };
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Ok(Some((link, n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_source_yields_in_order_then_none() {
        let mut src = ReplaySource::new([(LinkType::RawIp, vec![1, 2, 3])]);
        src.push(LinkType::Ethernet, vec![9; 10]);
        let mut buf = [0u8; 4];
        assert_eq!(
            src.next_frame(&mut buf).expect("replay"),
            Some((LinkType::RawIp, 3))
        );
        assert_eq!(&buf[..3], &[1, 2, 3]);
        // Truncated to the buffer, like a short snap length.
        assert_eq!(
            src.next_frame(&mut buf).expect("replay"),
            Some((LinkType::Ethernet, 4))
        );
        assert_eq!(src.next_frame(&mut buf).expect("replay"), None);
        assert_eq!(src.remaining(), 0);
    }
}
