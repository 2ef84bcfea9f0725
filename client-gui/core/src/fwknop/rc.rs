//! `~/.fwknoprc` → fwknop hosts (`postern import-fwknoprc`).
//!
//! The file has a `[default]` stanza and named ones; a named stanza takes
//! `[default]`'s values for what it does not set, as `fwknop -n NAME`
//! does. Every named stanza becomes a host of that name; `[default]`
//! becomes one (called "default") only when it names a server itself and
//! there is no named stanza. Lines are `VARIABLE value`; `#` starts a
//! comment line. What Postern cannot do the same way is listed per
//! stanza, and a stanza it cannot knock at all (GnuPG, no HMAC key) is
//! skipped with the reason. A line that cannot be read fails the whole
//! import: nothing is saved then.

use super::{FwknopHost, FwknopHostError};
use postern_proto::method::fwknop::{FwknopKeys, HmacType};
use postern_proto::profile::{AllowMode, Profile};
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// What reading a `.fwknoprc` gave.
#[derive(Debug)]
pub struct RcImport {
    pub hosts: Vec<(Profile, FwknopKeys)>,
    /// Stanza name and why it was not imported.
    pub skipped: Vec<(String, String)>,
    /// Stanza name and an option that was not carried over, with why.
    pub not_carried: Vec<(String, String)>,
}

/// Why a `.fwknoprc` was not imported at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RcError {
    #[error("line {line}: {why}")]
    Line { line: usize, why: String },
    #[error("stanza [{stanza}]: {cause}")]
    Stanza {
        stanza: String,
        cause: FwknopHostError,
    },
    #[error("no stanza names a server (SPA_SERVER)")]
    Empty,
}

type Vars = BTreeMap<String, (usize, Zeroizing<String>)>;

/// Options read and used; everything else is reported as not carried over.
const USED: &[&str] = &[
    "SPA_SERVER",
    "SPA_SERVER_PORT",
    "SPA_SERVER_PROTO",
    "ACCESS",
    "ALLOW_IP",
    "RESOLVE_IP_HTTPS",
    "RESOLVE_URL",
    "KEY",
    "KEY_BASE64",
    "HMAC_KEY",
    "HMAC_KEY_BASE64",
    "HMAC_DIGEST_TYPE",
    "USE_HMAC",
    "SPOOF_USER",
    "USE_GPG",
    "ENCRYPTION_MODE",
];

/// Reads `text` (a `.fwknoprc`). `local_user` is the login name fwknop
/// would send when a stanza has no `SPOOF_USER`.
pub fn parse(
    text: &str,
    local_user: &str,
    rng: &mut impl rand::RngCore,
) -> Result<RcImport, RcError> {
    let stanzas = read_stanzas(text)?;
    let default = stanzas
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("default"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let named: Vec<&(String, Vars)> = stanzas
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("default"))
        .collect();
    let mut out = RcImport {
        hosts: Vec::new(),
        skipped: Vec::new(),
        not_carried: Vec::new(),
    };
    let mut todo: Vec<(String, Vars)> = Vec::new();
    if named.is_empty() {
        if default.contains_key("SPA_SERVER") {
            todo.push(("default".to_owned(), default.clone()));
        }
    } else {
        for (name, vars) in named {
            let mut all = default.clone();
            all.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
            todo.push((name.clone(), all));
        }
    }
    for (name, vars) in todo {
        match stanza(&name, &vars, local_user, &mut out.not_carried)? {
            Ok(h) => {
                let built = h.build(rng).map_err(|cause| RcError::Stanza {
                    stanza: name.clone(),
                    cause,
                })?;
                out.hosts.push(built);
            }
            Err(why) => out.skipped.push((name, why)),
        }
    }
    if out.hosts.is_empty() && out.skipped.is_empty() {
        return Err(RcError::Empty);
    }
    Ok(out)
}

/// The stanzas in file order, each with its variables (upper-cased).
fn read_stanzas(text: &str) -> Result<Vec<(String, Vars)>, RcError> {
    let mut stanzas: Vec<(String, Vars)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(h) = t.strip_prefix('[') {
            let name = h.strip_suffix(']').map(str::trim).unwrap_or_default();
            if name.is_empty() {
                return Err(RcError::Line {
                    line,
                    why: format!("{t:?} is not a stanza name"),
                });
            }
            stanzas.push((name.to_owned(), Vars::new()));
            continue;
        }
        let (var, value) = t
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim()))
            .unwrap_or((t, ""));
        let Some((_, vars)) = stanzas.last_mut() else {
            return Err(RcError::Line {
                line,
                why: format!("{var} comes before any [stanza]"),
            });
        };
        vars.insert(
            var.to_ascii_uppercase(),
            (line, Zeroizing::new(value.to_owned())),
        );
    }
    Ok(stanzas)
}

fn yes(v: &str) -> bool {
    v.eq_ignore_ascii_case("y") || v.eq_ignore_ascii_case("yes")
}

