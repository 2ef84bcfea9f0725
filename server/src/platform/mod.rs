//! The OS boundary: everything the daemon needs from the operating system,
//! behind one trait, and the one `cfg` switch that picks the implementation.
//!
//! The daemon core (`daemon`, `matcher`, `config`, the pure parts of
//! `capture` and `firewall`) names no OS type. What differs per OS is
//! here:
//!
//! - how frames are captured (Linux: `AF_PACKET` + classic BPF; Windows:
//!   WinDivert),
//! - which packet filter holds the grants (Linux: nftables or iptables +
//!   ipset, chosen by `[server] backend`; Windows: Windows Firewall),
//! - how the daemon is asked to stop or reload (Linux: SIGINT / SIGTERM /
//!   SIGHUP; Windows: service control events) and how `posternd reload`
//!   reaches a running daemon.
//!
//! Tests implement [`Platform`] with a replayed or channel-fed packet
//! source and the fake firewall, and drive the real daemon loop with it.

use crate::capture::{FilterSpec, PacketSource};
use crate::config::ServerSection;
use crate::firewall::Firewall;
use anyhow::Result;
use tokio::sync::mpsc;

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "linux")]
use linux::Linux as Native;

#[cfg(windows)]
pub mod windows;
pub mod windows_errors;
pub mod windows_service_spec;
#[cfg(windows)]
use windows::Windows as Native;

#[cfg(not(any(target_os = "linux", windows)))]
mod unsupported;
#[cfg(not(any(target_os = "linux", windows)))]
use unsupported::Unsupported as Native;

/// What the OS asks of the running daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop: revoke grants, keep the ports protected (fail-closed).
    Stop,
    /// Re-read the config file and apply it without dropping live grants
    /// the new config still allows.
    Reload,
}

/// The OS services the daemon uses. See the module documentation.
pub trait Platform: Send + Sync {
    /// The packet filter `server` asks for (`backend`, `table`). Nothing is
    /// changed in it until [`Firewall::install`].
    fn open_firewall(&self, server: &ServerSection) -> Result<Box<dyn Firewall + Send>>;

    /// A capture on `interface` that only delivers the knock candidates of
    /// `spec`. Its `next_frame` must return within a short, bounded time
    /// (see [`PacketSource`]).
    fn open_capture(
        &self,
        interface: &str,
        spec: &FilterSpec,
    ) -> Result<Box<dyn PacketSource + Send>>;

    /// Starts listening for stop and reload requests. Called once, inside
    /// the daemon's tokio runtime, before the daemon announces itself, so a
    /// request sent right after start-up is never lost or fatal.
    fn control(&self) -> Result<mpsc::Receiver<Control>>;

    /// Asks the daemon with process id `pid` to reload its config
    /// (`posternd reload`). Fails if `pid` is not a running `posternd`.
    fn request_reload(&self, pid: u32) -> Result<()>;
}

/// This OS's implementation.
pub fn native() -> &'static dyn Platform {
    static NATIVE: Native = Native;
    &NATIVE
}
