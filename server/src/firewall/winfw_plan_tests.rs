//! Grant → rule parameters, reading rules back, and the add/remove plan.

use super::*;

const RDP: ProtectedPort = ProtectedPort {
    proto: Proto::Tcp,
    port: 3389,
};
const DNS: ProtectedPort = ProtectedPort {
    proto: Proto::Udp,
    port: 53,
};

fn v4() -> IpAddr {
    "198.18.0.2".parse().expect("literal")
}

fn v6() -> IpAddr {
    "fd00::2".parse().expect("literal")
}

/// `rule` as Windows reports it back after adding it.
fn read_back(rule: &GrantRule) -> RuleView {
    RuleView {
        name: rule.name.clone(),
        description: rule.description.clone(),
        group: GROUP.to_owned(),
        enabled: true,
        inbound: true,
        allow: true,
        protocol: rule.protocol,
        local_ports: rule.local_ports.clone(),
        remote_addresses: match rule.source {
            IpAddr::V4(a) => format!("{a}/255.255.255.255"),
            IpAddr::V6(a) => format!("{a}/128"),
        },
        application: String::new(),
        service: String::new(),
        profiles: 0x7fff_ffff,
    }
}

#[test]
fn a_grant_becomes_one_narrow_rule_in_our_group() {
    let r = grant_rule(v4(), RDP, 1_800_000_030_000);
    assert_eq!(r.name, "Postern grant 3389/tcp 198.18.0.2");
    assert_eq!(r.protocol, 6);
    assert_eq!(r.local_ports, "3389");
    assert_eq!(r.remote_addresses, "198.18.0.2");
    assert_eq!(deadline_of(&r.description), Some(1_800_000_030_000));
    let r6 = grant_rule(v6(), DNS, 5);
    assert_eq!(r6.name, "Postern grant 53/udp fd00::2");
    assert_eq!((r6.protocol, r6.remote_addresses.as_str()), (17, "fd00::2"));
}

#[test]
fn rules_read_back_are_recognised_only_when_exact() {
    for (src, port) in [(v4(), RDP), (v6(), DNS)] {
        let rule = grant_rule(src, port, 42);
        let view = read_back(&rule);
        assert_eq!(parse_grant(&view), Some((src, port, Some(42))));
        // Bare addresses are read the same.
        let bare = RuleView {
            remote_addresses: src.to_string(),
            ..view.clone()
        };
        assert_eq!(parse_grant(&bare), Some((src, port, Some(42))));
        // Widened or changed behind our back: not a grant (stale).
        for changed in [
            RuleView {
                remote_addresses: "*".into(),
                ..view.clone()
            },
            RuleView {
                remote_addresses: format!("{src},198.18.0.9"),
                ..view.clone()
            },
            RuleView {
                local_ports: "*".into(),
                ..view.clone()
            },
            RuleView {
                protocol: PROTO_ANY,
                ..view.clone()
            },
            RuleView {
                inbound: false,
                ..view.clone()
            },
            RuleView {
                allow: false,
                ..view.clone()
            },
            RuleView {
                enabled: false,
                ..view.clone()
            },
        ] {
            assert_eq!(parse_grant(&changed), None, "{changed:?}");
            assert!(is_ours(&changed));
        }
        // Same name, other group: not ours at all.
        let foreign = RuleView {
            group: "Remote Desktop".into(),
            ..view
        };
        assert!(!is_ours(&foreign));
        assert_eq!(parse_grant(&foreign), None);
    }
    let narrow_v4_prefix = RuleView {
        remote_addresses: "198.18.0.2/32".into(),
        ..read_back(&grant_rule(v4(), RDP, 1))
    };
    assert!(parse_grant(&narrow_v4_prefix).is_some());
}

fn rdp_builtin() -> RuleView {
    RuleView {
        name: "Remote Desktop - User Mode (TCP-In)".into(),
        group: "@FirewallAPI.dll,-28752".into(),
        enabled: true,
        inbound: true,
        allow: true,
        protocol: 6,
        local_ports: "3389".into(),
        remote_addresses: "*".into(),
        application: r"%SystemRoot%\system32\svchost.exe".into(),
        service: "termservice".into(),
        ..RuleView::default()
    }
}

