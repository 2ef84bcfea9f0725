//! `posternd`: the Postern server. Thin: argv → checked config → one call.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use postern_server::admin;
use postern_server::config::{self, DEFAULT_PATH};
use postern_server::log::{self, LogFormat};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "posternd",
    version,
    about = "Postern server: opens protected ports for correct knocks, for a limited time"
)]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, default_value = DEFAULT_PATH)]
    config: PathBuf,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (in the foreground; systemd supervises it).
    Run,
    /// Validate the config without starting anything.
    Check,
    /// Show live grants and their remaining time.
    Status,
    /// Write a starter config, server identity and admin signing key.
    Init {
        /// Interface(s) to capture knocks on.
        #[arg(long = "interface", short = 'i')]
        interfaces: Vec<String>,
        /// Host name or address put into issued profiles.
        #[arg(long)]
        public_host: Option<String>,
        #[arg(long, default_value = "/var/lib/postern")]
        state_dir: PathBuf,
        /// Replace an existing config.
        #[arg(long)]
        force: bool,
    },
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Convert a knockd.conf into [[door]] entries (printed, or appended with --append).
    ImportKnockd {
        file: PathBuf,
        /// Append the doors to the config file (after validating the result).
        #[arg(long)]
        append: bool,
    },
    /// Remove every firewall rule and set Postern added.
    Uninstall,
    /// Show closed → knock → open → closed in two network namespaces (root).
    Demo {
        /// The `postern` client binary (default: next to this one).
        #[arg(long)]
        client: Option<PathBuf>,
        /// Seconds the demo door stays open.
        #[arg(long, default_value_t = 5)]
        ttl: u32,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user key, add the user to the config and write a signed profile.
    Add {
        name: String,
        /// Door(s) the user may open.
        #[arg(long = "door", required = true)]
        doors: Vec<String>,
        #[arg(long, value_enum, default_value = "spa")]
        method: admin::user::IssueMethod,
        /// Source range(s) the user may knock from (CIDR); default anywhere.
        #[arg(long = "source")]
        sources: Vec<ipnet::IpNet>,
        /// Longest grant the user may ask for, in seconds.
        #[arg(long, default_value_t = 3600)]
        max_duration: u32,
        /// Host the profile knocks (default: public_host from the config).
        #[arg(long)]
        host: Option<String>,
        /// Where to write the profile (default NAME.postern).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    log::init(cli.log_format);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("posternd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run => run_daemon(&cli.config),
        Command::Check => {
            print!("{}", admin::check(&cli.config)?);
            Ok(())
        }
        Command::Status => status(&cli.config),
        Command::Init {
            interfaces,
            public_host,
            state_dir,
            force,
        } => {
            let msg = admin::init::init(&admin::init::InitOptions {
                config: cli.config,
                interfaces,
                public_host,
                state_dir,
                force,
            })?;
            println!("{msg}");
            Ok(())
        }
        Command::User(UserCommand::Add {
            name,
            doors,
            method,
            sources,
            max_duration,
            host,
            out,
        }) => {
            let msg = admin::user::add(
                &cli.config,
                &admin::user::AddUser {
                    name,
                    doors,
                    method,
                    sources,
                    max_duration,
                    host,
                    out,
                },
            )?;
            println!("{msg}");
            Ok(())
        }
        Command::ImportKnockd { file, append } => import_knockd(&cli.config, &file, append),
        Command::Uninstall => uninstall(&cli.config),
        Command::Demo { client, ttl } => demo(client, ttl),
    }
}

#[cfg(target_os = "linux")]
fn run_daemon(path: &std::path::Path) -> Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let cfg = config::load(path)?;
    for w in postern_server::admin::warnings(&cfg) {
        tracing::warn!("{w}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
        .context("installing the signal handler")?;
    postern_server::daemon::run(&cfg, stop)
}

#[cfg(not(target_os = "linux"))]
fn run_daemon(path: &std::path::Path) -> Result<()> {
    let _cfg = config::load(path)?;
    anyhow::bail!("the daemon runs on Linux in this build; the Windows service is not built yet")
}

fn open_firewall(
    path: &std::path::Path,
) -> Result<(
    config::Config,
    Box<dyn postern_server::firewall::Firewall + Send>,
)> {
    let cfg = config::load(path)?;
    #[cfg(target_os = "linux")]
    {
        let fw = postern_server::firewall::open(cfg.server.backend, &cfg.server.table)?;
        Ok((cfg, fw))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = cfg;
        anyhow::bail!("no firewall backend for this OS in this build")
    }
}

fn status(path: &std::path::Path) -> Result<()> {
    let (cfg, mut fw) = open_firewall(path)?;
    let grants = fw
        .grants()
        .with_context(|| format!("reading grants from {} (is posternd running?)", fw.name()))?;
    println!(
        "{} backend, table {}: {} live grant(s)",
        fw.name(),
        cfg.server.table,
        grants.len()
    );
    for g in grants {
        println!(
            "  {} → {}/{}  {} s left",
            g.source,
            g.port.port,
            g.port.proto.keyword(),
            g.remaining.as_secs()
        );
    }
    Ok(())
}

fn uninstall(path: &std::path::Path) -> Result<()> {
    let (_cfg, mut fw) = open_firewall(path)?;
    fw.uninstall()?;
    println!("removed Postern's {} rules and sets", fw.name());
    Ok(())
}

fn import_knockd(
    config_path: &std::path::Path,
    file: &std::path::Path,
    append: bool,
) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let doors = admin::knockd::convert(&text, &file.display().to_string())?;
    let toml = admin::knockd::to_toml(&doors);
    if !append {
        print!("{toml}");
        return Ok(());
    }
    let old = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let new = format!("{}\n{toml}", old.trim_end());
    config::parse(&new, &config_path.display().to_string())
        .context("the config with the imported doors is not valid; nothing was changed")?;
    postern_server::state::write_atomic(config_path, new.as_bytes(), 0o600)?;
    println!(
        "appended {} door(s) to {}",
        doors
            .iter()
            .filter(|d| matches!(d, admin::knockd::Converted::Door { .. }))
            .count(),
        config_path.display()
    );
    Ok(())
}

#[cfg(target_os = "linux")]
fn demo(client: Option<PathBuf>, ttl: u32) -> Result<()> {
    postern_server::demo::run(client, ttl)
}

#[cfg(not(target_os = "linux"))]
fn demo(_client: Option<PathBuf>, _ttl: u32) -> Result<()> {
    anyhow::bail!("the demo uses Linux network namespaces")
}
