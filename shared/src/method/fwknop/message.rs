//! fwknop's inner message (protocol.md §11.1): colon-separated fields, the
//! free-text ones in unpadded base64, followed by a digest of them all.
//!
//! `rand:b64(user):timestamp:version:type:b64(access)[:timeout]:digest`
//!
//! Only the two access types are accepted: 1 (access) and 3 (access with a
//! client timeout). Command messages (type 0) would run a command on the
//! server, NAT types (2, 4, 5, 6) forward ports: Postern does neither and
//! says so instead of ignoring the field it cannot honour.

use super::crypt::B64;
use super::{AccessRequest, DigestType, FwknopError, FwknopMessage};
use crate::wire::door::{Door, DoorProto};
use base64::Engine as _;
use sha2::{Digest as _, Sha256, Sha512};
use std::net::IpAddr;

/// fwknop's own limits (lib/fko_limits.h).
const RAND_LEN: usize = 16;
const MAX_USER: usize = 64;
const MAX_VERSION: usize = 8;
const MAX_ACCESS: usize = 256;
/// fwknop's client timeout is parsed up to `2 << 15`.
const MAX_TIMEOUT: u32 = 2 << 15;

const TYPE_COMMAND: u8 = 0;
const TYPE_ACCESS: u8 = 1;
const TYPE_TIMEOUT_ACCESS: u8 = 3;

fn field(name: &'static str, why: &'static str) -> FwknopError {
    FwknopError::Field { name, why }
}

/// The digest of an encoded message, as fwknop writes it (unpadded base64).
pub(super) fn digest_b64(kind: DigestType, encoded: &str) -> String {
    match kind {
        DigestType::Sha256 => B64.encode(Sha256::digest(encoded.as_bytes())),
        DigestType::Sha512 => B64.encode(Sha512::digest(encoded.as_bytes())),
    }
}

/// The encoded message without its digest.
pub(super) fn encode(m: &FwknopMessage) -> String {
    let (kind, tail) = match m.client_timeout {
        Some(t) => (TYPE_TIMEOUT_ACCESS, format!(":{t}")),
        None => (TYPE_ACCESS, String::new()),
    };
    format!(
        "{}:{}:{}:{}:{kind}:{}{tail}",
        m.random,
        B64.encode(m.user.as_bytes()),
        m.timestamp,
        m.version,
        B64.encode(m.access.to_string().as_bytes()),
    )
}

/// Parses a decrypted plaintext `encoded:digest`, checking the digest.
pub(super) fn decode(plaintext: &[u8]) -> Result<FwknopMessage, FwknopError> {
    let text = std::str::from_utf8(plaintext).map_err(|_| FwknopError::NotText)?;
    let (encoded, digest) = text.rsplit_once(':').ok_or(FwknopError::NotText)?;
    let kind = match digest.len() {
        43 => DigestType::Sha256,
        86 => DigestType::Sha512,
        n => return Err(FwknopError::UnsupportedDigest(n)),
    };
    let want = digest_b64(kind, encoded);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        want.as_bytes(),
        digest.as_bytes(),
    )) {
        return Err(FwknopError::Digest);
    }
    let f: Vec<&str> = encoded.split(':').collect();
    let [random, user, timestamp, version, kind_field, rest @ ..] = f.as_slice() else {
        return Err(field("message", "fewer than six fields"));
    };
    let msg_type: u8 = digits(kind_field, 2)
        .and_then(|s| s.parse().ok())
        .ok_or(field("message type", "not a number"))?;
    let client_timeout = match (msg_type, rest) {
        (TYPE_COMMAND, _) => return Err(FwknopError::CommandRefused),
        (TYPE_ACCESS, [_]) => None,
        (TYPE_TIMEOUT_ACCESS, [_, t]) => Some(
            digits(t, 5)
                .and_then(|s| s.parse::<u32>().ok())
                .filter(|&t| t <= MAX_TIMEOUT)
                .ok_or(field("client timeout", "not a number up to 65536"))?,
        ),
        (TYPE_ACCESS | TYPE_TIMEOUT_ACCESS, _) => return Err(FwknopError::ExtraFields),
        (2 | 4 | 5 | 6, _) => return Err(FwknopError::NatRefused(msg_type)),
        (n, _) => return Err(FwknopError::UnknownType(n)),
    };
    let access = rest.first().copied().unwrap_or_default();
    Ok(FwknopMessage {
        random: digits(random, RAND_LEN)
            .filter(|s| s.len() == RAND_LEN)
            .ok_or(field("random value", "not 16 digits"))?
            .to_string(),
        user: parse_user(user)?,
        timestamp: digits(timestamp, 20)
            .and_then(|s| s.parse().ok())
            .ok_or(field("timestamp", "not a number"))?,
        version: parse_version(version)?,
        access: parse_access(access)?,
        client_timeout,
        digest: kind,
    })
}

/// `s` if it is 1..=max ASCII digits.
fn digits(s: &str, max: usize) -> Option<&str> {
    let ok = !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(s)
}

fn b64_text(s: &str, name: &'static str, max: usize) -> Result<String, FwknopError> {
    if s.is_empty() || s.len() > max.div_ceil(3) * 4 {
        return Err(field(name, "empty or too long"));
    }
    let raw = B64.decode(s).map_err(|_| field(name, "not base64"))?;
    String::from_utf8(raw).map_err(|_| field(name, "not UTF-8"))
}

fn parse_user(s: &str) -> Result<String, FwknopError> {
    let u = b64_text(s, "user", MAX_USER)?;
    if u.len() > MAX_USER || u.chars().any(|c| c.is_control() || c == ':' || c == ',') {
        return Err(field(
            "user",
            "longer than 64 bytes or has control characters",
        ));
    }
    Ok(u)
}

fn parse_version(s: &str) -> Result<String, FwknopError> {
    let ok = !s.is_empty()
        && s.len() <= MAX_VERSION
        && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    ok.then(|| s.to_string())
        .ok_or(field("version", "not a version number"))
}

/// `ip,proto/port[,proto/port…]`.
fn parse_access(s: &str) -> Result<AccessRequest, FwknopError> {
    let text = b64_text(s, "access request", MAX_ACCESS)?;
    let mut parts = text.split(',');
    let addr: IpAddr = parts
        .next()
        .and_then(|a| a.parse().ok())
        .ok_or(field("access request", "does not start with an IP address"))?;
    let mut doors = Vec::new();
    for p in parts {
        let (proto, port) = p
            .split_once('/')
            .ok_or(field("access request", "a port is not proto/port"))?;
        let proto = match proto {
            "tcp" => DoorProto::Tcp,
            "udp" => DoorProto::Udp,
            _ => {
                return Err(field(
                    "access request",
                    "only tcp and udp ports are supported",
                ));
            }
        };
        let port: u16 = digits(port, 5)
            .and_then(|s| s.parse().ok())
            .filter(|&p| p != 0)
            .ok_or(field("access request", "a port is not 1..65535"))?;
        doors.push(Door { proto, port });
    }
    if doors.is_empty() {
        return Err(field("access request", "names no port"));
    }
    Ok(AccessRequest { addr, doors })
}
