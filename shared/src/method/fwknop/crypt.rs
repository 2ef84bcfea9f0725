//! fwknop's outer layer (protocol.md §11.2): Rijndael (AES-256-CBC) with the
//! OpenSSL "Salted__" framing, and the HMAC over the base64 text.
//!
//! fwknop derives the AES key and IV the way `openssl enc` did by default
//! (EVP_BytesToKey with MD5, one round): `D1 = MD5(key || salt)`,
//! `Di = MD5(D(i-1) || key || salt)`, concatenated; the first 32 bytes are
//! the AES-256 key, the next 16 the IV. The "key" is the raw Rijndael key
//! (what `--key-base64-rijndael` decodes to), not a hash of it; fwknopd's
//! legacy-IV mode (short keys padded with '0') is not supported.

use super::{FwknopError, HmacType};
use aes::Aes256;
use base64::Engine as _;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest as _, Md5};
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

/// OpenSSL's salted-data magic, the first 8 bytes of the ciphertext.
pub(super) const SALTED: &[u8; 8] = b"Salted__";
/// The base64 of [`SALTED`]'s first 60 bits: fwknop strips it from every
/// packet it sends (it never varies) and adds it back before the HMAC.
pub(super) const B64_SALTED_PREFIX: &str = "U2FsdGVkX1";
const SALT_LEN: usize = 8;
/// The AES block; `Salted__` and the salt fill exactly one.
pub(super) const BLOCK: usize = 16;

/// fwknop's base64: the standard alphabet, '=' padding stripped on output,
/// accepted either way on input.
pub(super) const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// The AES key and IV fwknop derives from a Rijndael key and a salt.
fn key_and_iv(key: &[u8], salt: &[u8; SALT_LEN]) -> Zeroizing<[u8; 48]> {
    let mut out = Zeroizing::new([0u8; 48]);
    let mut prev: Option<[u8; 16]> = None;
    for chunk in out.chunks_mut(16) {
        let mut h = Md5::new();
        if let Some(p) = prev {
            h.update(p);
        }
        h.update(key);
        h.update(salt);
        let d: [u8; 16] = h.finalize().into();
        chunk.copy_from_slice(&d);
        prev = Some(d);
    }
    out
}

/// `"Salted__" || salt || AES-256-CBC(plaintext)`, PKCS#7-padded.
pub(super) fn encrypt(key: &[u8], salt: [u8; SALT_LEN], plaintext: &[u8]) -> Vec<u8> {
    let kiv = key_and_iv(key, &salt);
    let (k, iv) = kiv.split_at(32);
    let enc = cbc::Encryptor::<Aes256>::new_from_slices(k, iv)
        .expect("32-byte key and 16-byte IV are the sizes AES-256-CBC takes");
    let mut out = Vec::with_capacity(16 + plaintext.len() + BLOCK);
    out.extend_from_slice(SALTED);
    out.extend_from_slice(&salt);
    out.extend_from_slice(&enc.encrypt_padded_vec::<Pkcs7>(plaintext));
    out
}

/// Inverse of [`encrypt`]; any framing or padding fault is one error, so a
/// caller learns nothing about which part of a forged packet was wrong.
pub(super) fn decrypt(key: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>, FwknopError> {
    let body_len = data.len().saturating_sub(2 * SALT_LEN);
    if data.len() < 2 * SALT_LEN + BLOCK || !body_len.is_multiple_of(BLOCK) {
        return Err(FwknopError::Ciphertext);
    }
    let (head, body) = data.split_at(2 * SALT_LEN);
    let (magic, salt) = head.split_at(SALT_LEN);
    if magic != SALTED {
        return Err(FwknopError::Ciphertext);
    }
    let mut s = [0u8; SALT_LEN];
    s.copy_from_slice(salt);
    let kiv = key_and_iv(key, &s);
    let (k, iv) = kiv.split_at(32);
    let dec = cbc::Decryptor::<Aes256>::new_from_slices(k, iv)
        .expect("32-byte key and 16-byte IV are the sizes AES-256-CBC takes");
    dec.decrypt_padded_vec::<Pkcs7>(body)
        .map(Zeroizing::new)
        .map_err(|_| FwknopError::Ciphertext)
}

/// The HMAC of the full base64 ciphertext (salted prefix included), in
/// fwknop's unpadded base64.
pub(super) fn hmac_b64(kind: HmacType, key: &[u8], b64_ciphertext: &str) -> String {
    fn run<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
    let tag = match kind {
        HmacType::Sha256 => run::<Hmac<Sha256>>(key, b64_ciphertext.as_bytes()),
        HmacType::Sha512 => run::<Hmac<Sha512>>(key, b64_ciphertext.as_bytes()),
    };
    B64.encode(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salted_prefix_is_the_base64_of_the_magic() {
        let enc = base64::engine::general_purpose::STANDARD.encode(SALTED);
        assert!(enc.starts_with(B64_SALTED_PREFIX));
    }

    #[test]
    fn decrypt_inverts_encrypt_and_refuses_bad_framing() {
        let key = [7u8; 32];
        let ct = encrypt(&key, [1; 8], b"hello fwknop");
        assert_eq!(ct.len(), 32);
        assert_eq!(
            decrypt(&key, &ct).map(|p| p.to_vec()),
            Ok(b"hello fwknop".to_vec())
        );
        assert_eq!(decrypt(&key, &ct[..31]), Err(FwknopError::Ciphertext));
        let mut bad = ct.clone();
        bad[0] = b'X';
        assert_eq!(decrypt(&key, &bad), Err(FwknopError::Ciphertext));
        let other = decrypt(&[8u8; 32], &ct).ok().map(|p| p.to_vec());
        assert_ne!(other, Some(b"hello fwknop".to_vec()));
    }
}
