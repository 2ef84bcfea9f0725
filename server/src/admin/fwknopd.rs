//! `posternd import-fwknopd ACCESS_CONF`: fwknopd's access.conf stanzas →
//! Postern `[[door]]` and `[[user]]` entries, so fwknop clients keep
//! working against `posternd` with their keys unchanged (issue #17).
//!
//! Each stanza (from one `SOURCE` line to the next) becomes a user with its
//! fwknop keys and a fresh Postern key; each `OPEN_PORTS` entry becomes an
//! SPA door named `fwknop-tcp-22` (shared by the stanzas that open it).
//! What a stanza says that Postern cannot do is listed in the output as
//! comments, and a stanza that cannot work at all (GnuPG keys only, no
//! `OPEN_PORTS`) is skipped with the reason.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use postern_proto::UserKey;
use postern_proto::method::fwknop::{FwknopKeys, HmacType};
use postern_proto::method::{Door, DoorProto};
use std::collections::BTreeMap;
use std::path::Path;

/// fwknopd's defaults (server/fwknopd_common.h).
const DEFAULT_ACCESS_TIMEOUT: u32 = 30;

/// `posternd import-fwknopd FILE [--append]`: the converted entries as
/// TOML, or (with `append`) added to the config at `config_path` once the
/// whole result validates; nothing changes if it does not.
pub fn import(config_path: &Path, file: &Path, append: bool) -> Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let conv = convert(&text, &file.display().to_string())?;
    if !append {
        return Ok(to_toml(&conv, &BTreeMap::new(), &mut rand::rng()));
    }
    let reuse = doors_to_reuse(config_path, &conv)?;
    let toml = to_toml(&conv, &reuse, &mut rand::rng());
    super::append_validated(config_path, &toml, "entries")?;
    let mut out = format!(
        "appended {} door(s) and {} user(s) to {}\n",
        conv.doors.len() - reuse.len(),
        conv.users.len(),
        config_path.display()
    );
    for (d, name) in &reuse {
        out.push_str(&format!(
            "{d} is door {name:?} already: its users were given that door (its duration stays)\n"
        ));
    }
    out.push_str("run `posternd reload` to apply them\n");
    Ok(out)
}

/// The converted doors the config at `config_path` already has (same
/// protocol and port), by the name it has them under: appending a second
/// door on one port would not validate, so the new users get the existing
/// door. One that is not an SPA door stops the import (fwknop packets are
/// SPA; making it one is the admin's decision).
fn doors_to_reuse(config_path: &Path, conv: &Converted) -> Result<BTreeMap<Door, String>> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let cfg = crate::config::parse(&text, &config_path.display().to_string())?;
    let mut reuse = BTreeMap::new();
    for d in cfg.doors.iter() {
        let door = Door {
            proto: d.proto,
            port: d.port,
        };
        if !conv.doors.contains_key(&door) {
            continue;
        }
        if !d.spa {
            bail!(
                "door {:?} already guards {door} but without `spa = true`, so fwknop packets \
                 could not open it; add `spa = true` to it and import again (nothing was changed)",
                d.name
            );
        }
        reuse.insert(door, d.name.clone());
    }
    Ok(reuse)
}

/// One converted stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub sources: Vec<String>,
    pub doors: Vec<Door>,
    pub key_b64: String,
    pub hmac_b64: String,
    pub hmac: HmacType,
    /// FW_ACCESS_TIMEOUT: how long a grant lasts without a client timeout.
    pub access_timeout: u32,
    /// MAX_FW_TIMEOUT (at least the access timeout): the longest grant.
    pub max_duration: u32,
    pub require_address: bool,
    /// Options of the stanza that were not carried over, and why.
    pub notes: Vec<String>,
}

