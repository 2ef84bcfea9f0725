//! The controller without a window: commands change state and storage.

use super::*;
use crate::form::FormMethod;
use crate::settings::{FileSettings, IpChoice};
use crate::state::ImportStage;
use postern_client::engine::transmit::Progress;
use postern_client::engine::verify::Verdict;
use postern_client::engine::{KnockEvent, KnockReport};
use postern_client::store::files::FileStore;
use postern_client::store::secrets::KeyringSecrets;
use postern_proto::UserKey;
use postern_proto::seal::KdfCost;
use postern_proto::sign::AdminKey;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A fresh, empty folder under the system temp dir.
fn temp_dir(tag: &str) -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "postern-desktop-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Sends two packets, verifies, and says "open after 12 ms".
struct OpenAfter12;

impl KnockService for OpenAfter12 {
    fn knock(
        &self,
        job: &KnockJob,
        _cancel: &AtomicBool,
        progress: &mut dyn FnMut(KnockEvent),
    ) -> Result<KnockReport, crate::worker::KnockFailure> {
        let dest = "192.0.2.1".parse().map_err(|_| "addr")?;
        for index in 1..=2 {
            progress(KnockEvent::Packet(Progress {
                index,
                total: 2,
                dest,
            }));
        }
        progress(KnockEvent::Verifying(std::net::SocketAddr::new(dest, 22)));
        assert_eq!(
            job.opts.decoys,
            Some(3),
            "the decoy setting reaches the engine"
        );
        Ok(KnockReport {
            bound: vec![],
            clock: None,
            addresses: vec![dest],
            packets: 2,
            verdict: Some(Verdict::Open {
                after: Duration::from_millis(12),
                reknocked: false,
            }),
        })
    }
}

fn controller(dir: &std::path::Path) -> Controller {
    let store = keyring_core::mock::Store::new().expect("mock store");
    let mut s = Services::new(
        Box::new(FileStore::new(dir)),
        Box::new(FileSettings::new(dir)),
        Arc::new(OpenAfter12),
        Box::new(move || {
            let k: Box<dyn SecretStore> = Box::new(KeyringSecrets::new(store.clone(), "mock"));
            Ok((k, None))
        }),
        dir.to_path_buf(),
    );
    s.launcher = Box::new(|a| Ok(format!("would start {}", a.label()).into()));
    Controller::new(s)
}

fn add_sequence_host(c: &mut Controller, name: &str) {
    let _ = c.apply(Command::AddHost);
    let Dialog::HostForm(f) = &mut c.state.dialog else {
        panic!("form not open");
    };
    f.name = name.into();
    f.address = "192.0.2.1".into();
    f.sequence = "7000,8000:udp,9000".into();
    f.door_port = "22".into();
    assert!(f.errors().is_empty(), "{:?}", f.errors());
    let _ = c.apply(Command::SaveHostForm);
}

fn signed_profile(seed: u64) -> String {
    let admin = AdminKey::generate(&mut ChaCha20Rng::seed_from_u64(seed));
    let key = UserKey::from_bytes([9; 32]).to_base64();
    admin.sign_text(&format!(
        "version = 1\nname = \"Office\"\nhost = \"198.18.0.1\"\n\
         server_id = \"00112233445566778899aabbccddeeff\"\n\
         [[door]]\nproto = \"tcp\"\nport = 3389\n\
         [method]\nkind = \"spa\"\nuser = \"alice\"\nkey = \"{key}\"\nport = 62201\n"
    ))
}

#[test]
fn add_host_by_hand_saves_it() {
    let dir = temp_dir("gui-add");
    let mut c = controller(&dir);
    assert!(c.state.hosts.is_empty());
    add_sequence_host(&mut c, "Lab box");
    assert!(matches!(c.state.dialog, Dialog::None));
    assert_eq!(c.state.hosts.len(), 1);
    assert_eq!(c.state.hosts[0].profile.host, "192.0.2.1");
    assert_eq!(c.state.hosts[0].signer, None);
    // Saved: a fresh controller sees it.
    assert_eq!(controller(&dir).state.hosts.len(), 1);
    // The same name again is refused with a message; the form stays open.
    add_sequence_host(&mut c, "lab  BOX");
    assert!(matches!(c.state.dialog, Dialog::HostForm(_)));
    assert!(
        c.state
            .banner
            .as_ref()
            .unwrap()
            .text
            .contains("already exists")
    );
    let _ = c.apply(Command::CloseDialog);
    // Remove asks first, then removes.
    let _ = c.apply(Command::AskRemove("Lab box".into()));
    assert!(matches!(c.state.dialog, Dialog::ConfirmRemove(_)));
    let _ = c.apply(Command::Remove("Lab box".into()));
    assert!(c.state.hosts.is_empty());
}

