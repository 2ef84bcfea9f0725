//! The Windows Firewall backend over the fake rule store.

use super::*;
use crate::firewall::Proto;
use crate::firewall::winfw_plan::{GROUP, RuleView, grant_rule};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const T0: u64 = 1_800_000_000_000;
const RDP: ProtectedPort = ProtectedPort {
    proto: Proto::Tcp,
    port: 3389,
};

fn client() -> IpAddr {
    "198.18.0.2".parse().expect("literal")
}

fn stranger() -> IpAddr {
    "198.18.0.9".parse().expect("literal")
}

fn fw(store: FakeRuleStore) -> (WinFirewall<FakeRuleStore>, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(T0));
    let n = Arc::clone(&now);
    (
        WinFirewall::new(store, Box::new(move || n.load(Ordering::SeqCst))),
        now,
    )
}

fn grant(source: IpAddr, secs: u64) -> FwGrant {
    FwGrant {
        source,
        port: RDP,
        ttl: Duration::from_secs(secs),
    }
}

fn rdp_rule() -> RuleView {
    RuleView {
        name: "Remote Desktop - User Mode (TCP-In)".into(),
        group: "@FirewallAPI.dll,-28752".into(),
        enabled: true,
        inbound: true,
        allow: true,
        protocol: 6,
        local_ports: "3389".into(),
        remote_addresses: "*".into(),
        ..RuleView::default()
    }
}

#[test]
fn grant_admits_only_the_source_and_revoke_closes_it() {
    let (mut fw, now) = fw(FakeRuleStore::default());
    fw.install(&[RDP], &[]).expect("install");
    assert!(!fw.store().admits(client(), RDP));
    fw.grant(&grant(client(), 30)).expect("grant");
    assert!(fw.store().admits(client(), RDP));
    assert!(!fw.store().admits(stranger(), RDP));
    now.store(T0 + 10_000, Ordering::SeqCst);
    let live = fw.grants().expect("grants");
    assert_eq!(live.len(), 1);
    assert_eq!(
        (live[0].source, live[0].port, live[0].remaining),
        (client(), RDP, Duration::from_secs(20))
    );
    // Re-granting refreshes the deadline in place, no second rule.
    fw.grant(&grant(client(), 30)).expect("regrant");
    assert_eq!(fw.store().rules.len(), 1);
    assert_eq!(
        fw.grants().expect("grants")[0].remaining,
        Duration::from_secs(30)
    );
    fw.revoke(client(), RDP).expect("revoke");
    assert!(!fw.store().admits(client(), RDP));
    // Idempotent.
    fw.revoke(client(), RDP).expect("revoke again");
}

#[test]
fn install_sweeps_stale_rules_and_keeps_live_ones_without_a_gap() {
    let mut store = FakeRuleStore::default();
    // A crashed run left two rules of ours; the RDP rule is disabled (init).
    let mut rdp = rdp_rule();
    rdp.enabled = false;
    store.rules.push(rdp);
    let (mut fw, _) = fw(store);
    fw.grant(&grant(client(), 30)).expect("grant");
    fw.grant(&grant(stranger(), 30)).expect("grant");
    fw.store().log.clear();
    fw.install(&[RDP], &[grant(client(), 20)]).expect("install");
    assert_eq!(
        fw.store().log,
        vec![
            "remove Postern grant 3389/tcp 198.18.0.9".to_owned(),
            "describe Postern grant 3389/tcp 198.18.0.2".to_owned()
        ]
    );
    assert!(fw.store().admits(client(), RDP));
    assert!(!fw.store().admits(stranger(), RDP));
    // A full sweep (start-up, stop) leaves only the rules not ours.
    fw.grant(&grant(stranger(), 30)).expect("grant");
    assert_eq!(fw.sweep().expect("sweep"), 2);
    assert_eq!(fw.store().rules.len(), 1);
    assert_eq!(fw.store().rules[0].name, rdp_rule().name);
    fw.grant(&grant(client(), 30)).expect("grant");
    fw.revoke_all().expect("revoke all");
    assert!(!fw.store().rules.iter().any(|r| r.group == GROUP));
}

#[test]
fn install_refuses_while_another_rule_opens_the_door_and_verify_notices_it_later() {
    let mut store = FakeRuleStore::default();
    store.rules.push(rdp_rule());
    let (mut fw, _) = fw(store);
    let e = fw.install(&[RDP], &[]).expect_err("RDP rule enabled");
    assert!(
        e.to_string().starts_with(
            "Windows Firewall: port 3389/tcp is already allowed by the enabled Windows Firewall rule"
        ),
        "{e}"
    );
    // Disabled (as init does): installs, and verify is happy.
    fw.store().rules[0].enabled = false;
    fw.install(&[RDP], &[]).expect("install");
    assert_eq!(fw.verify().expect("verify"), None);
    // "Remote Desktop: On" in Settings re-enables it behind our back.
    fw.store().rules[0].enabled = true;
    let why = fw.verify().expect("verify").expect("gap");
    assert!(why.contains("Remote Desktop - User Mode (TCP-In)"), "{why}");
    fw.store().rules[0].enabled = false;
    fw.store().profiles[0].enabled = false;
    let why = fw.verify().expect("verify").expect("gap");
    assert!(why.contains("off for the Domain profile"), "{why}");
}

#[test]
fn grants_are_read_back_from_rules_a_previous_run_left() {
    let mut store = FakeRuleStore::default();
    let old = grant_rule(client(), RDP, T0 + 5_000);
    store.add(&old).expect("add");
    let (mut fw, _) = fw(store);
    let live = fw.grants().expect("grants");
    assert_eq!(live[0].remaining, Duration::from_secs(5));
    fw.uninstall().expect("uninstall");
    assert!(fw.grants().expect("grants").is_empty());
}
