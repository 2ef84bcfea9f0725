//! nftables backend (the default on Linux).
//!
//! Postern owns exactly one table, `inet <name>`; nothing outside it is ever
//! touched. The table holds two timeout sets of grants, `grants4` and
//! `grants6` (`addr . inet_proto . inet_service`), and one base chain on the
//! input hook (priority -5, policy accept) that drops every packet to a
//! protected proto/port that is not part of an established (or related)
//! connection, unless `saddr . l4proto . dport` is in the set. Established
//! connections outlive their grant; everything else — SYNs, but also the
//! FIN, ACK, NULL and Xmas probes conntrack calls INVALID or UNTRACKED — is
//! dropped, so such a probe cannot tell a listening service (silence) from
//! a closed port (RST). The kernel expires set elements by itself, so a
//! crashed daemon never leaves a port open past its ttl.
//!
//! Each set has a `size` (`[server] grant_set_size`): a flood of valid
//! static knocks from spoofed sources cannot grow it without bound. When it
//! is full the kernel refuses the element, the grant fails, the daemon logs
//! it and the door stays closed for that source (fail-closed).
//!
//! [`Firewall::verify`] compares `nft -j list table` — without handles and
//! set elements — with the listing taken right after the install, so a
//! flushed ruleset, a deleted table, chain, rule or set, or a changed rule
//! is noticed.
//!
//! Changes to the table are one `nft -f -` transaction
//! (`add table; delete table; table { ... }; add element ...`), so
//! `install` replaces everything — stale grants included — atomically, as
//! Mullvad does, and re-adds the grants a config reload keeps, with the time
//! they have left, in the same transaction: a kept grant is never closed,
//! not even for the length of the reload.
//!
//! A revoke is one `NFT_MSG_DELSETELEM` over netlink (or, on the fallback,
//! `add element; delete element` in one `nft -i` line, which cannot fail on
//! an element the kernel already expired).
//!
//! Grants are one `NFT_MSG_NEWSETELEM` sent over netlink by
//! [`super::netlink`]; only if that socket cannot be opened do they go
//! through ONE long-lived `nft -i` process (a grant is one `add element`
//! line on its stdin followed by a `describe` sentinel whose answer tells us
//! the line is done, see [`super::process::Coprocess`]). `rustables` 0.9 can
//! neither set a per-element timeout nor build concatenated keys, and
//! `nftnl` would need raw libnftnl calls plus C libraries at build time, so
//! the one message is built by hand.
//!
//! Measured on the team's Debian 12 VM (2 cores, kernel 6.18, nft 1.0.6,
//! inside a network namespace, median of 200 grants; `cargo test --release
//! -p postern-server --test firewall_netns -- --ignored --nocapture
//! grant_latency`): over netlink a grant takes **≈ 2 µs**; through the
//! `nft -i` coprocess 0.08–1 ms (nft re-reads the ruleset before every
//! command, so it grows with the sets); spawning `nft add element ...` per
//! grant **1.7–4 ms**.

use std::net::IpAddr;
use std::time::Duration;

use serde_json::Value;

use super::process::{self, Coprocess, CoprocessSpec};
use super::{ttl_secs, validate_name};
use crate::firewall::{
    Firewall, FirewallError, FwGrant, ICMP_KNOCK_DATA, LiveGrant, ProtectedPort, Proto,
};

const BACKEND: &str = "nftables";
const SET4: &str = "grants4";
const SET6: &str = "grants6";
/// Just before the usual `filter` priority (0), so Postern's drop is seen
/// whatever a distribution firewall accepts at priority 0.
const PRIORITY: i32 = -5;

/// Whether `nft` runs and can talk to the kernel on this host.
pub fn available() -> bool {
    process::run(BACKEND, "nft", &["list", "tables"], None).is_ok()
}

/// The nftables adapter. See the module documentation.
#[derive(Debug)]
pub struct Nftables {
    table: String,
    coprocess: Coprocess,
    /// Grants go over netlink when the socket opens (see `netlink`); the
    /// `nft -i` coprocess is the fallback.
    netlink: Option<super::netlink::SetElements>,
    /// Elements each set may hold.
    set_size: u32,
    /// Drop knock-sized ICMP echo requests (see
    /// [`Firewall::set_icmp_knock_drop`]).
    icmp_drop: bool,
    /// The normalised listing right after the last install (see
    /// [`normalise_listing`]); `None` before the first.
    reference: Option<Value>,
}

