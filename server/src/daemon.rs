//! The daemon: capture threads feed the matcher; its grants go to the
//! firewall after the replay marks they depend on are written to the
//! replay log (see `state`).
//!
//! [`Daemon`] holds the wiring and is driven by plain calls (`on_frame`,
//! `on_tick`), so tests can run it with a replayed packet source and the
//! fake firewall; [`run`] is the thin loop around it with real sockets.

use crate::capture::{FilterSpec, LinkType, parse_frame};
use crate::config::Config;
use crate::firewall::{Firewall, FwGrant, ProtectedPort};
use crate::matcher::{Event, Grant, Matcher};
use crate::{log, state};
use anyhow::{Context, Result};
use postern_proto::method::KnockProto;
use std::time::{SystemTime, UNIX_EPOCH};
#[cfg(target_os = "linux")]
use std::{
    sync::atomic::{AtomicBool, Ordering},
    sync::{Arc, Mutex},
    time::Duration,
};

/// Wall-clock milliseconds: the only clock the daemon reads.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

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

pub struct Daemon {
    matcher: Matcher,
    firewall: Box<dyn Firewall + Send>,
    replay_log: state::ReplayLog,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("firewall", &self.firewall.name())
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
        firewall
            .install(&protected_ports(cfg))
            .with_context(|| format!("installing {} rules", firewall.name()))?;
        let mut matcher = Matcher::new(cfg.policy(), now_ms);
        matcher.restore_replay(replay, now_ms);
        Ok(Daemon {
            matcher,
            firewall,
            replay_log,
        })
    }

    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    pub fn firewall(&mut self) -> &mut dyn Firewall {
        self.firewall.as_mut()
    }

    /// One captured frame.
    pub fn on_frame(&mut self, link: LinkType, frame: &[u8], now_ms: u64) {
        if let Some(pkt) = parse_frame(link, frame) {
            self.matcher.handle_packet(now_ms, &pkt);
            self.drain();
        }
    }

    /// Housekeeping; call at least once a second.
    pub fn on_tick(&mut self, now_ms: u64) {
        if now_ms >= self.matcher.poll_timeout() {
            self.matcher.handle_timeout(now_ms);
        }
        self.drain();
        if let Err(e) = self.replay_log.sync() {
            tracing::error!("{e:#}");
        }
        let matcher = &self.matcher;
        if let Err(e) = self
            .replay_log
            .compact_if_needed(matcher.replay_len(), || matcher.replay_entries())
        {
            tracing::error!("compacting the replay log: {e:#}");
        }
    }

    fn drain(&mut self) {
        while let Some(ev) = self.matcher.poll_event() {
            match ev {
                // Opened first, logged after: a grant that could not be
                // carried out has its error line, not an "accepted" one.
                Event::Grant(g) => {
                    if self.open(&g) {
                        log::decision(&g.decision());
                    }
                }
                other => log::event(&other),
            }
        }
    }

    /// Carries out one grant; false if the door was not opened.
    fn open(&mut self, g: &Grant) -> bool {
        // Persist first: a grant whose replay mark is not on disk could be
        // replayed after a crash. If it cannot be saved, do not open.
        if let Some(entries) = self.matcher.take_replay_update()
            && let Err(e) = self.replay_log.append(&entries)
        {
            tracing::error!(
                "not opening {} for {}: could not save replay state: {e:#}",
                g.door,
                g.source
            );
            return false;
        }
        let fw = FwGrant {
            source: g.source,
            port: g.door.into(),
            ttl: g.ttl,
        };
        let started = std::time::Instant::now();
        match self.firewall.grant(&fw) {
            Ok(()) => {
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
        match self.firewall.revoke_all() {
            Ok(()) => tracing::info!("stopped: grants revoked, protected ports stay closed"),
            Err(e) => {
                tracing::error!("stopping: could not revoke grants ({e}); they expire by their ttl")
            }
        }
    }
}

/// Runs until `stop` is set (SIGINT / SIGTERM).
#[cfg(target_os = "linux")]
pub fn run(cfg: &Config, stop: Arc<AtomicBool>) -> Result<()> {
    use crate::capture::Capture;
    let firewall = crate::firewall::open(cfg.server.backend, &cfg.server.table)
        .context("opening the firewall backend")?;
    let spec = filter_spec(cfg);
    // Open captures before touching the firewall, so a wrong interface name
    // fails start-up without changing anything.
    let captures: Vec<Capture> = cfg
        .server
        .interfaces
        .iter()
        .map(|i| Capture::open(i, &spec).with_context(|| format!("capturing on interface {i}")))
        .collect::<Result<_>>()?;
    let daemon = Arc::new(Mutex::new(Daemon::start(cfg, firewall, now_ms())?));
    tracing::info!(
        "posternd started: server {}, {} door(s), {} user(s), capturing on {}",
        cfg.server.server_id,
        cfg.doors.len(),
        cfg.users.len(),
        cfg.server.interfaces.join(", ")
    );

    let mut threads = Vec::new();
    for mut cap in captures {
        let daemon = Arc::clone(&daemon);
        let stop = Arc::clone(&stop);
        threads.push(std::thread::spawn(move || -> Result<()> {
            let mut buf = vec![0u8; 2048];
            let mut pacer = crate::capture::pacing::WakePacer::new();
            while !stop.load(Ordering::Relaxed) {
                // Under a flood, drain without waiting and nap in between
                // rather than be woken for every frame.
                let got = if pacer.busy() {
                    cap.try_recv(&mut buf)
                } else {
                    cap.recv(&mut buf)
                };
                match got {
                    Ok(Some(r)) => {
                        let now = now_ms();
                        let frame = &buf[..r.len.min(buf.len())];
                        lock(&daemon).on_frame(r.link, frame, now);
                        pacer.frame(std::time::Instant::now());
                    }
                    Ok(None) => {
                        if let Some(nap) = pacer.empty(std::time::Instant::now()) {
                            std::thread::sleep(nap);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e)
                            .with_context(|| format!("capture on {} failed", cap.interface()));
                    }
                }
            }
            Ok(())
        }));
    }
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(200));
        lock(&daemon).on_tick(now_ms());
    }
    let mut result = Ok(());
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(anyhow::anyhow!("a capture thread panicked")),
        }
    }
    lock(&daemon).stop();
    result
}

