//! Windows error codes an administrator can act on, turned into one line
//! that says what to do. Pure (codes in, text out), so it is tested on
//! Linux; `platform::windows` calls it where WinDivert, Windows Firewall
//! (COM) or the service control manager fail.

/// What was being done when the error came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `WinDivertOpen` (the capture).
    Capture,
    /// `INetFwPolicy2` over COM (the firewall).
    Firewall,
    /// The service control manager (`posternd service ...`).
    Service,
}

/// The Win32 error inside `code`: an `HRESULT_FROM_WIN32` value
/// (`0x8007xxxx`, what COM returns) or a plain Win32 error.
pub fn win32_code(code: u32) -> u32 {
    if code & 0xffff_0000 == 0x8007_0000 {
        code & 0xffff
    } else {
        code
    }
}

const NOT_ELEVATED: &str = "posternd needs administrator rights: run it from an elevated prompt \
     (\"Run as administrator\") or as the posternd service";
const BFE_STOPPED: &str = "the Base Filtering Engine or Windows Defender Firewall service is not \
     running: start them (`sc config BFE start= auto`, `net start BFE`, `net start MpsSvc`) and retry";

/// One line for an error an administrator can fix, or `None` for codes
/// that have no specific advice (the caller shows the system's text).
pub fn explain(op: Op, code: u32) -> Option<String> {
    let code = win32_code(code);
    let text = match (op, code) {
        (_, 5) => NOT_ELEVATED,
        (Op::Capture, 2 | 3) => {
            "the WinDivert driver is missing: put WinDivert64.sys (signed, WinDivert 2.2) and \
             WinDivert.dll next to posternd.exe"
        }
        // ERROR_DLL_INIT_FAILED: WinDivert.dll could not start the driver
        // (what a missing WinDivert64.sys gives under wine, and a driver
        // that fails to load gives on Windows).
        (Op::Capture, 1114) => {
            "the WinDivert driver could not be loaded: put WinDivert64.sys (signed, WinDivert \
             2.2) next to posternd.exe; a VM, sandbox or wine without kernel drivers cannot load it"
        }
        // ERROR_SERVICE_REQUEST_TIMEOUT: the driver's service did not start
        // in time (a driver that hangs while loading; under wine, its first
        // start in a fresh prefix).
        (Op::Capture, 1053) => {
            "the WinDivert driver did not start in time: retry; if it keeps happening, reboot \
             and check that security software allows WinDivert64.sys (a VM, sandbox or wine \
             without kernel drivers cannot start it)"
        }
        // ERROR_SERVICE_DATABASE_LOCKED: installing the driver's service
        // met the service manager busy with another installation (an
        // update at boot; under wine, a prefix still being set up).
        (Op::Capture, 1055) => {
            "the Windows service manager was busy installing something else, so the WinDivert \
             driver could not be set up: retry in a minute (the service's recovery does)"
        }
        (Op::Capture, 577) => {
            "the WinDivert driver's signature is not accepted: use the signed WinDivert64.sys \
             of the official WinDivert 2.2 release"
        }
        (Op::Capture, 654) => {
            "another version of the WinDivert driver is loaded: stop the program using it \
             (or `sc stop WinDivert`) or reboot, then retry"
        }
        (Op::Capture, 1060) => {
            "the WinDivert driver is not installed: run posternd once as administrator so it \
             can install it"
        }
        (Op::Capture, 1257 | 1275) => {
            "Windows or security software blocked the WinDivert driver from loading (also the \
             case in a VM or sandbox without driver support): allow WinDivert64.sys there"
        }
        (Op::Capture, 87) => {
            "WinDivert refused the knock filter: use fewer, or contiguous, knock ports"
        }
        (_, 1753 | 1722 | 1068 | 1058 | 1062) if op != Op::Service => BFE_STOPPED,
        (Op::Firewall, 0x6d9 | 0x6ba | 0x422 | 0x42c) => BFE_STOPPED,
        (Op::Capture, 0x422) => BFE_STOPPED,
        (Op::Service, 1073) => {
            "the posternd service is already installed: `posternd service uninstall` first to \
             change it"
        }
        (Op::Service, 1060) => "the posternd service is not installed: `posternd service install`",
        (Op::Service, 1072) => {
            "the posternd service is marked for deletion: close the Services console and Event \
             Viewer (or reboot), then retry"
        }
        (Op::Service, 1063) => {
            "`posternd run --service` is started by the service control manager: use \
             `posternd service start`, or `posternd run` in a console"
        }
        (Op::Service, 1056) => "the posternd service is already running",
        (Op::Service, 1062) => "the posternd service is not running",
        _ => return None,
    };
    Some(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actionable_codes_become_one_line_each() {
        let cases: [(Op, u32, &str); 15] = [
            (Op::Capture, 2, "WinDivert driver is missing"),
            (Op::Capture, 1114, "WinDivert driver could not be loaded"),
            (Op::Capture, 1053, "WinDivert driver did not start in time"),
            (Op::Capture, 1055, "service manager was busy"),
            (Op::Capture, 5, "needs administrator rights"),
            (Op::Firewall, 0x8007_0005, "needs administrator rights"),
            (Op::Service, 5, "needs administrator rights"),
            (Op::Capture, 1753, "Base Filtering Engine"),
            (Op::Firewall, 0x8007_06d9, "Base Filtering Engine"),
            (Op::Firewall, 0x8007_0422, "Base Filtering Engine"),
            (Op::Capture, 577, "signature"),
            (Op::Capture, 1257, "blocked the WinDivert driver"),
            (Op::Service, 1073, "already installed"),
            (Op::Service, 1060, "not installed"),
            (Op::Service, 1063, "started by the service control manager"),
        ];
        for (op, code, want) in cases {
            let line = explain(op, code).unwrap_or_else(|| panic!("{op:?} {code:#x}"));
            assert!(line.contains(want), "{op:?} {code:#x}: {line}");
            assert!(!line.contains('\n'), "one line: {line}");
        }
    }

    #[test]
    fn the_same_code_means_different_things_per_operation() {
        // 1060: a missing WinDivert service vs. a missing posternd service.
        assert!(explain(Op::Capture, 1060).is_some_and(|l| l.contains("WinDivert")));
        assert!(explain(Op::Service, 1060).is_some_and(|l| l.contains("posternd service")));
        // 1062 from the SCM is our service not running, not BFE.
        assert!(explain(Op::Service, 1062).is_some_and(|l| l.contains("not running")));
    }

    #[test]
    fn codes_without_advice_are_left_to_the_system_text() {
        assert_eq!(explain(Op::Capture, 8), None);
        assert_eq!(explain(Op::Firewall, 0x8000_4005), None);
        assert_eq!(win32_code(0x8007_0005), 5);
        assert_eq!(win32_code(0x8000_4005), 0x8000_4005);
    }
}