#[test]
fn plan_removes_unwanted_and_stale_adds_missing_and_keeps_live_ones_open() {
    let keep = grant_rule(v4(), RDP, 100);
    let gone = grant_rule(v6(), RDP, 50);
    let mut widened = read_back(&grant_rule("198.18.0.7".parse().expect("ip"), RDP, 9));
    widened.remote_addresses = "*".into();
    let current = vec![
        read_back(&grant_rule(v4(), RDP, 60)),
        read_back(&gone),
        widened.clone(),
        rdp_builtin(),
    ];
    let want_new = grant_rule(v4(), DNS, 100);
    let widened_wanted = grant_rule("198.18.0.7".parse().expect("ip"), RDP, 100);
    let p = plan(
        &current,
        &[keep.clone(), want_new.clone(), widened_wanted.clone()],
    );
    // The live grant is not removed and re-added (no closing gap): its
    // deadline is refreshed in place.
    assert_eq!(p.refresh, vec![keep]);
    assert_eq!(p.remove, vec![gone.name.clone(), widened.name.clone()]);
    assert_eq!(p.add, vec![want_new, widened_wanted]);
    // The built-in rule is never in a plan.
    assert!(!p.remove.iter().any(|n| n.starts_with("Remote Desktop")));
    // Reaching the wanted state leaves nothing to do.
    let done: Vec<RuleView> = [grant_rule(v4(), RDP, 100), grant_rule(v4(), DNS, 100)]
        .iter()
        .map(read_back)
        .chain([rdp_builtin()])
        .collect();
    let p = plan(
        &done,
        &[grant_rule(v4(), RDP, 100), grant_rule(v4(), DNS, 100)],
    );
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn a_duplicated_rule_of_ours_is_replaced_by_one() {
    let r = grant_rule(v4(), RDP, 100);
    let current = vec![read_back(&r), read_back(&r)];
    let p = plan(&current, std::slice::from_ref(&r));
    assert_eq!(p.remove, vec![r.name.clone()]);
    assert_eq!(p.add, vec![r]);
}

#[test]
fn the_stale_sweep_takes_every_rule_of_ours_and_nothing_else() {
    let mut odd = read_back(&grant_rule(v6(), DNS, 1));
    odd.remote_addresses = "*".into();
    let mut impostor = rdp_builtin();
    impostor.name = "Postern grant 3389/tcp 1.2.3.4".into(); // not in our group
    let current = vec![
        read_back(&grant_rule(v4(), RDP, 1)),
        read_back(&grant_rule(v4(), RDP, 1)),
        odd.clone(),
        rdp_builtin(),
        impostor,
    ];
    assert_eq!(
        sweep(&current),
        vec!["Postern grant 3389/tcp 198.18.0.2".to_owned(), odd.name]
    );
}

#[test]
fn protection_gaps_name_what_to_do() {
    let on = |name| ProfileState {
        name,
        enabled: true,
        inbound_blocked: true,
    };
    let profiles = vec![on("Domain"), on("Private"), on("Public")];
    assert_eq!(protection_gap(&profiles, &[], &[RDP]), None);
    let gap = protection_gap(&profiles, &[rdp_builtin()], &[RDP]).expect("RDP rule");
    assert!(
        gap.starts_with(
            "port 3389/tcp is already allowed by the enabled Windows Firewall rule \"Remote Desktop - User Mode (TCP-In)\": run `posternd init`"
        ),
        "{gap}"
    );
    // Nothing protected: nothing to complain about.
    assert_eq!(protection_gap(&profiles, &[rdp_builtin()], &[]), None);
    let mut off = profiles.clone();
    off[2].enabled = false;
    let gap = protection_gap(&off, &[], &[RDP]).expect("off");
    assert!(
        gap.starts_with("Windows Firewall is off for the Public profile"),
        "{gap}"
    );
    let mut open = profiles;
    open[1].inbound_blocked = false;
    let gap = protection_gap(&open, &[], &[RDP]).expect("default allow");
    assert!(gap.contains("Private profile allows inbound"), "{gap}");
}
