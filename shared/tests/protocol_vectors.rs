//! Checks the test vectors printed in docs/protocol.md against this crate,
//! so the specification and the code cannot drift apart.
//!
//! The vectors live in the fenced block that starts with ```` ```vectors ````;
//! each line is `name = value`. Run with `POSTERN_PRINT_VECTORS=1` to print
//! what the code computes (when adding a vector).

use postern_proto::fixtures::vectors;
use postern_proto::keys::Purpose;
use postern_proto::method::sequence::DynamicParams;
use postern_proto::method::spa::{self, key_id};
use postern_proto::method::{KnockProto, syn_token};
use postern_proto::wire::spa::SpaPacket;
use postern_proto::{ServerId, Step, UnixTime, UserKey};
use std::collections::BTreeMap;

const DOC: &str = include_str!("../../docs/protocol.md");

fn vectors() -> BTreeMap<String, String> {
    let start = DOC
        .find("```vectors\n")
        .expect("docs/protocol.md has a ```vectors block");
    let body = &DOC[start + "```vectors\n".len()..];
    let end = body.find("```").expect("vectors block is closed");
    body[..end]
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("name = value");
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

fn bytes(v: &BTreeMap<String, String>, name: &str) -> Vec<u8> {
    hex::decode(
        v.get(name)
            .unwrap_or_else(|| panic!("vector {name} missing")),
    )
    .expect("hex")
}

#[test]
fn protocol_md_vectors_hold() {
    let v = vectors();
    let key = UserKey::from_bytes(bytes(&v, "user_key").try_into().expect("32 bytes"));
    let server = ServerId(bytes(&v, "server_id").try_into().expect("16 bytes"));
    let now = UnixTime(v["timestamp"].parse().expect("number"));
    let step = now.step(30);

    let mut got: BTreeMap<&str, String> = BTreeMap::new();
    for (name, purpose) in [
        ("subkey_spa_encrypt", Purpose::SpaEncrypt),
        ("subkey_key_id", Purpose::KeyId),
        ("subkey_dynamic_sequence", Purpose::DynamicSequence),
        ("subkey_syn_token", Purpose::SynToken),
    ] {
        got.insert(name, hex::encode(key.derive(purpose).as_bytes()));
    }
    got.insert("key_id", hex::encode(key_id(&key, &server, step)));

    // The SPA vectors are sealed by the shared test fixtures, whose inputs
    // must be the document's.
    let nonce: [u8; 24] = bytes(&v, "spa1_nonce").try_into().expect("24 bytes");
    assert_eq!(vectors::key(), key, "fixture user_key");
    assert_eq!(vectors::server_id(), server, "fixture server_id");
    assert_eq!(vectors::TIMESTAMP, now.0, "fixture timestamp");
    assert_eq!(vectors::nonce(), nonce, "fixture spa1_nonce");
    let [p1, p2] = vectors::packets();
    got.insert("spa1_packet", hex::encode(&p1));
    got.insert("spa2_packet", hex::encode(&p2));

    let dynp = DynamicParams {
        length: 4,
        port_min: 20000,
        port_max: 29999,
        proto: KnockProto::Tcp,
        step_secs: 30,
    };
    got.insert(
        "dynamic_sequence",
        dynp.sequence_for(&key, &server, step).to_string(),
    );
    let (seq, src_port) =
        syn_token::keyed_token(&key, &server, step, 22, "198.18.0.2".parse().expect("ip"));
    got.insert("syn_token_keyed", format!("{seq:08x}"));
    got.insert("syn_token_keyed_src_port", src_port.to_string());
    got.insert(
        "syn_token_static_1022_17",
        syn_token::static_target(1022, 17).map_or("none".into(), |t| t.to_string()),
    );

    if std::env::var_os("POSTERN_PRINT_VECTORS").is_some() {
        for (k, val) in &got {
            println!("{k} = {val}");
        }
    }
    for (k, val) in &got {
        assert_eq!(v.get(*k), Some(val), "vector {k} in docs/protocol.md");
    }

    // And the packets in the document open to the requests above.
    for (name, fixture) in [
        ("spa1_packet", vectors::spa1()),
        ("spa2_packet", vectors::spa2()),
    ] {
        let b = bytes(&v, name);
        let pkt = SpaPacket::new_checked(b.as_slice()).expect("checked");
        assert_eq!(
            spa::open(&key, &server, &pkt).expect("opens"),
            fixture.request
        );
    }
    assert_eq!(Step(step.0), Step(60_000_000));
}

/// The fwknop vector of §11.5 is the captured packet the unit tests decode.
#[test]
fn protocol_md_fwknop_vector_is_the_captured_packet() {
    use postern_proto::fixtures::fwknop;
    for (name, value) in [
        ("KEY_BASE64", fwknop::KEY_B64),
        ("HMAC_KEY_BASE64", fwknop::HMAC_B64),
        ("datagram", fwknop::ACCESS),
    ] {
        let line = DOC
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing from protocol.md §11.5"));
        assert_eq!(line.rsplit(' ').next(), Some(value), "{name}");
    }
}