impl Nftables {
    /// An adapter for table `inet <table>` whose sets hold at most
    /// `set_size` grants each. Changes nothing yet.
    pub fn new(table: &str, set_size: u32) -> Result<Self, FirewallError> {
        validate_name(BACKEND, table)?;
        Ok(Nftables {
            set_size: set_size.max(1),
            icmp_drop: false,
            reference: None,
            netlink: super::netlink::SetElements::open().ok(),
            table: table.to_owned(),
            coprocess: Coprocess::new(CoprocessSpec {
                backend: BACKEND,
                program: "nft",
                args: &["-i"],
                capture_stdout: true,
                // Pure parser work: no netlink, no dependence on our table.
                sentinel: "describe ip version",
                sentinel_marker: "payload expression",
                noise_prefix: None,
            }),
        })
    }

    /// The script `install` feeds to `nft -f -`: one atomic transaction.
    pub fn install_script(&self, ports: &[ProtectedPort], keep: &[FwGrant]) -> String {
        let t = &self.table;
        let size = self.set_size;
        let mut s = format!(
            "add table inet {t}\n\
             delete table inet {t}\n\
             table inet {t} {{\n\
             \tset {SET4} {{ type ipv4_addr . inet_proto . inet_service; flags timeout; size {size}; }}\n\
             \tset {SET6} {{ type ipv6_addr . inet_proto . inet_service; flags timeout; size {size}; }}\n\
             \tchain input {{\n\
             \t\ttype filter hook input priority {PRIORITY}; policy accept;\n"
        );
        let mut ports = ports.to_vec();
        ports.sort();
        ports.dedup();
        if !ports.is_empty() {
            let protected = ports
                .iter()
                .map(|p| format!("{} . {}", p.proto.keyword(), p.port))
                .collect::<Vec<_>>()
                .join(", ");
            for (addr, set) in [("ip", SET4), ("ip6", SET6)] {
                s.push_str(&format!(
                    "\t\tct state != {{ established, related }} meta l4proto . th dport {{ {protected} }} \
                     {addr} saddr . meta l4proto . th dport != @{set} drop\n"
                ));
            }
        }
        if self.icmp_drop {
            // ip length counts the 20-byte header, ip6 length (the payload length) does not; both
            // count the 8-byte echo header.
            let (lo, hi) = (ICMP_KNOCK_DATA.start(), ICMP_KNOCK_DATA.end());
            s.push_str(&format!(
                "\t\ticmp type echo-request ip length {}-{} drop\n\
                 \t\ticmpv6 type echo-request ip6 length {}-{} drop\n",
                lo + 28,
                hi + 28,
                lo + 8,
                hi + 8
            ));
        }
        s.push_str("\t}\n}\n");
        for g in keep {
            let (set, element) = Self::element(g);
            s.push_str(&format!(
                "add element inet {t} {set} {{ {element} timeout {}s }}\n",
                ttl_secs(g.ttl)
            ));
        }
        s
    }

    fn element(grant: &FwGrant) -> (&'static str, String) {
        let set = if grant.source.is_ipv4() { SET4 } else { SET6 };
        (
            set,
            format!(
                "{} . {} . {}",
                grant.source,
                grant.port.proto.keyword(),
                grant.port.port
            ),
        )
    }

    fn apply(&self, script: &str) -> Result<(), FirewallError> {
        process::run(BACKEND, "nft", &["-f", "-"], Some(script)).map(drop)
    }

    /// The table as the kernel has it now, normalised for comparison.
    fn listing(&self) -> Result<Value, FirewallError> {
        let json = process::run(
            BACKEND,
            "nft",
            &["-j", "list", "table", "inet", &self.table],
            None,
        )?;
        let root: Value = serde_json::from_str(&json).map_err(|e| parse_error(e.to_string()))?;
        Ok(normalise_listing(root))
    }

    fn list_set(&self, set: &str) -> Result<Vec<LiveGrant>, FirewallError> {
        let json = process::run(
            BACKEND,
            "nft",
            &["-j", "list", "set", "inet", &self.table, set],
            None,
        )?;
        parse_set_json(&json)
    }
}

impl Firewall for Nftables {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn install(&mut self, ports: &[ProtectedPort], keep: &[FwGrant]) -> Result<(), FirewallError> {
        self.apply(&self.install_script(ports, keep))?;
        // Verify: the table we just wrote is there, holding no grant but
        // the kept ones (some of which may have expired since).
        let live = self.grants()?;
        let stray = live
            .iter()
            .filter(|l| {
                !keep
                    .iter()
                    .any(|k| k.source == l.source && k.port == l.port)
            })
            .count();
        if stray > 0 {
            return Err(FirewallError::Backend {
                backend: BACKEND,
                what: format!(
                    "table inet {} still has {stray} grants after install",
                    self.table
                ),
            });
        }
        self.reference = Some(self.listing()?);
        Ok(())
    }

    fn set_icmp_knock_drop(&mut self, on: bool) {
        self.icmp_drop = on;
    }

