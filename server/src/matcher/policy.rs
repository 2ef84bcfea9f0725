//! What the matcher decides by: plain data (doors, users, limits) and the
//! lookup tables the per-packet path needs, computed once per policy.
//!
//! The matcher owns these types so it does not depend on how they are
//! written down: `config::Config::policy` converts `posternd.toml`, tests
//! and benchmarks build them directly.

use ipnet::IpNet;
use postern_proto::method::fwknop::FwknopKeys;
use postern_proto::method::sequence::{DynamicParams, Knock};
use postern_proto::method::{Door, DoorProto, KnockProto};
use postern_proto::{ServerId, UnixTime, UserKey};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Index of a door in [`Policy::doors`].
pub type DoorIdx = usize;
/// Index of a user in [`Policy::users`].
pub type UserIdx = usize;

/// Grants tracked at once by default: ipset's default `maxelem`, the
/// smallest bound any firewall backend puts on its set of grants. The
/// matcher never tracks more grants than the firewall can hold.
pub const DEFAULT_MAX_GRANTS: usize = 65_536;

/// Default [`Limits::max_unauth_grants`]: a sixteenth of the table, so
/// unauthenticated grants can never take more than that of the firewall's
/// sets; still far more than the people who share one static sequence.
pub const DEFAULT_MAX_UNAUTH_GRANTS: usize = DEFAULT_MAX_GRANTS / 16;
/// Default [`Limits::unauth_grant_rate`]: ten static knocks completed per
/// second across all sources is far above real use of a shared sequence,
/// and keeps a spoofed flood to ten firewall writes and log lines a second.
pub const DEFAULT_UNAUTH_GRANT_RATE: u32 = 10;
/// Default [`Limits::user_max_grants`]: one person rarely holds more than
/// a few doors from a few addresses at once; 256 leaves room for scripts
/// and still lets 255 other users' worth of table stay free.
pub const DEFAULT_USER_MAX_GRANTS: usize = 256;
/// Default [`Limits::user_replay_quota`]: a tenth of the default replay
/// cache. An SPA mark lives about 2 × max_skew (120 s), so this is a
/// sustained 80 knocks a second for one user, far above real use.
pub const DEFAULT_USER_REPLAY_QUOTA: usize = 10_000;

/// Bounds that keep memory and work finite under attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sources tracked at once; the oldest is evicted beyond this.
    pub max_sources: usize,
    /// Seconds a knock sequence may take from first to last knock.
    pub seq_timeout: u64,
    /// Port changes one source may make per `scan_window` seconds before
    /// its attempts are voided.
    pub scan_limit: u32,
    pub scan_window: u64,
    /// Largest accepted difference between a client's clock and ours (s).
    pub max_skew: u64,
    /// Replay cache entries; when full, new marks are refused.
    pub replay_capacity: usize,
    /// Rejection log lines per second before they are summarized.
    pub log_rate: u32,
    /// Live grants tracked at once (see [`DEFAULT_MAX_GRANTS`]); the
    /// firewall's sets are sized from the same number.
    pub max_grants: usize,
    /// Live grants of unauthenticated methods (static sequences, static
    /// SYN tokens) tracked at once. Stops: a flood of valid static knocks
    /// from spoofed sources filling the grant table (and the firewall's
    /// sets) so that users of authenticated methods are refused; at this
    /// bound an unauthenticated grant pushes out the oldest unauthenticated
    /// one, never an authenticated one.
    pub max_unauth_grants: usize,
    /// Unauthenticated grants per second (burst: the same number). Stops:
    /// that flood costing a synchronous firewall write and an "accepted"
    /// line per packet; beyond it those knocks are refused (one log line
    /// per rate-limited rejection) while authenticated ones still open.
    pub unauth_grant_rate: u32,
    /// Live grants one user may hold. Stops: one user's key (or a thief of
    /// it) filling the grant table and the firewall's sets so that other
    /// users are refused.
    pub user_max_grants: usize,
    /// Replay-cache marks one user may hold. Stops: one key filling the
    /// shared replay cache (it refuses every user's knock when full).
    pub user_replay_quota: usize,
    /// Refuse an SPA packet whose source is not the address it names,
    /// instead of granting the named address (NAT-free sites only).
    pub source_must_match: bool,
    /// Failed keyed-SYN-token guesses one address may make per minute
    /// before its SYNs are no longer compared (see `guess.rs` for the
    /// arithmetic; default `DEFAULT_GUESSES_PER_SOURCE`).
    pub syn_guesses_per_source: u32,
    /// The same for a whole /64 (IPv6) or /24 (IPv4): rotating addresses
    /// inside one network does not buy more guesses.
    pub syn_guesses_per_network: u32,
}

