//! The pure half of the Windows transmitter: what a WinDivert or ICMP
//! helper error code means for the user, and how big the ICMP helper's
//! buffers must be. Compiled on every platform so it is tested on Linux
//! (no Windows machine runs the tests); `windows.rs` is the thin layer of
//! API calls around it.

#![cfg_attr(not(windows), allow(dead_code))]

use std::fmt;

/// Why WinDivert could not be opened for a SYN-token knock, from the
/// Windows error code of `WinDivertOpen` (or of loading WinDivert.dll).
/// Each has a sentence that says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivertFailure {
    /// WinDivert.dll is not next to postern.exe (or not loadable).
    NoLibrary(i32),
    /// ERROR_ACCESS_DENIED: not running elevated.
    NotElevated,
    /// ERROR_FILE_NOT_FOUND: WinDivert64.sys is missing.
    DriverMissing,
    /// ERROR_INVALID_IMAGE_HASH: the driver's signature is not accepted.
    DriverUnsigned,
    /// ERROR_DRIVER_FAILED_PRIOR_UNLOAD: another WinDivert version is loaded.
    OtherVersionLoaded,
    /// ERROR_DRIVER_BLOCKED: security software or a VM blocks drivers.
    DriverBlocked,
    /// EPT_S_NOT_REGISTERED: the Base Filtering Engine service is stopped.
    FilteringEngineStopped,
    /// Anything else, with its Windows error code.
    Other(i32),
}

impl DivertFailure {
    /// The meaning of `WinDivertOpen`'s error code (WinDivert 2.2 docs).
    pub fn from_open_error(code: i32) -> Self {
        match code {
            5 => DivertFailure::NotElevated,
            2 => DivertFailure::DriverMissing,
            577 => DivertFailure::DriverUnsigned,
            654 => DivertFailure::OtherVersionLoaded,
            1257 => DivertFailure::DriverBlocked,
            1753 => DivertFailure::FilteringEngineStopped,
            c => DivertFailure::Other(c),
        }
    }
}

impl fmt::Display for DivertFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DivertFailure::NoLibrary(code) => write!(
                f,
                "SYN-token knocks need WinDivert.dll next to postern.exe, and it could not be \
                 loaded (Windows error {code}); reinstall Postern, or ask your administrator for \
                 a profile with another knock method"
            ),
            DivertFailure::NotElevated => f.write_str(
                "SYN-token knocks need Postern to run as administrator on Windows (they send a \
                 hand-made TCP packet through the WinDivert driver). Right-click Postern and \
                 choose \"Run as administrator\", or ask your administrator for a profile with \
                 another knock method",
            ),
            DivertFailure::DriverMissing => f.write_str(
                "SYN-token knocks need the WinDivert driver, and WinDivert64.sys is not next to \
                 postern.exe; reinstall Postern (the installer puts it there)",
            ),
            DivertFailure::DriverUnsigned => f.write_str(
                "Windows refused the WinDivert driver because of its signature; reinstall \
                 Postern, or allow signed third-party drivers (Secure Boot policy)",
            ),
            DivertFailure::OtherVersionLoaded => f.write_str(
                "another program has a different version of the WinDivert driver loaded; close \
                 that program (or restart Windows) and knock again",
            ),
            DivertFailure::DriverBlocked => f.write_str(
                "the WinDivert driver was blocked, by security software or by a virtual machine \
                 that does not allow drivers; allow it there, or ask your administrator for a \
                 profile with another knock method",
            ),
            DivertFailure::FilteringEngineStopped => f.write_str(
                "the Base Filtering Engine service is stopped, and WinDivert needs it; start it \
                 (`sc start BFE` in an administrator prompt) and knock again",
            ),
            DivertFailure::Other(code) => write!(
                f,
                "the WinDivert driver could not be opened (Windows error {code}); SYN-token \
                 knocks need it, running as administrator"
            ),
        }
    }
}

/// What one call of `IcmpSendEcho2`/`Icmp6SendEcho2` means for the knock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoOutcome {
    /// Sent, the answer is still to come (an event was given).
    InFlight,
    /// Sent, and answered or timed out: done either way.
    Done,
    /// Not sent; the Windows error code.
    Failed(u32),
}

