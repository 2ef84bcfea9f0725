//! The `postern` command line: argv → checked options in one place, then
//! the same engine the desktop app uses (STYLE.md rule 8).
//!
//! Exit codes: 0 done, 1 the knock or its verification failed, 2 the
//! command or its input was wrong (bad arguments, a refused profile file).

use anyhow::{Context, anyhow};
use clap::{Args, Parser, Subcommand};
use postern_client::engine::transmit::{SocketSink, ThreadSleeper};
use postern_client::engine::verify::TcpProbe;
use postern_client::engine::{self, Io, KnockEvent, KnockOptions};
use postern_client::import::{self, TrustQuestion};
use postern_client::store::files::{FileStore, config_dir};
use postern_client::store::secrets::{self, SecretStore};
use postern_client::store::{HostStore, secret_account};
use postern_proto::UserKey;
use postern_proto::profile::{IpPreference, Profile};
use postern_proto::{seal, sign};
use rand::TryRngCore;
use rand::rngs::OsRng;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "postern",
    version,
    about = "Knock to open a port in a firewall (port knocking and single-packet authorization).",
    after_help = "Without a command, postern opens its desktop window."
)]
pub struct Cli {
    /// Refuse to keep secrets in a file when no OS keyring works.
    #[arg(long, global = true)]
    pub strict: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Knock a saved host (by name) or a profile file.
    Knock(KnockArgs),
    /// List saved hosts.
    List,
    /// Import a signed (optionally encrypted) .postern profile.
    Import(ImportArgs),
    /// Print a saved host's profile (unsigned).
    Export {
        name: String,
        /// Include the secret key (the output is then secret too).
        #[arg(long)]
        with_secret: bool,
    },
    /// Forget a saved host and its secret.
    Remove { name: String },
    /// Save a host guarded by knockd (a static knock sequence).
    ImportKnockdDoor(KnockdDoorArgs),
}

#[derive(Debug, Args)]
pub struct KnockArgs {
    /// Saved host name, or a path to a .postern file.
    pub target: String,
    /// Check afterwards that the first TCP door opened.
    #[arg(long)]
    pub verify: bool,
    /// Decoy packets to mix in (overrides the profile; 0–64).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=64))]
    pub decoys: Option<u8>,
    /// Knock over IPv4 only.
    #[arg(short = '4', conflicts_with = "ipv6")]
    pub ipv4: bool,
    /// Knock over IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,
    /// With --verify: do not knock a second time when the door stays closed.
    #[arg(long)]
    pub no_reknock: bool,
    /// With --verify: how long to wait for the door, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub deadline_ms: u64,
    /// Passphrase for an encrypted profile file (first line of this file);
    /// without it postern asks on the terminal.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// Passphrase for an encrypted profile (first line of this file);
    /// without it postern asks on the terminal.
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// Trust a new signer without asking (check its fingerprint first!).
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct KnockdDoorArgs {
    #[arg(long)]
    pub host: String,
    /// knockd's sequence, e.g. "7000,8000:udp,9000".
    #[arg(long)]
    pub sequence: String,
    /// The port knockd opens, e.g. 22/tcp.
    #[arg(long)]
    pub door: String,
    #[arg(long)]
    pub name: String,
    /// Pause between knocks in milliseconds (knock -d).
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u32,
}

/// The knock could not be sent, or the door stayed closed: exit 1. Every
/// other error is about the command or its input: exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct KnockFailed(pub anyhow::Error);

type CmdResult = anyhow::Result<()>;

/// Runs one command.
pub fn run(cli: Cli) -> CmdResult {
    let Some(cmd) = cli.command else {
        return Err(anyhow!("no command given"));
    };
    match cmd {
        Command::Knock(a) => knock(a, cli.strict),
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

fn host_store() -> anyhow::Result<FileStore> {
    Ok(FileStore::new(config_dir()?))
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

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
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
        let file = sign::read_profile_file(&text, &a.target)
            .with_context(|| format!("refusing {}", a.target))?;
        if let (Some(s), Some(known)) = (
            &file.signer,
            hosts
                .signers()?
                .by_server
                .get(&file.profile.server_id.to_hex()),
        ) && known.public_key != s.to_text()
        {
            return Err(anyhow!(
                "refusing {}: it is signed by {}, but this server's trusted administrator key is {}",
                a.target,
                s.fingerprint(),
                known.fingerprint
            ));
        }
        file.profile
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

fn knock(a: KnockArgs, strict: bool) -> CmdResult {
    let (profile, key) = load_target(&a, strict)?;
    let opts = KnockOptions {
        decoys: a.decoys,
        ip: match (a.ipv4, a.ipv6) {
            (true, _) => Some(IpPreference::V4),
            (_, true) => Some(IpPreference::V6),
            _ => None,
        },
        verify: a.verify,
        reknock: !a.no_reknock,
        deadline: Duration::from_millis(a.deadline_ms),
        ..KnockOptions::default()
    };
    let tty = std::io::stderr().is_terminal();
    let mut io = Io {
        sink: &mut SocketSink::default(),
        sleeper: &mut ThreadSleeper,
        probe: &mut TcpProbe::default(),
        now: &engine::unix_now,
        // Straight from the kernel: a one-shot command has no use for a
        // user-space generator, and seeding one (ChaCha, CPU feature
        // probing) is start-up time before the first packet.
        rng: &mut OsRng.unwrap_err(),
    };
    let mut on_event = |ev: KnockEvent| match ev {
        KnockEvent::Addresses(a) => {
            let a: Vec<String> = a.iter().map(ToString::to_string).collect();
            eprintln!(
                "postern: knocking {:?} at {} ({})",
                profile.name,
                a.join(" and "),
                profile.method.label()
            );
        }
        KnockEvent::Packet(p) if tty => {
            eprint!("\rpostern: sent {}/{}", p.index, p.total);
            if p.index == p.total {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
        KnockEvent::Packet(_) => {}
        KnockEvent::Verifying(addr) => eprintln!("postern: waiting for {addr} to open"),
        KnockEvent::Reknocking => eprintln!("postern: still closed; knocking once more"),
    };
    let report = engine::knock(&profile, key.as_ref(), &opts, &mut io, &mut on_event).map_err(
        |e| match e {
            engine::KnockError::Plan(_) => anyhow!(e),
            _ => anyhow!(KnockFailed(anyhow!(e))),
        },
    )?;
    match report.verdict {
        None => {
            println!(
                "knocked {:?}: {} packets sent",
                profile.name, report.packets
            );
            Ok(())
        }
        Some(v) if v.is_open() || v == engine::verify::Verdict::NoTcpDoor => {
            println!("{}: {v}", profile.name);
            Ok(())
        }
        Some(v) => Err(anyhow!(KnockFailed(anyhow!("{}: {v}", profile.name)))),
    }
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
