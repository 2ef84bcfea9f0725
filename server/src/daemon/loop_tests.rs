//! The daemon loop itself ([`run`](super::run)) on a channel-fed packet
//! source, the fake firewall and a manual clock: what happens when, with
//! no real sleeping and no timing assertions.

use super::tests::spa_frame;
use super::*;
use crate::capture::{ChannelSource, FilterSpec, LinkType, PacketSource};
use crate::config::ServerSection;
use crate::firewall::fake::FakeFirewall;
use crate::firewall::{Firewall, FirewallError, FwGrant, LiveGrant, ProtectedPort, Proto};
use postern_proto::UserKey;
use std::net::IpAddr;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

const T0: u64 = 1_800_000_000_000;
const SSH: ProtectedPort = ProtectedPort {
    proto: Proto::Tcp,
    port: 22,
};
const WEB: ProtectedPort = ProtectedPort {
    proto: Proto::Tcp,
    port: 80,
};
/// Bounds a wait for something the daemon must do, so a broken loop fails
/// the test instead of hanging it.
const HANG: Duration = Duration::from_secs(30);

/// A firewall call that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Install(Vec<ProtectedPort>, Vec<FwGrant>),
    Grant(FwGrant),
    Revoke(IpAddr, ProtectedPort),
    RevokeAll,
    Uninstall,
}

/// The fake firewall, shared with the test, reporting every successful call.
struct Recording {
    fake: Arc<Mutex<FakeFirewall>>,
    calls: std_mpsc::Sender<Call>,
    /// When set, the next `install` fails with this message.
    refuse_install: Arc<Mutex<Option<String>>>,
}

impl Recording {
    fn call<T>(
        &mut self,
        call: Call,
        f: impl FnOnce(&mut FakeFirewall) -> Result<T, FirewallError>,
    ) -> Result<T, FirewallError> {
        let out = f(&mut self.fake.lock().expect("fake firewall"))?;
        let _ = self.calls.send(call);
        Ok(out)
    }
}

impl Firewall for Recording {
    fn name(&self) -> &'static str {
        "recording"
    }

    fn install(&mut self, ports: &[ProtectedPort], keep: &[FwGrant]) -> Result<(), FirewallError> {
        if let Some(what) = self.refuse_install.lock().expect("flag").take() {
            return Err(FirewallError::Backend {
                backend: "recording",
                what,
            });
        }
        self.call(Call::Install(ports.to_vec(), keep.to_vec()), |f| {
            f.install(ports, keep)
        })
    }

    fn grant(&mut self, g: &FwGrant) -> Result<(), FirewallError> {
        self.call(Call::Grant(*g), |f| f.grant(g))
    }

    fn revoke(&mut self, source: IpAddr, port: ProtectedPort) -> Result<(), FirewallError> {
        self.call(Call::Revoke(source, port), |f| f.revoke(source, port))
    }

    fn grants(&mut self) -> Result<Vec<LiveGrant>, FirewallError> {
        self.fake.lock().expect("fake firewall").grants()
    }

    fn revoke_all(&mut self) -> Result<(), FirewallError> {
        self.call(Call::RevokeAll, FakeFirewall::revoke_all)
    }

    fn uninstall(&mut self) -> Result<(), FirewallError> {
        self.call(Call::Uninstall, FakeFirewall::uninstall)
    }

    fn verify(&mut self) -> Result<Option<String>, FirewallError> {
        self.fake.lock().expect("fake firewall").verify()
    }
}

/// Hands out the recording firewall, one channel-fed source named "lo",
/// and the control channel the test holds the sending end of.
struct FakePlatform {
    firewall: Mutex<Option<Recording>>,
    source: Mutex<Option<ChannelSource>>,
    control: Mutex<Option<mpsc::Receiver<Control>>>,
}

impl Platform for FakePlatform {
    fn open_firewall(&self, _server: &ServerSection) -> Result<Box<dyn Firewall + Send>> {
        let fw = self.firewall.lock().expect("platform").take();
        Ok(Box::new(fw.context("the firewall was opened twice")?))
    }

