//! # postern-proto
//!
//! Everything the Postern client and server must agree on, and nothing else:
//! profiles and their signatures, the knock methods, the SPA wire format,
//! decoy planning and the pure halves of verification (key-id tables,
//! replay bookkeeping).
//!
//! The crate is *sans-IO*: it never reads a clock, a socket, a file or the OS
//! random generator. Time comes in as [`UnixTime`], randomness as an
//! `&mut impl rand::RngCore`. That is what makes every decision in here
//! deterministic under test, and what lets the same code run inside the
//! daemon, the desktop app, a fuzzer and a benchmark.
//!
//! The wire formats are specified byte by byte in `docs/protocol.md`; the test
//! vectors printed there are checked by this crate's tests.

pub mod decoy;
pub mod keyid;
pub mod keys;
pub mod method;
pub mod plan;
pub mod profile;
pub mod replay;
pub mod seal;
pub mod sign;
pub mod time;
pub mod wire;

pub use keys::{ServerId, UserKey};
pub use time::{Step, UnixTime};
