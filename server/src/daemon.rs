//! The daemon: capture threads feed the matcher; its grants go to the
//! firewall after the replay marks they depend on are written to the
//! replay log (see `state`), and its revokes close them at their deadlines.
//!
//! Nothing here names an OS type: frames come from
//! [`PacketSource`](crate::capture::PacketSource)s, grants go to a
//! [`Firewall`](crate::firewall::Firewall), stop and reload requests come
//! from the [`Platform`], and time from a [`Clock`]. Tests run [`run`] with
//! a channel-fed source, the fake firewall and a [`ManualClock`].
//!
//! # Threads and tokio
//!
//! Two kinds of work, two kinds of execution:
//!
//! - **Orchestration** runs on a single-threaded tokio runtime: waiting for
//!   SIGINT / SIGTERM / SIGHUP (Windows: service control requests, Ctrl-C
//!   and the reload event),
//!   reloading the config, and sleeping until the matcher's next deadline
//!   ([`Matcher::poll_timeout`](crate::matcher::Matcher::poll_timeout)) —
//!   a revoke fires at its deadline, not at the next tick of a fixed timer
//!   — and until the next check that the firewall objects are still in
//!   place ([`protection`]).
//!   These are a handful of events that must be waited on together, which
//!   is what `select!` is for.
//! - **The packet hot path** stays on one dedicated OS thread per capture,
//!   which reads its source and hands each frame to the matcher under the
//!   daemon's mutex, as before. Under a flood that thread handles about
//!   100 000 frames a second, and what it costs was measured frame by frame
//!   (docs/benchmarks.md, "Valid knocks under a junk flood" and "Floods: one
//!   wake-up per junk frame"): the gain came from waking the thread *less*
//!   (`capture::pacing` naps between drains), and a frame now costs one
//!   `recv` and the matcher. Through an async task each frame would add a
//!   reactor wake-up or a channel hop to another thread, i.e. the very
//!   per-frame wake-up the pacing removed; a blocking `recv` with a kernel
//!   filter needs no reactor. So frames never touch the runtime: a capture
//!   thread only pokes it (a `Notify`) when a frame moved the next deadline
//!   earlier than the one the loop sleeps for.
//!
//! # Reload
//!
//! SIGHUP (`posternd reload`, `systemctl reload posternd`) re-reads the
//! config file. A config that does not load, that changes what only a
//! restart can change (`state_dir`, `table`, `backend`), that names an
//! interface that cannot be captured on, or that the firewall refuses, is
//! logged as refused and the running one kept. Otherwise the firewall is
//! replaced in one step with the new protected ports and the live grants
//! the new config still allows (see [`Daemon::reload`]); the others are
//! closed. Captures are re-opened only if the interfaces or the kernel
//! filter changed.

mod awaiting_config;
mod captures;
mod clock;
mod core;
#[cfg(test)]
mod loop_tests;
pub mod protection;
#[cfg(test)]
mod winfw_loop_tests;

pub use self::core::{Daemon, filter_spec, protected_ports};
pub use clock::{Clock, ManualClock, Sleep, SystemClock};

use crate::config::{self, Config};
use crate::platform::{Control, Platform};
use anyhow::{Context, Result, bail};
use captures::Captures;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::{Notify, mpsc};

/// Name of the pid file in the state directory. `posternd reload` reads it
/// to find the daemon: the state directory is already in the config (so
/// `reload --config X` finds the daemon started with X), writable by the
/// daemon under its systemd sandbox, and per instance (tests and a second
/// instance with their own state directory do not collide).
pub const PID_FILE: &str = "posternd.pid";

/// Where the daemon using `state_dir` writes its process id.
pub fn pid_path(state_dir: &Path) -> PathBuf {
    state_dir.join(PID_FILE)
}

/// What the capture threads and the loop share.
struct Shared {
    daemon: Mutex<Daemon>,
    /// Wakes the loop to re-arm its timer (see [`Daemon::on_frame`]).
    wake: Notify,
}

/// Poisoning only means another thread panicked mid-update; the matcher's
/// state is still memory-safe, and stopping cleanly matters more.
fn lock(d: &Mutex<Daemon>) -> MutexGuard<'_, Daemon> {
    d.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs the daemon with the config at `config_path` until the platform
/// asks it to stop (or a capture fails); reloads that file when asked.
/// A config that does not load is an error at once.
pub fn run(config_path: &Path, platform: &dyn Platform, clock: Arc<dyn Clock>) -> Result<()> {
    let cfg = config::load(config_path)?;
    start(config_path, platform, clock, Some(cfg), &|_, _| {})
}

/// [`run`] for a service the system starts on its own (the Windows
/// service): while the config is missing or does not load, it waits for a
/// usable one instead of failing, telling each reason once to the log and
/// to `report` (see [`awaiting_config`] for the restart loop this stops).
pub fn run_when_configured(
    config_path: &Path,
    platform: &dyn Platform,
    clock: Arc<dyn Clock>,
    report: &dyn Fn(tracing::Level, &str),
) -> Result<()> {
    start(config_path, platform, clock, None, report)
}

