//! `posternd init`: a starter config, the server identity and the
//! administrator's signing key, with safe file modes.

use crate::state::write_atomic;
use anyhow::{Context, Result, bail};
use postern_proto::ServerId;
use postern_proto::sign::AdminKey;
use std::path::{Path, PathBuf};

/// A TOML string holding `s` exactly: Windows paths are full of
/// backslashes, which a plain `"..."` would read as escapes.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(not(windows))]
const DEFAULT_INTERFACE: &str = "eth0";
/// All interfaces: Windows names them "Ethernet 2" and the like, and the
/// knock filter already limits what is captured.
#[cfg(windows)]
const DEFAULT_INTERFACE: &str = "any";

#[cfg(not(windows))]
const BACKEND_LINE: &str = "backend = \"auto\"              # auto | nftables | iptables\n";
#[cfg(windows)]
const BACKEND_LINE: &str =
    "# the firewall is Windows Firewall (backend and table apply on Linux only)\n";

#[cfg(not(windows))]
const DOORS: &str = r#"# Doors: the ports Postern keeps closed until someone knocks. Starting the
# daemon closes them, so make sure you can still reach the machine (e.g.
# test from a console) before protecting the port you are logged in through.
#
# [[door]]
# name = "ssh"
# proto = "tcp"
# port = 22
# duration = 30               # seconds the door stays open for new connections
# spa = true                  # users listing this door may open it with SPA
# sequence = "7000,8000:udp,9000"   # optional knockd-style sequence
# syn_token = "keyed"         # optional: static | keyed
#
# Users are added with `posternd user add NAME --door ssh --method spa`.
"#;

/// On Windows, Postern is for Remote Desktop: the door is there from the
/// start, and `posternd init` then offers to disable the built-in rules
/// that open it to everyone.
#[cfg(windows)]
const DOORS: &str = r#"# Doors: the ports Postern keeps closed until someone knocks. Starting the
# service closes them, so make sure you can still reach the machine (e.g.
# from its console) before you rely on knocking to reach Remote Desktop.
[[door]]
name = "rdp"
proto = "tcp"
port = 3389
duration = 30                 # seconds the door stays open for new connections
spa = true                    # users listing this door may open it with SPA

# Users are added with `posternd user add NAME --door rdp --method spa`.
"#;

#[derive(Debug)]
pub struct InitOptions {
    pub config: PathBuf,
    pub interfaces: Vec<String>,
    pub public_host: Option<String>,
    pub state_dir: PathBuf,
    pub force: bool,
    /// STUN servers (`host:port`) for issued profiles.
    pub stun: Vec<String>,
}

