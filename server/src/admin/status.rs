//! `posternd status`: the live grants in the kernel, and what the running
//! daemon's last protection check found (see `daemon::protection`).

use crate::config;
use crate::daemon::protection::read_status;
use crate::platform;
use anyhow::{Context, Result};
use std::time::{SystemTime, UNIX_EPOCH};

/// `posternd status`: the live grants in the kernel, then whether the
/// protection was verified recently and whether it had to be reinstalled.
pub fn status(path: &std::path::Path) -> Result<String> {
    let cfg = config::load(path)?;
    let mut fw = platform::native().open_firewall(&cfg.server)?;
    let grants = fw
        .grants()
        .with_context(|| format!("reading grants from {} (is posternd running?)", fw.name()))?;
    let mut s = format!(
        "{} backend, table {}: {} live grant(s)\n",
        fw.name(),
        cfg.server.table,
        grants.len()
    );
    for g in grants {
        s.push_str(&format!(
            "  {} → {}/{}  {} s left\n",
            g.source,
            g.port.port,
            g.port.proto.keyword(),
            g.remaining.as_secs()
        ));
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    match read_status(&cfg.server.state_dir) {
        Some(p) => {
            s.push_str(&p.describe(now_ms));
            // A report much older than the interval means no daemon checks.
            let stale_ms = cfg.server.verify_secs.saturating_mul(3000);
            if p.verified_ms
                .is_some_and(|t| now_ms.saturating_sub(t) > stale_ms)
            {
                s.push_str("WARNING: no recent check: is posternd running?\n");
            }
        }
        None => s.push_str("protection: no check recorded (posternd has not run a check yet)\n"),
    }
    Ok(s)
}