fn start(
    config_path: &Path,
    platform: &dyn Platform,
    clock: Arc<dyn Clock>,
    cfg: Option<Config>,
    report: &dyn Fn(tracing::Level, &str),
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    // Matcher time never runs backwards (see `NeverBack`).
    let clock: Arc<dyn Clock> = Arc::new(clock::NeverBack::new(clock));
    runtime.block_on(async {
        // Listen first: from here on a stop or reload request is queued,
        // not fatal (SIGHUP's default action ends the process).
        let mut control = platform.control()?;
        let cfg = match cfg {
            Some(cfg) => cfg,
            None => {
                match awaiting_config::wait(config_path, &mut control, clock.as_ref(), report).await
                {
                    Some(cfg) => cfg,
                    None => return Ok(()),
                }
            }
        };
        for w in crate::admin::warnings(&cfg) {
            tracing::warn!("{w}");
        }
        serve(config_path, cfg, platform, clock, control).await
    })
}

async fn serve(
    config_path: &Path,
    cfg: Config,
    platform: &dyn Platform,
    clock: Arc<dyn Clock>,
    mut control: mpsc::Receiver<Control>,
) -> Result<()> {
    let firewall = platform.open_firewall(&cfg.server)?;
    let spec = filter_spec(&cfg);
    // Open captures before touching the firewall, so a wrong interface name
    // fails start-up without changing anything.
    let sources = captures::open(platform, &cfg.server.interfaces, &spec)?;
    let daemon = Daemon::start(&cfg, firewall, clock.now_ms())?;
    let shared = Arc::new(Shared {
        daemon: Mutex::new(daemon),
        wake: Notify::new(),
    });
    let (failed, mut failures) = mpsc::unbounded_channel();
    let mut captures = Captures::new(spec, Arc::clone(&shared), Arc::clone(&clock), failed);
    for s in sources {
        captures.spawn(s);
    }
    let pid_file = pid_path(&cfg.server.state_dir);
    let mut running = Running {
        config_path,
        cfg,
        platform,
        clock,
        shared,
        captures,
    };
    let result = match std::fs::write(&pid_file, format!("{}\n", std::process::id())) {
        Ok(()) => {
            tracing::info!(
                "posternd started: server {}, {} door(s), {} user(s), capturing on {}",
                running.cfg.server.server_id,
                running.cfg.doors.len(),
                running.cfg.users.len(),
                running.cfg.server.interfaces.join(", ")
            );
            running.serve(&mut control, &mut failures).await
        }
        Err(e) => Err(e).with_context(|| format!("writing {}", pid_file.display())),
    };
    let stopped = running.captures.stop_all();
    lock(&running.shared.daemon).stop();
    let _ = std::fs::remove_file(&pid_file);
    result.and(stopped)
}

/// The running daemon, as the loop sees it.
struct Running<'a> {
    config_path: &'a Path,
    cfg: Config,
    platform: &'a dyn Platform,
    clock: Arc<dyn Clock>,
    shared: Arc<Shared>,
    captures: Captures,
}

impl Running<'_> {
    /// The loop: sleep until the next deadline, a stop or reload request,
    /// a capture failure, or a frame that moved the deadline earlier.
    async fn serve(
        &mut self,
        control: &mut mpsc::Receiver<Control>,
        failures: &mut mpsc::UnboundedReceiver<anyhow::Error>,
    ) -> Result<()> {
        loop {
            let (shared, clock) = (Arc::clone(&self.shared), Arc::clone(&self.clock));
            let deadline = lock(&shared.daemon).arm();
            tokio::select! {
                request = control.recv() => match request {
                    Some(Control::Reload) => self.reload(),
                    Some(Control::Stop) | None => {
                        tracing::info!("stopping");
                        return Ok(());
                    }
                },
                Some(e) = failures.recv() => return Err(e),
                () = shared.wake.notified() => {}
                () = clock.sleep_until(deadline) => {
                    let now = clock.now_ms();
                    lock(&shared.daemon).on_timeout(now);
                }
            }
        }
    }

    fn reload(&mut self) {
        let path = self.config_path.display();
        match self.try_reload() {
            Ok(summary) => tracing::info!("reloaded {path}: {summary}"),
            Err(e) => tracing::error!(
                "reload of {path} refused: {e:#}; still running with the previous config"
            ),
        }
    }

    fn try_reload(&mut self) -> Result<String> {
        let new = config::load(self.config_path)?;
        needs_restart(&self.cfg, &new)?;
        for w in crate::admin::warnings(&new) {
            tracing::warn!("{w}");
        }
        let spec = filter_spec(&new);
        let change = self.captures.change(&new.server.interfaces, &spec);
        let opened = captures::open(self.platform, &change.open, &spec)?;
        let kept = lock(&self.shared.daemon).reload(&new, self.clock.now_ms())?;
        let captures = if change.is_empty() {
            String::new()
        } else {
            self.captures.apply(&change, opened, spec);
            format!(
                ", captures re-opened on {}",
                self.captures.interfaces().join(", ")
            )
        };
        let summary = format!(
            "{} door(s), {} user(s), {kept} live grant(s) kept{captures}",
            new.doors.len(),
            new.users.len()
        );
        self.cfg = new;
        Ok(summary)
    }
}

