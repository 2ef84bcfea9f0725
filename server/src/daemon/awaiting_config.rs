//! A daemon started by the system before it has a usable config waits for
//! one instead of exiting.
//!
//! Why: the Windows installer sets the service to start at boot before any
//! config exists (`posternd init` writes it later), and its recovery
//! restarts the service one second after every error exit (the crash
//! bound, docs/admin.md §9). Exiting on a missing or broken config would
//! therefore start, fail and log twice a second until the admin acts:
//! about 170 000 Application event log entries a day, which push every
//! other program's entries out of the log. systemd avoids the same loop on
//! Linux with `ConditionPathExists`; the service control manager has no
//! such condition, so the daemon does the waiting itself.
//!
//! Waiting opens nothing: no firewall is touched, and on Windows the stale
//! grant rules were already swept before this runs. The protected ports
//! stay as the system's own rules leave them (closed after `init`).

use super::clock::Clock;
use crate::config::{self, Config};
use crate::platform::Control;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::Level;

/// How often a daemon without a usable config reads the file again. One
/// small file read per interval costs nothing, and an admin who fixes the
/// file sees the doors guarded within it without touching the service.
const CONFIG_RETRY: Duration = Duration::from_secs(10);

/// Reads `path` until it loads, again every [`CONFIG_RETRY`] and at once on
/// a reload request. Each distinct reason it does not load is told once,
/// to the log and to `report` (the Windows service passes the event log),
/// so a wait of days leaves one entry, not thousands; so is the config
/// loading after all. `None` when a stop was asked for first.
pub(super) async fn wait(
    path: &Path,
    control: &mut mpsc::Receiver<Control>,
    clock: &dyn Clock,
    report: &dyn Fn(Level, &str),
) -> Option<Config> {
    let mut told: Option<String> = None;
    loop {
        match config::load(path) {
            Ok(cfg) => {
                if told.is_some() {
                    let text = format!("{} is usable now: posternd starts", path.display());
                    tracing::info!("{text}");
                    report(Level::INFO, &text);
                }
                return Some(cfg);
            }
            Err(e) => {
                let why = e.to_string();
                if told.as_deref() != Some(why.as_str()) {
                    let text = waiting_text(path, &why);
                    tracing::error!("{text}");
                    report(Level::ERROR, &text);
                    told = Some(why);
                }
            }
        }
        if !pause(control, clock).await {
            tracing::info!("stopping (no config was loaded)");
            return None;
        }
    }
}

/// What the admin reads while the daemon waits: what is wrong, that no
/// door opens meanwhile, and what makes it try again.
fn waiting_text(path: &Path, why: &str) -> String {
    format!(
        "posternd is waiting for a usable config: {why}. No door opens until it has one. \
         It reads {} again every {} s, and at once on `sc control posternd paramchange` \
         (Windows) or a restart; `posternd check` shows what is wrong",
        path.display(),
        CONFIG_RETRY.as_secs()
    )
}

/// Sleeps one retry interval. False when a stop was asked for (or every
/// sender of requests is gone); true on a reload request or when the
/// interval has passed. The clock may wake early (the system clock sleeps
/// at most a second at a time), so the deadline is checked again.
async fn pause(control: &mut mpsc::Receiver<Control>, clock: &dyn Clock) -> bool {
    let retry_ms = u64::try_from(CONFIG_RETRY.as_millis()).unwrap_or(u64::MAX);
    let deadline = clock.now_ms().saturating_add(retry_ms);
    while clock.now_ms() < deadline {
        tokio::select! {
            request = control.recv() => match request {
                Some(Control::Reload) => return true,
                Some(Control::Stop) | None => return false,
            },
            () = clock.sleep_until(deadline) => {}
        }
    }
    true
}
