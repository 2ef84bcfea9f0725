//! SYN tokens: one TCP SYN whose sequence number is the secret
//! (protocol.md §5). Needs a raw socket on the client.
//!
//! Two forms:
//! - **static**, reproducing the seed's homemade scheme exactly: a SYN with
//!   sequence number 17 to a port whose decimal form is "10" followed by the
//!   target (1022 → 22, 10443 → 443) opens the target for 10 seconds, only
//!   for the packet's source. It is a shared constant, not a secret worth the
//!   name; it exists for compatibility and is documented as such.
//! - **keyed**: a SYN to the protected port itself whose sequence number
//!   *and source port* carry an HMAC of the time step, the target port and
//!   the source address ([`KEYED_TOKEN_BITS`] bits), so it cannot be
//!   replayed from another address or in another step.

use crate::keys::{Purpose, UserKey};
use crate::{ServerId, Step};
use std::net::IpAddr;

/// The sequence number of the seed's static scheme.
pub const STATIC_SEQ: u32 = 17;
/// Seconds a static SYN token opens its target for.
pub const STATIC_TTL_SECS: u64 = 10;
/// Lowest and highest port of the static scheme.
pub const STATIC_PORTS: std::ops::RangeInclusive<u16> = 1000..=10999;

/// Server side of the static form: the port opened by a SYN with sequence
/// number `seq` to `dst_port`, if any.
pub fn static_target(dst_port: u16, seq: u32) -> Option<u16> {
    if seq != STATIC_SEQ || !STATIC_PORTS.contains(&dst_port) {
        return None;
    }
    let digits = dst_port.to_string();
    let rest = digits.strip_prefix("10")?;
    match rest.parse::<u16>() {
        Ok(0) | Err(_) => None,
        Ok(t) => Some(t),
    }
}

/// Client side of the static form: the port to send the SYN to so that
/// `target` opens. Only targets 1–999 can be written after "10" within
/// 1000–10999.
pub fn static_knock_port(target: u16) -> Option<u16> {
    match target {
        1..=99 => Some(1000 + target),
        100..=999 => Some(10000 + target),
        _ => None,
    }
}

/// Lowest source port a keyed token uses: below it, some middleboxes and
/// host firewalls treat a SYN as privileged or bogus and drop it.
pub const KEYED_SRC_PORT_MIN: u16 = 1024;
/// Source ports a keyed token can choose from (1024–65535).
const KEYED_SRC_PORTS: u32 = 65_536 - KEYED_SRC_PORT_MIN as u32;

/// Bits of secret a keyed token carries, rounded down: 32 in the sequence
/// number plus log2(64 512) ≈ 15.98 in the source port. Those are the only
/// header fields of a bare SYN that reach the server unchanged and that a
/// client may set freely (options can be stripped or rewritten by
/// middleboxes; addresses and the destination port are not secret). With
/// 32 bits alone one address guessing at ~66 000 SYN/s found a token in
/// about six hours; at 47 bits (three steps accepted, so 3 / 2^47 per
/// guess), even the server's whole comparison budget (66 000 SYNs/s for one
/// user) needs on average about 11 years, and the server's per-address
/// cap (0.5 guesses/s) makes it about 1.5 million years.
pub const KEYED_TOKEN_BITS: u32 = 47;

/// The keyed token (protocol.md §5.2), as the SYN's `(sequence number,
/// source port)`. With
/// `m = HMAC(k_syn, "syn" || server_id || step_be || target_be || source)`
/// (`source` the 4 or 16 address bytes): `seq = u32_be(m[0..4])` and
/// `src_port = 1024 + u16_be(m[4..6]) mod 64512`.
///
/// Pure, so the client and the server compute it the same way: the client
/// only puts the two numbers into its SYN.
pub fn keyed_token(
    key: &UserKey,
    server: &ServerId,
    step: Step,
    target: u16,
    source: IpAddr,
) -> (u32, u16) {
    let addr: Vec<u8> = match source {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let mac = key.derive(Purpose::SynToken).hmac(&[
        b"syn",
        &server.0,
        &step.0.to_be_bytes(),
        &target.to_be_bytes(),
        &addr,
    ]);
    let seq = u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]]);
    let x = u32::from(u16::from_be_bytes([mac[4], mac[5]]));
    // x % 64512 < 64512, so the sum is at most 65535.
    let src_port = (u32::from(KEYED_SRC_PORT_MIN) + x % KEYED_SRC_PORTS) as u16;
    (seq, src_port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    #[test]
    fn static_scheme_matches_the_seed() {
        assert_eq!(static_target(1022, 17), Some(22));
        assert_eq!(static_target(10443, 17), Some(443));
        assert_eq!(static_target(10022, 17), Some(22));
        assert_eq!(static_target(1022, 18), None);
        assert_eq!(static_target(1000, 17), None, "target 0 is not a port");
        assert_eq!(static_target(5000, 17), None, "does not start with 10");
        assert_eq!(static_target(999, 17), None);
        assert_eq!(static_target(11000, 17), None);
        assert_eq!(static_knock_port(22), Some(1022));
        assert_eq!(static_knock_port(443), Some(10443));
        assert_eq!(static_knock_port(3389), None);
    }

    #[test]
    fn keyed_token_binds_step_target_and_source() {
        let k = UserKey::from_bytes([5; 32]);
        let s = ServerId([6; 16]);
        let a = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
        let b = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 3));
        let t = keyed_token(&k, &s, Step(9), 22, a);
        assert_eq!(t, keyed_token(&k, &s, Step(9), 22, a));
        assert_ne!(t, keyed_token(&k, &s, Step(10), 22, a));
        assert_ne!(t, keyed_token(&k, &s, Step(9), 23, a));
        assert_ne!(t, keyed_token(&k, &s, Step(9), 22, b));
    }

    proptest! {
        /// The source port is part of the secret: it is always a port a
        /// client can send from, and it varies with the inputs (a constant
        /// port would leave the token at 32 bits).
        #[test]
        fn keyed_source_port_is_in_range_and_keyed(seed in any::<[u8; 32]>(), step in any::<u64>(), target in 1u16..) {
            let k = UserKey::from_bytes(seed);
            let s = ServerId([6; 16]);
            let a = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
            let (_, p) = keyed_token(&k, &s, Step(step), target, a);
            prop_assert!(p >= KEYED_SRC_PORT_MIN);
            let ports: std::collections::HashSet<u16> = (0..16u64)
                .map(|i| keyed_token(&k, &s, Step(step.wrapping_add(i)), target, a).1)
                .collect();
            prop_assert!(ports.len() > 1, "source port does not depend on the step");
        }
    }

    proptest! {
        #[test]
        fn static_round_trip(target in 1u16..1000) {
            let port = static_knock_port(target).expect("1..999 is encodable");
            prop_assert_eq!(static_target(port, STATIC_SEQ), Some(target));
        }
    }
}
