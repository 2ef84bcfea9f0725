//! `posternd user add`: a new user key, its config entry, and a signed
//! profile file the user imports. The pieces `user rotate` shares with it
//! (issuing a profile, writing it sealed or not) live here too.

use super::config_edit;
use super::passphrase;
use crate::config::{Config, DoorConfig, SynTokenMode};
use crate::state::write_atomic;
use anyhow::{Context, Result, bail};
use ipnet::IpNet;
use postern_proto::profile::{
    AllowMode, DecoySettings, DoorSpec, IpPreference, MethodSpec, PROFILE_VERSION, Profile,
};
use postern_proto::sign::AdminKey;
use postern_proto::{UnixTime, UserKey};
use std::path::{Path, PathBuf};
use toml_edit::{Array, Table, value};

/// Knock methods a profile can be issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IssueMethod {
    Spa,
    DynamicSequence,
    SynTokenKeyed,
    StaticSequence,
    SynToken,
}

/// How a profile is issued: for `user add` and `user rotate` alike.
#[derive(Debug, Clone)]
pub struct Issue {
    pub method: IssueMethod,
    pub host: Option<String>,
    /// Where to write the profile (default NAME.postern).
    pub out: Option<PathBuf>,
    /// STUN servers for the profile; empty: `[server] stun` of the config.
    pub stun: Vec<String>,
    /// Inside networks behind a NAT that are not private ranges.
    pub nat_networks: Vec<IpNet>,
    /// Seal the profile with a fresh passphrase (printed once).
    pub seal: bool,
}

#[derive(Debug)]
pub struct AddUser {
    pub name: String,
    pub doors: Vec<String>,
    pub sources: Vec<IpNet>,
    pub max_duration: u32,
    /// The user's knocks are refused from this moment on.
    pub expires: Option<UnixTime>,
    pub issue: Issue,
}

/// Said when a profile's method cannot carry the address to let in.
pub const UNBOUND_WARNING: &str = "warning: this method cannot name the address to let in: the door opens for whichever address knocks (a knock seen on the way can be copied). SPA profiles are bound to the user's address";

/// Adds the user to the config file (atomically, after checking that the
/// whole new config is valid) and writes a signed profile (mode 0600: it
/// holds the user's key). `now` is the new key's issue time.
pub fn add(config_path: &Path, req: &AddUser, now: UnixTime) -> Result<String> {
    if req.doors.is_empty() {
        bail!("name at least one door (--door NAME)");
    }
    let key = UserKey::generate(&mut rand::rng());
    let mut written = String::new();
    let issued = config_edit::edit_then(
        config_path,
        |doc, cfg| {
            if cfg.users.iter().any(|u| u.name == req.name) {
                bail!(
                    "user {} already exists in {}",
                    req.name,
                    config_path.display()
                );
            }
            let doors = doors_for(cfg, &req.doors, req.issue.method, config_path)?;
            let issued = issue(cfg, &req.name, &doors, &key, req.max_duration, &req.issue)?;
            let mut t = Table::new();
            t["name"] = value(req.name.as_str());
            t["key"] = value(key.to_base64().as_str());
            t["doors"] = value(Array::from_iter(req.doors.iter().map(String::as_str)));
            if !req.sources.is_empty() {
                t["sources"] = value(Array::from_iter(
                    req.sources.iter().map(ToString::to_string),
                ));
            }
            t["max_duration"] = value(i64::from(req.max_duration));
            // Every user added from now on must name its address: their
            // profile binds it, so a packet without one is a copy or an
            // old profile.
            t["require_address"] = value(true);
            config_edit::set_time(&mut t, "key_issued", now)?;
            if let Some(at) = req.expires {
                config_edit::set_time(&mut t, "expires", at)?;
            }
            config_edit::push_user(doc, t);
            Ok(issued)
        },
        |issued| {
            written = write_profile(&req.name, issued, &req.issue)?;
            Ok(())
        },
    )?;
    Ok(format!(
        "{}added user {} to {}{}\n{}\n{}",
        issued.notes,
        req.name,
        config_path.display(),
        req.expires
            .map(|t| format!(" (expires {})", crate::when::rfc3339(t)))
            .unwrap_or_default(),
        written,
        super::user_life::APPLY
    ))
}

/// The config's doors called `names`, each checked to open with `method`.
pub(super) fn doors_for(
    cfg: &Config,
    names: &[String],
    method: IssueMethod,
    config_path: &Path,
) -> Result<Vec<DoorConfig>> {
    let mut doors = Vec::new();
    for name in names {
        let d = cfg.door(name).with_context(|| {
            format!(
                "no door named {name:?} in {} (add a [[door]] first)",
                config_path.display()
            )
        })?;
        let ok = match method {
            IssueMethod::Spa => d.spa,
            IssueMethod::DynamicSequence => d.dynamic.is_some(),
            IssueMethod::SynTokenKeyed => d.syn_token == Some(SynTokenMode::Keyed),
            IssueMethod::StaticSequence => d.sequence.is_some(),
            IssueMethod::SynToken => d.syn_token == Some(SynTokenMode::Static),
        };
        if !ok {
            bail!(
                "door {name} cannot be opened with {method:?}: set it in the door's config first"
            );
        }
        doors.push(d.clone());
    }
    Ok(doors)
}

