//! What the UI asks for, and the one place it happens.
//!
//! Drawing code returns [`Command`]s (egui_demo_app style); [`Controller`]
//! applies them after the frame: it is the only code that touches the
//! store, the keyring, the workers and the launcher. Everything here runs
//! without egui, so tests drive it directly.

use super::form::HostForm;
use super::keepalive::{Session, reknock_at};
use super::launch::ConnectAction;
use super::settings::{Outcome, Settings, SettingsStore, ThemeChoice, parse_stun_list};
use super::state::{AppState, Dialog, SettingsDraft};
use super::status::grant_seconds;
use super::worker::{KnockJob, KnockService, Waker, WorkerMsg, spawn_knock};
use crate::i18n::t;
use postern_client::engine::{FailureKind, KnockOptions};
use postern_client::store::secrets::{SecretStore, get_fwknop, set_fwknop};
use postern_client::store::{HostStore, secret_account, slug};
use postern_proto::ServerId;
use postern_proto::profile::{MethodSpec, Profile};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use zeroize::Zeroizing;

/// Something the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a command does nothing until the app applies it"]
pub enum Command {
    Knock {
        host: String,
        connect: bool,
    },
    Cancel {
        host: String,
    },
    Connect {
        host: String,
    },
    /// Show the file dialog, then import the chosen file.
    PickProfile,
    ImportFile(PathBuf),
    /// Try the import again with the passphrase typed in the dialog.
    SubmitPassphrase,
    /// Answer to "trust this signer?".
    Trust(bool),
    AddHost,
    EditHost(String),
    SaveHostForm,
    AskRemove(String),
    Remove(String),
    /// Put back the host removed last (possible until the app closes).
    UndoRemove,
    /// Turn "keep the door open while connected" on or off for a host.
    ToggleKeepOpen(String),
    OpenSettings,
    SaveSettings,
    CloseDialog,
    CopyLog,
    DismissBanner,
}

/// What the controller needs from the egui side after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    CopyText(String),
    Theme(ThemeChoice),
}

/// Starts a connection; errors are sentences.
pub type Launcher = Box<dyn FnMut(&ConnectAction) -> Result<Launched, String>>;

/// A started connection: a sentence for the banner, and the program when
/// the app can follow it (for the keep-alive).
pub struct Launched {
    pub message: String,
    pub session: Option<Box<dyn Session>>,
}

impl std::fmt::Debug for Launched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Launched")
            .field("message", &self.message)
            .field("followed", &self.session.is_some())
            .finish()
    }
}

impl From<String> for Launched {
    fn from(message: String) -> Self {
        Launched {
            message,
            session: None,
        }
    }
}

type SecretsOpener = Box<dyn FnMut() -> Result<(Box<dyn SecretStore>, Option<String>), String>>;

/// The outside world, behind traits so tests use temp dirs, a mock
/// keyring and a fake engine.
pub struct Services {
    pub hosts: Box<dyn HostStore>,
    pub settings: Box<dyn SettingsStore>,
    pub knocker: Arc<dyn KnockService>,
    /// Opens the keyring on first use (it can be slow or ask to unlock).
    pub open_secrets: SecretsOpener,
    pub launcher: Launcher,
    /// The native file dialog.
    pub pick_file: Box<dyn FnMut() -> Option<PathBuf>>,
    /// Shown in Settings.
    pub config_dir: PathBuf,
    /// Unix seconds, for the log and "5 min ago" (fixed in tests).
    pub clock: fn() -> u64,
    pub(super) secrets: Option<Box<dyn SecretStore>>,
    secrets_warning: Option<String>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("config_dir", &self.config_dir)
            .finish_non_exhaustive()
    }
}

impl Services {
    pub fn new(
        hosts: Box<dyn HostStore>,
        settings: Box<dyn SettingsStore>,
        knocker: Arc<dyn KnockService>,
        open_secrets: SecretsOpener,
        config_dir: PathBuf,
    ) -> Self {
        Services {
            hosts,
            settings,
            knocker,
            open_secrets,
            launcher: Box::new(|_| Err(t!("launch-not-available"))),
            pick_file: Box::new(|| None),
            config_dir,
            clock: || postern_client::engine::unix_now().0,
            secrets: None,
            secrets_warning: None,
        }
    }

