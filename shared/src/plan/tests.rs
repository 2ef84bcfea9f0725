use super::*;
use crate::ServerId;
use crate::method::sequence::Knock;
use crate::profile::{DecoySettings, DoorSpec, IpPreference};
use crate::wire::DoorProto;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn profile(method: MethodSpec, decoys: u8) -> Profile {
    Profile {
        version: 1,
        name: "t".into(),
        host: "198.18.0.1".into(),
        server_id: ServerId([9; 16]),
        ip: IpPreference::Auto,
        allow: AllowMode::Source,
        doors: vec![DoorSpec {
            proto: DoorProto::Tcp,
            port: 22,
            duration: 30,
        }],
        method,
        decoys: DecoySettings {
            count: decoys,
            jitter_ms: 20,
        },
        launch: None,
    }
}

fn static_seq() -> MethodSpec {
    MethodSpec::StaticSequence {
        sequence: Sequence::parse("7000,8000:udp,9000,100:icmp").expect("valid"),
        delay_ms: 5,
    }
}

fn input(p: &Profile) -> PlanInput<'_> {
    PlanInput {
        profile: p,
        key: None,
        now: UnixTime(1_800_000_000),
        source: Some("198.18.0.2".parse().expect("ip")),
        resolved_allow: None,
        decoys: None,
    }
}

#[test]
fn static_sequence_without_decoys_is_the_sequence() {
    let p = profile(static_seq(), 0);
    let plan = plan(&input(&p), &mut ChaCha20Rng::seed_from_u64(1)).expect("plan");
    let wires: Vec<_> = plan.packets.iter().map(|p| p.wire.clone()).collect();
    assert_eq!(
        wires,
        vec![
            Wire::TcpSyn { port: 7000 },
            Wire::Udp {
                port: 8000,
                payload: vec![]
            },
            Wire::TcpSyn { port: 9000 },
            Wire::IcmpEcho {
                payload: vec![0; 100]
            },
        ]
    );
    assert!(plan.packets[1].wait >= Duration::from_millis(5));
}

#[test]
fn each_method_plans_its_packets() {
    let key = UserKey::from_bytes([3; 32]);
    let spa = profile(
        MethodSpec::Spa {
            user: "a".into(),
            key: Some(key.clone()),
            port: 62201,
            transport: SpaTransport::Udp,
            action: None,
        },
        0,
    );
    let plan_spa = plan(&input(&spa), &mut ChaCha20Rng::seed_from_u64(1)).expect("plan");
    let Wire::Udp {
        port: 62201,
        payload,
    } = &plan_spa.packets[0].wire
    else {
        panic!("{plan_spa:?}")
    };
    let pkt = crate::wire::spa::SpaPacket::new_checked(payload.as_slice()).expect("checked");
    let req = spa::open(&key, &spa.server_id, &pkt).expect("opens");
    assert_eq!(req.doors, spa.door_list());

    let syn = profile(MethodSpec::SynToken, 0);
    let plan_syn = plan(&input(&syn), &mut ChaCha20Rng::seed_from_u64(1)).expect("plan");
    assert_eq!(
        plan_syn.packets[0].wire,
        Wire::RawSyn {
            port: 1022,
            seq: 17,
            src_port: None
        }
    );

    let keyed = profile(
        MethodSpec::SynTokenKeyed {
            user: "a".into(),
            key: Some(key.clone()),
            step_secs: 30,
        },
        0,
    );
    let i = input(&keyed);
    let plan_keyed = plan(&i, &mut ChaCha20Rng::seed_from_u64(1)).expect("plan");
    let (seq, src_port) = syn_token::keyed_token(
        &key,
        &keyed.server_id,
        i.now.step(30),
        22,
        i.source.expect("src"),
    );
    assert_eq!(
        plan_keyed.packets[0].wire,
        Wire::RawSyn {
            port: 22,
            seq,
            src_port: Some(src_port)
        }
    );
    let mut no_src = input(&keyed);
    no_src.source = None;
    assert_eq!(
        plan(&no_src, &mut ChaCha20Rng::seed_from_u64(1)),
        Err(PlanError::NeedSource)
    );

    let dynamic = profile(
        MethodSpec::DynamicSequence {
            user: "a".into(),
            key: None,
            length: 3,
            port_min: 20000,
            port_max: 29999,
            proto: KnockProto::Udp,
            step_secs: 30,
        },
        0,
    );
    assert_eq!(
        plan(&input(&dynamic), &mut ChaCha20Rng::seed_from_u64(1)),
        Err(PlanError::MissingKey)
    );
    let mut with_key = input(&dynamic);
    with_key.key = Some(&key);
    let plan_dyn = plan(&with_key, &mut ChaCha20Rng::seed_from_u64(1)).expect("plan");
    let expect = dynamic.method.dynamic_params().expect("dyn").sequence_for(
        &key,
        &dynamic.server_id,
        with_key.now.step(30),
    );
    let got: Vec<u16> = plan_dyn
        .packets
        .iter()
        .filter_map(|p| p.wire.port())
        .collect();
    assert_eq!(
        got,
        expect.0.iter().map(|k: &Knock| k.value).collect::<Vec<_>>()
    );
}

