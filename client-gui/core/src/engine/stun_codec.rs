//! STUN Binding messages (RFC 8489), the two we need: the request we send
//! and the success response that carries our public ("reflexive") address.
//!
//! The bytes are read and written by `stun-types` (a maintained, fuzzed
//! sans-IO crate); this module only decides what a usable answer is. Every
//! datagram that reaches the socket is hostile until proven otherwise: it
//! must be a Binding *success* for *our* transaction id, and carry an
//! address of the family we asked from. Anything else is ignored, so an
//! attacker who can send us UDP cannot make us embed an address of its
//! choosing without also guessing a 96-bit transaction id.

use std::net::SocketAddr;
use stun_types::attribute::{AttributeType, MappedSocketAddr, XorMappedAddress};
use stun_types::message::{
    BINDING, Message, MessageClass, MessageType, MessageWrite, MessageWriteVec, TransactionId,
};

/// Why a datagram is not the answer we wait for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StunReplyError {
    #[error("not a STUN message")]
    NotStun,
    #[error("a STUN message for another request")]
    OtherTransaction,
    #[error("the STUN server refused the request")]
    ErrorResponse,
    #[error("not a Binding success response")]
    NotBindingSuccess,
    #[error("the answer carries no mapped address")]
    NoAddress,
}

/// RFC 3489's MAPPED-ADDRESS, which `stun-types` reads only as a raw
/// attribute.
const MAPPED_ADDRESS: AttributeType = AttributeType::new(0x0001);

/// The 20-byte Binding request for `txid` (no attributes: RFC 8489 §6.1
/// needs none, and a bare request is what every server answers).
pub fn binding_request(txid: u128) -> Vec<u8> {
    Message::builder(
        MessageType::from_class_method(MessageClass::Request, BINDING),
        TransactionId::from(txid),
        MessageWriteVec::new(),
    )
    .finish()
}

/// The reflexive address in a Binding success response to `txid`.
///
/// XOR-MAPPED-ADDRESS is preferred; the plain MAPPED-ADDRESS of RFC 3489
/// servers is accepted as a fallback, since the transaction-id check
/// already ties the answer to our request.
pub fn parse_binding_response(datagram: &[u8], txid: u128) -> Result<SocketAddr, StunReplyError> {
    let msg = Message::from_bytes(datagram).map_err(|_| StunReplyError::NotStun)?;
    if u128::from(msg.transaction_id()) != txid {
        return Err(StunReplyError::OtherTransaction);
    }
    if !msg.has_method(BINDING) {
        return Err(StunReplyError::NotBindingSuccess);
    }
    match msg.class() {
        MessageClass::Success => {}
        MessageClass::Error => return Err(StunReplyError::ErrorResponse),
        _ => return Err(StunReplyError::NotBindingSuccess),
    }
    if let Ok(x) = msg.attribute::<XorMappedAddress>() {
        return Ok(x.addr(msg.transaction_id()));
    }
    if let Some(raw) = msg.raw_attribute(MAPPED_ADDRESS)
        && let Ok(m) = MappedSocketAddr::from_raw(&raw)
    {
        return Ok(m.addr());
    }
    Err(StunReplyError::NoAddress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun_types::message::MessageWriteExt as _;

    const TXID: u128 = 0x0102_0304_0506_0708_090a_0b0c;

    fn success(txid: u128, xor: Option<SocketAddr>, plain: Option<SocketAddr>) -> Vec<u8> {
        let req = binding_request(txid);
        let req = Message::from_bytes(&req).expect("own request parses");
        let mut w = Message::builder_success(&req, MessageWriteVec::new());
        if let Some(a) = xor {
            w.add_attribute(&XorMappedAddress::new(a, TransactionId::from(txid)))
                .expect("add");
        }
        if let Some(a) = plain {
            w.add_attribute(&MappedSocketAddr::new(a).to_raw(MAPPED_ADDRESS))
                .expect("add");
        }
        w.finish()
    }

    #[test]
    fn request_is_a_bare_binding_request() {
        let b = binding_request(TXID);
        assert_eq!(b.len(), 20);
        assert_eq!(&b[0..2], &[0x00, 0x01], "Binding request");
        assert_eq!(&b[2..4], &[0, 0], "no attributes");
        assert_eq!(&b[4..8], &[0x21, 0x12, 0xa4, 0x42], "magic cookie");
        assert_eq!(&b[8..20], &TXID.to_be_bytes()[4..]);
    }

    #[test]
    fn xor_mapped_v4_and_v6() {
        for a in ["198.18.20.254:40000", "[fd00:5053:20::fe]:40001"] {
            let a: SocketAddr = a.parse().expect("addr");
            let r = success(TXID, Some(a), None);
            assert_eq!(parse_binding_response(&r, TXID), Ok(a));
        }
    }

    #[test]
    fn plain_mapped_is_a_fallback_and_xor_wins() {
        let a: SocketAddr = "198.18.20.254:1".parse().expect("addr");
        let b: SocketAddr = "198.18.20.253:2".parse().expect("addr");
        assert_eq!(
            parse_binding_response(&success(TXID, None, Some(a)), TXID),
            Ok(a)
        );
        assert_eq!(
            parse_binding_response(&success(TXID, Some(b), Some(a)), TXID),
            Ok(b)
        );
    }

    #[test]
    fn foreign_or_empty_answers_are_refused() {
        let a: SocketAddr = "198.18.20.254:1".parse().expect("addr");
        let r = success(TXID + 1, Some(a), None);
        assert_eq!(
            parse_binding_response(&r, TXID),
            Err(StunReplyError::OtherTransaction)
        );
        assert_eq!(
            parse_binding_response(&success(TXID, None, None), TXID),
            Err(StunReplyError::NoAddress)
        );
        assert_eq!(
            parse_binding_response(&binding_request(TXID), TXID),
            Err(StunReplyError::NotBindingSuccess),
            "our own request echoed back"
        );
        assert_eq!(
            parse_binding_response(b"SSH-2.0-x\r\n", TXID),
            Err(StunReplyError::NotStun)
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_without_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120)) {
            let _ = parse_binding_response(&b, TXID);
        }

        #[test]
        fn every_truncation_of_a_good_answer_is_refused(cut in 0usize..32) {
            let a: SocketAddr = "198.18.20.254:1".parse().expect("addr");
            let r = success(TXID, Some(a), None);
            proptest::prop_assume!(cut < r.len());
            proptest::prop_assert!(parse_binding_response(&r[..cut], TXID).is_err());
        }
    }
}
