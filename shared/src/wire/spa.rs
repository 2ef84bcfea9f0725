//! The SPA datagram (protocol.md §3.2) and its plaintext payload (§3.3).
//!
//! ```text
//! 0      1      9                        33               33+n        33+n+16
//! +------+------+------------------------+----------------+-----------+
//! | ver  |key id|        nonce           |  ciphertext n  |  tag 16   |
//! +------+------+------------------------+----------------+-----------+
//! ```

use crate::wire::door::{Door, DoorProto};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Byte ranges of the header, in one place.
pub(crate) mod field {
    use std::ops::Range;
    pub const VERSION: usize = 0;
    pub const KEY_ID: Range<usize> = 1..9;
    pub const NONCE: Range<usize> = 9..33;
    pub const HEADER_END: usize = 33;
}

/// The only version this crate speaks.
pub const VERSION: u8 = 1;
/// Length of the Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// Smallest plaintext: timestamp, duration, "use source", one door, no action.
pub const MIN_PLAINTEXT: usize = 8 + 4 + 1 + 1 + 3 + 1;
/// Smallest and largest packet on the wire.
pub const MIN_PACKET: usize = field::HEADER_END + MIN_PLAINTEXT + TAG_LEN;
pub const MAX_PACKET: usize = 512;
/// Packets are padded to a length drawn uniformly from this range (or to
/// the needed length when that is larger), and decoys use the same range.
pub const PADDED_LEN: std::ops::RangeInclusive<usize> = 128..=256;
/// At most this many doors per request.
pub const MAX_DOORS: usize = 16;
/// At most this many bytes of action name.
pub const MAX_ACTION: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("packet of {0} bytes is too short")]
    TooShort(usize),
    #[error("packet of {0} bytes is too long")]
    TooLong(usize),
    #[error("unknown version {0}")]
    Version(u8),
    #[error("malformed payload: {0}")]
    Malformed(&'static str),
}

/// A length-checked view of an SPA datagram.
#[derive(Debug, Clone, Copy)]
pub struct SpaPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SpaPacket<T> {
    /// Checks length and version; every accessor is panic-free afterwards.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < MIN_PACKET {
            return Err(WireError::TooShort(b.len()));
        }
        if b.len() > MAX_PACKET {
            return Err(WireError::TooLong(b.len()));
        }
        if b[field::VERSION] != VERSION {
            return Err(WireError::Version(b[field::VERSION]));
        }
        Ok(SpaPacket { buffer })
    }

    pub fn key_id(&self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out.copy_from_slice(&self.buffer.as_ref()[field::KEY_ID]);
        out
    }

    pub fn nonce(&self) -> [u8; 24] {
        let mut out = [0u8; 24];
        out.copy_from_slice(&self.buffer.as_ref()[field::NONCE]);
        out
    }

    /// Version, key id and nonce: authenticated as associated data.
    pub fn header(&self) -> &[u8] {
        &self.buffer.as_ref()[..field::HEADER_END]
    }

    /// Ciphertext followed by the 16-byte tag.
    pub fn sealed(&self) -> &[u8] {
        &self.buffer.as_ref()[field::HEADER_END..]
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// Which address the server should let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowAddr {
    /// The source address of the packet as the server sees it.
    Source,
    /// This address (e.g. the client's public address behind NAT).
    Explicit(IpAddr),
}

/// The decrypted content of an SPA packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaRequest {
    /// When the client built the packet (Unix seconds).
    pub timestamp: u64,
    /// Seconds the client asks the doors to stay open (the server caps it).
    pub duration: u32,
    pub allow: AllowAddr,
    pub doors: Vec<Door>,
    /// Optional named action the server may run (e.g. "wake-rdp").
    pub action: Option<String>,
}

impl SpaRequest {
    /// Plaintext length without padding.
    pub fn emitted_len(&self) -> usize {
        let addr = match self.allow {
            AllowAddr::Source => 0,
            AllowAddr::Explicit(IpAddr::V4(_)) => 4,
            AllowAddr::Explicit(IpAddr::V6(_)) => 16,
        };
        8 + 4
            + 1
            + addr
            + 1
            + 3 * self.doors.len()
            + 1
            + self.action.as_ref().map_or(0, String::len)
    }

    /// Checks what `emit` cannot represent.
    pub fn validate(&self) -> Result<(), WireError> {
        if self.doors.is_empty() {
            return Err(WireError::Malformed("no door requested"));
        }
        if self.doors.len() > MAX_DOORS {
            return Err(WireError::Malformed("more than 16 doors"));
        }
        if self.action.as_ref().is_some_and(|a| a.len() > MAX_ACTION) {
            return Err(WireError::Malformed("action name longer than 64 bytes"));
        }
        Ok(())
    }