const ERROR_IO_PENDING: u32 = 997;
/// IP_REQ_TIMED_OUT: the request left, no answer came (a knock port that
/// drops echo requests does exactly this).
const IP_REQ_TIMED_OUT: u32 = 11010;

/// Reads the return value (number of replies) and `GetLastError()`.
pub fn echo_outcome(replies: u32, last_error: u32) -> EchoOutcome {
    match (replies, last_error) {
        (n, _) if n > 0 => EchoOutcome::Done,
        (_, ERROR_IO_PENDING) => EchoOutcome::InFlight,
        (_, IP_REQ_TIMED_OUT) => EchoOutcome::Done,
        (_, e) => EchoOutcome::Failed(e),
    }
}

/// The largest echo payload the ICMP helper takes: its size parameter is
/// 16 bits, and the packet (IPv4 header 20 + ICMP header 8 + payload)
/// must fit in an IPv4 datagram. The same bound is used for IPv6 so a
/// profile knocks the same over both.
pub const MAX_ECHO_PAYLOAD: usize = 65535 - 20 - 8;

/// The request size argument, or `None` when the payload cannot be sent.
pub fn echo_request_size(payload: usize) -> Option<u16> {
    if payload > MAX_ECHO_PAYLOAD {
        return None;
    }
    u16::try_from(payload).ok()
}

/// Size of the reply buffer: the API's documented minimum is one reply
/// structure (`reply_struct`, which differs between ICMPv4 and ICMPv6 and
/// between 32 and 64 bits) plus the echoed payload, plus 8 bytes for an
/// ICMP error message, plus an IO_STATUS_BLOCK (two pointers) for the
/// asynchronous form used here.
pub fn echo_reply_buffer_len(reply_struct: usize, payload: usize) -> usize {
    reply_struct + payload + 8 + 2 * std::mem::size_of::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_elevated_says_run_as_administrator() {
        let f = DivertFailure::from_open_error(5);
        assert_eq!(f, DivertFailure::NotElevated);
        let text = f.to_string();
        assert!(
            text.starts_with("SYN-token knocks need Postern to run as administrator on Windows"),
            "{text}"
        );
        assert!(text.contains("Run as administrator"), "{text}");
    }

    #[test]
    fn every_documented_open_error_has_its_own_advice() {
        let cases = [
            (2, DivertFailure::DriverMissing, "WinDivert64.sys"),
            (577, DivertFailure::DriverUnsigned, "signature"),
            (654, DivertFailure::OtherVersionLoaded, "different version"),
            (1257, DivertFailure::DriverBlocked, "blocked"),
            (1753, DivertFailure::FilteringEngineStopped, "sc start BFE"),
        ];
        for (code, want, words) in cases {
            let f = DivertFailure::from_open_error(code);
            assert_eq!(f, want, "code {code}");
            assert!(f.to_string().contains(words), "{code}: {f}");
        }
        let other = DivertFailure::from_open_error(31);
        assert_eq!(other, DivertFailure::Other(31));
        assert!(other.to_string().contains("Windows error 31"));
        assert!(
            DivertFailure::NoLibrary(126)
                .to_string()
                .contains("WinDivert.dll next to postern.exe")
        );
    }

    #[test]
    fn echo_outcomes() {
        assert_eq!(echo_outcome(1, 0), EchoOutcome::Done);
        assert_eq!(echo_outcome(0, 997), EchoOutcome::InFlight);
        assert_eq!(echo_outcome(0, 11010), EchoOutcome::Done);
        // Destination host unreachable, invalid parameter: not sent.
        assert_eq!(echo_outcome(0, 11003), EchoOutcome::Failed(11003));
        assert_eq!(echo_outcome(0, 87), EchoOutcome::Failed(87));
    }

    #[test]
    fn echo_sizes() {
        assert_eq!(echo_request_size(0), Some(0));
        assert_eq!(echo_request_size(64), Some(64));
        assert_eq!(echo_request_size(MAX_ECHO_PAYLOAD), Some(65507));
        assert_eq!(echo_request_size(MAX_ECHO_PAYLOAD + 1), None);
        // 64-bit Windows: ICMP_ECHO_REPLY is 40 bytes.
        let len = echo_reply_buffer_len(40, 64);
        assert!(len >= 40 + 64 + 8, "{len}");
        assert!(
            echo_reply_buffer_len(40, 65) > len,
            "grows with the payload"
        );
    }
}
