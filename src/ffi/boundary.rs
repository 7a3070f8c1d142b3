//! The panic boundary that every export goes through, and the thread's last error it keeps.
//!
//! Every export but `mb_free` and `mb_version` returns an `int`: 0 when it succeeded, the error's
//! code otherwise, never 0 for a failure. An export converts its arguments and calls the core
//! inside [`status`] (or [`reply`], for `mb_process`, whose out-parameter also carries the error
//! JSON). The helper catches any panic (unwinding into php-fpm or the .NET host would abort it)
//! and turns it into 9008; it records the error as this thread's last error, or clears it on
//! success. Out-parameters are written by the body itself, at its end, so a failure leaves them
//! as they were. A new export picks one of the two helpers; nothing else decides a return value.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::strings::{c_text, give};
use crate::error::{code, Error};

thread_local! {
    static LAST_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// Whether a successful call clears the last error. Only the reader of the last error and
/// `mb_free` keep it, so that it can be read after freeing the reply that went with it.
#[derive(PartialEq, Eq, Clone, Copy)]
pub(super) enum LastError {
    ClearedOnSuccess,
    Kept,
}

/// Runs an export's `body`: 0 on success, the error's code on failure, 9008 for a panic.
pub(super) fn status(
    export: &'static str,
    last_error: LastError,
    body: impl FnOnce() -> Result<(), Error>,
) -> c_int {
    match contained(export, body) {
        Ok(()) => {
            if last_error == LastError::ClearedOnSuccess {
                set_last_error(None);
            }
            0
        }
        Err(error) => fail(error),
    }
}

/// Never issued, so `mb_free` ignores it; only given if building an error reply panicked.
const LAST_RESORT_REPLY: &CStr =
    c"{\"return\":\"Internal error\",\"result\":\"Internal error\",\"code\":9008}";

/// Runs `mb_process`'s `body` and hands C the reply through `write`: the server's text on
/// success, the error's JSON on failure (a panic's included). Returns as [`status`] does.
pub(super) fn reply(
    export: &'static str,
    write: impl FnOnce(*mut c_char),
    body: impl FnOnce() -> Result<Vec<u8>, Error>,
) -> c_int {
    let outcome = contained(export, || body().and_then(|text| Ok(give(c_text(text)?))));
    let (text, error) = match outcome {
        Ok(text) => (text, None),
        Err(error) => {
            let json = catch_unwind(AssertUnwindSafe(|| {
                give(c_text(error.to_json()).expect("error JSON escapes NUL"))
            }));
            (
                json.unwrap_or(LAST_RESORT_REPLY.as_ptr().cast_mut()),
                Some(error),
            )
        }
    };
    write(text);
    match error {
        None => {
            set_last_error(None);
            0
        }
        Some(error) => fail(error),
    }
}

/// `body`'s outcome, a panic turned into error 9008 naming the export.
fn contained<T>(export: &'static str, body: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(|| {
        forced_panic_point(export);
        body()
    }))
    .unwrap_or_else(|_| Err(Error::Internal(format!("panic in {export}"))))
}

/// Records `error` as the last error and returns its code for C.
fn fail(error: Error) -> c_int {
    let code = c_code(&error);
    set_last_error(Some(error));
    code
}

/// A call made while the thread is being torn down finds no slot; nothing can be recorded then.
fn set_last_error(error: Option<Error>) {
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = error);
}

/// Reads this thread's last error: `None` when the last call succeeded or none failed.
pub(super) fn last_error<T>(read: impl FnOnce(Option<&Error>) -> T) -> Result<T, Error> {
    LAST_ERROR
        .try_with(|slot| read(slot.borrow().as_ref()))
        .map_err(|_| Error::Internal("the thread is exiting".into()))
}

/// An error's code as C's int, never 0. Only a server's auth rejection can carry a code that
/// does not fit (or a 0 no failure may have); it is reported as 9004, while the error's JSON keeps
/// the server's number.
pub(super) fn c_code(error: &Error) -> c_int {
    match c_int::try_from(error.code()) {
        Ok(0) | Err(_) => code::MALFORMED_REPLY as c_int,
        Ok(code) => code,
    }
}

/// A place where a test may make the next call of an export panic, so that each export's panic
/// path can be exercised; compiled to nothing outside tests.
#[cfg(not(test))]
pub(super) fn forced_panic_point(_: &str) {}

#[cfg(test)]
pub(super) use forced::{forced_panic_point, panic_at};

#[cfg(test)]
mod forced {
    use std::cell::Cell;

    thread_local! {
        static NEXT: Cell<Option<&'static str>> = const { Cell::new(None) };
    }

    /// Makes the next pass of this thread through `point` panic.
    pub(in super::super) fn panic_at(point: &'static str) {
        NEXT.with(|next| next.set(Some(point)));
    }

    pub(in super::super) fn forced_panic_point(point: &str) {
        if NEXT.with(|next| next.get()) == Some(point) {
            NEXT.with(|next| next.set(None));
            panic!("panic forced by a test at {point}");
        }
    }
}
