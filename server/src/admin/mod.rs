//! Administrator commands: `init`, `user add`, `check`, `status`,
//! `import-knockd`, `uninstall`. Each is a function from arguments to a
//! result; `main.rs` only parses argv and prints.

pub mod init;
pub mod knockd;
pub mod user;

use crate::config::{self, Config};
use anyhow::Result;
use std::path::Path;

/// `posternd check`: the summary of a valid config, or the error.
pub fn check(path: &Path) -> Result<String> {
    let cfg = config::load(path)?;
    let mut s = format!("{}: ok\n", path.display());
    s.push_str(&cfg.summary());
    for w in warnings(&cfg) {
        s.push_str(&format!("warning: {w}\n"));
    }
    Ok(s)
}

/// Weak spots worth telling the administrator about.
pub fn warnings(cfg: &Config) -> Vec<String> {
    let mut w = Vec::new();
    for d in &cfg.doors {
        if let Some(seq) = &d.sequence {
            let ports: Vec<u16> = seq.0.iter().map(|k| k.value).collect();
            if ports.len() < 3 {
                w.push(format!(
                    "door {}: a sequence of fewer than 3 knocks is easy to guess",
                    d.name
                ));
            }
            if ports.windows(2).all(|p| p[0] < p[1])
                && ports
                    .last()
                    .zip(ports.first())
                    .is_some_and(|(l, f)| l - f < 100)
            {
                w.push(format!(
                    "door {}: ascending ports close together are what a port scan sends; mix the order",
                    d.name
                ));
            }
        }
        if d.syn_token == Some(config::SynTokenMode::Static) {
            w.push(format!(
                "door {}: the static SYN token is a public constant (sequence number 17); use \"keyed\" where clients allow",
                d.name
            ));
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(sequence: &str) -> Config {
        let text = format!(
            "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"veth0\"]\n\
             [[door]]\nname = \"ssh\"\nproto = \"tcp\"\nport = 22\nsequence = \"{sequence}\"\n"
        );
        config::parse(&text, "t.toml").expect("valid config")
    }

    #[test]
    fn guessable_sequences_are_flagged() {
        let w = warnings(&cfg("7000,7001"));
        assert!(w.iter().any(|w| w.contains("fewer than 3 knocks")), "{w:?}");
        assert!(w.iter().any(|w| w.contains("ascending ports")), "{w:?}");
    }
}
