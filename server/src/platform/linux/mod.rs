//! Linux: `AF_PACKET` capture with a classic-BPF knock filter
//! ([`capture`]), nftables ([`nftables`]) or iptables + ipset
//! ([`iptables`]) for the grants, and POSIX signals for stop and reload.
//!
//! The firewall tools are driven as processes ([`process`]); the one
//! message on the hot path, adding a grant, goes over netlink
//! ([`netlink`]) when it can.

pub mod capture;
pub mod iptables;
mod netlink;
pub mod nftables;
mod process;

use super::{Control, Platform};
use crate::capture::{FilterSpec, PacketSource};
use crate::config::{Backend, ServerSection};
use crate::firewall::{Firewall, FirewallError};
use anyhow::{Context, Result, bail};
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// The Linux platform. See the module documentation.
#[derive(Debug)]
pub struct Linux;

impl Platform for Linux {
    fn open_firewall(&self, server: &ServerSection) -> Result<Box<dyn Firewall + Send>> {
        open_firewall(server.backend, &server.table, server.grant_set_size)
            .context("opening the firewall backend")
    }

    fn open_capture(
        &self,
        interface: &str,
        spec: &FilterSpec,
    ) -> Result<Box<dyn PacketSource + Send>> {
        let cap = capture::Capture::open(interface, spec)
            .with_context(|| format!("capturing on interface {interface}"))?;
        Ok(Box::new(cap))
    }

    /// SIGINT and SIGTERM stop, SIGHUP reloads. Once registered, SIGHUP no
    /// longer terminates the process (its default action).
    fn control(&self) -> Result<mpsc::Receiver<Control>> {
        let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut hup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let what = tokio::select! {
                    _ = int.recv() => Control::Stop,
                    _ = term.recv() => Control::Stop,
                    _ = hup.recv() => Control::Reload,
                };
                if tx.send(what).await.is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }

    /// SIGHUP to `pid`, after checking that it is a `posternd`: a stale pid
    /// file must not make us signal an unrelated process that reused the
    /// number.
    fn request_reload(&self, pid: u32) -> Result<()> {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .with_context(|| format!("no process {pid} (is posternd running?)"))?;
        if comm.trim() != "posternd" {
            bail!(
                "process {pid} is {:?}, not posternd (stale pid file?)",
                comm.trim()
            );
        }
        let pid = libc::pid_t::try_from(pid).context("pid out of range")?;
        // SAFETY: kill(2) takes two integers and touches no memory of ours.
        if unsafe { libc::kill(pid, libc::SIGHUP) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("sending SIGHUP to posternd (pid {pid})"));
        }
        Ok(())
    }
}

/// The adapter for `backend`. `table_name` names everything Postern
/// creates, so tests (and a second instance) never touch the production
/// objects. `set_size` bounds each grant set (see
/// [`DEFAULT_SET_SIZE`](crate::firewall::DEFAULT_SET_SIZE)). Nothing is
/// changed in the kernel until [`Firewall::install`].
pub fn open_firewall(
    backend: Backend,
    table_name: &str,
    set_size: u32,
) -> Result<Box<dyn Firewall + Send>, FirewallError> {
    let use_nft = match backend {
        Backend::Nftables => true,
        Backend::Iptables => false,
        Backend::Auto => nftables::available(),
    };
    if use_nft {
        Ok(Box::new(nftables::Nftables::new(table_name, set_size)?))
    } else {
        Ok(Box::new(iptables::Iptables::new(table_name, set_size)?))
    }
}

/// Names end up in nft scripts, iptables chain names (max 28 bytes) and ipset
/// names (max 31 bytes, plus our `-6` suffix), so only a short identifier
/// that needs no quoting anywhere is accepted.
pub(crate) fn validate_name(backend: &'static str, name: &str) -> Result<(), FirewallError> {
    let ok = !name.is_empty()
        && name.len() <= 24
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(FirewallError::Backend {
            backend,
            what: format!(
                "invalid table name {name:?}: use 1-24 ASCII letters, digits or '_', starting with a letter"
            ),
        })
    }
}

/// Grants are kept in whole seconds by ipset and shown in seconds by nft; a
/// sub-second ttl would silently become "no timeout" or 0, so round up.
pub(crate) fn ttl_secs(ttl: Duration) -> u64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    secs.max(1)
}
