//! Windows Firewall, the pure part: what Postern's rules look like, how a
//! rule read back is recognised as one of them, and what to add or remove
//! to reach a wanted set. `platform::windows::firewall` only carries these
//! plans out over COM (`INetFwPolicy2`); [`super::winfw`] drives them
//! behind the [`Firewall`](super::Firewall) trait.
//!
//! Protection model on Windows: the firewall blocks inbound traffic that no
//! enabled allow rule admits (the default inbound action of every profile
//! is "block"). A grant is one inbound allow rule for the protected port
//! and protocol, scoped to the one granted remote address. Windows rules
//! have no timers, so the core's revoke removes the rule at its deadline
//! (see [`super`]); the deadline is also written into the rule's
//! description, so a restarted daemon (or `posternd status`) can tell how
//! long a rule still had, and a stale one can be recognised as such.
//!
//! Postern's rules are recognised by their group ([`GROUP`]) *and* name
//! prefix ([`NAME_PREFIX`]): nothing outside that group is ever removed or
//! changed by the daemon. (`posternd init` may disable other rules, with
//! consent, see [`super::winfw_rules`].)

use super::{ProtectedPort, Proto};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The rule group ("grouping") of every rule Postern adds.
pub const GROUP: &str = "Postern";

/// Every Postern rule's name starts with this.
pub const NAME_PREFIX: &str = "Postern grant ";

/// IANA protocol numbers as `INetFwRule::Protocol` takes them.
pub const PROTO_TCP: i32 = 6;
pub const PROTO_UDP: i32 = 17;
/// `NET_FW_IP_PROTOCOL_ANY`.
pub const PROTO_ANY: i32 = 256;

/// The rule a grant becomes. Direction (inbound), action (allow), profiles
/// (all) and enabled are the same for every grant and set by the COM layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRule {
    pub name: String,
    pub description: String,
    pub protocol: i32,
    /// `LocalPorts`: the protected port, decimal.
    pub local_ports: String,
    /// `RemoteAddresses`: the one granted address.
    pub remote_addresses: String,
    pub source: IpAddr,
    pub port: ProtectedPort,
    /// Unix ms after which the core revokes it.
    pub deadline_ms: u64,
}

/// Any firewall rule as read back from `INetFwPolicy2::Rules`: the fields
/// Postern decides on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleView {
    pub name: String,
    pub description: String,
    /// `Grouping` (may be an indirect string like `@FirewallAPI.dll,-28752`).
    pub group: String,
    pub enabled: bool,
    /// `Direction == NET_FW_RULE_DIR_IN`.
    pub inbound: bool,
    /// `Action == NET_FW_ACTION_ALLOW`.
    pub allow: bool,
    pub protocol: i32,
    /// As Windows reports them: `"3389"`, `"80,443"`, `"5000-5010"`, `"*"`
    /// or keywords such as `"RPC"`.
    pub local_ports: String,
    /// As Windows reports them, e.g. `"198.18.0.2/255.255.255.255"`, `"*"`.
    pub remote_addresses: String,
    /// `ApplicationName` (empty: any program).
    pub application: String,
    /// `serviceName` (empty: any service).
    pub service: String,
    /// `Profiles` bit mask (`NET_FW_PROFILE2_*`).
    pub profiles: i32,
}

/// `name` of the rule for `source` on `port`: unique per grant, so a
/// grant's rule is found by name without listing every rule.
pub fn rule_name(source: IpAddr, port: ProtectedPort) -> String {
    format!(
        "{NAME_PREFIX}{}/{} {source}",
        port.port,
        port.proto.keyword()
    )
}

/// The rule for a grant of `source` to `port` that lasts until
/// `deadline_ms` (unix ms).
pub fn grant_rule(source: IpAddr, port: ProtectedPort, deadline_ms: u64) -> GrantRule {
    GrantRule {
        name: rule_name(source, port),
        description: format!(
            "Opened by posternd for a correct knock; removed by posternd at {deadline_ms} (unix ms). \
             posternd removes every rule of group {GROUP} when it starts and stops."
        ),
        protocol: proto_number(port.proto),
        local_ports: port.port.to_string(),
        remote_addresses: source.to_string(),
        source,
        port,
        deadline_ms,
    }
}

pub fn proto_number(p: Proto) -> i32 {
    match p {
        Proto::Tcp => PROTO_TCP,
        Proto::Udp => PROTO_UDP,
    }
}

/// Is `rule` one of Postern's (by group and name)?
pub fn is_ours(rule: &RuleView) -> bool {
    rule.group == GROUP && rule.name.starts_with(NAME_PREFIX)
}

/// The grant a rule of ours stands for, if it is exactly what
/// [`grant_rule`] would add for the source and port its name names: an
/// inbound allow rule, enabled, for that one port, protocol and address.
/// A rule of ours that was widened or changed behind our back (another
/// scope, `*` ports) is `None`, i.e. treated as stale and replaced.
pub fn parse_grant(rule: &RuleView) -> Option<(IpAddr, ProtectedPort, Option<u64>)> {
    if !is_ours(rule) {
        return None;
    }
    let rest = rule.name.strip_prefix(NAME_PREFIX)?;
    let (port_proto, addr) = rest.split_once(' ')?;
    let (port, proto) = port_proto.split_once('/')?;
    let port = ProtectedPort {
        port: port.parse().ok()?,
        proto: Proto::from_keyword(proto)?,
    };
    let source: IpAddr = addr.parse().ok()?;
    let exact = rule.enabled
        && rule.inbound
        && rule.allow
        && rule.protocol == proto_number(port.proto)
        && rule.local_ports.trim() == port.port.to_string()
        && remote_is_exactly(&rule.remote_addresses, source)
        && rule.application.is_empty()
        && rule.service.is_empty();
    exact.then(|| (source, port, deadline_of(&rule.description)))
}

