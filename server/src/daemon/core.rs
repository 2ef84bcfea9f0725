//! [`Daemon`]: the matcher, the firewall and the replay log, driven by
//! plain calls (`on_frame`, `on_timeout`, `reload`, `stop`) with the time
//! passed in. The loop in `daemon.rs` makes those calls; tests may too.

use super::protection::Protection;
use crate::capture::{FilterSpec, LinkType, parse_frame};
use crate::config::Config;
use crate::firewall::{Firewall, FwGrant, ProtectedPort};
use crate::matcher::{Event, Grant, Matcher, Revoke};
use crate::{log, state};
use anyhow::{Context, Result};
use postern_proto::method::KnockProto;
use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

/// How soon after a replay mark is appended it is `fdatasync`ed (see
/// `state`): the bound on what a power loss can forget.
const SYNC_MS: u64 = 200;

/// The ports the firewall must keep closed.
pub fn protected_ports(cfg: &Config) -> Vec<ProtectedPort> {
    cfg.doors
        .iter()
        .map(|d| ProtectedPort::from(d.door()))
        .collect()
}

/// What the kernel filter must let through to user space.
///
/// When any sequence uses TCP (or UDP), SYNs (or datagrams) to *every* port
/// are captured: the scan guard has to see a scan's other ports to stop it
/// from walking through a sequence in order.
pub fn filter_spec(cfg: &Config) -> FilterSpec {
    let mut spec = FilterSpec {
        icmp_echo: cfg.spa.icmp,
        ..FilterSpec::default()
    };
    spec.udp_ports.push(cfg.spa.port);
    if cfg.fwknop_enabled() {
        spec.udp_ports.push(cfg.fwknop.port);
    }
    let mut udp_any = false;
    for d in &cfg.doors {
        let mut protos: Vec<KnockProto> = d
            .sequence
            .iter()
            .flat_map(|s| s.0.iter().map(|k| k.proto))
            .collect();
        if let Some(dy) = d.dynamic {
            protos.push(dy.proto);
        }
        for p in protos {
            match p {
                KnockProto::Tcp => spec.tcp_syn_any_port = true,
                KnockProto::Udp => udp_any = true,
                KnockProto::Icmp => spec.icmp_echo = true,
            }
        }
        if d.syn_token.is_some() {
            // Static tokens go to 10xx/10xxx ports, keyed ones to the door.
            spec.tcp_syn_any_port = true;
        }
    }
    if udp_any {
        spec.udp_ports = (1..=u16::MAX).collect();
    }
    spec.udp_ports.sort_unstable();
    spec.udp_ports.dedup();
    spec
}

/// The furthest past the moment a knock was accepted that its replay
/// mark can reach: an SPA mark lasts until its timestamp (at most
/// `max_skew` ahead) plus `max_skew` + 1 s; a step-based mark (keyed SYN,
/// dynamic sequence) until the end of the step after the next one.
pub fn replay_window_secs(cfg: &Config) -> u64 {
    let step = cfg
        .doors
        .iter()
        .filter_map(|d| d.dynamic.map(|dy| dy.step_secs))
        .fold(30, u64::max);
    let skew = cfg.limits.max_skew;
    skew.saturating_mul(2)
        .saturating_add(1)
        .saturating_add(step.saturating_mul(3))
}

/// Refuses to start on a wall clock set back past a knock already used.
///
/// Attack (issue #14, item 11): marks are pruned by wall-clock time. A clock
/// stepped back — no RTC and no NTP yet, or an attacker who can feed the
/// host false NTP — makes knocks whose marks were pruned valid again, and a
/// recorded knock can be replayed. If the newest mark outlives `now` by
/// more than any mark can outlive the moment it was made (`window_secs`),
/// the clock is earlier than when that knock was accepted: stop with a
/// plain message instead of accepting replays. (The unit also orders the
/// daemon after `time-sync.target`.)
pub fn check_clock(
    marks: &[(postern_proto::replay::Digest, postern_proto::UnixTime)],
    now_ms: u64,
    window_secs: u64,
) -> Result<()> {
    let now = now_ms / 1000;
    let Some(newest) = marks.iter().map(|(_, t)| t.0).max() else {
        return Ok(());
    };
    let accepted_at_least = newest.saturating_sub(window_secs);
    if now < accepted_at_least {
        anyhow::bail!(
            "the system clock (unix time {now}) is earlier than the moment a knock was \
             already accepted (unix time {accepted_at_least} or later): it has been set back. \
             Starting now could accept replays of knocks used since then. Fix the clock \
             (is NTP synchronised?); only if the clock is right, move replay.state out of \
             the state directory."
        );
    }
    Ok(())
}

