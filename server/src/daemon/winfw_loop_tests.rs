//! The daemon loop driving the Windows Firewall backend (over the fake
//! rule store): the service's revoke scheduling — Windows rules have no
//! timers, so the loop alone closes a door at its deadline — and the
//! sweep at stop, on a manual clock.

use super::tests::spa_frame;
use super::*;
use crate::capture::{ChannelSource, FilterSpec, LinkType, PacketSource};
use crate::config::ServerSection;
use crate::firewall::winfw::{FakeRuleStore, RuleStore, WinFirewall};
use crate::firewall::winfw_plan::{GrantRule, ProfileState, RuleView};
use crate::firewall::winfw_rules::DisabledRule;
use crate::firewall::{Firewall, FirewallError, ProtectedPort, Proto};
use postern_proto::UserKey;
use std::net::IpAddr;
use std::sync::mpsc as std_mpsc;

const T0: u64 = 1_800_000_000_000;
const SSH: ProtectedPort = ProtectedPort {
    proto: Proto::Tcp,
    port: 22,
};

/// The fake store, shared with the test.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<FakeRuleStore>>);

impl Shared {
    fn get(&self) -> MutexGuard<'_, FakeRuleStore> {
        self.0.lock().expect("store")
    }
}

impl RuleStore for Shared {
    fn rules(&mut self) -> Result<Vec<RuleView>, FirewallError> {
        self.get().rules()
    }
    fn profiles(&mut self) -> Result<Vec<ProfileState>, FirewallError> {
        self.get().profiles()
    }
    fn add(&mut self, rule: &GrantRule) -> Result<(), FirewallError> {
        self.get().add(rule)
    }
    fn remove(&mut self, name: &str) -> Result<(), FirewallError> {
        self.get().remove(name)
    }
    fn set_description(&mut self, name: &str, d: &str) -> Result<(), FirewallError> {
        self.get().set_description(name, d)
    }
    fn set_enabled(&mut self, rule: &DisabledRule, on: bool) -> Result<usize, FirewallError> {
        self.get().set_enabled(rule, on)
    }
}

struct WinPlatform {
    store: Shared,
    clock: Arc<ManualClock>,
    source: Mutex<Option<ChannelSource>>,
    control: Mutex<Option<mpsc::Receiver<Control>>>,
}

impl Platform for WinPlatform {
    fn open_firewall(&self, _server: &ServerSection) -> Result<Box<dyn Firewall + Send>> {
        let clock = Arc::clone(&self.clock);
        Ok(Box::new(WinFirewall::new(
            self.store.clone(),
            Box::new(move || clock.now_ms()),
        )))
    }

    fn open_capture(&self, _i: &str, _spec: &FilterSpec) -> Result<Box<dyn PacketSource + Send>> {
        let src = self.source.lock().expect("platform").take();
        Ok(Box::new(src.context("opened twice")?))
    }

    fn control(&self) -> Result<mpsc::Receiver<Control>> {
        let rx = self.control.lock().expect("platform").take();
        rx.context("control() called twice")
    }

    fn request_reload(&self, _pid: u32) -> Result<()> {
        bail!("not used")
    }
}

#[test]
fn the_loop_removes_the_windows_rule_at_the_deadline_and_all_rules_at_stop() {
    let dir = std::env::temp_dir().join(format!("postern-winloop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("posternd.toml");
    let text = format!(
        "[server]\nserver_id = \"00112233445566778899aabbccddeeff\"\ninterfaces = [\"lo\"]\nstate_dir = \"{}\"\n\
         [[door]]\nname = \"ssh\"\nproto = \"tcp\"\nport = 22\nspa = true\n\
         [[user]]\nname = \"alice\"\nkey = \"{}\"\ndoors = [\"ssh\"]\n",
        dir.join("state").display(),
        UserKey::from_bytes([1; 32]).to_base64()
    );
    std::fs::write(&config, text).expect("config");
    let store = Shared::default();
    let clock = Arc::new(ManualClock::new(T0));
    let (frames, source) = ChannelSource::new("lo");
    let (control, control_rx) = mpsc::channel(4);
    let platform = WinPlatform {
        store: store.clone(),
        clock: Arc::clone(&clock),
        source: Mutex::new(Some(source)),
        control: Mutex::new(Some(control_rx)),
    };
    let c = Arc::clone(&clock);
    let path = config.clone();
    let daemon = std::thread::spawn(move || run(&path, &platform, c));
    let client: IpAddr = "198.18.0.2".parse().expect("literal");
    let rule = "Postern grant 22/tcp 198.18.0.2";

    // Wait for the loop to run (it settles once started), then knock.
    assert!(clock.settle(), "loop did not start");
    frames
        .send((LinkType::RawIp, spa_frame(T0 / 1000)))
        .expect("capture thread");
    let (tx, rx) = std_mpsc::channel();
    let watcher = store.clone();
    std::thread::spawn(move || {
        for _ in 0..3000 {
            if watcher.get().admits(client, SSH) {
                let _ = tx.send(());
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the knock added a rule");
    assert!(store.get().rules.iter().any(|r| r.name == rule));

    // One millisecond before the deadline the rule is still there; at it,
    // the loop has removed it (no kernel timer on Windows).
    clock.set(T0 + 29_999);
    assert!(clock.settle());
    assert!(store.get().admits(client, SSH));
    clock.set(T0 + 30_000);
    assert!(clock.settle());
    assert!(!store.get().admits(client, SSH));
    assert!(store.get().log.contains(&format!("remove {rule}")));

    // A second grant, then a service stop: every rule of ours is gone.
    frames
        .send((LinkType::RawIp, spa_frame(T0 / 1000 + 40)))
        .expect("capture thread");
    for _ in 0..3000 {
        if store.get().admits(client, SSH) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(
        store.get().admits(client, SSH),
        "the second knock added a rule"
    );
    clock.set(T0 + 40_000);
    assert!(clock.settle());
    control.blocking_send(Control::Stop).expect("loop");
    daemon.join().expect("thread").expect("clean stop");
    assert!(store.get().rules.is_empty(), "{:?}", store.get().rules);
    let _ = std::fs::remove_dir_all(&dir);
}
