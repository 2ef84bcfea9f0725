//! Key material: per-user secrets, the subkeys derived from them, and the
//! server identity every packet is bound to.
//!
//! One 32-byte user key is never used directly: HKDF-SHA256 separates it
//! into one subkey per purpose (protocol.md §2), so a weakness in how one
//! method uses its key cannot leak into another.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// HKDF salt for every subkey (protocol.md §2).
const HKDF_SALT: &[u8] = b"postern/v1";

/// What a subkey is for; the `info` string of HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// XChaCha20-Poly1305 key for SPA payloads.
    SpaEncrypt,
    /// HMAC key for the rotating SPA key id.
    KeyId,
    /// HMAC key for dynamic knock sequences.
    DynamicSequence,
    /// HMAC key for keyed SYN tokens.
    SynToken,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::SpaEncrypt => b"spa-encrypt",
            Purpose::KeyId => b"spa-key-id",
            Purpose::DynamicSequence => b"dynamic-sequence",
            Purpose::SynToken => b"syn-token",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("a key must be 32 bytes of base64 (44 characters), got {0} bytes")]
    UserKeyLength(usize),
    #[error("a server id must be 16 bytes written as 32 hex digits")]
    ServerIdFormat,
    #[error("not valid base64")]
    Base64,
}

/// A user's 32-byte secret, shared by the user's client and the server.
/// Zeroized on drop; `Debug` never prints it.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct UserKey([u8; 32]);

/// A derived 32-byte subkey. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SubKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for UserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserKey(<secret>)")
    }
}

impl std::fmt::Debug for SubKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubKey(<secret>)")
    }
}

impl UserKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        UserKey(bytes)
    }

    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        UserKey(b)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Standard base64, the form keys take in config files and profiles.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    pub fn from_base64(s: &str) -> Result<Self, KeyError> {
        let mut v = B64.decode(s.trim()).map_err(|_| KeyError::Base64)?;
        let out = <[u8; 32]>::try_from(v.as_slice())
            .map(UserKey)
            .map_err(|_| KeyError::UserKeyLength(v.len()));
        v.zeroize();
        out
    }

    /// HKDF-SHA256(salt = "postern/v1", ikm = key, info = purpose), 32 bytes.
    pub fn derive(&self, purpose: Purpose) -> SubKey {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), &self.0);
        let mut out = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
        #[allow(clippy::expect_used)]
        hk.expand(purpose.info(), &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        SubKey(out)
    }
}

impl SubKey {
    /// The raw subkey (test vectors, interop tests).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256 over the concatenation of `parts`.
    pub fn hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        hmac_sha256(&self.0, parts)
    }
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    #[allow(clippy::expect_used)]
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl Serialize for UserKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for UserKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = zeroize::Zeroizing::new(String::deserialize(d)?);
        UserKey::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

/// The server's identity: 16 random bytes chosen at `posternd init`.
/// Every SPA packet and every derived knock is bound to it, so a packet
/// captured at one server is worthless at another.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServerId(pub [u8; 16]);

impl ServerId {
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        ServerId(b)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let v = hex::decode(s.trim()).map_err(|_| KeyError::ServerIdFormat)?;
        <[u8; 16]>::try_from(v.as_slice())
            .map(ServerId)
            .map_err(|_| KeyError::ServerIdFormat)
    }
}

impl std::fmt::Debug for ServerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerId({})", self.to_hex())
    }
}

impl std::fmt::Display for ServerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for ServerId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for ServerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ServerId::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subkeys_differ_per_purpose() {
        let k = UserKey::from_bytes([7; 32]);
        let a = k.derive(Purpose::SpaEncrypt).0;
        let b = k.derive(Purpose::KeyId).0;
        let c = k.derive(Purpose::DynamicSequence).0;
        let d = k.derive(Purpose::SynToken).0;
        assert!(a != b && a != c && a != d && b != c && b != d && c != d);
    }

    #[test]
    fn encodings_round_trip_and_reject_bad_lengths() {
        let k = UserKey::from_bytes([9; 32]);
        assert_eq!(UserKey::from_base64(&k.to_base64()), Ok(k));
        assert_eq!(
            UserKey::from_base64("AAAA"),
            Err(KeyError::UserKeyLength(3))
        );
        assert_eq!(UserKey::from_base64("!!"), Err(KeyError::Base64));
        let id = ServerId([3; 16]);
        assert_eq!(ServerId::from_hex(&id.to_hex()), Ok(id));
        assert_eq!(ServerId::from_hex("abcd"), Err(KeyError::ServerIdFormat));
        assert_eq!(
            format!("{:?}", UserKey::from_bytes([1; 32])),
            "UserKey(<secret>)"
        );
    }
}
