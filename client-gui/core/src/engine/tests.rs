use super::transmit::tests::{FakeSink, FakeSleeper, profile};
use super::*;
use postern_proto::plan::Wire;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// Answers from a script: `None` = still closed at the deadline.
struct ScriptedProbe {
    answers: Vec<Option<Duration>>,
    asked: Vec<SocketAddr>,
    deadlines: Vec<Duration>,
}

impl DoorProbe for ScriptedProbe {
    fn wait_open(
        &mut self,
        addr: SocketAddr,
        deadline: Duration,
    ) -> std::io::Result<Option<Duration>> {
        self.asked.push(addr);
        self.deadlines.push(deadline);
        if self.answers.is_empty() {
            Ok(None)
        } else {
            Ok(self.answers.remove(0))
        }
    }
}

const SEQ: &str = r#"
[method]
kind = "static-sequence"
sequence = "7000,8000:udp,9000"
"#;

fn run(
    p: &Profile,
    opts: &KnockOptions,
    answers: Vec<Option<Duration>>,
) -> (
    Result<KnockReport, KnockError>,
    FakeSink,
    ScriptedProbe,
    Vec<KnockEvent>,
) {
    run_with(p, None, opts, answers, None)
}

/// [`run`] with a key and an address service.
fn run_with(
    p: &Profile,
    key: Option<&UserKey>,
    opts: &KnockOptions,
    answers: Vec<Option<Duration>>,
    addresses: Option<&mut (dyn AddressService + 'static)>,
) -> (
    Result<KnockReport, KnockError>,
    FakeSink,
    ScriptedProbe,
    Vec<KnockEvent>,
) {
    run_full(p, key, opts, answers, addresses, None)
}

/// [`run_with`] and a time service.
fn run_full(
    p: &Profile,
    key: Option<&UserKey>,
    opts: &KnockOptions,
    answers: Vec<Option<Duration>>,
    addresses: Option<&mut (dyn AddressService + 'static)>,
    time: Option<&mut (dyn TimeService + 'static)>,
) -> (
    Result<KnockReport, KnockError>,
    FakeSink,
    ScriptedProbe,
    Vec<KnockEvent>,
) {
    let mut sink = FakeSink::default();
    let mut probe = ScriptedProbe {
        answers,
        asked: vec![],
        deadlines: vec![],
    };
    let mut events = vec![];
    let r = {
        let mut io = Io {
            sink: &mut sink,
            sleeper: &mut FakeSleeper::default(),
            probe: &mut probe,
            now: &|| UnixTime(1_800_000_000),
            rng: &mut ChaCha20Rng::seed_from_u64(1),
            addresses,
            time,
        };
        knock(p, key, opts, &mut io, &mut |e| events.push(e))
    };
    (r, sink, probe, events)
}

#[test]
fn knock_without_verify_sends_the_plan_once() {
    let p = profile(SEQ);
    let (r, sink, probe, events) = run(&p, &KnockOptions::default(), vec![]);
    let r = r.unwrap();
    assert_eq!((r.packets, r.verdict), (3, None));
    assert_eq!(sink.sent.len(), 3);
    assert!(probe.asked.is_empty());
    assert_eq!(
        events[0],
        KnockEvent::Addresses(vec!["198.18.0.1".parse().unwrap()])
    );
}

#[test]
fn closed_door_gets_one_reknock() {
    let p = profile(SEQ);
    let opts = KnockOptions {
        verify: true,
        ..KnockOptions::default()
    };
    // Closed before the knock, closed after it, open after the re-knock.
    let (r, sink, probe, events) =
        run(&p, &opts, vec![None, None, Some(Duration::from_millis(38))]);
    let r = r.unwrap();
    assert_eq!(sink.sent.len(), 6);
    assert_eq!(probe.asked, vec!["198.18.0.1:22".parse().unwrap(); 3]);
    assert_eq!(
        probe.deadlines,
        [verify::BEFORE_KNOCK_WAIT, opts.deadline, opts.deadline]
    );
    assert!(events.contains(&KnockEvent::Reknocking));
    let v = r.verdict.unwrap();
    assert!(v.is_open());
    assert_eq!(v.message(), "open after 38 ms (after a second knock)");

    // Still closed after the re-knock; no third attempt.
    let (r, sink, _, _) = run(&p, &opts, vec![None, None, None]);
    assert_eq!(
        r.unwrap().verdict,
        Some(Verdict::StillClosed { reknocked: true })
    );
    assert_eq!(sink.sent.len(), 6);

    // --no-reknock
    let opts = KnockOptions {
        verify: true,
        reknock: false,
        ..KnockOptions::default()
    };
    let (r, sink, _, _) = run(&p, &opts, vec![None, None]);
    assert_eq!(
        r.unwrap().verdict,
        Some(Verdict::StillClosed { reknocked: false })
    );
    assert_eq!(sink.sent.len(), 3);
}

/// A door that answers before anything is sent was not opened by the
/// knock (unprotected port, an earlier grant, or a proxy that accepts every
/// connection): the verdict says so instead of "open after N ms". The
/// knock still goes out, once, and nothing is re-knocked.
#[test]
fn door_answering_before_the_knock_is_not_credited_to_it() {
    let p = profile(SEQ);
    let opts = KnockOptions {
        verify: true,
        ..KnockOptions::default()
    };
    let (r, sink, probe, events) = run(&p, &opts, vec![Some(Duration::from_millis(1))]);
    let v = r.unwrap().verdict.unwrap();
    assert_eq!(v, Verdict::AnsweredBeforeKnock);
    assert!(!v.is_open());
    assert!(v.can_connect());
    assert!(v.message().contains("already answering before the knock"));
    assert_eq!(sink.sent.len(), 3);
    assert_eq!(probe.deadlines, [verify::BEFORE_KNOCK_WAIT]);
    let door: SocketAddr = "198.18.0.1:22".parse().unwrap();
    let checked = events
        .iter()
        .position(|e| *e == KnockEvent::CheckingBefore(door));
    let first_packet = events
        .iter()
        .position(|e| matches!(e, KnockEvent::Packet(_)));
    assert!(
        checked.unwrap() < first_packet.unwrap(),
        "checked before sending: {events:?}"
    );
    assert!(!events.contains(&KnockEvent::Verifying(door)));
}

#[test]
fn address_family_follows_preference_and_override() {
    let mut p = profile(&format!("ip = \"v6\"\n{SEQ}"));
    p.host = "fd00::1".into();
    let (r, sink, _, _) = run(&p, &KnockOptions::default(), vec![]);
    let _ = r.unwrap();
    assert!(
        sink.sent
            .iter()
            .all(|(_, d)| *d == "fd00::1".parse::<IpAddr>().unwrap())
    );
    // -4 on an IPv6-only host: a clear error, nothing sent.
    let opts = KnockOptions {
        ip: Some(IpPreference::V4),
        ..KnockOptions::default()
    };
    let (r, sink, _, _) = run(&p, &opts, vec![]);
    let e = r.unwrap_err().to_string();
    assert!(e.contains("no IPv4 address"), "{e}");
    assert!(sink.sent.is_empty());
}

#[test]
fn decoy_override_and_missing_key() {
    let p = profile(SEQ);
    let opts = KnockOptions {
        decoys: Some(4),
        ..KnockOptions::default()
    };
    let (r, sink, _, _) = run(&p, &opts, vec![]);
    assert_eq!(r.unwrap().packets, 7);
    assert_eq!(sink.sent.len(), 7);
    let spa = profile("[method]\nkind = \"spa\"\nuser = \"a\"\nport = 62201\n");
    let (r, _, _, _) = run(&spa, &KnockOptions::default(), vec![]);
    assert!(matches!(r, Err(KnockError::Plan(PlanError::MissingKey))));
}

/// Answers the "what is my address" lookup from a script.
struct FakeAddresses {
    answer: Result<IpAddr, String>,
    asked: Vec<(String, Duration)>,
}

impl AddressService for FakeAddresses {
    fn public_address(
        &mut self,
        url: &str,
        _ca: Option<&str>,
        timeout: Duration,
    ) -> resolve::AddressLookup {
        self.asked.push((url.to_owned(), timeout));
        let answer = self.answer.clone().map_err(|why| ResolveError::Url {
            url: url.to_owned(),
            why,
        });
        Box::pin(std::future::ready(answer))
    }

    fn stun_address(
        &mut self,
        servers: &[String],
        local: IpAddr,
        _timeout: Duration,
    ) -> Result<crate::engine::stun::StunAnswer, crate::engine::stun::StunError> {
        Err(crate::engine::stun::StunError::Timeout {
            server: format!("{servers:?} from {local}"),
            after: Duration::ZERO,
        })
    }
}

const ALLOW_URL_SPA: &str = "[allow]\nmode = \"url\"\nurl = \"https://ip.example.org/\"\n\
     [method]\nkind = \"spa\"\nuser = \"a\"\nport = 62201\n";

#[test]
fn allow_url_asks_the_address_service_and_seals_its_answer() {
    let p = profile(ALLOW_URL_SPA);
    let key = UserKey::from_bytes([7; 32]);
    let public: IpAddr = "198.19.7.7".parse().unwrap();
    let mut lookup = FakeAddresses {
        answer: Ok(public),
        asked: vec![],
    };
    let (report, sink, _, _) = run_with(
        &p,
        Some(&key),
        &KnockOptions::default(),
        vec![],
        Some(&mut lookup),
    );
    assert_eq!(report.unwrap().packets, 1);
    assert_eq!(
        lookup.asked,
        vec![(
            "https://ip.example.org/".to_owned(),
            KnockOptions::default().url_timeout
        )]
    );
    let [(Wire::Udp { payload, .. }, _)] = sink.sent.as_slice() else {
        panic!("one SPA datagram expected: {:?}", sink.sent);
    };
    let packet = postern_proto::wire::spa::SpaPacket::new_checked(payload.as_slice()).unwrap();
    let req = postern_proto::method::spa::open(&key, &p.server_id, &packet).unwrap();
    assert_eq!(
        req.allow,
        postern_proto::wire::spa::AllowAddr::Explicit(public)
    );
}

#[test]
fn allow_url_without_an_address_service_sends_nothing() {
    let p = profile(ALLOW_URL_SPA);
    let key = UserKey::from_bytes([7; 32]);
    let (r, sink, _, _) = run_with(&p, Some(&key), &KnockOptions::default(), vec![], None);
    let e = r.unwrap_err();
    assert!(
        e.to_string().contains("asks https://ip.example.org/"),
        "{e}"
    );
    assert!(sink.sent.is_empty());
}

#[test]
fn a_failed_address_lookup_sends_nothing_and_says_why() {
    let p = profile(ALLOW_URL_SPA);
    let key = UserKey::from_bytes([7; 32]);
    let mut lookup = FakeAddresses {
        answer: Err("timed out".to_owned()),
        asked: vec![],
    };
    let (r, sink, _, events) = run_with(
        &p,
        Some(&key),
        &KnockOptions::default(),
        vec![],
        Some(&mut lookup),
    );
    let e = r.unwrap_err();
    assert!(
        matches!(&e, KnockError::Resolve(ResolveError::Url { why, .. }) if why == "timed out"),
        "{e:?}"
    );
    assert!(sink.sent.is_empty() && events.is_empty(), "{events:?}");
}

/// A refresh of one's own live grant (`check_before` off) does not ask the
/// door first: it answers then by design, and the verdict is "open".
#[test]
fn refresh_without_the_check_before() {
    let p = profile(SEQ);
    let opts = KnockOptions {
        verify: true,
        check_before: false,
        ..KnockOptions::default()
    };
    let (r, sink, probe, events) = run(&p, &opts, vec![Some(Duration::from_millis(1))]);
    assert!(r.unwrap().verdict.unwrap().is_open());
    assert_eq!(sink.sent.len(), 3);
    assert_eq!(probe.deadlines, [opts.deadline]);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, KnockEvent::CheckingBefore(_)))
    );
}