    fn open_capture(
        &self,
        interface: &str,
        _spec: &FilterSpec,
    ) -> Result<Box<dyn PacketSource + Send>> {
        if interface != "lo" {
            bail!("no interface {interface}");
        }
        let src = self.source.lock().expect("platform").take();
        Ok(Box::new(src.context("lo was opened twice")?))
    }

    fn control(&self) -> Result<mpsc::Receiver<Control>> {
        let rx = self.control.lock().expect("platform").take();
        rx.context("control() was called twice")
    }

    fn request_reload(&self, _pid: u32) -> Result<()> {
        bail!("the fake platform takes reloads through control()")
    }
}

/// `daemon::run` on its own thread, and the test's ends of everything.
struct Harness {
    dir: PathBuf,
    config: PathBuf,
    clock: Arc<ManualClock>,
    frames: std_mpsc::Sender<(LinkType, Vec<u8>)>,
    control: mpsc::Sender<Control>,
    calls: std_mpsc::Receiver<Call>,
    fake: Arc<Mutex<FakeFirewall>>,
    daemon: Option<JoinHandle<Result<()>>>,
}

fn user(name: &str, key: u8, doors: &str) -> String {
    format!(
        "[[user]]\nname = \"{name}\"\nkey = \"{}\"\ndoors = [{doors}]\n",
        UserKey::from_bytes([key; 32]).to_base64()
    )
}

/// The config of `tests::config`, with `doors` and `users` appended.
fn config_text(dir: &Path, doors: &[u16], users: &str) -> String {
    let mut s = format!(
        "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"lo\"]\nstate_dir = \"{}\"\n",
        dir.join("state").display()
    );
    for port in doors {
        let name = if *port == 22 { "ssh" } else { "web" };
        s.push_str(&format!(
            "[[door]]\nname = \"{name}\"\nproto = \"tcp\"\nport = {port}\nspa = true\n"
        ));
    }
    s + users
}

/// What the daemon tells beyond its log while it waits for a config.
type Reports = std_mpsc::Receiver<(tracing::Level, String)>;

impl Harness {
    fn start(tag: &str, doors: &[u16], users: &str) -> Harness {
        let dir = Harness::dir(tag);
        std::fs::write(dir.join("posternd.toml"), config_text(&dir, doors, users)).expect("config");
        Harness::spawn(dir, None)
    }

    /// `run_when_configured` with no config file yet.
    fn start_unconfigured(tag: &str) -> (Harness, Reports) {
        let (tx, reports) = std_mpsc::channel();
        (Harness::spawn(Harness::dir(tag), Some(tx)), reports)
    }

    fn dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("postern-loop-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("test dir");
        dir
    }

    /// The daemon on its own thread: `run`, or `run_when_configured`
    /// when there is somewhere to send its reports.
    fn spawn(dir: PathBuf, reports: Option<std_mpsc::Sender<(tracing::Level, String)>>) -> Harness {
        let config = dir.join("posternd.toml");
        let (frames, source) = ChannelSource::new("lo");
        let (control, control_rx) = mpsc::channel(4);
        let (calls_tx, calls) = std_mpsc::channel();
        let fake = Arc::new(Mutex::new(FakeFirewall::new()));
        let platform = FakePlatform {
            firewall: Mutex::new(Some(Recording {
                fake: Arc::clone(&fake),
                calls: calls_tx,
                refuse_install: Arc::default(),
            })),
            source: Mutex::new(Some(source)),
            control: Mutex::new(Some(control_rx)),
        };
        let clock = Arc::new(ManualClock::new(T0));
        let (path, c) = (config.clone(), Arc::clone(&clock));
        let daemon = std::thread::spawn(move || match reports {
            None => run(&path, &platform, c),
            Some(tx) => {
                let report = move |level, text: &str| {
                    let _ = tx.send((level, text.to_owned()));
                };
                run_when_configured(&path, &platform, c, &report)
            }
        });
        Harness {
            dir,
            config,
            clock,
            frames,
            control,
            calls,
            fake,
            daemon: Some(daemon),
        }
    }

    fn next_call(&self) -> Call {
        self.calls
            .recv_timeout(HANG)
            .expect("the daemon made no firewall call")
    }

    fn no_call_yet(&self) {
        if let Ok(c) = self.calls.try_recv() {
            panic!("unexpected firewall call {c:?}");
        }
    }

