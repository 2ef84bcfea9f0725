//! Checked views over untrusted bytes (smoltcp style): a `Packet<T>` that is
//! length-checked once in `new_checked`, so no accessor can panic, and a
//! `Repr` that parses meaning out and emits it back.
//!
//! This is the bottom layer of the crate: nothing in here names a module
//! outside `wire` (scripts/check-proto-deps.sh enforces it), so the codec can
//! be read, fuzzed and reviewed on its own.

pub mod door;
pub mod spa;

pub use door::{Door, DoorProto};
