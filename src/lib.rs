//! A client for the MikroBILL billing core API (see `shared/protocol.md`), its C ABI, and the
//! pieces the simulator shares with it.

pub mod crypto;
pub mod frame;
pub mod message;
pub mod phpjson;
pub mod sim;
