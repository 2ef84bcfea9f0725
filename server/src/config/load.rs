//! Reading and checking `posternd.toml`.

use super::Config;
use postern_proto::profile::line_col;
use std::collections::HashSet;
use std::path::Path;

/// A config that cannot be used. `Display` is the whole message:
/// `FILE:LINE:COLUMN: what is wrong`. So that a chain printer (anyhow's
/// `{:#}`) does not say the cause twice, no variant has a `source`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {cause}")]
    Read { path: String, cause: std::io::Error },
    #[error("{path}{}: {message}", at.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Invalid {
        path: String,
        at: Option<(usize, usize)>,
        message: String,
    },
}

/// Reads and checks the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|cause| {
        if cause.kind() == std::io::ErrorKind::InvalidData {
            ConfigError::Invalid {
                path: shown.clone(),
                at: None,
                message: "not a text file (the config is UTF-8 TOML)".into(),
            }
        } else {
            ConfigError::Read {
                path: shown.clone(),
                cause,
            }
        }
    })?;
    parse(&text, &shown)
}

/// Largest `[limits] key_id_radius`: one hour of 30-second steps either
/// side of now, so it also bounds `max_skew` (which it must cover).
pub const MAX_KEY_ID_RADIUS: u64 = 120;

/// Parses and checks config text; `path` only labels errors.
pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
    let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Invalid {
        path: path.to_owned(),
        at: e.span().map(|s| line_col(text, s.start)),
        message: e.message().trim().to_owned(),
    })?;
    validate(&cfg).map_err(|(needle, message)| ConfigError::Invalid {
        path: path.to_owned(),
        at: needle
            .and_then(|n| text.find(&n))
            .map(|at| line_col(text, at)),
        message,
    })?;
    Ok(cfg)
}