    pub(super) fn ensure_secrets(&mut self) -> Result<(), String> {
        if self.secrets.is_none() {
            let (s, warning) = (self.open_secrets)()?;
            self.secrets = Some(s);
            self.secrets_warning = warning;
        }
        Ok(())
    }

    fn secrets(&mut self) -> Result<&dyn SecretStore, String> {
        self.ensure_secrets()?;
        self.secrets
            .as_deref()
            .ok_or_else(|| t!("import-no-secret-store"))
    }
}

/// App state plus the services and the worker channel.
pub struct Controller {
    pub state: AppState,
    pub services: Services,
    /// Hosts removed in this run, newest last, with the key that left the
    /// keyring with them: Undo puts both back. Memory only, so a removal
    /// is final once the app closes.
    /// The secret is kept as the keyring holds it (a Postern key or an
    /// fwknop key pair), so Undo puts back exactly what was there.
    removed: Vec<(Profile, Option<Zeroizing<String>>)>,
    /// Programs "Connect" started, by host, while they run.
    sessions: std::collections::BTreeMap<String, Box<dyn Session>>,
    tx: Sender<WorkerMsg>,
    rx: Receiver<WorkerMsg>,
    waker: Waker,
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// Loads settings, the log and the hosts. A damaged file is reported
    /// in the banner and left alone.
    pub fn new(services: Services) -> Self {
        let (tx, rx) = channel();
        let mut problems = Vec::new();
        let settings = services.settings.load_settings().unwrap_or_else(|e| {
            problems.push(e.to_string());
            Settings::default()
        });
        let log = services.settings.load_log().unwrap_or_else(|e| {
            problems.push(e.to_string());
            Vec::new()
        });
        crate::i18n::apply(settings.language);
        let mut c = Controller {
            state: AppState::new(settings, log),
            services,
            removed: Vec::new(),
            sessions: std::collections::BTreeMap::new(),
            tx,
            rx,
            waker: Arc::new(|| {}),
        };
        c.state.now = (c.services.clock)();
        c.reload_hosts();
        if let Some(p) = problems.into_iter().next() {
            c.state.error(p);
        }
        c
    }

    /// Called by the window so workers can wake it.
    pub fn set_waker(&mut self, waker: Waker) {
        self.waker = waker;
    }

    pub fn reload_hosts(&mut self) {
        let signers = self.services.hosts.signers();
        match (self.services.hosts.hosts(), signers) {
            (Ok(h), Ok(s)) => self.state.set_hosts(h, &s),
            (Err(e), _) | (_, Err(e)) => self.state.error(e.to_string()),
        }
    }

    /// Applies what the workers reported since the last frame.
    pub fn poll(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        while let Ok(msg) = self.rx.try_recv() {
            if let Some(done) = self.state.handle_worker(msg) {
                self.save_log();
                if done.connect {
                    effects.extend(self.apply(Command::Connect { host: done.host }));
                }
            }
        }
        self.keep_alive();
        effects
    }

    /// Knocks again for each host whose door is kept open, once its
    /// re-knock time has come; forgets programs that have ended. A re-knock
    /// that does not open ends the keep-alive (the card says why), so a
    /// revoked user is not knocking forever.
    fn keep_alive(&mut self) {
        self.sessions.retain(|_, s| s.running());
        let now = self.state.now;
        let (mut kept, mut due) = (Vec::new(), Vec::new());
        for host in self.sessions.keys() {
            if !self.state.settings.keep_open.contains(host) {
                continue;
            }
            let (Some(view), Some(last)) = (self.state.host(host), self.state.last_result(host))
            else {
                continue;
            };
            if self.state.runs.contains_key(host) {
                kept.push(host.clone());
            } else if matches!(last.outcome, Outcome::Open { .. }) {
                kept.push(host.clone());
                if now >= reknock_at(last.at, grant_seconds(&view.profile)) {
                    due.push(host.clone());
                }
            }
        }
        self.state.keeping_open = kept.into_iter().collect();
        for host in due {
            self.knock_with(&host, false, false);
        }
    }