/// Everything converted from one access.conf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Converted {
    /// Each door with its duration (the longest FW_ACCESS_TIMEOUT of the
    /// stanzas that open it) and SPA cap (the longest MAX_FW_TIMEOUT).
    pub doors: BTreeMap<Door, (u32, u32)>,
    pub users: Vec<User>,
    /// `(stanza, why)` for stanzas that could not be converted.
    pub skipped: Vec<(String, String)>,
}

/// Parses access.conf text (`KEY value` lines, `#` comments, stanzas
/// starting at `SOURCE`).
pub fn convert(text: &str, source: &str) -> Result<Converted> {
    let mut stanzas: Vec<Vec<(String, String, usize)>> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(k, v)| (k, v.trim()));
        let k = k.trim_end_matches(':').to_ascii_uppercase();
        if k == "SOURCE" {
            stanzas.push(Vec::new());
        }
        match stanzas.last_mut() {
            Some(s) => s.push((k, v.to_string(), i + 1)),
            None => bail!("{source}:{}: `{k}` before the first SOURCE line", i + 1),
        }
    }
    let mut out = Converted::default();
    for (n, lines) in stanzas.iter().enumerate() {
        let name = format!("fwknop-{}", n + 1);
        match stanza(&name, lines) {
            Ok(u) => {
                if let Some(dup) = out.users.iter().find(|o| o.hmac_b64 == u.hmac_b64) {
                    out.skipped.push((
                        name,
                        format!(
                            "same HMAC key as {}: Postern finds the user by its key, \
                             so merge the stanzas' SOURCE and OPEN_PORTS by hand",
                            dup.name
                        ),
                    ));
                    continue;
                }
                for d in &u.doors {
                    let e = out.doors.entry(*d).or_insert((1, 1));
                    e.0 = e.0.max(u.access_timeout);
                    e.1 = e.1.max(u.max_duration);
                }
                out.users.push(u);
            }
            Err(why) => out.skipped.push((name, why)),
        }
    }
    Ok(out)
}

fn yes(v: &str) -> bool {
    v.eq_ignore_ascii_case("y") || v.eq_ignore_ascii_case("yes")
}