fn fwknop_method(keys: Option<fwknop::FwknopKeys>) -> MethodSpec {
    MethodSpec::Fwknop {
        user: "alice".into(),
        port: 62201,
        hmac: fwknop::HmacType::Sha256,
        keys,
    }
}

/// The fwknop method: one datagram that fwknop's decoder opens with the
/// keys, naming 0.0.0.0 (fwknop's `-s`) when the allow mode is the source
/// and the resolved address otherwise; without keys there is no plan.
#[test]
fn fwknop_plans_one_packet_fwknopd_can_open() {
    let k = fwknop::FwknopKeys::new(&[1; 32], &[2; 64], fwknop::HmacType::Sha256).expect("keys");
    let mut p = profile(fwknop_method(Some(k.clone())), 0);
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let plan_for = |p: &Profile, allow, rng: &mut ChaCha20Rng| {
        let i = PlanInput {
            resolved_allow: allow,
            ..input(p)
        };
        let plan = plan(&i, rng).expect("plan");
        assert_eq!(plan.packets.len(), 1);
        let Wire::Udp { port, payload } = &plan.packets[0].wire else {
            panic!("not UDP: {plan:?}")
        };
        assert_eq!(*port, 62201);
        fwknop::open(&k, payload).expect("opens")
    };
    let m = plan_for(&p, None, &mut rng);
    assert_eq!(m.user, "alice");
    assert_eq!(m.timestamp, 1_800_000_000);
    assert_eq!(m.access.to_string(), "0.0.0.0,tcp/22");
    assert_eq!(m.client_timeout, None);
    p.allow = AllowMode::auto();
    let m = plan_for(&p, Some("198.51.100.7".parse().expect("ip")), &mut rng);
    assert_eq!(m.access.to_string(), "198.51.100.7,tcp/22");
    assert_eq!(plan(&input(&p), &mut rng), Err(PlanError::AllowNotResolved));
    let p = profile(fwknop_method(None), 0);
    assert_eq!(
        plan(&input(&p), &mut rng),
        Err(PlanError::MissingFwknopKeys)
    );
}

#[test]
fn deterministic_under_a_seed() {
    let p = profile(static_seq(), 8);
    let a = plan(&input(&p), &mut ChaCha20Rng::seed_from_u64(42)).expect("plan");
    let b = plan(&input(&p), &mut ChaCha20Rng::seed_from_u64(42)).expect("plan");
    assert_eq!(a, b);
    assert_eq!(a.packets.iter().filter(|p| p.decoy).count(), 8);
}

