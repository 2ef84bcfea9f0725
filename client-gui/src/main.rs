//! `postern`: the command line. Thin by design (STYLE.md rule 8), and
//! lean: it knocks from a plain profile file itself — the knock scripts
//! make, whose knock → open latency is mostly this program's start-up
//! (docs/benchmarks.md) — and links nothing else. Every other command goes
//! to `postern-cli` beside it, which has the OS keyring (D-Bus on Linux),
//! the HTTPS address lookup and the passphrase prompt; without a command,
//! the window is `postern-desktop` (see desktop.rs). Linking the keyring
//! and HTTPS stacks here quadrupled the relocations applied at every start
//! (2 642 → 10 875) and cost 0.4–0.6 ms per knock (docs/benchmarks.md).
//!
//! For the same reason, on Linux this program starts without std's
//! runtime set-up (`no_main`, see `start.rs`), which measured another
//! 0.18 ms.

// A C `main` of our own on Linux instead of std's (start.rs says why and
// what it keeps); not in the unit-test build, whose `main` is the harness.
#![cfg_attr(all(target_os = "linux", not(test)), no_main)]

#[path = "cli/args.rs"]
mod args;
#[path = "cli/handover.rs"]
mod handover;
#[path = "cli/knock.rs"]
mod knock;
#[cfg(all(target_os = "linux", not(test)))]
mod start;
#[path = "cli/unwinder.rs"]
mod unwinder;

use args::KnockArgs;
use clap::Parser;
use postern_proto::profile::AllowMode;
use postern_proto::seal;
use std::path::Path;

#[cfg(any(not(target_os = "linux"), test))]
fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(run())
}

/// The command; returns the exit code.
fn run() -> u8 {
    let cli = args::Cli::parse();
    match &cli.command {
        None => handover::open_desktop_app(),
        Some(args::Command::Knock(a)) => match knock_file_alone(a) {
            Alone::Done(Ok(())) => 0,
            Alone::Done(Err(e)) => args::fail(&e),
            Alone::NeedsFullCli => full_cli(),
        },
        Some(_) => full_cli(),
    }
}

fn full_cli() -> u8 {
    handover::hand_over("postern-cli", "postern-cli (this command needs it)", "")
}

/// What `postern` could do with a knock on its own.
#[derive(Debug)]
enum Alone {
    /// Knocked (or refused the input): the command is over.
    Done(knock::CmdResult),
    /// Needs what only `postern-cli` links: the OS keyring (a saved host,
    /// or a file without its key), the HTTPS address lookup
    /// (`allow.mode = "url"`), or the passphrase prompt of an encrypted
    /// file (asked in one place, so never twice).
    NeedsFullCli,
}

/// `postern knock FILE` for a plain profile file that carries its key:
/// the knock scripts make, and the one whose start-up time is the knock's
/// latency (docs/benchmarks.md). Decides before anything is printed,
/// asked or sent, so a hand-over to `postern-cli` starts from scratch.
fn knock_file_alone(a: &KnockArgs) -> Alone {
    let path = Path::new(&a.target);
    if !path.is_file() {
        return Alone::NeedsFullCli;
    }
    let text = match knock::read_text(path) {
        Ok(t) => t,
        Err(e) => return Alone::Done(Err(e)),
    };
    if seal::is_sealed(&text) {
        return Alone::NeedsFullCli;
    }
    let mut profile =
        match knock::host_store().and_then(|h| knock::profile_from_text(&text, &a.target, &h)) {
            Ok(p) => p,
            Err(e) => return Alone::Done(Err(e)),
        };
    let key = profile.method.take_key();
    if matches!(profile.allow, AllowMode::Url { .. })
        || (key.is_none() && profile.method.needs_key())
    {
        return Alone::NeedsFullCli;
    }
    Alone::Done(knock::knock(&profile, key.as_ref(), a, None))
}
