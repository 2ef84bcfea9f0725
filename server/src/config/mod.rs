//! `posternd.toml`: the daemon's whole configuration, checked in one place.
//!
//! [`load`] turns text into a [`Config`] that has passed every check, or into
//! one error naming the file, line and column. Nothing starts from a config
//! that did not pass: there is no half-configured daemon.

mod fwknop;
mod load;
mod policy;

pub use fwknop::FwknopSection;

pub use load::{ConfigError, load, parse};

use ipnet::IpNet;
use postern_proto::method::sequence::{DynamicParams, Sequence};
use postern_proto::method::{Door as ProtoDoor, DoorProto, KnockProto};
use postern_proto::{ServerId, UserKey};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

pub use crate::when::When;

/// Default location on Linux.
pub const DEFAULT_PATH: &str = "/etc/postern/posternd.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: ServerSection,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub spa: SpaSection,
    /// fwknop clients (config/fwknop.rs); used only by users with fwknop keys.
    #[serde(default)]
    pub fwknop: FwknopSection,
    #[serde(default, rename = "door")]
    pub doors: Vec<DoorConfig>,
    #[serde(default, rename = "user")]
    pub users: Vec<UserConfig>,
}

/// Which Linux packet filter holds the grants (`[server] backend`). Other
/// systems have one packet filter and ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// nftables when `nft` works on this host, else iptables + ipset.
    #[default]
    Auto,
    Nftables,
    Iptables,
}

impl std::str::FromStr for Backend {
    type Err = String;

