//! The panic boundary that every export goes through, and the thread's last error it keeps.
//!
//! An export converts its arguments and calls the core inside the helper for its return kind
//! ([`handle`], [`status`], [`probe`], [`text`], [`reply`]). The helper catches any panic
//! (unwinding into php-fpm or the .NET host would abort it), records the error as this thread's
//! last error or clears it, and turns the outcome into the value C receives. A contained panic is
//! error 9008 on every path. For [`Handle`], [`Status`], [`Probe`] and [`Reply`] the failure value
//! is one no success produces (0, a non-zero code, -1, the error JSON). For [`Text`] and [`Code`]
//! it is not: `mb_last_error` returns NULL both when there is no last error and when it panicked,
//! and `mb_last_error_code` returns 9008 both for a last error 9008 and when it panicked. A caller
//! tells them apart by `mb_last_error_code()`, since a contained panic leaves 9008 as the last
//! error even in the two functions that otherwise keep it: after `mb_last_error` gave NULL it is 0
//! when there was no error and 9008 when the call panicked. A 9008 from `mb_last_error_code` is a
//! defect to report either way; `mb_last_error()` then says which ("panic in
//! mb_last_error_code").
//!
//! A new export picks the helper for what it returns; a new return kind is one more [`Kind`].

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_longlong, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::strings::{c_text, give};
use crate::error::{code, Error};

