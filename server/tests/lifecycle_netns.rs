//! The administrator's user lifecycle against the real `posternd` in two
//! network namespaces, driven by the real `posternd user …` commands with
//! `--reload`: a removed user's knock is refused and logged while another
//! user still opens; a rotated key works through its grace period and not
//! after, while the new profile opens; a user added with `--expires` opens
//! before that moment and not after. Run as root.
//!
//! The only waits are past a deadline the config names (grace, expiry,
//! a grant's TTL); nothing asserts how long anything took.
#![cfg(target_os = "linux")]

mod support;

use postern_proto::UnixTime;
use postern_proto::profile::{AllowMode, Profile};
use postern_proto::sign::AdminKey;
use postern_server::config;
use rand::SeedableRng;
use std::net::IpAddr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use support::stage::Stage;
use support::*;

/// The standard stage, with an admin key and a public host so `user add`
/// and `user rotate` can issue profiles, and a second user bob (SPA only).
fn stage(tag: &str, subnet: u8) -> Option<Stage> {
    let key_file =
        std::env::temp_dir().join(format!("postern-life-admin-{}-{tag}", std::process::id()));
    let admin = AdminKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(5));
    std::fs::write(&key_file, admin.to_base64().as_bytes()).expect("admin key");
    Stage::with_config(tag, subnet, "nftables", false, |c| {
        let c = c.replacen(
            "[limits]",
            &format!(
                "admin_key_file = \"{}\"\npublic_host = \"198.18.0.1\"\n\n[limits]",
                key_file.display()
            ),
            1,
        );
        format!(
            "{c}\n# Bob, the build robot.\n[[user]]\nname = \"bob\"\nkey = \"{}\"\ndoors = [\"spa\"]\nmax_duration = {TTL}\n",
            postern_proto::UserKey::from_bytes(BOB).to_base64()
        )
    })
}

const BOB: [u8; 32] = [0x77; 32];

fn posternd(st: &Stage, args: &[&str]) -> Output {
    let out = std::process::Command::new(posternd_bin())
        .args(["--config", &st.cfg.display().to_string()])
        .args(args)
        .output()
        .expect("run posternd");
    assert!(out.status.success(), "posternd {args:?}: {out:?}");
    out
}

