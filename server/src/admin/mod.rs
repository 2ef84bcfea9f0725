//! Administrator commands: `init`, `user add`, `check`, `status`,
//! `reload`, `import-knockd`, `import-fwknopd`, `uninstall`. Each is a function from
//! arguments to the text to print; `main.rs` only parses argv and prints.

mod baseline;
pub mod config_edit;
pub mod fwknopd;
pub mod init;
pub mod knockd;
pub mod passphrase;
mod status;
pub mod user;
pub mod user_life;
pub mod winrules;

pub use baseline::baseline;
pub use status::status;

use crate::config::{self, Config};
use crate::platform::{self, Platform};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where `posternd` looks for its config unless told: `/etc/postern` on
/// Unix, `%ProgramData%\Postern` on Windows.
/// `text` made safe for a TOML comment: the importers (knockd.conf,
/// fwknopd's access.conf) copy foreign values into notes verbatim, and a
/// control character there (TOML allows only tab) would make the whole
/// output unreadable as config.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// Appends an importer's `toml` to the config at `config_path`, but only
/// once the whole result validates; on any error nothing is changed. The
/// importers (knockd, fwknopd) differ only in what they convert.
fn append_validated(config_path: &Path, toml: &str, what: &str) -> Result<()> {
    let old = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let new = format!("{}\n{toml}", old.trim_end());
    config::parse(&new, &config_path.display().to_string()).with_context(|| {
        format!("the config with the imported {what} is not valid; nothing was changed")
    })?;
    crate::state::write_atomic(config_path, new.as_bytes(), 0o600)
}

pub fn default_config_path() -> PathBuf {
    #[cfg(windows)]
    return platform::windows::paths::default_config();
    #[cfg(not(windows))]
    PathBuf::from(config::DEFAULT_PATH)
}

/// `init`'s default state directory, next to the config on Windows.
pub fn default_state_dir() -> PathBuf {
    #[cfg(windows)]
    return platform::windows::paths::default_state_dir();
    #[cfg(not(windows))]
    PathBuf::from("/var/lib/postern")
}

/// `posternd check`: the summary of a valid config, or the error.
pub fn check(path: &Path) -> Result<String> {
    let cfg = config::load(path)?;
    let mut s = format!("{}: ok\n", path.display());
    s.push_str(&cfg.summary());
    for w in warnings(&cfg).into_iter().chain(os_warnings(&cfg)) {
        s.push_str(&format!("warning: {w}\n"));
    }
    Ok(s)
}

/// What the OS adds to `check`: on Windows, every enabled firewall rule
/// that opens a protected port to everyone.
fn os_warnings(cfg: &Config) -> Vec<String> {
    #[cfg(windows)]
    {
        let ports = crate::daemon::protected_ports(cfg);
        match platform::windows::firewall::ComRules::open() {
            Ok(mut store) => winrules::warnings(&mut store, &ports),
            Err(e) => vec![format!("could not read the Windows Firewall rules: {e}")],
        }
    }
    #[cfg(not(windows))]
    {
        let _ = cfg;
        Vec::new()
    }
}

/// `posternd uninstall`: remove every rule and set Postern added; on
/// Windows also enable again the rules `init` disabled (from its record).
pub fn uninstall(path: &Path) -> Result<String> {
    let cfg = config::load(path)?;
    let mut fw = platform::native().open_firewall(&cfg.server)?;
    fw.uninstall()?;
    #[allow(unused_mut)]
    let mut out = format!("removed Postern's {} rules and sets\n", fw.name());
    #[cfg(windows)]
    {
        let mut store = platform::windows::firewall::ComRules::open()?;
        out.push_str(&winrules::restore(
            &mut store,
            &platform::windows::paths::disabled_rules_record(),
        )?);
    }
    Ok(out)
}

/// `posternd init`'s Windows step (also `init --rules-only`): list the
/// enabled rules that open a door of the config at `path` to everyone and
/// disable them if `disable` or the administrator says yes at the prompt.
#[cfg(windows)]
pub fn init_rules(path: &Path, disable: bool) -> Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    let cfg = config::load(path)?;
    let ports = crate::daemon::protected_ports(&cfg);
    let mut store = platform::windows::firewall::ComRules::open()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    winrules::disable_covering(
        &mut store,
        &ports,
        &platform::windows::paths::disabled_rules_record(),
        now,
        &mut |found| {
            if disable {
                return true;
            }
            if !std::io::stdin().is_terminal() {
                return false;
            }
            for r in found {
                println!("  {:?}", r.name);
            }
            print!("disable these {} rule(s) now? [y/N] ", found.len());
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            matches!(line.trim(), "y" | "Y" | "yes")
        },
    )
}

