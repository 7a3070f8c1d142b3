//! A client for the MikroBILL billing core API (see `shared/protocol.md`), its C ABI, and the
//! pieces the simulator shares with it.

pub mod client;
pub mod config;
pub mod crypto;
pub mod error;
pub mod ffi;
pub mod frame;
pub mod message;
pub mod phpjson;
pub mod sim;

pub use client::Client;
pub use config::Config;
pub use error::Error;