    fn verify(&mut self) -> Result<Option<String>, FirewallError> {
        let Some(reference) = &self.reference else {
            return Ok(None);
        };
        let t = &self.table;
        match self.listing() {
            Err(e) => Ok(Some(format!("table inet {t} is gone ({e})"))),
            Ok(now) if now == *reference => Ok(None),
            Ok(_) => Ok(Some(format!(
                "table inet {t} differs from what posternd installed"
            ))),
        }
    }

    fn grant(&mut self, grant: &FwGrant) -> Result<(), FirewallError> {
        let (set, element) = Self::element(grant);
        if let Some(nl) = &mut self.netlink {
            return nl
                .add(&self.table, set, grant)
                .map_err(|source| FirewallError::Io {
                    backend: BACKEND,
                    context: format!("adding {element} to set {set} over netlink"),
                    source,
                });
        }
        // `add` on an existing element refreshes its timeout (kernel ≥ 5.x).
        let line = format!(
            "add element inet {} {set} {{ {element} timeout {}s }}",
            self.table,
            ttl_secs(grant.ttl)
        );
        self.coprocess.run(&line)
    }

    fn revoke(&mut self, source: IpAddr, port: ProtectedPort) -> Result<(), FirewallError> {
        let grant = FwGrant {
            source,
            port,
            ttl: Duration::from_secs(1),
        };
        let (set, element) = Self::element(&grant);
        if let Some(nl) = &mut self.netlink {
            return nl
                .remove(&self.table, set, &grant)
                .map_err(|source| FirewallError::Io {
                    backend: BACKEND,
                    context: format!("removing {element} from set {set} over netlink"),
                    source,
                });
        }
        // `delete` alone fails on an element the kernel already expired;
        // adding it first (same line, same transaction) makes it succeed.
        let t = &self.table;
        let line = format!(
            "add element inet {t} {set} {{ {element} timeout 1s }}; \
             delete element inet {t} {set} {{ {element} }}"
        );
        self.coprocess.run(&line)
    }

    fn grants(&mut self) -> Result<Vec<LiveGrant>, FirewallError> {
        let mut all = self.list_set(SET4)?;
        all.extend(self.list_set(SET6)?);
        Ok(all)
    }

    fn revoke_all(&mut self) -> Result<(), FirewallError> {
        let t = &self.table;
        self.apply(&format!(
            "flush set inet {t} {SET4}\nflush set inet {t} {SET6}\n"
        ))
    }

    fn uninstall(&mut self) -> Result<(), FirewallError> {
        // `add` first makes `delete` succeed when the table is absent.
        let t = &self.table;
        self.apply(&format!("add table inet {t}\ndelete table inet {t}\n"))
    }
}

fn parse_error(what: impl Into<String>) -> FirewallError {
    FirewallError::Backend {
        backend: BACKEND,
        what: format!("unexpected `nft -j list set` output: {}", what.into()),
    }
}

/// `nft -j list table` output without what changes while the protection
/// stays the same: handles (renumbered by every install), set elements
/// (the grants) and the version banner.
pub fn normalise_listing(root: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("handle");
                map.remove("elem");
                map.remove("metainfo");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => {
                items.retain(|i| i.get("metainfo").is_none());
                items.iter_mut().for_each(strip);
            }
            _ => {}
        }
    }
    let mut root = root;
    strip(&mut root);
    root
}

