//! What belongs to the process rather than to a handle: the version, the persistent-connection
//! pool, and the worker cache.

use std::ffi::{c_char, c_int, c_longlong, CStr};
use std::panic::catch_unwind;

use super::boundary::{self, LastError};
use super::strings::{c_text, give};
use super::{optional_text_arg, out_arg, text_arg};
use crate::error::Error;

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the crate version holds no NUL"),
    };

/// The library's version, e.g. "0.3.0": a static string, never NULL, never to be freed. Reads
/// nothing and leaves the last error as it was.
#[no_mangle]
pub extern "C" fn mb_version() -> *const c_char {
    // Nothing here can panic; the boundary is kept so that no export is without one.
    catch_unwind(|| VERSION.as_ptr()).unwrap_or(VERSION.as_ptr())
}

/// Writes the persistent-connection pool's state as JSON to `*stats_json_out` (free it with
/// `mb_free`): `idle` (connections waiting within their idle lifetime), `expired` (waiting past
/// it; the next use of the pool closes them), `identities` (distinct identities the idle ones
/// serve), and counts since the process started or forked: `returned`, `reused`,
/// `closed_idle_timeout`, `closed_over_limit`, `closed_dead`, `closed_by_clear`,
/// `forgotten_after_fork`. A pure read: no connection is touched. Thread-safe.
///
/// # Safety
/// `stats_json_out` is NULL (error 9005) or valid for writing one `char *`.
#[no_mangle]
pub unsafe extern "C" fn mb_pool_stats(stats_json_out: *mut *mut c_char) -> c_int {
    boundary::status("mb_pool_stats", LastError::ClearedOnSuccess, || {
        // SAFETY: the caller promises NULL or a writable char *.
        let out = unsafe { out_arg(stats_json_out, "stats_json_out") }?;
        *out = give(c_text(crate::pool::stats())?);
        Ok(())
    })
}

/// Closes every idle pooled connection with DISCONNECT and writes to `*closed_out` how many
/// were within their idle lifetime (expired ones are closed too, and counted as
/// `closed_idle_timeout`). Connections in use by open handles are not touched. Thread-safe.
///
/// # Safety
/// `closed_out` is NULL (error 9005) or valid for writing one `long long`.
#[no_mangle]
pub unsafe extern "C" fn mb_pool_clear(closed_out: *mut c_longlong) -> c_int {
    boundary::status("mb_pool_clear", LastError::ClearedOnSuccess, || {
        // SAFETY: the caller promises NULL or a writable long long.
        let out = unsafe { out_arg(closed_out, "closed_out") }?;
        *out = c_longlong::try_from(crate::pool::clear()).unwrap_or(c_longlong::MAX);
        Ok(())
    })
}

/// Writes the string kept under `name` by `mb_worker_cache_set` to `*value_out` (free it with
/// `mb_free`), or NULL when there is none. The worker cache is a small process-wide store for
/// hosts whose own memory does not outlive a request: PHP under php-fpm keeps the keys it read
/// from config.php and MySQL there, so a persistent page does not read them again. Its strings
/// live as long as the process. Error 9005 for a NULL or non-UTF-8 name.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `value_out` is NULL (error 9005) or valid for
/// writing one `char *`.
#[no_mangle]
pub unsafe extern "C" fn mb_worker_cache_get(
    name: *const c_char,
    value_out: *mut *mut c_char,
) -> c_int {
    boundary::status("mb_worker_cache_get", LastError::ClearedOnSuccess, || {
        // SAFETY: the caller promises NULL or a writable char *.
        let out = unsafe { out_arg(value_out, "value_out") }?;
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let name = unsafe { text_arg(name, "name") }?;
        *out = match crate::worker_cache::get(name) {
            Some(value) => give(c_text(value)?),
            None => std::ptr::null_mut(),
        };
        Ok(())
    })
}

/// Keeps `value` under `name` in the worker cache for the life of the process, or forgets
/// `name` when `value` is NULL. At most 256 names (beyond that the first in name order goes) of
/// at most 64 KiB with their value. Error 9005 for a NULL or non-UTF-8 name or value, or a pair
/// too large; the value never appears in an error.
///
/// # Safety
/// `name` and `value` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn mb_worker_cache_set(name: *const c_char, value: *const c_char) -> c_int {
    boundary::status("mb_worker_cache_set", LastError::ClearedOnSuccess, || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let name = unsafe { text_arg(name, "name") }?;
        // SAFETY: as for `name`.
        let value = unsafe { optional_text_arg(value, "value") }?;
        if crate::worker_cache::set(name, value) {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "name and value exceed {} bytes",
                crate::worker_cache::MAX_BYTES
            )))
        }
    })
}
