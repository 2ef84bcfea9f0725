//! `KnockPlan`: from a profile, a key, the time and an RNG, the exact
//! packets to send, in order, with the pause before each (DESIGN.md §2).
//!
//! The plan is data. The client's transmitter turns it into packets; tests
//! inspect it directly. Under a seeded RNG it is fully deterministic.

use crate::decoy::DecoySpec;
use crate::method::sequence::Sequence;
use crate::method::spa::{self, SpaError};
use crate::method::{KnockProto, fwknop, syn_token};
use crate::profile::{AllowMode, MethodSpec, Profile, SpaTransport};
use crate::wire::spa::{AllowAddr, SpaRequest};
use crate::{UnixTime, UserKey};
use rand::{Rng, RngCore};
use std::net::IpAddr;
use std::time::Duration;

/// The packet type lives in [`crate::packet`] (below both the planner and
/// the decoys); re-exported so `plan::Wire` keeps working.
pub use crate::packet::Wire;

/// A packet with the pause to take before sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPacket {
    pub wire: Wire,
    pub wait: Duration,
    /// For tests and statistics only; the UI must not single decoys out.
    pub decoy: bool,
}

/// The packets of one knock, in sending order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct KnockPlan {
    pub packets: Vec<PlannedPacket>,
}

impl KnockPlan {
    pub fn real(&self) -> impl Iterator<Item = &PlannedPacket> {
        self.packets.iter().filter(|p| !p.decoy)
    }

    /// Sum of all pauses.
    pub fn duration(&self) -> Duration {
        self.packets.iter().map(|p| p.wait).sum()
    }
}

/// Everything a plan depends on besides the profile.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub profile: &'a Profile,
    /// The user's secret, for methods that have one.
    pub key: Option<&'a UserKey>,
    pub now: UnixTime,
    /// The client's address as the server will see it (keyed SYN token).
    pub source: Option<IpAddr>,
    /// The address resolved for `allow.mode = "url"` or `"auto"` (the
    /// engine finds it; the plan stays free of I/O).
    pub resolved_allow: Option<IpAddr>,
    /// Overrides the profile's decoy count.
    pub decoys: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("this profile's method needs the user's key, and it is missing")]
    MissingKey,
    #[error("this fwknop host's keys are missing; add them again (KEY_BASE64, HMAC_KEY_BASE64)")]
    MissingFwknopKeys,
    #[error("the keyed SYN token needs this computer's address as the server sees it")]
    NeedSource,
    #[error("the address to allow has not been resolved yet")]
    AllowNotResolved,
    #[error("the static SYN token cannot open port {0} (only 1 to 999)")]
    SynTokenPort(u16),
    #[error(transparent)]
    Spa(#[from] SpaError),
}