/// Semantic checks. An error carries text to search for in the file (to
/// point at the line) and the message.
fn validate(cfg: &Config) -> Result<(), (Option<String>, String)> {
    let s = &cfg.server;
    if s.interfaces.is_empty() {
        return Err((
            Some("interfaces".into()),
            "list at least one interface to capture knocks on".into(),
        ));
    }
    if s.table.is_empty()
        || s.table.len() > 24
        || !s
            .table
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err((
            Some("table".into()),
            "table must be 1 to 24 letters, digits or '_'".into(),
        ));
    }
    if cfg.server.grant_set_size == 0 || !(1..=3600).contains(&cfg.server.verify_secs) {
        return Err((
            Some("[server]".into()),
            "grant_set_size must be at least 1 and verify_secs 1 to 3600".into(),
        ));
    }
    let l = &cfg.limits;
    if l.max_sources == 0
        || l.seq_timeout == 0
        || l.scan_limit == 0
        || l.scan_window == 0
        || l.replay_capacity == 0
        || l.log_rate == 0
        || l.max_grants == 0
        || l.max_unauth_grants == 0
        || l.unauth_grant_rate == 0
        || l.user_max_grants == 0
        || l.user_replay_quota == 0
    {
        return Err((
            Some("[limits]".into()),
            "limits must be greater than zero".into(),
        ));
    }
    // The key-id table holds 2 × radius + 1 ids per user and is rebuilt
    // with one HMAC each: an unbounded radius could exhaust memory or
    // overflow (found by fuzz/fuzz_targets/config_parse.rs).
    if l.max_unauth_grants > l.max_grants {
        return Err((
            Some("max_unauth_grants".into()),
            "max_unauth_grants must not exceed max_grants (authenticated users need room)".into(),
        ));
    }
    // A higher cap would buy a guesser more than the threat model's
    // numbers (admin.md); zero would make every keyed SYN a blocked one.
    let guess_caps = 1..=crate::matcher::MAX_GUESSES_PER_WINDOW;
    for (name, v) in [
        ("syn_guesses_per_source", l.syn_guesses_per_source),
        ("syn_guesses_per_network", l.syn_guesses_per_network),
    ] {
        if !guess_caps.contains(&v) {
            return Err((
                Some(name.into()),
                format!(
                    "{name} must be 1 to {} failed guesses per minute",
                    crate::matcher::MAX_GUESSES_PER_WINDOW
                ),
            ));
        }
    }
    let key_id_radius = l.key_id_radius.unwrap_or(0);
    if key_id_radius > MAX_KEY_ID_RADIUS {
        return Err((
            Some("key_id_radius".into()),
            format!("key_id_radius must be at most {MAX_KEY_ID_RADIUS} steps of 30 s (one hour)"),
        ));
    }
    // The key-id radius follows max_skew, which therefore has the bound
    // the radius had.
    let max_skew_bound =
        MAX_KEY_ID_RADIUS.saturating_sub(1) * postern_proto::method::spa::KEY_ID_STEP_SECS;
    if l.max_skew > max_skew_bound {
        return Err((
            Some("max_skew".into()),
            format!("max_skew must be at most {max_skew_bound} s"),
        ));
    }
    if cfg.spa.port == 0 {
        return Err((
            Some("[spa]".into()),
            "the SPA port must be 1 to 65535".into(),
        ));
    }

    let mut names = HashSet::new();
    let mut ports = HashSet::new();
    let mut knock_ports: HashSet<u16> = HashSet::new();
    for d in &cfg.doors {
        let at = Some(format!("name = \"{}\"", d.name));
        if d.name.is_empty() || !names.insert(d.name.as_str()) {
            return Err((
                at,
                format!("door names must be unique and not empty (\"{}\")", d.name),
            ));
        }
        if d.port == 0 {
            return Err((at, format!("door {}: port must be 1 to 65535", d.name)));
        }
        if !ports.insert((d.proto, d.port)) {
            return Err((
                at,
                format!("door {}: {} is protected twice", d.name, d.door()),
            ));
        }
        if !(1..=86_400).contains(&d.duration) {
            return Err((
                at,
                format!("door {}: duration must be 1 to 86400 seconds", d.name),
            ));
        }
        if d.sequence.is_none() && d.dynamic.is_none() && !d.spa && d.syn_token.is_none() {
            return Err((
                at,
                format!(
                    "door {}: nothing can open it (set sequence, dynamic, spa or syn_token)",
                    d.name
                ),
            ));
        }
        if let Some(dy) = &d.dynamic {
            let p = dy.params();
            p.validate()
                .map_err(|m| (at.clone(), format!("door {}: dynamic: {m}", d.name)))?;
            p.strong_enough()
                .map_err(|m| (at.clone(), format!("door {}: dynamic: {m}", d.name)))?;
        }
        if !(5..=3600).contains(&d.syn_step_secs) {
            return Err((
                at,
                format!("door {}: syn_step_secs must be 5 to 3600", d.name),
            ));
        }
        if d.spa_max_duration
            .is_some_and(|m| !(1..=86_400).contains(&m))
        {
            return Err((
                at,
                format!(
                    "door {}: spa_max_duration must be 1 to 86400 seconds",
                    d.name
                ),
            ));
        }
        if let Some(seq) = &d.sequence {
            for k in &seq.0 {
                if k.proto != postern_proto::method::KnockProto::Icmp {
                    knock_ports.insert(k.value);
                }
            }
        }
        if d.syn_token == Some(super::SynTokenMode::Static)
            && postern_proto::method::syn_token::static_knock_port(d.port).is_none()
        {
            return Err((
                at,
                format!(
                    "door {}: the static SYN token can only open ports 1 to 999",
                    d.name
                ),
            ));
        }
    }
    if knock_ports.contains(&cfg.spa.port) {
        return Err((
            Some("[spa]".into()),
            format!("the SPA port {} is also a knock port", cfg.spa.port),
        ));
    }

    let mut users = HashSet::new();
    // Two users with one key shadow each other: the key id finds only one
    // of them, so the other's rights and limits apply to the wrong person.
    let mut keys: std::collections::HashMap<&[u8; 32], &str> = std::collections::HashMap::new();
    for u in &cfg.users {
        // A rotated-out key still opens doors in its grace period, so it
        // must not be anyone else's (or the user's new) key either.
        for key in std::iter::once(&u.key).chain(&u.previous_key) {
            if let Some(other) = keys.insert(key.as_bytes(), u.name.as_str()) {
                return Err((
                    Some(format!("name = \"{}\"", u.name)),
                    format!(
                        "users {other} and {} have the same key; give each user their own",
                        u.name
                    ),
                ));
            }
        }
        if u.previous_key.is_some() != u.previous_key_until.is_some() {
            return Err((
                Some(format!("name = \"{}\"", u.name)),
                format!(
                    "user {}: previous_key and previous_key_until go together (the old key's last moment)",
                    u.name
                ),
            ));
        }
    }
    for u in &cfg.users {
        let at = Some(format!("name = \"{}\"", u.name));
        let valid = !u.name.is_empty()
            && u.name.len() <= 64
            && u.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid || !users.insert(u.name.as_str()) {
            return Err((
                at,
                format!(
                    "user names must be unique, 1 to 64 letters, digits, '.', '_' or '-' (\"{}\")",
                    u.name
                ),
            ));
        }
        for dn in &u.doors {
            if cfg.door(dn).is_none() {
                return Err((at, format!("user {}: no door named \"{dn}\"", u.name)));
            }
        }
        if u.max_duration == 0 {
            return Err((
                at,
                format!("user {}: max_duration must be at least 1", u.name),
            ));
        }
    }
    super::fwknop::validate(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"[server]
server_id = "00112233445566778899aabbccddeeff"
interfaces = ["veth0"]
state_dir = "/tmp/postern-test"

[[door]]
name = "ssh"
proto = "tcp"
port = 22
sequence = "7000,8000:udp,9000"
spa = true

[[user]]
name = "alice"
key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
doors = ["ssh"]
sources = ["198.18.0.0/15"]
"#;

    #[test]
    fn sample_parses() {
        let c = parse(SAMPLE, "posternd.toml").expect("valid");
        assert_eq!(c.doors[0].port, 22);
        assert!(c.users[0].source_allowed("198.18.1.1".parse().expect("ip")));
        assert!(!c.users[0].source_allowed("198.20.0.1".parse().expect("ip")));
        assert!(c.summary().contains("door ssh: 22/tcp"));
    }

    #[test]
    fn syntax_error_names_file_line_column() {
        let bad = SAMPLE.replace("port = 22", "prot = 22");
        let e = parse(&bad, "/etc/postern/posternd.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/postern/posternd.toml:"), "{e}");
        assert!(e.contains("prot"), "{e}");
        let (_, rest) = e.split_once(':').expect("colon");
        let mut it = rest.split(':');
        let line: usize = it.next().expect("line").parse().expect("number");
        assert_eq!(line, 9);
    }

    #[test]
    fn unreadable_files_say_the_cause_once() {
        let dir = std::env::temp_dir().join(format!("postern-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let missing = dir.join("missing.toml");
        // Through anyhow, as `posternd` prints it: the cause exactly once.
        let e = format!("{:#}", anyhow::Error::from(load(&missing).unwrap_err()));
        assert_eq!(e.matches("(os error 2)").count(), 1, "{e}");
        assert!(e.starts_with(&format!("{}: ", missing.display())), "{e}");
        let binary = dir.join("binary.toml");
        std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).expect("write");
        let e = format!("{:#}", anyhow::Error::from(load(&binary).unwrap_err()));
        assert_eq!(
            e,
            format!(
                "{}: not a text file (the config is UTF-8 TOML)",
                binary.display()
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn huge_key_id_radius_is_refused() {
        // Found by fuzz/fuzz_targets/config_parse.rs: this passed the checks
        // and then overflowed (or exhausted memory) building the key-id
        // table when the daemon started.
        let text = include_str!("../../../fuzz/regressions/config_parse/huge_key_id_radius.toml");
        let e = parse(text, "c.toml").unwrap_err().to_string();
        assert_eq!(
            e,
            "c.toml:6:1: key_id_radius must be at most 120 steps of 30 s (one hour)"
        );
        let ok = text.replace("9223372036854775807", "120");
        parse(&ok, "c.toml").expect("the largest radius is allowed");
    }

    /// The guess caps are bounded both ways: zero would ignore every keyed
    /// SYN, and above the bound the 47-bit arithmetic of the threat model
    /// no longer holds.
    #[test]
    fn guess_caps_out_of_range_are_refused_where_they_are() {
        for (key, value) in [
            ("syn_guesses_per_source", "0"),
            ("syn_guesses_per_network", "100001"),
        ] {
            let text = format!("{SAMPLE}\n[limits]\n{key} = {value}\n");
            let e = parse(&text, "c.toml").unwrap_err().to_string();
            assert!(
                e.contains(&format!(
                    "{key} must be 1 to 100000 failed guesses per minute"
                )),
                "{e}"
            );
            assert!(e.starts_with("c.toml:"), "no position: {e}");
        }
        let ok = format!("{SAMPLE}\n[limits]\nsyn_guesses_per_source = 100000\n");
        let cfg = parse(&ok, "c.toml").expect("the bound itself is allowed");
        assert_eq!(cfg.policy().limits().syn_guesses_per_source, 100_000);
    }

    #[test]
    fn two_users_with_one_key_are_refused() {
        let twin = format!(
            "{SAMPLE}\n[[user]]\nname = \"bob\"\nkey = \"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\"\ndoors = [\"ssh\"]\n"
        );
        let e = parse(&twin, "c").unwrap_err().to_string();
        assert!(e.contains("users alice and bob have the same key"), "{e}");
    }

    /// A dynamic sequence below 48 bits is refused: 2 knocks over 8 ports
    /// (5.8 bits) used to pass.
    #[test]
    fn weak_dynamic_sequences_are_refused() {
        let weak = SAMPLE.replace(
            "spa = true",
            "spa = true\ndynamic = { length = 2, port_min = 40000, port_max = 40007 }",
        );
        let e = parse(&weak, "c").unwrap_err().to_string();
        assert!(e.contains("bits"), "{e}");
        let strong = SAMPLE.replace(
            "spa = true",
            "spa = true\ndynamic = { length = 5, port_min = 40000, port_max = 40999 }",
        );
        parse(&strong, "c").expect("5 knocks over 1000 ports is 49.8 bits");
    }

    #[test]
    fn spa_is_capped_at_the_door_duration_unless_raised() {
        let c = parse(SAMPLE, "c").expect("valid");
        assert_eq!(c.policy().doors()[0].spa_cap(), 30);
        let raised = SAMPLE.replace("spa = true", "spa = true\nspa_max_duration = 600");
        let c = parse(&raised, "c").expect("valid");
        assert_eq!(c.policy().doors()[0].spa_cap(), 600);
    }

    #[test]
    fn semantic_errors_point_at_the_entry() {
        let bad = SAMPLE.replace("doors = [\"ssh\"]", "doors = [\"rdp\"]");
        let e = parse(&bad, "c.toml").unwrap_err().to_string();
        assert_eq!(e, "c.toml:14:1: user alice: no door named \"rdp\"");
        let bad = SAMPLE.replace("interfaces = [\"veth0\"]", "interfaces = []");
        assert!(
            parse(&bad, "c.toml")
                .unwrap_err()
                .to_string()
                .starts_with("c.toml:3:1:")
        );
        let bad = SAMPLE.replace("spa = true", "");
        let bad = bad.replace("sequence = \"7000,8000:udp,9000\"", "");
        assert!(
            parse(&bad, "c")
                .unwrap_err()
                .to_string()
                .contains("nothing can open it")
        );
        let bad = SAMPLE.replace("7000,8000:udp", "7000,8000:udpx");
        assert!(
            parse(&bad, "c")
                .unwrap_err()
                .to_string()
                .starts_with("c:10:12: knock 2 (\"8000:udpx\"): protocol must be tcp, udp or icmp")
        );
    }
}
