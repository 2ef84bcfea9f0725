//! Windows Firewall rules that are not Postern's but open a protected port
//! to everyone — above all the built-in "Remote Desktop" rules, which the
//! Settings switch "Remote Desktop: On" enables. Windows blocks only what
//! no allow rule admits, so while one of them is enabled a door is open no
//! matter what Postern does.
//!
//! Pure: detection over a snapshot of the rules ([`covering`]), the record
//! of what `posternd init` disabled (stored as TOML under
//! `%ProgramData%\Postern`, [`DisabledRecord`]), and what `posternd
//! uninstall` must do to restore exactly that ([`restore_plan`]). The COM
//! layer lists, disables and enables; admin/ asks for consent and writes
//! the record.

use super::winfw_plan::{PROTO_ANY, RuleView, is_ours, proto_number};
use super::{ProtectedPort, Proto};
use serde::{Deserialize, Serialize};

/// An enabled inbound allow rule that admits traffic to a protected port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Covering {
    pub rule: RuleView,
    pub port: ProtectedPort,
}

/// Every enabled inbound allow rule not of Postern's group that admits
/// traffic to one of `ports`, once per (rule, port). A rule scoped to a
/// program or service or to some remote addresses still counts: it admits
/// those to the port, and Postern cannot tell whether the protected service
/// is that program (the RDP rules are scoped to `svchost.exe` /
/// `TermService`, which *is* the protected service).
pub fn covering(rules: &[RuleView], ports: &[ProtectedPort]) -> Vec<Covering> {
    let mut out = Vec::new();
    for r in rules {
        if !(r.enabled && r.inbound && r.allow) || is_ours(r) {
            continue;
        }
        for p in ports {
            if proto_covers(r.protocol, p.proto) && ports_cover(&r.local_ports, p.port) {
                out.push(Covering {
                    rule: r.clone(),
                    port: *p,
                });
            }
        }
    }
    out
}

fn proto_covers(protocol: i32, p: Proto) -> bool {
    protocol == PROTO_ANY || protocol == proto_number(p)
}

/// Does a `LocalPorts` value admit `port`? `*` and empty mean every port;
/// numbers and `a-b` ranges as listed. Keywords (`RPC`, `RPC-EPMap`,
/// `IPHTTPSIn`, `Teredo`, `Ply2Disc`, …) stand for ports the system
/// assigns to its own services and are not counted: they cover no port a
/// door is configured on.
pub fn ports_cover(local_ports: &str, port: u16) -> bool {
    let spec = local_ports.trim();
    if spec.is_empty() || spec == "*" {
        return true;
    }
    spec.split(',').map(str::trim).any(|part| {
        if let Some((lo, hi)) = part.split_once('-') {
            match (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
                (Ok(lo), Ok(hi)) => (lo..=hi).contains(&port),
                _ => false,
            }
        } else {
            part.parse::<u16>() == Ok(port)
        }
    })
}

/// One rule `posternd init` disabled: enough to find the very rule again
/// (names are not unique in Windows Firewall, so protocol, ports, program
/// and service are kept too) and to tell the administrator what it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledRule {
    pub name: String,
    #[serde(default)]
    pub group: String,
    pub protocol: i32,
    pub local_ports: String,
    #[serde(default)]
    pub application: String,
    #[serde(default)]
    pub service: String,
    /// Unix seconds when it was disabled.
    pub disabled_at: u64,
}

impl DisabledRule {
    pub fn of(rule: &RuleView, now_secs: u64) -> DisabledRule {
        DisabledRule {
            name: rule.name.clone(),
            group: rule.group.clone(),
            protocol: rule.protocol,
            local_ports: rule.local_ports.clone(),
            application: rule.application.clone(),
            service: rule.service.clone(),
            disabled_at: now_secs,
        }
    }

    /// Is `rule` the one recorded?
    pub fn matches(&self, rule: &RuleView) -> bool {
        rule.name == self.name
            && rule.protocol == self.protocol
            && rule.local_ports == self.local_ports
            && rule.application.eq_ignore_ascii_case(&self.application)
            && rule.service.eq_ignore_ascii_case(&self.service)
    }
}

/// `%ProgramData%\Postern\disabled-rules.toml`: every rule Postern
/// disabled and has not restored yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabledRecord {
    /// Format version, for a later reader.
    pub version: u32,
    #[serde(default, rename = "rule")]
    pub rules: Vec<DisabledRule>,
}

/// File name of the record in Postern's data folder.
pub const RECORD_FILE: &str = "disabled-rules.toml";

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{RECORD_FILE}: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("{RECORD_FILE}: unknown format version {0} (written by a newer posternd?)")]
    Version(u32),
}

impl DisabledRecord {
    pub const VERSION: u32 = 1;

    pub fn parse(text: &str) -> Result<DisabledRecord, RecordError> {
        let r: DisabledRecord = toml::from_str(text)?;
        if r.version != Self::VERSION {
            return Err(RecordError::Version(r.version));
        }
        Ok(r)
    }

    pub fn to_text(&self) -> String {
        let header = "# Windows Firewall rules posternd init disabled; posternd uninstall enables\n\
                      # exactly these again. Do not edit.\n";
        // Serialising plain strings and integers cannot fail.
        header.to_owned() + &toml::to_string(self).unwrap_or_default()
    }

    /// This record plus `newly` disabled rules (a second `init` after new
    /// doors were added): the earlier entries are kept, so uninstall still
    /// restores them; a rule already recorded is not recorded twice.
    pub fn merged(mut self, newly: &[DisabledRule]) -> DisabledRecord {
        self.version = Self::VERSION;
        for n in newly {
            let dup = self.rules.iter().any(|r| {
                r.name == n.name
                    && r.protocol == n.protocol
                    && r.local_ports == n.local_ports
                    && r.application == n.application
                    && r.service == n.service
            });
            if !dup {
                self.rules.push(n.clone());
            }
        }
        self
    }
}

/// The rules [`covering`] found, each once (a rule covering two doors is
/// disabled once), in the order found.
pub fn to_disable(found: &[Covering]) -> Vec<RuleView> {
    let mut out: Vec<RuleView> = Vec::new();
    for c in found {
        if !out.contains(&c.rule) {
            out.push(c.rule.clone());
        }
    }
    out
}

/// What `uninstall` does with each recorded rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    /// Disabled as we left it: enable it again.
    Enable(DisabledRule),
    /// Someone enabled it meanwhile: nothing to do.
    AlreadyEnabled(DisabledRule),
    /// It no longer exists (removed by an update or an admin): not
    /// recreated, only reported.
    Gone(DisabledRule),
}

/// For every recorded rule, what restoring it means given the rules now
/// present. Enabling touches only rules matching the record exactly.
pub fn restore_plan(record: &DisabledRecord, rules: &[RuleView]) -> Vec<Restore> {
    record
        .rules
        .iter()
        .map(|d| {
            let mut matching = rules.iter().filter(|r| d.matches(r)).peekable();
            if matching.peek().is_none() {
                Restore::Gone(d.clone())
            } else if matching.any(|r| !r.enabled) {
                Restore::Enable(d.clone())
            } else {
                Restore::AlreadyEnabled(d.clone())
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "winfw_rules_tests.rs"]
mod tests;
