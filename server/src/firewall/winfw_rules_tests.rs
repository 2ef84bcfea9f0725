//! Detection of rules that open a protected port, the record of what
//! `init` disabled, and the restore plan of `uninstall`.

use super::super::winfw_plan::GROUP;
use super::*;

const RDP: ProtectedPort = ProtectedPort {
    proto: Proto::Tcp,
    port: 3389,
};
const RDP_UDP: ProtectedPort = ProtectedPort {
    proto: Proto::Udp,
    port: 3389,
};

fn rule(name: &str, protocol: i32, ports: &str) -> RuleView {
    RuleView {
        name: name.into(),
        group: "@FirewallAPI.dll,-28752".into(),
        enabled: true,
        inbound: true,
        allow: true,
        protocol,
        local_ports: ports.into(),
        remote_addresses: "*".into(),
        application: r"%SystemRoot%\system32\svchost.exe".into(),
        service: "termservice".into(),
        ..RuleView::default()
    }
}

/// What a stock Windows Server with Remote Desktop on shows, plus noise.
fn snapshot() -> Vec<RuleView> {
    let mut shadow = rule("Remote Desktop - Shadow (TCP-In)", 6, "*");
    shadow.enabled = false;
    let mut outbound = rule("Remote Desktop - out", 6, "3389");
    outbound.inbound = false;
    let mut block = rule("Block 3389", 6, "3389");
    block.allow = false;
    let mut ours = rule("Postern grant 3389/tcp 198.18.0.2", 6, "3389");
    ours.group = GROUP.into();
    vec![
        rule("Remote Desktop - User Mode (TCP-In)", 6, "3389"),
        rule("Remote Desktop - User Mode (UDP-In)", 17, "3389"),
        shadow,
        outbound,
        block,
        ours,
        rule("Core Networking - RPC", 6, "RPC"),
        rule("Web", 6, "80,443"),
        rule("Everything", 256, ""),
        rule("Range", 6, "3000-4000"),
    ]
}

#[test]
fn enabled_inbound_allow_rules_covering_a_door_are_found_and_nothing_else() {
    let found = covering(&snapshot(), &[RDP, RDP_UDP]);
    let names: Vec<(&str, u16, Proto)> = found
        .iter()
        .map(|c| (c.rule.name.as_str(), c.port.port, c.port.proto))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Remote Desktop - User Mode (TCP-In)", 3389, Proto::Tcp),
            ("Remote Desktop - User Mode (UDP-In)", 3389, Proto::Udp),
            ("Everything", 3389, Proto::Tcp),
            ("Everything", 3389, Proto::Udp),
            ("Range", 3389, Proto::Tcp),
        ]
    );
    // Each rule is disabled once even if it covers two doors.
    let names: Vec<String> = to_disable(&found).into_iter().map(|r| r.name).collect();
    assert_eq!(
        names,
        vec![
            "Remote Desktop - User Mode (TCP-In)",
            "Remote Desktop - User Mode (UDP-In)",
            "Everything",
            "Range"
        ]
    );
}

#[test]
fn local_port_specs_are_read_like_windows_writes_them() {
    for (spec, port, want) in [
        ("3389", 3389, true),
        ("3388", 3389, false),
        ("80, 3389", 3389, true),
        ("3000-4000", 3389, true),
        ("3390-4000", 3389, false),
        ("*", 1, true),
        ("", 1, true),
        ("RPC", 49700, false),
        ("RPC-EPMap", 135, false),
        ("IPHTTPSIn", 443, false),
        ("junk-", 3389, false),
    ] {
        assert_eq!(ports_cover(spec, port), want, "{spec} {port}");
    }
}

#[test]
fn the_record_round_trips_merges_and_refuses_unknown_versions() {
    let tcp = DisabledRule::of(&snapshot()[0], 1_800_000_000);
    let udp = DisabledRule::of(&snapshot()[1], 1_800_000_100);
    let rec = DisabledRecord::default().merged(std::slice::from_ref(&tcp));
    let text = rec.to_text();
    assert!(text.starts_with("# Windows Firewall rules posternd init disabled"));
    assert!(text.contains("[[rule]]"), "{text}");
    assert!(
        text.contains(r#"application = '%SystemRoot%\system32\svchost.exe'"#)
            || text.contains(r#"application = "%SystemRoot%\\system32\\svchost.exe""#),
        "{text}"
    );
    let back = DisabledRecord::parse(&text).expect("parses");
    assert_eq!(back, rec);
    // A second init adds, keeps the first entry, and does not duplicate.
    let more = back.merged(&[tcp.clone(), udp.clone()]);
    assert_eq!(more.rules, vec![tcp, udp]);
    let e = DisabledRecord::parse("version = 7\n").expect_err("future");
    assert!(e.to_string().contains("unknown format version 7"), "{e}");
    assert!(DisabledRecord::parse("version = ").is_err());
}

#[test]
fn restore_enables_exactly_what_was_disabled_and_reports_the_rest() {
    let mut rules = snapshot();
    let tcp = DisabledRule::of(&rules[0], 1);
    let udp = DisabledRule::of(&rules[1], 1);
    let gone = DisabledRule::of(&rule("Removed by an update", 6, "3389"), 1);
    rules[0].enabled = false; // as init left it
    // udp was re-enabled by the admin meanwhile (rules[1] enabled).
    // A rule of the same name but other ports is a different rule.
    let mut lookalike = rules[0].clone();
    lookalike.local_ports = "3390".into();
    rules.push(lookalike);
    let record = DisabledRecord::default().merged(&[tcp.clone(), udp.clone(), gone.clone()]);
    assert_eq!(
        restore_plan(&record, &rules),
        vec![
            Restore::Enable(tcp.clone()),
            Restore::AlreadyEnabled(udp),
            Restore::Gone(gone)
        ]
    );
    assert!(tcp.matches(&rules[0]));
    assert!(!tcp.matches(&rules[rules.len() - 1]));
}
