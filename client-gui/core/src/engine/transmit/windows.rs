//! The Windows send calls: ICMP echo requests through the ICMP helper API
//! (`IcmpSendEcho2`/`Icmp6SendEcho2`, no administrator rights), and the
//! SYN token's packet through WinDivert (administrator rights). What the
//! error codes mean and the buffer sizes are pure code in
//! `windows_logic.rs`, tested on Linux; this file is only the calls.
//!
//! WinDivert.dll is loaded when the first SYN token is sent, not linked:
//! most profiles never use a SYN token, and postern.exe must start (and
//! knock by UDP, TCP and ICMP) on a computer without WinDivert.dll.

use super::SendError;
use super::packets::{SynToken, ip_syn_packet};
use super::windows_logic::{
    DivertFailure, EchoOutcome, echo_outcome, echo_reply_buffer_len, echo_request_size,
};
use std::ffi::c_void;
use std::io;
use std::net::{IpAddr, SocketAddr};
use windivert_sys::address::WINDIVERT_ADDRESS;
use windivert_sys::{WinDivertFlags, WinDivertLayer};
use windows::Win32::Foundation::{CloseHandle, GetLastError, HANDLE, WAIT_OBJECT_0};
use windows::Win32::NetworkManagement::IpHelper::{
    ICMP_ECHO_REPLY, ICMPV6_ECHO_REPLY_LH, Icmp6CreateFile, Icmp6SendEcho2, IcmpCloseHandle,
    IcmpCreateFile, IcmpSendEcho2,
};
use windows::Win32::Networking::WinSock::{AF_INET6, IN6_ADDR, IN6_ADDR_0, SOCKADDR_IN6};
use windows::Win32::System::LibraryLoader::{GetProcAddress, LoadLibraryW};
use windows::Win32::System::Threading::{CreateEventW, WaitForSingleObject};
use windows::core::{s, w};

/// How long Windows waits for an echo reply. The knock does not need the
/// reply; this only bounds how long the sink waits, when it is dropped,
/// for requests still in flight before it frees their buffers.
const ECHO_TIMEOUT_MS: u32 = 1000;

/// One echo request in flight: Windows writes the reply into `reply` and
/// signals `event`, so both live until then.
#[derive(Debug)]
struct InFlight {
    event: HANDLE,
    request: Vec<u8>,
    reply: Vec<u8>,
}

/// Sends echo requests without waiting for their replies.
#[derive(Debug, Default)]
pub(super) struct IcmpSender {
    v4: Option<HANDLE>,
    v6: Option<HANDLE>,
    in_flight: Vec<InFlight>,
}

impl IcmpSender {
    pub(super) fn send(&mut self, dest: IpAddr, payload: &[u8]) -> Result<(), SendError> {
        let io = |cause| SendError::Io {
            what: "ICMP echo",
            dest: SocketAddr::new(dest, 0),
            cause,
        };
        let size = echo_request_size(payload.len()).ok_or_else(|| {
            io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("an echo payload of {} bytes is too large", payload.len()),
            ))
        })?;
        let handle = self.handle(dest.is_ipv6()).map_err(|e| io(e.into()))?;
        // SAFETY: plain call; the event is closed by `drop`.
        let event = unsafe { CreateEventW(None, true, false, None) }.map_err(|e| io(e.into()))?;
        let request = payload.to_vec();
        let mut flight = InFlight {
            event,
            request,
            reply: Vec::new(),
        };
        let replies = match dest {
            IpAddr::V4(a) => {
                flight.reply =
                    vec![0; echo_reply_buffer_len(size_of::<ICMP_ECHO_REPLY>(), payload.len())];
                // SAFETY: the request and reply buffers are owned by
                // `flight`, which is kept until the event is signalled
                // (see `Drop`); the sizes passed are theirs.
                unsafe {
                    IcmpSendEcho2(
                        handle,
                        Some(flight.event),
                        None,
                        None,
                        u32::from_ne_bytes(a.octets()),
                        flight.request.as_ptr().cast(),
                        size,
                        None,
                        flight.reply.as_mut_ptr().cast(),
                        flight.reply.len() as u32,
                        ECHO_TIMEOUT_MS,
                    )
                }
            }
            IpAddr::V6(a) => {
                flight.reply =
                    vec![
                        0;
                        echo_reply_buffer_len(size_of::<ICMPV6_ECHO_REPLY_LH>(), payload.len())
                    ];
                let source = SOCKADDR_IN6 {
                    sin6_family: AF_INET6,
                    ..Default::default()
                };
                let to = SOCKADDR_IN6 {
                    sin6_family: AF_INET6,
                    sin6_addr: IN6_ADDR {
                        u: IN6_ADDR_0 { Byte: a.octets() },
                    },
                    ..Default::default()
                };
                // SAFETY: as above; the addresses are read during the call.
                unsafe {
                    Icmp6SendEcho2(
                        handle,
                        Some(flight.event),
                        None,
                        None,
                        &source,
                        &to,
                        flight.request.as_ptr().cast(),
                        size,
                        None,
                        flight.reply.as_mut_ptr().cast(),
                        flight.reply.len() as u32,
                        ECHO_TIMEOUT_MS,
                    )
                }
            }
        };
        // SAFETY: plain call, right after the one that set it.
        let last = unsafe { GetLastError() }.0;
        match echo_outcome(replies, last) {
            EchoOutcome::InFlight => {
                self.in_flight.push(flight);
                Ok(())
            }
            outcome => {
                // Nothing pending on this request any more.
                // SAFETY: the event is ours and no longer used.
                let _ = unsafe { CloseHandle(flight.event) };
                match outcome {
                    EchoOutcome::Failed(code) => Err(io(io::Error::from_raw_os_error(code as i32))),
                    _ => Ok(()),
                }
            }
        }
    }

    fn handle(&mut self, v6: bool) -> windows::core::Result<HANDLE> {
        let slot = if v6 { &mut self.v6 } else { &mut self.v4 };
        if let Some(h) = slot {
            return Ok(*h);
        }
        // SAFETY: plain calls; the handle is closed by `drop`.
        let h = unsafe {
            if v6 {
                Icmp6CreateFile()?
            } else {
                IcmpCreateFile()?
            }
        };
        *slot = Some(h);
        Ok(h)
    }
}

