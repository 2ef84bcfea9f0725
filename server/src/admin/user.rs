//! `posternd user add`: a new user key, its config entry, and a signed
//! profile file the user imports.

use crate::config::{self, SynTokenMode};
use crate::state::write_atomic;
use anyhow::{Context, Result, bail};
use ipnet::IpNet;
use postern_proto::UserKey;
use postern_proto::profile::{
    AllowMode, DecoySettings, DoorSpec, IpPreference, MethodSpec, PROFILE_VERSION, Profile,
};
use postern_proto::sign::AdminKey;
use std::path::{Path, PathBuf};

/// Knock methods a profile can be issued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IssueMethod {
    Spa,
    DynamicSequence,
    SynTokenKeyed,
    StaticSequence,
    SynToken,
}

#[derive(Debug)]
pub struct AddUser {
    pub name: String,
    pub doors: Vec<String>,
    pub method: IssueMethod,
    pub sources: Vec<IpNet>,
    pub max_duration: u32,
    pub host: Option<String>,
    pub out: Option<PathBuf>,
    /// STUN servers for the profile; empty: `[server] stun` of the config.
    pub stun: Vec<String>,
    /// Inside networks behind a NAT that are not private ranges.
    pub nat_networks: Vec<IpNet>,
}

/// Said when a profile's method cannot carry the address to let in.
pub const UNBOUND_WARNING: &str = "warning: this method cannot name the address to let in: the door opens for whichever address knocks (a knock seen on the way can be copied). SPA profiles are bound to the user's address";

/// Adds the user to the config file (atomically, after checking that the
/// whole new config is valid) and writes a signed profile (mode 0600: it
/// holds the user's key).
pub fn add(config_path: &Path, req: &AddUser) -> Result<String> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let cfg = config::parse(&text, &config_path.display().to_string())?;
    if cfg.users.iter().any(|u| u.name == req.name) {
        bail!(
            "user {} already exists in {}",
            req.name,
            config_path.display()
        );
    }
    if let Some(s) = req
        .stun
        .iter()
        .find(|s| !postern_proto::profile::valid_host_port(s))
    {
        bail!("--stun {s}: expected HOST:PORT (e.g. stun.example.org:3478)");
    }
    if req.doors.is_empty() {
        bail!("name at least one door (--door NAME)");
    }
    let mut doors = Vec::new();
    for name in &req.doors {
        let d = cfg.door(name).with_context(|| {
            format!(
                "no door named {name:?} in {} (add a [[door]] first)",
                config_path.display()
            )
        })?;
        let ok = match req.method {
            IssueMethod::Spa => d.spa,
            IssueMethod::DynamicSequence => d.dynamic.is_some(),
            IssueMethod::SynTokenKeyed => d.syn_token == Some(SynTokenMode::Keyed),
            IssueMethod::StaticSequence => d.sequence.is_some(),
            IssueMethod::SynToken => d.syn_token == Some(SynTokenMode::Static),
        };
        if !ok {
            bail!(
                "door {name} cannot be opened with {:?}: set it in the door's config first",
                req.method
            );
        }
        doors.push(d.clone());
    }
    let host = req
        .host
        .clone()
        .or_else(|| cfg.server.public_host.clone())
        .context(
            "say which host the profile should knock: --host NAME, or public_host in [server]",
        )?;
    let key_file = cfg
        .server
        .admin_key_file
        .as_ref()
        .context("no admin_key_file in [server]: run `posternd init` or set it")?;
    let admin_text = std::fs::read_to_string(key_file)
        .with_context(|| format!("reading {}", key_file.display()))?;
    let admin = AdminKey::from_base64(&admin_text)
        .with_context(|| format!("{}: not an admin key", key_file.display()))?;

    let key = UserKey::generate(&mut rand::rng());
    let first = &doors[0];
    let method = match req.method {
        IssueMethod::Spa => MethodSpec::Spa {
            user: req.name.clone(),
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
                user: req.name.clone(),
                key: Some(key.clone()),
                length: p.length,
                port_min: p.port_min,
                port_max: p.port_max,
                proto: p.proto,
                step_secs: p.step_secs,
            }
        }
        IssueMethod::SynTokenKeyed => MethodSpec::SynTokenKeyed {
            user: req.name.clone(),
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
        allow: if req.method == IssueMethod::Spa {
            AllowMode::Auto {
                stun: if req.stun.is_empty() {
                    cfg.server.stun.clone()
                } else {
                    req.stun.clone()
                },
                nat_networks: req.nat_networks.clone(),
            }
        } else {
            AllowMode::Source
        },
        doors: doors
            .iter()
            .map(|d| DoorSpec {
                proto: d.proto,
                port: d.port,
                duration: d.duration.min(req.max_duration),
            })
            .collect(),
        method,
        decoys: DecoySettings::default(),
        launch: None,
    };
    postern_proto::profile::parse(&profile.to_toml()?, "generated profile")
        .context("the generated profile did not validate (a bug)")?;
    let signed = admin.sign_profile(&profile)?;

    // The config entry: appended as text so comments and layout survive.
    let sources = req
        .sources
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    // Every user added from now on must name its address: their profile
    // binds it, so a packet without one is a copy or an old profile.
    let block = format!(
        "\n[[user]]\nname = \"{}\"\nkey = \"{}\"\ndoors = [{}]\n{}max_duration = {}\nrequire_address = true\n",
        req.name,
        key.to_base64(),
        req.doors
            .iter()
            .map(|d| format!("\"{d}\""))
            .collect::<Vec<_>>()
            .join(", "),
        if sources.is_empty() {
            String::new()
        } else {
            format!("sources = [{sources}]\n")
        },
        req.max_duration
    );
    let mut new_text = text.clone();
    if !new_text.ends_with('\n') {
        new_text.push('\n');
    }
    new_text.push_str(&block);
    config::parse(&new_text, &config_path.display().to_string())
        .context("the config with the new user did not validate")?;

    let out = req
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.postern", req.name)));
    write_atomic(&out, signed.as_bytes(), 0o600)?;
    write_atomic(config_path, new_text.as_bytes(), 0o600)?;
    let mut notes = String::new();
    if req.method != IssueMethod::Spa {
        notes.push_str(UNBOUND_WARNING);
        notes.push('\n');
    } else if matches!(&profile.allow, AllowMode::Auto { stun, .. } if stun.is_empty()) {
        notes.push_str("note: no STUN servers in the profile (--stun or [server] stun): clients behind a NAT use the ones in their settings\n");
    }
    Ok(format!(
        "{notes}added user {} to {}\nwrote signed profile {} (it contains the user's key: hand it over privately)\nsigner fingerprint: {}\nrun `posternd reload` to load the new user (live grants stay open)",
        req.name,
        config_path.display(),
        out.display(),
        admin.public().fingerprint()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::init::{InitOptions, init};
    use postern_proto::profile::AllowMode;

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
            method,
            sources: vec![],
            max_duration: 600,
            host: None,
            out: Some(out),
            stun,
            nat_networks: vec!["198.18.10.0/24".parse().expect("net")],
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
        let said = add(&cfg, &req("alice", IssueMethod::Spa, out.clone(), vec![])).expect("add");
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
        )
        .unwrap_err();
        assert!(e.to_string().contains("HOST:PORT"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
