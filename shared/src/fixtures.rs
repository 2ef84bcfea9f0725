//! Test fixtures: a fixed test key and server id, the protocol.md §10 test
//! vectors, and one deterministic SPA sealer, shared by the tests, benches
//! and fuzz targets of every Postern crate.
//!
//! **Never enable this in a production build.** It exists only behind the
//! `fixtures` cargo feature, which is off by default; turn it on from
//! `[dev-dependencies]` (or in the fuzz crate), never from
//! `[dependencies]`:
//!
//! ```toml
//! [dev-dependencies]
//! postern-proto = { workspace = true, features = ["fixtures"] }
//! ```
//!
//! Every key in here is published, and the sealer derives its nonces from a
//! seed, so anything it seals is forgeable and replayable by anyone. That is
//! what makes a test reproducible, and exactly what a real client must not
//! do (it seals with [`spa::seal`] and the OS random generator).
//!
//! Only the SPA payload is built here. Wrapping it in an IPv4/UDP frame is
//! the capture side's business, and this crate stays free of packet-frame
//! code: callers that need a frame build it with their own `etherparse`.

use crate::method::spa;
use crate::wire::spa::{AllowAddr, SpaRequest};
use crate::wire::{Door, DoorProto};
use crate::{ServerId, UserKey};
use rand::SeedableRng;

/// The server id most tests use, as it is written in a config file.
pub const TEST_SERVER_ID_HEX: &str = "00112233445566778899aabbccddeeff";

/// The user key most tests knock with: 32 bytes of `0x01`.
pub fn test_key() -> UserKey {
    UserKey::from_bytes([1; 32])
}

/// [`TEST_SERVER_ID_HEX`] as a [`ServerId`].
pub fn test_server_id() -> ServerId {
    ServerId(std::array::from_fn(|i| 0x11 * i as u8))
}

/// One SPA knock to seal: whose key seals it, for which server, and what
/// it asks for. Fields are public so a test can change just what it is
/// about: `SpaFixture { key: other, ..SpaFixture::ssh(ts) }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaFixture {
    pub key: UserKey,
    pub server_id: ServerId,
    pub request: SpaRequest,
}

impl SpaFixture {
    /// The knock most tests need: [`test_key`] knocking [`test_server_id`]
    /// at `timestamp` (Unix seconds) for 22/tcp, 30 seconds, opened for the
    /// sender's own address, no action.
    pub fn ssh(timestamp: u64) -> Self {
        SpaFixture {
            key: test_key(),
            server_id: test_server_id(),
            request: one_door(timestamp, 30, 22),
        }
    }

    /// Seals the request with its nonce and padding drawn from ChaCha20
    /// seeded with `seed`: the same fixture and seed give the same bytes on
    /// every run and every machine, and a new seed gives a new packet (a
    /// new nonce, so the replay cache sees a different knock).
    ///
    /// # Panics
    /// If the request does not fit one packet; a fixture that cannot seal
    /// is a broken test.
    #[must_use]
    pub fn seal(&self, seed: u64) -> Vec<u8> {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
        spa::seal(&self.key, &self.server_id, &self.request, &mut rng)
            .expect("a fixture request fits one SPA packet")
    }

    /// Seals with this exact nonce to exactly `len` bytes (the form the
    /// protocol.md vectors are given in).
    ///
    /// # Panics
    /// If `len` cannot hold the request or exceeds the largest packet.
    #[must_use]
    pub fn seal_with(&self, nonce: [u8; 24], len: usize) -> Vec<u8> {
        spa::seal_with(&self.key, &self.server_id, &self.request, nonce, len)
            .expect("a fixture request fits the given length")
    }
}

/// A request for one TCP door, opened for the sender's own address, with
/// no action.
fn one_door(timestamp: u64, duration: u32, port: u16) -> SpaRequest {
    SpaRequest {
        timestamp,
        duration,
        allow: AllowAddr::Source,
        doors: vec![Door {
            proto: DoorProto::Tcp,
            port,
        }],
        action: None,
    }
}

/// The inputs of the protocol.md §10 test vectors. `shared/tests/
/// protocol_vectors.rs` checks them, and the packets they seal to, against
/// the document, so these cannot drift from the specification.
pub mod vectors {
    use super::{SpaFixture, one_door};
    use crate::wire::spa::{AllowAddr, SpaRequest};
    use crate::wire::{Door, DoorProto};
    use crate::{ServerId, UserKey};
    use std::net::{IpAddr, Ipv6Addr};

