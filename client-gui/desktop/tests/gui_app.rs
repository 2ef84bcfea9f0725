//! The real window driven through AccessKit (egui_kittest): buttons and
//! fields are found by the names a screen reader would read. No display
//! and no GPU needed. The engine is a fake the test steps packet by packet.

mod gui_support;

use eframe::egui;
use egui_kittest::kittest::Queryable;
use gui_support::*;
use postern_client::store::HostStore;
use postern_client::store::files::FileStore;
use postern_desktop::settings::{FileSettings, SettingsStore};
use std::sync::atomic::{AtomicU64, Ordering};

#[test]
fn empty_state_explains_both_ways_to_add_a_host() {
    let dir = temp_dir("empty");
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.run();
    h.get_by_label("No servers yet");
    h.get_by_label("Import a profile file…");
    h.get_by_label("Add host by hand…");
    assert!(
        h.query_by_label_contains("drop it on this window")
            .is_some()
    );
}

#[test]
fn add_a_host_by_hand_and_it_appears() {
    let dir = temp_dir("add");
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.get_by_label("Add host…").click();
    h.run();
    type_into(&mut h, "Name", "Lab box");
    type_into(&mut h, "Server address", "192.0.2.7");
    // Validation as you type: a bad sequence says what is wrong.
    type_into(&mut h, "Knock sequence", "7000,99999");
    assert!(
        h.query_by_label_contains("expected a number from 1 to 65535")
            .is_some()
    );
    h.get_by_label("Knock sequence").focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Knock sequence")
        .type_text("7000,8000:udp,9000");
    h.run();
    assert!(h.query_by_label_contains("expected a number").is_none());
    type_into(&mut h, "Port to open", "22");
    h.get_by_label("SSH terminal").click();
    h.run();
    h.get_by_label("Save").click();
    h.run();
    h.get_by_label("Lab box");
    h.get_by_label("Connect Lab box");
    h.get_by_label("More for Lab box");
    assert!(
        h.query_by_label_contains("192.0.2.7").is_none(),
        "behind Details"
    );
    h.get_by_label("Details").click();
    h.run();
    assert!(h.query_by_label_contains("192.0.2.7").is_some());
    let saved = FileStore::new(&dir).hosts().unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].method.label(), "sequence");
}

#[test]
fn knock_shows_progress_then_open() {
    let dir = temp_dir("knock");
    add_lab_host(&dir);
    let fake = Fake::new(open_after(42));
    let mut h = harness(app(&dir, fake.clone(), None));
    knock_only(&mut h, "Lab");
    wait_for(&mut h, "Sending packet 1 of 3");
    fake.go(1);
    wait_for(&mut h, "Sending packet 2 of 3");
    fake.go(1);
    wait_for(&mut h, "Sending packet 3 of 3");
    fake.go(1);
    wait_for(&mut h, "Verifying that the port opened");
    assert!(
        h.query_by_label("Connect Lab").is_none(),
        "no second knock meanwhile"
    );
    fake.go(1);
    wait_for(&mut h, "Open after 42 ms");
    // Now a connect button, and the activity log has the entry.
    h.get_by_label("Connect Lab");
    h.get_by_label("Copy log");
    assert!(
        h.query_all_by_label_contains("Lab  Open after 42 ms")
            .next()
            .is_some()
    );
}

#[test]
fn failed_knock_says_why() {
    let dir = temp_dir("fail");
    add_lab_host(&dir);
    let fake = Fake::new(Err(
        "knocking 192.0.2.1 failed at packet 2 of 3: network is unreachable".into(),
    ));
    let mut h = harness(app(&dir, fake.clone(), None));
    knock_only(&mut h, "Lab");
    h.run();
    fake.go(4);
    wait_for(&mut h, "Failed: knocking 192.0.2.1 failed");
    // The card: plain words and what to try; the sentence above is the log's.
    h.get_by_label("The knock did not work");
    assert!(h.query_by_label_contains("copy the activity log").is_some());
}

#[test]
fn still_closed_says_what_to_try() {
    let dir = temp_dir("closed");
    add_lab_host(&dir);
    let fake = Fake::new(Ok(postern_client::engine::KnockReport {
        bound: vec![],
        clock: None,
        addresses: vec![],
        packets: 6,
        verdict: Some(postern_client::engine::verify::Verdict::StillClosed { reknocked: true }),
    }));
    let mut h = harness(app(&dir, fake.clone(), None));
    knock_only(&mut h, "Lab");
    h.run();
    fake.go(4);
    wait_for(&mut h, "Still closed, even after a second knock");
    assert!(
        h.query_all_by_label_contains("clock is right")
            .next()
            .is_some()
    );
}

