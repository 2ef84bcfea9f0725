//! Profile files (protocol.md §7–9): `sign::read_profile_file`,
//! `profile::parse` and `seal::open`, on any text.
//!
//! Input bytes are read as UTF-8 (lossily). Checks: never panics; a profile
//! that parses serializes (`to_toml`, as `sign_profile` does) to text that
//! parses back to the same profile; a sealed profile that opens under
//! [`PASSPHRASE`] goes through `read_profile_file` like an import would.
//!
//! Argon2 cost: `seal::open` honours the cost written in the file (capped at
//! 256 MiB, t = 10, p = 4 against hostile files). That cap is right for an
//! importer but makes one fuzz input take up to seconds, so before calling
//! `open` this target decodes the header itself, exactly as `open` does, and
//! skips inputs asking for more than [`FUZZ_MAX_COST`]. The cost check in
//! `open` itself is covered by `seal::tests::hostile_cost_is_refused`; the
//! armor, base64, length and header handling all still run on every input
//! `open` would reject before deriving a key.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use libfuzzer_sys::fuzz_target;
use postern_fuzz::{FUZZ_MAX_COST, PASSPHRASE};
use postern_proto::{profile, seal, sign};

const BEGIN: &str = "-----BEGIN POSTERN ENCRYPTED PROFILE-----";
const END: &str = "-----END POSTERN ENCRYPTED PROFILE-----";
/// Magic, version, three u32 costs, salt, nonce (protocol.md §9).
const HEADER_LEN: usize = 8 + 1 + 4 + 4 + 4 + 16 + 24;

/// Whether `seal::open` would run Argon2 with a cost above
/// [`FUZZ_MAX_COST`] on this text. Mirrors `open`'s decoding step by step;
/// anything `open` rejects before the KDF is "cheap".
fn asks_for_expensive_kdf(text: &str) -> bool {
    let Some(inner) = text
        .trim()
        .strip_prefix(BEGIN)
        .and_then(|r| r.strip_suffix(END))
    else {
        return false;
    };
    let b64: String = inner.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let Ok(raw) = B64.decode(b64) else {
        return false;
    };
    if raw.len() < HEADER_LEN + 16 || &raw[..8] != b"PSTRNENC" || raw[8] != 1 {
        return false;
    }
    let be = |i: usize| u32::from_be_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
    be(9) > FUZZ_MAX_COST.m_kib || be(13) > FUZZ_MAX_COST.t || be(17) > FUZZ_MAX_COST.p
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    let _ = sign::read_profile_file(&text, "fuzz.postern");
    let _ = sign::verify_text(&text);

    if let Ok(p) = profile::parse(&text, "fuzz.postern") {
        let again = p.to_toml().expect("a parsed profile serializes");
        let back = profile::parse(&again, "again.postern")
            .unwrap_or_else(|e| panic!("to_toml output does not parse: {e}\n{again}"));
        assert_eq!(back, p, "profile changed in a to_toml round trip");
    }

    let _ = seal::is_sealed(&text);
    if !asks_for_expensive_kdf(&text)
        && let Ok(inner) = seal::open(&text, PASSPHRASE)
    {
        let _ = sign::read_profile_file(&inner, "inner.postern");
    }
});
