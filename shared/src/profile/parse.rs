//! Text → [`Profile`], with errors a person can act on: which file, which
//! line and column, what was expected.

use super::{AllowMode, MethodSpec, PROFILE_VERSION, Profile};

/// A profile that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}{}: {message}", location(*.line, *.column))]
pub struct ProfileError {
    /// The file name (or "<input>") the text came from.
    pub source_name: String,
    /// 1-based line and column, when the problem has a place.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// 1-based line and column of byte offset `at` in `text` (for error
/// messages about any TOML file, profiles and server configs alike).
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

/// Parses and validates a profile. `source_name` only labels errors.
pub fn parse(text: &str, source_name: &str) -> Result<Profile, ProfileError> {
    let profile: Profile = toml::from_str(text).map_err(|e| {
        let (line, column) = match e.span() {
            Some(span) => {
                let (l, c) = line_col(text, span.start);
                (Some(l), Some(c))
            }
            None => (None, None),
        };
        ProfileError {
            source_name: source_name.to_owned(),
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    validate(&profile).map_err(|(section, key, message)| {
        let (line, column) =
            find_key(text, section, key).map_or((None, None), |(l, c)| (Some(l), Some(c)));
        ProfileError {
            source_name: source_name.to_owned(),
            line,
            column,
            message,
        }
    })?;
    Ok(profile)
}

type Invalid = (&'static str, &'static str, String);

fn bad(section: &'static str, key: &'static str, msg: impl Into<String>) -> Invalid {
    (section, key, msg.into())
}

/// Checks what the type system cannot. Errors name the TOML section and key
/// so the caller can point at them.
fn validate(p: &Profile) -> Result<(), Invalid> {
    if p.version != PROFILE_VERSION {
        return Err(bad(
            "",
            "version",
            format!(
                "unsupported profile version {} (this program reads version {PROFILE_VERSION})",
                p.version
            ),
        ));
    }
    if p.name.trim().is_empty() || p.name.chars().count() > 80 {
        return Err(bad("", "name", "name must be 1 to 80 characters"));
    }
    if p.host.is_empty() || p.host.len() > 253 || p.host.chars().any(char::is_whitespace) {
        return Err(bad(
            "",
            "host",
            "host must be a host name or an IP address without spaces",
        ));
    }
    if p.doors.is_empty() || p.doors.len() > crate::wire::spa::MAX_DOORS {
        return Err(bad(
            "",
            "door",
            "a profile opens 1 to 16 doors ([[door]] tables)",
        ));
    }
    for d in &p.doors {
        if d.port == 0 {
            return Err(bad("door", "port", "door port must be 1 to 65535"));
        }
        if !(1..=86_400).contains(&d.duration) {
            return Err(bad(
                "door",
                "duration",
                "door duration must be 1 to 86400 seconds",
            ));
        }
    }
    // fwknop names the address to let in like Postern's SPA (0.0.0.0 for
    // "the source"), so it takes the same modes.
    let spa = matches!(p.method, MethodSpec::Spa { .. } | MethodSpec::Fwknop { .. });
    match &p.allow {
        AllowMode::Source => {}
        AllowMode::Explicit { .. } if spa => {}
        AllowMode::Url { url, url_ca } if spa => {
            if !url.starts_with("https://") {
                return Err(bad(
                    "allow",
                    "url",
                    "the address service must be an https:// URL",
                ));
            }
            if url_ca
                .as_ref()
                .is_some_and(|c| !c.contains("-----BEGIN CERTIFICATE-----"))
            {
                return Err(bad(
                    "allow",
                    "url_ca",
                    "url_ca must hold PEM certificates (-----BEGIN CERTIFICATE-----)",
                ));
            }
        }
        AllowMode::Auto { stun, .. } if spa => {
            if stun.len() > 4 {
                return Err(bad("allow", "stun", "at most 4 STUN servers"));
            }
            if let Some(s) = stun.iter().find(|s| !valid_host_port(s)) {
                return Err(bad(
                    "allow",
                    "stun",
                    format!("STUN server {s:?} is not host:port"),
                ));
            }
        }
        _ => {
            return Err(bad(
                "allow",
                "mode",
                "only SPA can ask for an address other than the packet's source",
            ));
        }
    }
    if p.decoys.count > 64 {
        return Err(bad("decoys", "count", "at most 64 decoys"));
    }
    if p.decoys.jitter_ms > 5000 {
        return Err(bad("decoys", "jitter_ms", "jitter_ms must be at most 5000"));
    }
    validate_method(p)
}

/// `host:port` or `[v6]:port`, with a port of 1 to 65535.
pub fn valid_host_port(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else {
        return false;
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && !host.chars().any(char::is_whitespace)
        && port.parse::<u16>().is_ok_and(|p| p != 0)
}

fn valid_user(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && u.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn validate_method(p: &Profile) -> Result<(), Invalid> {
    match &p.method {
        MethodSpec::StaticSequence { delay_ms, .. } => {
            if *delay_ms > 10_000 {
                return Err(bad("method", "delay_ms", "delay_ms must be at most 10000"));
            }
        }
        MethodSpec::DynamicSequence { user, .. } | MethodSpec::SynTokenKeyed { user, .. }
            if !valid_user(user) =>
        {
            return Err(bad(
                "method",
                "user",
                "user names use letters, digits, '.', '_' and '-' (1 to 64)",
            ));
        }
        MethodSpec::Spa { user, .. } | MethodSpec::Fwknop { user, .. } if !valid_user(user) => {
            return Err(bad(
                "method",
                "user",
                "user names use letters, digits, '.', '_' and '-' (1 to 64)",
            ));
        }
        MethodSpec::DynamicSequence { .. } => {
            if let Some(params) = p.method.dynamic_params() {
                params.validate().map_err(|m| bad("method", "length", m))?;
            }
        }
        MethodSpec::Spa { port, action, .. } => {
            if *port == 0 {
                return Err(bad("method", "port", "the SPA port must be 1 to 65535"));
            }
            if action
                .as_ref()
                .is_some_and(|a| a.is_empty() || a.len() > crate::wire::spa::MAX_ACTION)
            {
                return Err(bad("method", "action", "an action name is 1 to 64 bytes"));
            }
        }
        MethodSpec::Fwknop { port, .. } => {
            if *port == 0 {
                return Err(bad("method", "port", "the fwknop port must be 1 to 65535"));
            }
        }
        MethodSpec::SynToken => {
            if let Some(d) = p
                .doors
                .iter()
                .find(|d| crate::method::syn_token::static_knock_port(d.port).is_none())
            {
                return Err(bad(
                    "door",
                    "port",
                    format!(
                        "the static SYN token can only open ports 1 to 999, not {}",
                        d.port
                    ),
                ));
            }
        }
        MethodSpec::SynTokenKeyed { step_secs, .. } => {
            if !(5..=3600).contains(step_secs) {
                return Err(bad(
                    "method",
                    "step_secs",
                    "step_secs must be between 5 and 3600",
                ));
            }
        }
    }
    Ok(())
}

/// Finds `key = ...` inside `[section]` (or at top level for ""), returning
/// its 1-based line and column. Good enough to point at a value the type
/// system accepted but validation refused.
fn find_key(text: &str, section: &str, key: &str) -> Option<(usize, usize)> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(h) = t.strip_prefix('[') {
            current = h
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            if key == section && current == section {
                return Some((i + 1, line.len() - t.len() + 1));
            }
            continue;
        }
        if current == section
            && let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return Some((i + 1, line.len() - t.len() + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const GOOD: &str = r#"version = 1
name = "Office PC"
host = "rdp.example.org"
server_id = "00112233445566778899aabbccddeeff"

[[door]]
proto = "tcp"
port = 3389
duration = 60

[method]
kind = "spa"
user = "alice"
key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
port = 62201

[launch]
kind = "rdp"
"#;

    #[test]
    fn parses_a_good_profile() {
        let p = parse(GOOD, "office.postern").expect("valid");
        assert_eq!(p.name, "Office PC");
        assert_eq!(p.doors[0].port, 3389);
        assert!(p.method.key().is_some());
        let again = parse(&p.to_toml().expect("toml"), "x").expect("round trip");
        assert_eq!(again, p);
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let text = GOOD.replace("port = 62201", "prot = 62201");
        let e = parse(&text, "office.postern").unwrap_err();
        assert_eq!(e.source_name, "office.postern");
        assert!(e.line.is_some(), "{e}");
        assert!(e.message.contains("prot"), "{e}");
        assert!(e.to_string().starts_with("office.postern:"), "{e}");
    }

    #[test]
    fn semantic_errors_point_at_the_key() {
        let text = GOOD.replace("port = 62201", "port = 0");
        let e = parse(&text, "p").unwrap_err();
        assert_eq!((e.line, e.column), (Some(15), Some(1)));
        assert_eq!(e.to_string(), "p:15:1: the SPA port must be 1 to 65535");
        let e = parse(&GOOD.replace("version = 1", "version = 7"), "p").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p:1:1: unsupported profile version 7"),
            "{e}"
        );
        let e = parse(&GOOD.replace("duration = 60", "duration = 0"), "p").unwrap_err();
        assert_eq!(e.line, Some(9));
    }

    /// An fwknop host: port and digest type have fwknop's defaults, the
    /// allow modes are SPA's, the keys never appear in the text (the
    /// keyring has them) and a key in the file is refused, not dropped.
    #[test]
    fn an_fwknop_profile_has_fwknops_defaults_and_no_keys() {
        let text = GOOD.replace(
            "kind = \"spa\"\nuser = \"alice\"\nkey = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"\nport = 62201",
            "kind = \"fwknop\"\nuser = \"alice\"",
        ) + "\n[allow]\nmode = \"auto\"\n";
        let p = parse(&text, "f").expect("valid");
        let MethodSpec::Fwknop {
            user,
            port,
            hmac,
            keys,
        } = &p.method
        else {
            panic!("{:?}", p.method)
        };
        assert_eq!((user.as_str(), *port), ("alice", 62201));
        assert_eq!(*hmac, crate::method::fwknop::HmacType::Sha256);
        assert!(keys.is_none() && p.method.needs_fwknop_keys() && !p.method.needs_key());
        let mut with_keys = p.clone();
        let k = crate::method::fwknop::FwknopKeys::new(
            &[1; 32],
            &[2; 64],
            crate::method::fwknop::HmacType::Sha512,
        )
        .expect("keys");
        with_keys.method.set_fwknop_keys(k);
        assert!(!with_keys.method.needs_fwknop_keys());
        let out = with_keys.to_toml().expect("toml");
        assert!(!out.contains("AQEB") && !out.contains("AgIC"), "{out}");
        assert_eq!(parse(&out, "again").expect("round trip"), p);
        let sha512 = text.replace("user = \"alice\"", "user = \"alice\"\nhmac = \"sha512\"");
        assert!(parse(&sha512, "f").is_ok());
        let with_key = text.replace("user = \"alice\"", "user = \"alice\"\nkey = \"x\"");
        assert!(parse(&with_key, "f").is_err());
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }
}
