//! iptables + ipset backend, for hosts without a working `nft`.
//!
//! Postern owns two ipsets, `<name>-4` and `<name>-6` (`hash:ip,port` with
//! per-entry timeouts), a chain `<NAME>` in the filter table of both iptables
//! and ip6tables, and one jump to it at the top of INPUT. The chain drops
//! every packet to a protected port that is not part of an ESTABLISHED or
//! RELATED connection unless `src,dst` (source address, packet protocol and
//! destination port) is in the family's set: established connections
//! outlive their grant, and FIN / ACK / NULL probes (conntrack INVALID or
//! UNTRACKED) are dropped like SYNs, so they cannot tell a listening
//! service from a closed port. The kernel expires set entries by itself.
//!
//! Each set has a `maxelem` (`[server] grant_set_size`); when it is full
//! ipset refuses the entry, the grant fails, is logged, and the door stays
//! closed for that source (fail-closed).
//!
//! [`Firewall::verify`] compares our chains (`-S`), the jumps to them and
//! their position, and the existence of our sets with what was there right
//! after the install, so a ufw / firewalld reload that dropped the jump, a
//! flushed chain or a destroyed set is noticed. The jump must be INPUT's
//! first rule: in iptables the first ACCEPT a packet meets decides, so a
//! rule inserted ahead of the jump (`iptables -I INPUT 1 … -j ACCEPT`, a
//! firewall tool's reload, a jump into another tool's chain that accepts)
//! would let packets to a protected port past the chain while the chain and
//! the jump still look intact. A reinstall moves the jump back to the top;
//! other rules are left as they are. (nftables has no such hole: a drop in
//! any base chain of the hook is final, whatever other tables accept.)
//!
//! The chain is rewritten with one `iptables-restore --noflush` per family
//! (atomic per family). The sets are refilled without a gap: a fresh set
//! `<name>-4n` is built with the grants to keep (a config reload keeps the
//! live grants the new config allows, with the time they have left) and
//! swapped with the live one (`ipset swap` is atomic and the rules follow
//! the name), all in one `ipset restore`.
//!
//! Grants and revokes go through ONE long-lived `ipset -` (interactive)
//! process: one `add` (or `del ... -exist`, which is quiet about an entry the
//! kernel already expired) line per grant, followed by `test` without arguments as a sentinel —
//! ipset answers it on stderr with a fixed message, without touching the
//! kernel, and prints nothing for a successful `add`. (`ipset restore` would
//! also read line by line, but it exits at the first error, and says nothing
//! on success, so a caller could not tell when a line was done.)
//! Measured like the nftables backend (median of 200): 0.02–0.06 ms per
//! grant through `ipset -`, 1.0 ms spawning `ipset add` per grant.

use std::net::IpAddr;
use std::time::Duration;

use super::process::{self, Coprocess, CoprocessSpec};
use super::{ttl_secs, validate_name};
use crate::firewall::{
    Firewall, FirewallError, FwGrant, ICMP_KNOCK_DATA, LiveGrant, ProtectedPort, Proto,
};

const BACKEND: &str = "iptables";

/// One IP family: which tool and which of our sets it uses.
#[derive(Debug, Clone, Copy)]
struct Family {
    tool: &'static str,
    restore: &'static str,
    ipset_family: &'static str,
    suffix: &'static str,
}

const FAMILIES: [Family; 2] = [
    Family {
        tool: "iptables",
        restore: "iptables-restore",
        ipset_family: "inet",
        suffix: "-4",
    },
    Family {
        tool: "ip6tables",
        restore: "ip6tables-restore",
        ipset_family: "inet6",
        suffix: "-6",
    },
];

/// The iptables + ipset adapter. See the module documentation.
#[derive(Debug)]
pub struct Iptables {
    /// Prefix of the set names (`postern` → `postern-4`, `postern-6`).
    name: String,
    /// Our chain in the filter table (`POSTERN`).
    chain: String,
    coprocess: Coprocess,
    /// Entries each set may hold.
    set_size: u32,
    /// Drop knock-sized ICMP echo requests (see
    /// [`Firewall::set_icmp_knock_drop`]).
    icmp_drop: bool,
    /// What [`Iptables::snapshot`] saw right after the last install.
    reference: Option<String>,
}

