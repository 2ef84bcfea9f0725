//! Shared by the GUI tests: the real app on a temp folder, a mock keyring,
//! and a fake engine that the test steps packet by packet.

// Test-only helpers: a failed setup step should panic loudly.
#![allow(dead_code, clippy::unwrap_used)]

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use postern_client::engine::transmit::Progress;
use postern_client::engine::verify::Verdict;
use postern_client::engine::{KnockEvent, KnockReport};
use postern_client::store::files::FileStore;
use postern_client::store::secrets::{KeyringSecrets, SecretStore};
use postern_desktop::settings::FileSettings;
use postern_desktop::worker::KnockJob;
use postern_desktop::{KnockService, PosternApp, Services};
use postern_proto::UserKey;
use postern_proto::sign::AdminKey;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The tests' wall clock (2025-11-24 16:00:00 UTC), so screens do not
/// change with the time of day.
pub const CLOCK: u64 = 1_764_000_000;

/// A fresh, empty folder.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "postern-gui-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A fake engine: reports three packets and "verifying", waiting for the
/// test's `go()` after each, then returns `result`. Notices Cancel.
pub struct Fake {
    tokens: Mutex<u32>,
    cv: Condvar,
    pub result: Mutex<Result<KnockReport, postern_desktop::worker::KnockFailure>>,
    pub saw_cancel: AtomicBool,
}

impl Fake {
    pub fn new(result: Result<KnockReport, postern_desktop::worker::KnockFailure>) -> Arc<Self> {
        Arc::new(Fake {
            tokens: Mutex::new(0),
            cv: Condvar::new(),
            result: Mutex::new(result),
            saw_cancel: AtomicBool::new(false),
        })
    }

    /// Lets the knock take its next step.
    pub fn go(&self, steps: u32) {
        *self.tokens.lock().unwrap() += steps;
        self.cv.notify_all();
    }

    fn wait(&self, cancel: &AtomicBool) -> bool {
        let mut t = self.tokens.lock().unwrap();
        loop {
            if cancel.load(Ordering::Relaxed) {
                self.saw_cancel.store(true, Ordering::Relaxed);
                return false;
            }
            if *t > 0 {
                *t -= 1;
                return true;
            }
            t = self.cv.wait_timeout(t, Duration::from_millis(5)).unwrap().0;
        }
    }
}

pub fn open_after(ms: u64) -> Result<KnockReport, postern_desktop::worker::KnockFailure> {
    Ok(KnockReport {
        bound: vec![],
        clock: None,
        addresses: vec![],
        packets: 3,
        verdict: Some(Verdict::Open {
            after: Duration::from_millis(ms),
            reknocked: false,
        }),
    })
}

impl KnockService for Fake {
    fn knock(
        &self,
        _job: &KnockJob,
        cancel: &AtomicBool,
        progress: &mut dyn FnMut(KnockEvent),
    ) -> Result<KnockReport, postern_desktop::worker::KnockFailure> {
        let dest = std::net::IpAddr::from([192, 0, 2, 1]);
        progress(KnockEvent::Addresses(vec![dest]));
        for index in 1..=3 {
            progress(KnockEvent::Packet(Progress {
                index,
                total: 3,
                dest,
            }));
            if !self.wait(cancel) {
                return Err("cancelled".into());
            }
        }
        progress(KnockEvent::Verifying(std::net::SocketAddr::new(dest, 22)));
        if !self.wait(cancel) {
            return Err("cancelled".into());
        }
        self.result.lock().unwrap().clone()
    }
}

/// The real app on `dir`, with a mock keyring and `fake` as the engine.
/// The file dialog returns `pick`.
pub fn app(dir: &Path, fake: Arc<Fake>, pick: Option<PathBuf>) -> PosternApp {
    let store = keyring_core::mock::Store::new().unwrap();
    let mut s = Services::new(
        Box::new(FileStore::new(dir)),
        Box::new(FileSettings::new(dir)),
        fake,
        Box::new(move || {
            let k: Box<dyn SecretStore> = Box::new(KeyringSecrets::new(store.clone(), "mock"));
            Ok((k, None))
        }),
        dir.to_path_buf(),
    );
    s.pick_file = Box::new(move || pick.clone());
    s.clock = || CLOCK;
    PosternApp::new(s)
}

/// A harness on the real UI, OS pinned so nothing depends on the host.
pub fn harness(app: PosternApp) -> Harness<'static, PosternApp> {
    Harness::builder()
        .with_size(egui::vec2(820.0, 900.0))
        .with_os(egui::os::OperatingSystem::Nix)
        .with_theme(egui::Theme::Light)
        .with_max_steps(16)
        .build_ui_state(|ui, app: &mut PosternApp| app.frame(ui), app)
}

/// Steps frames until some label contains `text` (the worker runs on its
/// own thread, so this waits for it).
/// Opens the host's "More…" menu and picks "Open the door only": a knock
/// that starts no program.
pub fn knock_only(h: &mut Harness<'_, PosternApp>, host: &str) {
    h.get_by_label(&format!("More for {host}")).click();
    h.run();
    h.get_by_label(&format!("Knock only {host}")).click();
    h.run();
}

pub fn wait_for(h: &mut Harness<'_, PosternApp>, text: &str) {
    let t = Instant::now();
    loop {
        h.step();
        if h.query_all_by_label_contains(text).next().is_some() {
            h.run();
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "never saw {text:?}; the tree:\n{:#?}",
            h.root()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn admin(seed: u64) -> AdminKey {
    AdminKey::generate(&mut ChaCha20Rng::seed_from_u64(seed))
}

/// A signed SPA profile for "Office" (RDP on 3389).
pub fn signed_profile(admin: &AdminKey) -> String {
    let key = UserKey::from_bytes([9; 32]).to_base64();
    admin.sign_text(&format!(
        "version = 1\nname = \"Office\"\nhost = \"198.18.0.1\"\n\
         server_id = \"00112233445566778899aabbccddeeff\"\n\
         [[door]]\nproto = \"tcp\"\nport = 3389\n\
         [method]\nkind = \"spa\"\nuser = \"alice\"\nkey = \"{key}\"\nport = 62201\n"
    ))
}

/// Types into the text field named `label`.
pub fn type_into(h: &mut Harness<'_, PosternApp>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.step();
    h.get_by_label(label).type_text(text);
    h.run();
}

/// A file dropped on the window.
#[derive(Debug)]
pub struct Dropped(pub PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

/// Saves a knockd-style host "Lab" (SSH on 22) straight into the store.
pub fn add_lab_host(dir: &Path) {
    use postern_client::store::HostStore;
    let p = postern_client::import::knockd_door_profile(
        "Lab",
        "192.0.2.1",
        "7000,8000:udp,9000",
        "22/tcp",
        0,
        &mut ChaCha20Rng::seed_from_u64(3),
    )
    .unwrap();
    FileStore::new(dir).save_host(&p).unwrap();
}
