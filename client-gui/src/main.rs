//! `postern`: the knock client's command line. Thin by design (STYLE.md
//! rule 8): parse argv, run one command, print the error once with a hint,
//! map it to an exit code. Everything else lives in the library and `cli`.
//!
//! Without a command it opens the desktop app, which is the separate
//! `postern-desktop` binary beside this one (see desktop.rs for why).

mod cli;

use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if cli.command.is_none() {
        return match open_desktop_app() {
            Ok(code) => code,
            Err(e) => {
                eprintln!("postern: {e:#}\n(the commands work without it: postern --help)");
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

/// Hands over to `postern-desktop` beside this executable, with the same
/// arguments (`--strict`) and environment. On Unix the process becomes the
/// app (same PID, so whoever started `postern` can still wait for or stop
/// it); Windows has no exec, so there we start it and wait.
fn open_desktop_app() -> anyhow::Result<ExitCode> {
    let me = std::env::current_exe().context("finding postern's own path")?;
    let app = me.with_file_name(format!("postern-desktop{}", std::env::consts::EXE_SUFFIX));
    if !app.is_file() {
        anyhow::bail!(
            "the desktop app is not installed: {} does not exist",
            app.display()
        );
    }
    let mut cmd = std::process::Command::new(&app);
    cmd.args(std::env::args_os().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        Err(e).with_context(|| format!("starting {}", app.display()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .with_context(|| format!("starting {}", app.display()))?;
        Ok(match status.code() {
            Some(0) => ExitCode::SUCCESS,
            Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
            None => ExitCode::FAILURE,
        })
    }
}
