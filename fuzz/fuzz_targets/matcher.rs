//! The matcher state machine on arbitrary packet streams and clocks.
//!
//! A fixed config (`postern_fuzz::SAMPLE_CONFIG`: every method, two users,
//! small limits) is loaded once; each input is decoded with `arbitrary` into
//! a list of operations: raw TCP/UDP/ICMP packets from a few sources, clock
//! moves (forward, large jumps, and backwards as a wall clock can), explicit
//! timeouts, a restart that restores the persisted replay cache, and — so the
//! accepting paths are reachable — *valid* knocks the target computes with
//! the users' keys: sealed SPA packets (replayable), static and dynamic
//! sequence knocks and keyed SYN tokens — and reloads with a door or a user
//! removed. Checks: never panics; every grant is for a configured door with
//! a ttl of 1 s to 86400 s for a configured user; every revoke ends a grant
//! that is live, once, and an expiry never comes before the grant's
//! (latest) deadline; `live_grants` is exactly the grants not yet revoked.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use postern_fuzz::SAMPLE_CONFIG;
use postern_proto::fixtures::vectors;
use postern_proto::method::sequence::Knock;
use postern_proto::method::{Door, DoorProto, KnockProto, spa, syn_token};
use postern_proto::replay::Digest;
use postern_proto::wire::spa::{AllowAddr, MAX_PACKET, SpaRequest, TAG_LEN};
use postern_proto::{Step, UnixTime};
use postern_server::config::{self, Config};
use postern_server::matcher::{Event, Matcher, RevokeWhy};
use postern_server::packet::{Packet, Transport};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use std::time::Duration;

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| config::parse(SAMPLE_CONFIG, "sample.toml").expect("sample config"))
}

/// Where a packet comes from: a few fixed hosts (so per-source state builds
/// up), inside and outside bob's source ranges, or anything.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Src {
    Lab(u8),
    Outside(u8),
    LabV6(u8),
    V4([u8; 4]),
    V6([u8; 16]),
}

impl Src {
    fn addr(self) -> IpAddr {
        match self {
            Src::Lab(x) => IpAddr::V4(Ipv4Addr::new(198, 18, 0, x % 4)),
            Src::Outside(x) => IpAddr::V4(Ipv4Addr::new(203, 0, 113, x % 4)),
            Src::LabV6(x) => IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(x % 4))),
            Src::V4(b) => IpAddr::V4(Ipv4Addr::from(b)),
            Src::V6(b) => IpAddr::V6(Ipv6Addr::from(b)),
        }
    }
}

/// Ports the config cares about, or any.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Port {
    Ssh,
    Rdp,
    Dns,
    Spa,
    StaticToken,
    Knock(u8),
    Dynamic(u8),
    Any(u16),
}

impl Port {
    fn number(self) -> u16 {
        match self {
            Port::Ssh => 22,
            Port::Rdp => 3389,
            Port::Dns => 53,
            Port::Spa => 62201,
            Port::StaticToken => 1022,
            Port::Knock(i) => [7000, 8000, 9000, 2222, 3333][usize::from(i) % 5],
            Port::Dynamic(i) => 20000 + u16::from(i % 64),
            Port::Any(p) => p,
        }
    }
}

/// What a valid SPA request asks for.
#[derive(Arbitrary, Debug)]
struct SpaSpec {
    bob: bool,
    /// Seconds between the packet's timestamp and the matcher's clock.
    skew: i16,
    duration: u32,
    allow: Option<Src>,
    doors: Vec<(bool, Port)>,
    action: Option<u8>,
    /// Extra padding bytes.
    pad: u8,
    icmp: bool,
    src: Src,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Wait(u16),
    JumpSecs(u16),
    BackMs(u16),
    BackSecs(u16),
    Timeout,
    Restart,
    Tcp {
        src: Src,
        port: Port,
        seq: u32,
        syn: bool,
        ack: bool,
    },
    Udp {
        src: Src,
        port: Port,
        payload: Vec<u8>,
    },
    Icmp {
        src: Src,
        payload: Vec<u8>,
    },
    Spa(SpaSpec),
    /// Sends the last sealed SPA packet again (replay).
    Resend {
        src: Src,
        icmp: bool,
    },
    /// Knock `index` of a static sequence (door 0 or 3).
    StaticKnock {
        src: Src,
        dns: bool,
        index: u8,
    },
    /// Knock `index` of a user's dynamic sequence for a step near now.
    DynamicKnock {
        src: Src,
        bob: bool,
        step: i8,
        index: u8,
    },
    /// A correct keyed SYN token for a step near now.
    KeyedSyn {
        src: Src,
        bob: bool,
        step: i8,
    },
    /// Applies the sample config less one door and/or one user.
    Reload {
        drop_door: Option<u8>,
        drop_user: Option<u8>,
    },
}

