//! Matcher tests on virtual time: no clock, no sockets. One file per job;
//! this one holds what they share: the policy, packets and a stand-alone
//! context to drive one verifier without the dispatcher.

mod dispatch;
mod fwknop;
mod grants;
mod reload;
mod scan;
mod sequence;
mod spa;
mod spa_bind;
mod standing;
mod syn;

use super::context::{Ctx, Output};
use super::replay::Replay;
use super::*;
use crate::packet::{Packet, Transport};
use postern_proto::method::DoorProto;
pub use std::net::IpAddr;

pub(crate) mod fixture {
    //! The test policy, by hand and as `posternd.toml` text (the config
    //! side checks that both say the same).
    use super::super::*;
    use postern_proto::method::Door;
    use postern_proto::method::DoorProto;
    use postern_proto::method::sequence::{DynamicParams, Sequence};
    use postern_proto::{ServerId, UserKey};

    pub const SID: &str = "00112233445566778899aabbccddeeff";
    pub const ALICE: [u8; 32] = [1; 32];

    pub fn config_text() -> String {
        format!(
            r#"[server]
server_id = "{SID}"
interfaces = ["veth0"]

[limits]
max_sources = 1000
scan_limit = 20

[[door]]
name = "ssh"
proto = "tcp"
port = 22
duration = 30
sequence = "7000,8000:udp,9000,64:icmp"
spa = true
spa_max_duration = 60
syn_token = "keyed"

[[door]]
name = "web"
proto = "tcp"
port = 443
syn_token = "static"
dynamic = {{ length = 5, port_min = 40000, port_max = 40999 }}

[[user]]
name = "alice"
key = "{}"
doors = ["ssh", "web"]
sources = ["198.18.0.0/15", "fd00::/8"]
max_duration = 60
"#,
            UserKey::from_bytes(ALICE).to_base64()
        )
    }

    pub fn sid() -> ServerId {
        ServerId::from_hex(SID).expect("sid")
    }

    /// `posternd.toml`'s defaults, with the fixture's two changes.
    pub fn limits() -> Limits {
        Limits {
            max_sources: 1000,
            seq_timeout: 10,
            scan_limit: 20,
            scan_window: 10,
            max_skew: 60,
            replay_capacity: 100_000,
            log_rate: 20,
            max_grants: DEFAULT_MAX_GRANTS,
            max_unauth_grants: DEFAULT_MAX_UNAUTH_GRANTS,
            unauth_grant_rate: DEFAULT_UNAUTH_GRANT_RATE,
            user_max_grants: DEFAULT_USER_MAX_GRANTS,
            user_replay_quota: DEFAULT_USER_REPLAY_QUOTA,
            source_must_match: false,
            syn_guesses_per_source: DEFAULT_GUESSES_PER_SOURCE,
            syn_guesses_per_network: DEFAULT_GUESSES_PER_PREFIX,
        }
    }

    pub fn spa() -> SpaListen {
        SpaListen {
            port: 62201,
            icmp: true,
        }
    }

    pub fn door(name: &str, port: u16) -> PolicyDoor {
        PolicyDoor {
            name: name.into(),
            door: Door {
                proto: DoorProto::Tcp,
                port,
            },
            duration: 30,
            sequence: None,
            dynamic: None,
            spa: false,
            spa_max_duration: None,
            syn_token: None,
            syn_step_secs: 30,
        }
    }

    pub fn ssh(sequence: &str) -> PolicyDoor {
        PolicyDoor {
            sequence: Some(Sequence::parse(sequence).expect("valid sequence").0),
            spa: true,
            spa_max_duration: Some(60),
            syn_token: Some(SynToken::Keyed),
            ..door("ssh", 22)
        }
    }

    pub fn web() -> PolicyDoor {
        PolicyDoor {
            syn_token: Some(SynToken::Static),
            dynamic: Some(DynamicParams {
                length: 5,
                port_min: 40000,
                port_max: 40999,
                proto: postern_proto::method::KnockProto::Tcp,
                step_secs: 30,
            }),
            ..door("web", 443)
        }
    }

    pub fn alice() -> PolicyUser {
        PolicyUser {
            name: "alice".into(),
            key: UserKey::from_bytes(ALICE),
            doors: vec!["ssh".into(), "web".into()],
            sources: vec![
                "198.18.0.0/15".parse().expect("net"),
                "fd00::/8".parse().expect("net"),
            ],
            max_duration: 60,
            require_address: false,
            fwknop: None,
            standing: Default::default(),
        }
    }

