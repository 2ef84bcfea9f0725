//! The command line's arguments and exit codes.
//!
//! Exit codes: 0 done, 1 the knock or its verification failed, 2 the
//! command or its input was wrong (bad arguments, a refused profile file).

use crate::i18n::{self, t};
use clap::{Args, CommandFactory, Parser, Subcommand};
use postern_client::language::Language;
use std::path::PathBuf;

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
    /// Save the fwknopd servers of an fwknop client's ~/.fwknoprc as hosts
    /// (keys into the keyring); all of them or, on an error, none.
    ImportFwknoprc {
        /// The fwknop client's rc file, usually ~/.fwknoprc.
        file: PathBuf,
    },
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
    /// STUN server (HOST:PORT) to find this computer's public address
    /// behind a NAT, when the profile names none; repeatable.
    #[arg(long = "stun")]
    pub stun: Vec<String>,
    /// With --verify, when a knock that carries the time (SPA, fwknop,
    /// dynamic sequence, keyed SYN token) stays closed: the time server
    /// (HOST[:PORT], SNTP) asked whether this computer's clock is why;
    /// repeatable. Default: time.cloudflare.com, then pool.ntp.org.
    #[arg(long = "time-server", conflicts_with = "no_clock_check")]
    pub time_server: Vec<String>,
    /// With --verify: never ask a time server.
    #[arg(long)]
    pub no_clock_check: bool,
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

/// The command line's definition, with its help in the user's language:
/// the program's and each command's one-line description. English comes
/// from the doc comments above as it is (a test checks that the .ftl says
/// the same), so English start-up loads no texts for it; clap's own words
/// ("Usage", "Options") and the flags' help stay English.
pub fn command() -> clap::Command {
    let cmd = Cli::command();
    if *i18n::LANGUAGE == Language::English {
        return cmd;
    }
    localized(cmd)
}

fn localized(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let cmd = cmd
        .about(t!("about-postern"))
        .after_help(t!("about-no-command"));
    names.iter().fold(cmd, |cmd, name| match about(name) {
        Some(text) => cmd.mut_subcommand(name, |s| s.about(text)),
        None => cmd,
    })
}

/// A command's one-line description, by its name on the command line.
fn about(name: &str) -> Option<String> {
    Some(match name {
        "knock" => t!("about-knock"),
        "list" => t!("about-list"),
        "import" => t!("about-import"),
        "export" => t!("about-export"),
        "remove" => t!("about-remove"),
        "import-knockd-door" => t!("about-import-knockd-door"),
        "import-fwknoprc" => t!("about-import-fwknoprc"),
        _ => return None,
    })
}

/// The knock could not be sent, or the door stayed closed: exit 1. Every
/// other error is about the command or its input: exit 2.
#[derive(Debug)]
pub struct KnockFailed(pub anyhow::Error);

impl std::fmt::Display for KnockFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for KnockFailed {}

/// Prints `e` once, with what to do about it in this program's words
/// ([`crate::wording`]), and maps it to the exit code. The contexts are
/// ours and in the user's language; the library's error at the end of the
/// chain stays English (src/i18n.rs says why).
pub fn fail(e: &anyhow::Error) -> u8 {
    let error = format!("{e:#}");
    match crate::wording::hint(e) {
        Some(hint) => eprintln!("{}", t!("error-line-hint", error = error, hint = hint)),
        None => eprintln!("{}", t!("error-line", error = error)),
    }
    if e.is::<KnockFailed>() { 1 } else { 2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The .ftl's English descriptions are the doc comments' (unit tests
    /// run in English), and every command has one.
    #[test]
    fn every_command_has_its_description_in_the_texts() {
        let english = Cli::command();
        let localized = localized(Cli::command());
        assert_eq!(
            localized.get_about().map(ToString::to_string),
            english.get_about().map(ToString::to_string)
        );
        assert_eq!(
            localized.get_after_help().map(ToString::to_string),
            english.get_after_help().map(ToString::to_string)
        );
        for s in english.get_subcommands() {
            let doc = s.get_about().map(ToString::to_string);
            assert!(doc.is_some(), "{} has no doc comment", s.get_name());
            assert_eq!(about(s.get_name()), doc, "{}", s.get_name());
        }
    }
}