/// The deadline [`grant_rule`] wrote into a description.
pub fn deadline_of(description: &str) -> Option<u64> {
    let (_, rest) = description.split_once(" at ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Windows reports a single address with a full mask
/// (`198.18.0.2/255.255.255.255`, `fd00::2/128`) or bare.
fn remote_is_exactly(remote: &str, source: IpAddr) -> bool {
    let remote = remote.trim();
    if remote.contains(',') {
        return false;
    }
    let (addr, mask) = remote.split_once('/').unwrap_or((remote, ""));
    let full = match source {
        IpAddr::V4(_) => ["", "32", "255.255.255.255"].contains(&mask),
        IpAddr::V6(_) => ["", "128"].contains(&mask),
    };
    full && addr.parse::<IpAddr>().ok() == Some(source)
}

/// What to do to the rule set, in this order: removals first (a widened
/// rule of ours is gone before its replacement exists, so there is never
/// more open than wanted), then additions, then description updates of
/// kept rules (their new deadline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulePlan {
    /// Names of rules of ours to remove (every rule of that name).
    pub remove: Vec<String>,
    pub add: Vec<GrantRule>,
    /// Rules of ours that stay and only get a new deadline.
    pub refresh: Vec<GrantRule>,
}

impl RulePlan {
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty() && self.refresh.is_empty()
    }
}

/// From the rules now present to exactly `want` (one rule per grant):
/// every rule of ours not wanted, not exact, or present twice goes;
/// wanted ones missing are added; wanted ones present stay (no closing
/// gap for a kept grant) with their deadline refreshed. Rules not ours
/// are never touched.
pub fn plan(current: &[RuleView], want: &[GrantRule]) -> RulePlan {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in current.iter().filter(|r| is_ours(r)) {
        *seen.entry(r.name.as_str()).or_default() += 1;
    }
    let mut out = RulePlan::default();
    let mut present = Vec::new();
    for r in current.iter().filter(|r| is_ours(r)) {
        let wanted = want.iter().find(|w| w.name == r.name);
        let exact = parse_grant(r).is_some();
        let unique = seen.get(r.name.as_str()) == Some(&1);
        match wanted {
            Some(w) if exact && unique => {
                if deadline_of(&r.description) != Some(w.deadline_ms) {
                    out.refresh.push(w.clone());
                }
                present.push(r.name.as_str());
            }
            _ => {
                if !out.remove.contains(&r.name) {
                    out.remove.push(r.name.clone());
                }
            }
        }
    }
    for w in want {
        if !present.contains(&w.name.as_str()) && !out.add.iter().any(|a| a.name == w.name) {
            out.add.push(w.clone());
        }
    }
    out
}

/// Every rule of ours, whatever it says: what start-up (stale rules of a
/// crashed run), stop and `uninstall` remove.
pub fn sweep(current: &[RuleView]) -> Vec<String> {
    let mut names: Vec<String> = current
        .iter()
        .filter(|r| is_ours(r))
        .map(|r| r.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// One firewall profile's switch and default, as `INetFwPolicy2` reports
/// them (`FirewallEnabled`, `DefaultInboundAction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileState {
    /// "Domain", "Private", "Public".
    pub name: &'static str,
    pub enabled: bool,
    pub inbound_blocked: bool,
}

/// Why the protected ports are not closed to everyone without a grant, or
/// `None` when they are: a profile with the firewall off or inbound allowed
/// by default, or another enabled allow rule that covers a protected port.
pub fn protection_gap(
    profiles: &[ProfileState],
    rules: &[RuleView],
    ports: &[ProtectedPort],
) -> Option<String> {
    if ports.is_empty() {
        return None;
    }
    for p in profiles {
        if !p.enabled {
            return Some(format!(
                "Windows Firewall is off for the {} profile, so every port is open: turn it on \
                 (Windows Security > Firewall & network protection)",
                p.name
            ));
        }
        if !p.inbound_blocked {
            return Some(format!(
                "the {} profile allows inbound connections by default, so every port is open: set \
                 its inbound default to Block",
                p.name
            ));
        }
    }
    let covering = super::winfw_rules::covering(rules, ports);
    let c = covering.first()?;
    Some(format!(
        "port {}/{} is already allowed by the enabled Windows Firewall rule {:?}{}: run `posternd \
         init` to disable it (its change is recorded and `posternd uninstall` restores it), or \
         disable it yourself",
        c.port.port,
        c.port.proto.keyword(),
        c.rule.name,
        if covering.len() > 1 {
            format!(" (and {} more)", covering.len() - 1)
        } else {
            String::new()
        }
    ))
}

#[cfg(test)]
#[path = "winfw_plan_tests.rs"]
mod tests;
