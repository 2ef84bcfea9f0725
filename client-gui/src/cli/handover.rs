//! Handing the whole command to a sibling binary: from `postern` to
//! `postern-desktop` (the window) or to `postern-cli` (the commands
//! `postern` does not link, see main.rs).

use anyhow::Context;

/// Runs `name` from this executable's directory with this process's
/// arguments and environment. On Unix the process becomes it (same PID,
/// same terminal: whoever started `postern` can still wait for or stop it,
/// and a passphrase prompt works as if `postern` asked); Windows has no
/// exec, so there it is started and waited for. `what` names it in the
/// error when it is not installed. Returns the exit code (Windows).
fn exec_sibling(name: &str, what: &str) -> anyhow::Result<u8> {
    let me = std::env::current_exe().context("finding postern's own path")?;
    let sibling = me.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !sibling.is_file() {
        anyhow::bail!(
            "{what} is not installed: {} does not exist",
            sibling.display()
        );
    }
    let mut cmd = std::process::Command::new(&sibling);
    cmd.args(std::env::args_os().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        Err(e).with_context(|| format!("starting {}", sibling.display()))
    }
    #[cfg(not(unix))]
    {
        let status = cmd
            .status()
            .with_context(|| format!("starting {}", sibling.display()))?;
        Ok(status.code().map_or(1, |c| u8::try_from(c).unwrap_or(1)))
    }
}

/// `postern` or `postern-cli` without a command: the desktop app.
pub fn open_desktop_app() -> u8 {
    hand_over(
        "postern-desktop",
        "the desktop app",
        "\n(the commands work without it: postern --help)",
    )
}

/// [`exec_sibling`], or the error printed (followed by `hint`) and exit
/// code 2 when it cannot start.
pub fn hand_over(name: &str, what: &str, hint: &str) -> u8 {
    exec_sibling(name, what).unwrap_or_else(|e| {
        eprintln!("postern: {e:#}{hint}");
        2
    })
}