    pub fn policy_with(doors: Vec<PolicyDoor>, users: Vec<PolicyUser>) -> Policy {
        Policy::new(sid(), spa(), limits(), doors, users)
    }

    pub fn policy() -> Policy {
        policy_with(
            vec![ssh("7000,8000:udp,9000,64:icmp"), web()],
            vec![alice()],
        )
    }
}

pub use fixture::{ALICE, sid};

pub const T0: u64 = 1_800_000_000_000; // ms

pub fn matcher() -> Matcher {
    Matcher::new(fixture::policy(), T0)
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

pub fn tcp(src: &str, port: u16, seq: u32) -> Packet<'static> {
    tcp_from(src, 40000, port, seq)
}

/// A SYN from a chosen source port (a keyed SYN token's).
pub fn tcp_from(src: &str, src_port: u16, port: u16, seq: u32) -> Packet<'static> {
    Packet {
        src: ip(src),
        dst: ip("198.18.0.1"),
        transport: Transport::Tcp {
            dst_port: port,
            src_port,
            seq,
            syn: true,
            ack: false,
        },
    }
}

pub fn udp<'a>(src: &str, port: u16, payload: &'a [u8]) -> Packet<'a> {
    Packet {
        src: ip(src),
        dst: ip("198.18.0.1"),
        transport: Transport::Udp {
            dst_port: port,
            src_port: 40000,
            payload,
        },
    }
}

pub fn icmp<'a>(src: &str, payload: &'a [u8]) -> Packet<'a> {
    Packet {
        src: ip(src),
        dst: ip("198.18.0.1"),
        transport: Transport::IcmpEcho { payload },
    }
}

/// Grants and decision lines (a grant's "accepted" line included) polled.
pub fn events(m: &mut Matcher) -> (Vec<Grant>, Vec<Decision>) {
    let (g, d, _) = all_events(m);
    (g, d)
}

/// Everything polled, revokes too.
pub fn all_events(m: &mut Matcher) -> (Vec<Grant>, Vec<Decision>, Vec<Revoke>) {
    let mut out = Out::default();
    while let Some(e) = m.poll_event() {
        out.push(e);
    }
    (out.grants, out.decisions, out.revokes)
}

#[derive(Debug, Default)]
pub struct Out {
    pub grants: Vec<Grant>,
    pub decisions: Vec<Decision>,
    pub revokes: Vec<Revoke>,
}

impl Out {
    fn push(&mut self, e: Event) {
        match e {
            Event::Grant(x) => {
                self.decisions.push(x.decision());
                self.grants.push(x);
            }
            Event::Decision(x) => self.decisions.push(x),
            Event::Revoke(r) => self.revokes.push(r),
            Event::Suppressed { .. } => {}
        }
    }
}

pub fn knock_static(m: &mut Matcher, src: &str, t: u64) {
    let ping = [0u8; 64];
    m.handle_packet(t, &tcp(src, 7000, 1));
    m.handle_packet(t + 10, &udp(src, 8000, &[]));
    m.handle_packet(t + 20, &tcp(src, 9000, 1));
    m.handle_packet(t + 30, &icmp(src, &ping));
}

pub fn door(port: u16) -> postern_proto::method::Door {
    postern_proto::method::Door {
        proto: DoorProto::Tcp,
        port,
    }
}

/// The shared context without a matcher around it, to drive one verifier.
pub struct Rig {
    pub policy: Policy,
    pub replay: Replay,
    pub out: Output,
}

impl Rig {
    pub fn new(policy: Policy) -> Self {
        let l = policy.limits;
        Rig {
            replay: Replay::new(l.replay_capacity),
            out: Output::new(&l, T0),
            policy,
        }
    }

    pub fn ctx(&mut self) -> Ctx<'_> {
        Ctx {
            policy: &self.policy,
            replay: &mut self.replay,
            out: &mut self.out,
        }
    }

    /// What the verifier queued, in the order it did.
    pub fn drain(&mut self) -> Out {
        let mut out = Out::default();
        while let Some(e) = self.out.events.pop_front() {
            out.push(e);
        }
        out
    }
}