#[test]
fn spa_host_key_goes_to_the_keyring_and_the_form_checks_it() {
    let dir = temp_dir("gui-spa");
    let mut c = controller(&dir);
    let _ = c.apply(Command::AddHost);
    let Dialog::HostForm(f) = &mut c.state.dialog else {
        panic!()
    };
    f.method = FormMethod::Spa;
    f.name = "Office".into();
    f.address = "office.example".into();
    f.spa_user = "alice".into();
    f.spa_server = "00112233445566778899aabbccddeeff".into();
    f.door_port = "3389".into();
    *f.spa_key = "not a key".into();
    assert!(f.errors().spa_key.is_some());
    *f.spa_key = UserKey::from_bytes([7; 32]).to_base64();
    assert!(f.errors().is_empty(), "{:?}", f.errors());
    let _ = c.apply(Command::SaveHostForm);
    assert_eq!(c.state.hosts.len(), 1);
    let text = std::fs::read_to_string(dir.join("hosts/office.toml")).unwrap();
    assert!(!text.contains("key ="), "the key is not in the host file");
    let key = c
        .services
        .secrets()
        .unwrap()
        .get("00112233445566778899aabbccddeeff/alice")
        .unwrap();
    assert_eq!(key, Some(UserKey::from_bytes([7; 32])));

    // Removing takes the key out of the keyring; Undo puts host and key
    // back, byte for byte.
    let account = "00112233445566778899aabbccddeeff/alice";
    let _ = c.apply(Command::Remove("Office".into()));
    assert!(c.state.hosts.is_empty());
    assert_eq!(c.services.secrets().unwrap().get(account).unwrap(), None);
    assert!(c.state.banner.as_ref().unwrap().undo);
    let _ = c.apply(Command::UndoRemove);
    assert_eq!(c.state.hosts.len(), 1);
    assert_eq!(
        c.services.secrets().unwrap().get(account).unwrap(),
        Some(UserKey::from_bytes([7; 32]))
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("hosts/office.toml")).unwrap(),
        text
    );
    // Nothing left to undo.
    let _ = c.apply(Command::UndoRemove);
    assert_eq!(c.state.hosts.len(), 1);
}

/// An fwknop host from the form: both keys go to the keyring (the host
/// file has neither), the address is bound, and editing keeps the keys.
#[test]
fn fwknop_host_keys_go_to_the_keyring() {
    use postern_client::store::secrets::get_fwknop;
    use postern_proto::method::fwknop::{FwknopKeys, HmacType};
    const KEY: &str = "A6yLICVZxmi9UcBTqC5ZOXHKKsqDkD1RHwpNoEaSGMo=";
    const HMAC: &str =
        "8Q5w6ef/nNlS/JVVyrXDfHdR6fiNYf24HMpOKWYdUtfgiqHMSUrFEf2gBKFWBo2hjBH15mLNekodNbqc/vcDxg==";
    let dir = temp_dir("gui-fwknop");
    let mut c = controller(&dir);
    let _ = c.apply(Command::AddHost);
    let Dialog::HostForm(f) = &mut c.state.dialog else {
        panic!()
    };
    f.method = FormMethod::Fwknop;
    f.name = "Gateway".into();
    f.address = "198.18.0.1".into();
    f.spa_user = "alice".into();
    f.door_port = "22".into();
    *f.spa_key = KEY.into();
    assert!(f.errors().fwknop_hmac_key.is_some());
    *f.fwknop_hmac_key = "!!".into();
    assert!(f.errors().fwknop_hmac_key.is_some());
    *f.fwknop_hmac_key = HMAC.into();
    assert!(f.errors().is_empty(), "{:?}", f.errors());
    let _ = c.apply(Command::SaveHostForm);
    assert_eq!(c.state.hosts.len(), 1);
    let p = c.state.hosts[0].profile.clone();
    assert!(p.allow.binds_address(), "bound by default");
    let text = std::fs::read_to_string(dir.join("hosts/gateway.toml")).unwrap();
    assert!(text.contains("kind = \"fwknop\""), "{text}");
    assert!(
        !text.contains(&KEY[..12]) && !text.contains(&HMAC[..12]),
        "{text}"
    );
    let account = secret_account(&p).unwrap();
    let want = FwknopKeys::from_base64(KEY, HMAC, HmacType::Sha256).unwrap();
    let got = get_fwknop(c.services.secrets().unwrap(), &account, HmacType::Sha256).unwrap();
    assert_eq!(got, Some(want.clone()));

    // Edit the name only: the keys stay, under the same account.
    let _ = c.apply(Command::EditHost("Gateway".into()));
    let Dialog::HostForm(f) = &mut c.state.dialog else {
        panic!()
    };
    assert_eq!(f.method, FormMethod::Fwknop);
    assert!(f.errors().is_empty(), "{:?}", f.errors());
    f.name = "Gateway 2".into();
    let _ = c.apply(Command::SaveHostForm);
    let p2 = c.state.hosts[0].profile.clone();
    assert_eq!(secret_account(&p2).unwrap(), account);
    let got = get_fwknop(c.services.secrets().unwrap(), &account, HmacType::Sha256).unwrap();
    assert_eq!(got, Some(want));
}

