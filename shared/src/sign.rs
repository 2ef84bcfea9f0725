//! Signed profile files (protocol.md §8).
//!
//! An administrator's Ed25519 key signs the exact bytes of the profile
//! body. The signature travels as TOML comment lines after the body, so a
//! signed file is still a readable TOML file:
//!
//! ```text
//! <profile body, ending in a newline>
//! # -----BEGIN POSTERN SIGNATURE-----
//! # signer = "ed25519:<base64 public key>"
//! # signature = "<base64 signature>"
//! # -----END POSTERN SIGNATURE-----
//! ```
//!
//! The signed message is `"postern-profile-v1\n" || body`. Any changed,
//! added or removed byte in the body or the trailer makes verification
//! fail; `verify_strict` refuses weak keys and malleable signatures.

use crate::profile::{self, Profile, ProfileError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"postern-profile-v1\n";
const BEGIN: &str = "# -----BEGIN POSTERN SIGNATURE-----\n";
const END: &str = "# -----END POSTERN SIGNATURE-----";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the signature block is damaged: {0}")]
    Malformed(&'static str),
    #[error(
        "the signature does not match: the file was changed after it was signed, or signed by someone else"
    )]
    BadSignature,
    #[error("not a valid Ed25519 public key")]
    BadKey,
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// An administrator's signing key. The secret half is zeroized on drop by
/// ed25519-dalek.
#[derive(Debug)]
pub struct AdminKey(SigningKey);

/// An administrator's public key, as profiles carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminPublic(VerifyingKey);

/// A short, human-comparable digest of a public key: the first 16 bytes of
/// its SHA-256, as eight groups of four hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(String);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Fingerprint {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AdminKey {
    pub fn generate(rng: &mut impl RngCore) -> Self {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        AdminKey(SigningKey::from_bytes(&seed))
    }

    /// The 32-byte seed as base64 (for the server's key file).
    pub fn to_base64(&self) -> zeroize::Zeroizing<String> {
        zeroize::Zeroizing::new(B64.encode(self.0.to_bytes()))
    }

    pub fn from_base64(s: &str) -> Result<Self, SignError> {
        let v = zeroize::Zeroizing::new(B64.decode(s.trim()).map_err(|_| SignError::BadKey)?);
        let seed: [u8; 32] = v.as_slice().try_into().map_err(|_| SignError::BadKey)?;
        Ok(AdminKey(SigningKey::from_bytes(&seed)))
    }

    pub fn public(&self) -> AdminPublic {
        AdminPublic(self.0.verifying_key())
    }

    /// Signs `body` (which must end with a newline; one is added if not)
    /// and returns the whole signed file.
    pub fn sign_text(&self, body: &str) -> String {
        let mut body = body.to_owned();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        let sig = self.0.sign(&message(&body));
        format!(
            "{body}{BEGIN}# signer = \"{}\"\n# signature = \"{}\"\n{END}\n",
            self.public().to_text(),
            B64.encode(sig.to_bytes())
        )
    }

    /// Serializes and signs a profile.
    pub fn sign_profile(&self, p: &Profile) -> Result<String, toml::ser::Error> {
        let body = format!(
            "# Postern profile for \"{}\". Import it in the Postern app.\n{}",
            p.name.replace(['\n', '\r'], " "),
            p.to_toml()?
        );
        Ok(self.sign_text(&body))
    }
}

impl AdminPublic {
    /// `ed25519:<base64>`.
    pub fn to_text(&self) -> String {
        format!("ed25519:{}", B64.encode(self.0.as_bytes()))
    }

    pub fn from_text(s: &str) -> Result<Self, SignError> {
        let b64 = s.trim().strip_prefix("ed25519:").ok_or(SignError::BadKey)?;
        let v = B64.decode(b64).map_err(|_| SignError::BadKey)?;
        let bytes: [u8; 32] = v.as_slice().try_into().map_err(|_| SignError::BadKey)?;
        VerifyingKey::from_bytes(&bytes)
            .map(AdminPublic)
            .map_err(|_| SignError::BadKey)
    }

    pub fn fingerprint(&self) -> Fingerprint {
        let h = Sha256::digest(self.0.as_bytes());
        let groups: Vec<String> = h[..16]
            .chunks(2)
            .map(|c| format!("{:02X}{:02X}", c[0], c[1]))
            .collect();
        Fingerprint(groups.join("-"))
    }
}

fn message(body: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + body.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(body.as_bytes());
    m
}

/// A profile file after reading: the profile, and who signed it (if anyone).
#[derive(Debug, Clone)]
pub struct ProfileFile {
    pub profile: Profile,
    pub signer: Option<AdminPublic>,
}