    fn knock(&self, frame: Vec<u8>) {
        self.frames
            .send((LinkType::RawIp, frame))
            .expect("capture thread");
    }

    /// Sets the time and waits until the loop has handled what is due.
    fn at(&self, now_ms: u64) {
        self.clock.set(now_ms);
        assert!(self.clock.settle(), "the loop did not settle at {now_ms}");
    }

    fn reload_with(&self, text: &str) {
        std::fs::write(&self.config, text).expect("config");
        self.control
            .blocking_send(Control::Reload)
            .expect("daemon loop");
    }

    fn admits(&self, source: IpAddr, port: ProtectedPort) -> bool {
        self.fake.lock().expect("fake").admits(source, port)
    }

    /// Stops the daemon; what it returned and the calls it made stopping.
    fn stop(mut self) -> (Result<()>, Vec<Call>) {
        self.control
            .blocking_send(Control::Stop)
            .expect("daemon loop");
        let result = self
            .daemon
            .take()
            .expect("running")
            .join()
            .expect("daemon thread");
        (result, self.calls.try_iter().collect())
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client() -> IpAddr {
    "198.18.0.2".parse().expect("literal")
}

fn grant(ttl_ms: u64) -> FwGrant {
    FwGrant {
        source: client(),
        port: SSH,
        ttl: Duration::from_millis(ttl_ms),
    }
}

#[test]
fn a_knock_is_granted_and_revoked_by_the_loop_at_its_deadline() {
    let h = Harness::start("deadline", &[22], &user("alice", 1, "\"ssh\""));
    assert_eq!(h.next_call(), Call::Install(vec![SSH], vec![]));

    h.knock(spa_frame(T0 / 1000));
    assert_eq!(h.next_call(), Call::Grant(grant(30_000)));
    assert!(h.admits(client(), SSH));

    // One millisecond before the deadline everything due has run: no revoke.
    h.at(T0 + 29_999);
    h.no_call_yet();
    // The loop is running (it settled), so the pid file was written
    // before it started; the install call alone does not say so.
    assert_eq!(
        std::fs::read_to_string(pid_path(&h.dir.join("state")))
            .expect("pid file")
            .trim(),
        std::process::id().to_string()
    );
    assert!(h.admits(client(), SSH));
    // At the deadline the loop revokes it, without waiting for the kernel.
    h.at(T0 + 30_000);
    assert_eq!(h.calls.try_recv(), Ok(Call::Revoke(client(), SSH)));
    assert!(!h.admits(client(), SSH));

    let state = h.dir.join("state");
    let (result, calls) = h.stop();
    result.expect("clean stop");
    assert_eq!(calls, vec![Call::RevokeAll]);
    assert!(!pid_path(&state).exists(), "pid file removed at stop");
}

#[test]
fn a_flushed_firewall_is_reinstalled_with_the_live_grants_at_the_next_check() {
    let h = Harness::start("verify", &[22], &user("alice", 1, "\"ssh\""));
    assert_eq!(h.next_call(), Call::Install(vec![SSH], vec![]));
    h.knock(spa_frame(T0 / 1000));
    assert_eq!(h.next_call(), Call::Grant(grant(30_000)));
    // The first check (verify_secs = 5 by default) finds all in place.
    h.at(T0 + 5_000);
    h.no_call_yet();
    // `nft flush ruleset` behind the daemon's back: open to everyone.
    let stranger: IpAddr = "198.18.0.9".parse().expect("literal");
    h.fake.lock().expect("fake").flush();
    assert!(h.admits(stranger, SSH));
    h.at(T0 + 9_999);
    h.no_call_yet();
    // The next check puts it back in one install, alice's grant kept.
    h.at(T0 + 10_000);
    assert_eq!(h.next_call(), Call::Install(vec![SSH], vec![grant(20_000)]));
    assert!(!h.admits(stranger, SSH));
    assert!(h.admits(client(), SSH));
    let status = super::protection::read_status(&h.dir.join("state")).expect("status file");
    assert_eq!(status.reinstalls, 1);
    assert_eq!(status.verified_ms, Some(T0 + 10_000));
    assert!(
        status
            .last_reason
            .as_deref()
            .is_some_and(|r| r.contains("flushed")),
        "{status:?}"
    );
    let (result, _) = h.stop();
    result.expect("clean stop");
}

#[test]
fn a_clock_stepped_back_does_not_make_a_used_knock_valid_again() {
    let h = Harness::start("stepback", &[22], &user("alice", 1, "\"ssh\""));
    assert_eq!(h.next_call(), Call::Install(vec![SSH], vec![]));
    let frame = spa_frame(T0 / 1000);
    h.knock(frame.clone());
    assert_eq!(h.next_call(), Call::Grant(grant(30_000)));
    // Long enough for the grant to close and the replay mark (until the
    // knock's time + max_skew + 1 s) to be pruned.
    h.at(T0 + 80_000);
    assert_eq!(h.next_call(), Call::Revoke(client(), SSH));
    // The wall clock is set back to the knock's time and it is replayed,
    // followed by a fresh knock 40 s later, within the skew both of the
    // stepped-back wall clock and of the daemon's time (frames are handled
    // in order, so once the fresh one is granted the replay was decided).
    h.at(T0);
    h.knock(frame);
    h.knock(spa_frame(T0 / 1000 + 40));
    assert!(
        matches!(h.next_call(), Call::Grant(_)),
        "a knock is granted"
    );
    let (result, calls) = h.stop();
    result.expect("clean stop");
    assert!(
        !calls.iter().any(|c| matches!(c, Call::Grant(_))),
        "two grants: the replay was accepted after a clock step back: {calls:?}"
    );
}

#[test]
fn reload_keeps_what_the_new_config_allows_and_closes_the_rest() {
    let alice = user("alice", 1, "\"ssh\"");
    let h = Harness::start("reload", &[22], &alice);
    assert_eq!(h.next_call(), Call::Install(vec![SSH], vec![]));
    h.knock(spa_frame(T0 / 1000));
    assert_eq!(h.next_call(), Call::Grant(grant(30_000)));
    h.at(T0 + 10_000);

    // A new user: alice's grant stays, re-installed with the 20 s it has left.
    let text = config_text(&h.dir, &[22], &(alice.clone() + &user("bob", 2, "\"ssh\"")));
    h.reload_with(&text);
    assert_eq!(h.next_call(), Call::Install(vec![SSH], vec![grant(20_000)]));
    assert!(h.admits(client(), SSH));

    // The ssh door goes: its grant closes with it.
    let text = config_text(&h.dir, &[80], &user("alice", 1, "\"web\""));
    h.reload_with(&text);
    assert_eq!(h.next_call(), Call::Install(vec![WEB], vec![]));
    assert_eq!(h.next_call(), Call::Revoke(client(), SSH));
    // (Port 22 is no longer protected at all, so look at the grants.)
    let live = h.fake.lock().expect("fake").grants().expect("grants");
    assert!(live.is_empty(), "{live:?}");

    // The grant was revoked by the reload, not again at its old deadline.
    h.at(T0 + 30_000);
    h.no_call_yet();

    // A broken config is refused: no firewall call at all, and the daemon
    // goes on (the stop after it is handled as usual).
    h.reload_with("[server]\nserver_id = 12\n");
    let (result, calls) = h.stop();
    result.expect("clean stop");
    assert_eq!(calls, vec![Call::RevokeAll]);
}

#[test]
fn a_reload_the_firewall_refuses_leaves_the_old_rules_and_grants() {
    let dir = std::env::temp_dir().join(format!("postern-refused-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let alice = user("alice", 1, "\"ssh\"");
    let old = crate::config::parse(&config_text(&dir, &[22], &alice), "old").expect("valid");
    let new = crate::config::parse(
        &config_text(
            &dir,
            &[22, 80],
            &(alice.clone() + &user("bob", 2, "\"web\"")),
        ),
        "new",
    )
    .expect("valid");
    let fake = Arc::new(Mutex::new(FakeFirewall::new()));
    let (tx, calls) = std_mpsc::channel();
    let refuse_install = Arc::new(Mutex::new(None));
    let fw = Recording {
        fake: Arc::clone(&fake),
        calls: tx,
        refuse_install: Arc::clone(&refuse_install),
    };
    let mut d = Daemon::start(&old, Box::new(fw), T0).expect("start");
    d.on_frame(LinkType::RawIp, &spa_frame(T0 / 1000), T0);
    // Reading the live grants fails: refused before anything changes.
    fake.lock().expect("fake").fail_next = Some("listing failed".into());
    let e = d.reload(&new, T0 + 1_000).unwrap_err();
    assert!(format!("{e:#}").contains("listing failed"), "{e:#}");
    // The install fails: the old rules and the live grant are put back.
    *refuse_install.lock().expect("flag") = Some("table busy".into());
    let e = d.reload(&new, T0 + 1_000).unwrap_err();
    assert!(format!("{e:#}").contains("table busy"), "{e:#}");
    let calls: Vec<Call> = calls.try_iter().collect();
    assert_eq!(
        calls,
        vec![
            Call::Install(vec![SSH], vec![]),
            Call::Grant(grant(30_000)),
            // The failed install is not recorded; this is putting back the
            // old ports with the live grant.
            Call::Install(vec![SSH], vec![grant(29_000)]),
        ]
    );
    assert!(fake.lock().expect("fake").admits(client(), SSH));
    assert!(
        !fake
            .lock()
            .expect("fake")
            .installed()
            .expect("installed")
            .contains(&WEB)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn settings_that_need_a_restart_are_refused_by_a_reload() {
    let dir = Path::new("/nonexistent");
    let old = crate::config::parse(&config_text(dir, &[22], ""), "old").expect("valid");
    let mut new = old.clone();
    new.server.table = "other".into();
    new.server.backend = crate::config::Backend::Iptables;
    let e = needs_restart(&old, &new).unwrap_err().to_string();
    assert_eq!(
        e,
        "[server] table, backend changed: restart posternd to apply that"
    );
    needs_restart(&old, &old).expect("nothing changed");
}

#[test]
fn a_service_without_a_usable_config_waits_telling_each_reason_once() {
    let (h, reports) = Harness::start_unconfigured("unconfigured");
    h.at(T0);
    let (level, text) = reports.recv_timeout(HANG).expect("a report");
    assert_eq!(level, tracing::Level::ERROR);
    assert!(text.contains(&h.config.display().to_string()), "{text}");
    assert!(text.contains("No door opens until it has one"), "{text}");

    // A broken file is a new reason: told at the next read, once.
    std::fs::write(&h.config, "[server\n").expect("config");
    h.at(T0 + 9_999);
    assert!(reports.try_recv().is_err(), "read again before the retry");
    h.at(T0 + 10_000);
    let (level, text) = reports.try_recv().expect("the new reason");
    assert_eq!(level, tracing::Level::ERROR);
    assert!(text.contains("posternd.toml:1:"), "{text}");
    h.at(T0 + 20_000);
    h.at(T0 + 30_000);
    assert!(reports.try_recv().is_err(), "the same reason told twice");
    // Nothing was touched meanwhile: no door opened, none closed.
    h.no_call_yet();

    // Fixed and reloaded (`sc control posternd paramchange`): it starts
    // at once and guards like `run`.
    h.reload_with(&config_text(&h.dir, &[22], &user("alice", 1, "\"ssh\"")));
    assert_eq!(h.next_call(), Call::Install(vec![SSH], vec![]));
    let (level, text) = reports.recv_timeout(HANG).expect("started");
    assert_eq!(level, tracing::Level::INFO);
    assert!(text.ends_with("is usable now: posternd starts"), "{text}");
    h.knock(spa_frame((T0 + 30_000) / 1000));
    assert!(matches!(h.next_call(), Call::Grant(g) if g.source == client() && g.port == SSH));
    assert!(h.admits(client(), SSH));

    let (result, calls) = h.stop();
    result.expect("a clean stop");
    assert_eq!(calls, vec![Call::RevokeAll]);
}

#[test]
fn a_service_waiting_for_a_config_stops_cleanly_and_touches_nothing() {
    let (h, reports) = Harness::start_unconfigured("unconfigured-stop");
    reports.recv_timeout(HANG).expect("a report");
    let (result, calls) = h.stop();
    result.expect("a stop while waiting is not a failure (no restart)");
    assert_eq!(calls, vec![]);
}