/// A knock that stays closed because this computer's clock is 10 minutes
/// behind (the engine asked a time server): the card says exactly that and
/// how to fix it, not the generic "did not open" (issue #18: "clock off by
/// N minutes → your computer's clock is wrong").
#[test]
fn a_wrong_clock_is_the_plain_reason() {
    use postern_client::engine::clock::ClockCheck;
    let dir = temp_dir("clock");
    add_lab_host(&dir);
    let fake = Fake::new(Ok(postern_client::engine::KnockReport {
        bound: vec![],
        clock: Some(ClockCheck::Wrong {
            ahead_secs: -600,
            server: "time.cloudflare.com".into(),
        }),
        addresses: vec![],
        packets: 6,
        verdict: Some(postern_client::engine::verify::Verdict::StillClosed { reknocked: true }),
    }));
    let mut h = harness(app(&dir, fake.clone(), None));
    knock_only(&mut h, "Lab");
    h.run();
    fake.go(4);
    wait_for(&mut h, "Your computer's clock is 10 minutes behind");
    assert!(
        h.query_all_by_label_contains("Set the right date and time")
            .next()
            .is_some()
    );
    assert!(
        h.query_all_by_label_contains("The server did not open")
            .next()
            .is_none(),
        "the clock is the headline, not the generic failure"
    );
}

/// A port that answered before the knock is not reported as opened by
/// it (issue #18, "honest verification"); connecting is still offered.
#[test]
fn port_answering_before_the_knock_is_said_plainly() {
    let dir = temp_dir("before");
    add_lab_host(&dir);
    let fake = Fake::new(Ok(postern_client::engine::KnockReport {
        bound: vec![],
        clock: None,
        addresses: vec![],
        packets: 3,
        verdict: Some(postern_client::engine::verify::Verdict::AnsweredBeforeKnock),
    }));
    let mut h = harness(app(&dir, fake.clone(), None));
    knock_only(&mut h, "Lab");
    h.run();
    fake.go(4);
    wait_for(&mut h, "already answering before the knock");
    assert!(
        h.query_all_by_label_contains("Open after").next().is_none(),
        "no claim that the knock opened it"
    );
    assert!(
        h.query_all_by_label_contains("proxy on your network")
            .next()
            .is_some()
    );
    h.get_by_label("Connect Lab");
}

#[test]
fn cancel_mid_knock() {
    let dir = temp_dir("cancel");
    add_lab_host(&dir);
    let fake = Fake::new(open_after(5));
    let mut h = harness(app(&dir, fake.clone(), None));
    knock_only(&mut h, "Lab");
    wait_for(&mut h, "Sending packet 1 of 3");
    h.get_by_label("Cancel knock Lab").click();
    h.run();
    wait_for(&mut h, "Cancelled");
    h.get_by_label("Connect Lab");
    // The worker really stopped (it saw the flag at its next step).
    let t = std::time::Instant::now();
    while !fake.saw_cancel.load(Ordering::Relaxed) {
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // Whatever it reports afterwards is ignored.
    for _ in 0..5 {
        h.step();
    }
    assert!(h.query_all_by_label_contains("Failed").next().is_none());
}

#[test]
fn import_signed_profile_after_trusting_the_signer() {
    let dir = temp_dir("import");
    let admin = admin(1);
    let path = dir.join("office.postern");
    std::fs::write(&path, signed_profile(&admin)).unwrap();
    let fp = admin.public().fingerprint().to_string();
    let mut h = harness(app(&dir, Fake::new(open_after(1)), Some(path)));
    h.get_by_label("Import profile…").click();
    h.run();
    h.get_by_label("Trust this administrator?");
    h.get_by_label(&fp);
    assert!(FileStore::new(&dir).hosts().unwrap().is_empty());
    h.get_by_label("Trust and import").click();
    h.run();
    h.get_by_label("Office");
    h.get_by_label("Connect Office");
    h.get_by_label("Details").click();
    h.run();
    h.get_by_label(&format!("From your administrator (key {fp})"));
    assert!(h.query_by_label_contains("Imported Office").is_some());
}

#[test]
fn refusing_to_trust_changes_nothing() {
    let dir = temp_dir("distrust");
    let path = dir.join("office.postern");
    std::fs::write(&path, signed_profile(&admin(1))).unwrap();
    let mut h = harness(app(&dir, Fake::new(open_after(1)), Some(path)));
    h.get_by_label("Import profile…").click();
    h.run();
    h.get_by_label("Don't import").click();
    h.run();
    h.get_by_label("No servers yet");
    assert!(FileStore::new(&dir).signers().unwrap().by_server.is_empty());
}

#[test]
fn tampered_profile_dropped_on_the_window_is_refused() {
    let dir = temp_dir("tamper");
    add_lab_host(&dir);
    let path = dir.join("office.postern");
    std::fs::write(
        &path,
        signed_profile(&admin(1)).replace("198.18.0.1", "198.18.0.66"),
    )
    .unwrap();
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.run();
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(path)));
    h.run();
    h.get_by_label("Profile refused");
    assert!(
        h.query_by_label_contains("changed after it was signed")
            .is_some()
    );
    h.get_by_label("Close").click();
    h.run();
    // The list is unchanged: still only Lab.
    h.get_by_label("Connect Lab");
    assert!(h.query_by_label("Office").is_none());
    assert_eq!(FileStore::new(&dir).hosts().unwrap().len(), 1);
}

