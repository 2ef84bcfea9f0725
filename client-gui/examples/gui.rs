//! Opens the desktop window, as `postern` without a command will once
//! main.rs calls `run_gui` (scripts/screenshots.sh uses either).

fn main() -> std::process::ExitCode {
    match postern_client::app::run_gui() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("postern: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
