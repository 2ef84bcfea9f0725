//! `postern` without a command: the desktop window, which is the program
//! `postern-desktop` (only it links the GUI stack).

use crate::i18n::t;
use std::path::PathBuf;
use std::process::Command;

/// The window's program.
const DESKTOP: &str = "postern-desktop";

/// Starts `postern-desktop` with this process's arguments and environment:
/// the one beside this executable (an install keeps them together), else
/// the first on `PATH`. On Unix this process becomes it (same PID, same
/// terminal: whoever started `postern` can still wait for or stop it);
/// Windows has no exec, so there it is started and waited for. Returns the
/// exit code; when it cannot start, prints why and returns 2.
pub fn open() -> u8 {
    start().unwrap_or_else(|e| {
        eprintln!("{}", t!("desktop-cannot-start", error = format!("{e:#}")));
        2
    })
}

fn start() -> anyhow::Result<u8> {
    let program = beside_me().unwrap_or_else(|| PathBuf::from(DESKTOP));
    let mut cmd = Command::new(&program);
    cmd.args(std::env::args_os().skip(1));
    let not_installed = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!(t!("desktop-not-installed", program = DESKTOP))
        } else {
            anyhow::Error::new(e).context(t!(
                "desktop-starting",
                program = program.display().to_string()
            ))
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(not_installed(cmd.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status().map_err(not_installed)?;
        Ok(status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1)))
    }
}

/// `postern-desktop` in this executable's folder, if it is there.
fn beside_me() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let there = me.with_file_name(format!("{DESKTOP}{}", std::env::consts::EXE_SUFFIX));
    there.is_file().then_some(there)
}
