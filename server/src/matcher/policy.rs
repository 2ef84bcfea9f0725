//! The config, compiled into lookup tables the matcher uses per packet.

use crate::config::{Config, DoorConfig, Limits, SynTokenMode, UserConfig};
use postern_proto::ServerId;
use postern_proto::method::sequence::Knock;
use postern_proto::method::{DoorProto, KnockProto};
use std::collections::HashMap;

/// Index of a door in [`Policy::doors`].
pub type DoorIdx = usize;
/// Index of a user in [`Policy::users`].
pub type UserIdx = usize;

/// Everything the matcher needs to decide, precomputed once per config.
#[derive(Debug, Clone)]
pub struct Policy {
    pub server_id: ServerId,
    pub limits: Limits,
    pub spa_port: u16,
    pub spa_icmp: bool,
    pub doors: Vec<DoorConfig>,
    pub users: Vec<UserConfig>,
    /// Static sequence knocks → the doors whose sequence contains them.
    pub static_knocks: HashMap<Knock, Vec<DoorIdx>>,
    /// (door, user) pairs allowed to use each door, per door.
    pub door_users: Vec<Vec<UserIdx>>,
    /// TCP port → door with a keyed SYN token.
    pub keyed_syn_ports: HashMap<u16, DoorIdx>,
    /// TCP port → door with the static SYN token.
    pub static_syn_ports: HashMap<u16, DoorIdx>,
    /// Doors with dynamic sequences.
    pub dynamic_doors: Vec<DoorIdx>,
    /// The protected ports as knocks: legitimate clients connect there
    /// after knocking, so the scan guard does not count them.
    pub door_knocks: std::collections::HashSet<Knock>,
}

impl Policy {
    pub fn new(cfg: &Config) -> Self {
        let mut static_knocks: HashMap<Knock, Vec<DoorIdx>> = HashMap::new();
        let mut keyed_syn_ports = HashMap::new();
        let mut static_syn_ports = HashMap::new();
        let mut dynamic_doors = Vec::new();
        for (i, d) in cfg.doors.iter().enumerate() {
            if let Some(seq) = &d.sequence {
                for k in &seq.0 {
                    let v = static_knocks.entry(*k).or_default();
                    if !v.contains(&i) {
                        v.push(i);
                    }
                }
            }
            match (d.syn_token, d.proto) {
                (Some(SynTokenMode::Keyed), DoorProto::Tcp) => {
                    keyed_syn_ports.insert(d.port, i);
                }
                (Some(SynTokenMode::Static), _) => {
                    static_syn_ports.insert(d.port, i);
                }
                _ => {}
            }
            if d.dynamic.is_some() {
                dynamic_doors.push(i);
            }
        }
        let door_users = cfg
            .doors
            .iter()
            .map(|d| {
                cfg.users
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| u.doors.contains(&d.name))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        let door_knocks = cfg
            .doors
            .iter()
            .map(|d| Knock {
                proto: match d.proto {
                    DoorProto::Tcp => KnockProto::Tcp,
                    DoorProto::Udp => KnockProto::Udp,
                },
                value: d.port,
            })
            .collect();
        Policy {
            server_id: cfg.server.server_id,
            door_knocks,
            limits: cfg.limits,
            spa_port: cfg.spa.port,
            spa_icmp: cfg.spa.icmp,
            doors: cfg.doors.clone(),
            users: cfg.users.clone(),
            static_knocks,
            door_users,
            keyed_syn_ports,
            static_syn_ports,
            dynamic_doors,
        }
    }

    pub fn user_may(&self, user: UserIdx, door: DoorIdx) -> bool {
        self.door_users.get(door).is_some_and(|u| u.contains(&user))
    }

    /// Whether a knock could matter to any sequence (used to skip work).
    pub fn knock_proto_watched(&self, proto: KnockProto) -> bool {
        self.static_knocks.keys().any(|k| k.proto == proto)
            || self
                .dynamic_doors
                .iter()
                .any(|&d| self.doors[d].dynamic.is_some_and(|dy| dy.proto == proto))
    }
}