/// A signed profile and what to tell the administrator about it.
pub(super) struct Issued {
    signed: String,
    notes: String,
    fingerprint: String,
}

/// Builds and signs the profile of user `name` with `key` for `doors`.
pub(super) fn issue(
    cfg: &Config,
    name: &str,
    doors: &[DoorConfig],
    key: &UserKey,
    max_duration: u32,
    how: &Issue,
) -> Result<Issued> {
    if let Some(s) = how
        .stun
        .iter()
        .find(|s| !postern_proto::profile::valid_host_port(s))
    {
        bail!("--stun {s}: expected HOST:PORT (e.g. stun.example.org:3478)");
    }
    let first = doors
        .first()
        .context("name at least one door (--door NAME)")?;
    let host = how
        .host
        .clone()
        .or_else(|| cfg.server.public_host.clone())
        .context(
            "say which host the profile should knock: --host NAME, or public_host in [server]",
        )?;
    let admin = admin_key(cfg)?;
    let method = match how.method {
        IssueMethod::Spa => MethodSpec::Spa {
            user: name.to_owned(),
            key: Some(key.clone()),
            port: cfg.spa.port,
            transport: Default::default(),
            action: None,
        },
        IssueMethod::DynamicSequence => {
            let p = first.dynamic.context("dynamic door")?.params();
            // `check` refuses such a config; refuse to issue it as well.
            p.strong_enough()
                .map_err(|m| anyhow::anyhow!("door {}: dynamic: {m}", first.name))?;
            MethodSpec::DynamicSequence {
                user: name.to_owned(),
                key: Some(key.clone()),
                length: p.length,
                port_min: p.port_min,
                port_max: p.port_max,
                proto: p.proto,
                step_secs: p.step_secs,
            }
        }
        IssueMethod::SynTokenKeyed => MethodSpec::SynTokenKeyed {
            user: name.to_owned(),
            key: Some(key.clone()),
            // The step the server checks this door's tokens with.
            step_secs: first.syn_step_secs,
        },
        IssueMethod::StaticSequence => MethodSpec::StaticSequence {
            sequence: first.sequence.clone().context("sequence door")?,
            delay_ms: 0,
        },
        IssueMethod::SynToken => MethodSpec::SynToken,
    };
    let profile = Profile {
        version: PROFILE_VERSION,
        name: format!(
            "{} on {host}",
            doors
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>()
                .join(" + ")
        ),
        host: host.clone(),
        server_id: cfg.server.server_id,
        ip: IpPreference::Auto,
        // SPA binds the knocker's address (protocol.md §7.2); the other
        // methods cannot carry one.
        allow: if how.method == IssueMethod::Spa {
            AllowMode::Auto {
                stun: if how.stun.is_empty() {
                    cfg.server.stun.clone()
                } else {
                    how.stun.clone()
                },
                nat_networks: how.nat_networks.clone(),
            }
        } else {
            AllowMode::Source
        },
        doors: doors
            .iter()
            .map(|d| DoorSpec {
                proto: d.proto,
                port: d.port,
                duration: d.duration.min(max_duration),
            })
            .collect(),
        method,
        decoys: DecoySettings::default(),
        launch: None,
    };
    postern_proto::profile::parse(&profile.to_toml()?, "generated profile")
        .context("the generated profile did not validate (a bug)")?;
    let signed = admin.sign_profile(&profile)?;
    let mut notes = String::new();
    if how.method != IssueMethod::Spa {
        notes.push_str(UNBOUND_WARNING);
        notes.push('\n');
    } else if matches!(&profile.allow, AllowMode::Auto { stun, .. } if stun.is_empty()) {
        notes.push_str("note: no STUN servers in the profile (--stun or [server] stun): clients behind a NAT use the ones in their settings\n");
    }
    Ok(Issued {
        signed,
        notes,
        fingerprint: admin.public().fingerprint().to_string(),
    })
}

