//! `posternd user list/remove/disable/enable/rotate`: the rest of a user's
//! life after `user add`. Every change goes through `config_edit` (comments
//! kept, whole config checked, atomic write) and takes effect at the next
//! `posternd reload`, which each command offers (`--reload`).

use super::config_edit::{self, user};
use super::user::{Issue, doors_for, issue, write_profile};
use crate::config::{self, Config, SynTokenMode, UserConfig};
use crate::when::rfc3339;
use anyhow::{Context, Result, bail};
use postern_proto::{UnixTime, UserKey};
use std::path::Path;
use toml_edit::value;

/// What every changing command says last, unless it reloaded.
pub const APPLY: &str = "run `posternd reload` (or add --reload) to apply it; live grants the new config still allows stay open";

/// `posternd user remove NAME`: the entry goes, and with it the key:
/// the user's knocks are logged as from an unknown key after the reload.
pub fn remove(config_path: &Path, name: &str) -> Result<String> {
    config_edit::edit(config_path, |doc, _| config_edit::remove_user(doc, name))?;
    Ok(format!(
        "removed user {name} from {}; their grants end at the reload\n{APPLY}",
        config_path.display()
    ))
}

/// `posternd user disable NAME` / `enable NAME`: the entry and key stay,
/// every knock is refused (and logged as from a disabled user) until
/// enabled again. Disabling ends the user's live grants at the reload.
pub fn set_disabled(config_path: &Path, name: &str, disabled: bool) -> Result<String> {
    config_edit::edit(config_path, |doc, _| {
        let t = user(doc, name)?;
        if disabled {
            t["disabled"] = value(true);
        } else {
            t.remove("disabled");
        }
        Ok(())
    })?;
    Ok(format!(
        "{} user {name}\n{APPLY}",
        if disabled { "disabled" } else { "enabled" }
    ))
}

/// `posternd user rotate NAME`.
#[derive(Debug)]
pub struct Rotate {
    pub name: String,
    /// How long the old key keeps working; `None`: until the reload.
    pub grace_secs: Option<u64>,
    /// A new expiry (e.g. to extend a contractor's access with a new key).
    pub expires: Option<UnixTime>,
    pub issue: Issue,
}

/// A new key and profile for an existing user. The old key is kept as
/// `previous_key` until `now + grace` (without a grace: `now`, so it
/// stops at the reload and its knocks are logged as rotated out).
pub fn rotate(config_path: &Path, req: &Rotate, now: UnixTime) -> Result<String> {
    let key = UserKey::generate(&mut rand::rng());
    let until = UnixTime(now.0.saturating_add(req.grace_secs.unwrap_or(0)));
    let mut written = String::new();
    let mut has_fwknop_keys = false;
    config_edit::edit_then(
        config_path,
        |doc, cfg| {
            let u = cfg
                .users
                .iter()
                .find(|u| u.name == req.name)
                .with_context(|| format!("no user named {:?} in the config", req.name))?;
            has_fwknop_keys = u.fwknop_key.is_some();
            // The profile opens the user's doors that its method can open
            // (a user may have doors for other methods, e.g. a sequence).
            let names: Vec<String> = u
                .doors
                .iter()
                .filter(|d| doors_for(cfg, &[(*d).clone()], req.issue.method, config_path).is_ok())
                .cloned()
                .collect();
            if names.is_empty() {
                bail!(
                    "none of {}'s doors ({}) opens with {:?}: choose --method",
                    u.name,
                    u.doors.join(", "),
                    req.issue.method
                );
            }
            let doors = doors_for(cfg, &names, req.issue.method, config_path)?;
            let issued = issue(cfg, &u.name, &doors, &key, u.max_duration, &req.issue)?;
            let t = user(doc, &req.name)?;
            t["previous_key"] = value(u.key.to_base64().as_str());
            config_edit::set_time(t, "previous_key_until", until)?;
            t["key"] = value(key.to_base64().as_str());
            config_edit::set_time(t, "key_issued", now)?;
            if let Some(at) = req.expires {
                config_edit::set_time(t, "expires", at)?;
            }
            Ok(issued)
        },
        |issued| {
            written = write_profile(&req.name, issued, &req.issue)?;
            Ok(())
        },
    )?;
    let old = match req.grace_secs {
        Some(s) if s > 0 => format!("the old key keeps working until {}", rfc3339(until)),
        _ => "the old key stops working at the reload".to_owned(),
    };
    let fwknop = if has_fwknop_keys {
        fwknop_keys_stay(&req.name)
    } else {
        String::new()
    };
    Ok(format!(
        "rotated the key of user {}; {old}\n{written}\n{fwknop}{APPLY}",
        req.name
    ))
}