    /// The spelling used in the config file: `auto`, `nftables`, `iptables`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Backend::Auto),
            "nftables" => Ok(Backend::Nftables),
            "iptables" => Ok(Backend::Iptables),
            other => Err(format!(
                "unknown firewall backend {other:?} (expected auto, nftables or iptables)"
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// This server's identity; every knock is bound to it.
    pub server_id: ServerId,
    /// Interfaces to capture knocks on.
    pub interfaces: Vec<String>,
    #[serde(default)]
    pub backend: Backend,
    /// Replay cache and other state that must survive restarts.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Name of Postern's own nftables table / iptables chain prefix.
    #[serde(default = "default_table")]
    pub table: String,
    /// The administrator's signing key (for `user add`); optional on
    /// servers that never issue profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_key_file: Option<PathBuf>,
    /// Host name or address put into issued profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_host: Option<String>,
    /// Grants each firewall set (per address family) holds at most; a full
    /// set refuses further grants (fail-closed) instead of growing.
    #[serde(default = "default_grant_set_size")]
    pub grant_set_size: u32,
    /// Seconds between checks that Postern's firewall objects are still in
    /// place (they are reinstalled when not): how long a `flush ruleset`
    /// can leave protected ports open.
    #[serde(default = "default_verify_secs")]
    pub verify_secs: u64,
    /// STUN servers (`host:port`) put into issued profiles, which their
    /// clients ask for their public address behind a NAT.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stun: Vec<String>,
}

fn default_grant_set_size() -> u32 {
    crate::firewall::DEFAULT_SET_SIZE
}

fn default_verify_secs() -> u64 {
    5
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/postern")
}

fn default_table() -> String {
    "postern".into()
}

/// Bounds that keep the daemon's memory and work finite under attack.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Sources tracked at once; the oldest is evicted beyond this.
    pub max_sources: usize,
    /// Seconds a knock sequence may take from first to last knock.
    pub seq_timeout: u64,
    /// Packets one source may send to watched ports per `scan_window`
    /// before its attempts are voided.
    pub scan_limit: u32,
    pub scan_window: u64,
    /// Largest accepted difference between a client's clock and ours.
    pub max_skew: u64,
    /// Replay cache entries; when full, new SPA packets are refused.
    pub replay_capacity: usize,
    /// No longer used: the key-id radius follows `max_skew` (it stayed
    /// valid for 10 min beyond a 60 s skew, see
    /// [`crate::matcher::key_id_radius`]). Still read, and still bounded,
    /// so older files load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id_radius: Option<u64>,
    /// Rejection log lines per second before they are summarized.
    pub log_rate: u32,
    /// Live grants tracked at once; the firewall's sets are sized from it.
    pub max_grants: usize,
    /// Live grants of unauthenticated methods (static sequences and SYN
    /// tokens) at once; see `matcher::Limits::max_unauth_grants`.
    pub max_unauth_grants: usize,
    /// Unauthenticated grants per second, all sources together.
    pub unauth_grant_rate: u32,
    /// Live grants one user may hold.
    pub user_max_grants: usize,
    /// Replay-cache marks one user may hold.
    pub user_replay_quota: usize,
    /// Refuse an SPA packet whose source differs from the address it names
    /// (default: grant the named address and log both). Only for sites
    /// whose users never knock from behind a NAT; see admin.md.
    pub source_must_match: bool,
    /// Failed keyed-SYN-token guesses per minute from one address (1 to
    /// `matcher::MAX_GUESSES_PER_WINDOW`); see admin.md's threat model.
    pub syn_guesses_per_source: u32,
    /// The same from one /64 (IPv6) or /24 (IPv4).
    pub syn_guesses_per_network: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_sources: 65_536,
            seq_timeout: 10,
            scan_limit: 40,
            scan_window: 10,
            max_skew: 60,
            replay_capacity: 100_000,
            key_id_radius: None,
            log_rate: 20,
            max_grants: crate::matcher::DEFAULT_MAX_GRANTS,
            max_unauth_grants: crate::matcher::DEFAULT_MAX_UNAUTH_GRANTS,
            unauth_grant_rate: crate::matcher::DEFAULT_UNAUTH_GRANT_RATE,
            user_max_grants: crate::matcher::DEFAULT_USER_MAX_GRANTS,
            user_replay_quota: crate::matcher::DEFAULT_USER_REPLAY_QUOTA,
            source_must_match: false,
            syn_guesses_per_source: crate::matcher::DEFAULT_GUESSES_PER_SOURCE,
            syn_guesses_per_network: crate::matcher::DEFAULT_GUESSES_PER_PREFIX,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpaSection {
    /// UDP port SPA datagrams are sent to.
    pub port: u16,
    /// Also accept SPA inside ICMP echo requests.
    pub icmp: bool,
}

impl Default for SpaSection {
    fn default() -> Self {
        SpaSection {
            port: 62201,
            icmp: true,
        }
    }
}

/// How a door's keyed SYN token or static token works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynTokenMode {
    /// The seed's scheme: sequence number 17 to 10xx / 10xxx, 10 s.
    Static,
    /// HMAC of step, port and source in the sequence number (per user).
    Keyed,
}

/// A protected port and the ways it may be opened.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorConfig {
    pub name: String,
    pub proto: DoorProto,
    pub port: u16,
    /// Seconds a grant lasts when the knock does not ask for less.
    #[serde(default = "default_duration")]
    pub duration: u32,
    /// A static knockd-style sequence anyone who knows it may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<Sequence>,
    /// A dynamic sequence, per user key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic: Option<DynamicConfig>,
    /// Users listing this door may open it with SPA.
    #[serde(default)]
    pub spa: bool,
    /// Longest grant an SPA packet may ask for here. Unset: `duration`.
    /// A key's holder cannot keep a door open longer than the admin chose
    /// for it unless the admin says so here (still capped per user by
    /// `max_duration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spa_max_duration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syn_token: Option<SynTokenMode>,
    /// Seconds per step of the keyed SYN token (5–3600); profiles issued
    /// for this door carry the same value.
    #[serde(default = "default_step")]
    pub syn_step_secs: u64,
}

