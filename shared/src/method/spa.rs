//! Single-packet authorization: seal and open the SPA datagram
//! (protocol.md §3).
//!
//! Construction: XChaCha20-Poly1305 under the user's `spa-encrypt` subkey,
//! a random 24-byte nonce, and as associated data the domain string, the
//! server id and the clear header. The header starts with a key id that
//! rotates every 30 s (HMAC of the step under the `spa-key-id` subkey), so
//! the server finds the user with one hash lookup and no name is sent in
//! clear.

use crate::keys::{Purpose, SubKey, UserKey};
use crate::replay::Digest;
use crate::wire::spa::{self, AllowAddr, SpaPacket, SpaRequest, WireError};
use crate::{ServerId, Step, UnixTime};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::{Rng, RngCore};
use sha2::{Digest as _, Sha256};

/// Key ids rotate with this step (protocol.md §3.1).
pub const KEY_ID_STEP_SECS: u64 = 30;
/// Domain separation for the associated data (protocol.md §3.4).
const AAD_DOMAIN: &[u8] = b"postern-spa-v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpaError {
    #[error(transparent)]
    Wire(#[from] WireError),
    #[error("unknown key id")]
    UnknownKeyId,
    #[error("authentication failed (wrong key or server, or a changed byte)")]
    BadTag,
    #[error("clock skew {seconds:+} s exceeds the allowed {allowed} s")]
    Skew { seconds: i64, allowed: u64 },
}

/// Step-rotating key id: `HMAC(k_kid, "kid" || server_id || step_be)[0..8]`.
pub fn key_id(key: &UserKey, server: &ServerId, step: Step) -> [u8; 8] {
    key_id_from_subkey(&key.derive(Purpose::KeyId), server, step)
}

/// [`key_id`] from the already derived `spa-key-id` subkey (tables that
/// compute many steps derive it once per user).
pub fn key_id_from_subkey(k_kid: &SubKey, server: &ServerId, step: Step) -> [u8; 8] {
    let mac = k_kid.hmac(&[b"kid", &server.0, &step.0.to_be_bytes()]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&mac[..8]);
    id
}

fn aad(server: &ServerId, header: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(AAD_DOMAIN.len() + 16 + header.len());
    v.extend_from_slice(AAD_DOMAIN);
    v.extend_from_slice(&server.0);
    v.extend_from_slice(header);
    v
}

/// A packet length drawn from [`spa::PADDED_LEN`], or `needed` when larger.
/// Decoys use the same distribution so real and fake packets look alike.
pub fn padded_len(rng: &mut impl RngCore, needed: usize) -> usize {
    let drawn = rng.random_range(spa::PADDED_LEN);
    drawn.max(needed)
}

/// Seals `req` with a fresh nonce and random padding.
pub fn seal(
    key: &UserKey,
    server: &ServerId,
    req: &SpaRequest,
    rng: &mut impl RngCore,
) -> Result<Vec<u8>, SpaError> {
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut nonce);
    let needed = spa::field::HEADER_END + req.emitted_len() + spa::TAG_LEN;
    let total = padded_len(rng, needed);
    seal_with(key, server, req, nonce, total)
}

/// Deterministic core of [`seal`]: the nonce and the total packet length
/// are given (used by the test vectors).
pub fn seal_with(
    key: &UserKey,
    server: &ServerId,
    req: &SpaRequest,
    nonce: [u8; 24],
    total_len: usize,
) -> Result<Vec<u8>, SpaError> {
    let pt_len = total_len
        .checked_sub(spa::field::HEADER_END + spa::TAG_LEN)
        .ok_or(WireError::TooShort(total_len))?;
    if total_len > spa::MAX_PACKET {
        return Err(WireError::TooLong(total_len).into());
    }
    let mut plaintext = zeroize::Zeroizing::new(vec![0u8; pt_len]);
    req.emit(&mut plaintext)?;

    let step = UnixTime(req.timestamp).step(KEY_ID_STEP_SECS);
    let mut out = Vec::with_capacity(total_len);
    out.push(spa::VERSION);
    out.extend_from_slice(&key_id(key, server, step));
    out.extend_from_slice(&nonce);

    let cipher = cipher(key);
    let sealed = cipher
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: &plaintext,
                aad: &aad(server, &out),
            },
        )
        .map_err(|_| SpaError::BadTag)?;
    out.extend_from_slice(&sealed);
    Ok(out)
}

