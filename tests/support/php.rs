//! Transitional: this support now lives in the mikrobill-testkit crate (testkit/src/php.rs). Test
//! files that still include it with `#[path]` get the same items; use
//! `mikrobill_testkit::php` instead, then delete this file.
pub use mikrobill_testkit::php::*;
