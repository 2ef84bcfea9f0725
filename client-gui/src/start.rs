//! `postern`'s own process start on Linux, in place of std's runtime
//! set-up (`lang_start`).
//!
//! Most of a script's knock → open latency is starting this program
//! (docs/benchmarks.md). std's set-up spends a good part of it on things a
//! one-shot command does not use: it reads and parses /proc/self/maps to
//! find the main thread's stack guard page (glibc's `pthread_getattr_np`,
//! about 14 % of all instructions `postern knock` executes) and maps an
//! alternate signal stack, only to turn a stack overflow into a message.
//! Starting from a plain C `main` skips those; the two things from that
//! set-up that matter here are done the same way below. What is given up: a
//! stack overflow ends in a bare SIGSEGV instead of std's message, and a
//! panic message names the main thread `<unnamed>`.
//!
//! `std::env::args` still works: on Linux (glibc) std reads the arguments
//! from an `.init_array` hook, not from `lang_start`.

use std::ffi::{c_char, c_int};
use std::io::Write;

#[unsafe(no_mangle)]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    standard_fds_open();
    // As std does: a closed pipe is an error to report, not a signal that
    // kills the process.
    // SAFETY: installs the SIG_IGN disposition; no handler code is involved.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // A panic unwinding out of an `extern "C"` function would abort; this
    // ends it the way std's runtime does, with exit code 101 (the panic
    // hook has already printed the message).
    let code = std::panic::catch_unwind(super::run).unwrap_or(101);
    // std's runtime flushes stdout at exit; the C runtime does not know
    // about Rust's buffer.
    let _ = std::io::stdout().flush();
    c_int::from(code)
}

/// Makes sure descriptors 0, 1 and 2 are open (on /dev/null if they were
/// closed), as std does: otherwise the next file or socket opened would
/// get one of those numbers, and a message meant for stderr could end up
/// in a knock's TCP connection.
fn standard_fds_open() {
    for fd in 0..=2 {
        // SAFETY: F_GETFD only queries the descriptor; open(2) gets a
        // NUL-terminated path. The lowest free number is the closed one.
        unsafe {
            if libc::fcntl(fd, libc::F_GETFD) == -1
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
                && libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) == -1
            {
                // Like std: no safe way to go on.
                libc::abort();
            }
        }
    }
}
