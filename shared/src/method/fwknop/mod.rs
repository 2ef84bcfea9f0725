//! fwknop 2.6 single packet authorization (protocol.md §11), both halves,
//! so that `posternd` takes packets from fwknop clients and Postern can
//! knock fwknopd servers.
//!
//! A packet is built in three layers, each in its own module:
//! - [`message`]: the colon-separated fields and their SHA-256 (or
//!   SHA-512) digest;
//! - [`crypt`]: AES-256-CBC with OpenSSL's salted framing, base64, and an
//!   HMAC over that base64;
//! - here: putting them together, and the prefix fwknop strips (every
//!   packet would start with the same 10 characters, `U2FsdGVkX1`).
//!
//! Only Rijndael + HMAC packets are handled: fwknop's GnuPG mode and
//! packets without an HMAC (which fwknopd itself warns against) are not.
//! Checking the time and the replay cache is the caller's job, like for
//! Postern's own SPA.

#[cfg(any(test, feature = "fixtures"))]
pub mod captured;
mod crypt;
mod message;
#[cfg(test)]
mod tests;

use crate::replay::Digest;
use crate::wire::door::Door;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use std::net::IpAddr;
use zeroize::Zeroizing;

/// fwknopd's bounds on a packet (server/fwknopd_common.h): shorter is not
/// SPA data, longer does not fit its buffer.
pub const MIN_PACKET: usize = 140;
pub const MAX_PACKET: usize = 1500;
/// fwknop's default UDP port, which its clients send to.
pub const DEFAULT_PORT: u16 = 62201;
/// The protocol version fwknop 2.6 writes.
pub const PROTOCOL_VERSION: &str = "3.0.0";
/// fwknop's largest Rijndael key, in bytes.
pub const MAX_KEY: usize = 32;
/// fwknop's largest HMAC key, in bytes (one SHA-512 block).
pub const MAX_HMAC_KEY: usize = 128;

/// The HMAC fwknop appends (`--hmac-digest-type`; SHA-256 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HmacType {
    #[default]
    Sha256,
    Sha512,
}

impl HmacType {
    /// Length of the tag in fwknop's unpadded base64.
    pub fn b64_len(self) -> usize {
        match self {
            HmacType::Sha256 => 43,
            HmacType::Sha512 => 86,
        }
    }

    /// The name fwknop's configuration files use (`HMAC_DIGEST_TYPE`).
    pub fn parse(name: &str) -> Option<HmacType> {
        match name.to_ascii_lowercase().as_str() {
            "sha256" => Some(HmacType::Sha256),
            "sha512" => Some(HmacType::Sha512),
            _ => None,
        }
    }
}

/// The digest inside the message (`--digest-type`; SHA-256 by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigestType {
    #[default]
    Sha256,
    Sha512,
}

/// A user's two fwknop keys, as `fwknop --key-gen` prints them
/// (`KEY_BASE64`, `HMAC_KEY_BASE64`). Zeroized on drop; `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct FwknopKeys {
    enc: Zeroizing<Vec<u8>>,
    hmac: Zeroizing<Vec<u8>>,
    pub hmac_type: HmacType,
}

impl std::fmt::Debug for FwknopKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FwknopKeys")
            .field("hmac_type", &self.hmac_type)
            .finish_non_exhaustive()
    }
}

impl FwknopKeys {
    /// Keys from their raw bytes; fwknop's length limits apply.
    pub fn new(enc: &[u8], hmac: &[u8], hmac_type: HmacType) -> Result<Self, FwknopError> {
        if enc.is_empty() || enc.len() > MAX_KEY {
            return Err(FwknopError::KeyLength("Rijndael", MAX_KEY));
        }
        if hmac.is_empty() || hmac.len() > MAX_HMAC_KEY {
            return Err(FwknopError::KeyLength("HMAC", MAX_HMAC_KEY));
        }
        Ok(FwknopKeys {
            enc: Zeroizing::new(enc.to_vec()),
            hmac: Zeroizing::new(hmac.to_vec()),
            hmac_type,
        })
    }

