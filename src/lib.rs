//! A client for the MikroBILL billing core API (see `docs/src/protocol.md`) and its C ABI.
//!
//! Rust callers use [`Client`], [`Config`] and [`Error`] ([`pool`] inspects and drains the
//! persistent connections); the [`protocol`] module is public so
//! that peers of the protocol (the simulator, test doubles) encode and parse it the same way.

pub mod abi;
mod call_io;
mod client;
mod config;
mod error;
/// The C ABI's functions (`include/mikrobill.h`), also callable from Rust, which the tests of
/// the C contract do.
pub mod ffi;
mod fork;
mod peek;
pub mod pool;
pub mod protocol;
mod worker_cache;

pub use call_io::CancelToken;
pub use client::Client;
pub use config::Config;
pub use error::{code, reply_code, Error};
