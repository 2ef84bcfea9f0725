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
//! - the OS adapter, in `crate::platform` (Linux: an `AF_PACKET` socket
//!   per interface with that program attached,
//!   `platform::linux::capture`; Windows: WinDivert, `platform::windows`).
//!
//! The daemon loop reads frames through the [`PacketSource`] trait, so it can
//! be driven by [`ReplaySource`] or [`ChannelSource`] in tests instead of a
//! real interface.

use std::collections::VecDeque;
use std::io;
use std::sync::mpsc;
use std::time::Duration;

pub mod filter;
pub mod pacing;
pub mod parse;
pub mod windivert_filter;

#[cfg(test)]
mod fixtures;

pub use filter::{BpfInsn, BpfProgram, FilterError, FilterLink, FilterSpec};
pub use parse::parse_frame;

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
/// Implemented by the Linux capture, by [`ReplaySource`] and by
/// [`ChannelSource`]; the daemon polls it on a capture thread and checks its
/// stop flag whenever `Ok(None)` comes back, which is why implementations
/// must return within a short, bounded time.
pub trait PacketSource {
    /// What it captures on, for logs and errors (an interface name).
    fn name(&self) -> &str;

    /// Copies the next frame into `buf` and returns its link type and the
    /// number of bytes written, or `Ok(None)` when nothing arrived within the
    /// source's poll interval.
    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>>;

    /// Like [`next_frame`](Self::next_frame) but never waits: `Ok(None)`
    /// when nothing is queued. The capture loop drains with it while it
    /// naps under a flood (see [`pacing`]). The default waits like
    /// `next_frame`, which is right for sources that never block.
    fn try_next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>> {
        self.next_frame(buf)
    }
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
    fn name(&self) -> &str {
        "replay"
    }

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

/// A [`PacketSource`] fed through a channel: for driving the daemon loop
/// in tests while it runs, one frame at a time. Waits up to its poll
/// interval for a frame; a closed channel is simply silence.
#[derive(Debug)]
pub struct ChannelSource {
    name: String,
    frames: mpsc::Receiver<(LinkType, Vec<u8>)>,
    poll: Duration,
}

impl ChannelSource {
    /// A source named `name` and the sender that feeds it.
    pub fn new(name: &str) -> (mpsc::Sender<(LinkType, Vec<u8>)>, ChannelSource) {
        let (tx, frames) = mpsc::channel();
        let src = ChannelSource {
            name: name.to_owned(),
            frames,
            poll: Duration::from_millis(20),
        };
        (tx, src)
    }

    fn copy(frame: (LinkType, Vec<u8>), buf: &mut [u8]) -> Option<(LinkType, usize)> {
        let (link, bytes) = frame;
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Some((link, n))
    }
}

impl PacketSource for ChannelSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>> {
        match self.frames.recv_timeout(self.poll) {
            Ok(frame) => Ok(Self::copy(frame, buf)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // Nobody will feed it again: behave like a quiet interface.
                std::thread::sleep(self.poll);
                Ok(None)
            }
        }
    }

    fn try_next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>> {
        Ok(self.frames.try_recv().ok().and_then(|f| Self::copy(f, buf)))
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

    #[test]
    fn channel_source_delivers_what_is_sent_and_is_quiet_otherwise() {
        let (tx, mut src) = ChannelSource::new("chan0");
        let mut buf = [0u8; 8];
        assert_eq!(src.try_next_frame(&mut buf).expect("chan"), None);
        tx.send((LinkType::RawIp, vec![7; 3])).expect("send");
        assert_eq!(
            src.next_frame(&mut buf).expect("chan"),
            Some((LinkType::RawIp, 3))
        );
        assert_eq!(&buf[..3], &[7, 7, 7]);
        drop(tx);
        assert_eq!(src.next_frame(&mut buf).expect("chan"), None);
        assert_eq!(src.name(), "chan0");
    }
}
