//! User keys in the OS keyring (DESIGN.md §5: never in plain config).
//!
//! `keyring-core` with one store crate per OS, picked at startup by trying
//! each in turn with a real write: Secret Service (GNOME Keyring, KWallet)
//! first on Linux, the kernel keyutils store when there is no desktop
//! session, Credential Manager on Windows, the Keychain on macOS. When none
//! works the secret goes to an owner-only file with a loud warning, or is
//! refused when the caller is strict (the command line's `--strict`).

use super::StoreError;
use super::files::atomic_write;
use keyring_core::{CredentialStore, Entry};
use postern_proto::UserKey;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// Keyring service name of every Postern secret.
pub const SERVICE: &str = "postern";

/// Environment variable: `file` skips the keyring and uses the fallback
/// file (headless machines, tests).
pub const SECRETS_ENV: &str = "POSTERN_SECRETS";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the keyring ({store}) refused: {cause}")]
    Keyring {
        store: String,
        cause: keyring_core::Error,
    },
    #[error("the secret stored for {0} is damaged; import the profile again")]
    Damaged(String),
    /// Strict mode: no keyring works, and a file was not allowed.
    #[error(
        "no OS keyring is available ({tried}) and keeping the secret in a file was not allowed; \
         unlock or install a keyring (GNOME Keyring, KWallet)"
    )]
    NoKeyring { tried: String },
    #[error(transparent)]
    File(#[from] StoreError),
}

/// Where user keys live. Accounts are `server_id/user`
/// ([`super::secret_account`]).
pub trait SecretStore {
    fn set(&self, account: &str, key: &UserKey) -> Result<(), SecretError>;
    fn get(&self, account: &str) -> Result<Option<UserKey>, SecretError>;
    /// Deleting a secret that is not there is not an error.
    fn delete(&self, account: &str) -> Result<(), SecretError>;
    /// "Secret Service", "file ~/.config/postern/secrets.toml", …
    fn describe(&self) -> String;
}

/// A `keyring-core` store.
pub struct KeyringSecrets {
    store: Arc<CredentialStore>,
    name: String,
}

impl std::fmt::Debug for KeyringSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringSecrets")
            .field("name", &self.name)
            .finish()
    }
}

impl KeyringSecrets {
    pub fn new(store: Arc<CredentialStore>, name: impl Into<String>) -> Self {
        KeyringSecrets {
            store,
            name: name.into(),
        }
    }

    fn entry(&self, account: &str) -> Result<Entry, SecretError> {
        Entry::new_in_store(&self.store, SERVICE, account).map_err(|e| self.err(e))
    }

    fn err(&self, cause: keyring_core::Error) -> SecretError {
        SecretError::Keyring {
            store: self.name.clone(),
            cause,
        }
    }

    /// Writes and deletes a probe entry: a store that can be opened may
    /// still be locked or lack a session keyring, which only a write shows.
    pub fn probe(&self) -> Result<(), SecretError> {
        let e = self.entry("postern-probe")?;
        e.set_password("probe").map_err(|x| self.err(x))?;
        e.delete_credential().map_err(|x| self.err(x))
    }
}

impl SecretStore for KeyringSecrets {
    fn set(&self, account: &str, key: &UserKey) -> Result<(), SecretError> {
        let b64 = Zeroizing::new(key.to_base64());
        self.entry(account)?
            .set_password(&b64)
            .map_err(|e| self.err(e))
    }

    fn get(&self, account: &str) -> Result<Option<UserKey>, SecretError> {
        match self.entry(account)?.get_password() {
            Ok(s) => {
                let s = Zeroizing::new(s);
                UserKey::from_base64(&s)
                    .map(Some)
                    .map_err(|_| SecretError::Damaged(account.to_owned()))
            }
            Err(keyring_core::Error::NoEntry) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    fn delete(&self, account: &str) -> Result<(), SecretError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

/// The last resort: `secrets.toml`, mode 0600, account → base64 key.
#[derive(Debug, Clone)]
pub struct FileSecrets {
    path: PathBuf,
}

impl FileSecrets {
    pub fn new(dir: &Path) -> Self {
        FileSecrets {
            path: dir.join("secrets.toml"),
        }
    }

    fn load(&self) -> Result<BTreeMap<String, String>, SecretError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => Zeroizing::new(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(cause) => {
                return Err(StoreError::Io {
                    action: "read",
                    path: self.path.clone(),
                    cause,
                }
                .into());
            }
        };
        toml::from_str(&text).map_err(|e| {
            StoreError::Corrupt {
                path: self.path.clone(),
                message: e.message().trim().to_owned(),
            }
            .into()
        })
    }

    fn save(&self, map: &BTreeMap<String, String>) -> Result<(), SecretError> {
        let body = Zeroizing::new(toml::to_string(map).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })?);
        if let Some(dir) = self.path.parent() {
            super::files::ensure_dir(dir)?;
        }
        Ok(atomic_write(&self.path, body.as_bytes(), true)?)
    }
}

