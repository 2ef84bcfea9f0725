//! The commands other than `knock` (knock.rs), and what they share: the
//! host store, the keyring (opened only by a command that needs a secret),
//! and the passphrase of an encrypted profile.

use crate::args::{Command, ImportArgs};
use crate::wording;
use anyhow::{Context, anyhow};
use postern_client::import::{self, KnockdDoorError, TrustQuestion};
use postern_client::store::files::{FileStore, config_dir};
use postern_client::store::secrets::{self, SecretStore};
use postern_client::store::{HostStore, secret_account};
use postern_proto::seal;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use zeroize::Zeroizing;

type CmdResult = anyhow::Result<()>;

/// Runs one command.
pub fn run(cmd: Command, strict: bool) -> CmdResult {
    match cmd {
        Command::Knock(a) => crate::knock::run(&a, strict),
        Command::List => list(),
        Command::Import(a) => import_cmd(a, strict),
        Command::Export { name, with_secret } => {
            let hosts = host_store()?;
            // Only touch the keyring when the secret is wanted.
            let secrets: Box<dyn SecretStore> = if with_secret {
                secret_store(strict)?
            } else {
                Box::new(secrets::FileSecrets::new(Path::new("/nonexistent")))
            };
            let text = import::export(&name, with_secret, &hosts, &*secrets)?;
            print!("{text}");
            Ok(())
        }
        Command::Remove { name } => remove(&name, strict),
        Command::ImportKnockdDoor(a) => {
            let p = import::knockd_door_profile(
                &a.name,
                &a.host,
                &a.sequence,
                &a.door,
                a.delay_ms,
                &mut rand::rng(),
            )
            .map_err(|e| {
                // The flag the error is about.
                let flag = match &e {
                    KnockdDoorError::Sequence(_) => "--sequence",
                    KnockdDoorError::Door(_) => "--door",
                    KnockdDoorError::Host => "--host",
                    _ => "import-knockd-door",
                };
                anyhow::Error::new(e).context(flag)
            })?;
            host_store()?.save_host(&p)?;
            println!(
                "saved {:?}: knocks {} on {} to open {}",
                p.name, a.sequence, p.host, a.door
            );
            Ok(())
        }
        Command::ImportFwknoprc { file } => crate::fwknoprc::run(&file, strict),
    }
}

pub fn host_store() -> anyhow::Result<FileStore> {
    Ok(FileStore::new(config_dir()?))
}

pub fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The OS keyring (or the fallback file, with a warning; refused when
/// `strict`). Opening it can mean D-Bus and a few round trips, so only the
/// commands that read or write a secret call this.
pub fn secret_store(strict: bool) -> anyhow::Result<Box<dyn SecretStore>> {
    let (s, fallback) = secrets::open_default(&config_dir()?, strict)?;
    if let Some(f) = fallback {
        eprintln!("postern: WARNING: {f}. {}.", wording::STRICT_HINT);
    }
    Ok(s)
}

/// The passphrase of an encrypted profile: the first line of `file` when
/// given, else asked on the terminal without echo. `None` when there is
/// neither (a script without --passphrase-file).
fn ask_passphrase(what: &str, file: Option<&Path>) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Some(path) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the passphrase file {}", path.display()))?,
        );
        let line = text.lines().next().unwrap_or("");
        return Ok(Some(Zeroizing::new(line.to_owned())));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let typed = rpassword::prompt_password(format!("Passphrase for {what}: "))
        .context("reading the passphrase from the terminal")?;
    Ok(Some(Zeroizing::new(typed)))
}

/// [`ask_passphrase`], or an error that says both ways to give it.
pub fn passphrase_for(what: &str, file: Option<&Path>) -> anyhow::Result<Zeroizing<String>> {
    ask_passphrase(what, file)?
        .ok_or_else(|| anyhow!("{what} is encrypted. {}", wording::PASSPHRASE_HINT))
}

