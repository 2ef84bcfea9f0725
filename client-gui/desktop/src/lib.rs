//! # postern-desktop
//!
//! The desktop window (DESIGN.md §5): the `postern-desktop` program, which
//! `postern` without a command starts. The engine, storage and import are
//! the `postern-client` library, shared with the command line; this crate
//! is the only one that links the GUI stack (eframe, egui, wgpu, winit).
//!
//! Layers, as STYLE.md rule 9 asks:
//! - [`state`]: a plain struct — persisted settings and activity log apart
//!   from runtime handles (running knocks, the open dialog);
//! - [`ui`] and [`dialogs`]: draw the state and return [`Command`]s;
//! - [`commands`]: the [`Controller`] applies them (store, keyring,
//!   workers, launcher), with no egui;
//! - [`worker`]: knocks on a thread behind [`KnockService`], reporting over
//!   a channel and waking the window with `request_repaint`.
//!
//! egui repaints only on input and worker messages, so an idle window
//! costs no CPU.

pub mod commands;
pub mod dialogs;
pub mod form;
pub mod i18n;
pub mod import_flow;
pub mod keepalive;
pub mod launch;
pub mod open_files;
pub mod open_request;
pub mod settings;
pub mod single_instance;
pub mod state;
pub mod status;
pub mod ui;
pub mod worker;

pub use commands::{Command, Controller, Effect, Services};
pub use worker::{KnockService, Waker};

use eframe::egui;
use postern_client::store::files::{FileStore, config_dir};
use postern_client::store::secrets;
use settings::{FileSettings, ThemeChoice};
use std::path::PathBuf;
use std::sync::Arc;

/// The app icon (window and taskbar), drawn by `scripts/make-icon.py`.
pub const ICON_PNG: &[u8] = include_bytes!("../../../assets/icon.png");

/// Smallest useful window: one host card and the activity header.
pub const MIN_SIZE: [f32; 2] = [520.0, 420.0];

/// The eframe app: the controller plus what only exists with a window.
pub struct PosternApp {
    pub controller: Controller,
    theme_applied: Option<ThemeChoice>,
    waker_set: bool,
    /// `.postern` files to import: from the command line and from later
    /// launches (see [`open_files`]).
    open: open_files::OpenQueue,
    /// `POSTERN_REPORT_FIRST_FRAME` set: print when the first frame is
    /// drawn (scripts/screenshots.sh measures cold start with it).
    report_first_frame: bool,
}

impl std::fmt::Debug for PosternApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PosternApp")
            .field("controller", &self.controller)
            .finish_non_exhaustive()
    }
}

impl PosternApp {
    pub fn new(services: Services) -> Self {
        PosternApp {
            controller: Controller::new(services),
            theme_applied: None,
            waker_set: false,
            open: open_files::OpenQueue::default(),
            report_first_frame: std::env::var_os(FIRST_FRAME_ENV).is_some(),
        }
    }

    /// Imports `paths` as soon as the window shows, one after the other,
    /// as if each had been picked with the Import button.
    pub fn open_files(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.open.push(paths);
        self
    }

    /// Receive the files later launches hand over (see [`single_instance`]).
    pub fn with_listener(mut self, listener: single_instance::Listener) -> Self {
        self.open.set_listener(listener);
        self
    }

    /// One frame: apply worker messages, draw, then apply the commands the
    /// drawing returned. Used by eframe and by the kittest harnesses.
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        if !self.waker_set {
            let c = ctx.clone();
            self.controller
                .set_waker(Arc::new(move || c.request_repaint()));
            self.waker_set = true;
        }
        let theme = self.controller.state.settings.theme;
        if self.theme_applied != Some(theme) {
            apply_theme(&ctx, theme);
            self.theme_applied = Some(theme);
        }
        self.controller.state.now = (self.controller.services.clock)();
        let mut effects = self.controller.poll();
        effects.extend(self.open.poll(&ctx, &mut self.controller));
        let cmds = ui::root(ui, &mut self.controller.state);
        for cmd in cmds {
            effects.extend(self.controller.apply(cmd));
        }
        for e in effects {
            match e {
                Effect::CopyText(t) => ctx.copy_text(t),
                Effect::Theme(t) => {
                    apply_theme(&ctx, t);
                    self.theme_applied = Some(t);
                }
            }
        }
    }
}

