//! `postern-bench`: Postern, knockd and fwknopd side by side on one veth
//! between two network namespaces, in one run. Writes the results into
//! docs/benchmarks.md and draws the charts. Run it through
//! `scripts/bench.sh` (root; builds the release binaries first).

#[cfg(target_os = "linux")]
mod flood;
#[cfg(target_os = "linux")]
mod probe;
#[cfg(target_os = "linux")]
mod report;
#[cfg(target_os = "linux")]
mod run;
#[cfg(target_os = "linux")]
mod stats;
#[cfg(target_os = "linux")]
mod systems;

use std::process::ExitCode;

fn main() -> ExitCode {
    #[cfg(target_os = "linux")]
    {
        use clap::Parser;
        let opts = run::Opts::parse();
        match run::run(&opts) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("postern-bench: {e:#}");
                ExitCode::FAILURE
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        eprintln!("postern-bench runs on Linux (network namespaces)");
        ExitCode::FAILURE
    }
}
