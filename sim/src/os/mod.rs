//! Every call the simulator makes on the operating system beyond plain std I/O, in one place:
//! stop signals, sockets (the listen queue, polling, queued bytes), files (owner-only access,
//! directory sync, the state lock) and the descriptor limit. The rest of the crate is platform-neutral.

pub mod descriptors;
pub mod file;
pub mod signal;
pub mod socket;

pub use socket::bind;
