//! Hosts guarded by fwknopd (protocol.md §11): what the desktop's "add
//! host" form and `postern import-fwknoprc` ([`rc`]) both build, and how
//! they are saved — the profile in the host store, the two keys in the
//! keyring, both or neither.
//!
//! fwknopd has no server id; a random one keeps each such host's keyring
//! account apart from every other (as for knockd hosts).

pub mod rc;

use crate::store::secrets::{SecretError, SecretStore, set_fwknop};
use crate::store::{HostStore, StoreError, secret_account};
use postern_proto::ServerId;
use postern_proto::method::DoorProto;
use postern_proto::method::fwknop::{DEFAULT_PORT, FwknopKeys, HmacType};
use postern_proto::profile::{
    AllowMode, DecoySettings, DoorSpec, IpPreference, MethodSpec, PROFILE_VERSION, Profile,
};
use zeroize::Zeroizing;

/// What someone adding an fwknop host gives, in fwknop's own terms.
#[derive(Clone)]
pub struct FwknopHost {
    pub name: String,
    /// `SPA_SERVER`: where the packet goes and the doors are.
    pub host: String,
    /// `SPA_SERVER_PORT`.
    pub port: u16,
    /// `SPOOF_USER`, or the local login name as fwknop sends by default.
    pub user: String,
    /// `ACCESS`: `tcp/22` or `tcp/22,udp/53`.
    pub access: String,
    /// Which address the packet names (`ALLOW_IP`); bound by default.
    pub allow: AllowMode,
    /// `KEY_BASE64` and `HMAC_KEY_BASE64` as `fwknop --key-gen` prints them.
    pub key_base64: Zeroizing<String>,
    pub hmac_key_base64: Zeroizing<String>,
    pub hmac: HmacType,
}

impl std::fmt::Debug for FwknopHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FwknopHost")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("access", &self.access)
            .finish_non_exhaustive()
    }
}

impl FwknopHost {
    /// An empty form's values: fwknop's port and digest, `auto` binding.
    pub fn new(user: &str) -> Self {
        FwknopHost {
            name: String::new(),
            host: String::new(),
            port: DEFAULT_PORT,
            user: user.to_owned(),
            access: "tcp/22".to_owned(),
            allow: AllowMode::auto(),
            key_base64: Zeroizing::default(),
            hmac_key_base64: Zeroizing::default(),
            hmac: HmacType::Sha256,
        }
    }

    /// The profile (checked like a profile file) and the keys for the
    /// keyring.
    pub fn build(
        &self,
        rng: &mut impl rand::RngCore,
    ) -> Result<(Profile, FwknopKeys), FwknopHostError> {
        if self.host.trim().is_empty() {
            return Err(FwknopHostError::Host);
        }
        let keys = FwknopKeys::from_base64(&self.key_base64, &self.hmac_key_base64, self.hmac)
            .map_err(|e| FwknopHostError::Keys(e.to_string()))?;
        let p = Profile {
            version: PROFILE_VERSION,
            name: self.name.trim().to_owned(),
            host: self.host.trim().to_owned(),
            server_id: ServerId::generate(rng),
            ip: IpPreference::Auto,
            allow: self.allow.clone(),
            doors: parse_access(&self.access)?,
            method: MethodSpec::Fwknop {
                user: self.user.trim().to_owned(),
                port: self.port,
                hmac: self.hmac,
                keys: None,
            },
            decoys: DecoySettings {
                count: 0,
                jitter_ms: 0,
            },
            launch: None,
        };
        let p = crate::import::checked_like_a_file(&p, "the new host")
            .map_err(FwknopHostError::Invalid)?;
        Ok((p, keys))
    }
}

/// Why an fwknop host cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FwknopHostError {
    #[error("the server (SPA_SERVER) must not be empty")]
    Host,
    #[error("the keys: {0}")]
    Keys(String),
    #[error("{0:?} is not an fwknop access list: expected PROTO/PORT[,PROTO/PORT…], e.g. tcp/22")]
    Access(String),
    #[error("the resulting host is not valid: {0}")]
    Invalid(String),
}

/// fwknop's `-A` / `ACCESS`: `tcp/22,udp/53`. fwknop writes the protocol
/// first; the door lasts what the server's `FW_ACCESS_TIMEOUT` says, so the
/// duration here is only the profile's default.
pub fn parse_access(text: &str) -> Result<Vec<DoorSpec>, FwknopHostError> {
    let bad = || FwknopHostError::Access(text.to_owned());
    let mut doors = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (proto, port) = part.split_once('/').ok_or_else(bad)?;
        let proto = match proto.trim().to_ascii_lowercase().as_str() {
            "tcp" => DoorProto::Tcp,
            "udp" => DoorProto::Udp,
            _ => return Err(bad()),
        };
        let port: u16 = port.trim().parse().map_err(|_| bad())?;
        if port == 0 {
            return Err(bad());
        }
        doors.push(DoorSpec {
            proto,
            port,
            duration: 30,
        });
    }
    if doors.is_empty() {
        return Err(bad());
    }
    Ok(doors)
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(
        "a host called {0:?} is already saved; remove it first (postern remove) or rename the new one"
    )]
    Exists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Saves every host with its keys, or none: names are checked first, then
/// keys go to the keyring and profiles to the store; on a failure the ones
/// already written are taken back.
pub fn save_all(
    new: &[(Profile, FwknopKeys)],
    hosts: &dyn HostStore,
    secrets: &dyn SecretStore,
) -> Result<(), SaveError> {
    for (p, _) in new {
        if hosts.host(&p.name)?.is_some() {
            return Err(SaveError::Exists(p.name.clone()));
        }
    }
    let mut done: Vec<&Profile> = Vec::new();
    let r = (|| {
        for (p, k) in new {
            let account = secret_account(p).unwrap_or_default();
            set_fwknop(secrets, &account, k)?;
            done.push(p);
            hosts.save_host(p)?;
        }
        Ok(())
    })();
    if r.is_err() {
        for p in done {
            let _ = secrets.delete(&secret_account(p).unwrap_or_default());
            let _ = hosts.remove_host(&p.name);
        }
    }
    r
}

#[cfg(test)]
mod tests;