    /// Both keys in the base64 `fwknop --key-gen` prints (Rijndael, HMAC),
    /// to store them.
    pub fn to_base64(&self) -> (Zeroizing<String>, Zeroizing<String>) {
        let std = base64::engine::general_purpose::STANDARD;
        (
            Zeroizing::new(std.encode(&*self.enc)),
            Zeroizing::new(std.encode(&*self.hmac)),
        )
    }

    /// Keys from the base64 that `fwknop --key-gen` prints.
    pub fn from_base64(enc: &str, hmac: &str, hmac_type: HmacType) -> Result<Self, FwknopError> {
        let std = base64::engine::general_purpose::STANDARD;
        let e = Zeroizing::new(std.decode(enc.trim()).map_err(|_| FwknopError::KeyBase64)?);
        let h = Zeroizing::new(
            std.decode(hmac.trim())
                .map_err(|_| FwknopError::KeyBase64)?,
        );
        FwknopKeys::new(&e, &h, hmac_type)
    }
}

/// What an fwknop access message asks for: `allow` (0.0.0.0 = "the
/// address this packet comes from", fwknop's `-s`) to reach `doors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub addr: IpAddr,
    pub doors: Vec<Door>,
}

impl std::fmt::Display for AccessRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.addr)?;
        for d in &self.doors {
            write!(f, ",{}/{}", d.proto.as_str(), d.port)?;
        }
        Ok(())
    }
}

impl AccessRequest {
    /// Whether the request leaves the address to the packet's source.
    pub fn is_source(&self) -> bool {
        self.addr.is_unspecified()
    }
}

/// One decoded fwknop SPA message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FwknopMessage {
    /// 16 random decimal digits; they make each packet unique.
    pub random: String,
    pub user: String,
    /// Seconds since the Unix epoch, from the client's clock.
    pub timestamp: u64,
    pub version: String,
    pub access: AccessRequest,
    /// How long the client asks the door to stay open (message type 3).
    pub client_timeout: Option<u32>,
    pub digest: DigestType,
}

impl FwknopMessage {
    /// A fresh access message: random value from `rng`, protocol 3.0.0.
    pub fn new(
        rng: &mut impl RngCore,
        user: &str,
        timestamp: u64,
        access: AccessRequest,
        client_timeout: Option<u32>,
    ) -> Self {
        // fwknop draws a number below 10^16 and prints it zero-padded.
        let random = format!("{:016}", rng.next_u64() % 10_000_000_000_000_000);
        FwknopMessage {
            random,
            user: user.to_string(),
            timestamp,
            version: PROTOCOL_VERSION.to_string(),
            access,
            client_timeout,
            digest: DigestType::Sha256,
        }
    }
}

