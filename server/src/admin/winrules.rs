//! The Windows Firewall rule steps of `init`, `uninstall` and `check`:
//! find the enabled allow rules that open a protected port to everyone
//! (the built-in Remote Desktop rules above all), disable them when the
//! administrator agrees while recording exactly what was changed, restore
//! exactly that, and warn while one is enabled.
//!
//! Written over the [`RuleStore`] trait, so the whole flow — consent,
//! record, restore — is tested on Linux with the fake store; on Windows
//! the store is COM (`platform::windows::firewall`).

use crate::firewall::ProtectedPort;
use crate::firewall::winfw::RuleStore;
use crate::firewall::winfw_plan::RuleView;
use crate::firewall::winfw_rules::{
    DisabledRecord, DisabledRule, Restore, covering, restore_plan, to_disable,
};
use crate::state::write_atomic;
use anyhow::{Context, Result};
use std::path::Path;

fn describe(r: &RuleView) -> String {
    let scope = if r.remote_addresses.is_empty() || r.remote_addresses == "*" {
        "from anywhere".to_owned()
    } else {
        format!("from {}", r.remote_addresses)
    };
    format!("  {:?} (local ports {}, {scope})", r.name, r.local_ports)
}

fn read_record(path: &Path) -> Result<DisabledRecord> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            DisabledRecord::parse(&text).with_context(|| format!("reading {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DisabledRecord::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// `init`'s step: lists the rules that open `ports`, and disables them if
/// `consent` (shown the list) agrees, adding them to the record at
/// `record` *before* changing anything, so an interrupted run is still
/// undone by `uninstall`. Returns what to print.
pub fn disable_covering(
    store: &mut dyn RuleStore,
    ports: &[ProtectedPort],
    record: &Path,
    now_secs: u64,
    consent: &mut dyn FnMut(&[RuleView]) -> bool,
) -> Result<String> {
    let rules = store.rules()?;
    let found = to_disable(&covering(&rules, ports));
    if found.is_empty() {
        return Ok("Windows Firewall: no enabled rule opens a protected port\n".to_owned());
    }
    let mut out = format!(
        "Windows Firewall: {} enabled rule(s) open a protected port to everyone:\n",
        found.len()
    );
    for r in &found {
        out.push_str(&describe(r));
        out.push('\n');
    }
    if !consent(&found) {
        out.push_str(
            "left enabled: the doors stay open to everyone and posternd will not start until \
             they are disabled (`posternd init --rules-only --disable-rules`)\n",
        );
        return Ok(out);
    }
    let newly: Vec<DisabledRule> = found
        .iter()
        .map(|r| DisabledRule::of(r, now_secs))
        .collect();
    let merged = read_record(record)?.merged(&newly);
    write_atomic(record, merged.to_text().as_bytes(), 0o600)?;
    for d in &newly {
        store.set_enabled(d, false)?;
    }
    out.push_str(&format!(
        "disabled them; recorded in {} (`posternd uninstall` enables them again)\n",
        record.display()
    ));
    Ok(out)
}

/// `uninstall`'s step: enables again exactly the rules the record lists
/// that are still disabled, then removes the record. Returns what to print.
pub fn restore(store: &mut dyn RuleStore, record: &Path) -> Result<String> {
    let rec = read_record(record)?;
    if rec.rules.is_empty() {
        return Ok(String::new());
    }
    let mut out = String::new();
    for step in restore_plan(&rec, &store.rules()?) {
        match step {
            Restore::Enable(d) => {
                store.set_enabled(&d, true)?;
                out.push_str(&format!("enabled again: {:?}\n", d.name));
            }
            Restore::AlreadyEnabled(d) => {
                out.push_str(&format!("already enabled: {:?}\n", d.name));
            }
            Restore::Gone(d) => {
                out.push_str(&format!("no longer exists, not recreated: {:?}\n", d.name));
            }
        }
    }
    std::fs::remove_file(record).with_context(|| format!("removing {}", record.display()))?;
    Ok(out)
}

/// `check`'s warnings: one per enabled rule that opens a protected port.
pub fn warnings(store: &mut dyn RuleStore, ports: &[ProtectedPort]) -> Vec<String> {
    match store.rules() {
        Ok(rules) => covering(&rules, ports)
            .into_iter()
            .map(|c| {
                format!(
                    "port {}/{} is open to everyone: the Windows Firewall rule {:?} is enabled \
                     (`posternd init --rules-only --disable-rules` disables it, recorded for uninstall)",
                    c.port.port,
                    c.port.proto.keyword(),
                    c.rule.name
                )
            })
            .collect(),
        Err(e) => vec![format!("could not read the Windows Firewall rules: {e}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::Proto;
    use crate::firewall::winfw::FakeRuleStore;

    const RDP: ProtectedPort = ProtectedPort {
        proto: Proto::Tcp,
        port: 3389,
    };

    fn rdp(name: &str, protocol: i32) -> RuleView {
        RuleView {
            name: name.into(),
            group: "@FirewallAPI.dll,-28752".into(),
            enabled: true,
            inbound: true,
            allow: true,
            protocol,
            local_ports: "3389".into(),
            remote_addresses: "*".into(),
            service: "termservice".into(),
            ..RuleView::default()
        }
    }

    fn store() -> FakeRuleStore {
        let mut s = FakeRuleStore::default();
        s.rules.push(rdp("Remote Desktop - User Mode (TCP-In)", 6));
        s.rules.push(rdp("Remote Desktop - User Mode (UDP-In)", 17));
        s.rules.push(rdp("Web", 6));
        s.rules[2].local_ports = "443".into();
        s
    }

    fn dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("postern-winrules-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn init_disables_with_consent_and_uninstall_restores_exactly_that() {
        let d = dir("cycle");
        let record = d.join("disabled-rules.toml");
        let mut s = store();
        let before = s.rules.clone();
        assert_eq!(warnings(&mut s, &[RDP]).len(), 1);
        let mut shown = Vec::new();
        let out = disable_covering(&mut s, &[RDP], &record, 1_800_000_000, &mut |found| {
            shown = found.iter().map(|r| r.name.clone()).collect();
            true
        })
        .expect("init step");
        assert_eq!(shown, ["Remote Desktop - User Mode (TCP-In)"]);
        assert!(out.contains("disabled them; recorded in"), "{out}");
        assert!(!s.rules[0].enabled);
        assert!(
            s.rules[1].enabled && s.rules[2].enabled,
            "nothing else touched"
        );
        assert!(warnings(&mut s, &[RDP]).is_empty());
        let rec = DisabledRecord::parse(&std::fs::read_to_string(&record).expect("record"))
            .expect("parses");
        assert_eq!(rec.rules.len(), 1);
        // A second run finds nothing more and keeps the record.
        let again = disable_covering(&mut s, &[RDP], &record, 1, &mut |_| true).expect("again");
        assert!(again.contains("no enabled rule"), "{again}");
        let out = restore(&mut s, &record).expect("restore");
        assert_eq!(
            out,
            "enabled again: \"Remote Desktop - User Mode (TCP-In)\"\n"
        );
        assert_eq!(s.rules, before);
        assert!(!record.exists());
        // Nothing recorded: nothing to do.
        assert_eq!(restore(&mut s, &record).expect("nothing"), "");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn without_consent_nothing_changes_and_nothing_is_recorded() {
        let d = dir("refused");
        let record = d.join("disabled-rules.toml");
        let mut s = store();
        let before = s.rules.clone();
        let out = disable_covering(&mut s, &[RDP], &record, 1, &mut |_| false).expect("step");
        assert!(out.contains("left enabled"), "{out}");
        assert!(
            out.contains(
                "\"Remote Desktop - User Mode (TCP-In)\" (local ports 3389, from anywhere)"
            ),
            "{out}"
        );
        assert_eq!(s.rules, before);
        assert!(s.log.is_empty(), "{:?}", s.log);
        assert!(!record.exists());
        let w = warnings(&mut s, &[RDP]);
        assert!(
            w[0].starts_with("port 3389/tcp is open to everyone"),
            "{w:?}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_rule_removed_meanwhile_is_reported_not_recreated() {
        let d = dir("gone");
        let record = d.join("disabled-rules.toml");
        let mut s = store();
        disable_covering(&mut s, &[RDP], &record, 1, &mut |_| true).expect("step");
        s.rules.remove(0);
        let out = restore(&mut s, &record).expect("restore");
        assert_eq!(
            out,
            "no longer exists, not recreated: \"Remote Desktop - User Mode (TCP-In)\"\n"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}
