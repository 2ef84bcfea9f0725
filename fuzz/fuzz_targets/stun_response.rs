//! STUN Binding responses (`allow = auto` behind a NAT):
//! `engine::stun_codec::parse_binding_response` on any datagram.
//!
//! The bytes are parsed by `stun-types` (fuzzed upstream); this target
//! covers our wrapper around it: transaction-id matching, the class and
//! method checks and the XOR-MAPPED-ADDRESS / MAPPED-ADDRESS fallback.
//! Checks: never panics; the transaction id is taken from the datagram's
//! own header half the time, so inputs get past the id check; an accepted
//! answer always carries that id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postern_client::engine::stun_codec::{binding_request, parse_binding_response};

fuzz_target!(|data: &[u8]| {
    let own_id = data.get(8..20).map(|b| {
        let mut id = [0u8; 16];
        id[4..].copy_from_slice(b);
        u128::from_be_bytes(id)
    });
    for txid in [own_id.unwrap_or(1), 0x0102_0304_0506_0708_090a_0b0c] {
        if parse_binding_response(data, txid).is_ok() {
            assert_eq!(Some(txid), own_id, "accepted an answer to another request");
        }
    }
    // Our own requests are never mistaken for answers.
    assert!(parse_binding_response(&binding_request(7), 7).is_err());
});
