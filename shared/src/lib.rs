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
//! ## Layers
//!
//! Each module uses only the ones below it, so each can be read and tested
//! from the bottom up (scripts/check-proto-deps.sh enforces the rules):
//!
//! - [`wire`]: checked views of untrusted bytes and the types they carry
//!   ([`wire::Door`]); it names nothing outside itself.
//! - [`time`], [`keys`], [`replay`]: time steps, key material, replay marks.
//! - [`method`]: the knock methods, built on the wire and the keys.
//! - [`profile`], [`keyid`], [`seal`], [`sign`]: profiles and their files;
//!   the server's key-id table.
//! - [`packet`] and [`decoy`]: outgoing packets as data, and decoys that
//!   imitate them without knowing about plans.
//! - [`plan`]: a profile, a key and the time turned into packets, decoys
//!   included.
//! - `fixtures` (feature `fixtures`, tests only, never in production):
//!   published test keys, the protocol.md vectors, a seeded SPA sealer.
//!
//! The wire formats are specified byte by byte in `docs/protocol.md`; the test
//! vectors printed there are checked by this crate's tests.

pub mod decoy;
#[cfg(feature = "fixtures")]
pub mod fixtures;
pub mod keyid;
pub mod keys;
pub mod method;
pub mod packet;
pub mod plan;
pub mod profile;
pub mod replay;
pub mod seal;
pub mod sign;
pub mod time;
pub mod wire;

pub use keys::{ServerId, UserKey};
pub use time::{Step, UnixTime};