/// Writes the config and `admin.key` beside it. Refuses to overwrite an
/// existing config unless `force`, and then first copies it to
/// `<config>.bak-<unix time>`: the old config holds every user's key and
/// the server id that issued profiles are bound to, and one mistyped
/// `--force` must not lose them. Never overwrites an existing admin key
/// (profiles already issued would stop verifying).
pub fn init(opts: &InitOptions) -> Result<String> {
    if let Some(s) = opts
        .stun
        .iter()
        .find(|s| !postern_proto::profile::valid_host_port(s))
    {
        bail!("--stun {s}: expected HOST:PORT (e.g. stun.example.org:3478)");
    }
    if opts.config.exists() && !opts.force {
        bail!(
            "{} already exists (use --force to replace it)",
            opts.config.display()
        );
    }
    let dir = opts
        .config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let backup = if opts.config.exists() {
        Some(back_up(&opts.config)?)
    } else {
        None
    };
    let key_path = dir.join("admin.key");
    let mut rng = rand::rng();
    let admin = if key_path.exists() {
        let text = std::fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        AdminKey::from_base64(&text)
            .with_context(|| format!("{}: not an admin key", key_path.display()))?
    } else {
        let k = AdminKey::generate(&mut rng);
        write_atomic(
            &key_path,
            format!("{}\n", k.to_base64().as_str()).as_bytes(),
            0o600,
        )?;
        k
    };
    let server_id = ServerId::generate(&mut rng);
    let default_iface = [DEFAULT_INTERFACE.to_owned()];
    let ifaces = if opts.interfaces.is_empty() {
        &default_iface[..]
    } else {
        &opts.interfaces[..]
    };
    let ifaces = ifaces
        .iter()
        .map(|i| toml_str(i))
        .collect::<Vec<_>>()
        .join(", ");
    let host = opts
        .public_host
        .as_ref()
        .map(|h| format!("public_host = \"{h}\"\n"))
        .unwrap_or_else(|| {
            "# public_host = \"server.example.org\"   # put into issued profiles\n".into()
        });
    let stun = if opts.stun.is_empty() {
        "# stun = [\"stun.example.org:3478\"]   # put into issued profiles: clients behind a NAT ask them\n".to_owned()
    } else {
        format!(
            "stun = [{}]\n",
            opts.stun
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let text = format!(
        r#"# posternd configuration. Check it with `posternd check`.
# Every knock is bound to server_id; changing it invalidates issued profiles.

[server]
server_id = "{server_id}"
interfaces = [{ifaces}]
{BACKEND_LINE}state_dir = {state}
admin_key_file = {key}
{host}{stun}
[limits]
max_sources = 65536           # sources tracked at once (oldest evicted)
seq_timeout = 10              # seconds for a whole knock sequence
scan_limit = 40               # port changes per scan_window before attempts are voided
scan_window = 10
max_skew = 60                 # seconds of clock difference accepted for SPA
source_must_match = false     # true: refuse SPA whose source is not the address it names (no NAT users)

[spa]
port = 62201
icmp = true

{DOORS}"#,
        state = toml_str(&opts.state_dir.display().to_string()),
        key = toml_str(&key_path.display().to_string()),
    );
    crate::config::parse(&text, &opts.config.display().to_string())
        .context("the starter config did not validate (a bug)")?;
    write_atomic(&opts.config, text.as_bytes(), 0o600)?;
    let kept = backup
        .map(|b| {
            format!(
                "the previous config (users, server id) is kept in {}\n",
                b.display()
            )
        })
        .unwrap_or_default();
    Ok(format!(
        "{kept}wrote {} (server id {server_id}) and {}\nadministrator key fingerprint: {}\nnext: add a [[door]], then `posternd user add NAME --door DOOR --method spa`",
        opts.config.display(),
        key_path.display(),
        admin.public().fingerprint()
    ))
}

/// Copies `config` to a new `<config>.bak-<unix time>[-n]` (mode 0600, never
/// over an existing file or through a symlink) and returns its path.
fn back_up(config: &Path) -> Result<PathBuf> {
    use std::io::Write;
    let old = std::fs::read(config).with_context(|| format!("reading {}", config.display()))?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for n in 0..100u32 {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let mut name = config.as_os_str().to_owned();
        name.push(format!(".bak-{secs}{suffix}"));
        let path = PathBuf::from(name);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        match opts.open(&path) {
            Ok(mut f) => {
                f.write_all(&old)
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("writing {}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
        }
    }
    bail!("too many backups of {} this second", config.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_keeps_a_backup_of_the_old_config() {
        let dir = std::env::temp_dir().join(format!("postern-init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let opts = InitOptions {
            config: dir.join("posternd.toml"),
            interfaces: vec!["lo".into()],
            public_host: None,
            state_dir: dir.join("state"),
            force: false,
            stun: Vec::new(),
        };
        init(&opts).expect("first init");
        let mut first = std::fs::read_to_string(&opts.config).expect("config");
        first.push_str("# users added later\n");
        std::fs::write(&opts.config, &first).expect("edit");
        assert!(init(&opts).is_err(), "no --force: refused");
        let forced = InitOptions {
            force: true,
            ..opts
        };
        let out = init(&forced).expect("forced init");
        assert!(out.contains("previous config"), "{out}");
        let backups: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("posternd.toml.bak-")
            })
            .collect();
        assert_eq!(backups.len(), 1, "{backups:?}");
        assert_eq!(
            std::fs::read_to_string(backups[0].path()).expect("backup"),
            first
        );
        assert_ne!(std::fs::read_to_string(&forced.config).expect("new"), first);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
