//! Adding one element to an nftables set over netlink, without `nft`.
//!
//! `nft -i` re-reads the ruleset before every command, which made a grant
//! cost 0.6–1 ms (more as the sets grow). One `NFT_MSG_NEWSETELEM` in a
//! netlink batch is what `nft add element` sends in the end; sending it
//! ourselves costs one `send` and one `recv` of the kernel's ACK. Only this
//! one message is built here: tables, chains and listings stay with `nft`,
//! where a readable script matters more than speed.
//!
//! Wire format (linux/netfilter/nfnetlink.h, nf_tables.h): a batch of three
//! netlink messages — `NFNL_MSG_BATCH_BEGIN`, `NEWSETELEM`, `BATCH_END` —
//! each a 16-byte `nlmsghdr` plus a 4-byte `nfgenmsg`, then attributes
//! (4-byte `nlattr` headers, 4-byte aligned). The element's key is the
//! set's concatenation `addr . inet_proto . inet_service`, each part
//! padded to a 4-byte register: 4 + 4 + 4 bytes (IPv4) or 16 + 4 + 4 (IPv6).

use crate::firewall::{FwGrant, Proto};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, Read};
use std::net::IpAddr;
use std::time::Duration;

const NETLINK_NETFILTER: i32 = 12;
const AF_NETLINK: i32 = 16;
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 16;
const NFNL_MSG_BATCH_END: u16 = 17;
const NFT_MSG_NEWSETELEM: u16 = 12;
const NFT_MSG_DELSETELEM: u16 = 14;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const NFPROTO_INET: u8 = 1;
const NLA_F_NESTED: u16 = 0x8000;
const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
const NFTA_SET_ELEM_LIST_SET: u16 = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_SET_ELEM_KEY: u16 = 1;
const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
const NFTA_DATA_VALUE: u16 = 1;

/// A netlink socket to the kernel's nf_tables, in the network namespace of
/// the thread that opened it.
#[derive(Debug)]
pub struct SetElements {
    socket: Socket,
    seq: u32,
}

impl SetElements {
    pub fn open() -> io::Result<SetElements> {
        let socket = Socket::new(
            Domain::from(AF_NETLINK),
            Type::RAW,
            Some(Protocol::from(NETLINK_NETFILTER)),
        )?;
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(SetElements { socket, seq: 1 })
    }

    /// Adds (or refreshes) `grant` in `table`'s set `set` with its ttl as the
    /// element timeout, and waits for the kernel's answer.
    pub fn add(&mut self, table: &str, set: &str, grant: &FwGrant) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(3);
        let msg = batch(self.seq, table, set, grant, Op::Add);
        self.exchange(&msg, self.seq)
    }

    /// Removes `grant`'s element (its ttl is ignored) from `table`'s set
    /// `set`. An element that is not there — the kernel already expired it
    /// — is success: revoking is idempotent.
    pub fn remove(&mut self, table: &str, set: &str, grant: &FwGrant) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(3);
        let msg = batch(self.seq, table, set, grant, Op::Delete);
        match self.exchange(&msg, self.seq) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            other => other,
        }
    }

    /// Sends one batch and waits for the kernel's answer to its middle
    /// message (`seq + 1`).
    fn exchange(&mut self, msg: &[u8], seq: u32) -> io::Result<()> {
        let sent = self.socket.send(msg)?;
        if sent != msg.len() {
            return Err(io::Error::other("short netlink send"));
        }
        let mut buf = [0u8; 8192];
        loop {
            let n = (&self.socket).read(&mut buf)?;
            let mut at = 0;
            while at + 16 <= n {
                let len =
                    u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
                let ty = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
                let mseq =
                    u32::from_ne_bytes([buf[at + 8], buf[at + 9], buf[at + 10], buf[at + 11]]);
                if len < 16 || at + len > n {
                    return Err(io::Error::other("malformed netlink answer"));
                }
                if ty == NLMSG_ERROR && mseq == seq + 1 && len >= 20 {
                    let err = i32::from_ne_bytes([
                        buf[at + 16],
                        buf[at + 17],
                        buf[at + 18],
                        buf[at + 19],
                    ]);
                    return if err == 0 {
                        Ok(())
                    } else {
                        Err(io::Error::from_raw_os_error(-err))
                    };
                }
                at += (len + 3) & !3;
            }
        }
    }
}

/// The element key: address, protocol and port, each in a 4-byte register.
pub fn key(grant: &FwGrant) -> Vec<u8> {
    let mut k = match grant.source {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let proto = match grant.port.proto {
        Proto::Tcp => 6u8,
        Proto::Udp => 17,
    };
    k.extend_from_slice(&[proto, 0, 0, 0]);
    let p = grant.port.port.to_be_bytes();
    k.extend_from_slice(&[p[0], p[1], 0, 0]);
    k
}

fn attr(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + ((4 - len % 4) % 4), 0);
}