/// Builds the plan: real packets in order, decoys interleaved at random
/// positions, every pause jittered.
pub fn plan(input: &PlanInput<'_>, rng: &mut impl RngCore) -> Result<KnockPlan, PlanError> {
    let p = input.profile;
    let door_ports = p.doors.iter().map(|d| d.port);
    let mut spec = DecoySpec {
        avoid_ports: door_ports.collect(),
        ..DecoySpec::default()
    };
    let mut gap = Duration::ZERO;
    let key = || input.key.or(p.method.key()).ok_or(PlanError::MissingKey);

    let real: Vec<Wire> = match &p.method {
        MethodSpec::StaticSequence { sequence, delay_ms } => {
            gap = Duration::from_millis(u64::from(*delay_ms));
            sequence_wires(sequence, &mut spec)
        }
        MethodSpec::DynamicSequence { .. } => {
            let params = p.method.dynamic_params().ok_or(PlanError::MissingKey)?;
            let seq = params.sequence_for(key()?, &p.server_id, input.now.step(params.step_secs));
            spec.avoid_ranges.push(params.port_min..=params.port_max);
            sequence_wires(&seq, &mut spec)
        }
        MethodSpec::Spa {
            port,
            transport,
            action,
            ..
        } => {
            let allow = match &p.allow {
                AllowMode::Source => AllowAddr::Source,
                AllowMode::Explicit { address } => AllowAddr::Explicit(*address),
                AllowMode::Url { .. } | AllowMode::Auto { .. } => {
                    AllowAddr::Explicit(input.resolved_allow.ok_or(PlanError::AllowNotResolved)?)
                }
            };
            let req = SpaRequest {
                timestamp: input.now.0,
                duration: p.doors.iter().map(|d| d.duration).max().unwrap_or(30),
                allow,
                doors: p.door_list(),
                action: action.clone(),
            };
            let payload = spa::seal(key()?, &p.server_id, &req, rng)?;
            spec.spa_sized = true;
            spec.avoid_ports.insert(*port);
            match transport {
                SpaTransport::Udp => {
                    spec.protos.push(KnockProto::Udp);
                    vec![Wire::Udp {
                        port: *port,
                        payload,
                    }]
                }
                SpaTransport::Icmp => {
                    spec.protos.push(KnockProto::Icmp);
                    vec![Wire::IcmpEcho { payload }]
                }
            }
        }
        MethodSpec::Fwknop {
            port, keys, user, ..
        } => {
            let keys = keys.as_ref().ok_or(PlanError::MissingFwknopKeys)?;
            // fwknop's 0.0.0.0 is its `-s`: "the address this comes from".
            let addr = match &p.allow {
                AllowMode::Source => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                AllowMode::Explicit { address } => *address,
                AllowMode::Url { .. } | AllowMode::Auto { .. } => {
                    input.resolved_allow.ok_or(PlanError::AllowNotResolved)?
                }
            };
            let access = fwknop::AccessRequest {
                addr,
                doors: p.door_list(),
            };
            // No client timeout: the server's FW_ACCESS_TIMEOUT decides, as
            // with fwknop run without `-f`.
            let msg = fwknop::FwknopMessage::new(rng, user, input.now.0, access, None);
            spec.avoid_ports.insert(*port);
            spec.protos.push(KnockProto::Udp);
            vec![Wire::Udp {
                port: *port,
                payload: fwknop::seal(keys, &msg, rng).into_bytes(),
            }]
        }
        MethodSpec::SynToken => {
            spec.raw_syn = true;
            spec.protos.push(KnockProto::Tcp);
            let mut v = Vec::new();
            for d in &p.doors {
                let port =
                    syn_token::static_knock_port(d.port).ok_or(PlanError::SynTokenPort(d.port))?;
                spec.avoid_ports.insert(port);
                v.push(Wire::RawSyn {
                    port,
                    seq: syn_token::STATIC_SEQ,
                    src_port: None,
                });
            }
            v
        }
        MethodSpec::SynTokenKeyed { step_secs, .. } => {
            spec.raw_syn = true;
            spec.protos.push(KnockProto::Tcp);
            let source = input.source.ok_or(PlanError::NeedSource)?;
            let step = input.now.step(*step_secs);
            let k = key()?;
            p.doors
                .iter()
                .map(|d| {
                    let (seq, src_port) =
                        syn_token::keyed_token(k, &p.server_id, step, d.port, source);
                    Wire::RawSyn {
                        port: d.port,
                        seq,
                        src_port: Some(src_port),
                    }
                })
                .collect()
        }
    };

    let count = input.decoys.unwrap_or(p.decoys.count).min(64);
    let decoys: Vec<Wire> = (0..count).filter_map(|_| spec.make(rng)).collect();
    let jitter = Duration::from_millis(u64::from(p.decoys.jitter_ms));
    Ok(KnockPlan {
        packets: interleave(real, decoys, gap, jitter, rng),
    })
}

fn sequence_wires(seq: &Sequence, spec: &mut DecoySpec) -> Vec<Wire> {
    seq.0
        .iter()
        .map(|k| {
            if !spec.protos.contains(&k.proto) {
                spec.protos.push(k.proto);
            }
            match k.proto {
                KnockProto::Tcp => {
                    spec.avoid_ports.insert(k.value);
                    Wire::TcpSyn { port: k.value }
                }
                KnockProto::Udp => {
                    spec.avoid_ports.insert(k.value);
                    Wire::Udp {
                        port: k.value,
                        payload: Vec::new(),
                    }
                }
                KnockProto::Icmp => {
                    spec.avoid_icmp_lens.insert(k.value);
                    Wire::IcmpEcho {
                        payload: vec![0u8; usize::from(k.value)],
                    }
                }
            }
        })
        .collect()
}

/// Puts each decoy before a random real packet (or after the last), keeps
/// the real packets' order, and gives every packet but the first a pause:
/// `gap` before each real packet after the first, plus up to `jitter`.
fn interleave(
    real: Vec<Wire>,
    decoys: Vec<Wire>,
    gap: Duration,
    jitter: Duration,
    rng: &mut impl RngCore,
) -> Vec<PlannedPacket> {
    let n = real.len();
    let mut slots: Vec<Vec<Wire>> = vec![Vec::new(); n + 1];
    for d in decoys {
        slots[rng.random_range(0..=n)].push(d);
    }
    let jit = |rng: &mut dyn RngCore| {
        if jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_micros(rng.random_range(0..=jitter.as_micros() as u64))
        }
    };
    let mut out = Vec::with_capacity(n + slots.iter().map(Vec::len).sum::<usize>());
    let mut slots = slots.into_iter();
    for (i, w) in real.into_iter().enumerate() {
        for d in slots.next().into_iter().flatten() {
            out.push(PlannedPacket {
                wire: d,
                wait: jit(rng),
                decoy: true,
            });
        }
        let base = if i == 0 { Duration::ZERO } else { gap };
        out.push(PlannedPacket {
            wire: w,
            wait: base + jit(rng),
            decoy: false,
        });
    }
    for d in slots.next().into_iter().flatten() {
        out.push(PlannedPacket {
            wire: d,
            wait: jit(rng),
            decoy: true,
        });
    }
    // Waiting before the very first packet hides nothing and only delays
    // the knock.
    if let Some(first) = out.first_mut() {
        first.wait = Duration::ZERO;
    }
    out
}

#[cfg(test)]
mod tests;