fn method_strategy() -> impl Strategy<Value = MethodSpec> {
    prop_oneof![
        Just(static_seq()),
        Just(MethodSpec::Spa {
            user: "a".into(),
            key: Some(UserKey::from_bytes([1; 32])),
            port: 62201,
            transport: SpaTransport::Udp,
            action: None
        }),
        Just(MethodSpec::Spa {
            user: "a".into(),
            key: Some(UserKey::from_bytes([1; 32])),
            port: 62201,
            transport: SpaTransport::Icmp,
            action: None
        }),
        Just(MethodSpec::SynToken),
        Just(MethodSpec::SynTokenKeyed {
            user: "a".into(),
            key: Some(UserKey::from_bytes([1; 32])),
            step_secs: 30
        }),
        Just(MethodSpec::DynamicSequence {
            user: "a".into(),
            key: Some(UserKey::from_bytes([1; 32])),
            length: 4,
            port_min: 30000,
            port_max: 30100,
            proto: KnockProto::Tcp,
            step_secs: 30
        }),
    ]
}

proptest! {
    #[test]
    fn decoys_never_hit_the_door_set_and_real_order_holds(method in method_strategy(), seed in any::<u64>(), count in 0u8..=64) {
        let p = profile(method, count);
        let no_decoys = plan(&PlanInput { decoys: Some(0), ..input(&p) }, &mut ChaCha20Rng::seed_from_u64(seed)).expect("plan");
        let with = plan(&input(&p), &mut ChaCha20Rng::seed_from_u64(seed)).expect("plan");
        prop_assert_eq!(with.packets.iter().filter(|p| p.decoy).count(), usize::from(count));

        // Real packets: same kinds, same ports, same order (SPA payloads differ per nonce).
        let shape = |w: &Wire| (std::mem::discriminant(w), w.port());
        let real: Vec<_> = with.real().map(|p| shape(&p.wire)).collect();
        let base: Vec<_> = no_decoys.real().map(|p| shape(&p.wire)).collect();
        prop_assert_eq!(real, base);

        let mut door_set: Vec<u16> = p.doors.iter().map(|d| d.port).collect();
        door_set.extend(no_decoys.real().filter_map(|p| p.wire.port()));
        if let MethodSpec::Spa { port, .. } = &p.method { door_set.push(*port); }
        let dyn_range = p.method.dynamic_params().map(|d| d.port_min..=d.port_max);
        let real_icmp_lens: Vec<usize> = no_decoys.real().filter_map(|p| match &p.wire { Wire::IcmpEcho { payload } => Some(payload.len()), _ => None }).collect();
        let real_protos: Vec<_> = no_decoys.real().map(|p| std::mem::discriminant(&p.wire)).collect();
        for d in with.packets.iter().filter(|p| p.decoy) {
            prop_assert!(real_protos.contains(&std::mem::discriminant(&d.wire)), "decoy {:?} uses another protocol", d.wire);
            if let Some(port) = d.wire.port() {
                prop_assert!(!door_set.contains(&port), "decoy hit {port}");
                prop_assert!(!dyn_range.as_ref().is_some_and(|r| r.contains(&port)));
            }
            match &d.wire {
                Wire::IcmpEcho { payload } if matches!(p.method, MethodSpec::StaticSequence { .. }) => {
                    prop_assert!(!real_icmp_lens.contains(&payload.len()));
                }
                Wire::RawSyn { seq, .. } => prop_assert_ne!(*seq, 17),
                Wire::Udp { payload, .. } | Wire::IcmpEcho { payload } if matches!(p.method, MethodSpec::Spa { .. }) => {
                    prop_assert!(crate::wire::spa::PADDED_LEN.contains(&payload.len()));
                }
                _ => {}
            }
            prop_assert!(d.wait <= Duration::from_millis(20));
        }
        prop_assert_eq!(with.packets[0].wait, Duration::ZERO, "no pause before the first packet");
    }
}
