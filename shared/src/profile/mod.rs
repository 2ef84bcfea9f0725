//! The `.postern` profile: everything a client needs to knock one server
//! (protocol.md §7).
//!
//! A profile is TOML, versioned, and usually signed by an administrator
//! (see [`crate::sign`]). The model below is what both the server's
//! `user add` writes and the client reads; [`parse`] turns text into it
//! with errors that name the line and column.

mod parse;

pub use parse::{ProfileError, line_col, parse, valid_host_port};

use crate::method::KnockProto;
use crate::method::fwknop::{FwknopKeys, HmacType};
use crate::method::sequence::{DynamicParams, Sequence};
use crate::wire::{Door, DoorProto};
use crate::{ServerId, UserKey};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// The only profile format version this crate reads and writes.
pub const PROFILE_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Format version; must be [`PROFILE_VERSION`].
    pub version: u32,
    /// What the user sees ("Office PC").
    pub name: String,
    /// Host name or address to knock and connect to.
    pub host: String,
    /// The server this profile belongs to; knocks are bound to it.
    pub server_id: ServerId,
    #[serde(default)]
    pub ip: IpPreference,
    #[serde(default)]
    pub allow: AllowMode,
    /// The ports a knock opens.
    #[serde(rename = "door")]
    pub doors: Vec<DoorSpec>,
    pub method: MethodSpec,
    #[serde(default)]
    pub decoys: DecoySettings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<Launch>,
}

/// Which address family to knock over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IpPreference {
    /// IPv6 when the host has an IPv6 address, else IPv4.
    #[default]
    Auto,
    V4,
    V6,
    /// Knock over both families.
    Both,
}

/// Which address the server should let in (protocol.md §7.2 says what
/// each mode protects against).
///
/// A profile without an `[allow]` table means `Source`, as it always has,
/// so profiles issued before `auto` existed read and behave as before.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase", deny_unknown_fields)]
pub enum AllowMode {
    /// The source address of the knock as the server sees it. The packet
    /// names no address, so a captured copy opens the door for its sender.
    #[default]
    Source,
    /// A fixed address (SPA only).
    Explicit { address: IpAddr },
    /// The address an HTTPS service reports (SPA only; behind NAT).
    Url {
        url: String,
        /// PEM certificates trusted for this URL instead of the public
        /// roots: for an address service inside an organisation with its
        /// own CA. Certificate checks are never turned off.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url_ca: Option<String>,
    },
    /// The address the server will see, found by the client: its own
    /// address, or behind a NAT the public one STUN servers report (SPA
    /// only). The packet names it, so a captured copy opens nothing for
    /// anyone else.
    Auto {
        /// STUN servers (`host:port`) to ask behind a NAT; the client's
        /// settings supply them when this is empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stun: Vec<String>,
        /// Inside networks that are behind a NAT although they are not
        /// private ranges (RFC 1918, CGNAT, ULA, link-local are always).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        nat_networks: Vec<ipnet::IpNet>,
    },
}

impl AllowMode {
    /// `auto` with no STUN servers of its own: what hosts added by hand
    /// get (the client's settings name the servers).
    pub fn auto() -> Self {
        AllowMode::Auto {
            stun: Vec::new(),
            nat_networks: Vec::new(),
        }
    }

    /// Whether knocks with this mode name the address to let in.
    pub fn binds_address(&self) -> bool {
        !matches!(self, AllowMode::Source)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorSpec {
    pub proto: DoorProto,
    pub port: u16,
    /// Seconds to keep the door open for new connections.
    #[serde(default = "default_duration")]
    pub duration: u32,
}

fn default_duration() -> u32 {
    30
}

impl DoorSpec {
    pub fn door(&self) -> Door {
        Door {
            proto: self.proto,
            port: self.port,
        }
    }
}

/// Transport of an SPA packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpaTransport {
    #[default]
    Udp,
    Icmp,
}

/// How to knock, with the method's parameters. Secrets (`key`) travel in
/// the profile file; the client moves them into the OS keyring on import
/// and stores the profile without them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MethodSpec {
    /// A fixed sequence, knockd-compatible.
    StaticSequence {
        sequence: Sequence,
        /// Milliseconds between knocks (knockd's `knock -d`).
        #[serde(default)]
        delay_ms: u32,
    },
    /// Ports derived from the time step; each step can be used once.
    DynamicSequence {
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<UserKey>,
        length: u8,
        port_min: u16,
        port_max: u16,
        #[serde(default = "default_dyn_proto")]
        proto: KnockProto,
        #[serde(default = "default_step")]
        step_secs: u64,
    },
    /// One encrypted, authenticated datagram.
    Spa {
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<UserKey>,
        port: u16,
        #[serde(default)]
        transport: SpaTransport,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<String>,
    },
    /// The seed's static SYN token (sequence number 17); not secret.
    SynToken,
    /// One fwknop 2.6 SPA datagram (protocol.md §11), for fwknopd servers
    /// (and `posternd` users with fwknop keys). The two keys never travel
    /// in the profile: they live in the keyring and are put back with
    /// [`MethodSpec::set_fwknop_keys`] before knocking. The profile's
    /// `server_id` only names the keyring account here.
    Fwknop {
        /// fwknop's `-U` / `SPOOF_USER`; fwknopd may require it.
        user: String,
        /// The server's UDP port (`SPA_SERVER_PORT`).
        #[serde(default = "default_fwknop_port")]
        port: u16,
        /// `HMAC_DIGEST_TYPE`.
        #[serde(default)]
        hmac: HmacType,
        #[serde(skip)]
        keys: Option<FwknopKeys>,
    },
    /// A SYN whose sequence number is an HMAC of step, port and source.
    SynTokenKeyed {
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<UserKey>,
        #[serde(default = "default_step")]
        step_secs: u64,
    },
}

