//! In-memory [`Firewall`] for tests of the layers above (matcher, daemon
//! loop). It keeps grants like the kernel does — one per (source, port),
//! refreshed by a re-grant, gone after their ttl — but on a virtual clock
//! that only [`FakeFirewall::advance`] moves, so tests are deterministic.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use super::{Firewall, FirewallError, FwGrant, LiveGrant, ProtectedPort};

/// A fake packet filter. `Default` is "nothing installed".
#[derive(Debug, Default, Clone)]
pub struct FakeFirewall {
    /// Virtual time since creation.
    now: Duration,
    /// `Some` once installed: the protected ports.
    installed: Option<Vec<ProtectedPort>>,
    /// (source, port) → virtual expiry time.
    live: BTreeMap<(IpAddr, ProtectedPort), Duration>,
    /// Every grant ever asked for, in order.
    pub grant_log: Vec<FwGrant>,
    /// Every revoke ever asked for, in order (also of absent grants).
    pub revoke_log: Vec<(IpAddr, ProtectedPort)>,
    /// When set, the next call fails with this message (then it is cleared).
    pub fail_next: Option<String>,
    /// The ports the last install protected; `installed` is what is in
    /// effect now, which [`FakeFirewall::flush`] can take away.
    reference: Option<Vec<ProtectedPort>>,
}

impl FakeFirewall {
    pub fn new() -> Self {
        Self::default()
    }

    /// Move the virtual clock forward; grants whose ttl has passed vanish.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        self.live.retain(|_, expiry| *expiry > now);
    }

    /// What `nft flush ruleset` does to the real backends: protection and
    /// grants are gone, behind the adapter's back.
    pub fn flush(&mut self) {
        self.installed = None;
        self.live.clear();
    }

    /// The protected ports, if installed.
    pub fn installed(&self) -> Option<&[ProtectedPort]> {
        self.installed.as_deref()
    }

    /// Would a NEW connection from `source` to `port` get through right now?
    pub fn admits(&self, source: IpAddr, port: ProtectedPort) -> bool {
        let protected = self
            .installed
            .as_ref()
            .is_some_and(|ports| ports.contains(&port));
        !protected || self.live.contains_key(&(source, port))
    }

    fn check_failure(&mut self) -> Result<(), FirewallError> {
        match self.fail_next.take() {
            Some(what) => Err(FirewallError::Backend {
                backend: "fake",
                what,
            }),
            None => Ok(()),
        }
    }
}

