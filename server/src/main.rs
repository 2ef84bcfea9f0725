//! `posternd`: the Postern server. Only parses argv and dispatches to one
//! library call per command, then prints what it returns.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use postern_server::daemon::{self, SystemClock};
use postern_server::log::{self, LogFormat};
use postern_server::{admin, platform};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "posternd",
    version,
    about = "Postern server: opens protected ports for correct knocks, for a limited time"
)]
struct Cli {
    /// Configuration file (default: /etc/postern/posternd.toml;
    /// %ProgramData%\Postern\posternd.toml on Windows).
    #[arg(long, global = true, default_value_os_t = admin::default_config_path())]
    config: PathBuf,
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon (in the foreground; systemd or the Windows service
    /// control manager supervises it).
    Run {
        /// Started by the Windows service control manager (`posternd
        /// service install` registers this).
        #[cfg(windows)]
        #[arg(long, hide = true)]
        service: bool,
    },
    /// Validate the config without starting anything.
    Check,
    /// Show live grants and their remaining time.
    Status,
    /// Close every protected port (no grants) and exit: run at boot before
    /// the network by posternd-baseline.service, so doors are closed
    /// before posternd starts and stay closed if it cannot.
    Baseline,
    /// Make the running daemon re-read its config (SIGHUP; on Windows its
    /// reload event): new users, doors and limits apply, live grants the new
    /// config allows stay open.
    Reload,
    /// Write a starter config, server identity and admin signing key.
    Init {
        /// Interface(s) to capture knocks on.
        #[arg(long = "interface", short = 'i')]
        interfaces: Vec<String>,
        /// Host name or address put into issued profiles.
        #[arg(long)]
        public_host: Option<String>,
        #[arg(long, default_value_os_t = admin::default_state_dir())]
        state_dir: PathBuf,
        /// Replace an existing config.
        #[arg(long)]
        force: bool,
        /// STUN server (HOST:PORT) put into issued profiles; repeatable.
        #[arg(long = "stun")]
        stun: Vec<String>,
        /// Windows: disable the enabled firewall rules that open a door to
        /// everyone without asking (recorded; `uninstall` restores them).
        #[cfg(windows)]
        #[arg(long)]
        disable_rules: bool,
        /// Windows: only the firewall-rule step, for an existing config.
        #[cfg(windows)]
        #[arg(long)]
        rules_only: bool,
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
    /// Convert fwknopd's access.conf into [[door]] and [[user]] entries
    /// (printed, or appended with --append), so fwknop clients keep working.
    ImportFwknopd {
        file: PathBuf,
        /// Append the entries to the config file (after validating the result).
        #[arg(long)]
        append: bool,
    },
    /// Remove every firewall rule and set Postern added (Windows: and enable
    /// again the rules `init` disabled).
    Uninstall,
    /// Windows: install, remove, start or stop the posternd service.
    #[cfg(windows)]
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Show closed → knock → open → closed in two network namespaces (root;
    /// built with the `netns-testing` feature, as scripts/demo.sh does).
    #[cfg(all(target_os = "linux", feature = "netns-testing"))]
    Demo {
        /// The `postern` client binary (default: next to this one).
        #[arg(long)]
        client: Option<PathBuf>,
        /// Seconds the demo door stays open.
        #[arg(long, default_value_t = 5)]
        ttl: u32,
    },
}

#[cfg(windows)]
#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Register the service (automatic start, restart 1 s after a failure)
    /// running `posternd run` with this --config.
    Install,
    /// Stop and remove the service.
    Uninstall,
    Start,
    Stop,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user key, add the user to the config and write a signed profile.
    Add {
        name: String,
        /// Door(s) the user may open.
        #[arg(long = "door", required = true)]
        doors: Vec<String>,
        /// Source range(s) the user may knock from (CIDR); default anywhere.
        #[arg(long = "source")]
        sources: Vec<ipnet::IpNet>,
        /// Longest grant the user may ask for, in seconds.
        #[arg(long, default_value_t = 3600)]
        max_duration: u32,
        /// Refuse the user's knocks from then on: a date (2026-12-13), a
        /// date-time (2026-12-13T18:00:00Z) or a duration (14d, 2w, 12h).
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        issue: IssueArgs,
        #[command(flatten)]
        apply: Apply,
    },
    /// Who has access: doors, methods, sources, expiry, disabled, key age.
    List {
        /// One JSON object per user.
        #[arg(long)]
        json: bool,
    },
    /// Take a user out of the config (their key stops working at the reload).
    Remove {
        name: String,
        #[command(flatten)]
        apply: Apply,
    },
    /// Refuse every knock of a user, keeping their entry (e.g. a lost laptop).
    Disable {
        name: String,
        #[command(flatten)]
        apply: Apply,
    },
    /// Let a disabled user in again.
    Enable {
        name: String,
        #[command(flatten)]
        apply: Apply,
    },
    /// A new key and profile for a user; the old key stops at the reload,
    /// or after --grace.
    Rotate {
        name: String,
        /// How long the old key keeps working (90s, 30m, 12h, 14d).
        #[arg(long, value_parser = parse_grace)]
        grace: Option<u64>,
        /// A new expiry: a date, date-time or duration (as for `add`).
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        issue: IssueArgs,
        #[command(flatten)]
        apply: Apply,
    },
}

/// How a profile is issued (`user add`, `user rotate`).
#[derive(Debug, clap::Args)]
struct IssueArgs {
    #[arg(long, value_enum, default_value = "spa")]
    method: admin::user::IssueMethod,
    /// Host the profile knocks (default: public_host from the config).
    #[arg(long)]
    host: Option<String>,
    /// Where to write the profile (default NAME.postern).
    #[arg(long)]
    out: Option<PathBuf>,
    /// STUN server (HOST:PORT) for the profile, repeatable (default:
    /// stun in [server]).
    #[arg(long = "stun")]
    stun: Vec<String>,
    /// Inside network (CIDR) that sits behind a NAT although it is not
    /// a private range; repeatable.
    #[arg(long = "nat-network")]
    nat_networks: Vec<ipnet::IpNet>,
    /// Encrypt the profile with a new passphrase of six words, printed
    /// once: send the file by e-mail and the passphrase by another way.
    #[arg(long)]
    seal: bool,
}

impl From<IssueArgs> for admin::user::Issue {
    fn from(a: IssueArgs) -> Self {
        admin::user::Issue {
            method: a.method,
            host: a.host,
            out: a.out,
            stun: a.stun,
            nat_networks: a.nat_networks,
            seal: a.seal,
        }
    }
}

/// Applying a user change to the running daemon.
#[derive(Debug, clap::Args)]
struct Apply {
    /// Run `posternd reload` after the change.
    #[arg(long)]
    reload: bool,
}

fn parse_grace(s: &str) -> Result<u64, String> {
    postern_server::when::parse_duration(s)
        .ok_or_else(|| format!("{s:?}: expected a duration such as 90s, 30m, 12h or 14d"))
}

/// The wall clock, for the moments `user` commands write (the library
/// takes `now` as an argument).
fn now() -> postern_proto::UnixTime {
    postern_proto::UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

fn moment(s: Option<String>) -> Result<Option<postern_proto::UnixTime>> {
    s.map(|s| {
        postern_server::when::parse_moment(&s, now()).map_err(|e| anyhow::anyhow!("--expires {e}"))
    })
    .transpose()
}

/// A user change's message, then the reload's when asked for.
fn applied(config: &std::path::Path, said: String, apply: Apply) -> Result<String> {
    if !apply.reload {
        return Ok(said + "\n");
    }
    let said = said.replace(admin::user_life::APPLY, "");
    println!("{}", said.trim_end());
    // The change is on disk whatever the reload says: say so with its error.
    let reloaded = admin::reload(config)
        .context("the change is saved in the config, but the daemon was not reloaded")?;
    Ok(reloaded)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The service logs to a file (set up by the service itself).
    #[cfg(windows)]
    let service = matches!(cli.command, Command::Run { service: true });
    #[cfg(not(windows))]
    let service = false;
    if !service {
        log::init(cli.log_format);
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("posternd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let out = match cli.command {
        #[cfg(windows)]
        Command::Run { service: true } => {
            return platform::windows::service::run_service(&cli.config);
        }
        Command::Run { .. } => {
            // Windows rules outlive a killed process: remove a crashed
            // run's before anything else (Linux replaces its table at install).
            #[cfg(windows)]
            {
                let n = platform::windows::sweep_stale()?;
                if n > 0 {
                    tracing::warn!("removed {n} stale Postern rule(s) left by an earlier run");
                }
            }
            return daemon::run(&cli.config, platform::native(), Arc::new(SystemClock));
        }
        Command::Check => admin::check(&cli.config)?,
        Command::Status => admin::status(&cli.config)?,
        Command::Baseline => admin::baseline(&cli.config)?,
        Command::Reload => admin::reload(&cli.config)?,
        Command::Init {
            interfaces,
            public_host,
            state_dir,
            force,
            stun,
            #[cfg(windows)]
            disable_rules,
            #[cfg(windows)]
            rules_only,
        } => {
            #[cfg(windows)]
            if rules_only {
                return print_ok(admin::init_rules(&cli.config, disable_rules)?);
            }
            #[cfg(windows)]
            platform::windows::acl::create_restricted_dir(&platform::windows::paths::data_dir())?;
            #[allow(unused_mut)]
            let mut out = admin::init::init(&admin::init::InitOptions {
                config: cli.config.clone(),
                interfaces,
                public_host,
                state_dir,
                force,
                stun,
            })? + "\n";
            #[cfg(windows)]
            out.push_str(&admin::init_rules(&cli.config, disable_rules)?);
            out
        }
        Command::User(c) => user(&cli.config, c)?,
        Command::ImportKnockd { file, append } => {
            admin::knockd::import(&cli.config, &file, append)?
        }
        Command::ImportFwknopd { file, append } => {
            admin::fwknopd::import(&cli.config, &file, append)?
        }
        Command::Uninstall => admin::uninstall(&cli.config)?,
        #[cfg(windows)]
        Command::Service(c) => {
            use platform::windows::service;
            match c {
                ServiceCommand::Install => service::install(&cli.config)?,
                ServiceCommand::Uninstall => service::uninstall()?,
                ServiceCommand::Start => service::start()?,
                ServiceCommand::Stop => service::stop()?,
            }
        }
        #[cfg(all(target_os = "linux", feature = "netns-testing"))]
        Command::Demo { client, ttl } => return postern_server::demo::run(client, ttl),
    };
    print_ok(out)
}

fn user(config: &std::path::Path, c: UserCommand) -> Result<String> {
    use admin::{user, user_life};
    match c {
        UserCommand::Add {
            name,
            doors,
            sources,
            max_duration,
            expires,
            issue,
            apply,
        } => {
            let req = user::AddUser {
                name,
                doors,
                sources,
                max_duration,
                expires: moment(expires)?,
                issue: issue.into(),
            };
            applied(config, user::add(config, &req, now())?, apply)
        }
        UserCommand::List { json } => user_life::list(config, json, now()),
        UserCommand::Remove { name, apply } => {
            applied(config, user_life::remove(config, &name)?, apply)
        }
        UserCommand::Disable { name, apply } => {
            applied(config, user_life::set_disabled(config, &name, true)?, apply)
        }
        UserCommand::Enable { name, apply } => applied(
            config,
            user_life::set_disabled(config, &name, false)?,
            apply,
        ),
        UserCommand::Rotate {
            name,
            grace,
            expires,
            issue,
            apply,
        } => {
            let req = user_life::Rotate {
                name,
                grace_secs: grace,
                expires: moment(expires)?,
                issue: issue.into(),
            };
            applied(config, user_life::rotate(config, &req, now())?, apply)
        }
    }
}

fn print_ok(out: String) -> Result<()> {
    print!("{out}");
    Ok(())
}