#[test]
fn knock_reports_open_and_logs_it() {
    let dir = temp_dir("gui-knock");
    let mut c = controller(&dir);
    add_sequence_host(&mut c, "Lab");
    c.state.settings.decoys = Some(3);
    let _ = c.apply(Command::Knock {
        host: "Lab".into(),
        connect: true,
    });
    assert!(c.state.runs.contains_key("Lab"));
    let t = Instant::now();
    while !c.state.runs.is_empty() {
        assert!(t.elapsed() < Duration::from_secs(5), "worker hung");
        let _ = c.poll();
        std::thread::sleep(Duration::from_millis(5));
    }
    let last = c.state.last_result("Lab").unwrap();
    assert_eq!(last.outcome.message(), "Open after 12 ms");
    // Knock & connect started the SSH launcher (port 22).
    assert_eq!(c.state.banner.as_ref().unwrap().text, "would start SSH");
    // The log is persisted.
    let again = controller(&dir);
    assert_eq!(again.state.log.len(), 1);
}

#[test]
fn signed_import_asks_trust_then_saves_with_fingerprint() {
    let dir = temp_dir("gui-import");
    let path = dir.join("office.postern");
    std::fs::write(&path, signed_profile(1)).unwrap();
    let mut c = controller(&dir);
    let _ = c.apply(Command::ImportFile(path.clone()));
    let Dialog::Import(flow) = &c.state.dialog else {
        panic!("no dialog")
    };
    let ImportStage::Trust { fingerprint, .. } = &flow.stage else {
        panic!("expected the trust question, got {:?}", flow.stage)
    };
    let fp = fingerprint.clone().unwrap();
    assert!(c.state.hosts.is_empty(), "nothing saved before the answer");
    let _ = c.apply(Command::Trust(true));
    assert!(matches!(c.state.dialog, Dialog::None));
    assert_eq!(c.state.hosts.len(), 1);
    assert_eq!(c.state.hosts[0].signer.as_deref(), Some(fp.as_str()));

    // A file signed by another key for the same server is refused.
    let evil = dir.join("evil.postern");
    std::fs::write(&evil, signed_profile(2)).unwrap();
    let _ = c.apply(Command::ImportFile(evil));
    let Dialog::Import(flow) = &c.state.dialog else {
        panic!()
    };
    let ImportStage::Refused { reason } = &flow.stage else {
        panic!("{:?}", flow.stage)
    };
    assert!(reason.contains("impersonating"), "{reason}");
}

#[test]
fn tampered_import_is_refused_and_changes_nothing() {
    let dir = temp_dir("gui-tamper");
    let path = dir.join("office.postern");
    std::fs::write(&path, signed_profile(1).replace("3389", "3390")).unwrap();
    let mut c = controller(&dir);
    let _ = c.apply(Command::ImportFile(path));
    let Dialog::Import(flow) = &c.state.dialog else {
        panic!()
    };
    let ImportStage::Refused { reason } = &flow.stage else {
        panic!("{:?}", flow.stage)
    };
    assert!(reason.contains("changed after it was signed"), "{reason}");
    assert!(c.state.hosts.is_empty());
    assert!(!dir.join("signers.toml").exists());
}