/// How many 30-second key-id steps either side of now are recognized for
/// `max_skew` seconds of accepted clock skew: enough to cover the skew
/// plus one step, so a packet just beyond it is still found and refused
/// *with its measured skew* (a useful log line); no more, so a key id
/// seen on the wire stops identifying its user soon after it stops being
/// valid.
pub fn key_id_radius(max_skew: u64) -> u64 {
    max_skew.div_ceil(postern_proto::method::spa::KEY_ID_STEP_SECS) + 1
}

/// How a door's SYN token works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynToken {
    /// The seed's scheme: sequence number 17 to port 10xx / 10xxx, 10 s.
    Static,
    /// HMAC of step, port and source in the sequence number (per user).
    Keyed,
}

/// A protected port and the ways it may be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDoor {
    /// Unique among doors; users name the doors they may open.
    pub name: String,
    pub door: Door,
    /// Seconds a grant lasts when the knock does not ask for less.
    pub duration: u32,
    /// A static sequence anyone who knows it may use.
    pub sequence: Option<Vec<Knock>>,
    /// A dynamic sequence, per user key.
    pub dynamic: Option<DynamicParams>,
    /// Users listing this door may open it with SPA.
    pub spa: bool,
    /// Longest grant an SPA packet may ask for at this door; `None`:
    /// `duration`. Stops: a key's holder keeping a door open far longer
    /// than the admin chose for it (only the user's `max_duration`, by
    /// default an hour, used to cap SPA).
    pub spa_max_duration: Option<u32>,
    pub syn_token: Option<SynToken>,
    /// Seconds per step of the keyed SYN token; profiles for this door are
    /// issued with the same step.
    pub syn_step_secs: u64,
}

/// A user: a key and what it may open from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyUser {
    /// Unique among users; live grants are matched to it by name on reload.
    pub name: String,
    pub key: UserKey,
    /// Names of the doors this user may open.
    pub doors: Vec<String>,
    /// Source ranges this user may knock from and be let in at; empty:
    /// anywhere.
    pub sources: Vec<IpNet>,
    /// Longest grant this user may get, in seconds.
    pub max_duration: u32,
    /// Refuse this user's SPA packets that name no address: their profile
    /// binds the address, so a packet without one is not from it.
    pub require_address: bool,
    /// Keys for fwknop clients (matcher/fwknop.rs), if this user has them.
    pub fwknop: Option<FwknopKeys>,
    /// Whether this key may open doors at a given moment.
    pub standing: Standing,
}

/// Why a key stops opening doors at [`Standing::ends`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyEnd {
    /// The user's access ends (`--expires`).
    Expires,
    /// The key was replaced (`user rotate`); its grace period ends.
    RotatedOut,
}

/// The administrator's lifecycle of one key, checked for every method a
/// user can knock with in one place ([`super::context::Ctx::burn_then_grant`])
/// after the knock proved the key: so the log can say *why* a genuine
/// knock was refused, while the sender sees what any refused knock gets
/// (nothing). A removed user's key is simply gone: "unknown key".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// `posternd user disable`.
    pub disabled: bool,
    /// The first second this key no longer opens anything, and why.
    pub ends: Option<(UnixTime, KeyEnd)>,
}

impl Standing {
    /// The log's reason to refuse this key at `now`, or `None` to go on.
    pub fn refusal(&self, now: UnixTime) -> Option<String> {
        if self.disabled {
            return Some("user is disabled (posternd user enable to let them in again)".into());
        }
        match self.ends {
            Some((at, KeyEnd::Expires)) if now >= at => Some(format!(
                "user expired at {} (posternd user rotate --expires to extend)",
                crate::when::rfc3339(at)
            )),
            Some((at, KeyEnd::RotatedOut)) if now >= at => Some(format!(
                "rotated-out key: replaced by posternd user rotate, grace ended at {}",
                crate::when::rfc3339(at)
            )),
            _ => None,
        }
    }
}

impl PolicyDoor {
    /// Longest grant SPA may ask for here.
    pub fn spa_cap(&self) -> u32 {
        self.spa_max_duration.unwrap_or(self.duration)
    }
}

impl PolicyUser {
    /// Whether `addr` lies in one of the user's source ranges.
    pub fn source_allowed(&self, addr: IpAddr) -> bool {
        self.sources.is_empty() || self.sources.iter().any(|n| n.contains(&addr))
    }
}

/// Where SPA packets arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaListen {
    /// UDP port of SPA datagrams.
    pub port: u16,
    /// Also accept SPA inside ICMP echo requests.
    pub icmp: bool,
}

