//! The app's state as a plain struct (STYLE.md rule 9): what is persisted
//! (settings, activity log — saved through [`super::settings`]), what is a
//! cache of the store (hosts), and the runtime handles (running knocks,
//! the open dialog). No egui here: every method is tested without a window.

use super::form::HostForm;
use super::settings::{ActivityEntry, MAX_LOG, Outcome, Settings, parse_stun_list};
use super::worker::{WorkerEvent, WorkerMsg};
use crate::i18n::t;
use postern_client::engine::KnockEvent;
use postern_client::engine::verify::Verdict;
use postern_client::store::Signers;
use postern_proto::profile::Profile;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use zeroize::Zeroizing;

/// A saved host as the list shows it.
#[derive(Debug, Clone)]
pub struct HostView {
    pub profile: Profile,
    /// Fingerprint of the administrator key trusted for its server, when
    /// it came from a signed profile.
    pub signer: Option<String>,
}

/// Where a running knock is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting,
    /// Checking whether the port answers before anything is sent.
    CheckingBefore,
    Sending {
        sent: usize,
        total: usize,
    },
    Verifying,
    Reknocking,
    /// The door stayed closed; asking a time server about the clock.
    CheckingClock,
}

impl Phase {
    /// In plain words. Decoys are counted like every other packet: the
    /// screen must not tell an onlooker which packets are real.
    pub fn message(&self) -> String {
        match self {
            Phase::Starting => t!("phase-starting"),
            Phase::CheckingBefore => t!("phase-checking-before"),
            Phase::Sending { sent, total } => t!("phase-sending", sent = *sent, total = *total),
            Phase::Verifying => t!("phase-verifying"),
            Phase::Reknocking => t!("phase-reknocking"),
            Phase::CheckingClock => t!("phase-checking-clock"),
        }
    }

    /// For a progress bar, 0 to 1.
    pub fn fraction(&self) -> f32 {
        match *self {
            Phase::Starting | Phase::CheckingBefore => 0.0,
            Phase::Sending { sent, total } => sent as f32 / total.max(1) as f32 * 0.8,
            Phase::Verifying | Phase::Reknocking => 0.9,
            Phase::CheckingClock => 0.95,
        }
    }
}

/// A knock in flight.
#[derive(Debug, Clone)]
pub struct KnockRun {
    pub id: u64,
    pub host: String,
    /// Start the connection when the port opens ("Knock & connect").
    pub connect: bool,
    pub phase: Phase,
    pub cancel: Arc<AtomicBool>,
}

/// Step of an import that needs the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportStage {
    /// The file is encrypted.
    Passphrase { error: Option<String> },
    /// Signed by a key not yet trusted for this server (or not signed).
    Trust {
        profile_name: String,
        server_id: String,
        fingerprint: Option<String>,
    },
    /// Refused; nothing changed.
    Refused { reason: String },
}

/// An import in progress. The file's text and passphrase are kept only
/// while the dialog is open.
#[derive(Debug, Clone)]
pub struct ImportFlow {
    pub source: String,
    pub text: Zeroizing<String>,
    pub passphrase: Zeroizing<String>,
    pub stage: ImportStage,
}

/// The draft in the Settings dialog (saved only on "Save").
#[derive(Debug, Clone)]
pub struct SettingsDraft {
    pub settings: Settings,
    /// Text of the decoy field; empty means "as the profile says".
    pub decoys: String,
    /// Text of the STUN servers field (see [`parse_stun_list`]).
    pub stun: String,
    pub config_dir: String,
    pub secrets: String,
}

impl SettingsDraft {
    pub fn decoys_problem(&self) -> Option<String> {
        match self.decoys.trim() {
            "" => None,
            text => match text.parse::<u8>() {
                Ok(n) if n <= 64 => None,
                _ => Some(t!("settings-decoys-problem")),
            },
        }
    }

    /// What is wrong with the STUN servers field; `None` when fine.
    pub fn stun_problem(&self) -> Option<String> {
        parse_stun_list(&self.stun).err()
    }
}

/// At most one dialog is open.
#[derive(Debug, Clone, Default)]
pub enum Dialog {
    #[default]
    None,
    HostForm(Box<HostForm>),
    Settings(Box<SettingsDraft>),
    Import(Box<ImportFlow>),
    ConfirmRemove(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BannerKind {
    Info,
    Error,
}

/// A one-line message at the top of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    pub kind: BannerKind,
    pub text: String,
    /// Offer "Undo" (after removing a host).
    pub undo: bool,
}

/// A knock that just ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub host: String,
    pub outcome: Outcome,
    /// "Knock & connect" and the port opened: start the connection.
    pub connect: bool,
}

#[derive(Debug, Default)]
pub struct AppState {
    // Persisted.
    pub settings: Settings,
    pub log: Vec<ActivityEntry>,
    // A cache of the host store.
    pub hosts: Vec<HostView>,
    // Runtime only.
    pub runs: BTreeMap<String, KnockRun>,
    pub dialog: Dialog,
    pub banner: Option<Banner>,
    /// Unix seconds, updated every frame (for "2 min ago").
    pub now: u64,
    /// Hosts whose door is being kept open: the option is on and the
    /// program "Connect" started still runs (see [`crate::keepalive`]).
    pub keeping_open: std::collections::BTreeSet<String>,
    next_run: u64,
}

impl AppState {
    pub fn new(settings: Settings, log: Vec<ActivityEntry>) -> Self {
        AppState {
            settings,
            log,
            ..AppState::default()
        }
    }