struct Run {
    matcher: Matcher,
    now_ms: u64,
    last_spa: Option<Vec<u8>>,
    /// The replay cache as the daemon would have persisted it.
    persisted: Vec<(Digest, UnixTime)>,
    /// Grants not yet revoked: (source, door) → latest deadline.
    live: HashMap<(IpAddr, Door), u64>,
}

impl Run {
    fn packet(&mut self, src: Src, transport: Transport<'_>) {
        let pkt = Packet {
            src: src.addr(),
            dst: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
            transport,
        };
        self.matcher.handle_packet(self.now_ms, &pkt);
    }

    fn knock(&mut self, src: Src, k: Knock) {
        let transport = match k.proto {
            KnockProto::Tcp => Transport::Tcp {
                dst_port: k.value,
                src_port: 40000,
                seq: 1,
                syn: true,
                ack: false,
            },
            KnockProto::Udp => Transport::Udp {
                dst_port: k.value,
                src_port: 40000,
                payload: &[],
            },
            KnockProto::Icmp => {
                let payload = vec![0u8; usize::from(k.value)];
                return self.packet(src, Transport::IcmpEcho { payload: &payload });
            }
        };
        self.packet(src, transport);
    }

    fn spa_payload(&mut self, src: Src, icmp: bool, payload: &[u8]) {
        let transport = if icmp {
            Transport::IcmpEcho { payload }
        } else {
            Transport::Udp {
                dst_port: config().spa.port,
                src_port: 40000,
                payload,
            }
        };
        self.packet(src, transport);
    }

    fn step(&self, secs: u64, offset: i8) -> Step {
        let center = UnixTime(self.now_ms / 1000).step(secs).0;
        Step(center.saturating_add_signed(i64::from(offset)))
    }

