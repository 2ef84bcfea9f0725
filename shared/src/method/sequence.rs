//! Knock sequences, static (knockd-compatible) and dynamic (derived from
//! the time step, protocol.md §4).

use crate::keys::{Purpose, UserKey};
use crate::method::KnockProto;
use crate::{ServerId, Step};
use serde::{Deserialize, Serialize};

/// One knock: a TCP SYN or UDP datagram to a port, or an ICMP echo request
/// with a payload of `value` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Knock {
    pub proto: KnockProto,
    pub value: u16,
}

impl std::fmt::Display for Knock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.value, self.proto.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("the sequence is empty")]
    Empty,
    #[error("knock {index} (\"{text}\"): {why}")]
    Knock {
        index: usize,
        text: String,
        why: &'static str,
    },
    #[error("a sequence has at most {max} knocks, this one has {got}")]
    TooLong { max: usize, got: usize },
}

/// Longest sequence accepted; longer ones are a typo, not more security.
pub const MAX_SEQUENCE: usize = 32;

/// A static knock sequence in knockd's syntax: `7000,8000:udp,9000:tcp`.
/// Postern adds `N:icmp`, an echo request with N payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence(pub Vec<Knock>);

impl Sequence {
    pub fn parse(text: &str) -> Result<Self, SequenceError> {
        let parts: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            return Err(SequenceError::Empty);
        }
        if parts.len() > MAX_SEQUENCE {
            return Err(SequenceError::TooLong {
                max: MAX_SEQUENCE,
                got: parts.len(),
            });
        }
        let mut knocks = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let bad = |why| SequenceError::Knock {
                index: i + 1,
                text: (*part).to_owned(),
                why,
            };
            let (num, proto) = match part.split_once(':') {
                None => (*part, KnockProto::Tcp),
                Some((n, p)) => {
                    let proto = match p.trim().to_ascii_lowercase().as_str() {
                        "tcp" => KnockProto::Tcp,
                        "udp" => KnockProto::Udp,
                        "icmp" => KnockProto::Icmp,
                        _ => return Err(bad("protocol must be tcp, udp or icmp")),
                    };
                    (n.trim(), proto)
                }
            };
            let value: u16 = num
                .parse()
                .map_err(|_| bad("expected a number from 1 to 65535"))?;
            if value == 0 && proto != KnockProto::Icmp {
                return Err(bad("port 0 cannot be knocked"));
            }
            if proto == KnockProto::Icmp && usize::from(value) > MAX_ICMP_PAYLOAD {
                return Err(bad("an ICMP knock's payload must be at most 1400 bytes"));
            }
            knocks.push(Knock { proto, value });
        }
        Ok(Sequence(knocks))
    }
}

/// Largest ICMP knock payload: stays under a 1500-byte MTU with IPv6.
pub const MAX_ICMP_PAYLOAD: usize = 1400;

impl std::fmt::Display for Sequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, k) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}")?;
        }
        Ok(())
    }
}

impl Serialize for Sequence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sequence {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Sequence::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Parameters of a dynamic sequence, shared by client and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicParams {
    /// Number of knocks (2..=16).
    pub length: u8,
    /// Lowest port knocks may use.
    pub port_min: u16,
    /// Highest port knocks may use (inclusive).
    pub port_max: u16,
    /// Protocol of every knock (tcp or udp).
    pub proto: KnockProto,
    /// Seconds per step.
    pub step_secs: u64,
}

/// Least secret a dynamic sequence must carry, in bits. Stops: brute
/// force. A guesser tries whole sequences (a wrong knock in the range voids
/// the try), at most `scan_limit` knocks per `scan_window` per /64 or /24;
/// with 48 bits even a million-address botnet at 4 tries/s each needs
/// about a year on average, while 2 knocks over 8 ports (5.8 bits, which
/// used to be accepted) fell to 56 tries.
pub const MIN_DYNAMIC_BITS: f64 = 48.0;

impl DynamicParams {
    /// Bits of secret in one sequence: the number of ordered choices of
    /// `length` distinct ports from the range, log2 of
    /// `range × (range − 1) × … × (range − length + 1)`.
    pub fn bits(&self) -> f64 {
        let range = f64::from(self.port_max.saturating_sub(self.port_min)) + 1.0;
        (0..self.length)
            .map(|i| (range - f64::from(i)).max(1.0).log2())
            .sum()
    }

    /// Refuses a sequence below [`MIN_DYNAMIC_BITS`] (for `posternd check`
    /// and `posternd user add`; profiles already issued still parse).
    pub fn strong_enough(&self) -> Result<(), String> {
        let bits = self.bits();
        if bits < MIN_DYNAMIC_BITS {
            return Err(format!(
                "{} knocks over {} ports is {bits:.1} bits; at least {MIN_DYNAMIC_BITS} are needed \
                 (more knocks or a wider port range: 5 knocks over 1000 ports is 49.8)",
                self.length,
                u32::from(self.port_max.saturating_sub(self.port_min)) + 1
            ));
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), &'static str> {
        if !(2..=16).contains(&self.length) {
            return Err("a dynamic sequence has 2 to 16 knocks");
        }
        if self.port_min == 0 || self.port_max < self.port_min {
            return Err("port_min must be at least 1 and not above port_max");
        }
        if u32::from(self.port_max - self.port_min) + 1 < u32::from(self.length) * 4 {
            return Err("the port range must hold at least 4 ports per knock");
        }
        if self.proto == KnockProto::Icmp {
            return Err("dynamic sequences use tcp or udp");
        }
        if !(5..=3600).contains(&self.step_secs) {
            return Err("step_secs must be between 5 and 3600");
        }
        Ok(())
    }