    pub fn set_hosts(&mut self, profiles: Vec<Profile>, signers: &Signers) {
        self.hosts = profiles
            .into_iter()
            .map(|profile| HostView {
                signer: signers
                    .by_server
                    .get(&profile.server_id.to_hex())
                    .map(|s| s.fingerprint.clone()),
                profile,
            })
            .collect();
    }

    pub fn host(&self, name: &str) -> Option<&HostView> {
        self.hosts.iter().find(|h| h.profile.name == name)
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.banner = Some(Banner {
            kind: BannerKind::Info,
            text: text.into(),
            undo: false,
        });
    }

    /// An info banner with an Undo button.
    pub fn undoable(&mut self, text: impl Into<String>) {
        self.banner = Some(Banner {
            kind: BannerKind::Info,
            text: text.into(),
            undo: true,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.banner = Some(Banner {
            kind: BannerKind::Error,
            text: text.into(),
            undo: false,
        });
    }

    /// The newest log entry for a host.
    pub fn last_result(&self, host: &str) -> Option<&ActivityEntry> {
        self.log.iter().rev().find(|e| e.host == host)
    }

    pub fn record(&mut self, host: &str, outcome: Outcome) {
        self.log.push(ActivityEntry {
            at: self.now,
            host: host.to_owned(),
            outcome,
        });
        if self.log.len() > MAX_LOG {
            let extra = self.log.len() - MAX_LOG;
            self.log.drain(..extra);
        }
    }

    /// Registers a new knock and returns it; `None` when this host is
    /// already being knocked.
    pub fn start_run(&mut self, host: &str, connect: bool) -> Option<KnockRun> {
        if self.runs.contains_key(host) {
            return None;
        }
        self.next_run += 1;
        let run = KnockRun {
            id: self.next_run,
            host: host.to_owned(),
            connect,
            phase: Phase::Starting,
            cancel: Arc::new(AtomicBool::new(false)),
        };
        self.runs.insert(host.to_owned(), run.clone());
        Some(run)
    }

    /// Stops a knock: the worker sees the flag at its next packet or wait,
    /// and whatever it reports later is ignored.
    pub fn cancel(&mut self, host: &str) -> bool {
        let Some(run) = self.runs.remove(host) else {
            return false;
        };
        run.cancel.store(true, Ordering::Relaxed);
        self.record(host, Outcome::Cancelled);
        true
    }

    /// Applies a worker's message. Returns the finished knock, if this
    /// message ended one.
    pub fn handle_worker(&mut self, msg: WorkerMsg) -> Option<Finished> {
        let host = self
            .runs
            .values()
            .find(|r| r.id == msg.run)
            .map(|r| r.host.clone())?;
        match msg.event {
            WorkerEvent::Progress(ev) => {
                if let Some(run) = self.runs.get_mut(&host) {
                    run.phase = match ev {
                        KnockEvent::Addresses(_) => Phase::Starting,
                        KnockEvent::Packet(p) => Phase::Sending {
                            sent: p.index,
                            total: p.total,
                        },
                        KnockEvent::CheckingBefore(_) => Phase::CheckingBefore,
                        KnockEvent::Verifying(_) => Phase::Verifying,
                        KnockEvent::Reknocking => Phase::Reknocking,
                        KnockEvent::CheckingClock => Phase::CheckingClock,
                    };
                }
                None
            }
            WorkerEvent::Finished(result) => {
                let run = self.runs.remove(&host)?;
                let outcome = match result {
                    Ok(report) => match report.verdict {
                        Some(Verdict::Open { after, reknocked }) => Outcome::Open {
                            ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                            reknocked,
                            bound: bound_text(&report.bound),
                        },
                        Some(Verdict::StillClosed { reknocked }) => Outcome::StillClosed {
                            reknocked,
                            clock: report.clock,
                        },
                        Some(Verdict::AnsweredBeforeKnock) => Outcome::AnsweredBeforeKnock,
                        Some(Verdict::NoTcpDoor) | None => Outcome::Sent {
                            packets: report.packets,
                            bound: bound_text(&report.bound),
                        },
                    },
                    Err(f) => Outcome::Failed {
                        message: f.message,
                        kind: f.kind,
                    },
                };
                self.record(&host, outcome.clone());
                Some(Finished {
                    connect: run.connect && outcome.can_connect(),
                    host,
                    outcome,
                })
            }
        }
    }

    /// The log as text, newest last, for the clipboard.
    pub fn log_text(&self) -> String {
        self.log
            .iter()
            .map(|e| format!("{}  {}  {}\n", utc_time(e.at), e.host, e.outcome.message()))
            .collect()
    }
}

/// The knock's bound addresses in words, `None` when it named none.
fn bound_text(bound: &[postern_client::engine::Bound]) -> Option<String> {
    let mut words = bound.iter().map(ToString::to_string);
    let first = words.next()?;
    Some(words.fold(first, |a, b| t!("list-and", first = a, second = b)))
}

/// `2026-11-05 14:03:12 UTC` without a date library (Howard Hinnant's
/// days-to-civil algorithm).
pub fn utc_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// "just now", "5 min ago", "3 h ago", "2 days ago".
pub fn ago(now: u64, then: u64) -> String {
    let s = now.saturating_sub(then);
    match s {
        0..=59 => t!("ago-now"),
        60..=3599 => t!("ago-minutes", n = s / 60),
        3600..=86_399 => t!("ago-hours", n = s / 3600),
        _ => t!("ago-days", n = s / 86_400),
    }
}

#[cfg(test)]
mod tests;
