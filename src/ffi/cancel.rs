//! Cancel tokens by number: `mb_cancel_token_new` issues them, `mb_process` and
//! `mb_check_connection` watch the one they are given, `mb_cancel_token_cancel` fires one. A
//! token reaches only the calls it was given to, so a binding cancels exactly one call (an
//! abandoned await, a timed-out task) without any risk of reaching the next call on the handle.

use std::collections::BTreeMap;
use std::ffi::{c_int, c_longlong};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::boundary::{self, LastError};
use super::{lock, out_arg};
use crate::call_io::CancelToken;
use crate::error::Error;

fn tokens() -> MutexGuard<'static, BTreeMap<c_longlong, CancelToken>> {
    static TOKENS: OnceLock<Mutex<BTreeMap<c_longlong, CancelToken>>> = OnceLock::new();
    lock(TOKENS.get_or_init(Default::default))
}

/// Holds the token table across a `fork()` (see `crate::fork`).
#[cfg(unix)]
pub(crate) fn hold() -> Box<dyn std::any::Any> {
    Box::new(tokens())
}

/// Never reused, like handles, so a freed token's number cannot come to mean another token.
static NEXT_TOKEN: AtomicI64 = AtomicI64::new(1);

/// The token numbered `token`; 0 is none.
pub(super) fn find(token: c_longlong) -> Result<Option<CancelToken>, Error> {
    if token == 0 {
        return Ok(None);
    }
    tokens()
        .get(&token)
        .cloned()
        .map(Some)
        .ok_or_else(|| unknown(token))
}

fn unknown(token: c_longlong) -> Error {
    Error::InvalidArgument(format!(
        "cancel token {token} is unknown (never issued by mb_cancel_token_new, or freed)"
    ))
}

/// Makes a new cancel token (> 0) and writes it to `*cancel_token_out`. Give it to
/// `mb_process` or `mb_check_connection`; cancel it with `mb_cancel_token_cancel`; free it
/// with `mb_cancel_token_free`. Thread-safe. Token numbers are never reused.
///
/// # Safety
/// `cancel_token_out` is NULL (error 9005) or valid for writing one `long long`.
#[no_mangle]
pub unsafe extern "C" fn mb_cancel_token_new(cancel_token_out: *mut c_longlong) -> c_int {
    boundary::status("mb_cancel_token_new", LastError::ClearedOnSuccess, || {
        // SAFETY: the caller promises NULL or a writable long long.
        let out = unsafe { out_arg(cancel_token_out, "cancel_token_out") }?;
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        tokens().insert(token, CancelToken::new());
        *out = token;
        Ok(())
    })
}

/// Cancels `cancel_token` for good, from any thread, without waiting. A call given it that is
/// in progress returns 9011 within about 20 ms (one blocked in the TCP connect itself when the
/// connect ends, at most `connect_timeout_ms`), and its connection is dropped; its request may
/// or may not have reached the server, and is never resent. A call given it later returns 9011
/// at once, having sent nothing. Calls not given this token are never touched. Only a flag in
/// this process is set, so a connection shared with a forked process stays intact. Error 9005
/// when the token is unknown (never issued, or freed).
#[no_mangle]
pub extern "C" fn mb_cancel_token_cancel(cancel_token: c_longlong) -> c_int {
    boundary::status(
        "mb_cancel_token_cancel",
        LastError::ClearedOnSuccess,
        || {
            let token = tokens()
                .get(&cancel_token)
                .cloned()
                .ok_or_else(|| unknown(cancel_token))?;
            token.cancel();
            Ok(())
        },
    )
}

/// Forgets `cancel_token`; a call still running with it goes on watching it until it returns.
/// Error 9005 when the token is unknown (never issued, or already freed).
#[no_mangle]
pub extern "C" fn mb_cancel_token_free(cancel_token: c_longlong) -> c_int {
    boundary::status("mb_cancel_token_free", LastError::ClearedOnSuccess, || {
        tokens()
            .remove(&cancel_token)
            .map(drop)
            .ok_or_else(|| unknown(cancel_token))
    })
}
