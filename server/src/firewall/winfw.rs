//! The Windows Firewall backend as a [`Firewall`]: the plans of
//! [`winfw_plan`](super::winfw_plan) carried out over a [`RuleStore`].
//! On Windows the store is `INetFwPolicy2` over COM
//! (`platform::windows::firewall`); in tests it is [`FakeRuleStore`], so
//! everything here — grant, revoke at the deadline, stale sweep, verify —
//! runs on Linux.
//!
//! Windows rules have no timers: a grant's rule stays until the core's
//! revoke removes it. The deadline is kept in the rule's description, so
//! [`grants`](Firewall::grants) reports what each still has and a restart
//! can recognise them; `now` comes from the clock handed in, never from
//! here.

use super::winfw_plan::{self, GrantRule, ProfileState, RuleView};
use super::winfw_rules::DisabledRule;
use super::{Firewall, FirewallError, FwGrant, LiveGrant, ProtectedPort};
use std::net::IpAddr;
use std::time::Duration;

pub const BACKEND: &str = "Windows Firewall";

/// The few operations on the firewall's rule set Postern needs.
pub trait RuleStore {
    /// Every rule (all groups).
    fn rules(&mut self) -> Result<Vec<RuleView>, FirewallError>;
    /// Domain, Private and Public: firewall on, inbound blocked by default.
    fn profiles(&mut self) -> Result<Vec<ProfileState>, FirewallError>;
    /// Adds an enabled inbound allow rule in group
    /// [`GROUP`](winfw_plan::GROUP), all profiles.
    fn add(&mut self, rule: &GrantRule) -> Result<(), FirewallError>;
    /// Removes every rule of group `GROUP` named `name`; none is `Ok`.
    fn remove(&mut self, name: &str) -> Result<(), FirewallError>;
    /// Rewrites the description of the rule of ours named `name`.
    fn set_description(&mut self, name: &str, description: &str) -> Result<(), FirewallError>;
    /// Enables or disables every rule matching `rule`; returns how many.
    fn set_enabled(&mut self, rule: &DisabledRule, enabled: bool) -> Result<usize, FirewallError>;
}

/// Windows Firewall behind the [`Firewall`] trait.
pub struct WinFirewall<S> {
    store: S,
    /// Unix ms now.
    now_ms: Box<dyn Fn() -> u64 + Send>,
    ports: Vec<ProtectedPort>,
}

impl<S> std::fmt::Debug for WinFirewall<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WinFirewall")
            .field("ports", &self.ports)
            .finish_non_exhaustive()
    }
}

impl<S: RuleStore> WinFirewall<S> {
    pub fn new(store: S, now_ms: Box<dyn Fn() -> u64 + Send>) -> Self {
        WinFirewall {
            store,
            now_ms,
            ports: Vec::new(),
        }
    }

    pub fn store(&mut self) -> &mut S {
        &mut self.store
    }

    fn deadline(&self, ttl: Duration) -> u64 {
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        (self.now_ms)().saturating_add(ttl)
    }

    fn apply(&mut self, plan: &winfw_plan::RulePlan) -> Result<(), FirewallError> {
        for name in &plan.remove {
            self.store.remove(name)?;
        }
        for r in &plan.add {
            self.store.add(r)?;
        }
        for r in &plan.refresh {
            self.store.set_description(&r.name, &r.description)?;
        }
        Ok(())
    }

    /// Removes every rule of Postern's group, whatever it says: the stale
    /// rules of a crashed run at start-up. Returns how many names it
    /// removed.
    pub fn sweep(&mut self) -> Result<usize, FirewallError> {
        let names = winfw_plan::sweep(&self.store.rules()?);
        for n in &names {
            self.store.remove(n)?;
        }
        Ok(names.len())
    }
}