fn cipher(key: &UserKey) -> XChaCha20Poly1305 {
    let sub = key.derive(Purpose::SpaEncrypt);
    XChaCha20Poly1305::new(&sub.0.into())
}

/// Opens a packet whose key id the caller already matched to `key`.
/// Checks the tag before parsing anything inside.
pub fn open(
    key: &UserKey,
    server: &ServerId,
    packet: &SpaPacket<&[u8]>,
) -> Result<SpaRequest, SpaError> {
    let plaintext = zeroize::Zeroizing::new(
        cipher(key)
            .decrypt(
                &XNonce::from(packet.nonce()),
                Payload {
                    msg: packet.sealed(),
                    aad: &aad(server, packet.header()),
                },
            )
            .map_err(|_| SpaError::BadTag)?,
    );
    Ok(SpaRequest::parse(&plaintext)?)
}

/// Accepts a request timestamp only within `max_skew` seconds of `now`;
/// the error carries the measured skew so the log can say it plainly.
pub fn check_time(timestamp: u64, now: UnixTime, max_skew: u64) -> Result<(), SpaError> {
    let seconds = UnixTime(timestamp).skew_from(now);
    if seconds.unsigned_abs() > max_skew {
        return Err(SpaError::Skew {
            seconds,
            allowed: max_skew,
        });
    }
    Ok(())
}

/// What the replay cache remembers of an accepted packet: the first 16
/// bytes of SHA-256 over the whole datagram. Every byte is authenticated, so
/// an attacker cannot make a different-looking copy that still opens.
pub fn replay_digest(packet: &[u8]) -> Digest {
    let h = Sha256::digest(packet);
    let mut d = [0u8; 16];
    d.copy_from_slice(&h[..16]);
    Digest(d)
}

/// The address a valid request lets in: the explicit one if present,
/// otherwise the packet's source.
pub fn allowed_address(req: &SpaRequest, source: std::net::IpAddr) -> std::net::IpAddr {
    match req.allow {
        AllowAddr::Source => source,
        AllowAddr::Explicit(a) => a,
    }
}

/// Why an explicit address in a request can never be a real client's, if
/// it cannot. Such an address is refused, whoever sent it: a grant to
/// `0.0.0.0`/`::` could mean "everyone" to a firewall backend, one to
/// loopback lets in a local-only service, one to a multicast or broadcast
/// address opens the door to a group or a whole link, and an IPv4-mapped
/// IPv6 address (`::ffff:a.b.c.d`) could slip an IPv4 grant past checks
/// made for IPv6 ranges.
pub fn explicit_address_refusal(addr: std::net::IpAddr) -> Option<&'static str> {
    use std::net::IpAddr;
    if addr.is_unspecified() {
        return Some("unspecified");
    }
    if addr.is_loopback() {
        return Some("loopback");
    }
    if addr.is_multicast() {
        return Some("multicast");
    }
    match addr {
        IpAddr::V4(a) if a.is_broadcast() => Some("broadcast"),
        IpAddr::V6(a) if a.to_ipv4_mapped().is_some() => Some("IPv4-mapped"),
        _ => None,
    }
}