/// Splits a signed file into body and verified signer. A file without a
/// signature block returns `Ok((text, None))`; a file with a damaged block
/// or a wrong signature is refused.
pub fn verify_text(text: &str) -> Result<(&str, Option<AdminPublic>), SignError> {
    let Some(at) = text.rfind(BEGIN) else {
        if text.contains("POSTERN SIGNATURE") {
            return Err(SignError::Malformed("the BEGIN line is missing or changed"));
        }
        return Ok((text, None));
    };
    if at > 0 && !text[..at].ends_with('\n') {
        return Err(SignError::Malformed("the BEGIN line must start a line"));
    }
    let body = &text[..at];
    let trailer = &text[at + BEGIN.len()..];
    let mut lines = trailer.lines();
    let signer = field(lines.next(), "signer")?;
    let signature = field(lines.next(), "signature")?;
    if lines.next() != Some(END) {
        return Err(SignError::Malformed("the END line is missing or changed"));
    }
    if lines.next().is_some() || !(trailer.ends_with(END) || trailer.ends_with(&format!("{END}\n")))
    {
        return Err(SignError::Malformed("text after the END line"));
    }
    let signer = AdminPublic::from_text(signer)?;
    let sig = B64
        .decode(signature)
        .ok()
        .and_then(|v| <[u8; 64]>::try_from(v.as_slice()).ok())
        .map(|b| Signature::from_bytes(&b))
        .ok_or(SignError::Malformed(
            "the signature is not 64 bytes of base64",
        ))?;
    signer
        .0
        .verify_strict(&message(body), &sig)
        .map_err(|_| SignError::BadSignature)?;
    Ok((body, Some(signer)))
}

fn field<'a>(line: Option<&'a str>, name: &'static str) -> Result<&'a str, SignError> {
    let bad = SignError::Malformed(match name {
        "signer" => "the signer line is missing or changed",
        _ => "the signature line is missing or changed",
    });
    let line = line.ok_or(bad.clone())?;
    let rest = line
        .strip_prefix("# ")
        .and_then(|l| l.strip_prefix(name))
        .and_then(|l| l.strip_prefix(" = \""))
        .and_then(|l| l.strip_suffix('"'))
        .ok_or(bad)?;
    Ok(rest)
}

/// Verifies (if signed) and parses a profile file.
pub fn read_profile_file(text: &str, source_name: &str) -> Result<ProfileFile, SignError> {
    let (body, signer) = verify_text(text)?;
    let profile = profile::parse(body, source_name)?;
    Ok(ProfileFile { profile, signer })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    const BODY: &str = r#"version = 1
name = "Lab"
host = "198.18.0.1"
server_id = "00112233445566778899aabbccddeeff"

[[door]]
proto = "tcp"
port = 22

[method]
kind = "static-sequence"
sequence = "7000,8000:udp,9000"
"#;

    fn key() -> AdminKey {
        AdminKey::generate(&mut ChaCha20Rng::seed_from_u64(7))
    }

    #[test]
    fn sign_and_verify() {
        let k = key();
        let file = k.sign_text(BODY);
        let pf = read_profile_file(&file, "lab.postern").expect("valid");
        assert_eq!(pf.signer, Some(k.public()));
        assert_eq!(pf.profile.name, "Lab");
        // The signed file is still plain TOML.
        assert!(profile::parse(&file, "x").is_ok());
        let fp = k.public().fingerprint();
        assert_eq!(fp.as_str().len(), 8 * 4 + 7);
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let file = key().sign_text(BODY);
        let bytes = file.as_bytes();
        for i in 0..bytes.len() {
            let mut t = bytes.to_vec();
            t[i] ^= 0x01;
            let Ok(text) = String::from_utf8(t) else {
                continue;
            };
            let r = read_profile_file(&text, "x");
            assert!(
                matches!(
                    r,
                    Err(SignError::BadSignature | SignError::Malformed(_) | SignError::BadKey)
                ),
                "byte {i} ({:?}) changed but got {r:?}",
                bytes[i] as char
            );
        }
    }

    #[test]
    fn other_signer_and_stripped_signature() {
        let file = key().sign_text(BODY);
        let other = AdminKey::generate(&mut ChaCha20Rng::seed_from_u64(8));
        // Swap in another signer's public key: signature no longer matches.
        let swapped = file.replace(&key().public().to_text(), &other.public().to_text());
        assert_eq!(
            read_profile_file(&swapped, "x").unwrap_err(),
            SignError::BadSignature
        );
        // Truncated trailer is refused, not read as unsigned.
        let cut = &file[..file.len() - 10];
        assert!(matches!(
            read_profile_file(cut, "x"),
            Err(SignError::Malformed(_))
        ));
        // An unsigned file reads, with no signer.
        assert_eq!(read_profile_file(BODY, "x").expect("unsigned").signer, None);
    }

    #[test]
    fn key_encodings_round_trip() {
        let k = key();
        let back = AdminKey::from_base64(&k.to_base64()).expect("seed");
        assert_eq!(back.public(), k.public());
        assert_eq!(
            AdminPublic::from_text(&k.public().to_text()),
            Ok(k.public())
        );
        assert_eq!(AdminPublic::from_text("rsa:AAAA"), Err(SignError::BadKey));
    }
}