#[test]
fn settings_dialog_saves() {
    let dir = temp_dir("settings");
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.get_by_label("Settings").click();
    h.run();
    type_into(&mut h, "Decoy packets per knock", "6");
    h.get_by_label("IPv4 only").click();
    h.get_by_label("Dark").click();
    h.run();
    assert!(h.query_by_label_contains("Keys: mock").is_some());
    h.get_by_label("Save").click();
    h.run();
    let text = std::fs::read_to_string(dir.join("gui-settings.toml")).unwrap();
    assert!(text.contains("decoys = 6"), "{text}");
    assert!(text.contains("ip = \"v4\""), "{text}");
    assert!(text.contains("theme = \"dark\""), "{text}");
}

#[test]
fn settings_dialog_saves_stun_servers_and_refuses_a_bad_entry() {
    let dir = temp_dir("settings-stun");
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.get_by_label("Settings").click();
    h.run();
    type_into(&mut h, "STUN servers", "stun.example.org:3478, 198.18.0.9");
    assert!(
        h.query_by_label_contains("\"198.18.0.9\" is not HOST:PORT")
            .is_some()
    );
    h.get_by_label("Save").click();
    h.run();
    assert!(
        !dir.join("gui-settings.toml").exists(),
        "settings were saved with a bad STUN server"
    );
    h.get_by_label("STUN servers").focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("STUN servers")
        .type_text("stun.example.org:3478, 198.18.0.9:3478");
    h.run();
    assert!(h.query_by_label_contains("is not HOST:PORT").is_none());
    h.get_by_label("Save").click();
    h.run();
    assert!(h.query_by_label_contains("Settings saved").is_some());
    let saved = FileSettings::new(&dir).load_settings().unwrap();
    assert_eq!(saved.stun, ["stun.example.org:3478", "198.18.0.9:3478"]);
    let text = std::fs::read_to_string(dir.join("gui-settings.toml")).unwrap();
    assert!(
        text.contains("stun = [\"stun.example.org:3478\", \"198.18.0.9:3478\"]"),
        "{text}"
    );
}

/// The one large button does what the host is for: "Connect" when there
/// is a program to start (port 22: SSH), "Open" otherwise; knock-only,
/// edit and remove wait in the "More…" menu.
#[test]
fn primary_action_follows_the_host_kind() {
    use rand::SeedableRng;
    let dir = temp_dir("primary");
    add_lab_host(&dir);
    let plain = postern_client::import::knockd_door_profile(
        "Files",
        "192.0.2.2",
        "7000,8000,9000",
        "7777/tcp",
        0,
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(4),
    )
    .unwrap();
    FileStore::new(&dir).save_host(&plain).unwrap();
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.get_by_label("Connect Lab");
    h.get_by_label("Open Files");
    assert!(h.query_by_label("Connect Files").is_none());
    assert!(h.query_by_label("Remove Lab").is_none(), "in the menu");
    h.get_by_label("More for Lab").click();
    h.run();
    h.get_by_label("Knock only Lab");
    h.get_by_label("Remove Lab");
}