/// Whether an address is fit to be let in at all. A packet naming the
/// unspecified, loopback, multicast or broadcast address, or an IPv4-mapped
/// IPv6 one (which a firewall matches as neither family), could only open
/// the door for nobody or for the server itself: the server refuses it and
/// the client never embeds one.
pub fn is_grantable(a: std::net::IpAddr) -> bool {
    explicit_address_refusal(a).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Door, DoorProto};

    #[test]
    fn explicit_addresses_that_are_no_client_are_named() {
        let bad = [
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("::ffff:198.18.0.2", "IPv4-mapped"),
        ];
        for (a, why) in bad {
            let addr: std::net::IpAddr = a.parse().expect("addr");
            assert_eq!(explicit_address_refusal(addr), Some(why), "{a}");
        }
        for a in ["198.18.0.2", "fd00::2"] {
            assert_eq!(explicit_address_refusal(a.parse().expect("addr")), None);
        }
    }
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn req(ts: u64) -> SpaRequest {
        SpaRequest {
            timestamp: ts,
            duration: 60,
            allow: AllowAddr::Source,
            doors: vec![Door {
                proto: DoorProto::Tcp,
                port: 3389,
            }],
            action: None,
        }
    }

    fn open_bytes(key: &UserKey, server: &ServerId, b: &[u8]) -> Result<SpaRequest, SpaError> {
        open(key, server, &SpaPacket::new_checked(b)?)
    }

    #[test]
    fn round_trip_and_key_id_rotates() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let k = UserKey::generate(&mut rng);
        let s = ServerId::generate(&mut rng);
        let p = seal(&k, &s, &req(1000), &mut rng).expect("seal");
        assert!(spa::PADDED_LEN.contains(&p.len()));
        assert_eq!(open_bytes(&k, &s, &p), Ok(req(1000)));
        assert_eq!(&p[1..9], &key_id(&k, &s, Step(1000 / 30)));
        assert_ne!(key_id(&k, &s, Step(1)), key_id(&k, &s, Step(2)));
    }

    #[test]
    fn every_flipped_byte_is_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let k = UserKey::generate(&mut rng);
        let s = ServerId::generate(&mut rng);
        let p = seal(&k, &s, &req(5000), &mut rng).expect("seal");
        for i in 0..p.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = p.clone();
                t[i] ^= bit;
                let e = open_bytes(&k, &s, &t).expect_err("tampered packet must not open");
                if i == 0 {
                    assert!(matches!(e, SpaError::Wire(WireError::Version(_))));
                } else {
                    assert_eq!(e, SpaError::BadTag, "byte {i}");
                }
            }
        }
        // Truncation and extension are rejected too.
        assert!(open_bytes(&k, &s, &p[..p.len() - 1]).is_err());
        let mut longer = p.clone();
        longer.push(0);
        assert!(open_bytes(&k, &s, &longer).is_err());
    }

    #[test]
    fn wrong_key_or_server_is_rejected() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let k = UserKey::generate(&mut rng);
        let s = ServerId::generate(&mut rng);
        let p = seal(&k, &s, &req(5000), &mut rng).expect("seal");
        let other_key = UserKey::generate(&mut rng);
        let other_server = ServerId::generate(&mut rng);
        assert_eq!(open_bytes(&other_key, &s, &p), Err(SpaError::BadTag));
        assert_eq!(open_bytes(&k, &other_server, &p), Err(SpaError::BadTag));
    }

    #[test]
    fn skew_is_measured() {
        assert_eq!(check_time(1000, UnixTime(1030), 60), Ok(()));
        assert_eq!(
            check_time(1312, UnixTime(1000), 60),
            Err(SpaError::Skew {
                seconds: 312,
                allowed: 60
            })
        );
        let e = check_time(700, UnixTime(1000), 60).unwrap_err();
        assert_eq!(e.to_string(), "clock skew -300 s exceeds the allowed 60 s");
    }

    #[test]
    fn explicit_address_wins_over_source() {
        let src: std::net::IpAddr = "198.18.0.2".parse().expect("ip");
        let a: std::net::IpAddr = "198.18.0.9".parse().expect("ip");
        let mut r = req(0);
        assert_eq!(allowed_address(&r, src), src);
        r.allow = AllowAddr::Explicit(a);
        assert_eq!(allowed_address(&r, src), a);
    }

    #[test]
    fn only_unicast_addresses_are_grantable() {
        for bad in [
            "0.0.0.0",
            "127.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "ff02::1",
            "::ffff:198.18.0.1",
        ] {
            assert!(!is_grantable(bad.parse().expect("addr")), "{bad}");
        }
        for good in ["198.18.0.1", "192.168.1.2", "fd00::1", "2001:db8::1"] {
            assert!(is_grantable(good.parse().expect("addr")), "{good}");
        }
    }
}
