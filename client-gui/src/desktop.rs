//! `postern-desktop`: the desktop window, a binary of its own so that the
//! `postern` command line stays small. The command line links no GUI code,
//! which keeps its start-up — and so the time from "knock" to the first
//! packet — close to a C client's (docs/benchmarks.md), and on Windows this
//! binary is a GUI-subsystem program that opens no console window.
//! `postern` without a command hands over to it.

#![cfg_attr(windows, windows_subsystem = "windows")]

use std::process::ExitCode;

fn main() -> ExitCode {
    match postern_client::app::run_gui() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postern: {e:#}\n(the commands work without a display: postern --help)");
            ExitCode::from(2)
        }
    }
}