impl Firewall for FakeFirewall {
    fn name(&self) -> &'static str {
        "fake"
    }

    fn install(&mut self, ports: &[ProtectedPort], keep: &[FwGrant]) -> Result<(), FirewallError> {
        self.check_failure()?;
        let mut ports = ports.to_vec();
        ports.sort();
        ports.dedup();
        self.installed = Some(ports.clone());
        self.reference = Some(ports);
        self.live = keep
            .iter()
            .map(|g| ((g.source, g.port), self.now + g.ttl))
            .collect();
        Ok(())
    }

    fn grant(&mut self, grant: &FwGrant) -> Result<(), FirewallError> {
        self.check_failure()?;
        if self.installed.is_none() {
            // Like the real backends: the sets do not exist yet.
            return Err(FirewallError::Backend {
                backend: "fake",
                what: "grant before install".into(),
            });
        }
        self.grant_log.push(*grant);
        self.live
            .insert((grant.source, grant.port), self.now + grant.ttl);
        Ok(())
    }

    fn revoke(&mut self, source: IpAddr, port: ProtectedPort) -> Result<(), FirewallError> {
        self.check_failure()?;
        self.revoke_log.push((source, port));
        self.live.remove(&(source, port));
        Ok(())
    }

    fn grants(&mut self) -> Result<Vec<LiveGrant>, FirewallError> {
        self.check_failure()?;
        Ok(self
            .live
            .iter()
            .map(|(&(source, port), &expiry)| LiveGrant {
                source,
                port,
                remaining: expiry.saturating_sub(self.now),
            })
            .collect())
    }

    fn revoke_all(&mut self) -> Result<(), FirewallError> {
        self.check_failure()?;
        self.live.clear();
        Ok(())
    }

    fn uninstall(&mut self) -> Result<(), FirewallError> {
        self.check_failure()?;
        self.installed = None;
        self.reference = None;
        self.live.clear();
        Ok(())
    }

    fn verify(&mut self) -> Result<Option<String>, FirewallError> {
        self.check_failure()?;
        Ok((self.installed != self.reference).then(|| "fake: protection flushed".to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::Proto;

    const SSH: ProtectedPort = ProtectedPort {
        proto: Proto::Tcp,
        port: 22,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test literal")
    }

    #[test]
    fn grants_expire_on_the_virtual_clock_and_refresh() {
        let mut fw = FakeFirewall::new();
        fw.install(&[SSH], &[]).expect("install");
        let src = ip("198.18.0.2");
        assert!(!fw.admits(src, SSH));
        let grant = FwGrant {
            source: src,
            port: SSH,
            ttl: Duration::from_secs(10),
        };
        fw.grant(&grant).expect("grant");
        fw.advance(Duration::from_secs(6));
        assert_eq!(
            fw.grants().expect("list")[0].remaining,
            Duration::from_secs(4)
        );
        fw.grant(&grant).expect("refresh");
        fw.advance(Duration::from_secs(6));
        assert!(fw.admits(src, SSH));
        fw.advance(Duration::from_secs(4));
        assert!(!fw.admits(src, SSH));
        assert!(fw.grants().expect("list").is_empty());
    }

    #[test]
    fn revoke_closes_one_grant_and_is_idempotent() {
        let mut fw = FakeFirewall::new();
        fw.install(&[SSH], &[]).expect("install");
        let (a, b) = (ip("198.18.0.2"), ip("198.18.0.3"));
        for source in [a, b] {
            fw.grant(&FwGrant {
                source,
                port: SSH,
                ttl: Duration::from_secs(10),
            })
            .expect("grant");
        }
        fw.revoke(a, SSH).expect("revoke");
        assert!(!fw.admits(a, SSH));
        assert!(fw.admits(b, SSH));
        fw.revoke(a, SSH).expect("revoking again is fine");
        fw.advance(Duration::from_secs(11));
        fw.revoke(b, SSH).expect("revoking what expired is fine");
        assert_eq!(fw.revoke_log, vec![(a, SSH), (a, SSH), (b, SSH)]);
    }

    #[test]
    fn install_keeps_exactly_the_kept_grants_with_their_time_left() {
        let mut fw = FakeFirewall::new();
        fw.install(&[SSH], &[]).expect("install");
        let (kept, dropped) = (ip("198.18.0.2"), ip("198.18.0.3"));
        for source in [kept, dropped] {
            fw.grant(&FwGrant {
                source,
                port: SSH,
                ttl: Duration::from_secs(30),
            })
            .expect("grant");
        }
        let keep = FwGrant {
            source: kept,
            port: SSH,
            ttl: Duration::from_secs(7),
        };
        fw.install(&[SSH], &[keep]).expect("reinstall");
        let live = fw.grants().expect("list");
        assert_eq!(live.len(), 1, "{live:?}");
        assert_eq!(live[0].source, kept);
        assert_eq!(live[0].remaining, Duration::from_secs(7));
        assert!(!fw.admits(dropped, SSH));
    }

    #[test]
    fn reinstall_drops_stale_grants_and_failures_are_injectable() {
        let mut fw = FakeFirewall::new();
        fw.install(&[SSH], &[]).expect("install");
        let grant = FwGrant {
            source: ip("fd00::2"),
            port: SSH,
            ttl: Duration::from_secs(5),
        };
        fw.grant(&grant).expect("grant");
        fw.install(&[SSH], &[]).expect("reinstall");
        assert!(fw.grants().expect("list").is_empty());
        fw.fail_next = Some("boom".into());
        assert!(fw.grant(&grant).is_err());
        assert!(fw.grant(&grant).is_ok());
        fw.uninstall().expect("uninstall");
        assert!(fw.admits(grant.source, SSH));
    }
}