/// Parse `nft -j list set` output into grants. Elements look like
/// `{"elem": {"val": {"concat": ["198.18.0.2", "tcp", 22]}, "timeout": 30,
/// "expires": 29}}`; `expires` is missing when less than a second is left.
pub fn parse_set_json(json: &str) -> Result<Vec<LiveGrant>, FirewallError> {
    let root: Value = serde_json::from_str(json).map_err(|e| parse_error(e.to_string()))?;
    let objects = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| parse_error("no \"nftables\" array"))?;
    let mut grants = Vec::new();
    for set in objects.iter().filter_map(|o| o.get("set")) {
        let Some(elems) = set.get("elem").and_then(Value::as_array) else {
            continue; // an empty set has no "elem" key
        };
        for entry in elems {
            let (val, expires) = match entry.get("elem") {
                Some(e) => (e.get("val").unwrap_or(e), e.get("expires")),
                None => (entry, None),
            };
            let parts = val
                .get("concat")
                .and_then(Value::as_array)
                .ok_or_else(|| parse_error(format!("element without concat: {entry}")))?;
            let [addr, proto, port] = parts.as_slice() else {
                return Err(parse_error(format!(
                    "element is not addr . proto . port: {entry}"
                )));
            };
            let source: IpAddr = addr
                .as_str()
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| parse_error(format!("bad address in {entry}")))?;
            let proto = proto
                .as_str()
                .and_then(Proto::from_keyword)
                .ok_or_else(|| parse_error(format!("bad protocol in {entry}")))?;
            let port = port
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or_else(|| parse_error(format!("bad port in {entry}")))?;
            let remaining = expires
                .and_then(Value::as_f64)
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map_or(Duration::ZERO, Duration::from_secs_f64);
            grants.push(LiveGrant {
                source,
                port: ProtectedPort { proto, port },
                remaining,
            });
        }
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_set_listing() {
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "inet",
            "name": "grants6", "table": "t", "type": ["ipv6_addr", "inet_proto", "inet_service"],
            "handle": 2, "flags": ["timeout"], "elem": [{"elem": {"val": {"concat": ["fd00::1",
            "udp", 53]}, "timeout": 30, "expires": 29}}]}}]}"#;
        let grants = parse_set_json(json).expect("valid listing");
        assert_eq!(
            grants,
            vec![LiveGrant {
                source: "fd00::1".parse().expect("literal"),
                port: ProtectedPort {
                    proto: Proto::Udp,
                    port: 53
                },
                remaining: Duration::from_secs(29),
            }]
        );
    }

    #[test]
    fn empty_set_has_no_grants() {
        let json = r#"{"nftables": [{"metainfo": {}}, {"set": {"name": "grants4"}}]}"#;
        assert_eq!(parse_set_json(json).expect("valid"), vec![]);
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_set_json("Error: nope").is_err());
        let json = r#"{"nftables": [{"set": {"elem": [{"elem": {"val": {"concat": ["x", "tcp", 1]}}}]}}]}"#;
        assert!(parse_set_json(json).is_err());
    }

    #[test]
    fn install_script_is_one_transaction_over_our_table_only() {
        let fw = Nftables::new("pt", 100).expect("valid name");
        let ssh = ProtectedPort {
            proto: Proto::Tcp,
            port: 22,
        };
        let keep = FwGrant {
            source: "fd00::2".parse().expect("literal"),
            port: ssh,
            ttl: Duration::from_millis(24_200),
        };
        let script = fw.install_script(
            &[
                ProtectedPort {
                    proto: Proto::Udp,
                    port: 53,
                },
                ssh,
            ],
            &[keep],
        );
        assert!(script.starts_with("add table inet pt\ndelete table inet pt\ntable inet pt {"));
        assert!(script.contains("{ tcp . 22, udp . 53 } ip saddr"));
        assert!(script.contains("ip6 saddr . meta l4proto . th dport != @grants6 drop"));
        // Every packet that is not part of an established connection is
        // checked, not only NEW ones (FIN / ACK probes), and sets are bounded.
        assert!(script.contains("ct state != { established, related } meta l4proto"));
        assert!(!script.contains("ct state new"));
        assert!(script.contains("flags timeout; size 100; }"));
        assert!(
            !script.contains("echo-request"),
            "no ICMP rule unless asked"
        );
        let mut fw = fw;
        fw.set_icmp_knock_drop(true);
        let icmp = fw.install_script(&[ssh], &[]);
        assert!(
            icmp.contains("icmp type echo-request ip length 95-540 drop"),
            "{icmp}"
        );
        assert!(
            icmp.contains("icmpv6 type echo-request ip6 length 75-520 drop"),
            "{icmp}"
        );
        // Kept grants come back after the table, in the same script, with
        // the time they have left rounded up.
        assert!(
            script.ends_with("}\nadd element inet pt grants6 { fd00::2 . tcp . 22 timeout 25s }\n"),
            "{script}"
        );
    }

    #[test]
    fn listing_ignores_grants_and_handles_but_not_rules() {
        let with = |elem: &str, rule: &str| {
            let text = format!(
                r#"{{"nftables": [{{"metainfo": {{"version": "1.0.6"}}}},
                {{"set": {{"name": "grants4", "handle": 2, "size": 9{elem}}}}},
                {{"rule": {{"chain": "input", "handle": 7, "expr": [{rule}]}}}}]}}"#
            );
            normalise_listing(serde_json::from_str(&text).expect("json"))
        };
        let drop = r#"{"drop": null}"#;
        let base = with("", drop);
        let granted = with(r#", "elem": [{"elem": {"val": 1}}]"#, drop);
        assert_eq!(base, granted, "grants do not count as a change");
        assert_ne!(base, with("", r#"{"accept": null}"#), "a changed rule does");
    }

    #[test]
    fn rejects_names_that_need_quoting() {
        assert!(Nftables::new("bad name", 1).is_err());
        assert!(Nftables::new("x; flush ruleset", 1).is_err());
    }
}