fn default_duration() -> u32 {
    30
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicConfig {
    pub length: u8,
    pub port_min: u16,
    pub port_max: u16,
    #[serde(default = "default_knock_proto")]
    pub proto: KnockProto,
    #[serde(default = "default_step")]
    pub step_secs: u64,
}

fn default_knock_proto() -> KnockProto {
    KnockProto::Tcp
}

fn default_step() -> u64 {
    postern_proto::time::DEFAULT_STEP_SECS
}

impl DynamicConfig {
    pub fn params(&self) -> DynamicParams {
        DynamicParams {
            length: self.length,
            port_min: self.port_min,
            port_max: self.port_max,
            proto: self.proto,
            step_secs: self.step_secs,
        }
    }
}

impl DoorConfig {
    pub fn door(&self) -> ProtoDoor {
        ProtoDoor {
            proto: self.proto,
            port: self.port,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub key: UserKey,
    /// Names of the doors this user may open.
    pub doors: Vec<String>,
    /// Source ranges this user may knock from (and be let in at). Empty:
    /// anywhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<IpNet>,
    /// Longest grant this user may ask for, in seconds.
    #[serde(default = "default_max_duration")]
    pub max_duration: u32,
    /// Refuse SPA packets that name no address. `posternd user add` sets it
    /// for every user it adds (their profiles use `allow = auto`); users
    /// added before keep their profiles working without it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_address: bool,
    /// fwknop's Rijndael key, base64 (`KEY_BASE64`): this user may also
    /// knock with Debian's `fwknop` client (config/fwknop.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwknop_key: Option<String>,
    /// fwknop's HMAC key, base64 (`HMAC_KEY_BASE64`); required with `fwknop_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwknop_hmac_key: Option<String>,
    /// `sha256` (default) or `sha512`, fwknop's `HMAC_DIGEST_TYPE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fwknop_hmac: Option<String>,
    /// `posternd user disable`: the entry stays (its key, its history)
    /// but every knock is refused, until `user enable`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// After this moment the user's knocks are refused (`--expires`): a
    /// contractor's access ends by itself, without a reload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<When>,
    /// When `key` was made (`user add`/`rotate`), for the key age in
    /// `user list`. Entries written by hand or before have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_issued: Option<When>,
    /// The key `user rotate` replaced; it keeps opening doors until
    /// `previous_key_until` (the grace period), then is refused with
    /// "rotated out" in the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key: Option<UserKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_key_until: Option<When>,
}

fn default_max_duration() -> u32 {
    3600
}

impl UserConfig {
    /// Whether `addr` lies in one of the user's source ranges.
    pub fn source_allowed(&self, addr: std::net::IpAddr) -> bool {
        self.sources.is_empty() || self.sources.iter().any(|n| n.contains(&addr))
    }
}

impl Config {
    pub fn door(&self, name: &str) -> Option<&DoorConfig> {
        self.doors.iter().find(|d| d.name == name)
    }

    /// One line per door and user, for `posternd check`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "server {} on {} (backend {:?}, table {}), SPA port {}/udp{}\n",
            self.server.server_id,
            self.server.interfaces.join(", "),
            self.server.backend,
            self.server.table,
            self.spa.port,
            if self.spa.icmp { " and ICMP" } else { "" }
        );
        for d in &self.doors {
            let mut how = Vec::new();
            if let Some(seq) = &d.sequence {
                how.push(format!("sequence {seq}"));
            }
            if let Some(dy) = &d.dynamic {
                how.push(format!(
                    "dynamic {}×{:?} in {}-{}",
                    dy.length, dy.proto, dy.port_min, dy.port_max
                ));
            }
            if d.spa {
                how.push("SPA".into());
            }
            if let Some(t) = d.syn_token {
                how.push(format!("SYN token ({t:?})").to_lowercase());
            }
            s.push_str(&format!(
                "door {}: {} for {} s, opened by {}\n",
                d.name,
                d.door(),
                d.duration,
                if how.is_empty() {
                    "nothing".into()
                } else {
                    how.join(", ")
                }
            ));
        }
        for u in &self.users {
            s.push_str(&format!(
                "user {}: doors {}, from {}, at most {} s\n",
                u.name,
                u.doors.join(", "),
                if u.sources.is_empty() {
                    "anywhere".to_owned()
                } else {
                    u.sources
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                u.max_duration
            ));
        }
        s
    }
}
