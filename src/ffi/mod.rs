//! The C ABI (`include/mikrobill.h` is generated from these modules by `cargo xtask codegen`).
//!
//! One error contract for every export but `mb_free` and `mb_version`: the return value is 0 on
//! success and the error's code otherwise, 9008 for a contained panic (`boundary`); outputs go
//! through out-parameters written only on success, except `mb_process`'s reply, which carries
//! the error JSON on failure. Handles are integers resolved through a registry and never reused,
//! so a closed or made-up handle is a clean error rather than a dangling pointer (`handles`).
//! Strings handed out are recorded until `mb_free` takes them back (`strings`). One module per
//! concept: handles, calls on them, cancel tokens, the last error, the process-wide pool and
//! worker cache.

mod boundary;
mod calls;
mod cancel;
mod cipher;
mod handles;
mod last_error;
mod process_wide;
mod strings;
#[cfg(test)]
mod tests;

pub use calls::{mb_check_connection, mb_process};
pub use cancel::{mb_cancel_token_cancel, mb_cancel_token_free, mb_cancel_token_new};
pub use cipher::{mb_decrypt, mb_encrypt};
pub use handles::{mb_close, mb_connect, mb_discard, mb_disconnect};
pub use last_error::mb_last_error_message;
pub use process_wide::{
    mb_pool_clear, mb_pool_stats, mb_version, mb_worker_cache_get, mb_worker_cache_set,
};
pub use strings::mb_free;

use std::ffi::{c_char, CStr};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::error::Error;

/// The registries and the string table hold no invariant a panic could break half-way, so a
/// poisoned lock is simply taken over. They are held across `fork()` by `crate::fork`.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    crate::fork::protect_locks();
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// Only Unix has fork(); these are what crate::fork holds across it.
#[cfg(unix)]
pub(crate) use cancel::hold as hold_cancel_tokens;
#[cfg(unix)]
pub(crate) use handles::hold as hold_registry;
#[cfg(unix)]
pub(crate) use strings::hold as hold_issued_strings;

/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
unsafe fn text_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::InvalidArgument(format!("{name} is NULL")));
    }
    // SAFETY: `ptr` is not NULL, and the caller promises a NUL-terminated string that outlives
    // the call.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| Error::InvalidArgument(format!("{name} is not valid UTF-8")))
}

/// # Safety
/// As for [`text_arg`]; NULL is `None`.
unsafe fn optional_text_arg<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise, passed on.
    unsafe { text_arg(ptr, name) }.map(Some)
}

/// The place an out-parameter points to; NULL is error 9005.
///
/// # Safety
/// `ptr` is NULL or valid for writing a `T` for the duration of the call.
unsafe fn out_arg<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller promises NULL or a pointer valid for writes; `as_mut` checks NULL.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::InvalidArgument(format!("{name} is NULL")))
}
