//! Operating systems posternd does not run on (macOS, the BSDs): the
//! library and the offline commands (`check`, `init`, `user add`,
//! `import-knockd`) build and work there, the daemon says it cannot.

use super::{Control, Platform};
use crate::capture::{FilterSpec, PacketSource};
use crate::config::ServerSection;
use crate::firewall::Firewall;
use anyhow::{Result, bail};
use tokio::sync::mpsc;

const UNSUPPORTED: &str =
    "posternd runs on Linux and Windows; this OS has no capture or firewall adapter";

#[derive(Debug)]
pub struct Unsupported;

impl Platform for Unsupported {
    fn open_firewall(&self, _server: &ServerSection) -> Result<Box<dyn Firewall + Send>> {
        bail!(UNSUPPORTED)
    }

    fn open_capture(
        &self,
        _interface: &str,
        _spec: &FilterSpec,
    ) -> Result<Box<dyn PacketSource + Send>> {
        bail!(UNSUPPORTED)
    }

    fn control(&self) -> Result<mpsc::Receiver<Control>> {
        bail!(UNSUPPORTED)
    }

    fn request_reload(&self, _pid: u32) -> Result<()> {
        bail!(UNSUPPORTED)
    }
}
