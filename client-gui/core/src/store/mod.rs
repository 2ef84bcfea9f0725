//! What the client remembers: saved hosts (profiles without their secret),
//! the signers it trusts, and the secrets themselves (in the OS keyring).
//!
//! Hosts and signers sit behind [`HostStore`] so the import logic and the
//! app can be tested against a temporary directory; [`files::FileStore`]
//! is the real one. Secrets have their own trait in [`secrets`] because
//! they live somewhere else entirely.

pub mod files;
pub mod secrets;

use postern_proto::profile::Profile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "{} is damaged and was left as it is: {message}. Fix it by hand, or move it away to start afresh",
        path.display()
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("cannot find a configuration folder for postern; set POSTERN_CONFIG_DIR")]
    NoConfigDir,
    #[error("a host name must contain a letter or a digit, got {0:?}")]
    BadName(String),
    #[error(
        "a different host is already saved as {name:?} (for server {existing}); remove that one first"
    )]
    NameTaken { name: String, existing: String },
}

/// Hosts and trusted signers.
pub trait HostStore {
    /// Every saved host, sorted by name. A damaged host file is an error
    /// that names it, never silently skipped.
    fn hosts(&self) -> Result<Vec<Profile>, StoreError>;
    /// A host by name (case-insensitive, or by its file-name form).
    fn host(&self, name: &str) -> Result<Option<Profile>, StoreError>;
    /// Saves (or replaces) a host. The profile must carry no secret.
    fn save_host(&self, profile: &Profile) -> Result<(), StoreError>;
    /// Returns whether there was such a host.
    fn remove_host(&self, name: &str) -> Result<bool, StoreError>;
    fn signers(&self) -> Result<Signers, StoreError>;
    fn save_signers(&self, signers: &Signers) -> Result<(), StoreError>;
}

/// Server id (hex) → the administrator key trusted to sign its profiles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signers {
    #[serde(default, rename = "signer")]
    pub by_server: BTreeMap<String, TrustedSigner>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedSigner {
    /// `ed25519:<base64>`, as in the profile's signature block.
    pub public_key: String,
    /// For people comparing it over the phone.
    pub fingerprint: String,
}

/// File-name form of a host name: lowercase letters, digits and `-`.
pub fn slug(name: &str) -> Result<String, StoreError> {
    let mut s = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let s = s.trim_end_matches('-').to_owned();
    if s.is_empty() {
        return Err(StoreError::BadName(name.to_owned()));
    }
    Ok(s)
}

/// Keyring account of a profile's secret: server id and user, so two
/// profiles for the same account share one secret and a renamed host
/// still finds its key.
///
/// An fwknop host's `server_id` is drawn at random when it is added, so
/// its account is its own.
pub fn secret_account(profile: &Profile) -> Option<String> {
    let user = profile.method.user()?;
    Some(format!("{}/{user}", profile.server_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("Office PC").unwrap(), "office-pc");
        assert_eq!(slug("  a__b!! ").unwrap(), "a-b");
        assert!(slug("!!!").is_err());
    }
}
