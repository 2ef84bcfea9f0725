//! `postern`: the knock client. Thin by design (STYLE.md rule 8): parse
//! argv, run one command, print the error once with a hint, map it to an
//! exit code. Everything else lives in the library and `cli`.

mod cli;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if cli.command.is_none() {
        return match postern_client::app::run_gui() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("postern: {e:#}\n(the commands work without a display: postern --help)");
                ExitCode::from(2)
            }
        };
    }
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postern: {e:#}");
            ExitCode::from(if e.is::<cli::KnockFailed>() { 1 } else { 2 })
        }
    }
}
