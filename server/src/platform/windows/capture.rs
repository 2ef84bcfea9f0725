//! WinDivert capture: one handle per interface at the network layer, in
//! sniff + receive-only mode (packets are copied to us and continue
//! unchanged; nothing is ever injected), with the filter string built by
//! `capture::windivert_filter` from the same spec as the Linux BPF program.
//! Frames are raw IP ([`LinkType::RawIp`]), which the common parser takes.
//!
//! `WinDivertRecv` blocks until a packet arrives, while the daemon's
//! capture thread must get control back within a short, bounded time
//! ([`PacketSource`]). So a reader thread owns the blocking receive and
//! hands packets over a bounded channel; dropping the capture calls
//! `WinDivertShutdown`, which makes a blocked receive return, and the
//! reader closes the handle.

use crate::capture::windivert_filter;
use crate::capture::{FilterSpec, LinkType, PacketSource};
use crate::platform::windows_errors::{self, Op};
use anyhow::{Context, Result, anyhow, bail};
use std::ffi::CString;
use std::io;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;
use windivert_sys::{
    WinDivertClose, WinDivertFlags, WinDivertLayer, WinDivertOpen, WinDivertRecv,
    WinDivertShutdown, WinDivertShutdownMode,
};
use windows::Win32::NetworkManagement::IpHelper::{
    ConvertInterfaceAliasToLuid, ConvertInterfaceLuidToIndex,
};
use windows::Win32::NetworkManagement::Ndis::NET_LUID_LH;
use windows::core::PCWSTR;

/// Longest packet copied (as the Linux snap length).
const SNAP: usize = 1600;
/// Packets queued between the reader and the capture thread.
const QUEUE: usize = 4096;
const POLL: Duration = Duration::from_millis(50);

/// WinDivert's handle, as a plain value the reader thread can own.
#[derive(Clone, Copy)]
struct Handle(windows_048::Win32::Foundation::HANDLE);

// SAFETY: a WinDivert handle is a kernel object handle; WinDivert allows
// receiving on one thread while another calls WinDivertShutdown on it.
unsafe impl Send for Handle {}

pub struct Divert {
    name: String,
    frames: Receiver<Vec<u8>>,
    handle: Handle,
    reader: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Divert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Divert").field("name", &self.name).finish()
    }
}

/// `any` / `*`: every interface; a number: that interface index
/// (`Get-NetAdapter`'s ifIndex); otherwise an interface alias such as
/// `Ethernet`.
fn interface_index(interface: &str) -> Result<Option<u32>> {
    if interface == "any" || interface == "*" {
        return Ok(None);
    }
    if let Ok(n) = interface.parse::<u32>() {
        return Ok(Some(n));
    }
    let alias: Vec<u16> = interface.encode_utf16().chain(std::iter::once(0)).collect();
    let mut luid = NET_LUID_LH::default();
    let mut index = 0u32;
    // SAFETY: NUL-terminated alias and out-pointers to locals.
    let err = unsafe { ConvertInterfaceAliasToLuid(PCWSTR(alias.as_ptr()), &mut luid) };
    if err.is_err() {
        bail!(
            "no network interface named {interface:?} (see `Get-NetAdapter`; \"any\" captures on all)"
        );
    }
    // SAFETY: as above.
    let err = unsafe { ConvertInterfaceLuidToIndex(&luid, &mut index) };
    if err.is_err() {
        bail!("interface {interface:?} has no index");
    }
    Ok(Some(index))
}

impl Divert {
    pub fn open(interface: &str, spec: &FilterSpec) -> Result<Divert> {
        let filter = windivert_filter::build(spec)?;
        let text = match interface_index(interface)? {
            Some(i) => format!("ifIdx == {i} and ({})", filter.as_str()),
            None => filter.as_str().to_owned(),
        };
        let c = CString::new(text).context("filter string")?;
        let flags = WinDivertFlags::new().set_sniff().set_recv_only();
        // SAFETY: `c` is a NUL-terminated string that outlives the call.
        let handle = unsafe { WinDivertOpen(c.as_ptr(), WinDivertLayer::Network, 0, flags) };
        if handle.is_invalid() {
            let e = io::Error::last_os_error();
            let code = e.raw_os_error().map_or(0, |c| c as u32);
            return Err(match windows_errors::explain(Op::Capture, code) {
                Some(advice) => anyhow!("{advice} (WinDivert: {e})"),
                None => anyhow!("opening WinDivert: {e}"),
            })
            .with_context(|| format!("capturing on interface {interface}"));
        }
        let handle = Handle(handle);
        let (tx, frames) = mpsc::sync_channel(QUEUE);
        let reader = std::thread::Builder::new()
            .name(format!("windivert {interface}"))
            .spawn(move || read(handle, tx))
            .context("starting the WinDivert reader")?;
        Ok(Divert {
            name: interface.to_owned(),
            frames,
            handle,
            reader: Some(reader),
        })
    }
}

/// Receives until WinDivert is shut down (or the capture dropped), then
/// closes the handle. A full queue drops the packet, as a full socket
/// buffer would.
fn read(handle: Handle, tx: SyncSender<Vec<u8>>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let mut n = 0u32;
        // SAFETY: `buf` is valid for its length; the address is optional.
        let ok = unsafe {
            WinDivertRecv(
                handle.0,
                buf.as_mut_ptr().cast(),
                buf.len() as u32,
                &mut n,
                std::ptr::null_mut(),
            )
        };
        if !ok.as_bool() {
            // ERROR_INSUFFICIENT_BUFFER cannot happen with 64 KiB; anything
            // else (ERROR_NO_DATA after shutdown) ends the reader.
            break;
        }
        let len = (n as usize).min(SNAP);
        match tx.try_send(buf[..len].to_vec()) {
            Ok(()) | Err(mpsc::TrySendError::Full(_)) => {}
            Err(mpsc::TrySendError::Disconnected(_)) => break,
        }
    }
    // SAFETY: the handle is closed once, here, after its last use.
    unsafe {
        let _ = WinDivertClose(handle.0);
    }
}

fn deliver(frame: Vec<u8>, buf: &mut [u8]) -> Option<(LinkType, usize)> {
    let n = frame.len().min(buf.len());
    buf[..n].copy_from_slice(&frame[..n]);
    Some((LinkType::RawIp, n))
}

impl PacketSource for Divert {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>> {
        match self.frames.recv_timeout(POLL) {
            Ok(f) => Ok(deliver(f, buf)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::other(format!(
                "WinDivert capture on {} ended",
                self.name
            ))),
        }
    }

    fn try_next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<(LinkType, usize)>> {
        match self.frames.try_recv() {
            Ok(f) => Ok(deliver(f, buf)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(io::Error::other(format!(
                "WinDivert capture on {} ended",
                self.name
            ))),
        }
    }
}

impl Drop for Divert {
    fn drop(&mut self) {
        // SAFETY: the handle is open until the reader closes it after this
        // shutdown makes its receive return.
        unsafe {
            let _ = WinDivertShutdown(self.handle.0, WinDivertShutdownMode::Both);
        }
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