/// A time server from a script; records what it was asked.
struct FakeTime {
    answer: Result<i64, ()>,
    asked: Vec<Vec<String>>,
}

impl TimeService for FakeTime {
    fn clock_ahead(
        &mut self,
        servers: &[String],
        _timeout: Duration,
    ) -> Result<clock::TimeAnswer, clock::TimeError> {
        self.asked.push(servers.to_vec());
        self.answer
            .map(|ahead_ms| clock::TimeAnswer {
                ahead_ms,
                server: servers[0].clone(),
            })
            .map_err(|()| clock::TimeError::NoAnswer("198.18.0.9: timed out".into()))
    }
}

const SPA: &str = "[method]\nkind = \"spa\"\nuser = \"a\"\nport = 62201\n";

/// A time-dependent knock that stays closed asks the time server once,
/// after the re-knock, and the report says the clock is 10 minutes behind;
/// a knock that opens, or a method that carries no time, asks nothing.
#[test]
fn a_closed_door_asks_whether_the_clock_is_why() {
    let p = profile(SPA);
    let key = UserKey::from_bytes([7; 32]);
    let opts = KnockOptions {
        verify: true,
        time_servers: vec!["198.18.0.9:1123".into()],
        ..KnockOptions::default()
    };
    let mut time = FakeTime {
        answer: Ok(-600_000),
        asked: vec![],
    };
    let (r, _, _, events) = run_full(&p, Some(&key), &opts, vec![], None, Some(&mut time));
    let r = r.unwrap();
    assert_eq!(r.verdict, Some(Verdict::StillClosed { reknocked: true }));
    assert_eq!(
        r.clock,
        Some(ClockCheck::Wrong {
            ahead_secs: -600,
            server: "198.18.0.9:1123".into()
        })
    );
    assert_eq!(time.asked, vec![vec!["198.18.0.9:1123".to_owned()]]);
    assert_eq!(events.last(), Some(&KnockEvent::CheckingClock));

    // No answer: said so, the knock's verdict unchanged.
    let mut silent = FakeTime {
        answer: Err(()),
        asked: vec![],
    };
    let (r, _, _, _) = run_full(&p, Some(&key), &opts, vec![], None, Some(&mut silent));
    let r = r.unwrap();
    assert_eq!(r.verdict, Some(Verdict::StillClosed { reknocked: true }));
    assert!(
        matches!(r.clock, Some(ClockCheck::Unknown { .. })),
        "{:?}",
        r.clock
    );

    // Opened: no question.
    let mut unused = FakeTime {
        answer: Ok(0),
        asked: vec![],
    };
    let opened = vec![None, Some(Duration::from_millis(3))];
    let (r, _, _, _) = run_full(&p, Some(&key), &opts, opened, None, Some(&mut unused));
    assert_eq!(r.unwrap().clock, None);
    // A static sequence carries no time: no question either.
    let (r, _, _, _) = run_full(&profile(SEQ), None, &opts, vec![], None, Some(&mut unused));
    assert_eq!(r.unwrap().clock, None);
    // Nor with the check turned off (no servers).
    let off = KnockOptions {
        time_servers: vec![],
        ..opts.clone()
    };
    let (r, _, _, _) = run_full(&p, Some(&key), &off, vec![], None, Some(&mut unused));
    assert_eq!(r.unwrap().clock, None);
    assert!(unused.asked.is_empty());
}