fn apply_theme(ctx: &egui::Context, t: ThemeChoice) {
    ctx.set_theme(match t {
        ThemeChoice::System => egui::ThemePreference::System,
        ThemeChoice::Light => egui::ThemePreference::Light,
        ThemeChoice::Dark => egui::ThemePreference::Dark,
    });
}

/// See [`PosternApp`]'s `report_first_frame`.
pub const FIRST_FRAME_ENV: &str = "POSTERN_REPORT_FIRST_FRAME";

impl eframe::App for PosternApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
        if std::mem::take(&mut self.report_first_frame) {
            let ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            eprintln!("postern: first frame at unix_ms={ms}");
        }
    }
}

/// The real services: files under the config folder, the OS keyring
/// (opened on first use), the socket engine, the OS's programs and the
/// native file dialog.
pub fn real_services() -> anyhow::Result<Services> {
    let dir = config_dir()?;
    let secret_dir = dir.clone();
    let mut s = Services::new(
        Box::new(FileStore::new(&dir)),
        Box::new(FileSettings::new(&dir)),
        Arc::new(worker::EngineService),
        Box::new(move || {
            secrets::open_default(&secret_dir, false)
                .map(|(store, fallback)| (store, fallback.map(|f| f.to_string())))
                .map_err(|e| e.to_string())
        }),
        dir,
    );
    s.launcher = Box::new(|action| {
        let c = launch::launch_command(launch::TargetOs::current(), action, &launch::on_path)?;
        let child = launch::spawn(&c)?;
        Ok(commands::Launched {
            message: i18n::t!("launch-started", program = c.program.as_str()),
            session: Some(Box::new(child)),
        })
    });
    s.pick_file = Box::new(|| {
        rfd::FileDialog::new()
            .set_title(i18n::t!("import-file-title"))
            .add_filter(i18n::t!("import-file-filter"), &["postern", "toml"])
            .add_filter(i18n::t!("import-file-all"), &["*"])
            .pick_file()
    });
    Ok(s)
}

/// Window options: title, icon, sizes, drag-and-drop.
pub fn native_options() -> eframe::NativeOptions {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Postern")
        .with_app_id("postern")
        .with_inner_size([760.0, 600.0])
        .with_min_inner_size(MIN_SIZE)
        .with_drag_and_drop(true);
    if let Ok(icon) = eframe::icon_data::from_png_bytes(ICON_PNG) {
        viewport = viewport.with_icon(Arc::new(icon));
    }
    eframe::NativeOptions {
        viewport,
        ..eframe::NativeOptions::default()
    }
}

/// Opens the window and runs until it is closed. Files named on the
/// command line are imported; if a Postern window is already open, they
/// are handed to it instead and this returns at once.
pub fn run_gui() -> anyhow::Result<()> {
    let files = open_request::file_args(std::env::args_os().skip(1));
    let dir = config_dir()?;
    if !files.is_empty() && single_instance::hand_over(&dir, &files) {
        return Ok(());
    }
    let services = real_services()?;
    let persistence = services.config_dir.join("window-state");
    let mut app = PosternApp::new(services).open_files(files);
    // Without the channel a later launch opens a window of its own, as
    // before: not worth refusing to start over.
    match single_instance::listen(&dir) {
        Ok(l) => app = app.with_listener(l),
        Err(e) => eprintln!("postern: later launches will open their own window: {e}"),
    }
    let mut options = native_options();
    // Window size and position come back where the user left them; kept
    // with Postern's other files rather than in eframe's own folder.
    options.persist_window = true;
    options.persistence_path = Some(persistence);
    eframe::run_native("Postern", options, Box::new(|_cc| Ok(Box::new(app))))
        .map_err(|e| anyhow::anyhow!(i18n::t!("window-error", error = e.to_string())))
}
