//! `posternd init`: a starter config, the server identity and the
//! administrator's signing key, with safe file modes.

use crate::state::write_atomic;
use anyhow::{Context, Result, bail};
use postern_proto::ServerId;
use postern_proto::sign::AdminKey;
use std::path::{Path, PathBuf};

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
/// existing config unless `force`; never overwrites an existing admin key
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
    let default_iface = ["eth0".to_owned()];
    let ifaces = if opts.interfaces.is_empty() {
        &default_iface[..]
    } else {
        &opts.interfaces[..]
    };
    let ifaces = ifaces
        .iter()
        .map(|i| format!("\"{i}\""))
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
backend = "auto"              # auto | nftables | iptables
state_dir = "{state}"
admin_key_file = "{key}"
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

# Doors: the ports Postern keeps closed until someone knocks. Starting the
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
"#,
        state = opts.state_dir.display(),
        key = key_path.display(),
    );
    crate::config::parse(&text, &opts.config.display().to_string())
        .context("the starter config did not validate (a bug)")?;
    write_atomic(&opts.config, text.as_bytes(), 0o600)?;
    Ok(format!(
        "wrote {} (server id {server_id}) and {}\nadministrator key fingerprint: {}\nnext: add a [[door]], then `posternd user add NAME --door DOOR --method spa`",
        opts.config.display(),
        key_path.display(),
        admin.public().fingerprint()
    ))
}