/// One stanza, or why it cannot be converted.
fn stanza(name: &str, lines: &[(String, String, usize)]) -> Result<User, String> {
    let mut u = User {
        name: name.to_string(),
        sources: Vec::new(),
        doors: Vec::new(),
        key_b64: String::new(),
        hmac_b64: String::new(),
        hmac: HmacType::Sha256,
        access_timeout: DEFAULT_ACCESS_TIMEOUT,
        max_duration: DEFAULT_ACCESS_TIMEOUT,
        require_address: false,
        notes: Vec::new(),
    };
    let (mut access, mut max_fw) = (DEFAULT_ACCESS_TIMEOUT, None::<u32>);
    let mut have_ports = false;
    for (k, v, line) in lines {
        let bad = |what: &str| format!("line {line}: {k} {v}: {what}");
        match k.as_str() {
            "SOURCE" => {
                if !v.eq_ignore_ascii_case("ANY") {
                    for s in v.split(|c: char| c == ',' || c.is_whitespace()) {
                        if s.is_empty() {
                            continue;
                        }
                        let net = s
                            .parse::<ipnet::IpNet>()
                            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                            .map_err(|_| bad("not an address or network"))?;
                        u.sources.push(net.to_string());
                    }
                }
            }
            "OPEN_PORTS" => {
                have_ports = true;
                for p in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (proto, port) = p.split_once('/').ok_or_else(|| bad("not proto/port"))?;
                    let proto = match proto.to_ascii_lowercase().as_str() {
                        "tcp" => DoorProto::Tcp,
                        "udp" => DoorProto::Udp,
                        _ => return Err(bad("only tcp and udp ports become doors")),
                    };
                    let port = port
                        .trim()
                        .parse::<u16>()
                        .ok()
                        .filter(|&p| p != 0)
                        .ok_or_else(|| bad("not a port"))?;
                    let d = Door { proto, port };
                    if !u.doors.contains(&d) {
                        u.doors.push(d);
                    }
                }
            }
            "KEY_BASE64" => u.key_b64 = v.clone(),
            "KEY" => u.key_b64 = B64.encode(v.as_bytes()),
            "HMAC_KEY_BASE64" => u.hmac_b64 = v.clone(),
            "HMAC_KEY" => u.hmac_b64 = B64.encode(v.as_bytes()),
            "HMAC_DIGEST_TYPE" => {
                u.hmac = HmacType::parse(v)
                    .ok_or_else(|| bad("only sha256 and sha512 HMACs are supported"))?
            }
            "FW_ACCESS_TIMEOUT" => {
                access = v
                    .parse()
                    .ok()
                    .filter(|&t| t > 0)
                    .ok_or_else(|| bad("not seconds"))?
            }
            "MAX_FW_TIMEOUT" => {
                max_fw = Some(
                    v.parse()
                        .ok()
                        .filter(|&t| t > 0)
                        .ok_or_else(|| bad("not seconds"))?,
                )
            }
            "REQUIRE_SOURCE_ADDRESS" | "REQUIRE_SOURCE" => u.require_address = yes(v),
            "ENCRYPTION_MODE" if v.eq_ignore_ascii_case("cbc") => {}
            "ENABLE_CMD_EXEC" | "ENABLE_CMD_SUDO_EXEC" if !yes(v) => {}
            "ENABLE_CMD_EXEC" | "ENABLE_CMD_SUDO_EXEC" => u.notes.push(format!(
                "{k} {v} not carried over: Postern refuses fwknop command messages"
            )),
            _ => u.notes.push(format!("{k} not carried over (line {line})")),
        }
    }
    if u.key_b64.is_empty() || u.hmac_b64.is_empty() {
        return Err("no Rijndael key with an HMAC key (KEY/KEY_BASE64 and \
                    HMAC_KEY/HMAC_KEY_BASE64): GnuPG-only and HMAC-less stanzas cannot be carried over"
            .into());
    }
    FwknopKeys::from_base64(&u.key_b64, &u.hmac_b64, u.hmac).map_err(|e| e.to_string())?;
    if !have_ports || u.doors.is_empty() {
        return Err(
            "no OPEN_PORTS: fwknopd would open any port a packet asks for, \
                    Postern only the doors it is given"
                .into(),
        );
    }
    u.access_timeout = access;
    u.max_duration = max_fw.unwrap_or(access).max(access);
    Ok(u)
}

fn door_name(d: &Door) -> String {
    format!("fwknop-{}-{}", d.proto.as_str(), d.port)
}

