//! Classic BPF program that lets only knock candidates reach user space.
//!
//! Pure: this builds instructions, the Linux adapter attaches them with
//! `SO_ATTACH_FILTER`. Without it every frame on the interface is copied to
//! the daemon and parsed there; with it the kernel drops non-candidates before
//! the copy (numbers in `linux.rs`).
//!
//! The program accepts (returns [`SNAP_LEN`]) exactly:
//! - frames not sent by this host and not addressed to another host
//!   (`PACKET_OUTGOING` / `PACKET_OTHERHOST`, read from the skb), so a knock
//!   the host sends itself — or loopback's duplicate copy — never wakes us;
//! - IPv4 / IPv6 carrying
//!   - TCP with SYN set and ACK clear, to any port or to `tcp_ports`;
//!   - UDP to one of `udp_ports`;
//!   - ICMP echo request (type 8) / ICMPv6 echo request (type 128).
//!
//! Deliberate limits, kept so the program stays small and obviously correct:
//! - **IPv6 extension headers are not walked**: only the fixed header's next
//!   header is checked, so a knock behind hop-by-hop / routing / fragment
//!   headers is dropped in the kernel. No knock client emits them; an attacker
//!   gains nothing from it (the packet is simply not seen).
//! - **One in-band 802.1Q tag** on Ethernet. Linux normally strips the tag
//!   into skb metadata before packet sockets see a received frame, so this
//!   only matters for unusual drivers; QinQ (two tags) is dropped.
//! - IPv4 non-first fragments are dropped (no transport header). First
//!   fragments pass if their header matches; the parser then keeps TCP only.
//!
//! Port sets are sorted, deduplicated and merged into ranges, so a dynamic
//! sequence that spans a port range costs two instructions, not thousands.
//! Conditional jumps in classic BPF reach at most 255 instructions ahead, so
//! port lists are emitted in chunks, each with its own nearby `ret`.

use std::collections::BTreeSet;

/// Bytes of an accepted frame copied to user space: a full 1500-byte IP
/// packet plus an Ethernet header and one VLAN tag, with room to spare.
/// A knock is far smaller; anything larger is truncated and then rejected
/// by the parser's length checks.
pub const SNAP_LEN: u32 = 1600;

/// Longest program the kernel accepts (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// One classic BPF instruction, laid out like the kernel's `struct
/// sock_filter` so the Linux adapter can pass a slice of them as is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// Opcodes (linux/bpf_common.h, linux/filter.h). Only what we emit.
pub(crate) mod op {
    pub const LD: u16 = 0x00;
    pub const LDX: u16 = 0x01;
    pub const ALU: u16 = 0x04;
    pub const JMP: u16 = 0x05;
    pub const RET: u16 = 0x06;
    pub const W: u16 = 0x00;
    pub const H: u16 = 0x08;
    pub const B: u16 = 0x10;
    pub const ABS: u16 = 0x20;
    pub const IND: u16 = 0x40;
    pub const MSH: u16 = 0xa0;
    pub const AND: u16 = 0x50;
    pub const JA: u16 = 0x00;
    pub const JEQ: u16 = 0x10;
    pub const JGT: u16 = 0x20;
    pub const JGE: u16 = 0x30;
    pub const JSET: u16 = 0x40;
    pub const K: u16 = 0x00;
    /// `SKF_AD_OFF`: loads at this offset read skb metadata, not packet bytes.
    pub const SKF_AD_OFF: u32 = 0xffff_f000;
    pub const SKF_AD_PROTOCOL: u32 = 0;
    pub const SKF_AD_PKTTYPE: u32 = 4;
    /// `PACKET_OTHERHOST` / `PACKET_OUTGOING` (linux/if_packet.h).
    pub const PACKET_OTHERHOST: u32 = 3;
    pub const PACKET_OUTGOING: u32 = 4;
}

/// Which knocks the daemon listens for; derived from the configured doors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterSpec {
    /// UDP destination ports of SPA doors and UDP sequence knocks.
    pub udp_ports: Vec<u16>,
    /// Accept TCP SYNs to every port (SYN-token doors, whose port moves).
    pub tcp_syn_any_port: bool,
    /// TCP SYN destination ports; used when `tcp_syn_any_port` is false.
    pub tcp_ports: Vec<u16>,
    /// Accept ICMP / ICMPv6 echo requests (ICMP knocks and SPA over ping).
    pub icmp_echo: bool,
}

