//! The WinDivert filter string that lets only knock candidates reach the
//! Windows capture, built from the same [`FilterSpec`] as the Linux BPF
//! program ([`super::filter`]), so both OSes listen for exactly the same
//! packets.
//!
//! Pure: this builds a string; `platform::windows::capture` hands it to
//! `WinDivertOpen` (sniff + receive-only, network layer). WinDivert
//! evaluates it in the kernel driver, so, as with BPF on Linux, traffic
//! that is not a knock candidate is never copied to the daemon.
//!
//! The filter accepts exactly:
//! - inbound packets (WinDivert marks loopback traffic outbound, so a knock
//!   the host sends itself never wakes us, like `PACKET_OUTGOING` on Linux),
//! - IPv4 / IPv6 carrying
//!   - TCP with SYN set and ACK clear, to any port or to `tcp_ports`;
//!   - UDP to one of `udp_ports`;
//!   - ICMP echo request (type 8) / ICMPv6 echo request (type 128).
//!
//! Unlike the BPF program, WinDivert walks IPv6 extension headers itself and
//! reports non-first IPv4 fragments as carrying no transport header, so
//! neither needs a term here.
//!
//! Port sets are merged into ranges exactly as for BPF, so a dynamic
//! sequence over a port range costs one `>= and <=` pair. WinDivert refuses
//! filters longer than [`MAX_TERMS`] tests (`WINDIVERT_FILTER_MAXLEN`); the
//! builder counts its tests and refuses first, with an error that says what
//! to change, instead of a bare "invalid parameter" from the driver.

use super::FilterSpec;
use super::filter::ranges;

/// Most tests a WinDivert 2.2 filter may compile to
/// (`WINDIVERT_FILTER_MAXLEN`).
pub const MAX_TERMS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WinDivertFilterError {
    #[error(
        "the WinDivert filter would need {terms} tests (limit {MAX_TERMS}); \
         use fewer, or contiguous, knock ports"
    )]
    TooLong { terms: usize },
}

/// A finished filter and the number of tests it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WinDivertFilter {
    text: String,
    terms: usize,
}

impl WinDivertFilter {
    /// The filter in WinDivert's filter language.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// How many tests (comparisons and flags) it holds.
    pub fn terms(&self) -> usize {
        self.terms
    }
}

/// Builds the knock-candidate filter for `spec`. A spec that asks for
/// nothing gives `false` (WinDivert then delivers nothing), never `true`.
pub fn build(spec: &FilterSpec) -> Result<WinDivertFilter, WinDivertFilterError> {
    let mut terms = 1; // `inbound`
    let mut alternatives = Vec::new();
    if spec.tcp_syn_any_port {
        alternatives.push("(tcp and tcp.Syn and !tcp.Ack)".to_owned());
        terms += 3;
    } else if !spec.tcp_ports.is_empty() {
        let (ports, n) = port_test("tcp.DstPort", &ranges(&spec.tcp_ports));
        alternatives.push(format!("(tcp and tcp.Syn and !tcp.Ack and {ports})"));
        terms += 3 + n;
    }
    if !spec.udp_ports.is_empty() {
        let (ports, n) = port_test("udp.DstPort", &ranges(&spec.udp_ports));
        alternatives.push(format!("(udp and {ports})"));
        terms += 1 + n;
    }
    if spec.icmp_echo {
        alternatives.push("(icmp and icmp.Type == 8)".to_owned());
        alternatives.push("(icmpv6 and icmpv6.Type == 128)".to_owned());
        terms += 4;
    }
    if alternatives.is_empty() {
        return Ok(WinDivertFilter {
            text: "false".to_owned(),
            terms: 1,
        });
    }
    if terms > MAX_TERMS {
        return Err(WinDivertFilterError::TooLong { terms });
    }
    Ok(WinDivertFilter {
        text: format!("inbound and ({})", alternatives.join(" or ")),
        terms,
    })
}

/// `field` in one of `set`'s inclusive ranges, and how many tests that is.
fn port_test(field: &str, set: &[(u16, u16)]) -> (String, usize) {
    let mut n = 0;
    let parts: Vec<String> = set
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                n += 1;
                format!("{field} == {lo}")
            } else {
                n += 2;
                format!("({field} >= {lo} and {field} <= {hi})")
            }
        })
        .collect();
    if parts.len() == 1 {
        (parts.into_iter().next().unwrap_or_default(), n)
    } else {
        (format!("({})", parts.join(" or ")), n)
    }
}

#[cfg(test)]
#[path = "windivert_filter_tests.rs"]
mod tests;