    fn toggle_keep_open(&mut self, host: &str) {
        let mut s = self.state.settings.clone();
        if !s.keep_open.remove(host) {
            s.keep_open.insert(host.to_owned());
        }
        match self.services.settings.save_settings(&s) {
            Ok(()) => self.state.settings = s,
            Err(e) => self.state.error(format!("Settings were not saved: {e}")),
        }
    }

    fn save_log(&mut self) {
        if let Err(e) = self.services.settings.save_log(&self.state.log) {
            self.state
                .error(t!("banner-log-not-saved", error = e.to_string()));
        }
    }

    pub fn apply(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::Knock { host, connect } => self.knock(&host, connect),
            Command::Cancel { host } => {
                if self.state.cancel(&host) {
                    self.save_log();
                }
            }
            Command::Connect { host } => self.connect(&host),
            Command::PickProfile => {
                if let Some(path) = (self.services.pick_file)() {
                    return self.apply(Command::ImportFile(path));
                }
            }
            Command::ImportFile(path) => self.import_file(&path),
            Command::SubmitPassphrase => self.retry_import(false),
            Command::Trust(true) => self.retry_import(true),
            Command::Trust(false) => {
                self.state.dialog = Dialog::None;
                self.state.info(t!("import-not-trusted"));
            }
            Command::AddHost => self.state.dialog = Dialog::HostForm(Box::default()),
            Command::EditHost(name) => {
                if let Some(h) = self.state.host(&name) {
                    self.state.dialog = Dialog::HostForm(Box::new(HostForm::edit(&h.profile)));
                }
            }
            Command::SaveHostForm => self.save_host_form(),
            Command::AskRemove(name) => self.state.dialog = Dialog::ConfirmRemove(name),
            Command::Remove(name) => self.remove(&name),
            Command::UndoRemove => self.undo_remove(),
            Command::ToggleKeepOpen(host) => self.toggle_keep_open(&host),
            Command::OpenSettings => self.open_settings(),
            Command::SaveSettings => return self.save_settings(),
            Command::CloseDialog => self.state.dialog = Dialog::None,
            Command::CopyLog => return vec![Effect::CopyText(self.state.log_text())],
            Command::DismissBanner => self.state.banner = None,
        }
        Vec::new()
    }

    fn knock(&mut self, host: &str, connect: bool) {
        self.knock_with(host, connect, true);
    }

    /// `check_before` off for the keep-alive's refresh: the door answers
    /// then because of this user's own live grant, which is no reason to
    /// warn (engine `KnockOptions::check_before`).
    fn knock_with(&mut self, host: &str, connect: bool, check_before: bool) {
        let Some(view) = self.state.host(host) else {
            return;
        };
        let mut profile = view.profile.clone();
        self.state.settings.allow.apply(&mut profile);
        let key = if profile.method.needs_key() {
            let account = secret_account(&profile).unwrap_or_default();
            match self
                .services
                .secrets()
                .and_then(|s| s.get(&account).map_err(|e| e.to_string()))
            {
                Ok(Some(k)) => Some(k),
                Ok(None) => {
                    self.fail(host, &t!("knock-key-missing"));
                    return;
                }
                Err(e) => {
                    self.fail(host, &e);
                    return;
                }
            }
        } else {
            None
        };
        if let MethodSpec::Fwknop { hmac, .. } = profile.method
            && profile.method.needs_fwknop_keys()
        {
            let account = secret_account(&profile).unwrap_or_default();
            match self
                .services
                .secrets()
                .and_then(|s| get_fwknop(s, &account, hmac).map_err(|e| e.to_string()))
            {
                Ok(Some(k)) => profile.method.set_fwknop_keys(k),
                Ok(None) => {
                    self.fail(
                        host,
                        "the fwknop keys for this host are not in the keyring; edit the host \
                         and paste them again",
                    );
                    return;
                }
                Err(e) => {
                    self.fail(host, &e);
                    return;
                }
            }
        }
        let opts = KnockOptions {
            decoys: self.state.settings.decoys,
            ip: self.state.settings.ip.preference(),
            stun_servers: self.state.settings.stun.clone(),
            time_servers: if self.state.settings.check_clock {
                KnockOptions::default().time_servers
            } else {
                Vec::new()
            },
            verify: true,
            reknock: true,
            check_before,
            ..KnockOptions::default()
        };
        let Some(run) = self.state.start_run(host, connect) else {
            return;
        };
        let job = KnockJob { profile, key, opts };
        if let Err(e) = spawn_knock(
            self.services.knocker.clone(),
            job,
            run.id,
            run.cancel.clone(),
            self.tx.clone(),
            self.waker.clone(),
        ) {
            self.state.runs.remove(host);
            self.fail(host, &t!("knock-cannot-start", error = e.to_string()));
        }
    }

    fn fail(&mut self, host: &str, message: &str) {
        self.state.record(
            host,
            Outcome::Failed {
                message: message.to_owned(),
                kind: FailureKind::Other,
            },
        );
        self.save_log();
    }

    fn connect(&mut self, host: &str) {
        let Some(view) = self.state.host(host) else {
            return;
        };
        let Some(action) = super::launch::connect_action(&view.profile) else {
            self.state.error(t!("connect-no-program", host = host));
            return;
        };
        match (self.services.launcher)(&action) {
            Ok(launched) => {
                self.state.info(launched.message);
                if let Some(session) = launched.session {
                    self.sessions.insert(host.to_owned(), session);
                }
            }
            Err(msg) => self
                .state
                .error(t!("connect-failed", host = host, error = msg)),
        }
    }

    fn save_host_form(&mut self) {
        let Dialog::HostForm(form) = &self.state.dialog else {
            return;
        };
        let form = form.clone();
        let built = form.build(ServerId::generate(&mut rand::rng()));
        let (profile, key) = match built {
            Ok(x) => x,
            Err(e) => {
                self.state.error(e);
                return;
            }
        };
        let new_slug = slug(&profile.name).ok();
        let clash = self.state.hosts.iter().any(|h| {
            slug(&h.profile.name).ok() == new_slug && Some(&h.profile.name) != form.editing.as_ref()
        });
        if clash {
            self.state
                .error(t!("host-exists", name = profile.name.as_str()));
            return;
        }
        let account = secret_account(&profile).unwrap_or_default();
        if let MethodSpec::Fwknop { keys: Some(k), .. } = &profile.method
            && let Err(e) = self
                .services
                .secrets()
                .and_then(|s| set_fwknop(s, &account, k).map_err(|e| e.to_string()))
        {
            self.state.error(t!("key-not-saved", error = e));
            return;
        }
        if let Some(k) = key
            && let Err(e) = self
                .services
                .secrets()
                .and_then(|s| s.set(&account, &k).map_err(|e| e.to_string()))
        {
            self.state.error(t!("key-not-saved", error = e));
            return;
        }
        if let Err(e) = self.services.hosts.save_host(&profile) {
            self.state.error(e.to_string());
            return;
        }
        if let Some(old) = &form.editing
            && slug(old).ok() != new_slug
            && let Err(e) = self.services.hosts.remove_host(old)
        {
            self.state.error(e.to_string());
        }
        self.state.dialog = Dialog::None;
        self.reload_hosts();
        self.state
            .info(t!("host-saved", name = profile.name.as_str()));
    }

    fn remove(&mut self, name: &str) {
        self.state.dialog = Dialog::None;
        let Some(view) = self.state.host(name) else {
            return;
        };
        let profile = view.profile.clone();
        // The secret goes only when no other host uses the same account;
        // it is read first so that Undo can put it back.
        let account = secret_account(&profile).filter(|account| {
            !self.state.hosts.iter().any(|h| {
                h.profile.name != name && secret_account(&h.profile).as_ref() == Some(account)
            })
        });
        let key = match &account {
            Some(account) => match self
                .services
                .secrets()
                .and_then(|s| s.get_text(account).map_err(|e| e.to_string()))
            {
                Ok(key) => key,
                Err(e) => {
                    self.state.error(t!("remove-key-unreadable", error = e));
                    return;
                }
            },
            None => None,
        };
        if let Err(e) = self.services.hosts.remove_host(name) {
            self.state.error(e.to_string());
            return;
        }
        self.reload_hosts();
        self.removed.push((profile, key));
        if let Some(account) = account
            && let Err(e) = self
                .services
                .secrets()
                .and_then(|s| s.delete(&account).map_err(|e| e.to_string()))
        {
            self.state
                .error(t!("remove-key-stayed", name = name, error = e));
            return;
        }
        self.state.undoable(t!("removed", name = name));
    }

    /// Saves the host removed last, and its key, again.
    fn undo_remove(&mut self) {
        let Some((profile, key)) = self.removed.pop() else {
            return;
        };
        let name = profile.name.clone();
        if let (Some(k), Some(account)) = (key.as_ref(), secret_account(&profile)) {
            let put = self
                .services
                .secrets()
                .and_then(|s| s.set_text(&account, k).map_err(|e| e.to_string()));
            if let Err(e) = put {
                self.state
                    .error(t!("undo-key-failed", name = name.as_str(), error = e));
                self.removed.push((profile, key));
                return;
            }
        }
        if let Err(e) = self.services.hosts.save_host(&profile) {
            self.state.error(t!(
                "undo-failed",
                name = name.as_str(),
                error = e.to_string()
            ));
            self.removed.push((profile, key));
            return;
        }
        self.reload_hosts();
        self.state.info(t!("undo-done", name = name));
    }

    fn open_settings(&mut self) {
        let secrets = match self.services.secrets() {
            Ok(s) => s.describe(),
            Err(e) => t!("settings-keys-unavailable", error = e),
        };
        let secrets = match &self.services.secrets_warning {
            Some(_) => t!("settings-keys-no-keyring", store = secrets),
            None => secrets,
        };
        let s = self.state.settings.clone();
        self.state.dialog = Dialog::Settings(Box::new(SettingsDraft {
            decoys: s.decoys.map(|d| d.to_string()).unwrap_or_default(),
            stun: s.stun.join(", "),
            settings: s,
            config_dir: self.services.config_dir.display().to_string(),
            secrets,
        }));
    }

    fn save_settings(&mut self) -> Vec<Effect> {
        let Dialog::Settings(draft) = &self.state.dialog else {
            return Vec::new();
        };
        if let Some(p) = draft.decoys_problem() {
            self.state.error(t!("settings-bad-decoys", problem = p));
            return Vec::new();
        }
        if let Some(p) = draft.settings.allow.problem() {
            self.state.error(t!("settings-bad-allow", problem = p));
            return Vec::new();
        }
        let stun = match parse_stun_list(&draft.stun) {
            Ok(servers) => servers,
            Err(p) => {
                self.state.error(t!("settings-bad-stun", problem = p));
                return Vec::new();
            }
        };
        let mut s = draft.settings.clone();
        s.decoys = draft.decoys.trim().parse().ok();
        s.stun = stun;
        if let Err(e) = self.services.settings.save_settings(&s) {
            self.state
                .error(t!("settings-not-saved", error = e.to_string()));
            return Vec::new();
        }
        let theme = s.theme;
        // The new language shows from this banner on.
        crate::i18n::apply(s.language);
        self.state.settings = s;
        self.state.dialog = Dialog::None;
        self.state.info(t!("settings-saved"));
        vec![Effect::Theme(theme)]
    }
}

#[cfg(test)]
mod tests;
