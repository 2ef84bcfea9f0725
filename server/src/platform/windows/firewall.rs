//! The COM layer of the Windows Firewall backend: a [`RuleStore`] over
//! `INetFwPolicy2`. Every decision (which rules, what to add or remove) is
//! made by the pure plans in `firewall::winfw_plan` / `winfw_rules`.
//!
//! A fresh `INetFwPolicy2` is created for every operation: COM interface
//! pointers are tied to the thread's apartment and are not `Send`, while
//! the daemon calls the firewall from its capture threads and its loop.
//! Grants are rare and the object is in-process, so this costs little.

use crate::firewall::FirewallError;
use crate::firewall::winfw::{BACKEND, RuleStore};
use crate::firewall::winfw_plan::{GROUP, GrantRule, ProfileState, RuleView};
use crate::firewall::winfw_rules::DisabledRule;
use crate::platform::windows_errors::{self, Op};
use std::cell::Cell;
use windows::Win32::NetworkManagement::WindowsFirewall::{
    INetFwPolicy2, INetFwRule, INetFwRules, NET_FW_ACTION_ALLOW, NET_FW_ACTION_BLOCK,
    NET_FW_PROFILE2_ALL, NET_FW_PROFILE2_DOMAIN, NET_FW_PROFILE2_PRIVATE, NET_FW_PROFILE2_PUBLIC,
    NET_FW_RULE_DIR_IN, NetFwPolicy2, NetFwRule,
};
use windows::Win32::System::Com::{
    CLSCTX_INPROC_SERVER, COINIT_MULTITHREADED, CoCreateInstance, CoInitializeEx, IDispatch,
};
use windows::Win32::System::Ole::IEnumVARIANT;
use windows::Win32::System::Variant::{VARIANT, VariantClear};
use windows::core::{BSTR, Interface};

/// Windows Firewall's rule set (stateless; see the module docs).
#[derive(Debug, Default)]
pub struct ComRules;

thread_local! {
    static COM_READY: Cell<bool> = const { Cell::new(false) };
}

/// A COM failure as one line; with the advice of `windows_errors` first
/// when the code is one an administrator can act on (not elevated, BFE or
/// the firewall service stopped).
fn err(context: &str, e: windows::core::Error) -> FirewallError {
    let code = e.code().0 as u32;
    let detail = format!("{context}: {} (0x{code:08x})", e.message());
    FirewallError::Backend {
        backend: BACKEND,
        what: match windows_errors::explain(Op::Firewall, code) {
            Some(advice) => format!("{advice} ({detail})"),
            None => detail,
        },
    }
}

/// Joins this thread to the multithreaded apartment once.
fn com() -> Result<(), FirewallError> {
    if COM_READY.with(Cell::get) {
        return Ok(());
    }
    // SAFETY: plain initialisation; S_FALSE (already initialised) is fine.
    // RPC_E_CHANGED_MODE (the thread is single-threaded already) still lets
    // us use in-process objects, so it is not an error here.
    let hr = unsafe { CoInitializeEx(None, COINIT_MULTITHREADED) };
    if hr.is_ok() || hr.0 as u32 == 0x8001_0106 {
        COM_READY.with(|c| c.set(true));
        Ok(())
    } else {
        Err(err("initialising COM", hr.into()))
    }
}

fn policy() -> Result<INetFwPolicy2, FirewallError> {
    com()?;
    // SAFETY: creating an in-process COM object by its class id.
    unsafe { CoCreateInstance(&NetFwPolicy2, None, CLSCTX_INPROC_SERVER) }
        .map_err(|e| err("opening Windows Firewall (INetFwPolicy2)", e))
}

fn rules_of(p: &INetFwPolicy2) -> Result<INetFwRules, FirewallError> {
    // SAFETY: COM call on a valid interface.
    unsafe { p.Rules() }.map_err(|e| err("reading the rule list", e))
}

fn text(r: windows::core::Result<BSTR>) -> String {
    r.map(|b| b.to_string()).unwrap_or_default()
}

fn view(rule: &INetFwRule) -> RuleView {
    // SAFETY: getters on a valid rule; a failing getter reads as empty.
    unsafe {
        RuleView {
            name: text(rule.Name()),
            description: text(rule.Description()),
            group: text(rule.Grouping()),
            enabled: rule.Enabled().is_ok_and(|b| b.as_bool()),
            inbound: rule.Direction().is_ok_and(|d| d == NET_FW_RULE_DIR_IN),
            allow: rule.Action().is_ok_and(|a| a == NET_FW_ACTION_ALLOW),
            protocol: rule.Protocol().unwrap_or(0),
            local_ports: text(rule.LocalPorts()),
            remote_addresses: text(rule.RemoteAddresses()),
            application: text(rule.ApplicationName()),
            service: text(rule.ServiceName()),
            profiles: rule.Profiles().unwrap_or(0),
        }
    }
}