/// `posternd reload`: checks the config first — a broken one is reported
/// here and the daemon is not disturbed — then asks the daemon whose pid
/// file is in the config's state directory to reload (Linux: SIGHUP). The
/// daemon re-reads the file it was started with and logs the outcome.
pub fn reload(path: &Path) -> Result<String> {
    reload_with(path, platform::native())
}

fn reload_with(path: &Path, platform: &dyn Platform) -> Result<String> {
    let cfg = config::load(path)
        .context("not reloading: the config is not valid (the daemon keeps running as it is)")?;
    let pid_file = crate::daemon::pid_path(&cfg.server.state_dir);
    let text = std::fs::read_to_string(&pid_file).with_context(|| {
        format!(
            "reading {} (is posternd running with this config?)",
            pid_file.display()
        )
    })?;
    let pid: u32 = text
        .trim()
        .parse()
        .with_context(|| format!("{}: not a process id", pid_file.display()))?;
    platform.request_reload(pid)?;
    Ok(format!(
        "asked posternd (pid {pid}) to reload {}; its log says what changed\n",
        path.display()
    ))
}

/// Weak spots worth telling the administrator about.
pub fn warnings(cfg: &Config) -> Vec<String> {
    let mut w = Vec::new();
    for d in &cfg.doors {
        if let Some(seq) = &d.sequence {
            let ports: Vec<u16> = seq.0.iter().map(|k| k.value).collect();
            let mut times: HashMap<_, usize> = HashMap::new();
            for k in &seq.0 {
                *times.entry(*k).or_default() += 1;
            }
            let mut repeated: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
            repeated.sort();
            for (k, n) in repeated {
                w.push(format!(
                    "door {}: knock {k} comes {n} times in the sequence; a repeat adds little to guess, and a retransmitted SYN or datagram can send it again by itself",
                    d.name
                ));
            }
            if times.len() < 3 {
                w.push(format!(
                    "door {}: a sequence of fewer than 3 distinct knocks is easy to guess",
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
        assert!(
            w.iter().any(|w| w.contains("fewer than 3 distinct knocks")),
            "{w:?}"
        );
        assert!(w.iter().any(|w| w.contains("ascending ports")), "{w:?}");
    }

    #[test]
    fn repeated_knocks_are_flagged_and_do_not_count_as_distinct() {
        let w = warnings(&cfg("7000,7000,7000"));
        assert!(
            w.iter()
                .any(|w| w.contains("door ssh: knock 7000:tcp comes 3 times")),
            "{w:?}"
        );
        assert!(
            w.iter().any(|w| w.contains("fewer than 3 distinct knocks")),
            "{w:?}"
        );
        // A repeat among others: warned, but three distinct knocks remain.
        let w = warnings(&cfg("7000,9000:udp,8000,9000:udp"));
        assert!(
            w.iter().any(|w| w.contains("knock 9000:udp comes 2 times")),
            "{w:?}"
        );
        assert!(!w.iter().any(|w| w.contains("distinct")), "{w:?}");
        // The same port over another protocol is another knock.
        assert_eq!(
            warnings(&cfg("7000,9000:udp,8000,9000")),
            Vec::<String>::new()
        );
        assert!(warnings(&cfg("7000,9000:udp,8000")).is_empty());
    }

    #[test]
    fn check_shows_the_warnings_and_a_good_sequence_has_none() {
        let dir = std::env::temp_dir().join(format!("postern-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.toml");
        let text = "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"veth0\"]\n\
             [[door]]\nname = \"ssh\"\nproto = \"tcp\"\nport = 22\nsequence = \"7000,7000,7000\"\n";
        std::fs::write(&path, text).expect("write");
        let out = check(&path).expect("valid");
        assert!(
            out.contains("warning: door ssh: knock 7000:tcp comes 3 times"),
            "{out}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reload_refuses_a_broken_config_before_signalling() {
        let dir = std::env::temp_dir().join(format!("postern-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.toml");
        std::fs::write(&path, "[server]\nbroken").expect("write");
        let e = format!("{:#}", reload(&path).unwrap_err());
        assert!(
            e.starts_with("not reloading: the config is not valid"),
            "{e}"
        );
        let ok = format!(
            "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"veth0\"]\nstate_dir = \"{}\"\n",
            dir.join("state").display()
        );
        std::fs::write(&path, ok).expect("write");
        let e = format!("{:#}", reload(&path).unwrap_err());
        assert!(e.contains("is posternd running with this config?"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