    /// User key: bytes `00 01 … 1f`.
    pub fn key() -> UserKey {
        UserKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    /// Server id: bytes `a0 a1 … af`.
    pub fn server_id() -> ServerId {
        ServerId(std::array::from_fn(|i| 0xa0 + i as u8))
    }

    /// Timestamp of every vector: 1800000000.
    pub const TIMESTAMP: u64 = 1_800_000_000;

    /// Nonce of both SPA vectors: bytes `40 41 … 57`.
    pub fn nonce() -> [u8; 24] {
        std::array::from_fn(|i| 0x40 + i as u8)
    }

    /// Length SPA 1 is padded to.
    pub const SPA1_LEN: usize = 128;
    /// Length SPA 2 is padded to.
    pub const SPA2_LEN: usize = 160;

    /// SPA 1: 22/tcp for 30 s, for the sender's own address, no action.
    pub fn spa1() -> SpaFixture {
        SpaFixture {
            key: key(),
            server_id: server_id(),
            request: one_door(TIMESTAMP, 30, 22),
        }
    }

    /// SPA 2: 3389/tcp and 3389/udp for 120 s, for `fd00::2`, action
    /// "wake".
    pub fn spa2() -> SpaFixture {
        SpaFixture {
            key: key(),
            server_id: server_id(),
            request: SpaRequest {
                timestamp: TIMESTAMP,
                duration: 120,
                allow: AllowAddr::Explicit(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2))),
                doors: vec![
                    Door {
                        proto: DoorProto::Tcp,
                        port: 3389,
                    },
                    Door {
                        proto: DoorProto::Udp,
                        port: 3389,
                    },
                ],
                action: Some("wake".into()),
            },
        }
    }

    /// The two SPA datagrams printed in protocol.md §10.
    pub fn packets() -> [Vec<u8>; 2] {
        [
            spa1().seal_with(nonce(), SPA1_LEN),
            spa2().seal_with(nonce(), SPA2_LEN),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::spa::SpaPacket;

    fn open(f: &SpaFixture, bytes: &[u8]) -> SpaRequest {
        let packet = SpaPacket::new_checked(bytes).expect("checked");
        spa::open(&f.key, &f.server_id, &packet).expect("opens")
    }

    #[test]
    fn the_test_server_id_is_the_one_configs_spell_out() {
        assert_eq!(
            ServerId::from_hex(TEST_SERVER_ID_HEX).expect("hex"),
            test_server_id()
        );
    }

    #[test]
    fn sealing_is_a_function_of_the_seed_and_opens_to_the_request() {
        let f = SpaFixture::ssh(vectors::TIMESTAMP);
        let a = f.seal(1);
        assert_eq!(a, f.seal(1), "same seed, same bytes");
        let b = f.seal(2);
        assert_ne!(a[9..33], b[9..33], "another seed, another nonce");
        assert_eq!(open(&f, &a), f.request);
        assert_eq!(open(&f, &b), f.request);
    }

    #[test]
    fn a_changed_key_seals_for_that_key_only() {
        let f = SpaFixture {
            key: UserKey::from_bytes([7; 32]),
            ..SpaFixture::ssh(vectors::TIMESTAMP)
        };
        let bytes = f.seal(1);
        assert_eq!(open(&f, &bytes), f.request);
        let packet = SpaPacket::new_checked(bytes.as_slice()).expect("checked");
        assert!(spa::open(&test_key(), &f.server_id, &packet).is_err());
    }

    #[test]
    fn vector_packets_have_their_lengths_and_open() {
        let [p1, p2] = vectors::packets();
        assert_eq!((p1.len(), p2.len()), (vectors::SPA1_LEN, vectors::SPA2_LEN));
        assert_eq!(open(&vectors::spa1(), &p1), vectors::spa1().request);
        assert_eq!(open(&vectors::spa2(), &p2), vectors::spa2().request);
    }
}

/// The packets captured from Debian's fwknop client
/// (`method::fwknop::captured`), and their keys as [`FwknopKeys`].
///
/// [`FwknopKeys`]: crate::method::fwknop::FwknopKeys
pub mod fwknop {
    pub use crate::method::fwknop::captured::*;
    use crate::method::fwknop::{FwknopKeys, HmacType};

    /// The captured packets' keys, with the HMAC type `h`.
    pub fn keys(h: HmacType) -> FwknopKeys {
        FwknopKeys::from_base64(KEY_B64, HMAC_B64, h).expect("the fixture keys are valid")
    }

    /// Every captured packet with the HMAC type it was made with.
    pub fn packets() -> [(&'static str, HmacType); 4] {
        [
            (ACCESS, HmacType::Sha256),
            (TIMEOUT, HmacType::Sha256),
            (COMMAND, HmacType::Sha256),
            (SHA512_HMAC, HmacType::Sha512),
        ]
    }
}
