use super::*;
use postern_client::engine::transmit::Progress;
use postern_client::engine::{KnockEvent, KnockReport};
use std::time::Duration;

fn state_with_run(host: &str) -> (AppState, KnockRun) {
    let mut s = AppState {
        now: 1_000,
        ..AppState::default()
    };
    let run = s.start_run(host, true).expect("first run");
    (s, run)
}

fn msg(run: &KnockRun, event: WorkerEvent) -> WorkerMsg {
    WorkerMsg { run: run.id, event }
}

#[test]
fn progress_then_open_is_recorded_and_asks_to_connect() {
    let (mut s, run) = state_with_run("Office");
    assert!(s.start_run("Office", false).is_none(), "one knock per host");
    let packet = |index| {
        WorkerEvent::Progress(KnockEvent::Packet(Progress {
            index,
            total: 3,
            dest: "192.0.2.1".parse().unwrap(),
        }))
    };
    assert_eq!(s.handle_worker(msg(&run, packet(2))), None);
    assert_eq!(s.runs["Office"].phase.message(), "Sending packet 2 of 3");
    let verifying = KnockEvent::Verifying("192.0.2.1:3389".parse().unwrap());
    let _ = s.handle_worker(msg(&run, WorkerEvent::Progress(verifying)));
    assert_eq!(s.runs["Office"].phase, Phase::Verifying);
    let report = KnockReport {
        bound: vec![],
        clock: None,
        addresses: vec![],
        packets: 3,
        verdict: Some(Verdict::Open {
            after: Duration::from_millis(38),
            reknocked: false,
        }),
    };
    let done = s
        .handle_worker(msg(&run, WorkerEvent::Finished(Ok(report))))
        .expect("finished");
    assert!(done.connect);
    assert_eq!(
        done.outcome,
        Outcome::Open {
            ms: 38,
            reknocked: false,
            bound: None,
        }
    );
    assert!(s.runs.is_empty());
    let last = s.last_result("Office").expect("logged");
    assert_eq!(last.outcome.message(), "Open after 38 ms");
    assert_eq!(last.at, 1_000);
}

#[test]
fn failure_and_closed_are_plain_words() {
    let (mut s, run) = state_with_run("A");
    let done = s
        .handle_worker(msg(
            &run,
            WorkerEvent::Finished(Err("no route to host".into())),
        ))
        .expect("finished");
    assert!(!done.connect);
    assert_eq!(
        s.last_result("A").unwrap().outcome.message(),
        "Failed: no route to host"
    );
    let run = s.start_run("A", true).unwrap();
    let report = KnockReport {
        bound: vec![],
        clock: None,
        addresses: vec![],
        packets: 6,
        verdict: Some(Verdict::StillClosed { reknocked: true }),
    };
    let done = s
        .handle_worker(msg(&run, WorkerEvent::Finished(Ok(report))))
        .unwrap();
    assert!(!done.connect, "no connection to a closed door");
    assert!(
        done.outcome
            .message()
            .starts_with("Still closed, even after a second knock")
    );
}

#[test]
fn cancel_sets_the_flag_and_ignores_late_reports() {
    let (mut s, run) = state_with_run("A");
    assert!(s.cancel("A"));
    assert!(run.cancel.load(Ordering::Relaxed));
    assert_eq!(s.last_result("A").unwrap().outcome, Outcome::Cancelled);
    // The worker's final message arrives after the cancel: ignored.
    let late = s.handle_worker(msg(&run, WorkerEvent::Finished(Err("cancelled".into()))));
    assert_eq!(late, None);
    assert_eq!(s.log.len(), 1);
    assert!(!s.cancel("A"));
}

#[test]
fn log_is_bounded_and_copyable() {
    let mut s = AppState::default();
    for i in 0..(MAX_LOG + 5) {
        s.now = i as u64;
        s.record(
            "h",
            Outcome::Sent {
                packets: i,
                bound: None,
            },
        );
    }
    assert_eq!(s.log.len(), MAX_LOG);
    assert_eq!(s.log[0].at, 5);
    let text = s.log_text();
    assert_eq!(text.lines().count(), MAX_LOG);
    assert!(text.starts_with("1970-01-01 00:00:05 UTC  h  Sent 5 packets"));
}

#[test]
fn times_in_words() {
    assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(utc_time(1_700_000_000), "2023-11-14 22:13:20 UTC");
    assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00 UTC");
    assert_eq!(ago(100, 90), "just now");
    assert_eq!(ago(1000, 100), "15 min ago");
    assert_eq!(ago(100_000, 0), "1 days ago");
}

#[test]
fn settings_draft_checks_decoys() {
    let mut d = SettingsDraft {
        settings: Settings::default(),
        decoys: String::new(),
        stun: String::new(),
        config_dir: String::new(),
        secrets: String::new(),
    };
    assert_eq!(d.decoys_problem(), None);
    d.decoys = "65".into();
    assert!(d.decoys_problem().is_some());
    d.decoys = "8".into();
    assert_eq!(d.decoys_problem(), None);
    assert_eq!(d.stun_problem(), None);
    d.stun = "stun.example.org".into();
    assert!(d.stun_problem().is_some_and(|p| p.contains("HOST:PORT")));
}

#[test]
fn the_result_says_which_address_was_bound_and_how() {
    let o = Outcome::Open {
        ms: 5,
        reknocked: false,
        bound: Some("198.18.20.1 (public address reported by STUN (198.18.20.2:3478))".into()),
    };
    assert_eq!(
        o.message(),
        "Open after 5 ms for 198.18.20.1 (public address reported by STUN (198.18.20.2:3478))"
    );
}