impl<S: RuleStore> Firewall for WinFirewall<S> {
    fn name(&self) -> &'static str {
        BACKEND
    }

    /// Windows blocks inbound by default, so "protected" means: firewall
    /// on and inbound blocked in every profile, no other enabled allow rule
    /// for a protected port, and exactly the `keep` rules of ours. A gap
    /// is an error naming what to do (`posternd init`, turn the firewall
    /// on): the daemon refuses to start rather than run while the door is
    /// open to everyone anyway.
    fn install(&mut self, ports: &[ProtectedPort], keep: &[FwGrant]) -> Result<(), FirewallError> {
        let rules = self.store.rules()?;
        if let Some(gap) = winfw_plan::protection_gap(&self.store.profiles()?, &rules, ports) {
            return Err(FirewallError::Backend {
                backend: BACKEND,
                what: gap,
            });
        }
        let want: Vec<GrantRule> = keep
            .iter()
            .filter(|g| ports.contains(&g.port))
            .map(|g| winfw_plan::grant_rule(g.source, g.port, self.deadline(g.ttl)))
            .collect();
        self.apply(&winfw_plan::plan(&rules, &want))?;
        self.ports = ports.to_vec();
        Ok(())
    }

    fn grant(&mut self, grant: &FwGrant) -> Result<(), FirewallError> {
        let rule = winfw_plan::grant_rule(grant.source, grant.port, self.deadline(grant.ttl));
        let current: Vec<RuleView> = self
            .store
            .rules()?
            .into_iter()
            .filter(|r| r.name == rule.name)
            .collect();
        let plan = winfw_plan::plan(&current, std::slice::from_ref(&rule));
        self.apply(&plan)
    }

    fn revoke(&mut self, source: IpAddr, port: ProtectedPort) -> Result<(), FirewallError> {
        self.store.remove(&winfw_plan::rule_name(source, port))
    }

    fn grants(&mut self) -> Result<Vec<LiveGrant>, FirewallError> {
        let now = (self.now_ms)();
        Ok(self
            .store
            .rules()?
            .iter()
            .filter_map(winfw_plan::parse_grant)
            .map(|(source, port, deadline)| LiveGrant {
                source,
                port,
                remaining: Duration::from_millis(deadline.unwrap_or(now).saturating_sub(now)),
            })
            .collect())
    }

    /// Removes every rule of ours: the ports stay closed by the
    /// firewall's default block.
    fn revoke_all(&mut self) -> Result<(), FirewallError> {
        self.sweep().map(|_| ())
    }

    /// Removes every rule of ours. Re-enabling the rules `posternd init`
    /// disabled is `posternd uninstall`'s (admin) job, from its record.
    fn uninstall(&mut self) -> Result<(), FirewallError> {
        self.sweep().map(|_| ())
    }

    /// Re-checks what [`install`](Firewall::install) checked: turning
    /// "Remote Desktop" on in Settings re-enables its allow rules, and
    /// turning a profile's firewall off opens every port. Either leaves the
    /// door open while the daemon runs on; the daemon reinstalls, which
    /// fails with what to do, and logs it at error level.
    fn verify(&mut self) -> Result<Option<String>, FirewallError> {
        let rules = self.store.rules()?;
        Ok(winfw_plan::protection_gap(
            &self.store.profiles()?,
            &rules,
            &self.ports,
        ))
    }
}

/// An in-memory Windows Firewall: a rule list and three profiles, with the
/// semantics the COM layer relies on (duplicate names allowed; remove by
/// name removes all of that name within our group).
#[derive(Debug, Clone)]
pub struct FakeRuleStore {
    pub rules: Vec<RuleView>,
    pub profiles: Vec<ProfileState>,
    /// Every mutating call, for tests that check what was touched.
    pub log: Vec<String>,
}

impl Default for FakeRuleStore {
    fn default() -> Self {
        let profile = |name| ProfileState {
            name,
            enabled: true,
            inbound_blocked: true,
        };
        FakeRuleStore {
            rules: Vec::new(),
            profiles: vec![profile("Domain"), profile("Private"), profile("Public")],
            log: Vec::new(),
        }
    }
}

impl FakeRuleStore {
    /// Does any enabled inbound allow rule admit `source` to `port`?
    pub fn admits(&self, source: IpAddr, port: ProtectedPort) -> bool {
        self.rules.iter().any(|r| {
            r.enabled
                && r.inbound
                && r.allow
                && (r.protocol == winfw_plan::PROTO_ANY
                    || r.protocol == winfw_plan::proto_number(port.proto))
                && super::winfw_rules::ports_cover(&r.local_ports, port.port)
                && (r.remote_addresses == "*"
                    || r.remote_addresses
                        .split(',')
                        .any(|a| a.split('/').next().and_then(|a| a.parse().ok()) == Some(source)))
        })
    }
}

impl RuleStore for FakeRuleStore {
    fn rules(&mut self) -> Result<Vec<RuleView>, FirewallError> {
        Ok(self.rules.clone())
    }

    fn profiles(&mut self) -> Result<Vec<ProfileState>, FirewallError> {
        Ok(self.profiles.clone())
    }

    fn add(&mut self, rule: &GrantRule) -> Result<(), FirewallError> {
        self.log.push(format!("add {}", rule.name));
        // Windows reports a single IPv4 address with its full mask.
        let remote = match rule.source {
            IpAddr::V4(a) => format!("{a}/255.255.255.255"),
            IpAddr::V6(a) => a.to_string(),
        };
        self.rules.push(RuleView {
            name: rule.name.clone(),
            description: rule.description.clone(),
            group: winfw_plan::GROUP.to_owned(),
            enabled: true,
            inbound: true,
            allow: true,
            protocol: rule.protocol,
            local_ports: rule.local_ports.clone(),
            remote_addresses: remote,
            application: String::new(),
            service: String::new(),
            profiles: 0x7fff_ffff,
        });
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<(), FirewallError> {
        self.log.push(format!("remove {name}"));
        self.rules
            .retain(|r| !(r.name == name && r.group == winfw_plan::GROUP));
        Ok(())
    }

    fn set_description(&mut self, name: &str, description: &str) -> Result<(), FirewallError> {
        self.log.push(format!("describe {name}"));
        for r in self.rules.iter_mut().filter(|r| r.name == name) {
            r.description = description.to_owned();
        }
        Ok(())
    }

    fn set_enabled(&mut self, rule: &DisabledRule, enabled: bool) -> Result<usize, FirewallError> {
        self.log.push(format!(
            "{} {}",
            if enabled { "enable" } else { "disable" },
            rule.name
        ));
        let mut n = 0;
        for r in self.rules.iter_mut().filter(|r| rule.matches(r)) {
            r.enabled = enabled;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
#[path = "winfw_tests.rs"]
mod tests;
