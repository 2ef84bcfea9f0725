//! Protocol micro-benchmarks: SPA seal/open, key ids, dynamic sequences,
//! decoy planning. `cargo bench -p postern-proto`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use postern_proto::fixtures::{SpaFixture, test_key, test_server_id};
use postern_proto::method::sequence::{DynamicParams, Sequence};
use postern_proto::method::spa::{self, key_id};
use postern_proto::method::{DoorProto, KnockProto};
use postern_proto::plan::{PlanInput, plan};
use postern_proto::profile::{
    AllowMode, DecoySettings, DoorSpec, IpPreference, MethodSpec, Profile,
};
use postern_proto::wire::spa::SpaPacket;
use postern_proto::{Step, UnixTime};
use rand::SeedableRng;
use std::hint::black_box;

fn spa(c: &mut Criterion) {
    let f = SpaFixture::ssh(1_800_000_000);
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let mut g = c.benchmark_group("spa");
    g.throughput(Throughput::Elements(1));
    g.bench_function("seal", |b| {
        b.iter(|| spa::seal(&f.key, &f.server_id, black_box(&f.request), &mut rng))
    });
    let packet = f.seal(1);
    g.bench_function("open", |b| {
        b.iter(|| {
            let p = SpaPacket::new_checked(black_box(packet.as_slice())).expect("checked");
            spa::open(&f.key, &f.server_id, &p)
        })
    });
    g.bench_function("key_id", |b| {
        b.iter(|| key_id(&f.key, &f.server_id, black_box(Step(60_000_000))))
    });
    g.finish();
}

fn sequences(c: &mut Criterion) {
    let key = test_key();
    let server = test_server_id();
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
