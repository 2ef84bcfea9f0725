//! Packets captured from Debian's fwknop client (`captured.rs`),
//! decoded field by field, and Postern's encoder checked against the same
//! decoder. `fwknop --verbose` printed the field values asserted here.

use super::*;
use crate::wire::door::DoorProto;
use proptest::prelude::*;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::net::Ipv4Addr;

use super::captured::{ACCESS, COMMAND, HMAC_B64, KEY_B64, SHA512_HMAC, TIMEOUT};

fn keys(h: HmacType) -> FwknopKeys {
    FwknopKeys::from_base64(KEY_B64, HMAC_B64, h).expect("fixture keys")
}

fn tcp(port: u16) -> Door {
    Door {
        proto: DoorProto::Tcp,
        port,
    }
}

fn at(addr: [u8; 4], doors: Vec<Door>) -> AccessRequest {
    AccessRequest {
        addr: IpAddr::V4(Ipv4Addr::from(addr)),
        doors,
    }
}

#[test]
fn decodes_a_packet_from_debians_fwknop_field_by_field() {
    let m = open(&keys(HmacType::Sha256), ACCESS.as_bytes()).expect("opens");
    assert_eq!(m.random, "9163539411034992");
    assert_eq!(m.user, "alice");
    assert_eq!(m.timestamp, 1_795_940_521);
    assert_eq!(m.version, "3.0.0");
    assert_eq!(m.access, at([198, 18, 0, 2], vec![tcp(22)]));
    assert_eq!(m.access.to_string(), "198.18.0.2,tcp/22");
    assert_eq!(m.client_timeout, None);
    assert_eq!(m.digest, DigestType::Sha256);
    assert_eq!(
        message::encode(&m),
        "9163539411034992:YWxpY2U:1795940521:3.0.0:1:MTk4LjE4LjAuMix0Y3AvMjI"
    );
    assert_eq!(
        message::digest_b64(m.digest, &message::encode(&m)),
        "zNSoACHwKQF3yiHHg438sM0wHcgHyDOI4+HFIS63PUY"
    );
    assert!(ACCESS.ends_with("azu76LhqzisX8Qmi5ijFGXjvhoBQ2TieQc/HOSdj6/M"));
}

#[test]
fn decodes_a_client_timeout_packet_with_two_ports() {
    let m = open(&keys(HmacType::Sha256), TIMEOUT.as_bytes()).expect("opens");
    assert_eq!(m.random, "1154796623829766");
    assert_eq!(m.user, "alice");
    assert_eq!(m.timestamp, 1_795_940_521);
    let udp53 = Door {
        proto: DoorProto::Udp,
        port: 53,
    };
    assert_eq!(m.access, at([198, 18, 0, 2], vec![tcp(22), udp53]));
    assert_eq!(m.client_timeout, Some(45));
}

#[test]
fn decodes_a_sha512_hmac_packet_only_with_sha512_configured() {
    let m = open(&keys(HmacType::Sha512), SHA512_HMAC.as_bytes()).expect("opens");
    assert_eq!(m.random, "1746193096182538");
    assert_eq!(m.timestamp, 1_795_940_528);
    assert_eq!(
        open(&keys(HmacType::Sha256), SHA512_HMAC.as_bytes()),
        Err(FwknopError::Hmac)
    );
}

#[test]
fn refuses_command_messages_with_a_reason() {
    let e = open(&keys(HmacType::Sha256), COMMAND.as_bytes()).expect_err("refused");
    assert_eq!(e, FwknopError::CommandRefused);
    assert!(e.to_string().contains("command messages"));
}

#[test]
fn refuses_other_keys_and_altered_packets() {
    let other = FwknopKeys::new(&[1; 32], &[2; 64], HmacType::Sha256).expect("keys");
    assert_eq!(open(&other, ACCESS.as_bytes()), Err(FwknopError::Hmac));
    // Right HMAC key, wrong Rijndael key: the HMAC passes, decryption fails
    // or yields garbage that fails the digest.
    let hmac = base64::engine::general_purpose::STANDARD
        .decode(HMAC_B64)
        .expect("b64");
    let wrong_enc = FwknopKeys::new(&[9; 32], &hmac, HmacType::Sha256).expect("keys");
    assert!(open(&wrong_enc, ACCESS.as_bytes()).is_err());
    let mut flipped = ACCESS.as_bytes().to_vec();
    flipped[20] = if flipped[20] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        open(&keys(HmacType::Sha256), &flipped),
        Err(FwknopError::Hmac)
    );
    let prefixed = format!("U2FsdGVkX1{ACCESS}");
    assert!(matches!(
        open(&keys(HmacType::Sha256), prefixed.as_bytes()),
        Err(FwknopError::NotSpa(_))
    ));
}