/// Where the program finds the IP header, which depends on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterLink {
    /// `SOCK_RAW` on an Ethernet-like device (incl. loopback): Ethernet
    /// header, optionally one 802.1Q tag, then IP.
    Ethernet,
    /// `SOCK_DGRAM` (and the "any" device) or a device without a link header
    /// (tun): the frame starts with the IP header; the version comes from the
    /// skb's protocol field.
    Network,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error(
        "kernel packet filter would need {len} instructions (limit {MAX_INSNS}); \
         use fewer, or contiguous, knock ports"
    )]
    TooLong { len: usize },
}

/// A finished program, ready for `SO_ATTACH_FILTER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpfProgram {
    insns: Vec<BpfInsn>,
}

impl BpfProgram {
    pub fn instructions(&self) -> &[BpfInsn] {
        &self.insns
    }
}

/// Builds the knock-candidate filter for `spec` on a socket of kind `link`.
pub fn build(spec: &FilterSpec, link: FilterLink) -> Result<BpfProgram, FilterError> {
    let mut a = Asm::default();
    let plan = Plan::new(spec);

    // Direction first: cheapest test, and it halves loopback traffic.
    let reject = a.label();
    let start = a.label();
    a.ld_abs(op::W, op::SKF_AD_OFF + op::SKF_AD_PKTTYPE);
    a.jump(op::JEQ, op::PACKET_OUTGOING, reject.into(), Next);
    a.jump(op::JEQ, op::PACKET_OTHERHOST, reject.into(), start.into());
    a.place(reject);
    a.ret(0);
    a.place(start);

    let udp = a.label();
    let tcp = a.label();
    let mut bodies = Vec::new();
    let reject = a.label();
    match link {
        FilterLink::Ethernet => {
            let (v4, v6, v4_vlan, v6_vlan) = (a.label(), a.label(), a.label(), a.label());
            let vlan = a.label();
            a.ld_abs(op::H, 12);
            a.jump(op::JEQ, 0x8100, vlan.into(), Next);
            a.jump(op::JEQ, 0x0800, v4.into(), Next);
            a.jump(op::JEQ, 0x86dd, v6.into(), reject.into());
            a.place(vlan);
            a.ld_abs(op::H, 16);
            a.jump(op::JEQ, 0x0800, v4_vlan.into(), Next);
            a.jump(op::JEQ, 0x86dd, v6_vlan.into(), reject.into());
            bodies.extend([(v4, 4, 14), (v6, 6, 14), (v4_vlan, 4, 18), (v6_vlan, 6, 18)]);
        }
        FilterLink::Network => {
            let (v4, v6) = (a.label(), a.label());
            a.ld_abs(op::W, op::SKF_AD_OFF + op::SKF_AD_PROTOCOL);
            a.jump(op::JEQ, 0x0800, v4.into(), Next);
            a.jump(op::JEQ, 0x86dd, v6.into(), reject.into());
            bodies.extend([(v4, 4, 0), (v6, 6, 0)]);
        }
    }
    a.place(reject);
    a.ret(0);
    for (label, version, nh) in bodies {
        a.place(label);
        if version == 4 {
            ipv4_body(&mut a, &plan, nh, udp, tcp);
        } else {
            ipv6_body(&mut a, &plan, nh, udp, tcp);
        }
    }
    a.place(udp);
    port_set(&mut a, &plan.udp);
    a.place(tcp);
    port_set(&mut a, &plan.tcp);

    let insns = a.finish();
    if insns.len() > MAX_INSNS {
        return Err(FilterError::TooLong { len: insns.len() });
    }
    Ok(BpfProgram { insns })
}

/// The spec reduced to what the emitter needs.
struct Plan {
    udp: Vec<(u16, u16)>,
    tcp: Vec<(u16, u16)>,
    want_udp: bool,
    want_tcp: bool,
    tcp_any: bool,
    icmp: bool,
}

