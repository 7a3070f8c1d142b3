//! Transitional: this support now lives in the mikrobill-testkit crate (testkit/src/rng.rs). Test
//! files that still include it with `#[path]` get the same items; use
//! `mikrobill_testkit::rng` instead, then delete this file.
pub use mikrobill_testkit::rng::*;