impl Drop for IcmpSender {
    fn drop(&mut self) {
        for f in self.in_flight.drain(..) {
            // SAFETY: the event is ours. Windows signals it at the latest
            // when the request times out; a margin on top of that.
            let done = unsafe { WaitForSingleObject(f.event, ECHO_TIMEOUT_MS + 1000) };
            if done == WAIT_OBJECT_0 {
                // SAFETY: signalled: Windows no longer writes the buffers.
                let _ = unsafe { CloseHandle(f.event) };
            } else {
                // Windows may still write into the reply: leak it rather
                // than free memory that is in use.
                std::mem::forget(f);
            }
        }
        for h in [self.v4.take(), self.v6.take()].into_iter().flatten() {
            // SAFETY: the handle is ours and nothing is pending on it.
            let _ = unsafe { IcmpCloseHandle(h) };
        }
    }
}

type DivertOpen = unsafe extern "C" fn(*const i8, WinDivertLayer, i16, WinDivertFlags) -> HANDLE;
type DivertSend =
    unsafe extern "C" fn(HANDLE, *const c_void, u32, *mut u32, *const WINDIVERT_ADDRESS) -> i32;
type DivertClose = unsafe extern "C" fn(HANDLE) -> i32;

/// A send-only WinDivert handle with the functions it needs.
#[derive(Debug)]
struct Divert {
    handle: HANDLE,
    send: DivertSend,
    close: DivertClose,
}

impl Divert {
    fn open() -> Result<Self, DivertFailure> {
        let last = || unsafe { GetLastError() }.0 as i32;
        // SAFETY: loads a DLL by name (searched next to postern.exe first);
        // it stays loaded for the life of the process.
        let lib = unsafe { LoadLibraryW(w!("WinDivert.dll")) }
            .map_err(|e| DivertFailure::NoLibrary(e.code().0 & 0xffff))?;
        // SAFETY: the names are WinDivert 2.x's exports, and the types
        // below are their C signatures (windivert-sys's declarations).
        let (open, send, close) = unsafe {
            let open = GetProcAddress(lib, s!("WinDivertOpen"));
            let send = GetProcAddress(lib, s!("WinDivertSend"));
            let close = GetProcAddress(lib, s!("WinDivertClose"));
            match (open, send, close) {
                (Some(o), Some(s), Some(c)) => (
                    std::mem::transmute::<_, DivertOpen>(o),
                    std::mem::transmute::<_, DivertSend>(s),
                    std::mem::transmute::<_, DivertClose>(c),
                ),
                _ => return Err(DivertFailure::NoLibrary(last())),
            }
        };
        // A send-only handle: the filter matches nothing, nothing is
        // diverted away from the network stack.
        let flags = WinDivertFlags::new().set_send_only();
        // SAFETY: a NUL-terminated filter and plain values.
        let handle = unsafe { open(c"false".as_ptr(), WinDivertLayer::Network, 0, flags) };
        if handle.is_invalid() || handle.0.is_null() {
            return Err(DivertFailure::from_open_error(last()));
        }
        Ok(Divert {
            handle,
            send,
            close,
        })
    }
}

impl Drop for Divert {
    fn drop(&mut self) {
        // SAFETY: our handle, closed once.
        unsafe { (self.close)(self.handle) };
    }
}

/// Sends SYN tokens through WinDivert; the handle is opened on first use.
#[derive(Debug, Default)]
pub(super) struct SynSender {
    divert: Option<Divert>,
}

impl SynSender {
    pub(super) fn send(&mut self, token: &SynToken) -> Result<(), SendError> {
        let to = SocketAddr::new(token.dst, token.dst_port);
        let io = |cause| SendError::Io {
            what: "raw TCP SYN",
            dest: to,
            cause,
        };
        let packet =
            ip_syn_packet(token, rand::random::<u16>()).map_err(|e| io(io::Error::other(e)))?;
        let divert = match &mut self.divert {
            Some(d) => d,
            none => none.insert(Divert::open().map_err(SendError::Divert)?),
        };
        let mut addr = WINDIVERT_ADDRESS::default();
        // Outbound: WinDivert routes it like a packet of this computer
        // (the interface index is ignored for outbound packets). The
        // checksums are already valid.
        addr.set_outbound(true);
        addr.set_ipv6(token.dst.is_ipv6());
        addr.set_ipchecksum(true);
        addr.set_tcpchecksum(true);
        let mut sent = 0u32;
        // SAFETY: the packet buffer and the address outlive the call.
        let ok = unsafe {
            (divert.send)(
                divert.handle,
                packet.as_ptr().cast(),
                packet.len() as u32,
                &mut sent,
                &addr,
            )
        };
        if ok == 0 {
            return Err(io(io::Error::last_os_error()));
        }
        Ok(())
    }
}
