//! Tests of the BPF builder, run on a small classic-BPF interpreter that
//! implements exactly the subset `filter.rs` emits (and panics on anything
//! else), with the kernel's semantics: an out-of-bounds load drops the packet.

use super::*;
use crate::capture::LinkType;
use crate::capture::fixtures::{self, KNOCK_TCP, KNOCK_UDP, all_fixtures};
use proptest::prelude::*;

const PACKET_HOST: u32 = 0;
const PACKET_BROADCAST: u32 = 1;
const PACKET_MULTICAST: u32 = 2;

/// Runs `prog` on `pkt` as a packet socket would; returns the snap length
/// the kernel would keep (0 = dropped). `protocol` and `pkttype` are the skb
/// metadata the ancillary loads read.
fn run(prog: &[BpfInsn], pkt: &[u8], protocol: u16, pkttype: u32) -> u32 {
    let load = |off: u32, size: u16| -> Option<u32> {
        let off = usize::try_from(off).ok()?;
        let n = match size {
            op::W => 4,
            op::H => 2,
            _ => 1,
        };
        let bytes = pkt.get(off..off.checked_add(n)?)?;
        Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    };
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    loop {
        let i = prog[pc];
        let class = i.code & 0x07;
        let size = i.code & 0x18;
        let mode = i.code & 0xe0;
        match (class, mode) {
            (op::LD, op::ABS) if i.k >= op::SKF_AD_OFF => {
                a = match i.k - op::SKF_AD_OFF {
                    op::SKF_AD_PROTOCOL => u32::from(protocol),
                    op::SKF_AD_PKTTYPE => pkttype,
                    other => panic!("ancillary load {other} not emulated"),
                }
            }
            (op::LD, op::ABS) => match load(i.k, size) {
                Some(v) => a = v,
                None => return 0,
            },
            (op::LD, op::IND) => match load(x.wrapping_add(i.k), size) {
                Some(v) => a = v,
                None => return 0,
            },
            (op::LDX, op::MSH) if size == op::B => match load(i.k, op::B) {
                Some(v) => x = 4 * (v & 0x0f),
                None => return 0,
            },
            (op::ALU, _) if i.code == op::ALU | op::AND | op::K => a &= i.k,
            (op::JMP, _) if i.code == op::JMP | op::JA => {
                pc += usize::try_from(i.k).expect("ja offset");
            }
            (op::JMP, _) => {
                let taken = match i.code & 0xf0 {
                    op::JEQ => a == i.k,
                    op::JGT => a > i.k,
                    op::JGE => a >= i.k,
                    op::JSET => a & i.k != 0,
                    _ => panic!("jump opcode {:#x} not in subset", i.code),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            (op::RET, _) if i.code == op::RET | op::K => return i.k,
            _ => panic!("opcode {:#x} not in subset", i.code),
        }
        pc += 1;
    }
}

/// The structural checks the kernel's `bpf_check_classic` makes.
fn assert_valid(prog: &[BpfInsn]) {
    assert!(
        !prog.is_empty() && prog.len() <= MAX_INSNS,
        "length {}",
        prog.len()
    );
    for (pc, i) in prog.iter().enumerate() {
        if i.code & 0x07 == op::JMP {
            let targets: Vec<usize> = if i.code == op::JMP | op::JA {
                vec![pc + 1 + i.k as usize]
            } else {
                vec![pc + 1 + usize::from(i.jt), pc + 1 + usize::from(i.jf)]
            };
            for t in targets {
                assert!(t < prog.len(), "jump at {pc} out of program");
            }
        }
    }
    let last = prog.last().expect("non-empty");
    assert_eq!(last.code & 0x07, op::RET, "program must end in ret");
}

/// What the kernel would put in skb->protocol for a fixture.
fn skb_protocol(frame: &[u8]) -> u16 {
    match frame.first().map(|b| b >> 4) {
        Some(4) => 0x0800,
        Some(6) => 0x86dd,
        _ => 0,
    }
}

fn verdict(spec: &FilterSpec, link: LinkType, frame: &[u8], pkttype: u32) -> Option<bool> {
    let (kind, protocol) = match link {
        LinkType::Ethernet => (FilterLink::Ethernet, 0),
        LinkType::RawIp => (FilterLink::Network, skb_protocol(frame)),
        LinkType::LinuxSll | LinkType::LinuxSll2 => return None,
    };
    let prog = build(spec, kind).expect("small spec builds");
    assert_valid(prog.instructions());
    let snap = run(prog.instructions(), frame, protocol, pkttype);
    assert!(snap == 0 || snap == SNAP_LEN);
    Some(snap > 0)
}

#[test]
fn fixtures_are_accepted_or_rejected_as_documented() {
    for fx in all_fixtures() {
        assert_eq!(
            verdict(&fixtures::spec(), fx.link, &fx.frame, PACKET_HOST),
            fx.filter_accepts,
            "fixture {}",
            fx.name
        );
    }
}

#[test]
fn broadcast_and_multicast_pass_outgoing_and_otherhost_do_not() {
    for fx in all_fixtures()
        .into_iter()
        .filter(|f| f.filter_accepts == Some(true))
    {
        for (pkttype, expect) in [
            (PACKET_BROADCAST, true),
            (PACKET_MULTICAST, true),
            (op::PACKET_OTHERHOST, false),
            (op::PACKET_OUTGOING, false),
        ] {
            let got = verdict(&fixtures::spec(), fx.link, &fx.frame, pkttype);
            assert_eq!(got, Some(expect), "fixture {} pkttype {pkttype}", fx.name);
        }
    }
}

#[test]
fn filter_accepts_every_parsed_candidate_the_spec_wants_except_documented_cases() {
    // Parser and filter must agree, save for the limits documented at the
    // top of filter.rs (IPv6 extension headers, QinQ).
    let documented = [
        "eth_qinq_ipv4_udp_knock",
        "eth_ipv6_ext_chain_udp_knock",
        "eth_ipv6_first_fragment_tcp_syn",
    ];
    let spec = fixtures::spec();
    for fx in all_fixtures() {
        let Some(p) = fx.parsed else { continue };
        let wanted = match p.transport {
            crate::packet::Transport::Udp { dst_port, .. } => spec.udp_ports.contains(&dst_port),
            crate::packet::Transport::Tcp {
                dst_port, syn, ack, ..
            } => syn && !ack && spec.tcp_ports.contains(&dst_port),
            crate::packet::Transport::IcmpEcho { .. } => spec.icmp_echo,
        };
        let Some(accepted) = verdict(&spec, fx.link, &fx.frame, PACKET_HOST) else {
            continue;
        };
        if documented.contains(&fx.name) {
            assert!(
                wanted && !accepted,
                "fixture {} no longer a known gap",
                fx.name
            );
        } else {
            assert_eq!(accepted, wanted, "fixture {}", fx.name);
        }
    }
}

#[test]
fn spec_switches_change_the_verdicts() {
    let ping = fixtures::by_name("eth_ipv4_icmp_echo_56");
    let ping6 = fixtures::by_name("rawip_ipv6_icmpv6_echo_56");
    let ssh_syn = fixtures::by_name("eth_ipv4_tcp_syn_other_port");
    let knock = fixtures::by_name("eth_ipv6_udp_knock");

    let no_icmp = FilterSpec {
        icmp_echo: false,
        ..fixtures::spec()
    };
    assert_eq!(verdict(&no_icmp, ping.link, &ping.frame, 0), Some(false));
    assert_eq!(verdict(&no_icmp, ping6.link, &ping6.frame, 0), Some(false));
    assert_eq!(verdict(&no_icmp, knock.link, &knock.frame, 0), Some(true));

    let any_syn = FilterSpec {
        tcp_syn_any_port: true,
        tcp_ports: Vec::new(),
        ..fixtures::spec()
    };
    assert_eq!(
        verdict(&any_syn, ssh_syn.link, &ssh_syn.frame, 0),
        Some(true)
    );
    let synack = fixtures::by_name("eth_ipv4_tcp_synack");
    assert_eq!(
        verdict(&any_syn, synack.link, &synack.frame, 0),
        Some(false)
    );

    // Nothing configured: nothing reaches user space.
    for fx in all_fixtures() {
        let got = verdict(&FilterSpec::default(), fx.link, &fx.frame, 0);
        assert_ne!(got, Some(true), "fixture {}", fx.name);
    }
}

#[test]
fn port_lists_collapse_into_ranges() {
    let all = FilterSpec {
        udp_ports: (0..=u16::MAX).collect(),
        tcp_ports: (1000..=1999).rev().collect(),
        ..FilterSpec::default()
    };
    let prog = build(&all, FilterLink::Ethernet).expect("ranges are short");
    assert!(
        prog.instructions().len() < 100,
        "{}",
        prog.instructions().len()
    );
    assert_eq!(
        ranges(&[5, 3, 4, 4, 9, 65535, 65534]),
        vec![(3, 5), (9, 9), (65534, 65535)]
    );
}

#[test]
fn too_many_scattered_ports_is_an_error_not_a_bad_program() {
    let sparse = FilterSpec {
        udp_ports: (0..=u16::MAX).step_by(2).collect(),
        ..FilterSpec::default()
    };
    assert!(matches!(
        build(&sparse, FilterLink::Network),
        Err(FilterError::TooLong { .. })
    ));
}

/// Rewrites the destination port of a fixture's transport header.
fn with_dst_port(name: &str, port_at: usize, port: u16) -> (LinkType, Vec<u8>) {
    let fx = fixtures::by_name(name);
    let mut frame = fx.frame;
    frame[port_at..port_at + 2].copy_from_slice(&port.to_be_bytes());
    (fx.link, frame)
}

proptest! {
    /// Over random port sets (singles and runs, up to hundreds of ranges, so
    /// several chunks), the program is valid and accepts a UDP / TCP SYN
    /// exactly when its destination port is in the set.
    #[test]
    fn port_membership_matches_the_spec(
        singles in proptest::collection::vec(any::<u16>(), 0..400),
        runs in proptest::collection::vec((any::<u16>(), 0u16..50), 0..20),
        probes in proptest::collection::vec(any::<u16>(), 1..20),
    ) {
        let mut ports = singles;
        for (start, len) in runs {
            ports.extend((0..len).map(|i| start.wrapping_add(i)));
        }
        ports.push(KNOCK_UDP); // so the probes below include a known member
        let spec = FilterSpec {
            udp_ports: ports.clone(),
            tcp_syn_any_port: false,
            tcp_ports: ports.clone(),
            icmp_echo: false,
        };
        let mut probes = probes;
        probes.extend([KNOCK_UDP, KNOCK_TCP]);
        for port in probes {
            let want = ports.contains(&port);
            for (name, at) in [
                ("eth_ipv4_udp_knock", 14 + 20 + 2),
                ("eth_ipv4_options_tcp_syn", 14 + 24 + 2),
                ("eth_vlan_ipv6_tcp_syn", 18 + 40 + 2),
                ("rawip_ipv4_tcp_syn", 20 + 2),
                ("rawip_ipv6_udp_other_port", 40 + 2),
            ] {
                let (link, frame) = with_dst_port(name, at, port);
                prop_assert_eq!(verdict(&spec, link, &frame, PACKET_HOST), Some(want), "{} port {}", name, port);
            }
        }
    }

    /// Arbitrary bytes never make the program read out of bounds or fall off
    /// its end (the interpreter would panic), for either link kind.
    #[test]
    fn arbitrary_frames_run_to_a_ret(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        protocol in prop_oneof![Just(0x0800u16), Just(0x86dd), any::<u16>()],
        pkttype in 0u32..8,
    ) {
        for link in [FilterLink::Ethernet, FilterLink::Network] {
            let prog = build(&fixtures::spec(), link).expect("builds");
            let snap = run(prog.instructions(), &bytes, protocol, pkttype);
            prop_assert!(snap == 0 || snap == SNAP_LEN);
        }
    }
}