impl Plan {
    fn new(spec: &FilterSpec) -> Self {
        let udp = ranges(&spec.udp_ports);
        let tcp = ranges(&spec.tcp_ports);
        Plan {
            want_udp: !udp.is_empty(),
            want_tcp: spec.tcp_syn_any_port || !tcp.is_empty(),
            tcp_any: spec.tcp_syn_any_port,
            icmp: spec.icmp_echo,
            udp,
            tcp,
        }
    }
}

/// Sorted, deduplicated ports merged into inclusive ranges.
pub(crate) fn ranges(ports: &[u16]) -> Vec<(u16, u16)> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    for p in ports.iter().copied().collect::<BTreeSet<u16>>() {
        match out.last_mut() {
            Some((_, hi)) if u32::from(*hi) + 1 == u32::from(p) => *hi = p,
            _ => out.push((p, p)),
        }
    }
    out
}

/// IPv4 at offset `nh`. X := IP header length (from IHL), then the
/// transport header is read with indirect loads at `X + nh + off`.
fn ipv4_body(a: &mut Asm, plan: &Plan, nh: u32, udp: Label, tcp: Label) {
    let (reject, accept) = (a.label(), a.label());
    let (u, t, i) = (a.label(), a.label(), a.label());
    a.ld_abs(op::H, nh + 6);
    a.jump(op::JSET, 0x1fff, reject.into(), Next); // non-first fragment
    a.push(op::LDX | op::B | op::MSH, nh);
    a.ld_abs(op::B, nh + 9);
    protocol_dispatch(a, plan, [(17, u), (6, t), (1, i)], reject);
    transport_blocks(
        a,
        plan,
        (op::IND, nh),
        [u, t, i],
        8,
        (udp, tcp),
        (accept, reject),
    );
}

/// IPv6 at offset `nh`: fixed 40-byte header, next header checked as is.
fn ipv6_body(a: &mut Asm, plan: &Plan, nh: u32, udp: Label, tcp: Label) {
    let (reject, accept) = (a.label(), a.label());
    let (u, t, i) = (a.label(), a.label(), a.label());
    a.ld_abs(op::B, nh + 6);
    protocol_dispatch(a, plan, [(17, u), (6, t), (58, i)], reject);
    transport_blocks(
        a,
        plan,
        (op::ABS, nh + 40),
        [u, t, i],
        128,
        (udp, tcp),
        (accept, reject),
    );
}

/// A holds the IP protocol; jump to the enabled transport blocks.
fn protocol_dispatch(a: &mut Asm, plan: &Plan, targets: [(u32, Label); 3], reject: Label) {
    let enabled = [plan.want_udp, plan.want_tcp, plan.icmp];
    let wanted: Vec<_> = targets
        .into_iter()
        .zip(enabled)
        .filter_map(|(t, on)| on.then_some(t))
        .collect();
    for (n, (proto, label)) in wanted.iter().enumerate() {
        let otherwise = if n + 1 == wanted.len() {
            reject.into()
        } else {
            Next
        };
        a.jump(op::JEQ, *proto, (*label).into(), otherwise);
    }
    if wanted.is_empty() {
        a.ja(reject);
    }
}

/// The UDP / TCP / ICMP blocks of one IP body. `(mode, base)` says how to
/// reach the transport header: indirect (`X + base`) for IPv4, absolute for
/// IPv6. UDP and TCP (with a port list) leave the destination port in A and
/// jump to the shared port sets.
fn transport_blocks(
    a: &mut Asm,
    plan: &Plan,
    (mode, base): (u16, u32),
    [u, t, i]: [Label; 3],
    echo_type: u32,
    (udp, tcp): (Label, Label),
    (accept, reject): (Label, Label),
) {
    if plan.want_udp {
        a.place(u);
        a.push(op::LD | op::H | mode, base + 2);
        a.ja(udp);
    }
    if plan.want_tcp {
        a.place(t);
        a.push(op::LD | op::B | mode, base + 13);
        a.push(op::ALU | op::AND | op::K, 0x12); // SYN | ACK
        a.jump(op::JEQ, 0x02, Next, reject.into()); // SYN without ACK
        if plan.tcp_any {
            a.ja(accept);
        } else {
            a.push(op::LD | op::H | mode, base + 2);
            a.ja(tcp);
        }
    }
    if plan.icmp {
        a.place(i);
        a.push(op::LD | op::B | mode, base);
        a.jump(op::JEQ, echo_type, accept.into(), reject.into());
    }
    a.place(accept);
    a.ret(SNAP_LEN);
    a.place(reject);
    a.ret(0);
}