/// One stanza as a host, or why it is skipped (inner `Err`). Options it
/// does not use go to `notes`.
fn stanza(
    name: &str,
    vars: &Vars,
    local_user: &str,
    notes: &mut Vec<(String, String)>,
) -> Result<Result<FwknopHost, String>, RcError> {
    let get = |k: &str| vars.get(k).map(|(_, v)| v.as_str());
    let line_err = |k: &str, why: String| RcError::Line {
        line: vars.get(k).map_or(0, |(l, _)| *l),
        why,
    };
    let mut note = |what: String| notes.push((name.to_owned(), what));
    // Names only: a value may be a secret (GPG_SIGNING_PW).
    for k in vars.keys().filter(|k| !USED.contains(&k.as_str())) {
        note(k.clone());
    }
    if get("USE_GPG").is_some_and(yes) {
        return Ok(Err(
            "GnuPG encryption (USE_GPG): Postern only speaks Rijndael + HMAC".into(),
        ));
    }
    if get("ENCRYPTION_MODE").is_some_and(|m| !m.eq_ignore_ascii_case("cbc")) {
        return Ok(Err(format!(
            "ENCRYPTION_MODE {}: Postern only speaks AES-CBC",
            get("ENCRYPTION_MODE").unwrap_or_default()
        )));
    }
    if get("USE_HMAC").is_some_and(|v| !yes(v)) {
        return Ok(Err(
            "USE_HMAC N: Postern only sends packets with an HMAC".into()
        ));
    }
    let Some(server) = get("SPA_SERVER") else {
        return Ok(Err("no SPA_SERVER".into()));
    };
    let key = match (get("KEY_BASE64"), get("KEY")) {
        (Some(b), _) => Zeroizing::new(b.to_owned()),
        (None, Some(raw)) => Zeroizing::new(b64(raw)),
        (None, None) => return Ok(Err("no KEY_BASE64 (or KEY)".into())),
    };
    let hmac_key = match (get("HMAC_KEY_BASE64"), get("HMAC_KEY")) {
        (Some(b), _) => Zeroizing::new(b.to_owned()),
        (None, Some(raw)) => Zeroizing::new(b64(raw)),
        (None, None) => {
            return Ok(Err(
                "no HMAC_KEY_BASE64 (or HMAC_KEY): Postern needs the HMAC".into(),
            ));
        }
    };
    let hmac = match get("HMAC_DIGEST_TYPE") {
        None => HmacType::Sha256,
        Some(t) => match HmacType::parse(t) {
            Some(h) => h,
            None => return Ok(Err(format!("HMAC_DIGEST_TYPE {t}: only SHA256 and SHA512"))),
        },
    };
    if let Some(p) = get("SPA_SERVER_PROTO").filter(|p| !p.eq_ignore_ascii_case("udp")) {
        note(format!(
            "SPA_SERVER_PROTO {p} (Postern sends the packet over UDP)"
        ));
    }
    let port = match get("SPA_SERVER_PORT") {
        None => postern_proto::method::fwknop::DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| line_err("SPA_SERVER_PORT", format!("{p:?} is not a port")))?,
    };
    let Some(access) = get("ACCESS") else {
        return Ok(Err("no ACCESS (which ports to open)".into()));
    };
    let allow = allow_mode(get("ALLOW_IP"), get("RESOLVE_IP_HTTPS"), get("RESOLVE_URL"))
        .map_err(|why| line_err("ALLOW_IP", why))?;
    Ok(Ok(FwknopHost {
        name: name.to_owned(),
        host: server.to_owned(),
        port,
        user: get("SPOOF_USER").unwrap_or(local_user).to_owned(),
        access: access.to_owned(),
        allow,
        key_base64: key,
        hmac_key_base64: hmac_key,
        hmac,
    }))
}

/// fwknop's `ALLOW_IP` (an address, `source`, `resolve`) and
/// `RESOLVE_IP_HTTPS` as Postern's allow modes. "resolve" asks an HTTPS
/// service like fwknop's `-R`: the stanza's `RESOLVE_URL` when it is one,
/// else Postern's own way of finding the public address (`auto`, STUN).
/// Without `ALLOW_IP` the address is bound (`auto`), Postern's default.
fn allow_mode(
    allow_ip: Option<&str>,
    resolve_https: Option<&str>,
    url: Option<&str>,
) -> Result<AllowMode, String> {
    let resolve = || match url.filter(|u| u.starts_with("https://")) {
        Some(u) => AllowMode::Url {
            url: u.to_owned(),
            url_ca: None,
        },
        None => AllowMode::auto(),
    };
    match allow_ip {
        Some(a) if a.eq_ignore_ascii_case("source") => Ok(AllowMode::Source),
        Some(a) if a.eq_ignore_ascii_case("resolve") => Ok(resolve()),
        Some(a) => a
            .parse()
            .map(|address| AllowMode::Explicit { address })
            .map_err(|_| format!("ALLOW_IP {a:?} is not an address, \"source\" or \"resolve\"")),
        None if resolve_https.is_some_and(yes) => Ok(resolve()),
        None => Ok(AllowMode::auto()),
    }
}

/// `KEY` and `HMAC_KEY` are the raw key text; the host keeps base64.
fn b64(raw: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
}
