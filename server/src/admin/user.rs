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
}

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
        allow: AllowMode::Source,
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
    let block = format!(
        "\n[[user]]\nname = \"{}\"\nkey = \"{}\"\ndoors = [{}]\n{}max_duration = {}\n",
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
    Ok(format!(
        "added user {} to {}\nwrote signed profile {} (it contains the user's key: hand it over privately)\nsigner fingerprint: {}\nrun `posternd reload` to load the new user (live grants stay open)",
        req.name,
        config_path.display(),
        out.display(),
        admin.public().fingerprint()
    ))
}
