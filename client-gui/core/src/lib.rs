//! # postern-client
//!
//! The knock client's engine, shared by the `postern` command line, the
//! `postern-desktop` app and the benchmark: [`engine`] turns a profile into
//! packets and checks that the door opened, [`store`] remembers hosts,
//! trusted signers and secrets, [`import`] brings signed profile files in,
//! [`fwknop`] adds hosts guarded by fwknopd, [`language`] says which of
//! Postern's languages a system locale means.
//! The protocol itself (plans, signatures, encryption) is the pure
//! `postern-proto` crate; this crate is the I/O around it.
//!
//! No user interface lives here: errors say what is wrong in the terms of
//! the domain (a passphrase is needed, a signer is not trusted yet), and
//! each program words them for its user — a command line names its flags,
//! the window its buttons.

pub mod engine;
pub mod fwknop;
pub mod import;
pub mod language;
pub mod store;