/// Every rule object, in the firewall's order.
fn all_rules(rules: &INetFwRules) -> Result<Vec<INetFwRule>, FirewallError> {
    // SAFETY: COM calls on valid interfaces; every VARIANT is cleared.
    unsafe {
        // An empty list needs no enumerator (wine's stub has none).
        if rules.Count().map_err(|e| err("counting rules", e))? == 0 {
            return Ok(Vec::new());
        }
        let en: IEnumVARIANT = rules
            ._NewEnum()
            .and_then(|u| u.cast())
            .map_err(|e| err("listing rules", e))?;
        let mut out = Vec::new();
        loop {
            let mut v = [VARIANT::default()];
            let mut fetched = 0u32;
            let hr = en.Next(&mut v, &mut fetched);
            if hr.is_err() || fetched == 0 {
                break;
            }
            if let Ok(d) = IDispatch::try_from(&v[0])
                && let Ok(r) = d.cast::<INetFwRule>()
            {
                out.push(r);
            }
            let _ = VariantClear(&mut v[0]);
        }
        Ok(out)
    }
}

impl ComRules {
    /// Checks that Windows Firewall answers (service running, rights).
    pub fn open() -> Result<ComRules, FirewallError> {
        rules_of(&policy()?)?;
        Ok(ComRules)
    }
}

impl RuleStore for ComRules {
    fn rules(&mut self) -> Result<Vec<RuleView>, FirewallError> {
        let rules = rules_of(&policy()?)?;
        Ok(all_rules(&rules)?.iter().map(view).collect())
    }

    fn profiles(&mut self) -> Result<Vec<ProfileState>, FirewallError> {
        let p = policy()?;
        [
            ("Domain", NET_FW_PROFILE2_DOMAIN),
            ("Private", NET_FW_PROFILE2_PRIVATE),
            ("Public", NET_FW_PROFILE2_PUBLIC),
        ]
        .into_iter()
        .map(|(name, t)| {
            // SAFETY: COM getters on a valid policy.
            unsafe {
                let enabled = p
                    .get_FirewallEnabled(t)
                    .map_err(|e| err("reading whether the firewall is on", e))?;
                let inbound = p
                    .get_DefaultInboundAction(t)
                    .map_err(|e| err("reading the default inbound action", e))?;
                Ok(ProfileState {
                    name,
                    enabled: enabled.as_bool(),
                    inbound_blocked: inbound == NET_FW_ACTION_BLOCK,
                })
            }
        })
        .collect()
    }

    fn add(&mut self, g: &GrantRule) -> Result<(), FirewallError> {
        let rules = rules_of(&policy()?)?;
        // SAFETY: creating and filling a fresh rule, then adding it. The
        // protocol is set before the port, as the API requires.
        unsafe {
            let r: INetFwRule = CoCreateInstance(&NetFwRule, None, CLSCTX_INPROC_SERVER)
                .map_err(|e| err("creating a rule", e))?;
            let set = |what: &str, res: windows::core::Result<()>| {
                res.map_err(|e| err(&format!("setting the rule's {what}"), e))
            };
            set("name", r.SetName(&BSTR::from(g.name.as_str())))?;
            set(
                "description",
                r.SetDescription(&BSTR::from(g.description.as_str())),
            )?;
            set("group", r.SetGrouping(&BSTR::from(GROUP)))?;
            set("direction", r.SetDirection(NET_FW_RULE_DIR_IN))?;
            set("protocol", r.SetProtocol(g.protocol))?;
            set(
                "local port",
                r.SetLocalPorts(&BSTR::from(g.local_ports.as_str())),
            )?;
            set(
                "remote address",
                r.SetRemoteAddresses(&BSTR::from(g.remote_addresses.as_str())),
            )?;
            set("profiles", r.SetProfiles(NET_FW_PROFILE2_ALL.0))?;
            set("action", r.SetAction(NET_FW_ACTION_ALLOW))?;
            set("enabled", r.SetEnabled(true.into()))?;
            rules
                .Add(&r)
                .map_err(|e| err(&format!("adding rule {:?}", g.name), e))
        }
    }

    fn remove(&mut self, name: &str) -> Result<(), FirewallError> {
        let rules = rules_of(&policy()?)?;
        let bname = BSTR::from(name);
        // `Remove` takes a name and removes one rule of that name; repeat
        // while one of ours with that name is left (bounded).
        for _ in 0..16 {
            // SAFETY: COM calls on a valid rule list.
            let ours = unsafe { rules.Item(&bname) }
                .ok()
                .is_some_and(|r| view(&r).group == GROUP);
            if !ours {
                return Ok(());
            }
            // SAFETY: as above.
            unsafe { rules.Remove(&bname) }
                .map_err(|e| err(&format!("removing rule {name:?}"), e))?;
        }
        Ok(())
    }

    fn set_description(&mut self, name: &str, description: &str) -> Result<(), FirewallError> {
        let rules = rules_of(&policy()?)?;
        for r in all_rules(&rules)? {
            let v = view(&r);
            if v.name == name && v.group == GROUP {
                // SAFETY: setter on a valid rule.
                unsafe { r.SetDescription(&BSTR::from(description)) }
                    .map_err(|e| err(&format!("updating rule {name:?}"), e))?;
            }
        }
        Ok(())
    }

    fn set_enabled(&mut self, rule: &DisabledRule, enabled: bool) -> Result<usize, FirewallError> {
        let rules = rules_of(&policy()?)?;
        let mut n = 0;
        for r in all_rules(&rules)? {
            if rule.matches(&view(&r)) {
                // SAFETY: setter on a valid rule.
                unsafe { r.SetEnabled(enabled.into()) }
                    .map_err(|e| err(&format!("changing rule {:?}", rule.name), e))?;
                n += 1;
            }
        }
        Ok(n)
    }
}