#[test]
fn postern_binary_spa_is_not_mistaken_for_fwknop() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut bin = vec![0u8; 200];
    rng.fill_bytes(&mut bin);
    bin[0] = crate::wire::spa::VERSION;
    assert!(matches!(looks_like(&bin), Err(FwknopError::NotSpa(_))));
    assert!(matches!(looks_like(b"short"), Err(FwknopError::NotSpa(_))));
    assert_eq!(looks_like(ACCESS.as_bytes()), Ok(()));
}

#[test]
fn posterns_encoder_reproduces_fwknops_packet_with_its_salt() {
    let k = keys(HmacType::Sha256);
    let m = open(&k, ACCESS.as_bytes()).expect("opens");
    // The salt is the ciphertext's bytes 8..16; with it, Postern's encoder
    // must produce fwknop's packet character for character.
    let full = crypt::B64
        .decode(format!("U2FsdGVkX1{}", &ACCESS[..ACCESS.len() - 43]))
        .expect("b64");
    let mut salt = [0u8; 8];
    salt.copy_from_slice(&full[8..16]);
    assert_eq!(seal_with_salt(&k, &m, salt), ACCESS);
}

#[test]
fn sealed_packets_round_trip_and_vary() {
    let k = keys(HmacType::Sha256);
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let msg = FwknopMessage::new(
        &mut rng,
        "bob",
        1_800_000_000,
        at([0; 4], vec![tcp(22)]),
        None,
    );
    assert!(msg.access.is_source());
    let a = seal(&k, &msg, &mut rng);
    let b = seal(&k, &msg, &mut rng);
    assert_ne!(a, b, "a fresh salt makes every packet different");
    assert_eq!(open(&k, a.as_bytes()), Ok(msg.clone()));
    assert_ne!(replay_digest(a.as_bytes()), replay_digest(b.as_bytes()));
}

#[test]
fn key_lengths_follow_fwknop() {
    assert!(FwknopKeys::new(&[0; 33], &[0; 64], HmacType::Sha256).is_err());
    assert!(FwknopKeys::new(&[0; 32], &[0; 129], HmacType::Sha256).is_err());
    assert!(FwknopKeys::new(&[], &[0; 1], HmacType::Sha256).is_err());
    assert_eq!(
        FwknopKeys::from_base64("!!", HMAC_B64, HmacType::Sha256),
        Err(FwknopError::KeyBase64)
    );
    assert!(!format!("{:?}", keys(HmacType::Sha256)).contains(KEY_B64));
}

#[test]
fn the_length_check_knows_each_digest_types_packets() {
    assert!(fits(HmacType::Sha256, ACCESS.len()));
    assert!(fits(HmacType::Sha256, TIMEOUT.len()));
    assert!(fits(HmacType::Sha512, SHA512_HMAC.len()));
    // A SHA-512 tag is 43 characters longer, about two AES blocks, so
    // some lengths fit both types: the check only filters.
    assert!(fits(HmacType::Sha512, ACCESS.len()));
    assert!(!fits(HmacType::Sha256, ACCESS.len() + 1));
    assert!(!fits(HmacType::Sha256, 0));
    // About one length in 21 fits: 16 bytes are 21.3 base64 characters.
    let n = (MIN_PACKET..=MAX_PACKET)
        .filter(|&l| fits(HmacType::Sha256, l))
        .count();
    assert!((60..=70).contains(&n), "{n}");
}

fn any_door() -> impl Strategy<Value = Door> {
    (any::<bool>(), 1u16..).prop_map(|(t, port)| Door {
        proto: if t { DoorProto::Tcp } else { DoorProto::Udp },
        port,
    })
}

proptest! {
    #[test]
    fn round_trip(
        seed in any::<u64>(),
        user in "[a-zA-Z0-9_.@-]{1,64}",
        ts in 0u64..=u64::from(u32::MAX) * 4,
        addr in any::<[u8; 4]>(),
        doors in proptest::collection::vec(any_door(), 1..8),
        timeout in proptest::option::of(0u32..=65536),
        sha512 in any::<bool>(),
    ) {
        let h = if sha512 { HmacType::Sha512 } else { HmacType::Sha256 };
        let k = FwknopKeys::new(&[3; 32], &[4; 64], h).expect("keys");
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let msg = FwknopMessage::new(&mut rng, &user, ts, at(addr, doors), timeout);
        let pkt = seal(&k, &msg, &mut rng);
        prop_assert!(fits(h, pkt.len()), "{} bytes", pkt.len());
        prop_assert_eq!(open(&k, pkt.as_bytes()), Ok(msg));
    }

    #[test]
    fn open_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1600)) {
        prop_assert!(open(&keys(HmacType::Sha256), &data).is_err());
    }
}
