//! `postern`: the command line, every command in one program (STYLE.md
//! rule 8: thin; the work is the `postern-client` library's).
//!
//! Its start-up is most of a script's knock → open latency
//! (docs/benchmarks.md), so it sets up nothing a command does not use: the
//! OS keyring (D-Bus on Linux) is opened only when a key has to come from
//! it, the HTTPS client exists only while a profile with
//! `allow.mode = "url"` asks for this computer's address, the passphrase
//! prompt only for an encrypted file, and a tokio runtime only while
//! verifying or doing those lookups. `postern knock FILE` with a plain
//! profile file touches none of them.
//!
//! Its messages are in English or Spanish (i18n.rs), from a loader made
//! on the first text it prints.
//!
//! Without a command it starts the desktop window, `postern-desktop`
//! (desktop.rs): the only hand-over left.

mod args;
mod commands;
mod desktop;
mod fwknoprc;
mod i18n;
mod knock;
mod wording;

use clap::FromArgMatches;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::from_arg_matches_mut(&mut args::command().get_matches())
        .unwrap_or_else(|e| e.exit());
    let Some(command) = cli.command else {
        return ExitCode::from(desktop::open());
    };
    match commands::run(command, cli.strict) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(args::fail(&e)),
    }
}