fn admin_key(cfg: &Config) -> Result<AdminKey> {
    let key_file = cfg
        .server
        .admin_key_file
        .as_ref()
        .context("no admin_key_file in [server]: run `posternd init` or set it")?;
    let admin_text = std::fs::read_to_string(key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    AdminKey::from_base64(&admin_text)
        .with_context(|| format!("{}: not an admin key", key_file.display()))
}

/// Writes the profile (mode 0600: it holds the user's key), sealed with a
/// fresh passphrase if asked, and says what was written and how to hand
/// it over.
pub(super) fn write_profile(name: &str, issued: &Issued, how: &Issue) -> Result<String> {
    let out = how
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{name}.postern")));
    let said = if how.seal {
        let pass = passphrase::generate(&mut rand::rng());
        let sealed = postern_proto::seal::seal(
            &issued.signed,
            &pass,
            postern_proto::seal::KdfCost::default(),
            &mut rand::rng(),
        )
        .map_err(|e| anyhow::anyhow!("sealing the profile: {e}"))?;
        write_atomic(&out, sealed.as_bytes(), 0o600)?;
        format!(
            "wrote sealed profile {} (send it by e-mail if you like)\n\
             passphrase, shown only now — give it by another channel (phone, in person):\n\n    {}\n",
            out.display(),
            pass.as_str()
        )
    } else {
        write_atomic(&out, issued.signed.as_bytes(), 0o600)?;
        format!(
            "wrote signed profile {} (it contains the user's key: hand it over privately, or issue it with --seal)\n",
            out.display()
        )
    };
    Ok(format!("{said}signer fingerprint: {}", issued.fingerprint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::init::{InitOptions, init};
    use crate::config;
    use postern_proto::profile::AllowMode;

    pub(crate) const NOW: UnixTime = UnixTime(1_800_000_000);

    fn setup(tag: &str, stun: &[&str]) -> (PathBuf, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("postern-useradd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = dir.join("posternd.toml");
        init(&InitOptions {
            config: cfg.clone(),
            interfaces: vec!["veth0".into()],
            public_host: Some("198.18.0.1".into()),
            state_dir: dir.join("state"),
            force: false,
            stun: stun.iter().map(|s| (*s).to_owned()).collect(),
        })
        .expect("init");
        let mut text = std::fs::read_to_string(&cfg).expect("read");
        text.push_str("\n[[door]]\nname = \"ssh\"\nproto = \"tcp\"\nport = 22\nspa = true\nsequence = \"7000,9000:udp,8000\"\n");
        std::fs::write(&cfg, text).expect("write");
        (dir, cfg)
    }

    fn req(name: &str, method: IssueMethod, out: PathBuf, stun: Vec<String>) -> AddUser {
        AddUser {
            name: name.into(),
            doors: vec!["ssh".into()],
            sources: vec![],
            max_duration: 600,
            expires: None,
            issue: Issue {
                method,
                host: None,
                out: Some(out),
                stun,
                nat_networks: vec!["198.18.10.0/24".parse().expect("net")],
                seal: false,
            },
        }
    }

    fn profile(path: &Path) -> Profile {
        let text = std::fs::read_to_string(path).expect("profile");
        let (body, _) = postern_proto::sign::verify_text(&text).expect("signed");
        postern_proto::profile::parse(body, "p").expect("valid")
    }

    #[test]
    fn spa_users_get_bound_profiles_with_the_configs_stun_servers() {
        let (dir, cfg) = setup("spa", &["198.18.0.1:3478", "198.18.0.5:3478"]);
        let out = dir.join("alice.postern");
        let said = add(
            &cfg,
            &req("alice", IssueMethod::Spa, out.clone(), vec![]),
            NOW,
        )
        .expect("add");
        assert!(!said.contains("warning"), "{said}");
        let AllowMode::Auto { stun, nat_networks } = profile(&out).allow else {
            panic!("not auto");
        };
        assert_eq!(stun, ["198.18.0.1:3478", "198.18.0.5:3478"]);
        assert_eq!(nat_networks.len(), 1);
        let c = config::load(&cfg).expect("config");
        assert!(c.users[0].require_address);
        // --stun overrides the config's servers.
        let out = dir.join("bob.postern");
        add(
            &cfg,
            &req(
                "bob",
                IssueMethod::Spa,
                out.clone(),
                vec!["198.18.0.9:3478".into()],
            ),
            NOW,
        )
        .expect("add");
        let AllowMode::Auto { stun, .. } = profile(&out).allow else {
            panic!("not auto");
        };
        assert_eq!(stun, ["198.18.0.9:3478"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sequence_profiles_warn_that_they_open_for_whoever_knocks() {
        let (dir, cfg) = setup("seq", &[]);
        let out = dir.join("carol.postern");
        let said = add(
            &cfg,
            &req("carol", IssueMethod::StaticSequence, out.clone(), vec![]),
            NOW,
        )
        .expect("add");
        assert!(
            said.contains("opens for whichever address knocks"),
            "{said}"
        );
        assert_eq!(profile(&out).allow, AllowMode::Source);
        let e = add(
            &cfg,
            &req("dave", IssueMethod::Spa, dir.join("d"), vec!["nope".into()]),
            NOW,
        )
        .unwrap_err();
        assert!(e.to_string().contains("HOST:PORT"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