/// Waits until the daemon logged its `n`th reload.
fn wait_reloads(st: &Stage, n: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while st.daemon.log_text().matches("reloaded").count() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload #{n}:\n{}",
            st.daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An SPA knock with `p` at `at` from `from`, letting in `from` (profiles
/// issued by `user add` bind the address: the plan names it).
fn knock(st: &Stage, p: &Profile, at: UnixTime, from: IpAddr) {
    let plan = postern_proto::plan::plan(
        &postern_proto::plan::PlanInput {
            profile: p,
            key: None,
            now: at,
            source: Some(from),
            resolved_allow: Some(from),
            decoys: Some(0),
        },
        &mut rand_chacha::ChaCha20Rng::seed_from_u64(at.0),
    )
    .expect("plan");
    send(&st.net, st.server(), from, &plan);
}

fn spa(key: [u8; 32]) -> Profile {
    profile(spa_method(key), SPA_PORT, AllowMode::Source, sid())
}

/// A profile file as `posternd user …` wrote it.
fn issued(path: &Path) -> Profile {
    let text = std::fs::read_to_string(path).expect("profile");
    let (body, signer) = postern_proto::sign::verify_text(&text).expect("signed");
    assert!(signer.is_some());
    postern_proto::profile::parse(body, "issued").expect("valid")
}

/// Sleeps until the wall clock is past `deadline` (and a grant given just
/// before it has expired too).
fn wait_past(deadline: UnixTime) {
    let until = deadline.0 + u64::from(TTL) + 1;
    while now().0 <= until {
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn user(st: &Stage, name: &str) -> config::UserConfig {
    config::load(&st.cfg)
        .expect("config")
        .users
        .into_iter()
        .find(|u| u.name == name)
        .expect("user")
}

#[test]
fn a_removed_user_is_refused_and_logged_while_another_still_opens() {
    let Some(st) = stage("lrm", 80) else {
        return;
    };
    let (alice, bob) = (st.client(), st.net.client_v4_alt);
    let t = now().0;
    knock(&st, &spa(BOB), UnixTime(t), bob);
    assert!(
        is_open(&st.net, Some(bob), st.server(), SPA_PORT),
        "{}",
        st.daemon.log_text()
    );
    let out = posternd(&st, &["user", "remove", "bob", "--reload"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("asked posternd"),
        "{out:?}"
    );
    wait_reloads(&st, 1);
    // The comment above bob went with him; alice's entry is still there.
    let text = std::fs::read_to_string(&st.cfg).expect("config");
    assert!(
        !text.contains("bob") && text.contains("name = \"alice\""),
        "{text}"
    );
    // Bob's grant ended with the reload; his next knock is refused as
    // from an unknown key, and logged.
    assert!(is_closed(&st.net, Some(bob), st.server(), SPA_PORT));
    knock(&st, &spa(BOB), UnixTime(t + 1), bob);
    assert!(
        st.daemon
            .wait_log(&format!("rejected src={bob} user=\"-\" method=spa")),
        "{}",
        st.daemon.log_text()
    );
    assert!(st.daemon.log_text().contains("unknown key id"));
    assert!(is_closed(&st.net, Some(bob), st.server(), SPA_PORT));
    // Alice still opens.
    knock(&st, &spa(KEY), UnixTime(t + 2), alice);
    assert!(
        is_open(&st.net, Some(alice), st.server(), SPA_PORT),
        "{}",
        st.daemon.log_text()
    );
}

#[test]
fn a_rotated_key_opens_through_its_grace_only_and_the_new_profile_opens() {
    let Some(st) = stage("lrot", 81) else {
        return;
    };
    let alice = st.client();
    let out_file = st.dir.0.join("alice2.postern");
    posternd(
        &st,
        &[
            "user",
            "rotate",
            "alice",
            "--grace",
            "3s",
            "--out",
            &out_file.display().to_string(),
            "--reload",
        ],
    );
    wait_reloads(&st, 1);
    let until = user(&st, "alice")
        .previous_key_until
        .expect("the old key's grace")
        .0;
    // In the grace period the old key still opens.
    let t = now().0;
    knock(&st, &spa(KEY), UnixTime(t), alice);
    assert!(
        is_open(&st.net, Some(alice), st.server(), SPA_PORT),
        "{}",
        st.daemon.log_text()
    );
    // After it (and after that grant's TTL), it is refused, and the log
    // says why; the sender sees a closed door as for any refusal.
    wait_past(until);
    assert!(st.closed(SPA_PORT));
    knock(&st, &spa(KEY), now(), alice);
    assert!(
        st.daemon.wait_log("reason=\"rotated-out key"),
        "{}",
        st.daemon.log_text()
    );
    assert!(st.closed(SPA_PORT));
    // The profile `user rotate` wrote opens.
    let mut p = issued(&out_file);
    p.allow = AllowMode::Source;
    knock(&st, &p, UnixTime(now().0 + 1), alice);
    assert!(
        is_open(&st.net, Some(alice), st.server(), SPA_PORT),
        "{}",
        st.daemon.log_text()
    );
}

#[test]
fn a_user_added_with_expires_opens_before_and_is_refused_after() {
    let Some(st) = stage("lexp", 82) else {
        return;
    };
    let carol = st.client();
    let out_file = st.dir.0.join("carol.postern");
    posternd(
        &st,
        &[
            "user",
            "add",
            "carol",
            "--door",
            "spa",
            "--expires",
            "4s",
            "--max-duration",
            &TTL.to_string(),
            "--out",
            &out_file.display().to_string(),
            "--reload",
        ],
    );
    wait_reloads(&st, 1);
    let expires = user(&st, "carol").expires.expect("expiry").0;
    let p = issued(&out_file);
    assert!(matches!(p.allow, AllowMode::Auto { .. }));
    knock(&st, &p, now(), carol);
    assert!(
        is_open(&st.net, Some(carol), st.server(), SPA_PORT),
        "{}",
        st.daemon.log_text()
    );
    wait_past(expires);
    assert!(st.closed(SPA_PORT));
    knock(&st, &p, now(), carol);
    assert!(
        st.daemon.wait_log("user=\"carol\" method=spa evidence="),
        "{}",
        st.daemon.log_text()
    );
    assert!(
        st.daemon.log_text().contains("reason=\"user expired at"),
        "{}",
        st.daemon.log_text()
    );
    assert!(st.closed(SPA_PORT));
    let listed = posternd(&st, &["user", "list"]);
    assert!(
        String::from_utf8_lossy(&listed.stdout)
            .contains("carol: doors spa; by spa; from anywhere; EXPIRED"),
        "{listed:?}"
    );
}
