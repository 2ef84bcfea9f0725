//! fwknop clients in `posternd.toml` (issue #17): the `[fwknop]` section
//! and a user's fwknop keys.
//!
//! ```toml
//! [fwknop]
//! port = 62201            # fwknop's default, shared with Postern's SPA
//!
//! [[user]]
//! name = "alice"
//! key = "…"               # her Postern key, as for every user
//! doors = ["ssh"]
//! fwknop_key = "…"        # KEY_BASE64 from `fwknop --key-gen`
//! fwknop_hmac_key = "…"   # HMAC_KEY_BASE64
//! fwknop_hmac = "sha256"  # or "sha512"; default sha256
//! ```
//!
//! On one port both formats are told apart by their first byte: Postern's
//! SPA starts with its version (1), fwknop's is base64 text.

use super::{Config, UserConfig};
use postern_proto::method::fwknop::{self, FwknopKeys, HmacType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FwknopSection {
    /// UDP port fwknop clients send to (`fwknop -p`; 62201 by default).
    pub port: u16,
}

impl Default for FwknopSection {
    fn default() -> Self {
        FwknopSection {
            port: fwknop::DEFAULT_PORT,
        }
    }
}

impl UserConfig {
    /// This user's fwknop keys, if it has them; an error says what is wrong
    /// with them.
    pub fn fwknop_keys(&self) -> Result<Option<FwknopKeys>, String> {
        let hmac = match self.fwknop_hmac.as_deref() {
            None => HmacType::Sha256,
            Some(h) => HmacType::parse(h)
                .ok_or_else(|| format!("fwknop_hmac is \"{h}\": use sha256 or sha512"))?,
        };
        match (&self.fwknop_key, &self.fwknop_hmac_key) {
            (None, None) if self.fwknop_hmac.is_none() => Ok(None),
            (Some(k), Some(h)) => FwknopKeys::from_base64(k, h, hmac)
                .map(Some)
                .map_err(|e| format!("fwknop keys: {e}")),
            _ => Err(
                "fwknop_key and fwknop_hmac_key go together (fwknop packets without \
                      an HMAC are not accepted)"
                    .into(),
            ),
        }
    }
}

impl Config {
    /// Whether any user may knock with fwknop (else the port is not listened
    /// on for it).
    pub fn fwknop_enabled(&self) -> bool {
        self.users.iter().any(|u| u.fwknop_key.is_some())
    }
}

/// Every user's fwknop keys are valid, and no two users share an HMAC key
/// (the first whose HMAC matches would take the other's packets).
pub(super) fn validate(cfg: &Config) -> Result<(), (Option<String>, String)> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for u in &cfg.users {
        let at = Some(format!("name = \"{}\"", u.name));
        u.fwknop_keys()
            .map_err(|e| (at.clone(), format!("user {}: {e}", u.name)))?;
        if let Some(h) = &u.fwknop_hmac_key {
            if let Some((other, _)) = seen.iter().find(|(_, k)| k == h) {
                return Err((
                    at,
                    format!(
                        "users {other} and {} have the same fwknop HMAC key; give each user their own",
                        u.name
                    ),
                ));
            }
            seen.push((&u.name, h));
        }
    }
    if cfg.fwknop_enabled() && cfg.fwknop.port == 0 {
        return Err((
            Some("[fwknop]".into()),
            "the fwknop port must not be 0".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    const KEY: &str = "A6yLICVZxmi9UcBTqC5ZOXHKKsqDkD1RHwpNoEaSGMo=";
    const HMAC: &str =
        "8Q5w6ef/nNlS/JVVyrXDfHdR6fiNYf24HMpOKWYdUtfgiqHMSUrFEf2gBKFWBo2hjBH15mLNekodNbqc/vcDxg==";

    fn config(user_extra: &str) -> String {
        format!(
            r#"
[server]
server_id = "00112233445566778899aabbccddeeff"
interfaces = ["lo"]

[[door]]
name = "ssh"
proto = "tcp"
port = 22
spa = true

[[user]]
name = "alice"
key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
doors = ["ssh"]
{user_extra}
"#
        )
    }

    #[test]
    fn users_with_both_keys_get_fwknop() {
        let text = config(&format!(
            "fwknop_key = \"{KEY}\"\nfwknop_hmac_key = \"{HMAC}\"\n"
        ));
        let cfg = parse(&text, "t.toml").expect("valid");
        assert!(cfg.fwknop_enabled());
        assert_eq!(cfg.fwknop.port, 62201);
        assert!(cfg.users[0].fwknop_keys().expect("valid").is_some());
        let plain = parse(&config(""), "t.toml").expect("valid");
        assert!(!plain.fwknop_enabled());
    }

    #[test]
    fn half_keys_and_bad_keys_are_refused() {
        let half = config(&format!("fwknop_key = \"{KEY}\"\n"));
        let e = parse(&half, "t.toml").expect_err("refused").to_string();
        assert!(e.contains("go together"), "{e}");
        let bad = config("fwknop_key = \"!!\"\nfwknop_hmac_key = \"!!\"\n");
        let e = parse(&bad, "t.toml").expect_err("refused").to_string();
        assert!(e.contains("not valid base64"), "{e}");
        let hmac = config(&format!(
            "fwknop_key = \"{KEY}\"\nfwknop_hmac_key = \"{HMAC}\"\nfwknop_hmac = \"md5\"\n"
        ));
        let e = parse(&hmac, "t.toml").expect_err("refused").to_string();
        assert!(e.contains("sha256 or sha512"), "{e}");
    }
}
