//! Cancel tokens by number: what `mb_token_new` issues and `mb_process_with_token` watches.

use std::collections::BTreeMap;
use std::ffi::c_longlong;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::lock;
use crate::call_io::CallToken;
use crate::error::Error;

fn tokens() -> MutexGuard<'static, BTreeMap<c_longlong, CallToken>> {
    static TOKENS: OnceLock<Mutex<BTreeMap<c_longlong, CallToken>>> = OnceLock::new();
    lock(TOKENS.get_or_init(Default::default))
}

/// Never reused, like handles, so a freed token's number cannot come to mean another token.
static NEXT_TOKEN: AtomicI64 = AtomicI64::new(1);

pub(super) fn issue() -> c_longlong {
    let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
    tokens().insert(token, CallToken::new());
    token
}

pub(super) fn find(token: c_longlong) -> Result<CallToken, Error> {
    tokens().get(&token).cloned().ok_or_else(|| unknown(token))
}

/// A call that holds the token keeps it until it returns; only the number is forgotten.
pub(super) fn forget(token: c_longlong) -> Result<(), Error> {
    tokens()
        .remove(&token)
        .map(drop)
        .ok_or_else(|| unknown(token))
}

fn unknown(token: c_longlong) -> Error {
    Error::InvalidArgument(format!(
        "cancel token {token} is unknown (never issued by mb_token_new, or freed)"
    ))
}
