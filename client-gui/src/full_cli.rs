//! `postern-cli`: every command of the command line. People type
//! `postern`, which runs the common knock itself and hands the rest over
//! to this binary with the same arguments (see main.rs for why there are
//! two); run directly, it behaves the same.

#[path = "cli/args.rs"]
mod args;
#[path = "cli/commands.rs"]
mod commands;
#[path = "cli/handover.rs"]
mod handover;
#[path = "cli/knock.rs"]
mod knock;
#[path = "cli/unwinder.rs"]
mod unwinder;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    if cli.command.is_none() {
        return ExitCode::from(handover::open_desktop_app());
    }
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(args::fail(&e)),
    }
}