/// Remove asks first, and Undo puts the host (and its place in the
/// list) back until the app closes.
#[test]
fn remove_asks_and_can_be_undone() {
    let dir = temp_dir("undo");
    add_lab_host(&dir);
    let mut h = harness(app(&dir, Fake::new(open_after(1)), None));
    h.get_by_label("More for Lab").click();
    h.run();
    h.get_by_label("Remove Lab").click();
    h.run();
    h.get_by_label("Remove Lab?");
    assert!(h.query_by_label_contains("undo this").is_some());
    h.get_by_label("Remove").click();
    h.run();
    h.get_by_label("No servers yet");
    assert!(FileStore::new(&dir).hosts().unwrap().is_empty());
    h.get_by_label("Undo").click();
    h.run();
    h.get_by_label("Connect Lab");
    assert!(h.query_by_label_contains("Lab is back").is_some());
    assert_eq!(FileStore::new(&dir).hosts().unwrap().len(), 1);
}

static NOW: AtomicU64 = AtomicU64::new(CLOCK);

/// After an open the card counts the grant down (a fake clock moves it),
/// then says the door closed again.
#[test]
fn open_door_counts_down() {
    let dir = temp_dir("countdown");
    add_lab_host(&dir);
    let fake = Fake::new(open_after(42));
    let mut a = app(&dir, fake.clone(), None);
    a.controller.services.clock = || NOW.load(Ordering::Relaxed);
    let mut h = harness(a);
    knock_only(&mut h, "Lab");
    fake.go(4);
    wait_for(&mut h, "Open for you for 30 s — connect now");
    NOW.store(CLOCK + 12, Ordering::Relaxed);
    wait_for(&mut h, "Open for you for 18 s — connect now");
    NOW.store(CLOCK + 31, Ordering::Relaxed);
    wait_for(&mut h, "Closed again");
    assert!(
        h.query_by_label_contains("Connections you opened stay up")
            .is_some()
    );
}

/// Each failure says what happened in plain words and one thing to try;
/// the technical sentence is only in Details and the log.
#[test]
fn failure_reason_is_plain_with_a_suggestion() {
    let dir = temp_dir("plain");
    add_lab_host(&dir);
    let fake = Fake::new(Err(postern_desktop::worker::KnockFailure {
        kind: postern_client::engine::FailureKind::Offline,
        message: "knocking 192.0.2.1 failed at packet 1 of 3: network is unreachable".into(),
    }));
    let mut h = harness(app(&dir, fake.clone(), None));
    knock_only(&mut h, "Lab");
    fake.go(4);
    wait_for(&mut h, "This computer seems to be offline");
    h.get_by_label("Check your network connection, then try again.");
}

/// Keyboard only: Tab reaches the card's one button, Enter knocks.
#[test]
fn keyboard_tab_to_the_card_and_enter_knocks() {
    let dir = temp_dir("keys");
    add_lab_host(&dir);
    let fake = Fake::new(open_after(7));
    let mut h = harness(app(&dir, fake.clone(), None));
    let mut tabs = 0;
    while !h.get_by_label("Connect Lab").is_focused() {
        tabs += 1;
        assert!(tabs <= 12, "Tab never reached the card's button");
        h.key_press(egui::Key::Tab);
        h.run();
    }
    h.key_press(egui::Key::Enter);
    h.run();
    wait_for(&mut h, "Sending packet 1 of 3");
    fake.go(4);
    wait_for(&mut h, "Open after 7 ms");
}

/// The door's state is a live region (screen readers announce it as it
/// changes), and Ctrl+I / Ctrl+N reach import and add without the mouse.
#[test]
fn state_is_announced_and_shortcuts_work() {
    use egui_kittest::kittest::NodeT;
    let dir = temp_dir("a11y");
    add_lab_host(&dir);
    let pick = dir.join("nothing-picked.postern");
    let mut h = harness(app(&dir, Fake::new(open_after(1)), Some(pick)));
    h.run();
    let closed = h.get_by_label("Closed");
    assert_eq!(
        closed.accesskit_node().live(),
        egui::accesskit::Live::Polite
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    h.run();
    h.get_by_label("Knock sequence");
    h.key_press(egui::Key::Escape);
    h.run();
    assert!(h.query_by_label("Knock sequence").is_none());
    // Ctrl+I asks for a file (here: one that does not exist, so the
    // import says so by name).
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::I);
    h.run();
    assert!(
        h.query_all_by_label_contains("nothing-picked.postern")
            .next()
            .is_some()
    );
}