#[test]
fn encrypted_import_asks_for_the_passphrase() {
    let dir = temp_dir("gui-sealed");
    let cheap = KdfCost {
        m_kib: 64,
        t: 1,
        p: 1,
    };
    let sealed = postern_proto::seal::seal(
        &signed_profile(1),
        "correct horse",
        cheap,
        &mut ChaCha20Rng::seed_from_u64(5),
    )
    .unwrap();
    let path = dir.join("sealed.postern");
    std::fs::write(&path, sealed).unwrap();
    let mut c = controller(&dir);
    let _ = c.apply(Command::ImportFile(path));
    let stage = |c: &Controller| match &c.state.dialog {
        Dialog::Import(f) => f.stage.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(stage(&c), ImportStage::Passphrase { error: None });
    if let Dialog::Import(f) = &mut c.state.dialog {
        *f.passphrase = "wrong".into();
    }
    let _ = c.apply(Command::SubmitPassphrase);
    assert!(matches!(
        stage(&c),
        ImportStage::Passphrase { error: Some(_) }
    ));
    if let Dialog::Import(f) = &mut c.state.dialog {
        *f.passphrase = "correct horse".into();
    }
    let _ = c.apply(Command::SubmitPassphrase);
    assert!(matches!(stage(&c), ImportStage::Trust { .. }));
    let _ = c.apply(Command::Trust(true));
    assert_eq!(c.state.hosts.len(), 1);
}

#[test]
fn settings_are_saved_and_reloaded() {
    let dir = temp_dir("gui-settings");
    let mut c = controller(&dir);
    let _ = c.apply(Command::OpenSettings);
    let Dialog::Settings(d) = &mut c.state.dialog else {
        panic!()
    };
    assert!(d.config_dir.contains("gui-settings"));
    assert_eq!(d.secrets, "mock");
    d.decoys = "4".into();
    d.settings.ip = IpChoice::V6;
    d.settings.theme = ThemeChoice::Dark;
    let fx = c.apply(Command::SaveSettings);
    assert_eq!(fx, vec![Effect::Theme(ThemeChoice::Dark)]);
    let again = controller(&dir);
    assert_eq!(again.state.settings.decoys, Some(4));
    assert_eq!(again.state.settings.ip, IpChoice::V6);
    // A bad value keeps the dialog open and says why.
    let _ = c.apply(Command::OpenSettings);
    if let Dialog::Settings(d) = &mut c.state.dialog {
        d.decoys = "many".into();
    }
    assert!(c.apply(Command::SaveSettings).is_empty());
    assert!(matches!(c.state.dialog, Dialog::Settings(_)));
}

#[test]
fn stun_servers_are_saved_only_when_every_entry_is_host_port() {
    let dir = temp_dir("gui-stun");
    let mut c = controller(&dir);
    let _ = c.apply(Command::OpenSettings);
    if let Dialog::Settings(d) = &mut c.state.dialog {
        d.stun = "stun.example.org:3478, stun.example.org".into();
    }
    assert!(c.apply(Command::SaveSettings).is_empty());
    assert!(matches!(c.state.dialog, Dialog::Settings(_)));
    assert!(!dir.join("gui-settings.toml").exists(), "saved on error");
    if let Dialog::Settings(d) = &mut c.state.dialog {
        d.stun = "stun.example.org:3478 [fd00::9]:3478".into();
    }
    let _ = c.apply(Command::SaveSettings);
    assert!(matches!(c.state.dialog, Dialog::None));
    let again = controller(&dir);
    assert_eq!(
        again.state.settings.stun,
        ["stun.example.org:3478", "[fd00::9]:3478"]
    );
    // Reopened, the field shows the saved list.
    let mut again = again;
    let _ = again.apply(Command::OpenSettings);
    let Dialog::Settings(d) = &again.state.dialog else {
        panic!()
    };
    assert_eq!(d.stun, "stun.example.org:3478, [fd00::9]:3478");
}

/// A program "Connect" started, stopped by the test.
struct FakeSession(Arc<std::sync::atomic::AtomicBool>);

impl crate::keepalive::Session for FakeSession {
    fn running(&mut self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Runs the workers until no knock is in flight.
fn finish_runs(c: &mut Controller) {
    let t = Instant::now();
    while !c.state.runs.is_empty() {
        assert!(t.elapsed() < Duration::from_secs(5), "worker hung");
        let _ = c.poll();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A door like a real one for the keep-alive: closed until the first
/// knock, then answering; like the engine, a knock that checks first
/// reports "already answering" once it is open. Records each knock's
/// `check_before` and time servers.
#[derive(Default)]
struct OpensOnFirstKnock {
    open: AtomicBool,
    checks: std::sync::Mutex<Vec<bool>>,
    time_servers: std::sync::Mutex<Vec<Vec<String>>>,
}

impl KnockService for OpensOnFirstKnock {
    fn knock(
        &self,
        job: &KnockJob,
        _cancel: &AtomicBool,
        _progress: &mut dyn FnMut(KnockEvent),
    ) -> Result<KnockReport, crate::worker::KnockFailure> {
        self.checks
            .lock()
            .map_err(|_| "poisoned")?
            .push(job.opts.check_before);
        self.time_servers
            .lock()
            .map_err(|_| "poisoned")?
            .push(job.opts.time_servers.clone());
        let was_open = self.open.swap(true, Ordering::Relaxed);
        let verdict = if job.opts.check_before && was_open {
            Verdict::AnsweredBeforeKnock
        } else {
            Verdict::Open {
                after: Duration::from_millis(3),
                reknocked: false,
            }
        };
        Ok(KnockReport {
            bound: vec![],
            clock: None,
            addresses: vec![],
            packets: 1,
            verdict: Some(verdict),
        })
    }
}

/// With "keep the door open while connected" on, the door is knocked
/// again shortly before its grant ends for as long as the started program
/// runs, never before, not when the option is off, and not after the
/// program ended.
#[test]
fn keep_open_reknocks_while_the_program_runs() {
    use crate::keepalive::reknock_at;
    use crate::status::grant_seconds;
    let dir = temp_dir("gui-keep");
    let mut c = controller(&dir);
    let running = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let r = running.clone();
    c.services.launcher = Box::new(move |a| {
        Ok(crate::commands::Launched {
            message: format!("would start {}", a.label()),
            session: Some(Box::new(FakeSession(r.clone()))),
        })
    });
    let door = Arc::new(OpensOnFirstKnock::default());
    c.services.knocker = door.clone();
    add_sequence_host(&mut c, "Lab");
    let grant = grant_seconds(&c.state.host("Lab").unwrap().profile);
    let _ = c.apply(Command::ToggleKeepOpen("Lab".into()));
    assert!(c.state.settings.keep_open.contains("Lab"));
    assert!(
        controller(&dir).state.settings.keep_open.contains("Lab"),
        "saved"
    );

    c.state.now = 1000;
    let _ = c.apply(Command::Knock {
        host: "Lab".into(),
        connect: true,
    });
    finish_runs(&mut c);
    assert!(c.state.keeping_open.contains("Lab"));
    let due = reknock_at(1000, grant);
    c.state.now = due - 1;
    let _ = c.poll();
    assert!(c.state.runs.is_empty(), "not before its time");
    c.state.now = due;
    let _ = c.poll();
    assert!(c.state.runs.contains_key("Lab"), "knocked again");
    finish_runs(&mut c);
    let opens = c
        .state
        .log
        .iter()
        .filter(|e| e.outcome.message().starts_with("Open after"))
        .count();
    assert_eq!(opens, 2, "the refresh of a live grant counts as open");
    // The user's knock checked the door first; the refresh did not (the
    // door answers then because of this very grant).
    assert_eq!(*door.checks.lock().unwrap(), [true, false]);

    // Option off: the program runs, but no re-knock.
    let _ = c.apply(Command::ToggleKeepOpen("Lab".into()));
    c.state.now = reknock_at(due, grant);
    let _ = c.poll();
    assert!(c.state.runs.is_empty());
    assert!(c.state.keeping_open.is_empty());

    // On again, but the program ended: nothing more.
    let _ = c.apply(Command::ToggleKeepOpen("Lab".into()));
    running.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = c.poll();
    assert!(c.state.runs.is_empty());
    assert!(c.state.keeping_open.is_empty());
}

/// The clock check is on by default (the knock asks the default time
/// servers when it stays closed) and the Settings checkbox turns it off
/// for good: the knock then names no time server.
#[test]
fn the_clock_check_follows_the_setting() {
    use postern_client::engine::clock::DEFAULT_TIME_SERVERS;
    let dir = temp_dir("gui-clock");
    let mut c = controller(&dir);
    let door = Arc::new(OpensOnFirstKnock::default());
    c.services.knocker = door.clone();
    add_sequence_host(&mut c, "Lab");
    let knock = |c: &mut Controller| {
        let _ = c.apply(Command::Knock {
            host: "Lab".into(),
            connect: false,
        });
        finish_runs(c);
    };
    knock(&mut c);
    let _ = c.apply(Command::OpenSettings);
    let Dialog::Settings(d) = &mut c.state.dialog else {
        panic!("settings not open")
    };
    assert!(d.settings.check_clock, "on by default");
    d.settings.check_clock = false;
    let _ = c.apply(Command::SaveSettings);
    knock(&mut c);
    assert!(!controller(&dir).state.settings.check_clock, "saved");
    assert_eq!(
        *door.time_servers.lock().unwrap(),
        [DEFAULT_TIME_SERVERS.map(str::to_owned).to_vec(), vec![]]
    );
}