fn nested(out: &mut Vec<u8>, ty: u16, inner: impl FnOnce(&mut Vec<u8>)) {
    let mut body = Vec::new();
    inner(&mut body);
    attr(out, ty | NLA_F_NESTED, &body);
}

fn message(
    out: &mut Vec<u8>,
    ty: u16,
    flags: u16,
    seq: u32,
    family: u8,
    res_id: u16,
    attrs: &[u8],
) {
    let len = 16 + 4 + attrs.len();
    out.extend_from_slice(&(len as u32).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&[family, 0]);
    out.extend_from_slice(&res_id.to_be_bytes());
    out.extend_from_slice(attrs);
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

/// What a batch does with its one element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `NEWSETELEM` with the grant's ttl as timeout (creates or refreshes).
    Add,
    /// `DELSETELEM` by key.
    Delete,
}

/// BATCH_BEGIN (seq), NEWSETELEM or DELSETELEM (seq + 1, acked), BATCH_END
/// (seq + 2).
pub fn batch(seq: u32, table: &str, set: &str, grant: &FwGrant, op: Op) -> Vec<u8> {
    let mut attrs = Vec::new();
    attr(&mut attrs, NFTA_SET_ELEM_LIST_TABLE, &cstr(table));
    attr(&mut attrs, NFTA_SET_ELEM_LIST_SET, &cstr(set));
    let timeout_ms = u64::try_from(grant.ttl.as_millis())
        .unwrap_or(u64::MAX)
        .max(1000);
    nested(&mut attrs, NFTA_SET_ELEM_LIST_ELEMENTS, |l| {
        nested(l, NFTA_LIST_ELEM, |e| {
            nested(e, NFTA_SET_ELEM_KEY, |k| {
                attr(k, NFTA_DATA_VALUE, &key(grant))
            });
            if op == Op::Add {
                attr(e, NFTA_SET_ELEM_TIMEOUT, &timeout_ms.to_be_bytes());
            }
        });
    });
    let (ty, flags) = match op {
        Op::Add => (NFT_MSG_NEWSETELEM, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK),
        Op::Delete => (NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK),
    };
    let mut out = Vec::with_capacity(160);
    message(
        &mut out,
        NFNL_MSG_BATCH_BEGIN,
        NLM_F_REQUEST,
        seq,
        0,
        NFNL_SUBSYS_NFTABLES,
        &[],
    );
    message(
        &mut out,
        (NFNL_SUBSYS_NFTABLES << 8) | ty,
        flags,
        seq + 1,
        NFPROTO_INET,
        0,
        &attrs,
    );
    message(
        &mut out,
        NFNL_MSG_BATCH_END,
        NLM_F_REQUEST,
        seq + 2,
        0,
        NFNL_SUBSYS_NFTABLES,
        &[],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::ProtectedPort;

    fn g(src: &str) -> FwGrant {
        FwGrant {
            source: src.parse().expect("ip"),
            port: ProtectedPort {
                proto: Proto::Tcp,
                port: 22,
            },
            ttl: Duration::from_secs(30),
        }
    }

    #[test]
    fn keys_are_register_aligned_concatenations() {
        assert_eq!(
            key(&g("198.18.0.2")),
            vec![198, 18, 0, 2, 6, 0, 0, 0, 0, 22, 0, 0]
        );
        assert_eq!(key(&g("fd00::2")).len(), 24);
    }

    #[test]
    fn batch_is_three_aligned_messages() {
        let b = batch(7, "postern", "grants4", &g("198.18.0.2"), Op::Add);
        let mut at = 0;
        let mut types = Vec::new();
        while at < b.len() {
            let len = u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
            assert_eq!(len % 4, 0);
            types.push(u16::from_ne_bytes([b[at + 4], b[at + 5]]));
            at += len;
        }
        assert_eq!(at, b.len());
        assert_eq!(types, vec![16, 0x0a0c, 17]);
        // The timeout is big-endian milliseconds.
        let ms = 30_000u64.to_be_bytes();
        assert!(b.windows(8).any(|w| w == ms));
    }

    #[test]
    fn delete_batch_carries_the_key_but_no_timeout() {
        let add = batch(7, "postern", "grants4", &g("198.18.0.2"), Op::Add);
        let del = batch(7, "postern", "grants4", &g("198.18.0.2"), Op::Delete);
        // Same messages, minus the 12-byte timeout attribute.
        assert_eq!(add.len(), del.len() + 12);
        assert_eq!(u16::from_ne_bytes([del[24], del[25]]), 0x0a0e);
        let key = key(&g("198.18.0.2"));
        assert!(del.windows(key.len()).any(|w| w == key.as_slice()));
        let ms = 30_000u64.to_be_bytes();
        assert!(!del.windows(8).any(|w| w == ms));
    }
}