fn default_fwknop_port() -> u16 {
    crate::method::fwknop::DEFAULT_PORT
}

fn default_dyn_proto() -> KnockProto {
    KnockProto::Tcp
}

fn default_step() -> u64 {
    crate::time::DEFAULT_STEP_SECS
}

impl MethodSpec {
    /// Short name for badges and logs.
    pub fn label(&self) -> &'static str {
        match self {
            MethodSpec::StaticSequence { .. } => "sequence",
            MethodSpec::DynamicSequence { .. } => "dynamic sequence",
            MethodSpec::Spa { .. } => "SPA",
            MethodSpec::SynToken => "SYN token",
            MethodSpec::SynTokenKeyed { .. } => "keyed SYN token",
            MethodSpec::Fwknop { .. } => "fwknop",
        }
    }

    /// The user's secret, if this method has one and it is present.
    pub fn key(&self) -> Option<&UserKey> {
        match self {
            MethodSpec::DynamicSequence { key, .. }
            | MethodSpec::Spa { key, .. }
            | MethodSpec::SynTokenKeyed { key, .. } => key.as_ref(),
            _ => None,
        }
    }

    /// Whether this method needs a (Postern) user key. fwknop's keys are
    /// another kind: see [`needs_fwknop_keys`](Self::needs_fwknop_keys).
    pub fn needs_key(&self) -> bool {
        !matches!(
            self,
            MethodSpec::StaticSequence { .. } | MethodSpec::SynToken | MethodSpec::Fwknop { .. }
        )
    }

    /// Whether this is the fwknop method still without its keys.
    pub fn needs_fwknop_keys(&self) -> bool {
        matches!(self, MethodSpec::Fwknop { keys: None, .. })
    }

    /// Puts fwknop keys (from the keyring) in before knocking; the digest
    /// type is the profile's.
    pub fn set_fwknop_keys(&mut self, mut new: FwknopKeys) {
        if let MethodSpec::Fwknop { keys, hmac, .. } = self {
            new.hmac_type = *hmac;
            *keys = Some(new);
        }
    }

    /// The user name the keyring account is made of, for methods that
    /// keep a secret there.
    pub fn user(&self) -> Option<&str> {
        match self {
            MethodSpec::DynamicSequence { user, .. }
            | MethodSpec::Spa { user, .. }
            | MethodSpec::SynTokenKeyed { user, .. }
            | MethodSpec::Fwknop { user, .. } => Some(user),
            MethodSpec::StaticSequence { .. } | MethodSpec::SynToken => None,
        }
    }

    /// Takes the secret out (to move it into a keyring).
    pub fn take_key(&mut self) -> Option<UserKey> {
        match self {
            MethodSpec::DynamicSequence { key, .. }
            | MethodSpec::Spa { key, .. }
            | MethodSpec::SynTokenKeyed { key, .. } => key.take(),
            _ => None,
        }
    }

    /// Puts a secret back (from the keyring) before knocking.
    pub fn set_key(&mut self, new: UserKey) {
        match self {
            MethodSpec::DynamicSequence { key, .. }
            | MethodSpec::Spa { key, .. }
            | MethodSpec::SynTokenKeyed { key, .. } => *key = Some(new),
            _ => {}
        }
    }

    pub fn dynamic_params(&self) -> Option<DynamicParams> {
        match *self {
            MethodSpec::DynamicSequence {
                length,
                port_min,
                port_max,
                proto,
                step_secs,
                ..
            } => Some(DynamicParams {
                length,
                port_min,
                port_max,
                proto,
                step_secs,
            }),
            _ => None,
        }
    }
}

/// Smoke screen: decoy packets around the real knock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoySettings {
    /// Decoy packets per knock (0 = off, at most 64).
    #[serde(default)]
    pub count: u8,
    /// Largest random pause added before each packet, in milliseconds.
    #[serde(default = "default_jitter")]
    pub jitter_ms: u32,
}

fn default_jitter() -> u32 {
    20
}

impl Default for DecoySettings {
    fn default() -> Self {
        DecoySettings {
            count: 0,
            jitter_ms: default_jitter(),
        }
    }
}

/// What to start once the door is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Launch {
    Rdp {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    Ssh {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    Url {
        url: String,
    },
}

impl Profile {
    /// Serializes to TOML (the body that gets signed).
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// The doors this profile opens.
    pub fn door_list(&self) -> Vec<Door> {
        self.doors.iter().map(DoorSpec::door).collect()
    }
}