    fn apply(&mut self, op: Op) {
        let cfg = config();
        match op {
            Op::Wait(ms) => self.now_ms += u64::from(ms),
            Op::JumpSecs(s) => self.now_ms += u64::from(s) * 1000,
            Op::BackMs(ms) => self.now_ms = self.now_ms.saturating_sub(u64::from(ms)),
            Op::BackSecs(s) => self.now_ms = self.now_ms.saturating_sub(u64::from(s) * 1000),
            Op::Timeout => self.matcher.handle_timeout(self.now_ms),
            Op::Restart => {
                // A stopping daemon revokes every grant (fail-closed).
                self.live.clear();
                self.matcher = Matcher::new(cfg.policy(), self.now_ms);
                self.matcher
                    .restore_replay(self.persisted.clone(), self.now_ms);
            }
            Op::Tcp {
                src,
                port,
                seq,
                syn,
                ack,
            } => self.packet(
                src,
                Transport::Tcp {
                    dst_port: port.number(),
                    src_port: 40000,
                    seq,
                    syn,
                    ack,
                },
            ),
            Op::Udp { src, port, payload } => self.packet(
                src,
                Transport::Udp {
                    dst_port: port.number(),
                    src_port: 40000,
                    payload: &payload,
                },
            ),
            Op::Icmp { src, payload } => {
                self.packet(src, Transport::IcmpEcho { payload: &payload })
            }
            Op::Spa(spec) => {
                let user = &cfg.users[usize::from(spec.bob)];
                let timestamp = (self.now_ms / 1000).saturating_add_signed(i64::from(spec.skew));
                let mut doors: Vec<Door> = spec
                    .doors
                    .iter()
                    .take(16)
                    .map(|&(tcp, port)| Door {
                        proto: if tcp { DoorProto::Tcp } else { DoorProto::Udp },
                        port: port.number().max(1),
                    })
                    .collect();
                if doors.is_empty() {
                    doors.push(Door {
                        proto: DoorProto::Tcp,
                        port: 22,
                    });
                }
                let req = SpaRequest {
                    timestamp,
                    duration: spec.duration,
                    allow: spec
                        .allow
                        .map_or(AllowAddr::Source, |a| AllowAddr::Explicit(a.addr())),
                    doors,
                    action: spec.action.map(|n| "a".repeat(usize::from(n % 65))),
                };
                let mut nonce = vectors::nonce();
                nonce[..8].copy_from_slice(&self.now_ms.to_be_bytes());
                let len =
                    (33 + req.emitted_len() + TAG_LEN + usize::from(spec.pad)).min(MAX_PACKET);
                let bytes = spa::seal_with(&user.key, &cfg.server.server_id, &req, nonce, len)
                    .expect("a valid request seals");
                self.spa_payload(spec.src, spec.icmp, &bytes);
                self.last_spa = Some(bytes);
            }
            Op::Resend { src, icmp } => {
                if let Some(bytes) = self.last_spa.clone() {
                    self.spa_payload(src, icmp, &bytes);
                }
            }
            Op::StaticKnock { src, dns, index } => {
                let door = &cfg.doors[if dns { 3 } else { 0 }];
                let seq = &door
                    .sequence
                    .as_ref()
                    .expect("sample door has a sequence")
                    .0;
                self.knock(src, seq[usize::from(index) % seq.len()]);
            }
            Op::DynamicKnock {
                src,
                bob,
                step,
                index,
            } => {
                let dy = cfg.doors[1]
                    .dynamic
                    .expect("sample door is dynamic")
                    .params();
                let user = &cfg.users[usize::from(bob)];
                let step = self.step(dy.step_secs, step % 3);
                let seq = dy.sequence_for(&user.key, &cfg.server.server_id, step).0;
                self.knock(src, seq[usize::from(index) % seq.len()]);
            }
            Op::KeyedSyn { src, bob, step } => {
                let user = &cfg.users[usize::from(bob)];
                let door = &cfg.doors[1];
                let step = self.step(door.syn_step_secs, step % 3);
                let (seq, src_port) = syn_token::keyed_token(
                    &user.key,
                    &cfg.server.server_id,
                    step,
                    door.port,
                    src.addr(),
                );
                self.packet(
                    src,
                    Transport::Tcp {
                        dst_port: door.port,
                        src_port,
                        seq,
                        syn: true,
                        ack: false,
                    },
                );
            }
            Op::Reload {
                drop_door,
                drop_user,
            } => {
                let mut c = cfg.clone();
                if let Some(i) = drop_door {
                    c.doors.remove(usize::from(i) % c.doors.len());
                }
                if let Some(i) = drop_user {
                    c.users.remove(usize::from(i) % c.users.len());
                }
                self.matcher.reload(c.policy(), self.now_ms);
            }
        }
        self.drain();
    }

    fn drain(&mut self) {
        let cfg = config();
        if let Some(entries) = self.matcher.take_replay_update() {
            self.persisted = entries;
        }
        while let Some(ev) = self.matcher.poll_event() {
            let g = match ev {
                Event::Grant(g) => g,
                Event::Revoke(r) => {
                    let deadline = self.live.remove(&(r.source, r.door));
                    assert!(deadline.is_some(), "revoke of no live grant: {r:?}");
                    if r.why == RevokeWhy::Expired {
                        assert!(
                            deadline <= Some(self.now_ms),
                            "expired early at {}: {r:?} {deadline:?}",
                            self.now_ms
                        );
                    }
                    continue;
                }
                _ => continue,
            };
            let d = self.live.entry((g.source, g.door)).or_insert(0);
            *d = (*d).max(g.expires_ms);
            assert!(
                cfg.doors.iter().any(|d| d.door() == g.door),
                "grant for an unknown door: {g:?}"
            );
            assert!(
                (Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&g.ttl),
                "grant ttl out of range: {g:?}"
            );
            if let Some(u) = &g.user {
                assert!(
                    cfg.users.iter().any(|c| &c.name == u),
                    "unknown user: {g:?}"
                );
            }
        }
        let tracked: HashMap<(IpAddr, Door), u64> = self
            .matcher
            .live_grants()
            .map(|g| ((g.source, g.door), g.expires_ms))
            .collect();
        assert_eq!(tracked, self.live, "live_grants differs from the events");
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let start = vectors::TIMESTAMP * 1000;
    let mut run = Run {
        matcher: Matcher::new(config().policy(), start),
        now_ms: start,
        last_spa: None,
        persisted: Vec::new(),
        live: HashMap::new(),
    };
    for op in ops {
        run.apply(op);
    }
    let _ = run.matcher.stats();
    let _ = run.matcher.poll_timeout();
});