impl Iptables {
    /// An adapter whose chain is `name` upper-cased and whose sets are
    /// `name-4` / `name-6`. Changes nothing yet.
    pub fn new(name: &str, set_size: u32) -> Result<Self, FirewallError> {
        validate_name(BACKEND, name)?;
        Ok(Iptables {
            set_size: set_size.max(1),
            icmp_drop: false,
            reference: None,
            name: name.to_owned(),
            chain: name.to_ascii_uppercase(),
            coprocess: Coprocess::new(CoprocessSpec {
                backend: BACKEND,
                program: "ipset",
                args: &["-"],
                // ipset block-buffers its prompts on stdout; errors and the
                // sentinel's answer come unbuffered on stderr.
                capture_stdout: false,
                sentinel: "test",
                sentinel_marker: "Missing mandatory argument to command test",
                noise_prefix: Some("Try `ipset help'"),
            }),
        })
    }

    fn set(&self, family: &Family) -> String {
        format!("{}{}", self.name, family.suffix)
    }

    /// The `ipset restore` input `install` runs: per family, make sure the
    /// live set exists, build `<set>n` with exactly `keep`, swap the two,
    /// drop the old contents.
    pub fn sets_script(&self, keep: &[FwGrant]) -> String {
        let mut s = String::new();
        for (v6, f) in FAMILIES.iter().enumerate() {
            let set = self.set(f);
            let fresh = format!("{set}n");
            let create = |name: &str| {
                format!(
                    "create {name} hash:ip,port family {} timeout 0 maxelem {}\n",
                    f.ipset_family, self.set_size
                )
            };
            s.push_str(&create(&set));
            s.push_str(&create(&fresh));
            s.push_str(&format!("flush {fresh}\n"));
            for g in keep.iter().filter(|g| g.source.is_ipv6() == (v6 == 1)) {
                s.push_str(&format!(
                    "add {fresh} {},{}:{} timeout {}\n",
                    g.source,
                    g.port.proto.keyword(),
                    g.port.port,
                    ttl_secs(g.ttl)
                ));
            }
            s.push_str(&format!("swap {fresh} {set}\ndestroy {fresh}\n"));
        }
        s
    }

    /// Input for `<family>-restore --noflush`: declaring our chain flushes it,
    /// then its rules are appended, all in one commit.
    pub fn chain_script(&self, ports: &[ProtectedPort], v6: bool) -> String {
        let family = &FAMILIES[usize::from(v6)];
        let set = self.set(family);
        let chain = &self.chain;
        let mut ports = ports.to_vec();
        ports.sort();
        ports.dedup();
        let mut s = format!("*filter\n:{chain} - [0:0]\n");
        for p in ports {
            s.push_str(&format!(
                "-A {chain} -p {proto} --dport {port} -m conntrack ! --ctstate ESTABLISHED,RELATED \
                 -m set ! --match-set {set} src,dst -j DROP\n",
                proto = p.proto.keyword(),
                port = p.port,
            ));
        }
        if self.icmp_drop {
            // `--length` counts the whole packet: IP header (20 / 40 bytes),
            // the 8-byte echo header and the data.
            let (lo, hi) = (ICMP_KNOCK_DATA.start(), ICMP_KNOCK_DATA.end());
            let (icmp, header) = if v6 {
                ("-p ipv6-icmp --icmpv6-type echo-request", 48)
            } else {
                ("-p icmp --icmp-type echo-request", 28)
            };
            s.push_str(&format!(
                "-A {chain} {icmp} -m length --length {}:{} -j DROP\n",
                lo + header,
                hi + header
            ));
        }
        s.push_str("COMMIT\n");
        s
    }

    fn ipset_batch(&self, script: &str) -> Result<(), FirewallError> {
        process::run(BACKEND, "ipset", &["-exist", "restore"], Some(script)).map(drop)
    }

