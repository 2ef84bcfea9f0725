//! `posternd baseline`: close the protected ports and exit.
//!
//! Attack: between boot and the moment `posternd` has started (or forever,
//! if it cannot start: a broken config after an upgrade, a missing
//! interface) nothing protects the doors, and a service behind them is
//! reachable by anyone. `installers/linux/posternd-baseline.service` runs
//! this once at boot, after `nftables.service` (whose `flush ruleset` would
//! undo it) and before `network-pre.target`, so the ports are closed before
//! an interface comes up. The daemon's own start replaces the same objects
//! in one step; if it never starts, they stay, with no grants: fail-closed.

use crate::config;
use crate::daemon::protected_ports;
use crate::platform;
use anyhow::{Context, Result};
use std::path::Path;

/// Installs the drops for every protected port of the config at `path`,
/// with no grants, and returns what it did.
pub fn baseline(path: &Path) -> Result<String> {
    let cfg = config::load(path)?;
    let mut fw = platform::native().open_firewall(&cfg.server)?;
    let ports = protected_ports(&cfg);
    fw.set_icmp_knock_drop(cfg.spa.icmp);
    fw.install(&ports, &[])
        .with_context(|| format!("installing the {} baseline", fw.name()))?;
    Ok(format!(
        "{}: {} protected port(s) closed to everyone until posternd grants access\n",
        fw.name(),
        ports.len()
    ))
}
