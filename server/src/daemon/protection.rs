//! Keeping the protection in place while the daemon runs.
//!
//! Attack (issue #14, item 4): `systemctl restart nftables` on Debian runs
//! `flush ruleset`, and a ufw / firewalld reload can drop the iptables jump
//! into Postern's chain. Either leaves every protected port open while
//! `posternd` keeps running and logging as if all were well. So every
//! `[server] verify_secs` (default 5 s) the daemon asks the firewall
//! whether its objects are still as installed
//! ([`Firewall::verify`](crate::firewall::Firewall::verify)) and, if not,
//! reinstalls them in one step with the live grants kept, logging at error
//! level. The window in which a flushed ruleset leaves ports open is thus
//! bounded by `verify_secs` (plus one `nft` run). Netlink notifications
//! (NFNLGRP_NFTABLES) would shorten it to milliseconds, but need a second
//! socket and a parser of nftables messages, and do not exist for the
//! iptables backend; polling covers both and costs one `nft -j list table`
//! (a few ms) per interval.
//!
//! The check runs in the loop's `on_timeout`, under the daemon's mutex, so
//! capture threads wait for that one `nft` / `iptables -S` run (a few ms
//! every `verify_secs`); frames queue meanwhile in the capture socket's
//! 8 MiB receive buffer, none are lost.
//!
//! What the last check found is written to `state_dir/protection.status`
//! so `posternd status` — another process — can report it.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// Name of the status file in the state directory.
pub const STATUS_FILE: &str = "protection.status";

/// What `posternd status` shows about the protection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtectionStatus {
    /// Unix ms of the last check (whatever its outcome).
    pub verified_ms: Option<u64>,
    /// How often the protection was found gone or changed and reinstalled.
    pub reinstalls: u64,
    /// Unix ms of the last reinstall, and why it was needed.
    pub last_reinstall_ms: Option<u64>,
    pub last_reason: Option<String>,
    /// Set while the last reinstall failed: the ports may be open.
    pub failing: Option<String>,
}

impl ProtectionStatus {
    /// One `key value` line each; values are single lines.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let one_line = |v: &str| v.replace(['\n', '\r'], " ");
        if let Some(v) = self.verified_ms {
            s.push_str(&format!("verified_ms {v}\n"));
        }
        s.push_str(&format!("reinstalls {}\n", self.reinstalls));
        if let Some(v) = self.last_reinstall_ms {
            s.push_str(&format!("last_reinstall_ms {v}\n"));
        }
        if let Some(v) = &self.last_reason {
            s.push_str(&format!("last_reason {}\n", one_line(v)));
        }
        if let Some(v) = &self.failing {
            s.push_str(&format!("failing {}\n", one_line(v)));
        }
        s
    }

    /// Inverse of [`to_text`](Self::to_text); unknown lines are skipped.
    pub fn parse(text: &str) -> ProtectionStatus {
        let mut st = ProtectionStatus::default();
        for line in text.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "verified_ms" => st.verified_ms = value.parse().ok(),
                "reinstalls" => st.reinstalls = value.parse().unwrap_or(0),
                "last_reinstall_ms" => st.last_reinstall_ms = value.parse().ok(),
                "last_reason" => st.last_reason = Some(value.to_owned()),
                "failing" => st.failing = Some(value.to_owned()),
                _ => {}
            }
        }
        st
    }

    /// Lines for `posternd status`, times relative to `now_ms`.
    pub fn describe(&self, now_ms: u64) -> String {
        let ago = |t: u64| format!("{} s ago", now_ms.saturating_sub(t) / 1000);
        let mut s = match self.verified_ms {
            Some(t) => format!("protection last verified {}\n", ago(t)),
            None => "protection not verified yet\n".to_owned(),
        };
        match (self.last_reinstall_ms, &self.last_reason) {
            (Some(t), Some(why)) => s.push_str(&format!(
                "protection reinstalled {} time(s), last {}: {why}\n",
                self.reinstalls,
                ago(t)
            )),
            _ => s.push_str("protection never had to be reinstalled\n"),
        }
        if let Some(e) = &self.failing {
            s.push_str(&format!(
                "WARNING: the last reinstall failed, protected ports may be open: {e}\n"
            ));
        }
        s
    }
}

/// Where the daemon using `state_dir` reports its protection checks.
pub fn status_path(state_dir: &Path) -> PathBuf {
    state_dir.join(STATUS_FILE)
}

/// Reads the status the daemon wrote; `None` when there is none (the
/// daemon never ran with this state directory).
pub fn read_status(state_dir: &Path) -> Option<ProtectionStatus> {
    std::fs::read_to_string(status_path(state_dir))
        .ok()
        .map(|t| ProtectionStatus::parse(&t))
}

/// The schedule and the record of the checks.
#[derive(Debug)]
pub struct Protection {
    every_ms: u64,
    pub due_ms: u64,
    pub status: ProtectionStatus,
    path: PathBuf,
}

impl Protection {
    pub fn new(state_dir: &Path, every_secs: u64, now_ms: u64) -> Protection {
        let every_ms = every_secs.max(1).saturating_mul(1000);
        Protection {
            every_ms,
            due_ms: now_ms.saturating_add(every_ms),
            status: ProtectionStatus::default(),
            path: status_path(state_dir),
        }
    }

    /// Records a check at `now_ms` and schedules the next one. `reinstall`
    /// is `Some((why, outcome))` when the protection had to be put back.
    pub fn checked(&mut self, now_ms: u64, reinstall: Option<(String, Result<(), String>)>) {
        self.status.verified_ms = Some(now_ms);
        if let Some((why, outcome)) = reinstall {
            self.status.reinstalls += 1;
            self.status.last_reinstall_ms = Some(now_ms);
            self.status.last_reason = Some(why);
            self.status.failing = outcome.err();
        }
        self.due_ms = now_ms.saturating_add(self.every_ms);
    }

    /// Writes the status file. Not synced: it is a report, rewritten every
    /// few seconds, and a power loss that forgets it loses nothing.
    pub fn write(&self) -> Result<()> {
        crate::state::write_report(&self.path, self.status.to_text().as_bytes())
            .with_context(|| format!("writing {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_survives_the_file_and_says_what_happened() {
        let mut p = Protection::new(Path::new("/nonexistent"), 5, 1_000);
        assert_eq!(p.due_ms, 6_000);
        p.checked(6_000, None);
        assert_eq!(p.due_ms, 11_000);
        p.checked(
            11_000,
            Some(("table inet postern is gone\n(flushed)".into(), Ok(()))),
        );
        let back = ProtectionStatus::parse(&p.status.to_text());
        assert_eq!(back.reinstalls, 1);
        assert_eq!(
            back.last_reason.as_deref(),
            Some("table inet postern is gone (flushed)")
        );
        let text = back.describe(13_500);
        assert!(text.contains("last verified 2 s ago"), "{text}");
        assert!(text.contains("reinstalled 1 time(s), last 2 s ago: table inet postern is gone"));
        assert!(!text.contains("WARNING"));
        p.checked(
            16_000,
            Some(("gone again".into(), Err("nft failed".into()))),
        );
        let text = ProtectionStatus::parse(&p.status.to_text()).describe(16_000);
        assert!(
            text.contains("WARNING: the last reinstall failed"),
            "{text}"
        );
    }
}
