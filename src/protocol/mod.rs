//! The MikroBILL wire protocol, both directions: AES-CBC with zero padding (`crypto`),
//! length-prefixed frames (`frame`), the auth message and path/value requests (`message`), and
//! JSON written byte for byte as PHP's `json_encode` writes it (`phpjson`), and a JSON syntax check
//! that neither allocates nor recurses (`jsoncheck`). The client and the
//! simulator both go through this module, so the protocol is written once.

pub mod crypto;
pub mod foreign;
pub mod frame;
pub mod jsoncheck;
pub mod message;
pub mod phpfloat;
pub mod phpjson;