pub struct Daemon {
    matcher: Matcher,
    firewall: Box<dyn Firewall + Send>,
    replay_log: state::ReplayLog,
    /// The ports currently installed.
    ports: Vec<ProtectedPort>,
    /// The deadline the loop sleeps until (see [`Daemon::arm`]).
    armed_ms: u64,
    /// When appended replay marks must be synced, if any are pending.
    sync_due_ms: Option<u64>,
    /// The periodic check that the firewall objects are still in place.
    protection: Protection,
    /// Grants the firewall carried out and that are not revoked yet: what
    /// a reinstall may re-open (the kernel's own list is gone with a flush).
    opened: HashSet<(IpAddr, ProtectedPort)>,
    /// Whether the installed rules drop knock-sized ICMP echo requests.
    icmp_drop: bool,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("firewall", &self.firewall.name())
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// Restores replay state, installs the protection (removing stale
    /// grants) and builds the matcher. Any failure here stops start-up
    /// before a single packet is looked at.
    pub fn start(
        cfg: &Config,
        mut firewall: Box<dyn Firewall + Send>,
        now_ms: u64,
    ) -> Result<Self> {
        let dir = cfg.server.state_dir.clone();
        state::ensure_dir(&dir)?;
        let (replay_log, replay) = state::ReplayLog::open(&dir)?;
        check_clock(&replay, now_ms, replay_window_secs(cfg))?;
        let ports = protected_ports(cfg);
        firewall.set_icmp_knock_drop(cfg.spa.icmp);
        firewall
            .install(&ports, &[])
            .with_context(|| format!("installing {} rules", firewall.name()))?;
        let mut matcher = Matcher::new(cfg.policy(), now_ms);
        matcher.restore_replay(replay, now_ms);
        Ok(Daemon {
            matcher,
            firewall,
            replay_log,
            ports,
            armed_ms: 0,
            sync_due_ms: None,
            protection: Protection::new(&dir, cfg.server.verify_secs, now_ms),
            opened: HashSet::new(),
            icmp_drop: cfg.spa.icmp,
        })
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    pub fn firewall(&mut self) -> &mut dyn Firewall {
        self.firewall.as_mut()
    }

    /// When [`on_timeout`](Self::on_timeout) must run next: the matcher's
    /// next timeout (housekeeping or a grant's deadline) or the replay
    /// log's sync, whichever is first.
    pub fn next_deadline(&self) -> u64 {
        let matcher = self.matcher.poll_timeout().min(self.protection.due_ms);
        self.sync_due_ms.map_or(matcher, |s| s.min(matcher))
    }

    /// The next deadline, remembered as the one the loop now sleeps for.
    pub fn arm(&mut self) -> u64 {
        self.armed_ms = self.next_deadline();
        self.armed_ms
    }

    /// One captured frame. True when it moved the next deadline before the
    /// one the loop sleeps for, so the loop must be woken to re-arm.
    pub fn on_frame(&mut self, link: LinkType, frame: &[u8], now_ms: u64) -> bool {
        if let Some(pkt) = parse_frame(link, frame) {
            self.matcher.handle_packet(now_ms, &pkt);
            self.drain(now_ms);
        }
        self.next_deadline() < self.armed_ms
    }

    /// Whatever is due at `now_ms`: revokes at their deadlines,
    /// housekeeping, syncing and compacting the replay log.
    pub fn on_timeout(&mut self, now_ms: u64) {
        if now_ms >= self.matcher.poll_timeout() {
            self.matcher.handle_timeout(now_ms);
        }
        self.drain(now_ms);
        if self.sync_due_ms.is_some_and(|due| now_ms >= due) {
            self.sync_due_ms = None;
            if let Err(e) = self.replay_log.sync() {
                tracing::error!("{e:#}");
            }
        }
        let matcher = &self.matcher;
        if let Err(e) = self
            .replay_log
            .compact_if_needed(matcher.replay_len(), || matcher.replay_entries())
        {
            tracing::error!("compacting the replay log: {e:#}");
        }
        if now_ms >= self.protection.due_ms {
            self.verify_protection(now_ms);
        }
    }

    /// Checks that the firewall objects are still as installed and puts
    /// them back, with the grants open now, when not (see
    /// `daemon::protection`). Loud: a lost protection is an error line.
    pub fn verify_protection(&mut self, now_ms: u64) {
        let name = self.firewall.name();
        let lost = match self.firewall.verify() {
            Ok(lost) => lost,
            Err(e) => Some(format!("checking the {name} rules failed: {e}")),
        };
        let reinstall = lost.map(|why| {
            tracing::error!(
                "PROTECTION LOST: {why}; protected ports were open to everyone; reinstalling the {name} rules"
            );
            let keep = self.keep(&self.opened, now_ms);
            let outcome = match self.firewall.install(&self.ports, &keep) {
                Ok(()) => {
                    tracing::warn!(
                        "protection reinstalled: {} port(s) protected again, {} live grant(s) kept",
                        self.ports.len(),
                        keep.len()
                    );
                    self.opened = keep.iter().map(|g| (g.source, g.port)).collect();
                    Ok(())
                }
                Err(e) => {
                    tracing::error!(
                        "PROTECTION LOST: reinstalling the {name} rules failed: {e}; retrying at the next check"
                    );
                    Err(e.to_string())
                }
            };
            (why, outcome)
        });
        self.protection.checked(now_ms, reinstall);
        if let Err(e) = self.protection.write() {
            tracing::warn!("{e:#}");
        }
    }

    /// What the last protection checks found (for tests and `status`).
    pub fn protection(&self) -> &super::protection::ProtectionStatus {
        &self.protection.status
    }

    /// Applies a new, already validated config: the matcher drops what the
    /// new config no longer allows (and says so with revokes), then the
    /// firewall is replaced in one step with the new ports and exactly the
    /// surviving grants that are open now, each for the time it has left.
    /// If the firewall refuses, the previous policy and rules are put back
    /// and the error returned. Returns the number of grants kept.
    pub fn reload(&mut self, cfg: &Config, now_ms: u64) -> Result<usize> {
        // Only what is open now may stay open: a grant the matcher made but
        // the firewall never carried out (say, its replay mark could not be
        // saved) must not be opened by a reload.
        let open: HashSet<(IpAddr, ProtectedPort)> = self
            .firewall
            .grants()
            .with_context(|| format!("reading the live grants from {}", self.firewall.name()))?
            .into_iter()
            .map(|g| (g.source, g.port))
            .collect();
        let ports = protected_ports(cfg);
        let previous = self.matcher.policy().clone();
        self.matcher.reload(cfg.policy(), now_ms);
        let keep = self.keep(&open, now_ms);
        self.firewall.set_icmp_knock_drop(cfg.spa.icmp);
        if let Err(e) = self.firewall.install(&ports, &keep) {
            self.firewall.set_icmp_knock_drop(self.icmp_drop);
            self.matcher.reload(previous, now_ms);
            let keep = self.keep(&open, now_ms);
            if let Err(again) = self.firewall.install(&self.ports, &keep) {
                tracing::error!(
                    "putting the previous {} rules back failed too: {again}",
                    self.firewall.name()
                );
            }
            self.drain(now_ms);
            return Err(e)
                .with_context(|| format!("installing the new {} rules", self.firewall.name()));
        }
        self.ports = ports;
        self.icmp_drop = cfg.spa.icmp;
        self.opened = keep.iter().map(|g| (g.source, g.port)).collect();
        // The revokes for what the new config dropped: already gone from
        // the kernel with the install, so these are idempotent no-ops that
        // log why each grant was closed.
        self.drain(now_ms);
        Ok(keep.len())
    }

    /// The matcher's live grants that are also open in the firewall, with
    /// the time each has left.
    fn keep(&self, open: &HashSet<(IpAddr, ProtectedPort)>, now_ms: u64) -> Vec<FwGrant> {
        self.matcher
            .live_grants()
            .filter(|g| g.expires_ms > now_ms)
            .map(|g| FwGrant {
                source: g.source,
                port: g.door.into(),
                ttl: Duration::from_millis(g.expires_ms - now_ms),
            })
            .filter(|g| open.contains(&(g.source, g.port)))
            .collect()
    }

    fn drain(&mut self, now_ms: u64) {
        while let Some(ev) = self.matcher.poll_event() {
            match ev {
                // Opened first, logged after: a grant that could not be
                // carried out has its error line, not an "accepted" one.
                Event::Grant(g) => {
                    if self.open(&g, now_ms) {
                        log::decision(&g.decision());
                    }
                }
                Event::Revoke(r) => self.close(r),
                other => log::event(&other),
            }
        }
    }

    /// Carries out one grant; false if the door was not opened.
    fn open(&mut self, g: &Grant, now_ms: u64) -> bool {
        // Persist first: a grant whose replay mark is not on disk could be
        // replayed after a crash. If it cannot be saved, do not open.
        if let Some(entries) = self.matcher.take_replay_update() {
            if let Err(e) = self.replay_log.append(&entries) {
                tracing::error!(
                    "not opening {} for {}: could not save replay state: {e:#}",
                    g.door,
                    g.source
                );
                return false;
            }
            self.sync_due_ms
                .get_or_insert(now_ms.saturating_add(SYNC_MS));
        }
        let fw = FwGrant {
            source: g.source,
            port: g.door.into(),
            ttl: g.ttl,
        };
        let started = std::time::Instant::now();
        match self.firewall.grant(&fw) {
            Ok(()) => {
                self.opened.insert((fw.source, fw.port));
                tracing::debug!(
                    "{} opened {} for {} in {} µs",
                    self.firewall.name(),
                    g.door,
                    g.source,
                    started.elapsed().as_micros()
                );
                true
            }
            Err(e) => {
                tracing::error!("could not open {} for {}: {e}", g.door, g.source);
                false
            }
        }
    }

    /// Carries out one revoke and logs it.
    fn close(&mut self, r: Revoke) {
        self.opened.remove(&(r.source, r.door.into()));
        match self.firewall.revoke(r.source, r.door.into()) {
            Ok(()) => log::event(&Event::Revoke(r)),
            Err(e) => tracing::error!(
                "could not close {} for {} ({}): {e}",
                r.door,
                r.source,
                r.why
            ),
        }
    }

    /// Fail-closed stop: grants are revoked, ports stay protected.
    pub fn stop(&mut self) {
        if let Some(entries) = self.matcher.take_replay_update()
            && let Err(e) = self.replay_log.append(&entries)
        {
            tracing::error!("could not save replay state: {e:#}");
        }
        if let Err(e) = self.replay_log.sync() {
            tracing::error!("{e:#}");
        }
        self.opened.clear();
        match self.firewall.revoke_all() {
            Ok(()) => tracing::info!("stopped: grants revoked, protected ports stay closed"),
            Err(e) => {
                tracing::error!("stopping: could not revoke grants ({e}); they expire by their ttl")
            }
        }
    }
}

#[cfg(test)]
mod clock_check_tests {
    use super::check_clock;
    use postern_proto::UnixTime;
    use postern_proto::replay::Digest;

    const NOW_MS: u64 = 1_800_000_000_000;
    const WINDOW: u64 = 180;

    /// A restart on a clock set back past a knock already accepted is
    /// refused with what to do; a mark made just before a restart (its
    /// expiry up to one window ahead of now) is normal.
    #[test]
    fn a_clock_set_back_past_a_used_knock_refuses_to_start() {
        let mark = |t: u64| (Digest([7; 16]), UnixTime(t));
        let now = NOW_MS / 1000;
        assert!(check_clock(&[], NOW_MS, WINDOW).is_ok());
        assert!(check_clock(&[mark(now + WINDOW)], NOW_MS, WINDOW).is_ok());
        let e = check_clock(&[mark(now), mark(now + WINDOW + 600)], NOW_MS, WINDOW)
            .expect_err("the clock is 10 min behind the newest mark's knock");
        let e = e.to_string();
        assert!(e.contains("has been set back"), "{e}");
        assert!(e.contains("is NTP synchronised?"), "{e}");
    }
}
