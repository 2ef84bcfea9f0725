//! The SPA datagram and plaintext codecs and `spa::open` (protocol.md §3).
//!
//! The first input byte picks a mode, the rest is its input:
//! - 0 (raw): `SpaPacket::new_checked` + every accessor, `SpaRequest::parse`
//!   (and, when it parses, `emit` must give back the same bytes), and
//!   `spa::open` under the protocol.md §10 key and server id, so the tag
//!   check runs on every well-formed datagram.
//! - 1 (tamper): take one of the two protocol.md §10 packets, built here with
//!   `seal_with`, apply fuzzer-chosen byte edits (`[index u16][xor u8]`…, and
//!   a final odd byte truncates or extends), and assert `open` succeeds if
//!   and only if the bytes are unchanged.
//! - 2 (seal): a plaintext that parses is sealed with `seal_with` and must
//!   open to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postern_proto::fixtures::vectors;
use postern_proto::method::spa::{self, SpaError};
use postern_proto::wire::spa::{MAX_PACKET, SpaPacket, SpaRequest, TAG_LEN};

fn open(bytes: &[u8]) -> Result<SpaRequest, SpaError> {
    let packet = SpaPacket::new_checked(bytes)?;
    spa::open(&vectors::key(), &vectors::server_id(), &packet)
}

fn raw(data: &[u8]) {
    if let Ok(p) = SpaPacket::new_checked(data) {
        let _ = (p.key_id(), p.nonce(), p.header().len(), p.sealed().len());
        assert_eq!(p.as_bytes(), data);
        let _ = open(data);
    }
    if let Ok(req) = SpaRequest::parse(data) {
        // Padding must be zero, so parse → emit is the identity.
        let mut again = vec![0xa5; data.len()];
        req.emit(&mut again).expect("a parsed request emits");
        assert_eq!(again, data, "emit(parse(x)) != x");
    }
}

fn tamper(data: &[u8]) {
    let Some((&which, edits)) = data.split_first() else {
        return;
    };
    let packets = vectors::packets();
    let original = &packets[usize::from(which) % packets.len()];
    let mut bytes = original.clone();
    let mut chunks = edits.chunks_exact(3);
    for c in &mut chunks {
        let at = usize::from(u16::from_be_bytes([c[0], c[1]])) % bytes.len();
        bytes[at] ^= c[2];
    }
    // A trailing byte changes the length: high bit set truncates by up to
    // 127 bytes, otherwise extends by that many zero bytes.
    if let &[b] = chunks.remainder() {
        let n = usize::from(b & 0x7f);
        if b & 0x80 != 0 {
            bytes.truncate(bytes.len().saturating_sub(n));
        } else {
            bytes.resize((bytes.len() + n).min(MAX_PACKET + 1), 0);
        }
    }
    let opened = open(&bytes);
    if bytes == *original {
        assert!(opened.is_ok(), "the vector packet must open: {opened:?}");
    } else {
        assert!(opened.is_err(), "a changed packet opened: {bytes:02x?}");
    }
}

fn seal(data: &[u8]) {
    let Ok(req) = SpaRequest::parse(data) else {
        return;
    };
    let total = 33 + data.len() + TAG_LEN;
    let sealed = spa::seal_with(
        &vectors::key(),
        &vectors::server_id(),
        &req,
        vectors::nonce(),
        total,
    );
    match sealed {
        Ok(bytes) => {
            assert_eq!(bytes.len(), total);
            assert_eq!(open(&bytes).as_ref(), Ok(&req));
        }
        // Only a too-long packet may fail.
        Err(e) => assert!(total > MAX_PACKET, "seal failed: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => raw(rest),
        1 => tamper(rest),
        _ => seal(rest),
    }
});
