//! Windows: WinDivert capture ([`capture`]), Windows Firewall rules over
//! COM ([`firewall`], driven by the pure plans of
//! `firewall::winfw_plan`), stop and reload from the service control
//! manager, Ctrl-C or the reload event ([`control`]), the service itself
//! ([`service`]), and Administrators + SYSTEM only ACLs on everything
//! written under `%ProgramData%\Postern` ([`acl`], [`paths`]).
//!
//! Only API calls live here; every decision is in pure modules tested on
//! Linux (`capture::windivert_filter`, `firewall::winfw*`,
//! `platform::windows_errors`, `platform::windows_service_spec`).

pub mod acl;
mod capture;
mod control;
pub mod eventlog;
pub mod firewall;
pub mod paths;
pub mod service;

use super::{Control, Platform};
use crate::capture::{FilterSpec, PacketSource};
use crate::config::ServerSection;
use crate::firewall::Firewall;
use crate::firewall::winfw::WinFirewall;
use anyhow::{Context, Result};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// The Windows platform. See the module documentation.
#[derive(Debug)]
pub struct Windows;

/// Unix ms now: the deadline clock of grant rules.
fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Windows Firewall over COM behind the `Firewall` trait.
pub fn open_winfw() -> Result<WinFirewall<firewall::ComRules>> {
    Ok(WinFirewall::new(
        firewall::ComRules::open()?,
        Box::new(unix_now_ms),
    ))
}

/// Removes every rule of Postern's group, before anything else at start:
/// the stale rules of a crashed or killed run go even if the capture
/// cannot be opened afterwards.
pub fn sweep_stale() -> Result<usize> {
    let mut fw = open_winfw()?;
    Ok(fw.sweep().context("removing stale Postern rules")?)
}

impl Platform for Windows {
    fn open_firewall(&self, _server: &ServerSection) -> Result<Box<dyn Firewall + Send>> {
        Ok(Box::new(open_winfw().context("opening Windows Firewall")?))
    }

    fn open_capture(
        &self,
        interface: &str,
        spec: &FilterSpec,
    ) -> Result<Box<dyn PacketSource + Send>> {
        Ok(Box::new(capture::Divert::open(interface, spec)?))
    }

    fn control(&self) -> Result<mpsc::Receiver<Control>> {
        control::listen()
    }

    fn request_reload(&self, pid: u32) -> Result<()> {
        control::request_reload(pid)
    }
}
