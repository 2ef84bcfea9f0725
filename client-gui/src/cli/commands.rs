//! Every command of `postern-cli`: the ones `postern` hands over (see
//! main.rs) because they need the OS keyring, the HTTPS address lookup or
//! the passphrase prompt.

use crate::args::{Cli, Command, ImportArgs, KnockArgs};
use crate::knock::{CmdResult, host_store, profile_from_text, read_text};
use anyhow::{Context, anyhow};
use postern_client::engine::resolve::HttpsAddressService;
use postern_client::import::{self, TrustQuestion};
use postern_client::store::files::config_dir;
use postern_client::store::secrets::{self, SecretStore};
use postern_client::store::{HostStore, secret_account};
use postern_proto::UserKey;
use postern_proto::profile::Profile;
use postern_proto::seal;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

/// Runs one command.
pub fn run(cli: Cli) -> CmdResult {
    let Some(cmd) = cli.command else {
        return Err(anyhow!("no command given"));
    };
    match cmd {
        Command::Knock(a) => knock(&a, cli.strict),
        Command::List => list(),
        Command::Import(a) => import_cmd(a, cli.strict),
        Command::Export { name, with_secret } => {
            let hosts = host_store()?;
            // Only touch the keyring when the secret is wanted.
            let secrets: Box<dyn SecretStore> = if with_secret {
                secret_store(cli.strict)?
            } else {
                Box::new(secrets::FileSecrets::new(Path::new("/nonexistent")))
            };
            let text = import::export(&name, with_secret, &hosts, &*secrets)?;
            print!("{text}");
            Ok(())
        }
        Command::Remove { name } => remove(&name, cli.strict),
        Command::ImportKnockdDoor(a) => {
            let p = import::knockd_door_profile(
                &a.name,
                &a.host,
                &a.sequence,
                &a.door,
                a.delay_ms,
                &mut rand::rng(),
            )?;
            host_store()?.save_host(&p)?;
            println!(
                "saved {:?}: knocks {} on {} to open {}",
                p.name, a.sequence, p.host, a.door
            );
            Ok(())
        }
    }
}

fn secret_store(strict: bool) -> anyhow::Result<Box<dyn SecretStore>> {
    let (s, warning) = secrets::open_default(&config_dir()?, strict)?;
    if let Some(w) = warning {
        eprintln!("postern: {w}");
    }
    Ok(s)
}

/// The passphrase of an encrypted profile: the first line of `file` when
/// given, else asked on the terminal without echo. `None` when there is
/// neither (a script without --passphrase-file): the caller says what to do.
fn passphrase_for(
    what: &str,
    file: Option<&Path>,
) -> anyhow::Result<Option<zeroize::Zeroizing<String>>> {
    if let Some(path) = file {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the passphrase file {}", path.display()))?,
        );
        let line = text.lines().next().unwrap_or("");
        return Ok(Some(zeroize::Zeroizing::new(line.to_owned())));
    }
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    let typed = rpassword::prompt_password(format!("Passphrase for {what}: "))
        .context("reading the passphrase from the terminal")?;
    Ok(Some(zeroize::Zeroizing::new(typed)))
}

fn no_passphrase(what: &str) -> anyhow::Error {
    anyhow!(
        "{what} is encrypted; give its passphrase with --passphrase-file FILE, or run postern in a terminal to be asked for it"
    )
}

/// A profile and its key, from a file or from the store.
fn load_target(a: &KnockArgs, strict: bool) -> anyhow::Result<(Profile, Option<UserKey>)> {
    let hosts = host_store()?;
    let path = Path::new(&a.target);
    let mut profile = if path.is_file() {
        let mut text = read_text(path)?;
        if seal::is_sealed(&text) {
            let pass = passphrase_for(&a.target, a.passphrase_file.as_deref())?
                .ok_or_else(|| no_passphrase(&a.target))?;
            text = seal::open(&text, &pass)
                .with_context(|| format!("cannot decrypt {}", a.target))?
                .to_string();
        }
        profile_from_text(&text, &a.target, &hosts)?
    } else {
        hosts.host(&a.target)?.ok_or_else(|| {
            anyhow!(
                "no saved host and no file called {:?}; `postern list` shows the saved hosts",
                a.target
            )
        })?
    };
    let mut key = profile.method.take_key();
    if key.is_none() && profile.method.needs_key() {
        let account = secret_account(&profile).unwrap_or_default();
        key = secret_store(strict)?.get(&account)?;
        if key.is_none() {
            return Err(anyhow!(
                "the key for {:?} is not in the keyring; import its profile again",
                profile.name
            ));
        }
    }
    Ok((profile, key))
}

fn knock(a: &KnockArgs, strict: bool) -> CmdResult {
    let (profile, key) = load_target(a, strict)?;
    crate::knock::knock(&profile, key.as_ref(), a, Some(&mut HttpsAddressService))
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
        println!(
            "{}\t{}\t{}\t{}\t{}",
            p.name,
            p.host,
            p.method.label(),
            doors.join(","),
            signer
        );
    }
    Ok(())
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
    let pass = if seal::is_sealed(&text) {
        Some(
            passphrase_for(&name, a.passphrase_file.as_deref())?
                .ok_or_else(|| no_passphrase(&name))?,
        )
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
    println!("imported {:?} ({fp})", done.name);
    if let Some(s) = done.secret_store {
        println!("its key is kept in {s}");
    }
    Ok(())
}

fn remove(name: &str, strict: bool) -> CmdResult {
    let hosts = host_store()?;
    let Some(p) = hosts.host(name)? else {
        return Err(anyhow!(
            "no saved host is called {name:?}; `postern list` shows them"
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
