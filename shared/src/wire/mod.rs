//! Checked views over untrusted bytes (smoltcp style): a `Packet<T>` that is
//! length-checked once in `new_checked`, so no accessor can panic, and a
//! `Repr` that parses meaning out and emits it back.

pub mod spa;
