//! Stop and reload requests on Windows: from the service control manager
//! (stop, shutdown, pre-shutdown, "parameters changed"; see
//! [`scm_request`]), from Ctrl-C in a console, and from `posternd reload`
//! through the named event `Global\posternd-reload-<pid>` (see
//! `platform::windows_service_spec` for why an event).

use super::acl::Descriptor;
use crate::platform::Control;
use crate::platform::windows_service_spec::{
    EVENT_SDDL, ScmRequest, control_for, reload_event_name,
};
use anyhow::{Context, Result, anyhow};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;
use windows::Win32::Foundation::{CloseHandle, HANDLE, WAIT_OBJECT_0};
use windows::Win32::Security::SECURITY_ATTRIBUTES;
use windows::Win32::System::Threading::{
    CreateEventW, EVENT_MODIFY_STATE, INFINITE, OpenEventW, SetEvent, WaitForSingleObject,
};
use windows::core::PCWSTR;

/// Where SCM requests go once the daemon listens.
static SCM: Mutex<Option<mpsc::Sender<Control>>> = Mutex::new(None);
/// A stop the SCM asked for before the daemon listened.
static STOP_EARLY: AtomicBool = AtomicBool::new(false);

/// Called by the service control handler (another thread).
pub fn scm_request(req: ScmRequest) {
    let Some(what) = control_for(req) else { return };
    let tx = SCM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match tx.as_ref() {
        Some(tx) => {
            let _ = tx.try_send(what);
        }
        None if what == Control::Stop => STOP_EARLY.store(true, Ordering::SeqCst),
        None => {}
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

struct Event(HANDLE);
// SAFETY: an event handle may be waited on from any thread.
unsafe impl Send for Event {}

pub fn listen() -> Result<mpsc::Receiver<Control>> {
    let (tx, rx) = mpsc::channel(4);
    if STOP_EARLY.load(Ordering::SeqCst) {
        let _ = tx.try_send(Control::Stop);
    }
    *SCM.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tx.clone());

    // Ctrl-C in a console.
    let ctrl_c = tx.clone();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            if ctrl_c.send(Control::Stop).await.is_err() {
                break;
            }
        }
    });

    // The reload event, Administrators and SYSTEM only.
    let sd = Descriptor::from_sddl(EVENT_SDDL)?;
    let attrs = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: sd.as_ptr().0,
        bInheritHandle: false.into(),
    };
    let name = wide(&reload_event_name(std::process::id()));
    // SAFETY: NUL-terminated name and attributes valid for the call.
    let event = unsafe { CreateEventW(Some(&attrs), false, false, PCWSTR(name.as_ptr())) }
        .context("creating the reload event")?;
    let event = Event(event);
    std::thread::Builder::new()
        .name("reload event".into())
        .spawn(move || {
            let event = event;
            loop {
                // SAFETY: the handle stays open for the process's life.
                let r = unsafe { WaitForSingleObject(event.0, INFINITE) };
                if r != WAIT_OBJECT_0 || tx.blocking_send(Control::Reload).is_err() {
                    break;
                }
            }
        })
        .context("starting the reload listener")?;
    Ok(rx)
}

/// `posternd reload`: sets the reload event of the daemon with `pid`.
pub fn request_reload(pid: u32) -> Result<()> {
    let name = wide(&reload_event_name(pid));
    // SAFETY: NUL-terminated name.
    let event = unsafe { OpenEventW(EVENT_MODIFY_STATE, false, PCWSTR(name.as_ptr())) }
        .map_err(|e| {
            anyhow!("no posternd with process id {pid} is listening for reloads (stale pid file, or not elevated?): {e}")
        })?;
    // SAFETY: a valid event handle, closed once below.
    let set = unsafe { SetEvent(event) };
    unsafe {
        let _ = CloseHandle(event);
    }
    set.context("signalling the reload event")
}
