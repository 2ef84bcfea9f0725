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
use postern_proto::method::fwknop::{FwknopKeys, HmacType};
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
///
/// A store keeps text per account; Postern keys are their base64, fwknop
/// keys ([`set_fwknop`], [`get_fwknop`]) a tagged pair of base64 strings.
pub trait SecretStore {
    fn set_text(&self, account: &str, secret: &str) -> Result<(), SecretError>;
    fn get_text(&self, account: &str) -> Result<Option<Zeroizing<String>>, SecretError>;

    fn set(&self, account: &str, key: &UserKey) -> Result<(), SecretError> {
        self.set_text(account, &Zeroizing::new(key.to_base64()))
    }

    fn get(&self, account: &str) -> Result<Option<UserKey>, SecretError> {
        self.get_text(account)?
            .map(|s| UserKey::from_base64(&s).map_err(|_| SecretError::Damaged(account.to_owned())))
            .transpose()
    }

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
    fn set_text(&self, account: &str, secret: &str) -> Result<(), SecretError> {
        self.entry(account)?
            .set_password(secret)
            .map_err(|e| self.err(e))
    }

    fn get_text(&self, account: &str) -> Result<Option<Zeroizing<String>>, SecretError> {
        match self.entry(account)?.get_password() {
            Ok(s) => Ok(Some(Zeroizing::new(s))),
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

/// How fwknop keys are kept: `fwknop:` + Rijndael key + `:` + HMAC key,
/// both in base64 (which has no `:`). The tag keeps them apart from a
/// Postern key, so neither is ever read as the other.
const FWKNOP_TAG: &str = "fwknop:";

/// Stores a host's fwknop keys (the digest type stays in the profile).
pub fn set_fwknop(
    store: &dyn SecretStore,
    account: &str,
    keys: &FwknopKeys,
) -> Result<(), SecretError> {
    let (enc, hmac) = keys.to_base64();
    store.set_text(
        account,
        &Zeroizing::new(format!("{FWKNOP_TAG}{}:{}", *enc, *hmac)),
    )
}

/// A host's fwknop keys, with the digest type its profile names.
pub fn get_fwknop(
    store: &dyn SecretStore,
    account: &str,
    hmac: HmacType,
) -> Result<Option<FwknopKeys>, SecretError> {
    let Some(text) = store.get_text(account)? else {
        return Ok(None);
    };
    let damaged = || SecretError::Damaged(account.to_owned());
    let (enc, mac) = text
        .strip_prefix(FWKNOP_TAG)
        .and_then(|t| t.split_once(':'))
        .ok_or_else(damaged)?;
    FwknopKeys::from_base64(enc, mac, hmac)
        .map(Some)
        .map_err(|_| damaged())
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
    fn set_text(&self, account: &str, secret: &str) -> Result<(), SecretError> {
        let mut m = self.load()?;
        m.insert(account.to_owned(), secret.to_owned());
        let r = self.save(&m);
        m.values_mut().for_each(|v| v.zeroize());
        r
    }

    fn get_text(&self, account: &str) -> Result<Option<Zeroizing<String>>, SecretError> {
        let mut m = self.load()?;
        let r = m.get(account).map(|v| Zeroizing::new(v.clone()));
        m.values_mut().for_each(|v| v.zeroize());
        Ok(r)
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

    /// fwknop keys round-trip through both stores, and neither kind of
    /// secret is read as the other.
    #[test]
    fn fwknop_keys_round_trip_and_stay_apart_from_postern_keys() {
        let dir = crate::store::files::tests_support::temp_dir("secrets-fwknop");
        let file = FileSecrets::new(&dir);
        let mock = KeyringSecrets::new(keyring_core::mock::Store::new().unwrap(), "mock");
        let k = FwknopKeys::new(&[3; 32], &[4; 64], HmacType::Sha256).unwrap();
        for s in [&file as &dyn SecretStore, &mock] {
            set_fwknop(s, "f/alice", &k).unwrap();
            assert_eq!(
                get_fwknop(s, "f/alice", HmacType::Sha256).unwrap(),
                Some(k.clone())
            );
            let as512 = get_fwknop(s, "f/alice", HmacType::Sha512).unwrap().unwrap();
            assert_eq!(as512.hmac_type, HmacType::Sha512);
            assert!(matches!(s.get("f/alice"), Err(SecretError::Damaged(_))));
            s.set("p/bob", &UserKey::from_bytes([7; 32])).unwrap();
            assert!(matches!(
                get_fwknop(s, "p/bob", HmacType::Sha256),
                Err(SecretError::Damaged(_))
            ));
            assert_eq!(get_fwknop(s, "none", HmacType::Sha256).unwrap(), None);
        }
        let _ = std::fs::remove_dir_all(dir);
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
