//! `postern-desktop`: the desktop window. `postern` without a command
//! starts it; the command line itself links no GUI code.
//!
//! On Windows this is a GUI-subsystem program in every build, debug
//! included: started from Explorer, the Start menu or `postern`, it opens
//! no console window. Only in release would be simpler for debugging, but
//! then the program a developer runs would behave unlike the one that
//! ships (a console flashing up, output where users never see it), and
//! nothing is lost: started from `postern` in a terminal, it inherits
//! `postern`'s standard handles and its messages still reach that terminal.
//! When it has no standard error at all (started from a shortcut), a fatal
//! start error is shown in a message box instead, or nobody would see it.

#![cfg_attr(windows, windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    match postern_desktop::run_gui() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report_start_error(&format!(
                "postern: {e:#}\n(the commands work without a display: postern --help)"
            ));
            ExitCode::from(2)
        }
    }
}

/// Prints `message` to standard error; on Windows, when there is none
/// (a GUI-subsystem program started without inherited handles), shows it
/// in a message box.
fn report_start_error(message: &str) {
    #[cfg(windows)]
    {
        use std::os::windows::io::AsRawHandle;
        if std::io::stderr().as_raw_handle().is_null() {
            let _ = rfd::MessageDialog::new()
                .set_level(rfd::MessageLevel::Error)
                .set_title("Postern")
                .set_description(message)
                .set_buttons(rfd::MessageButtons::Ok)
                .show();
            return;
        }
    }
    eprintln!("{message}");
}
