//! Passphrase-encrypted profile files, so a profile can travel by e-mail
//! (protocol.md §9).
//!
//! Argon2id (RustCrypto `argon2`) stretches the passphrase into a 32-byte
//! key; XChaCha20-Poly1305 encrypts the whole (signed) profile file with the
//! header as associated data. The result is armored as base64 between
//! BEGIN/END lines.
//!
//! We compose these two audited primitives instead of using the `age`
//! crate because `age` pulls in localisation crates that read locale files
//! at run time, which this I/O-free crate must not depend on.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"PSTRNENC";
const BEGIN: &str = "-----BEGIN POSTERN ENCRYPTED PROFILE-----";
const END: &str = "-----END POSTERN ENCRYPTED PROFILE-----";
const HEADER_LEN: usize = 8 + 1 + 4 + 4 + 4 + 16 + 24;

/// Argon2id cost. Defaults follow OWASP's minimum recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfCost {
    /// Memory in KiB.
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl Default for KdfCost {
    fn default() -> Self {
        KdfCost {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

/// Largest cost a file may ask for; a hostile file must not make the
/// importer allocate gigabytes or spin for minutes.
const MAX_COST: KdfCost = KdfCost {
    m_kib: 256 * 1024,
    t: 10,
    p: 4,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("wrong passphrase, or the encrypted profile was changed")]
    WrongPassphrase,
    #[error("not an encrypted Postern profile: {0}")]
    Malformed(&'static str),
    #[error("the file asks for a key-stretching cost beyond the allowed maximum")]
    CostTooHigh,
    #[error("the passphrase could not be stretched: {0}")]
    Kdf(String),
}

/// Whether `text` looks like an encrypted profile (so the caller can ask
/// for a passphrase).
pub fn is_sealed(text: &str) -> bool {
    text.trim_start().starts_with(BEGIN)
}

fn derive(pass: &str, salt: &[u8], cost: KdfCost) -> Result<Zeroizing<[u8; 32]>, SealError> {
    let params = Params::new(cost.m_kib, cost.t, cost.p, Some(32))
        .map_err(|e| SealError::Kdf(e.to_string()))?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pass.as_bytes(), salt, key.as_mut())
        .map_err(|e| SealError::Kdf(e.to_string()))?;
    Ok(key)
}

/// Encrypts `plaintext` (a profile file) under `passphrase`.
pub fn seal(
    plaintext: &str,
    passphrase: &str,
    cost: KdfCost,
    rng: &mut impl RngCore,
) -> Result<String, SealError> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.push(1);
    header.extend_from_slice(&cost.m_kib.to_be_bytes());
    header.extend_from_slice(&cost.t.to_be_bytes());
    header.extend_from_slice(&cost.p.to_be_bytes());
    header.extend_from_slice(&salt);
    header.extend_from_slice(&nonce);
    let key = derive(passphrase, &salt, cost)?;
    let ct = XChaCha20Poly1305::new(&(*key).into())
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext.as_bytes(),
                aad: &header,
            },
        )
        .map_err(|_| SealError::Malformed("encryption failed"))?;
    header.extend_from_slice(&ct);
    let b64 = B64.encode(&header);
    let mut out = String::with_capacity(b64.len() + 100);
    out.push_str(BEGIN);
    out.push('\n');
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    Ok(out)
}

/// Decrypts an armored profile. The result is the inner file, which is then
/// verified and parsed like any other.
pub fn open(armored: &str, passphrase: &str) -> Result<Zeroizing<String>, SealError> {
    let inner = armored
        .trim()
        .strip_prefix(BEGIN)
        .and_then(|r| r.strip_suffix(END))
        .ok_or(SealError::Malformed("missing BEGIN/END lines"))?;
    let b64: String = inner.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let raw = B64
        .decode(b64)
        .map_err(|_| SealError::Malformed("not base64"))?;
    if raw.len() < HEADER_LEN + 16 {
        return Err(SealError::Malformed("too short"));
    }
    let (header, ct) = raw.split_at(HEADER_LEN);
    if &header[..8] != MAGIC || header[8] != 1 {
        return Err(SealError::Malformed("unknown format or version"));
    }
    let be =
        |i: usize| u32::from_be_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let cost = KdfCost {
        m_kib: be(9),
        t: be(13),
        p: be(17),
    };
    if cost.m_kib > MAX_COST.m_kib || cost.t > MAX_COST.t || cost.p > MAX_COST.p {
        return Err(SealError::CostTooHigh);
    }
    let salt = &header[21..37];
    let mut nonce = [0u8; 24];
    nonce.copy_from_slice(&header[37..61]);
    let key = derive(passphrase, salt, cost)?;
    let pt = XChaCha20Poly1305::new(&(*key).into())
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ct,
                aad: header,
            },
        )
        .map_err(|_| SealError::WrongPassphrase)?;
    let text = String::from_utf8(pt).map_err(|_| SealError::Malformed("content is not text"))?;
    Ok(Zeroizing::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// Cheap cost so debug-build tests stay fast; the format is the same.
    const TEST_COST: KdfCost = KdfCost {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let s = seal("hello profile\n", "correct horse", TEST_COST, &mut rng).expect("seal");
        assert!(is_sealed(&s));
        assert_eq!(
            open(&s, "correct horse").expect("open").as_str(),
            "hello profile\n"
        );
        assert_eq!(open(&s, "wrong").unwrap_err(), SealError::WrongPassphrase);
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let s = seal("secret\n", "pw", TEST_COST, &mut rng).expect("seal");
        let inner: String = s
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        let raw = B64.decode(inner).expect("b64");
        for i in 0..raw.len() {
            let mut t = raw.clone();
            t[i] ^= 0x04;
            let armored = format!("{BEGIN}\n{}\n{END}\n", B64.encode(&t));
            assert!(open(&armored, "pw").is_err(), "byte {i}");
        }
    }

    #[test]
    fn hostile_cost_is_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let s = seal("x", "pw", TEST_COST, &mut rng).expect("seal");
        let inner: String = s
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        let mut raw = B64.decode(inner).expect("b64");
        raw[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
        let armored = format!("{BEGIN}\n{}\n{END}\n", B64.encode(&raw));
        assert_eq!(open(&armored, "pw").unwrap_err(), SealError::CostTooHigh);
    }
}