    /// The knocks for `step` (protocol.md §4): distinct ports, each
    /// `port_min + (u32_be(HMAC(k_dyn, "seq" || server_id || step_be || i)[0..4]) mod range)`,
    /// skipping a port already used in the sequence (then `i` counts on).
    pub fn sequence_for(&self, key: &UserKey, server: &ServerId, step: Step) -> Sequence {
        let sub = key.derive(Purpose::DynamicSequence);
        let range = u32::from(self.port_max) - u32::from(self.port_min) + 1;
        let mut knocks: Vec<Knock> = Vec::with_capacity(usize::from(self.length));
        let mut i: u32 = 0;
        while knocks.len() < usize::from(self.length) {
            let mac = sub.hmac(&[b"seq", &server.0, &step.0.to_be_bytes(), &i.to_be_bytes()]);
            let x = u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]]);
            // `range` is at most 65535, so the sum fits in u16.
            let port = (u32::from(self.port_min) + x % range) as u16;
            if !knocks.iter().any(|k| k.value == port) {
                knocks.push(Knock {
                    proto: self.proto,
                    value: port,
                });
            }
            i += 1;
        }
        Sequence(knocks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_knockd_syntax() {
        let s = Sequence::parse("7000, 8000:udp,9000:TCP,56:icmp").expect("valid");
        assert_eq!(s.to_string(), "7000:tcp,8000:udp,9000:tcp,56:icmp");
        assert_eq!(Sequence::parse(""), Err(SequenceError::Empty));
        let e = Sequence::parse("7000,x:udp").unwrap_err();
        assert_eq!(
            e.to_string(),
            "knock 2 (\"x:udp\"): expected a number from 1 to 65535"
        );
        assert!(Sequence::parse("7000:sctp").is_err());
        assert!(Sequence::parse("0").is_err());
        assert!(Sequence::parse("70000").is_err());
    }

    #[test]
    fn dynamic_sequence_is_deterministic_and_changes_per_step() {
        let p = DynamicParams {
            length: 4,
            port_min: 20000,
            port_max: 29999,
            proto: KnockProto::Tcp,
            step_secs: 30,
        };
        p.validate().expect("valid");
        let k = UserKey::from_bytes([1; 32]);
        let id = ServerId([2; 16]);
        let a = p.sequence_for(&k, &id, Step(100));
        assert_eq!(a, p.sequence_for(&k, &id, Step(100)));
        assert_ne!(a, p.sequence_for(&k, &id, Step(101)));
        assert_ne!(a, p.sequence_for(&k, &ServerId([3; 16]), Step(100)));
    }

    #[test]
    fn bits_count_ordered_distinct_ports() {
        let p = |length, port_max| DynamicParams {
            length,
            port_min: 40000,
            port_max,
            proto: KnockProto::Tcp,
            step_secs: 30,
        };
        assert!((p(2, 40007).bits() - (8f64 * 7.0).log2()).abs() < 1e-9);
        assert!(p(2, 40007).strong_enough().is_err());
        assert!(p(3, 40999).strong_enough().is_err());
        assert!(p(5, 40999).strong_enough().is_ok());
        assert!((p(5, 40999).bits() - 49.8).abs() < 0.05);
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(knocks in proptest::collection::vec((0u8..3, 1u16..1400), 1..MAX_SEQUENCE)) {
            let seq = Sequence(knocks.into_iter().map(|(p, v)| Knock {
                proto: [KnockProto::Tcp, KnockProto::Udp, KnockProto::Icmp][usize::from(p)],
                value: v,
            }).collect());
            prop_assert_eq!(Sequence::parse(&seq.to_string()), Ok(seq));
        }

        #[test]
        fn dynamic_ports_distinct_and_in_range(seed in any::<[u8; 32]>(), step in any::<u64>(), len in 2u8..=16, min in 1u16..60000, span in 64u16..5000) {
            let p = DynamicParams { length: len, port_min: min, port_max: min.saturating_add(span), proto: KnockProto::Udp, step_secs: 30 };
            prop_assume!(p.validate().is_ok());
            let s = p.sequence_for(&UserKey::from_bytes(seed), &ServerId([0; 16]), Step(step));
            prop_assert_eq!(s.0.len(), usize::from(len));
            let mut ports: Vec<u16> = s.0.iter().map(|k| k.value).collect();
            prop_assert!(ports.iter().all(|p| (min..=min.saturating_add(span)).contains(p)));
            ports.sort_unstable();
            ports.dedup();
            prop_assert_eq!(ports.len(), usize::from(len));
        }
    }
}
