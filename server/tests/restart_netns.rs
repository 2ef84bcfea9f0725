//! Restarts of the real `posternd` on real kernels: `kill -9` (the kernel
//! still closes the door by the grant's ttl, a restart cleans up) and
//! `posternd reload` (live grants kept, a broken config refused). Run as
//! root: `cargo test -p postern-server --test restart_netns`.
#![cfg(target_os = "linux")]

mod support;

use postern_proto::UserKey;
use postern_proto::profile::AllowMode;
use std::time::Duration;
use support::stage::{Stage, methods};
use support::*;

/// `kill -9` right after a grant: the kernel still closes the door by the
/// ttl; a restart finds a clean state (stale grants removed).
fn kill9(tag: &str, subnet: u8, backend: &str) {
    let Some(mut st) = Stage::new(tag, subnet, backend, false) else {
        return;
    };
    st.knock(spa_method(KEY), SPA_PORT);
    assert!(st.open(SPA_PORT));
    st.daemon.signal("-KILL");
    assert!(st.open(SPA_PORT), "grant lives in the kernel");
    std::thread::sleep(Duration::from_secs(u64::from(TTL) + 1));
    assert!(st.closed(SPA_PORT), "door open past its ttl after kill -9");
    // A second grant, then kill -9 and restart at once: stale grant removed.
    st.restart();
    st.knock(spa_method(KEY), SPA_PORT);
    assert!(st.open(SPA_PORT));
    st.daemon.signal("-KILL");
    st.restart();
    assert!(st.closed(SPA_PORT), "stale grant survived a restart");
    let status = st
        .net
        .exec(
            &st.net.server,
            &[
                posternd_bin(),
                "--config",
                &st.cfg.display().to_string(),
                "status",
            ],
        )
        .expect("status");
    assert!(status.contains("0 live grant(s)"), "{status}");
}

#[test]
fn kill9_nftables() {
    kill9("k9n", 50, "nftables");
}

#[test]
fn kill9_iptables() {
    kill9("k9i", 51, "iptables");
}

/// A grant lasting long enough to outlive the reloads below.
const LONG: u32 = 60;

/// `posternd reload` with a new user: alice's live grant stays in the kernel
/// set (with the time it had left), bob's knock — refused before — opens.
/// A broken config is refused by `posternd reload` before it signals, and by
/// the daemon when signalled anyway; the daemon keeps running with the
/// config it had.
fn reload(tag: &str, subnet: u8, backend: &str) {
    let longer = |c: String| {
        c.replace(
            &format!("port = {SPA_PORT}\nduration = {TTL}"),
            &format!("port = {SPA_PORT}\nduration = {LONG}"),
        )
        .replace(
            &format!("max_duration = {TTL}"),
            &format!("max_duration = {LONG}"),
        )
    };
    let Some(st) = Stage::with_config(tag, subnet, backend, false, longer) else {
        return;
    };
    let (server, alice, bob_addr) = (st.server(), st.client(), st.net.client_v4_alt);
    let bob_key = [0x77; 32];
    let spa = |key, at: postern_proto::UnixTime, from| {
        let mut p = profile(spa_method(key), SPA_PORT, AllowMode::Source, sid());
        p.doors[0].duration = LONG;
        plan(&p, at, from)
    };
    send(&st.net, server, alice, &spa(KEY, now(), alice));
    assert!(st.open(SPA_PORT), "{}", st.daemon.log_text());
    send(&st.net, server, bob_addr, &spa(bob_key, now(), bob_addr));
    assert!(
        st.daemon.wait_log("unknown key id"),
        "{}",
        st.daemon.log_text()
    );
    assert!(is_closed(&st.net, Some(bob_addr), server, SPA_PORT));

    let cfg = st.cfg.display().to_string();
    let posternd = |args: &[&str]| {
        std::process::Command::new(posternd_bin())
            .args(["--config", &cfg])
            .args(args)
            .output()
            .expect("run posternd")
    };
    let old = std::fs::read_to_string(&st.cfg).expect("config");
    let with_bob = format!(
        "{old}\n[[user]]\nname = \"bob\"\nkey = \"{}\"\ndoors = [\"spa\"]\nmax_duration = {LONG}\n",
        UserKey::from_bytes(bob_key).to_base64()
    );
    std::fs::write(&st.cfg, with_bob).expect("config");
    let out = posternd(&["reload"]);
    assert!(out.status.success(), "{out:?}");
    assert!(st.daemon.wait_log("reloaded"), "{}", st.daemon.log_text());
    assert!(
        st.daemon.log_text().contains("1 live grant(s) kept"),
        "{}",
        st.daemon.log_text()
    );

    // Alice's grant is still in the kernel set, with most of its time left.
    let status = st
        .net
        .exec(
            &st.net.server,
            &[posternd_bin(), "--config", &cfg, "status"],
        )
        .expect("status");
    let line = status
        .lines()
        .find(|l| l.contains(&format!("{alice} → {SPA_PORT}/tcp")))
        .unwrap_or_else(|| panic!("alice's grant gone after the reload:\n{status}"));
    let left: u64 = line
        .split_whitespace()
        .rev()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(left > 30 && left <= u64::from(LONG), "{line}");
    assert!(is_open(&st.net, Some(alice), server, SPA_PORT));

    // Bob, unknown before, is a user now.
    let later = postern_proto::UnixTime(now().0 + 1);
    send(&st.net, server, bob_addr, &spa(bob_key, later, bob_addr));
    assert!(
        is_open(&st.net, Some(bob_addr), server, SPA_PORT),
        "{}",
        st.daemon.log_text()
    );
    // The door opens first and the "accepted" line follows it: wait for
    // the line rather than read the log at the instant the connect works.
    assert!(
        st.daemon
            .wait_log(&format!("accepted src={bob_addr} user=\"bob\"")),
        "{}",
        st.daemon.log_text()
    );

    // A broken config: `posternd reload` says so and signals nobody ...
    std::fs::write(&st.cfg, "[server]\nserver_id = 12\n").expect("config");
    let out = posternd(&["reload"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not reloading: the config is not valid"),
        "{err}"
    );
    // ... and a SIGHUP sent anyway is refused by the daemon, which goes on.
    let pid = st.daemon.child.as_ref().expect("running").id().to_string();
    support_kill("-HUP", &pid);
    assert!(st.daemon.wait_log("refused"), "{}", st.daemon.log_text());
    assert!(
        st.daemon
            .log_text()
            .contains("still running with the previous config"),
        "{}",
        st.daemon.log_text()
    );
    let (name, method, port) = methods().swap_remove(0);
    st.knock(method, port);
    assert!(
        st.open(port),
        "{name} after a refused reload\n{}",
        st.daemon.log_text()
    );
}

fn support_kill(signal: &str, pid: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, pid])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn reload_nftables() {
    reload("rln", 70, "nftables");
}

#[test]
fn reload_iptables() {
    reload("rli", 71, "iptables");
}