    fn has_jump(&self, family: &Family) -> bool {
        let args = ["-w", "-C", "INPUT", "-j", &self.chain];
        process::run(BACKEND, family.tool, &args, None).is_ok()
    }

    /// Whether INPUT's first rule is the jump to our chain.
    fn jump_is_first(&self, family: &Family) -> bool {
        process::run(BACKEND, family.tool, &["-w", "-S", "INPUT"], None)
            .is_ok_and(|rules| first_input_rule_jumps_to(&rules, &self.chain))
    }

    /// Puts the jump at the top of INPUT: deletes every copy (it may sit
    /// lower, or have been added twice by hand), then inserts one at 1.
    /// Bounded in case deletion silently does nothing.
    fn jump_to_top(&self, family: &Family) -> Result<(), FirewallError> {
        for _ in 0..64 {
            if !self.has_jump(family) {
                break;
            }
            let args = ["-w", "-D", "INPUT", "-j", &self.chain];
            process::run(BACKEND, family.tool, &args, None)?;
        }
        let args = ["-w", "-I", "INPUT", "1", "-j", &self.chain];
        process::run(BACKEND, family.tool, &args, None).map(drop)
    }

    /// Our chains as `-S` prints them, whether INPUT jumps to them, and
    /// which of our sets exist: what `verify` compares.
    fn snapshot(&self) -> Result<String, FirewallError> {
        let mut s = String::new();
        for f in &FAMILIES {
            let rules = process::run(BACKEND, f.tool, &["-w", "-S", &self.chain], None)?;
            s.push_str(&format!(
                "{}: jump {} first {}\n{rules}",
                f.tool,
                self.has_jump(f),
                self.jump_is_first(f)
            ));
        }
        s.push_str(&format!("sets {:?}\n", self.our_sets()?));
        Ok(s)
    }

    /// Our sets that exist, including a `<set>n` left over by an install
    /// that failed half-way.
    fn our_sets(&self) -> Result<Vec<String>, FirewallError> {
        let names = process::run(BACKEND, "ipset", &["list", "-n"], None)?;
        Ok(FAMILIES
            .iter()
            .flat_map(|f| [self.set(f), format!("{}n", self.set(f))])
            .filter(|ours| names.lines().any(|n| n.trim() == ours))
            .collect())
    }
}