/// Why a datagram is not an acceptable fwknop packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FwknopError {
    #[error("not fwknop SPA data: {0}")]
    NotSpa(&'static str),
    #[error("HMAC mismatch: not made with this user's fwknop keys")]
    Hmac,
    #[error("the ciphertext does not decrypt with this user's Rijndael key")]
    Ciphertext,
    #[error("the decrypted message is not fwknop text")]
    NotText,
    #[error("message digest of {0} base64 characters: only SHA-256 and SHA-512 are accepted")]
    UnsupportedDigest(usize),
    #[error("the message digest does not match its fields")]
    Digest,
    #[error("bad {name} field: {why}")]
    Field {
        name: &'static str,
        why: &'static str,
    },
    #[error("command messages (fwknop --server-cmd) are refused: Postern only opens doors")]
    CommandRefused,
    #[error("NAT access messages (type {0}) are refused: Postern does not forward ports")]
    NatRefused(u8),
    #[error("unknown fwknop message type {0}")]
    UnknownType(u8),
    #[error("extra fields after the access request (server_auth is not supported)")]
    ExtraFields,
    #[error("the {0} key must be 1..={1} bytes")]
    KeyLength(&'static str, usize),
    #[error("a key is not valid base64")]
    KeyBase64,
}

/// Whether `payload` can be fwknop SPA data at all: printable base64 of a
/// plausible length. Postern's own SPA packets fail this (their first
/// byte is the version, 1, outside the alphabet), which is what lets both
/// share UDP 62201.
pub fn looks_like(payload: &[u8]) -> Result<(), FwknopError> {
    if payload.len() < MIN_PACKET || payload.len() > MAX_PACKET {
        return Err(FwknopError::NotSpa("length outside 140..=1500 bytes"));
    }
    if !payload
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
    {
        return Err(FwknopError::NotSpa("not base64 text"));
    }
    // fwknopd refuses a packet that still has the prefix: adding it to a
    // captured packet would otherwise make a "new" one for a replay cache
    // keyed on the packet text.
    if payload.starts_with(crypt::B64_SALTED_PREFIX.as_bytes()) {
        return Err(FwknopError::NotSpa(
            "starts with the salted prefix fwknop strips",
        ));
    }
    Ok(())
}

/// Whether a `len`-byte packet can carry an `hmac` tag at all: what is
/// left after the tag, with the stripped prefix put back, must be the
/// unpadded base64 of `Salted__`, the salt and whole AES blocks. A length
/// check, no crypto: the verifier asks it before spending an HMAC on a
/// user of that digest type (a random length fits about one time in 21).
pub fn fits(hmac: HmacType, len: usize) -> bool {
    let Some(body) = len.checked_sub(hmac.b64_len()) else {
        return false;
    };
    let chars = body + crypt::B64_SALTED_PREFIX.len();
    // Unpadded base64 never ends with a single character of a quartet.
    if chars % 4 == 1 {
        return false;
    }
    let bytes = chars * 3 / 4;
    bytes >= 2 * crypt::BLOCK && bytes.is_multiple_of(crypt::BLOCK)
}

/// Builds the packet fwknop would send for `msg`: the text to put in one
/// UDP datagram.
pub fn seal(keys: &FwknopKeys, msg: &FwknopMessage, rng: &mut impl RngCore) -> String {
    let mut salt = [0u8; 8];
    rng.fill_bytes(&mut salt);
    seal_with_salt(keys, msg, salt)
}

/// [`seal`] with a given salt, for test vectors.
pub fn seal_with_salt(keys: &FwknopKeys, msg: &FwknopMessage, salt: [u8; 8]) -> String {
    let encoded = message::encode(msg);
    let plaintext = Zeroizing::new(format!(
        "{encoded}:{}",
        message::digest_b64(msg.digest, &encoded)
    ));
    let ct = crypt::encrypt(&keys.enc, salt, plaintext.as_bytes());
    let b64 = crypt::B64.encode(ct);
    let tag = crypt::hmac_b64(keys.hmac_type, &keys.hmac, &b64);
    let stripped = b64
        .strip_prefix(crypt::B64_SALTED_PREFIX)
        .expect("the ciphertext starts with Salted__");
    format!("{stripped}{tag}")
}

/// Checks `packet`'s HMAC with `keys`, decrypts and parses it. The HMAC
/// comes first: a packet for another user (or server) costs one HMAC.
pub fn open(keys: &FwknopKeys, packet: &[u8]) -> Result<FwknopMessage, FwknopError> {
    looks_like(packet)?;
    let text = std::str::from_utf8(packet).map_err(|_| FwknopError::NotSpa("not base64 text"))?;
    let split = text
        .len()
        .checked_sub(keys.hmac_type.b64_len())
        .ok_or(FwknopError::Hmac)?;
    let (body, tag) = text.split_at(split);
    let full = format!("{}{body}", crypt::B64_SALTED_PREFIX);
    let want = crypt::hmac_b64(keys.hmac_type, &keys.hmac, &full);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        want.as_bytes(),
        tag.as_bytes(),
    )) {
        return Err(FwknopError::Hmac);
    }
    let raw = crypt::B64
        .decode(&full)
        .map_err(|_| FwknopError::Ciphertext)?;
    let plaintext = crypt::decrypt(&keys.enc, &raw)?;
    message::decode(&plaintext)
}

/// The replay mark of an accepted packet: a hash of its text. The HMAC
/// covers every character, so a copy that still opens is the same text;
/// the `fwknop` label keeps these marks apart from Postern's own.
pub fn replay_digest(packet: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update(b"fwknop\0");
    h.update(packet);
    let out = h.finalize();
    let mut d = [0u8; 16];
    d.copy_from_slice(&out[..16]);
    Digest(d)
}
