//! Test support shared by the workspace's tests, benchmarks and test tools (publish = false):
//! - `sim`: the one launcher of the simulator for Rust tests, and a raw protocol connection;
//! - `relay`: the fault-injecting relay (and slow link) between a client and a server;
//! - `hostile`: a peer that misbehaves in the way the login names;
//! - `php`: PHP as a differential oracle; `rng`: deterministic generated cases.
//!
//! The examples are the same tools as processes: `fault-proxy`, `hostile-server`,
//! `floor-server`.

pub mod hostile;
pub mod php;
pub mod relay;
pub mod rng;
pub mod sim;

pub use relay::{Fault, FaultProxy, Link};
pub use sim::*;
