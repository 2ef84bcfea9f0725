//! The commands other than `knock` (knock.rs), and what they share: the
//! host store, the keyring (opened only by a command that needs a secret),
//! and the passphrase of an encrypted profile.

use crate::args::{Command, ImportArgs};
use crate::i18n::{self, t};
use anyhow::{Context, anyhow};
use postern_client::import::{self, KnockdDoorError, TrustQuestion};
use postern_client::language::Language;
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
            let line = t!(
                "knockd-saved",
                name = format!("{:?}", p.name),
                sequence = a.sequence.as_str(),
                host = p.host.as_str(),
                door = a.door.as_str()
            );
            println!("{line}");
            Ok(())
        }
        Command::ImportFwknoprc { file } => crate::fwknoprc::run(&file, strict),
    }
}

pub fn host_store() -> anyhow::Result<FileStore> {
    Ok(FileStore::new(config_dir()?))
}

pub fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| t!("cannot-read", path = path.display().to_string()))
}

/// The OS keyring (or the fallback file, with a warning; refused when
/// `strict`). Opening it can mean D-Bus and a few round trips, so only the
/// commands that read or write a secret call this.
pub fn secret_store(strict: bool) -> anyhow::Result<Box<dyn SecretStore>> {
    let (s, fallback) = secrets::open_default(&config_dir()?, strict)?;
    if let Some(f) = fallback {
        eprintln!(
            "{}",
            t!("warning-secrets-in-file", fallback = f.to_string())
        );
    }
    Ok(s)
}

/// The passphrase of an encrypted profile: the first line of `file` when
/// given, else asked on the terminal without echo. `None` when there is
/// neither (a script without --passphrase-file).
fn ask_passphrase(what: &str, file: Option<&Path>) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Some(path) = file {
        let text = Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
            t!(
                "cannot-read-passphrase-file",
                path = path.display().to_string()
            )
        })?);
        let line = text.lines().next().unwrap_or("");
        return Ok(Some(Zeroizing::new(line.to_owned())));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let typed = rpassword::prompt_password(t!("passphrase-prompt", what = what))
        .with_context(|| t!("reading-passphrase"))?;
    Ok(Some(Zeroizing::new(typed)))
}

/// [`ask_passphrase`], or an error that says both ways to give it.
pub fn passphrase_for(what: &str, file: Option<&Path>) -> anyhow::Result<Zeroizing<String>> {
    ask_passphrase(what, file)?.ok_or_else(|| anyhow!(t!("encrypted", what = what)))
}

fn list() -> CmdResult {
    let hosts = host_store()?;
    let all = hosts.hosts()?;
    if all.is_empty() {
        println!("{}", t!("list-empty"));
        return Ok(());
    }
    let signers = hosts.signers()?;
    for p in all {
        let doors: Vec<String> = p.door_list().iter().map(ToString::to_string).collect();
        let signer = signers.by_server.get(&p.server_id.to_hex()).map_or_else(
            || t!("list-unsigned"),
            |s| t!("list-signed", fingerprint = s.fingerprint.as_str()),
        );
        let opens_for = if p.allow.binds_address() {
            t!("list-opens-for-this-computer")
        } else {
            t!("list-opens-for-any")
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
    let name = format!("{:?}", q.profile_name);
    match &q.fingerprint {
        Some(f) => eprintln!(
            "{}",
            t!("trust-new-signer", name = name, fingerprint = f.to_string())
        ),
        None => eprintln!("{}", t!("trust-unsigned", name = name)),
    }
    if yes {
        eprintln!("{}", t!("trust-yes"));
        return true;
    }
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{}", t!("trust-prompt", server = q.server_id.to_string()));
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let ok = std::io::stdin().lock().read_line(&mut line).is_ok();
    ok && confirms(&line, *i18n::LANGUAGE)
}

/// Whether an answer to the trust prompt says yes: "yes" or "y" in every
/// language (scripts and habits), and the language's own word.
fn confirms(answer: &str, lang: Language) -> bool {
    let answer = answer.trim().to_lowercase();
    match answer.as_str() {
        "yes" | "y" => true,
        "sí" | "si" | "s" => lang == Language::Spanish,
        _ => false,
    }
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
    .with_context(|| t!("import-failed", file = name.as_str()))?;
    let signer = done.fingerprint.map_or_else(
        || t!("import-unsigned"),
        |f| t!("import-signed-by", fingerprint = f.to_string()),
    );
    let name = format!("{:?}", done.name);
    let line = match &done.updated {
        None => t!("import-done", name = name, signer = signer),
        Some(c) if c.is_empty() => t!("import-up-to-date", name = name, signer = signer),
        Some(c) => t!(
            "import-updated",
            name = name,
            signer = signer,
            changes = c.join(", ")
        ),
    };
    println!("{line}");
    if let Some(s) = done.secret_store {
        println!("{}", t!("import-key-kept", store = s.to_string()));
    }
    Ok(())
}

fn remove(name: &str, strict: bool) -> CmdResult {
    let hosts = host_store()?;
    let Some(p) = hosts.host(name)? else {
        return Err(anyhow!(t!("remove-not-found", name = format!("{name:?}"))));
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
    println!("{}", t!("removed", name = format!("{:?}", p.name)));
    Ok(())
}

#[cfg(test)]
mod printable_tests {
    use super::{Language, confirms, printable};

    #[test]
    fn yes_confirms_in_every_language_and_si_in_spanish() {
        for answer in ["yes\n", "Y", " YES "] {
            assert!(confirms(answer, Language::English), "{answer}");
            assert!(confirms(answer, Language::Spanish), "{answer}");
        }
        for answer in ["sí\n", "SÍ", "si", "s"] {
            assert!(confirms(answer, Language::Spanish), "{answer}");
            assert!(!confirms(answer, Language::English), "{answer}");
        }
        for answer in ["", "no", "n", "yes please", "oui"] {
            assert!(!confirms(answer, Language::English), "{answer}");
            assert!(!confirms(answer, Language::Spanish), "{answer}");
        }
    }

    #[test]
    fn control_characters_reach_the_terminal_escaped() {
        assert_eq!(printable("Office PC"), "Office PC");
        assert_eq!(printable("Büro ☕"), "Büro ☕");
        assert_eq!(printable("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(printable("a\tb\nc"), "a\\tb\\nc");
        assert!(!printable("x\u{7}\u{9b}y").chars().any(char::is_control));
    }
}