/// The TOML to add to `posternd.toml`; each user gets a new Postern key
/// from `rng` (for profiles later; fwknop clients use the fwknop keys).
/// Doors in `reuse` exist already under the name given: no `[[door]]`
/// for them, and users name the existing door.
pub fn to_toml(
    c: &Converted,
    reuse: &BTreeMap<Door, String>,
    rng: &mut impl rand::RngCore,
) -> String {
    let name = |d: &Door| reuse.get(d).cloned().unwrap_or_else(|| door_name(d));
    let mut s =
        String::from("# Converted from fwknopd's access.conf by `posternd import-fwknopd`.\n");
    for (d, (duration, cap)) in c.doors.iter().filter(|(d, _)| !reuse.contains_key(d)) {
        s.push_str(&format!(
            "\n[[door]]\nname = \"{}\"\nproto = \"{}\"\nport = {}\nduration = {duration}\nspa = true\n",
            door_name(d),
            d.proto.as_str(),
            d.port
        ));
        if cap > duration {
            s.push_str(&format!("spa_max_duration = {cap}\n"));
        }
    }
    for u in &c.users {
        let doors: Vec<String> = u.doors.iter().map(|d| format!("\"{}\"", name(d))).collect();
        s.push_str(&format!(
            "\n[[user]]\nname = \"{}\"\nkey = \"{}\"\ndoors = [{}]\n",
            u.name,
            UserKey::generate(rng).to_base64(),
            doors.join(", ")
        ));
        if !u.sources.is_empty() {
            let srcs: Vec<String> = u.sources.iter().map(|n| format!("\"{n}\"")).collect();
            s.push_str(&format!("sources = [{}]\n", srcs.join(", ")));
        }
        s.push_str(&format!("max_duration = {}\n", u.max_duration));
        if u.require_address {
            s.push_str("require_address = true\n");
        }
        s.push_str(&format!(
            "fwknop_key = \"{}\"\nfwknop_hmac_key = \"{}\"\n",
            u.key_b64, u.hmac_b64
        ));
        if u.hmac == HmacType::Sha512 {
            s.push_str("fwknop_hmac = \"sha512\"\n");
        }
        for n in &u.notes {
            s.push_str(&format!("# note: {}\n", super::comment_text(n)));
        }
    }
    for (name, why) in &c.skipped {
        s.push_str(&format!(
            "\n# skipped {name}: {}\n",
            super::comment_text(why)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const KEY: &str = "A6yLICVZxmi9UcBTqC5ZOXHKKsqDkD1RHwpNoEaSGMo=";
    const HMAC: &str =
        "8Q5w6ef/nNlS/JVVyrXDfHdR6fiNYf24HMpOKWYdUtfgiqHMSUrFEf2gBKFWBo2hjBH15mLNekodNbqc/vcDxg==";

    fn access_conf() -> String {
        format!(
            "# fwknopd access.conf\n\
             SOURCE              198.18.0.0/15, 198.19.1.1\n\
             OPEN_PORTS          tcp/22, udp/53\n\
             KEY_BASE64          {KEY}\n\
             HMAC_KEY_BASE64     {HMAC}\n\
             FW_ACCESS_TIMEOUT   45\n\
             MAX_FW_TIMEOUT      120\n\
             REQUIRE_SOURCE_ADDRESS Y\n\
             REQUIRE_USERNAME    alice\n\
             ENABLE_CMD_EXEC     Y\n\
             \n\
             SOURCE ANY\n\
             OPEN_PORTS tcp/22\n\
             KEY plain-passphrase\n\
             HMAC_KEY another-secret\n\
             HMAC_DIGEST_TYPE sha512\n\
             \n\
             SOURCE ANY\n\
             GPG_DECRYPT_ID ABCD1234\n\
             OPEN_PORTS tcp/443\n\
             \n\
             SOURCE ANY\n\
             OPEN_PORTS tcp/22\n\
             KEY_BASE64 {KEY}\n\
             HMAC_KEY_BASE64 {HMAC}\n"
        )
    }

    #[test]
    fn converts_stanzas_and_lists_what_it_cannot_carry() {
        let c = convert(&access_conf(), "access.conf").expect("parses");
        assert_eq!(c.users.len(), 2);
        let a = &c.users[0];
        assert_eq!(a.sources, vec!["198.18.0.0/15", "198.19.1.1/32"]);
        assert_eq!(a.doors.len(), 2);
        assert_eq!((a.access_timeout, a.max_duration), (45, 120));
        assert!(a.require_address);
        assert!(a.notes.iter().any(|n| n.starts_with("REQUIRE_USERNAME")));
        assert!(a.notes.iter().any(|n| n.contains("command messages")));
        let b = &c.users[1];
        assert_eq!(b.hmac, HmacType::Sha512);
        assert_eq!(B64.decode(&b.key_b64).expect("b64"), b"plain-passphrase");
        assert_eq!((b.access_timeout, b.max_duration), (30, 30));
        // tcp/22 is shared: the longest timeout and cap of its stanzas.
        let ssh = Door {
            proto: DoorProto::Tcp,
            port: 22,
        };
        assert_eq!(c.doors.get(&ssh), Some(&(45, 120)));
        assert_eq!(c.skipped.len(), 2);
        assert!(c.skipped[0].1.contains("GnuPG"), "{:?}", c.skipped);
        assert!(
            c.skipped[1].1.contains("same HMAC key as fwknop-1"),
            "{:?}",
            c.skipped
        );
    }

    #[test]
    fn the_output_is_a_valid_config_that_opens_for_the_keys() {
        let c = convert(&access_conf(), "access.conf").expect("parses");
        let toml = to_toml(
            &c,
            &BTreeMap::new(),
            &mut rand_chacha::ChaCha20Rng::seed_from_u64(1),
        );
        let text = format!(
            "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"lo\"]\n{toml}"
        );
        let cfg = crate::config::parse(&text, "t.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(cfg.fwknop_enabled());
        assert_eq!(cfg.users[0].fwknop_key.as_deref(), Some(KEY));
        assert!(cfg.users[0].require_address);
        assert_eq!(cfg.door("fwknop-tcp-22").map(|d| d.duration), Some(45));
        assert!(
            toml.contains("# note: REQUIRE_USERNAME not carried over"),
            "{toml}"
        );
        assert!(toml.contains("# skipped fwknop-3"), "{toml}");
    }

    /// `--append` to a config that already has a door on an imported
    /// port: the users get the existing door (no duplicate), the config
    /// stays valid; a non-SPA door on the port stops the import unchanged.
    #[test]
    fn append_reuses_a_door_already_on_the_port() {
        let dir =
            std::env::temp_dir().join(format!("postern-fwknopd-append-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let cfg_path = dir.join("posternd.toml");
        let access = dir.join("access.conf");
        std::fs::write(&access, access_conf()).expect("access.conf");
        let base = "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"lo\"]\n\n\
                    [[door]]\nname = \"ssh\"\nproto = \"tcp\"\nport = 22\nduration = 20\nspa = true\n";
        std::fs::write(&cfg_path, base).expect("config");
        let out = import(&cfg_path, &access, true).expect("appends");
        assert!(out.contains("appended 1 door(s) and 2 user(s)"), "{out}");
        assert!(out.contains("door \"ssh\" already"), "{out}");
        let cfg = crate::config::load(&cfg_path).expect("still valid");
        assert_eq!(cfg.doors.iter().filter(|d| d.port == 22).count(), 1);
        assert!(cfg.door("fwknop-udp-53").is_some());
        assert!(
            cfg.users
                .iter()
                .all(|u| u.doors.contains(&"ssh".to_owned()))
        );
        assert_eq!(cfg.door("ssh").map(|d| d.duration), Some(20));

        let no_spa = base.replace("spa = true\n", "sequence = \"7000,8000,9000\"\n");
        std::fs::write(&cfg_path, &no_spa).expect("config");
        let e = import(&cfg_path, &access, true).expect_err("non-SPA door");
        assert!(e.to_string().contains("without `spa = true`"), "{e}");
        assert_eq!(std::fs::read_to_string(&cfg_path).expect("read"), no_spa);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn no_open_ports_and_bad_lines_are_explained() {
        let c = convert(
            &format!("SOURCE ANY\nKEY_BASE64 {KEY}\nHMAC_KEY_BASE64 {HMAC}\n"),
            "a",
        )
        .expect("parses");
        assert!(c.skipped[0].1.contains("no OPEN_PORTS"), "{:?}", c.skipped);
        let e = convert("OPEN_PORTS tcp/22\n", "access.conf").expect_err("no SOURCE");
        assert!(e.to_string().contains("access.conf:1"), "{e}");
        let c = convert("SOURCE ANY\nOPEN_PORTS tcp/x\n", "a").expect("parses");
        assert!(c.skipped[0].1.contains("line 2"), "{:?}", c.skipped);
    }
}