    /// Writes the plaintext (protocol.md §3.3) into `buf`, which must be
    /// `emitted_len()` bytes or longer; the rest of `buf` is zero padding.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        self.validate()?;
        if buf.len() < self.emitted_len() {
            return Err(WireError::TooShort(buf.len()));
        }
        let mut w = Writer { buf, at: 0 };
        w.put(&self.timestamp.to_be_bytes());
        w.put(&self.duration.to_be_bytes());
        match self.allow {
            AllowAddr::Source => w.put(&[0]),
            AllowAddr::Explicit(IpAddr::V4(a)) => {
                w.put(&[4]);
                w.put(&a.octets());
            }
            AllowAddr::Explicit(IpAddr::V6(a)) => {
                w.put(&[6]);
                w.put(&a.octets());
            }
        }
        // validate() bounds both counts below 256.
        w.put(&[self.doors.len() as u8]);
        for d in &self.doors {
            w.put(&[d.proto.number()]);
            w.put(&d.port.to_be_bytes());
        }
        let action = self.action.as_deref().unwrap_or("");
        w.put(&[action.len() as u8]);
        w.put(action.as_bytes());
        let at = w.at;
        buf[at..].fill(0);
        Ok(())
    }

    /// Parses a plaintext. Padding must be zero bytes.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader { buf, at: 0 };
        let timestamp = u64::from_be_bytes(r.array()?);
        let duration = u32::from_be_bytes(r.array()?);
        let allow = match r.byte()? {
            0 => AllowAddr::Source,
            4 => AllowAddr::Explicit(IpAddr::V4(Ipv4Addr::from(r.array::<4>()?))),
            6 => AllowAddr::Explicit(IpAddr::V6(Ipv6Addr::from(r.array::<16>()?))),
            _ => return Err(WireError::Malformed("unknown address kind")),
        };
        let n = usize::from(r.byte()?);
        if n == 0 || n > MAX_DOORS {
            return Err(WireError::Malformed("door count must be 1 to 16"));
        }
        let mut doors = Vec::with_capacity(n);
        for _ in 0..n {
            let proto = DoorProto::from_number(r.byte()?)
                .ok_or(WireError::Malformed("door protocol must be 6 or 17"))?;
            let port = u16::from_be_bytes(r.array()?);
            if port == 0 {
                return Err(WireError::Malformed("door port 0"));
            }
            doors.push(Door { proto, port });
        }
        let alen = usize::from(r.byte()?);
        if alen > MAX_ACTION {
            return Err(WireError::Malformed("action name longer than 64 bytes"));
        }
        let action = match r.take(alen)? {
            [] => None,
            a => Some(
                std::str::from_utf8(a)
                    .map_err(|_| WireError::Malformed("action name is not UTF-8"))?
                    .to_owned(),
            ),
        };
        if r.rest().iter().any(|&b| b != 0) {
            return Err(WireError::Malformed("non-zero padding"));
        }
        Ok(SpaRequest {
            timestamp,
            duration,
            allow,
            doors,
            action,
        })
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    /// Callers check the total length first (`emitted_len`).
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(WireError::Malformed("payload ends early"))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn rest(&self) -> &'a [u8] {
        &self.buf[self.at..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> SpaRequest {
        SpaRequest {
            timestamp: 1_790_000_000,
            duration: 30,
            allow: AllowAddr::Explicit(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2))),
            doors: vec![
                Door {
                    proto: DoorProto::Tcp,
                    port: 22,
                },
                Door {
                    proto: DoorProto::Udp,
                    port: 51820,
                },
            ],
            action: Some("wake".into()),
        }
    }

    #[test]
    fn emit_writes_every_byte() {
        // Like smoltcp's test_emit: a 0xa5-filled buffer shows any byte the
        // encoder forgot to write.
        let req = sample();
        let mut buf = vec![0xa5u8; req.emitted_len() + 7];
        req.emit(&mut buf).expect("emit");
        assert!(buf[req.emitted_len()..].iter().all(|&b| b == 0));
        assert_eq!(SpaRequest::parse(&buf), Ok(req));
    }

    #[test]
    fn rejects_malformed() {
        let req = sample();
        let mut buf = vec![0u8; req.emitted_len() + 4];
        req.emit(&mut buf).expect("emit");
        let last = buf.len() - 1;
        buf[last] = 1;
        assert_eq!(
            SpaRequest::parse(&buf),
            Err(WireError::Malformed("non-zero padding"))
        );
        assert!(SpaRequest::parse(&buf[..10]).is_err());
        assert_eq!(
            SpaPacket::new_checked(&[1u8; 10][..]).unwrap_err(),
            WireError::TooShort(10)
        );
        assert_eq!(
            SpaPacket::new_checked(&[2u8; 100][..]).unwrap_err(),
            WireError::Version(2)
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = SpaRequest::parse(&bytes);
            let _ = SpaPacket::new_checked(&bytes[..]).map(|p| (p.key_id(), p.nonce(), p.sealed().len()));
        }

        #[test]
        fn round_trip(ts in any::<u64>(), dur in any::<u32>(), v6 in any::<[u8; 16]>(), kind in 0u8..3,
                      doors in proptest::collection::vec((any::<bool>(), 1u16..), 1..=MAX_DOORS),
                      action in proptest::option::of("[a-z-]{1,64}"), pad in 0usize..40) {
            let allow = match kind {
                0 => AllowAddr::Source,
                1 => AllowAddr::Explicit(IpAddr::V4(Ipv4Addr::new(v6[0], v6[1], v6[2], v6[3]))),
                _ => AllowAddr::Explicit(IpAddr::V6(Ipv6Addr::from(v6))),
            };
            let req = SpaRequest {
                timestamp: ts, duration: dur, allow,
                doors: doors.into_iter().map(|(t, port)| Door { proto: if t { DoorProto::Tcp } else { DoorProto::Udp }, port }).collect(),
                action,
            };
            let mut buf = vec![0xa5u8; req.emitted_len() + pad];
            req.emit(&mut buf).expect("emit");
            prop_assert_eq!(SpaRequest::parse(&buf), Ok(req));
        }
    }
}
