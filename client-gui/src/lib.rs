//! # postern-client
//!
//! The knock client's engine, shared by the `postern` command line and the
//! desktop app: [`engine`] turns a profile into packets and checks that
//! the door opened, [`store`] remembers hosts, trusted signers and secrets,
//! [`import`] brings signed profile files in. The protocol itself (plans,
//! signatures, encryption) is the pure `postern-proto` crate; this crate is
//! the I/O around it.

pub mod app;
pub mod engine;
pub mod import;
pub mod store;
