//! Protocol micro-benchmarks: SPA seal/open, key ids, dynamic sequences,
//! decoy planning. `cargo bench -p postern-proto`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use postern_proto::method::sequence::{DynamicParams, Sequence};
use postern_proto::method::spa::{self, key_id};
use postern_proto::method::{Door, DoorProto, KnockProto};
use postern_proto::plan::{PlanInput, plan};
use postern_proto::profile::{
    AllowMode, DecoySettings, DoorSpec, IpPreference, MethodSpec, Profile,
};
use postern_proto::wire::spa::{AllowAddr, SpaPacket, SpaRequest};
use postern_proto::{ServerId, Step, UnixTime, UserKey};
use rand::SeedableRng;
use std::hint::black_box;

fn req() -> SpaRequest {
    SpaRequest {
        timestamp: 1_800_000_000,
        duration: 30,
        allow: AllowAddr::Source,
        doors: vec![Door {
            proto: DoorProto::Tcp,
            port: 22,
        }],
        action: None,
    }
}

fn spa(c: &mut Criterion) {
    let key = UserKey::from_bytes([1; 32]);
    let server = ServerId([2; 16]);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let mut g = c.benchmark_group("spa");
    g.throughput(Throughput::Elements(1));
    g.bench_function("seal", |b| {
        b.iter(|| spa::seal(&key, &server, black_box(&req()), &mut rng))
    });
    let packet = spa::seal(&key, &server, &req(), &mut rng).expect("seal");
    g.bench_function("open", |b| {
        b.iter(|| {
            let p = SpaPacket::new_checked(black_box(packet.as_slice())).expect("checked");
            spa::open(&key, &server, &p)
        })
    });
    g.bench_function("key_id", |b| {
        b.iter(|| key_id(&key, &server, black_box(Step(60_000_000))))
    });
    g.finish();
}

fn sequences(c: &mut Criterion) {
    let key = UserKey::from_bytes([1; 32]);
    let server = ServerId([2; 16]);
    let p = DynamicParams {
        length: 4,
        port_min: 20000,
        port_max: 29999,
        proto: KnockProto::Tcp,
        step_secs: 30,
    };
    c.bench_function("dynamic_sequence_for", |b| {
        b.iter(|| p.sequence_for(&key, &server, black_box(Step(1))))
    });
    let profile = Profile {
        version: 1,
        name: "bench".into(),
        host: "198.18.0.1".into(),
        server_id: server,
        ip: IpPreference::Auto,
        allow: AllowMode::Source,
        doors: vec![DoorSpec {
            proto: DoorProto::Tcp,
            port: 22,
            duration: 30,
        }],
        method: MethodSpec::StaticSequence {
            sequence: Sequence::parse("7000,8000:udp,9000").expect("seq"),
            delay_ms: 0,
        },
        decoys: DecoySettings {
            count: 16,
            jitter_ms: 20,
        },
        launch: None,
    };
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    c.bench_function("plan_sequence_16_decoys", |b| {
        b.iter(|| {
            plan(
                &PlanInput {
                    profile: &profile,
                    key: None,
                    now: UnixTime(1_800_000_000),
                    source: None,
                    resolved_allow: None,
                    decoys: None,
                },
                &mut rng,
            )
        })
    });
}

criterion_group!(benches, spa, sequences);
criterion_main!(benches);