thread_local! {
    static LAST_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// How a call's outcome becomes the value C receives.
pub(super) trait Kind {
    /// What the core gives on success.
    type Ok;
    /// What C receives.
    type C;
    /// Converts a success; a value C cannot carry (text holding NUL) is an error instead.
    fn success(ok: Self::Ok) -> Result<Self::C, Error>;
    /// The value that tells C the call failed; `error` is its last error by then.
    fn failure(error: &Error) -> Self::C;
    /// Returned in the unlikely case that `failure` itself panics.
    fn last_resort() -> Self::C;
}

/// A new handle (> 0); 0 on failure.
pub(super) struct Handle;

impl Kind for Handle {
    type Ok = c_longlong;
    type C = c_longlong;
    fn success(handle: c_longlong) -> Result<c_longlong, Error> {
        Ok(handle)
    }
    fn failure(_: &Error) -> c_longlong {
        0
    }
    fn last_resort() -> c_longlong {
        0
    }
}

/// 0 on success, the error's code on failure.
pub(super) struct Status;

impl Kind for Status {
    type Ok = ();
    type C = c_int;
    fn success((): ()) -> Result<c_int, Error> {
        Ok(0)
    }
    fn failure(error: &Error) -> c_int {
        c_code(error)
    }
    fn last_resort() -> c_int {
        code::INTERNAL as c_int
    }
}

/// A yes/no question about the server: 1 yes; 0 no, the error saying why; -1 when the question
/// could not be asked (unknown or closed handle, or a defect: 9007 or 9008).
pub(super) struct Probe;

impl Kind for Probe {
    type Ok = ();
    type C = c_int;
    fn success((): ()) -> Result<c_int, Error> {
        Ok(1)
    }
    fn failure(error: &Error) -> c_int {
        match error {
            Error::ClosedHandle | Error::Internal(_) => -1,
            _ => 0,
        }
    }
    fn last_resort() -> c_int {
        -1
    }
}

/// Text to free with `mb_free`; NULL when there is none or on failure.
pub(super) struct Text;

impl Kind for Text {
    type Ok = Option<String>;
    type C = *mut c_char;
    fn success(text: Option<String>) -> Result<*mut c_char, Error> {
        match text {
            Some(text) => Ok(give(c_text(text)?)),
            None => Ok(std::ptr::null_mut()),
        }
    }
    fn failure(_: &Error) -> *mut c_char {
        std::ptr::null_mut()
    }
    fn last_resort() -> *mut c_char {
        std::ptr::null_mut()
    }
}

/// A reply to free with `mb_free`: the server's text, or on failure the error's JSON. Never NULL.
pub(super) struct Reply;

/// Never issued, so `mb_free` ignores it; only reached if building the error reply panicked.
const LAST_RESORT_REPLY: &CStr =
    c"{\"return\":\"Internal error\",\"result\":\"Internal error\",\"code\":9008}";

impl Kind for Reply {
    type Ok = String;
    type C = *mut c_char;
    fn success(reply: String) -> Result<*mut c_char, Error> {
        Ok(give(c_text(reply)?))
    }
    fn failure(error: &Error) -> *mut c_char {
        give(c_text(error.to_json()).expect("error JSON escapes NUL"))
    }
    fn last_resort() -> *mut c_char {
        LAST_RESORT_REPLY.as_ptr().cast_mut()
    }
}

/// An error code as an int; 9008 on failure.
pub(super) struct Code;

impl Kind for Code {
    type Ok = c_int;
    type C = c_int;
    fn success(code: c_int) -> Result<c_int, Error> {
        Ok(code)
    }
    fn failure(_: &Error) -> c_int {
        code::INTERNAL as c_int
    }
    fn last_resort() -> c_int {
        code::INTERNAL as c_int
    }
}

/// A count (>= 0); -1 on failure.
pub(super) struct Count;

impl Kind for Count {
    type Ok = c_longlong;
    type C = c_longlong;
    fn success(count: c_longlong) -> Result<c_longlong, Error> {
        Ok(count)
    }
    fn failure(_: &Error) -> c_longlong {
        -1
    }
    fn last_resort() -> c_longlong {
        -1
    }
}

/// Nothing to return (`mb_free`).
pub(super) struct Nothing;

impl Kind for Nothing {
    type Ok = ();
    type C = ();
    fn success((): ()) -> Result<(), Error> {
        Ok(())
    }
    fn failure(_: &Error) {}
    fn last_resort() {}
}

pub(super) fn handle(
    export: &'static str,
    body: impl FnOnce() -> Result<c_longlong, Error>,
) -> c_longlong {
    run::<Handle>(export, ClearsLastError::Yes, body)
}

pub(super) fn status(export: &'static str, body: impl FnOnce() -> Result<(), Error>) -> c_int {
    run::<Status>(export, ClearsLastError::Yes, body)
}

pub(super) fn probe(export: &'static str, body: impl FnOnce() -> Result<(), Error>) -> c_int {
    run::<Probe>(export, ClearsLastError::Yes, body)
}

pub(super) fn text(
    export: &'static str,
    body: impl FnOnce() -> Result<Option<String>, Error>,
) -> *mut c_char {
    run::<Text>(export, ClearsLastError::Yes, body)
}

pub(super) fn count(
    export: &'static str,
    body: impl FnOnce() -> Result<c_longlong, Error>,
) -> c_longlong {
    run::<Count>(export, ClearsLastError::Yes, body)
}

pub(super) fn reply(
    export: &'static str,
    body: impl FnOnce() -> Result<String, Error>,
) -> *mut c_char {
    run::<Reply>(export, ClearsLastError::Yes, body)
}

/// For the functions that read the last error or free strings: their success leaves the last
/// error as it was, so that it can still be read after freeing the reply that went with it.
pub(super) fn keeping_last_error<K: Kind>(
    export: &'static str,
    body: impl FnOnce() -> Result<K::Ok, Error>,
) -> K::C {
    run::<K>(export, ClearsLastError::No, body)
}

#[derive(PartialEq, Eq)]
enum ClearsLastError {
    Yes,
    No,
}

fn run<K: Kind>(
    export: &'static str,
    clears: ClearsLastError,
    body: impl FnOnce() -> Result<K::Ok, Error>,
) -> K::C {
    let panicked = || Error::Internal(format!("panic in {export}"));
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        forced_panic_point(export);
        body().and_then(K::success)
    }))
    .unwrap_or_else(|_| Err(panicked()));
    match outcome {
        Ok(value) => {
            if clears == ClearsLastError::Yes {
                set_last_error(None);
            }
            value
        }
        Err(error) => match catch_unwind(AssertUnwindSafe(|| K::failure(&error))) {
            Ok(value) => {
                set_last_error(Some(error));
                value
            }
            Err(_) => {
                set_last_error(Some(panicked()));
                K::last_resort()
            }
        },
    }
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

/// An error's code as C's int. Only a server's auth rejection can carry a code beyond int; it is
/// reported as 9004, while the error's JSON keeps the server's number.
pub(super) fn c_code(error: &Error) -> c_int {
    c_int::try_from(error.code()).unwrap_or(code::MALFORMED_REPLY as c_int)
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
