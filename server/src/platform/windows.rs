//! Windows: the explicit platform stub that the Windows server issue (#15)
//! fills in — WinDivert capture, Windows Firewall rules (which have no
//! timers: grants are closed by the core's revokes), and service control
//! events for stop and reload.
//!
//! Until then every method fails with one clear message, so `posternd run`
//! on Windows says what is missing instead of half-starting, while the
//! commands that need no OS services (`check`, `init`, `user add`,
//! `import-knockd`) work as everywhere.

use super::{Control, Platform};
use crate::capture::{FilterSpec, PacketSource};
use crate::config::ServerSection;
use crate::firewall::Firewall;
use anyhow::{Result, bail};
use tokio::sync::mpsc;

const NOT_YET: &str = "the Windows server (WinDivert capture, Windows Firewall, service control) is not supported yet in this build";

#[derive(Debug)]
pub struct Windows;

impl Platform for Windows {
    fn open_firewall(&self, _server: &ServerSection) -> Result<Box<dyn Firewall + Send>> {
        bail!(NOT_YET)
    }

    fn open_capture(
        &self,
        _interface: &str,
        _spec: &FilterSpec,
    ) -> Result<Box<dyn PacketSource + Send>> {
        bail!(NOT_YET)
    }

    fn control(&self) -> Result<mpsc::Receiver<Control>> {
        bail!(NOT_YET)
    }

    fn request_reload(&self, _pid: u32) -> Result<()> {
        bail!(NOT_YET)
    }
}