impl Firewall for Iptables {
    fn name(&self) -> &'static str {
        BACKEND
    }

    fn install(&mut self, ports: &[ProtectedPort], keep: &[FwGrant]) -> Result<(), FirewallError> {
        // Sets first: the rules reference them.
        self.ipset_batch(&self.sets_script(keep))?;
        for (v6, f) in FAMILIES.iter().enumerate() {
            let script = self.chain_script(ports, v6 == 1);
            process::run(BACKEND, f.restore, &["-w", "--noflush"], Some(&script))?;
            if !self.jump_is_first(f) {
                self.jump_to_top(f)?;
            }
            // Verify: the jump is in place and first, so the chain decides
            // before any other rule can accept.
            if !self.jump_is_first(f) {
                return Err(FirewallError::Backend {
                    backend: BACKEND,
                    what: format!(
                        "{}: jump INPUT -> {} is not INPUT's first rule after install",
                        f.tool, self.chain
                    ),
                });
            }
        }
        self.reference = Some(self.snapshot()?);
        Ok(())
    }

    fn set_icmp_knock_drop(&mut self, on: bool) {
        self.icmp_drop = on;
    }

    fn verify(&mut self) -> Result<Option<String>, FirewallError> {
        let Some(reference) = &self.reference else {
            return Ok(None);
        };
        let now = match self.snapshot() {
            Ok(now) => now,
            Err(e) => return Ok(Some(format!("chain {} is gone ({e})", self.chain))),
        };
        if now == *reference {
            return Ok(None);
        }
        let jump_lost = FAMILIES.iter().find(|f| !self.has_jump(f));
        let jump_moved = FAMILIES.iter().find(|f| !self.jump_is_first(f));
        Ok(Some(match (jump_lost, jump_moved) {
            (Some(f), _) => format!("{}: the jump INPUT -> {} is gone", f.tool, self.chain),
            (None, Some(f)) => format!(
                "{}: a rule was put ahead of the jump INPUT -> {}; it could accept \
                 packets to a protected port before Postern's chain sees them",
                f.tool, self.chain
            ),
            (None, None) => format!(
                "chain {} or its sets differ from what posternd installed",
                self.chain
            ),
        }))
    }

    fn grant(&mut self, grant: &FwGrant) -> Result<(), FirewallError> {
        let family = &FAMILIES[usize::from(grant.source.is_ipv6())];
        // `-exist` turns a re-grant into a timeout refresh.
        let line = format!(
            "add {} {},{}:{} timeout {} -exist",
            self.set(family),
            grant.source,
            grant.port.proto.keyword(),
            grant.port.port,
            ttl_secs(grant.ttl)
        );
        self.coprocess.run(&line)
    }

    fn revoke(&mut self, source: IpAddr, port: ProtectedPort) -> Result<(), FirewallError> {
        let family = &FAMILIES[usize::from(source.is_ipv6())];
        // `-exist`: deleting an entry that is not there is no error.
        let line = format!(
            "del {} {source},{}:{} -exist",
            self.set(family),
            port.proto.keyword(),
            port.port,
        );
        self.coprocess.run(&line)
    }

    fn grants(&mut self) -> Result<Vec<LiveGrant>, FirewallError> {
        let mut all = Vec::new();
        for f in &FAMILIES {
            let saved = process::run(BACKEND, "ipset", &["save", &self.set(f)], None)?;
            all.extend(parse_save(&saved)?);
        }
        Ok(all)
    }

    fn revoke_all(&mut self) -> Result<(), FirewallError> {
        let script: String = FAMILIES
            .iter()
            .map(|f| format!("flush {}\n", self.set(f)))
            .collect();
        self.ipset_batch(&script)
    }

    fn uninstall(&mut self) -> Result<(), FirewallError> {
        for f in &FAMILIES {
            // The jump may have been inserted more than once by hand; remove
            // them all, with a bound in case deletion silently does nothing.
            for _ in 0..64 {
                if !self.has_jump(f) {
                    break;
                }
                let args = ["-w", "-D", "INPUT", "-j", &self.chain];
                process::run(BACKEND, f.tool, &args, None)?;
            }
            let exists = ["-w", "-n", "-L", &self.chain];
            if process::run(BACKEND, f.tool, &exists, None).is_ok() {
                process::run(BACKEND, f.tool, &["-w", "-F", &self.chain], None)?;
                process::run(BACKEND, f.tool, &["-w", "-X", &self.chain], None)?;
            }
        }
        // Sets last: the kernel refuses to destroy a set a rule refers to.
        let script: String = self
            .our_sets()?
            .iter()
            .map(|s| format!("destroy {s}\n"))
            .collect();
        if script.is_empty() {
            Ok(())
        } else {
            self.ipset_batch(&script)
        }
    }
}

/// Whether the first rule in `iptables -S INPUT` output is exactly the
/// jump to `chain` (the `-P INPUT …` policy line is not a rule).
fn first_input_rule_jumps_to(rules: &str, chain: &str) -> bool {
    rules
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("-A INPUT "))
        .is_some_and(|first| {
            let words: Vec<&str> = first.split_whitespace().collect();
            words == ["-A", "INPUT", "-j", chain]
        })
}

