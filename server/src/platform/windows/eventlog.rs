//! The few lines the Windows event log gets (Application log, source
//! `posternd`): service started, stopped, and why it failed. Everything
//! else goes to `%ProgramData%\Postern\posternd.log`. No message DLL is
//! registered, so Event Viewer prefixes the text with a note that the
//! description was not found; the text itself is complete.

use windows::Win32::System::EventLog::{
    DeregisterEventSource, EVENTLOG_ERROR_TYPE, EVENTLOG_INFORMATION_TYPE, REPORT_EVENT_TYPE,
    RegisterEventSourceW, ReportEventW,
};
use windows::core::{PCWSTR, w};

fn report(kind: REPORT_EVENT_TYPE, id: u32, text: &str) {
    let wide: Vec<u16> = text.encode_utf16().chain(std::iter::once(0)).collect();
    // SAFETY: NUL-terminated strings valid for the calls; the source
    // handle is deregistered once. Failures are ignored: logging must not
    // stop the service.
    unsafe {
        let Ok(h) = RegisterEventSourceW(None, w!("posternd")) else {
            return;
        };
        let strings = [PCWSTR(wide.as_ptr())];
        let _ = ReportEventW(h, kind, 0, id, None, 0, Some(&strings), None);
        let _ = DeregisterEventSource(h);
    }
}

pub fn info(text: &str) {
    report(EVENTLOG_INFORMATION_TYPE, 1, text);
}

pub fn error(text: &str) {
    report(EVENTLOG_ERROR_TYPE, 2, text);
}