impl SecretStore for FileSecrets {
    fn set(&self, account: &str, key: &UserKey) -> Result<(), SecretError> {
        let mut m = self.load()?;
        m.insert(account.to_owned(), key.to_base64());
        let r = self.save(&m);
        m.values_mut().for_each(|v| v.zeroize());
        r
    }

    fn get(&self, account: &str) -> Result<Option<UserKey>, SecretError> {
        let mut m = self.load()?;
        let r = match m.get(account) {
            Some(v) => UserKey::from_base64(v)
                .map(Some)
                .map_err(|_| SecretError::Damaged(account.to_owned())),
            None => Ok(None),
        };
        m.values_mut().for_each(|v| v.zeroize());
        r
    }

    fn delete(&self, account: &str) -> Result<(), SecretError> {
        let mut m = self.load()?;
        if m.remove(account).is_some() {
            self.save(&m)?;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("the file {} (not a keyring)", self.path.display())
    }
}

/// Why the secrets went to a file instead of a keyring: something to warn
/// about, in words the program completes with how to refuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyringFallback {
    /// Each keyring tried and why it did not work.
    pub tried: String,
    /// The file that keeps the secrets instead.
    pub path: PathBuf,
}

impl std::fmt::Display for KeyringFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no OS keyring works here ({}). Secrets are kept in {} \
             (readable by you only, but not encrypted)",
            self.tried,
            self.path.display()
        )
    }
}

/// The secret store chosen at startup, and why it is the fallback file
/// when it is. `strict` refuses the file instead.
pub fn open_default(
    config_dir: &Path,
    strict: bool,
) -> Result<(Box<dyn SecretStore>, Option<KeyringFallback>), SecretError> {
    let mut tried = Vec::new();
    if std::env::var(SECRETS_ENV).as_deref() != Ok("file") {
        for (name, store) in platform_stores() {
            match store {
                Ok(s) => {
                    let k = KeyringSecrets::new(s, name);
                    match k.probe() {
                        Ok(()) => return Ok((Box::new(k), None)),
                        Err(e) => tried.push(format!("{name}: {e}")),
                    }
                }
                Err(e) => tried.push(format!("{name}: {e}")),
            }
        }
    } else {
        tried.push(format!("{SECRETS_ENV}=file"));
    }
    let tried = tried.join("; ");
    if strict {
        return Err(SecretError::NoKeyring { tried });
    }
    let f = FileSecrets::new(config_dir);
    let fallback = KeyringFallback {
        tried,
        path: f.path.clone(),
    };
    Ok((Box::new(f), Some(fallback)))
}

type Candidate = (&'static str, keyring_core::Result<Arc<CredentialStore>>);

#[cfg(target_os = "linux")]
fn platform_stores() -> Vec<Candidate> {
    vec![
        (
            "Secret Service",
            zbus_secret_service_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>),
        ),
        (
            "kernel keyutils",
            linux_keyutils_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>),
        ),
    ]
}

#[cfg(windows)]
fn platform_stores() -> Vec<Candidate> {
    vec![(
        "Windows Credential Manager",
        windows_native_keyring_store::Store::new().map(|s| s as Arc<CredentialStore>),
    )]
}

#[cfg(target_os = "macos")]
fn platform_stores() -> Vec<Candidate> {
    vec![(
        "macOS Keychain",
        apple_native_keyring_store::keychain::Store::new().map(|s| s as Arc<CredentialStore>),
    )]
}

#[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
fn platform_stores() -> Vec<Candidate> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_round_trip_with_mock() {
        let s = KeyringSecrets::new(keyring_core::mock::Store::new().unwrap(), "mock");
        s.probe().unwrap();
        let k = UserKey::from_bytes([5; 32]);
        assert_eq!(s.get("a/b").unwrap(), None);
        s.set("a/b", &k).unwrap();
        assert_eq!(s.get("a/b").unwrap(), Some(k));
        s.delete("a/b").unwrap();
        s.delete("a/b").unwrap();
        assert_eq!(s.get("a/b").unwrap(), None);
    }

    #[test]
    fn file_fallback_is_owner_only() {
        let dir = crate::store::files::tests_support::temp_dir("secrets");
        let s = FileSecrets::new(&dir);
        let k = UserKey::from_bytes([6; 32]);
        s.set("x/y", &k).unwrap();
        assert_eq!(s.get("x/y").unwrap(), Some(k));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secrets.toml"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        s.delete("x/y").unwrap();
        assert_eq!(s.get("x/y").unwrap(), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