/// Parse `ipset save <set>` output: `add postern-4 198.18.0.2,tcp:22 timeout 29`.
pub fn parse_save(text: &str) -> Result<Vec<LiveGrant>, FirewallError> {
    let bad = |line: &str| FirewallError::Backend {
        backend: BACKEND,
        what: format!("unexpected `ipset save` line: {line:?}"),
    };
    let mut grants = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("add ")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let member = words.get(2).ok_or_else(|| bad(line))?;
        let (addr, proto_port) = member.rsplit_once(',').ok_or_else(|| bad(line))?;
        let (proto, port) = proto_port.split_once(':').ok_or_else(|| bad(line))?;
        let source: IpAddr = addr.parse().map_err(|_| bad(line))?;
        let proto = Proto::from_keyword(proto).ok_or_else(|| bad(line))?;
        let port: u16 = port.parse().map_err(|_| bad(line))?;
        let remaining = match words.iter().position(|w| *w == "timeout") {
            Some(i) => {
                let secs = words.get(i + 1).ok_or_else(|| bad(line))?;
                Duration::from_secs(secs.parse().map_err(|_| bad(line))?)
            }
            None => Duration::ZERO,
        };
        grants.push(LiveGrant {
            source,
            port: ProtectedPort { proto, port },
            remaining,
        });
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_jump_must_be_inputs_first_rule() {
        use super::first_input_rule_jumps_to as first;
        let top = "-P INPUT ACCEPT\n-A INPUT -j POSTERN\n-A INPUT -p tcp --dport 22 -j ACCEPT\n";
        assert!(first(top, "POSTERN"));
        let behind =
            "-P INPUT DROP\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -j POSTERN\n";
        assert!(!first(behind, "POSTERN"));
        // Another tool's chain ahead of ours can accept just the same.
        assert!(!first(
            "-P INPUT ACCEPT\n-A INPUT -j ufw-before-input\n-A INPUT -j POSTERN\n",
            "POSTERN"
        ));
        // A jump with a match is not our unconditional jump; a prefix of
        // our name is not our chain.
        assert!(!first("-A INPUT -i lo -j POSTERN\n", "POSTERN"));
        assert!(!first("-A INPUT -j POSTERN2\n", "POSTERN"));
        assert!(!first("-P INPUT ACCEPT\n", "POSTERN"));
    }

    use super::*;

    #[test]
    fn parses_save_output() {
        let text = "create pt-6 hash:ip,port family inet6 hashsize 1024 maxelem 65536 timeout 0\n\
                    add pt-6 fd00::2,udp:53 timeout 7\n";
        assert_eq!(
            parse_save(text).expect("valid"),
            vec![LiveGrant {
                source: "fd00::2".parse().expect("literal"),
                port: ProtectedPort {
                    proto: Proto::Udp,
                    port: 53
                },
                remaining: Duration::from_secs(7),
            }]
        );
        assert!(parse_save("add pt-4 nonsense timeout 3\n").is_err());
    }

    #[test]
    fn sets_are_refilled_with_the_kept_grants_and_swapped_in() {
        let fw = Iptables::new("pt", 100).expect("valid name");
        let keep = FwGrant {
            source: "198.18.0.2".parse().expect("literal"),
            port: ProtectedPort {
                proto: Proto::Tcp,
                port: 22,
            },
            ttl: Duration::from_millis(9_500),
        };
        let s = fw.sets_script(&[keep]);
        assert!(
            s.starts_with(
                "create pt-4 hash:ip,port family inet timeout 0 maxelem 100\n\
                 create pt-4n hash:ip,port family inet timeout 0 maxelem 100\n\
                 flush pt-4n\n\
                 add pt-4n 198.18.0.2,tcp:22 timeout 10\n\
                 swap pt-4n pt-4\ndestroy pt-4n\n"
            ),
            "{s}"
        );
        // The v6 set gets nothing but is swapped (emptied) all the same.
        assert!(
            s.ends_with("flush pt-6n\nswap pt-6n pt-6\ndestroy pt-6n\n"),
            "{s}"
        );
    }

    #[test]
    fn chain_script_flushes_and_refills_our_chain() {
        let fw = Iptables::new("pt", 100).expect("valid name");
        let s = fw.chain_script(
            &[ProtectedPort {
                proto: Proto::Tcp,
                port: 22,
            }],
            true,
        );
        assert_eq!(
            s,
            "*filter\n:PT - [0:0]\n-A PT -p tcp --dport 22 -m conntrack ! --ctstate ESTABLISHED,RELATED \
             -m set ! --match-set pt-6 src,dst -j DROP\nCOMMIT\n"
        );
    }
}