/// Poisoning only means another thread panicked mid-update; the matcher's
/// state is still memory-safe, and stopping cleanly matters more.
#[cfg(target_os = "linux")]
fn lock(d: &Mutex<Daemon>) -> std::sync::MutexGuard<'_, Daemon> {
    d.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::fake::FakeFirewall;
    use postern_proto::method::{Door, DoorProto, spa};
    use postern_proto::wire::spa::{AllowAddr, SpaRequest};
    use postern_proto::{ServerId, UserKey};
    use rand::SeedableRng;

    fn config(dir: &std::path::Path) -> Config {
        let text = format!(
            r#"[server]
server_id = "00112233445566778899aabbccddeeff"
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
            UserKey::from_bytes([1; 32]).to_base64()
        );
        crate::config::parse(&text, "t").expect("valid")
    }

    fn spa_frame(ts: u64) -> Vec<u8> {
        let req = SpaRequest {
            timestamp: ts,
            duration: 30,
            allow: AllowAddr::Source,
            doors: vec![Door {
                proto: DoorProto::Tcp,
                port: 22,
            }],
            action: None,
        };
        let sid = ServerId::from_hex("00112233445566778899aabbccddeeff").expect("sid");
        let payload = spa::seal(
            &UserKey::from_bytes([1; 32]),
            &sid,
            &req,
            &mut rand_chacha::ChaCha20Rng::seed_from_u64(1),
        )
        .expect("seal");
        let b =
            etherparse::PacketBuilder::ipv4([198, 18, 0, 2], [198, 18, 0, 1], 64).udp(40000, 62201);
        let mut out = Vec::new();
        b.write(&mut out, &payload).expect("build");
        out
    }

    #[test]
    fn filter_spec_follows_the_doors() {
        let cfg = config(std::path::Path::new("/nonexistent"));
        let s = filter_spec(&cfg);
        assert_eq!(s.udp_ports, vec![62201]);
        assert!(!s.tcp_syn_any_port);
        assert!(s.icmp_echo);
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