/// Port ranges per chunk; a chunk's jumps to its `ret` stay under 255.
const CHUNK: usize = 100;

/// A holds a destination port: accept if it is in `set`.
fn port_set(a: &mut Asm, set: &[(u16, u16)]) {
    for chunk in set.chunks(CHUNK) {
        let (hit, after) = (a.label(), a.label());
        for &(lo, hi) in chunk {
            if lo == hi {
                a.jump(op::JEQ, u32::from(lo), hit.into(), Next);
            } else {
                let miss = a.label();
                a.jump(op::JGE, u32::from(lo), Next, miss.into());
                a.jump(op::JGT, u32::from(hi), miss.into(), hit.into());
                a.place(miss);
            }
        }
        a.ja(after);
        a.place(hit);
        a.ret(SNAP_LEN);
        a.place(after);
    }
    a.ret(0);
}

/// Jump target of a conditional jump.
#[derive(Debug, Clone, Copy)]
enum Target {
    Next,
    At(Label),
}
use Target::Next;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Label(usize);

impl From<Label> for Target {
    fn from(l: Label) -> Self {
        Target::At(l)
    }
}

#[derive(Debug)]
enum Item {
    Insn(BpfInsn),
    Jump(u16, u32, Target, Target),
    Ja(Label),
    Place(Label),
}

/// A two-pass assembler with forward labels (classic BPF only jumps forward).
#[derive(Debug, Default)]
struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    fn place(&mut self, l: Label) {
        self.items.push(Item::Place(l));
    }
    fn push(&mut self, code: u16, k: u32) {
        self.items.push(Item::Insn(BpfInsn {
            code,
            jt: 0,
            jf: 0,
            k,
        }));
    }
    fn ld_abs(&mut self, size: u16, k: u32) {
        self.push(op::LD | size | op::ABS, k);
    }
    fn ret(&mut self, k: u32) {
        self.push(op::RET | op::K, k);
    }
    fn jump(&mut self, cond: u16, k: u32, jt: Target, jf: Target) {
        self.items
            .push(Item::Jump(op::JMP | cond | op::K, k, jt, jf));
    }
    fn ja(&mut self, to: Label) {
        self.items.push(Item::Ja(to));
    }

    /// Resolves labels. Every label is placed after the jumps that use it
    /// and conditional jumps stay within 255 by construction (the tests
    /// check both over random specs), so a violation is a bug here, not bad
    /// input: it panics rather than emit a program the kernel would reject.
    fn finish(self) -> Vec<BpfInsn> {
        let mut at = vec![usize::MAX; self.labels];
        let mut pc = 0;
        for item in &self.items {
            match item {
                Item::Place(l) => at[l.0] = pc,
                _ => pc += 1,
            }
        }
        let rel = |from: usize, to: usize| -> usize {
            assert!(
                to != usize::MAX && to > from,
                "bpf: backward or unplaced label"
            );
            to - from - 1
        };
        let cond = |from: usize, t: Target| -> u8 {
            match t {
                Next => 0,
                Target::At(l) => u8::try_from(rel(from, at[l.0])).expect("bpf: jump over 255"),
            }
        };
        let mut out = Vec::with_capacity(pc);
        for item in self.items {
            let pc = out.len();
            match item {
                Item::Place(_) => {}
                Item::Insn(i) => out.push(i),
                Item::Jump(code, k, jt, jf) => out.push(BpfInsn {
                    code,
                    jt: cond(pc, jt),
                    jf: cond(pc, jf),
                    k,
                }),
                Item::Ja(l) => out.push(BpfInsn {
                    code: op::JMP | op::JA,
                    jt: 0,
                    jf: 0,
                    k: u32::try_from(rel(pc, at[l.0])).expect("bpf: program over 4G"),
                }),
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
