//! The fwknop SPA codec (protocol.md §11), which `posternd` runs on every
//! base64-looking datagram to its SPA port.
//!
//! The first input byte picks a mode, the rest is its input:
//! - 0 (raw): `fwknop::open` under the captured fixture keys, with both
//!   HMAC types; must never panic, and anything it accepts must re-seal
//!   (with a fresh salt) to a packet that opens to the same message.
//! - 1 (tamper): take one of the packets captured from Debian's fwknop,
//!   apply fuzzer-chosen edits (`[index u16][byte u8]`… writing base64
//!   characters, and a final odd byte truncating), and assert `open`
//!   gives the same answer as for the original if and only if the text is
//!   unchanged (the HMAC covers every character).
#![no_main]

use libfuzzer_sys::fuzz_target;
use postern_proto::fixtures::fwknop;
use postern_proto::method::fwknop::{HmacType, open, seal_with_salt};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn raw(data: &[u8]) {
    for h in [HmacType::Sha256, HmacType::Sha512] {
        let keys = fwknop::keys(h);
        if let Ok(m) = open(&keys, data) {
            let again = seal_with_salt(&keys, &m, [0x5a; 8]);
            assert_eq!(open(&keys, again.as_bytes()).as_ref(), Ok(&m));
        }
    }
}

fn tamper(data: &[u8]) {
    let Some((&which, edits)) = data.split_first() else {
        return;
    };
    let packets = fwknop::packets();
    let (original, h) = packets[usize::from(which) % packets.len()];
    let keys = fwknop::keys(h);
    let mut bytes = original.as_bytes().to_vec();
    let mut chunks = edits.chunks_exact(3);
    for c in &mut chunks {
        let at = usize::from(u16::from_be_bytes([c[0], c[1]])) % bytes.len();
        bytes[at] = ALPHABET[usize::from(c[2]) % ALPHABET.len()];
    }
    if let &[n] = chunks.remainder() {
        bytes.truncate(bytes.len().saturating_sub(usize::from(n)));
    }
    let got = open(&keys, &bytes);
    if bytes == original.as_bytes() {
        assert_eq!(got, open(&keys, original.as_bytes()));
    } else {
        assert!(got.is_err(), "a changed packet opened: {bytes:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 2 {
        0 => raw(rest),
        _ => tamper(rest),
    }
});
