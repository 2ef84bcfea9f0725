//! Importing and exporting profiles (DESIGN.md §5, protocol.md §8–§9).
//!
//! Import checks everything before it writes anything: decrypt, verify the
//! signature, compare the signer with the one trusted for that server, ask
//! about a new signer. Only then is the secret moved into the keyring and
//! the profile saved without it. Each way of failing has its own error, so
//! the user learns *which* thing is wrong.

use crate::store::secrets::{SecretError, SecretStore};
use crate::store::{HostStore, StoreError, TrustedSigner, secret_account};
use postern_proto::ServerId;
use postern_proto::method::sequence::{Sequence, SequenceError};
use postern_proto::method::{DoorProto, KnockProto};
use postern_proto::profile::{
    AllowMode, DecoySettings, DoorSpec, IpPreference, MethodSpec, PROFILE_VERSION, Profile,
    ProfileError,
};
use postern_proto::seal::{self, SealError};
use postern_proto::sign::{self, Fingerprint, SignError};

/// Why an import saved nothing, in the terms of the domain: the program
/// that shows it adds what its user can do about it (a command line names
/// its flags, the window its buttons).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the profile is encrypted and no passphrase was given; nothing was saved")]
    NeedPassphrase,
    #[error("wrong passphrase (or the encrypted file was changed); nothing was saved")]
    WrongPassphrase,
    #[error("cannot decrypt the profile: {0}; nothing was saved")]
    Sealed(SealError),
    #[error(
        "the profile was changed after it was signed, or its signature is damaged ({0}); \
         nothing was saved. Ask your administrator for a fresh copy"
    )]
    Tampered(SignError),
    #[error("the profile is not valid: {0}; nothing was saved")]
    Invalid(ProfileError),
    /// The signer is new for this server and trusting it was not confirmed.
    #[error(
        "the profile is signed by an administrator key you have not trusted yet (fingerprint {0}); \
         nothing was saved"
    )]
    UnknownSigner(Fingerprint),
    /// An unsigned file for a server nobody trusts a signer for yet, and
    /// trusting it anyway was not confirmed.
    #[error(
        "the profile is not signed, so anyone could have written it, and trusting it was not \
         confirmed; nothing was saved"
    )]
    Unsigned,
    /// An unsigned file for a server whose administrator signs: exactly
    /// what an impostor would send. Never asked about.
    #[error(
        "REFUSED: the profile is not signed, but the profiles for server {0} are signed by \
         your administrator; it may be forged. Nothing was saved"
    )]
    UnsignedForSignedServer(ServerId),
    #[error(
        "REFUSED: server {server_id} is trusted with administrator key {trusted}, but this profile \
         is signed by {got}. Someone may be impersonating your administrator; nothing was saved. \
         If the key really changed, your administrator will tell you: then remove the old \
         profiles for this server and import again"
    )]
    SignerChanged {
        server_id: ServerId,
        trusted: String,
        got: Fingerprint,
    },
    #[error("the profile's {0} method needs a user key, and the file has none; nothing was saved")]
    MissingKey(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// The question asked before a signer is trusted for the first time.
#[derive(Debug, Clone)]
pub struct TrustQuestion {
    pub profile_name: String,
    pub server_id: ServerId,
    /// `None`: the file is not signed at all.
    pub fingerprint: Option<Fingerprint>,
}

/// What an import did.
#[derive(Debug, Clone)]
#[must_use]
pub struct Imported {
    pub name: String,
    pub fingerprint: Option<Fingerprint>,
    pub newly_trusted: bool,
    /// Where the secret went, if the profile had one.
    pub secret_store: Option<String>,
    /// `Some`: a saved host was updated in place (a re-issued profile),
    /// with what changed ("new key", "port 3389 → 3390"; empty: nothing).
    /// `None`: a new host.
    pub updated: Option<Vec<String>>,
}

/// Imports a profile file's text. `confirm` is asked once for a signer the
/// user has not trusted for this server yet (or for an unsigned file).
pub fn import_text(
    text: &str,
    source_name: &str,
    passphrase: Option<&str>,
    confirm: &mut dyn FnMut(&TrustQuestion) -> bool,
    hosts: &dyn HostStore,
    secrets: &dyn SecretStore,
) -> Result<Imported, ImportError> {
    let opened;
    let text = if seal::is_sealed(text) {
        let pass = passphrase.ok_or(ImportError::NeedPassphrase)?;
        opened = seal::open(text, pass).map_err(|e| match e {
            SealError::WrongPassphrase => ImportError::WrongPassphrase,
            other => ImportError::Sealed(other),
        })?;
        opened.as_str()
    } else {
        text
    };
    let file = sign::read_profile_file(text, source_name).map_err(|e| match e {
        SignError::Profile(p) => ImportError::Invalid(p),
        other => ImportError::Tampered(other),
    })?;
    let mut profile = file.profile;
    let fingerprint = file.signer.map(|s| s.fingerprint());

    // Trust: a known server must keep its signer; a new one is asked about.
    let mut signers = hosts.signers()?;
    let sid = profile.server_id.to_hex();
    let mut newly_trusted = false;
    match (&file.signer, signers.by_server.get(&sid)) {
        (Some(signer), Some(known)) if known.public_key != signer.to_text() => {
            return Err(ImportError::SignerChanged {
                server_id: profile.server_id,
                trusted: known.fingerprint.clone(),
                got: signer.fingerprint(),
            });
        }
        (Some(_), Some(_)) => {}
        (signer, known) => {
            if signer.is_none() && known.is_some() {
                return Err(ImportError::UnsignedForSignedServer(profile.server_id));
            }
            let q = TrustQuestion {
                profile_name: profile.name.clone(),
                server_id: profile.server_id,
                fingerprint: fingerprint.clone(),
            };
            if !confirm(&q) {
                return Err(match fingerprint {
                    Some(f) => ImportError::UnknownSigner(f),
                    None => ImportError::Unsigned,
                });
            }
            if let Some(s) = signer {
                signers.by_server.insert(
                    sid,
                    TrustedSigner {
                        public_key: s.to_text(),
                        fingerprint: s.fingerprint().to_string(),
                    },
                );
                newly_trusted = true;
            }
        }
    }

    // A re-issued profile for a saved host (same server, so same trusted
    // signer, and same user) replaces that host, under the user's name
    // for it and with their launcher.
    let saved_before = {
        let all = hosts.hosts()?;
        let mut same = all.into_iter().filter(|h| update::same_host(h, &profile));
        let first = same.next();
        let by_name = same.find(|h| h.name == profile.name);
        by_name.or(first)
    };
    if let Some(old) = &saved_before {
        update::keep_users_choices(old, &mut profile);
    }

    // The secret: into the keyring, out of the profile.
    let account = secret_account(&profile);
    let key = profile.method.take_key();
    let mut previous = None;
    let mut secret_store = None;
    if let Some(account) = &account {
        match &key {
            Some(k) => {
                previous = secrets.get(account)?;
                secrets.set(account, k)?;
                secret_store = Some(secrets.describe());
            }
            None if secrets.get_text(account)?.is_some() => secret_store = Some(secrets.describe()),
            None => return Err(ImportError::MissingKey(profile.method.label())),
        }
    }
    let saved = (|| {
        if newly_trusted {
            hosts.save_signers(&signers)?;
        }
        hosts.save_host(&profile)
    })();
    if let Err(e) = saved {
        // Put the keyring back the way it was; the error is what matters.
        if let (Some(account), Some(_)) = (&account, &key) {
            let _ = match &previous {
                Some(old) => secrets.set(account, old),
                None => secrets.delete(account),
            };
        }
        return Err(e.into());
    }
    let updated = saved_before.map(|old| {
        let new_key = matches!((&previous, &key), (Some(a), Some(b)) if a != b);
        update::changes(&old, &profile, new_key)
    });
    Ok(Imported {
        name: profile.name,
        fingerprint,
        newly_trusted,
        secret_store,
        updated,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no saved host is called {0:?}")]
    NotFound(String),
    #[error("the key for {0:?} is not in the keyring; import its profile again")]
    NoSecret(String),
    #[error("cannot write the profile: {0}")]
    Toml(#[from] toml::ser::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// A saved host as profile text (unsigned: only an administrator can sign).
/// With `with_secret` the user key is put back in — the output is then as
/// secret as the key.
pub fn export(
    name: &str,
    with_secret: bool,
    hosts: &dyn HostStore,
    secrets: &dyn SecretStore,
) -> Result<String, ExportError> {
    let mut p = hosts
        .host(name)?
        .ok_or_else(|| ExportError::NotFound(name.to_owned()))?;
    // fwknop keys never go into a profile file (the method has no key).
    if with_secret
        && p.method.needs_key()
        && let Some(account) = secret_account(&p)
    {
        let key = secrets
            .get(&account)?
            .ok_or_else(|| ExportError::NoSecret(p.name.clone()))?;
        p.method.set_key(key);
    }
    let note = if with_secret && p.method.key().is_some() {
        "# Exported by postern WITH its secret key: keep it private.\n"
    } else {
        "# Exported by postern (unsigned; the secret key is not included).\n"
    };
    Ok(format!("{note}{}", p.to_toml()?))
}

/// What is wrong with a knockd door; each variant names the part of the
/// input it is about, so a program can point at its own field or flag.
#[derive(Debug, thiserror::Error)]
pub enum KnockdDoorError {
    #[error(transparent)]
    Sequence(#[from] SequenceError),
    #[error("{0:?} is not a door: expected PORT/tcp or PORT/udp, e.g. 22/tcp")]
    Door(String),
    #[error("the host must not be empty")]
    Host,
    #[error("the resulting profile is not valid: {0}")]
    Invalid(String),
}

/// A static-sequence profile for a door guarded by knockd (knockd has no
/// server id; a random one keeps it apart from every other server).
pub fn knockd_door_profile(
    name: &str,
    host: &str,
    sequence: &str,
    door: &str,
    delay_ms: u32,
    rng: &mut impl rand::RngCore,
) -> Result<Profile, KnockdDoorError> {
    if host.trim().is_empty() {
        return Err(KnockdDoorError::Host);
    }
    let sequence = Sequence::parse(sequence)?;
    if sequence.0.iter().any(|k| k.proto == KnockProto::Icmp) {
        return Err(KnockdDoorError::Sequence(SequenceError::Knock {
            index: 0,
            text: sequence.to_string(),
            why: "knockd has no ICMP knocks",
        }));
    }
    let bad = || KnockdDoorError::Door(door.to_owned());
    let (port, proto) = door.split_once('/').unwrap_or((door, "tcp"));
    let port: u16 = port.trim().parse().map_err(|_| bad())?;
    let proto = match proto.trim().to_ascii_lowercase().as_str() {
        "tcp" => DoorProto::Tcp,
        "udp" => DoorProto::Udp,
        _ => return Err(bad()),
    };
    if port == 0 {
        return Err(bad());
    }
    let p = Profile {
        version: PROFILE_VERSION,
        name: name.to_owned(),
        host: host.trim().to_owned(),
        server_id: ServerId::generate(rng),
        ip: IpPreference::Auto,
        allow: AllowMode::Source,
        doors: vec![DoorSpec {
            proto,
            port,
            duration: 30,
        }],
        method: MethodSpec::StaticSequence { sequence, delay_ms },
        decoys: DecoySettings {
            count: 0,
            jitter_ms: 0,
        },
        launch: None,
    };
    checked_like_a_file(&p, "the new profile").map_err(KnockdDoorError::Invalid)
}

/// A profile built in code, put through the same checks as a profile file
/// gets (name, ports, …) by writing and parsing it: one parser decides what
/// a valid profile is, whether it came from a file, a form or an import.
/// `what` names it in the error.
pub fn checked_like_a_file(p: &Profile, what: &str) -> Result<Profile, String> {
    let text = p.to_toml().map_err(|e| e.to_string())?;
    postern_proto::profile::parse(&text, what).map_err(|e| e.message)
}

pub mod update;

#[cfg(test)]
mod tests;
