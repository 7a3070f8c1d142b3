//! A client for the MikroBILL billing core API (see `docs/protocol.md`) and its C ABI.
//!
//! Rust callers use [`Client`], [`Config`] and [`Error`]; the [`protocol`] module is public so
//! that peers of the protocol (the simulator, test doubles) encode and parse it the same way.

mod call_io;
mod client;
mod config;
mod error;
mod ffi;
pub mod protocol;

pub use call_io::CancelToken;
pub use client::Client;
pub use config::Config;
pub use error::{code, reply_code, Error};