fn list() -> CmdResult {
    let hosts = host_store()?;
    let all = hosts.hosts()?;
    if all.is_empty() {
        println!("no saved hosts; add one with `postern import FILE`");
        return Ok(());
    }
    let signers = hosts.signers()?;
    for p in all {
        let doors: Vec<String> = p.door_list().iter().map(ToString::to_string).collect();
        let signer = signers
            .by_server
            .get(&p.server_id.to_hex())
            .map_or("unsigned".to_owned(), |s| {
                format!("signed {}", s.fingerprint)
            });
        let opens_for = if p.allow.binds_address() {
            "opens for this computer's address"
        } else {
            "opens for whichever address knocks"
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            printable(&p.name),
            printable(&p.host),
            p.method.label(),
            doors.join(","),
            opens_for,
            signer
        );
    }
    Ok(())
}

/// A name from a profile file, fit for a terminal: control characters
/// (escape sequences could rewrite what the user sees, or hide a line) and
/// the tab that separates `list`'s columns are shown escaped.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<char>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Asks on the terminal; without one, the answer is no (the error then
/// says to use --yes).
fn ask_trust(q: &TrustQuestion, yes: bool) -> bool {
    match &q.fingerprint {
        Some(f) => eprintln!(
            "postern: {:?} is signed by an administrator key new to this computer:\n\n    {f}\n\n\
             Compare this fingerprint with the one your administrator gave you.",
            q.profile_name
        ),
        None => eprintln!(
            "postern: {:?} is NOT signed: anyone could have written it.",
            q.profile_name
        ),
    }
    if yes {
        eprintln!("postern: trusting it (--yes)");
        return true;
    }
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("Trust it for server {}? Type yes to confirm: ", q.server_id);
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let ok = std::io::stdin().lock().read_line(&mut line).is_ok();
    ok && matches!(line.trim().to_ascii_lowercase().as_str(), "yes" | "y")
}

fn import_cmd(a: ImportArgs, strict: bool) -> CmdResult {
    let text = read_text(&a.file)?;
    let name = a.file.display().to_string();
    // Without a way to get it, the import refuses with its own error,
    // which `wording` completes with the ways to give it.
    let pass = if seal::is_sealed(&text) {
        ask_passphrase(&name, a.passphrase_file.as_deref())?
    } else {
        None
    };
    let hosts = host_store()?;
    let secrets = secret_store(strict)?;
    let done = import::import_text(
        &text,
        &name,
        pass.as_ref().map(|p| p.as_str()),
        &mut |q| ask_trust(q, a.yes),
        &hosts,
        &*secrets,
    )
    .with_context(|| format!("cannot import {name}"))?;
    let fp = done
        .fingerprint
        .map_or("unsigned".to_owned(), |f| format!("signed by {f}"));
    match &done.updated {
        None => println!("imported {:?} ({fp})", done.name),
        Some(c) if c.is_empty() => {
            println!("{:?} is up to date ({fp}); nothing changed", done.name)
        }
        Some(c) => println!("updated {:?} ({fp}): {}", done.name, c.join(", ")),
    }
    if let Some(s) = done.secret_store {
        println!("its key is kept in {s}");
    }
    Ok(())
}

fn remove(name: &str, strict: bool) -> CmdResult {
    let hosts = host_store()?;
    let Some(p) = hosts.host(name)? else {
        return Err(anyhow!(
            "no saved host is called {name:?}; {}",
            wording::LIST_HINT
        ));
    };
    hosts.remove_host(&p.name)?;
    // Drop the secret only when no other saved host uses the same account.
    if let Some(account) = secret_account(&p)
        && !hosts
            .hosts()?
            .iter()
            .any(|o| secret_account(o).as_deref() == Some(&account))
    {
        secret_store(strict)?.delete(&account)?;
    }
    println!("removed {:?}", p.name);
    Ok(())
}

#[cfg(test)]
mod printable_tests {
    use super::printable;

    #[test]
    fn control_characters_reach_the_terminal_escaped() {
        assert_eq!(printable("Office PC"), "Office PC");
        assert_eq!(printable("Büro ☕"), "Büro ☕");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("a\tb\nc"), "a\\tb\\nc");
        assert!(!printable("x\u{7}\u{9b}y").chars().any(char::is_control));
    }
}
