//! Transitional: this support now lives in the mikrobill-testkit crate (testkit/src/hostile.rs). Test
//! files that still include it with `#[path]` get the same items; use
//! `mikrobill_testkit::hostile` instead, then delete this file.
pub use mikrobill_testkit::hostile::*;
