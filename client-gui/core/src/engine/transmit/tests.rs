use super::*;
use postern_proto::plan::{PlanInput, plan};
use postern_proto::profile::{self, Profile};
use postern_proto::{UnixTime, UserKey};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use socket2::SockAddr;
use std::net::IpAddr;

/// Records what would have been sent.
#[derive(Default)]
pub(crate) struct FakeSink {
    pub sent: Vec<(Wire, IpAddr)>,
    /// Fail on this (1-based) packet.
    pub fail_at: Option<usize>,
}

impl PacketSink for FakeSink {
    fn send(&mut self, wire: &Wire, dest: IpAddr) -> Result<(), SendError> {
        if self.fail_at == Some(self.sent.len() + 1) {
            return Err(SendError::Divert(DivertFailure::NotElevated));
        }
        self.sent.push((wire.clone(), dest));
        Ok(())
    }
}

/// Records pauses instead of taking them.
#[derive(Default)]
pub(crate) struct FakeSleeper {
    pub waits: Vec<Duration>,
}

impl Sleeper for FakeSleeper {
    fn sleep(&mut self, d: Duration) {
        self.waits.push(d);
    }
}

pub(crate) fn profile(extra: &str) -> Profile {
    let text = format!(
        r#"version = 1
name = "Lab"
host = "198.18.0.1"
server_id = "00112233445566778899aabbccddeeff"
{extra}
[[door]]
proto = "tcp"
port = 22
"#
    );
    profile::parse(&text, "test").unwrap()
}

const SEQ: &str = r#"
[method]
kind = "static-sequence"
sequence = "7000,8000:udp,9000,64:icmp"
delay_ms = 150
[decoys]
count = 5
jitter_ms = 40
"#;

fn make(p: &Profile, seed: u64, decoys: Option<u8>) -> KnockPlan {
    let input = PlanInput {
        profile: p,
        key: None,
        now: UnixTime(1_800_000_000),
        source: None,
        resolved_allow: None,
        decoys,
    };
    plan(&input, &mut ChaCha20Rng::seed_from_u64(seed)).unwrap()
}

#[test]
fn sends_in_order_with_every_wait_and_every_decoy() {
    let p = profile(SEQ);
    let plan = make(&p, 1, None);
    assert_eq!(plan.packets.iter().filter(|p| p.decoy).count(), 5);
    let dest: IpAddr = "198.18.0.1".parse().unwrap();
    let (mut sink, mut sleeper, mut events) = (FakeSink::default(), FakeSleeper::default(), vec![]);
    transmit(&plan, dest, &mut sink, &mut sleeper, &mut |e| {
        events.push(e)
    })
    .unwrap();

    // Every packet, decoys included, in plan order, to the destination.
    let sent: Vec<Wire> = sink.sent.iter().map(|(w, _)| w.clone()).collect();
    let planned: Vec<Wire> = plan.packets.iter().map(|p| p.wire.clone()).collect();
    assert_eq!(sent, planned);
    assert!(sink.sent.iter().all(|(_, d)| *d == dest));
    // The real knocks keep their order among the decoys.
    let real: Vec<&Wire> = plan.real().map(|p| &p.wire).collect();
    assert_eq!(
        real,
        vec![
            &Wire::TcpSyn { port: 7000 },
            &Wire::Udp {
                port: 8000,
                payload: vec![]
            },
            &Wire::TcpSyn { port: 9000 },
            &Wire::IcmpEcho {
                payload: vec![0; 64]
            },
        ]
    );
    // Each pause taken before its packet; the delay_ms gap is honored.
    let waits: Vec<Duration> = plan.packets.iter().map(|p| p.wait).collect();
    assert_eq!(sleeper.waits, waits);
    for p in plan.real().skip(1) {
        assert!(p.wait >= Duration::from_millis(150), "{p:?}");
    }
    // Progress: one event per packet, 1-based, decoys not singled out.
    assert_eq!(events.len(), plan.packets.len());
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            (e.index, e.total, e.dest),
            (i + 1, plan.packets.len(), dest)
        );
    }
}

#[test]
fn stops_at_the_first_failed_packet() {
    let p = profile(SEQ);
    let plan = make(&p, 2, Some(0));
    let mut sink = FakeSink {
        fail_at: Some(2),
        ..FakeSink::default()
    };
    let err = transmit(
        &plan,
        "198.18.0.1".parse().unwrap(),
        &mut sink,
        &mut FakeSleeper::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!((err.index, err.total), (2, 4));
    assert_eq!(sink.sent.len(), 1);
    // The cause's plain words come through (the CLI and the window print
    // this text).
    assert!(
        err.to_string()
            .starts_with("packet 2 of 4: SYN-token knocks need Postern to run as administrator"),
        "{err}"
    );
}

#[test]
fn spa_plan_sends_one_datagram_per_knock() {
    let key = UserKey::from_bytes([3; 32]);
    let p = profile(
        r#"[method]
kind = "spa"
user = "alice"
port = 62201
"#,
    );
    let input = PlanInput {
        profile: &p,
        key: Some(&key),
        now: UnixTime(1_800_000_000),
        source: None,
        resolved_allow: None,
        decoys: Some(3),
    };
    let plan = plan(&input, &mut ChaCha20Rng::seed_from_u64(3)).unwrap();
    let mut sink = FakeSink::default();
    transmit(
        &plan,
        "fd00::1".parse().unwrap(),
        &mut sink,
        &mut FakeSleeper::default(),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(sink.sent.len(), 4);
    let spa: Vec<_> = sink
        .sent
        .iter()
        .filter(|(w, _)| matches!(w, Wire::Udp { port: 62201, .. }))
        .collect();
    assert_eq!(spa.len(), 1);
    assert!(sink.sent.iter().all(|(_, d)| d.is_ipv6()));
}

#[test]
fn real_udp_and_tcp_knocks_on_loopback() {
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let port = u.local_addr().unwrap().port();
    let mut sink = SocketSink::default();
    sink.send(
        &Wire::Udp {
            port,
            payload: b"hi".to_vec(),
        },
        "127.0.0.1".parse().unwrap(),
    )
    .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(u.recv(&mut buf).unwrap(), 2);
    // A closed port refuses: still a successful knock.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cport = closed.local_addr().unwrap().port();
    drop(closed);
    sink.send(&Wire::TcpSyn { port: cport }, "127.0.0.1".parse().unwrap())
        .unwrap();
}

/// A knock port normally drops the SYN. The knock must not wait for an
/// answer that never comes: `send` returns with the handshake still open,
/// and the socket is kept (so the SYN cannot be cancelled) until the sink
/// goes away after the plan.
#[test]
fn a_tcp_knock_does_not_wait_for_a_port_that_drops_it() {
    // A listener whose accept queue is full drops new SYNs: a "drop" port
    // on loopback without touching the firewall.
    let l = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    l.bind(&SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0))))
        .unwrap();
    l.listen(0).unwrap();
    let to = l.local_addr().unwrap().as_socket().unwrap();
    let _queued = std::net::TcpStream::connect(to).unwrap();
    let mut sink = SocketSink::default();
    sink.send(&Wire::TcpSyn { port: to.port() }, to.ip())
        .unwrap();
    assert_eq!(sink.tcp_knocks.len(), 1);
    let knock = &sink.tcp_knocks[0];
    assert!(
        knock.peer_addr().is_err(),
        "the knock waited for the handshake instead of leaving it in flight"
    );
    assert!(matches!(knock.take_error(), Ok(None)));
}
