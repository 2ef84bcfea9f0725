//! Which unwinder the command-line binaries use (Linux with glibc).
//!
//! libgcc's unwinder is linked into the program, as `gcc -static-libgcc`
//! does for C, instead of loading libgcc_s.so.1 at every start: that
//! library's constructor probes the CPU with a dozen `cpuid` instructions,
//! and on a VM each one traps to the hypervisor. Measured on the 2-core VM:
//! `postern` spawn → first packet 1.49 → 1.36 ms (300 runs each, in turns).
//! Panics unwind as before (exit code 101, backtraces).
//!
//! It is named in the program's own crate because the linker then meets
//! the archive before any Rust library: the unwinder's symbols are defined
//! by the time `-lgcc_s` comes, and `--as-needed` leaves that library out
//! (tests/cli_binaries.rs checks).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[link(name = "gcc_eh", kind = "static")]
unsafe extern "C" {}