/// Everything the matcher needs to decide, precomputed once per policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(super) server_id: ServerId,
    pub(super) limits: Limits,
    pub(super) spa: SpaListen,
    pub(super) doors: Vec<PolicyDoor>,
    pub(super) users: Vec<PolicyUser>,
    /// Static sequence knocks → the doors whose sequence contains them.
    pub(super) static_knocks: HashMap<Knock, Vec<DoorIdx>>,
    /// Per door, the users allowed to use it.
    pub(super) door_users: Vec<Vec<UserIdx>>,
    /// TCP port → door with a keyed SYN token.
    pub(super) keyed_syn_ports: HashMap<u16, DoorIdx>,
    /// TCP port → door with the static SYN token.
    pub(super) static_syn_ports: HashMap<u16, DoorIdx>,
    /// Doors with dynamic sequences.
    pub(super) dynamic_doors: Vec<DoorIdx>,
    /// The protected ports as knocks: legitimate clients connect there
    /// after knocking, so the scan guard does not count them.
    pub(super) door_knocks: HashSet<Knock>,
    /// UDP port of fwknop packets, and the users that have fwknop keys
    /// (none: the port is not looked at for fwknop).
    pub(super) fwknop_port: u16,
    pub(super) fwknop_users: Vec<UserIdx>,
}

impl Policy {
    /// Builds the lookup tables. The caller checked the data (unique door
    /// names and ports, unique user names): `posternd.toml` is checked by
    /// `config::load` before it gets here.
    pub fn new(
        server_id: ServerId,
        spa: SpaListen,
        limits: Limits,
        doors: Vec<PolicyDoor>,
        users: Vec<PolicyUser>,
    ) -> Self {
        let mut static_knocks: HashMap<Knock, Vec<DoorIdx>> = HashMap::new();
        let mut keyed_syn_ports = HashMap::new();
        let mut static_syn_ports = HashMap::new();
        let mut dynamic_doors = Vec::new();
        for (i, d) in doors.iter().enumerate() {
            for k in d.sequence.iter().flatten() {
                let v = static_knocks.entry(*k).or_default();
                if !v.contains(&i) {
                    v.push(i);
                }
            }
            match (d.syn_token, d.door.proto) {
                (Some(SynToken::Keyed), DoorProto::Tcp) => {
                    keyed_syn_ports.insert(d.door.port, i);
                }
                (Some(SynToken::Static), _) => {
                    static_syn_ports.insert(d.door.port, i);
                }
                _ => {}
            }
            if d.dynamic.is_some() {
                dynamic_doors.push(i);
            }
        }
        let door_users = doors
            .iter()
            .map(|d| {
                users
                    .iter()
                    .enumerate()
                    .filter(|(_, u)| u.doors.contains(&d.name))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        let door_knocks = doors
            .iter()
            .map(|d| Knock {
                proto: match d.door.proto {
                    DoorProto::Tcp => KnockProto::Tcp,
                    DoorProto::Udp => KnockProto::Udp,
                },
                value: d.door.port,
            })
            .collect();
        let fwknop_users = users
            .iter()
            .enumerate()
            .filter(|(_, u)| u.fwknop.is_some())
            .map(|(i, _)| i)
            .collect();
        Policy {
            fwknop_port: postern_proto::method::fwknop::DEFAULT_PORT,
            fwknop_users,
            server_id,
            limits,
            spa,
            doors,
            users,
            static_knocks,
            door_users,
            keyed_syn_ports,
            static_syn_ports,
            dynamic_doors,
            door_knocks,
        }
    }

    /// Listens for fwknop packets on `port` instead of fwknop's 62201.
    pub fn with_fwknop_port(mut self, port: u16) -> Self {
        self.fwknop_port = port;
        self
    }

    pub fn server_id(&self) -> ServerId {
        self.server_id
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn spa(&self) -> SpaListen {
        self.spa
    }

    pub fn doors(&self) -> &[PolicyDoor] {
        &self.doors
    }

    pub fn users(&self) -> &[PolicyUser] {
        &self.users
    }

    pub fn user_may(&self, user: UserIdx, door: DoorIdx) -> bool {
        self.door_users.get(door).is_some_and(|u| u.contains(&user))
    }

    /// The door protecting `door`, if any.
    pub fn door_index(&self, door: Door) -> Option<DoorIdx> {
        self.doors.iter().position(|d| d.door == door)
    }

    /// The user called `name`, if any.
    pub fn user_index(&self, name: &str) -> Option<UserIdx> {
        self.users.iter().position(|u| u.name == name)
    }
}