/// Said when a rotated user also has fwknop keys. They are a second secret
/// the user holds (in an `.fwknoprc`, or a Postern client's keyring) and
/// rotate replaces only the Postern key: an admin rotating because a
/// laptop was stolen must not take the rotation for the end of every key
/// on it.
fn fwknop_keys_stay(name: &str) -> String {
    format!(
        "warning: {name} also has fwknop keys (fwknop_key, fwknop_hmac_key), which rotate \
         does not replace: they keep opening {name}'s doors. Before the reload, replace both \
         with new ones from `fwknop --key-gen` (and give those to {name}'s fwknop client), \
         or delete both lines\n"
    )
}

/// One user as `user list` shows it.
#[derive(Debug, serde::Serialize)]
pub struct Listed {
    pub name: String,
    pub doors: Vec<String>,
    /// The user-keyed methods their doors offer (spa, fwknop,
    /// dynamic-sequence, syn-token-keyed).
    pub methods: Vec<&'static str>,
    /// Empty: anywhere.
    pub sources: Vec<String>,
    pub expires: Option<String>,
    pub expired: bool,
    pub disabled: bool,
    /// Whole days since the key was issued; `None`: not recorded.
    pub key_age_days: Option<u64>,
    /// A rotated-out key still working until then.
    pub previous_key_until: Option<String>,
}

fn listed(cfg: &Config, u: &UserConfig, now: UnixTime) -> Listed {
    let mut methods = Vec::new();
    let mut add = |m| {
        if !methods.contains(&m) {
            methods.push(m);
        }
    };
    for d in u.doors.iter().filter_map(|d| cfg.door(d)) {
        if d.spa {
            add("spa");
            if u.fwknop_key.is_some() {
                add("fwknop");
            }
        }
        if d.dynamic.is_some() {
            add("dynamic-sequence");
        }
        if d.syn_token == Some(SynTokenMode::Keyed) {
            add("syn-token-keyed");
        }
    }
    Listed {
        name: u.name.clone(),
        doors: u.doors.clone(),
        methods,
        sources: u.sources.iter().map(ToString::to_string).collect(),
        expires: u.expires.map(|w| w.to_string()),
        expired: u.expires.is_some_and(|w| now >= w.0),
        disabled: u.disabled,
        key_age_days: u.key_issued.map(|w| now.0.saturating_sub(w.0.0) / 86_400),
        previous_key_until: u
            .previous_key_until
            .filter(|w| w.0 > now)
            .map(|w| w.to_string()),
    }
}

/// `posternd user list` (`--json`): who has access, to what, until when.
pub fn list(config_path: &Path, json: bool, now: UnixTime) -> Result<String> {
    let cfg = config::load(config_path)?;
    let rows: Vec<Listed> = cfg.users.iter().map(|u| listed(&cfg, u, now)).collect();
    if json {
        return Ok(serde_json::to_string_pretty(&rows)? + "\n");
    }
    if rows.is_empty() {
        return Ok(format!(
            "no users in {} (posternd user add NAME --door DOOR)\n",
            config_path.display()
        ));
    }
    let mut s = String::new();
    for r in rows {
        let mut parts = vec![
            format!("doors {}", r.doors.join(", ")),
            format!("by {}", or(&r.methods.join(", "), "no user method")),
            format!("from {}", or(&r.sources.join(", "), "anywhere")),
            match (&r.expires, r.expired) {
                (Some(e), true) => format!("EXPIRED {e}"),
                (Some(e), false) => format!("expires {e}"),
                (None, _) => "no expiry".into(),
            },
            match r.key_age_days {
                Some(d) => format!("key {d} days old"),
                None => "key age unknown".into(),
            },
        ];
        if let Some(u) = &r.previous_key_until {
            parts.push(format!("old key works until {u}"));
        }
        if r.disabled {
            parts.push("DISABLED".into());
        }
        s.push_str(&format!("{}: {}\n", r.name, parts.join("; ")));
    }
    Ok(s)
}

fn or<'a>(s: &'a str, empty: &'a str) -> &'a str {
    if s.is_empty() { empty } else { s }
}

#[cfg(test)]
mod tests;