/// Settings a reload cannot apply: they name where the running daemon keeps
/// its state and its firewall objects.
fn needs_restart(old: &Config, new: &Config) -> Result<()> {
    let (o, n) = (&old.server, &new.server);
    let mut changed = Vec::new();
    if o.state_dir != n.state_dir {
        changed.push("state_dir");
    }
    if o.table != n.table {
        changed.push("table");
    }
    if o.backend != n.backend {
        changed.push("backend");
    }
    if o.grant_set_size != n.grant_set_size {
        // The sets are created with their size; ipset cannot resize one.
        changed.push("grant_set_size");
    }
    if !changed.is_empty() {
        bail!(
            "[server] {} changed: restart posternd to apply that",
            changed.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::LinkType;
    use crate::firewall::fake::FakeFirewall;
    use postern_proto::fixtures::{SpaFixture, TEST_SERVER_ID_HEX, test_key};

    pub(super) fn config(dir: &std::path::Path) -> Config {
        let text = format!(
            r#"[server]
server_id = "{TEST_SERVER_ID_HEX}"
interfaces = ["lo"]
state_dir = "{}"
[[door]]
name = "ssh"
proto = "tcp"
port = 22
spa = true
[[user]]
name = "alice"
key = "{}"
doors = ["ssh"]
"#,
            dir.display(),
            test_key().to_base64()
        );
        crate::config::parse(&text, "t").expect("valid")
    }

    pub(super) fn spa_frame(ts: u64) -> Vec<u8> {
        let payload = SpaFixture::ssh(ts).seal(1);
        let b =
            etherparse::PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 0, 1], 64).udp(40000, 62201);
        let mut out = Vec::new();
        b.write(&mut out, &payload).expect("build");
        out
    }

    #[test]
    fn refuses_to_start_on_a_clock_set_back_before_a_used_knock() {
        let dir = std::env::temp_dir().join(format!("postern-clock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = config(&dir);
        let window = core::replay_window_secs(&cfg);
        assert_eq!(window, 2 * 60 + 1 + 3 * 30);
        let t = 1_800_000_000_000;
        let mut d = Daemon::start(&cfg, Box::new(FakeFirewall::new()), t).expect("start");
        d.on_frame(LinkType::RawIp, &spa_frame(t / 1000), t);
        d.stop();
        drop(d);
        // A restart a minute later, and one on a clock slightly behind
        // (within what a mark can outlive its knock) start.
        for later in [t + 60_000, t - 30_000] {
            Daemon::start(&cfg, Box::new(FakeFirewall::new()), later).expect("start");
        }
        // An hour back: refused, in plain words.
        let e = Daemon::start(&cfg, Box::new(FakeFirewall::new()), t - 3_600_000)
            .expect_err("clock set back");
        assert!(format!("{e:#}").contains("has been set back"), "{e:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn filter_spec_follows_the_doors() {
        let cfg = config(std::path::Path::new("/nonexistent"));
        let s = filter_spec(&cfg);
        assert_eq!(s.udp_ports, vec![62201]);
        assert!(!s.tcp_syn_any_port);
        assert!(s.icmp_echo);
        // A user with fwknop keys adds the fwknop port (if not the same).
        let mut cfg = cfg;
        cfg.users[0].fwknop_key = Some(postern_proto::fixtures::fwknop::KEY_B64.into());
        cfg.users[0].fwknop_hmac_key = Some(postern_proto::fixtures::fwknop::HMAC_B64.into());
        assert_eq!(filter_spec(&cfg).udp_ports, vec![62201]);
        cfg.fwknop.port = 62202;
        assert_eq!(filter_spec(&cfg).udp_ports, vec![62201, 62202]);
    }

    #[test]
    fn grants_reach_the_firewall_and_replays_stay_refused_across_restarts() {
        let dir = std::env::temp_dir().join(format!("postern-daemon-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = config(&dir);
        let t = 1_800_000_000_000;
        let frame = spa_frame(t / 1000);

        let mut d = Daemon::start(&cfg, Box::new(FakeFirewall::new()), t).expect("start");
        d.on_frame(LinkType::RawIp, &frame, t);
        let live = d.firewall().grants().expect("grants");
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].source.to_string(), "198.18.0.2");
        d.stop();
        assert!(
            d.firewall().grants().expect("grants").is_empty(),
            "stop revokes"
        );

        // A new process: fresh firewall, state from disk.
        let mut d = Daemon::start(&cfg, Box::new(FakeFirewall::new()), t + 1000).expect("restart");
        d.on_frame(LinkType::RawIp, &frame, t + 1000);
        assert!(
            d.firewall().grants().expect("grants").is_empty(),
            "replay after restart refused"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
