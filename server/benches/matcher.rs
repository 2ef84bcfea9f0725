//! Server hot-path micro-benchmarks: junk rejection at the SPA port, mixed
//! traffic through the matcher, frame parsing, and the key-id table for
//! 10 000 users. `cargo bench -p postern-server`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use postern_proto::keyid::KeyIdTable;
use postern_proto::{ServerId, UnixTime, UserKey};
use postern_server::capture::{LinkType, parse_frame};
use postern_server::matcher::Matcher;
use postern_server::packet::{Packet, Transport};
use rand::{Rng, RngCore, SeedableRng};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

const T0: u64 = 1_800_000_000_000;

fn matcher(users: usize) -> Matcher {
    let mut text = String::from(
        r#"[server]
server_id = "00112233445566778899aabbccddeeff"
interfaces = ["eth0"]
[[door]]
name = "ssh"
proto = "tcp"
port = 22
spa = true
sequence = "7000,8000:udp,9000"
"#,
    );
    for i in 0..users {
        let mut k = [0u8; 32];
        k[..8].copy_from_slice(&(i as u64).to_be_bytes());
        text.push_str(&format!(
            "[[user]]\nname = \"u{i}\"\nkey = \"{}\"\ndoors = [\"ssh\"]\n",
            UserKey::from_bytes(k).to_base64()
        ));
    }
    let cfg = postern_server::config::parse(&text, "bench").expect("config");
    Matcher::new(cfg.policy(), T0)
}

fn junk(c: &mut Criterion) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let packets: Vec<Vec<u8>> = (0..4096)
        .map(|_| {
            let mut v = vec![0u8; rng.random_range(128..=256)];
            rng.fill_bytes(&mut v);
            v
        })
        .collect();
    // Junk that passes the header check (version 1, plausible length) and
    // costs a key-id lookup: the most expensive junk there is.
    let headered: Vec<Vec<u8>> = packets
        .iter()
        .map(|p| {
            let mut q = p.clone();
            q[0] = 1;
            q
        })
        .collect();
    let mut m = matcher(100);
    let mut g = c.benchmark_group("junk_at_spa_port");
    g.throughput(Throughput::Elements(1));
    for (name, set) in [
        ("random_bytes", &packets),
        ("valid_header_unknown_key_id", &headered),
    ] {
        let mut i = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) & 4095;
                let p = Packet {
                    src: IpAddr::V4(Ipv4Addr::new(198, 18, 0, (i & 0xff) as u8)),
                    dst: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
                    transport: Transport::Udp {
                        dst_port: 62201,
                        src_port: 40000,
                        payload: &set[i],
                    },
                };
                m.handle_packet(T0 + (i as u64), black_box(&p));
                while m.poll_event().is_some() {}
            })
        });
    }
    g.finish();
}

fn mixed(c: &mut Criterion) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
    let payload = [0u8; 64];
    let pkts: Vec<(IpAddr, u8, u16)> = (0..8192)
        .map(|_| {
            (
                IpAddr::V4(Ipv4Addr::from(0xC612_0000 | (rng.next_u32() & 0x1_ffff))),
                rng.random_range(0..3u8),
                rng.random(),
            )
        })
        .collect();
    let mut m = matcher(100);
    let mut g = c.benchmark_group("matcher");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("mixed_syn_udp_icmp_many_sources", |b| {
        b.iter(|| {
            i = (i + 1) & 8191;
            let (src, kind, port) = pkts[i];
            let transport = match kind {
                0 => Transport::Tcp {
                    dst_port: port,
                    src_port: 1,
                    seq: 5,
                    syn: true,
                    ack: false,
                },
                1 => Transport::Udp {
                    dst_port: port,
                    src_port: 1,
                    payload: &payload,
                },
                _ => Transport::IcmpEcho { payload: &payload },
            };
            m.handle_packet(
                T0 + i as u64,
                black_box(&Packet {
                    src,
                    dst: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
                    transport,
                }),
            );
            while m.poll_event().is_some() {}
        })
    });
    g.finish();
}

fn parse(c: &mut Criterion) {
    let mut frame = Vec::new();
    etherparse::PacketBuilder::ethernet2([1; 6], [2; 6])
        .ipv4([198, 18, 0, 2], [198, 18, 0, 1], 64)
        .udp(40000, 62201)
        .write(&mut frame, &[7u8; 160])
        .expect("frame");
    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_ethernet_udp", |b| {
        b.iter(|| parse_frame(LinkType::Ethernet, black_box(&frame)).is_some())
    });
    g.finish();
}

fn keyids(c: &mut Criterion) {
    let users: Vec<(usize, UserKey)> = (0..10_000usize)
        .map(|i| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_be_bytes());
            (i, UserKey::from_bytes(k))
        })
        .collect();
    let mut g = c.benchmark_group("key_id_table_10k_users");
    g.sample_size(10);
    g.bench_function("rebuild_41_steps", |b| {
        b.iter_batched(
            || KeyIdTable::new(ServerId([1; 16]), users.clone(), 20),
            |mut t| {
                t.advance(UnixTime(1_800_000_000));
                t
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("advance_one_step", |b| {
        b.iter_batched(
            || {
                let mut t = KeyIdTable::new(ServerId([1; 16]), users.clone(), 20);
                t.advance(UnixTime(1_800_000_000));
                t
            },
            |mut t| {
                t.advance(UnixTime(1_800_000_030));
                t
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, junk, mixed, parse, keyids);
criterion_main!(benches);
