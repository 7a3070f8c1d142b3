//! `mikrobill-gateway`: the MikroBILL core's API over HTTPS for any language, with the keys and
//! the cashier's login kept on the gateway's host. See docs/src/gateway.md.

pub mod audit;
pub mod config;
pub mod core_pool;
pub mod metrics;
pub mod refusal;
pub mod routes;
pub mod scope;
pub mod server;
pub mod state;
pub mod tls;
pub mod tokens;
#[cfg(windows)]
pub mod windows;
