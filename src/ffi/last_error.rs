//! The text of this thread's last failure.

use std::ffi::{c_char, c_int};

use super::boundary::{self, LastError};
use super::out_arg;
use super::strings::{c_text, give};

/// Writes this thread's last error as one line of text to `*message_out` (free it with
/// `mb_free`), for example "Can`t connect! (code 111): 127.0.0.1:1: Connection refused", or NULL
/// when the last call on this thread returned 0. The text never holds a password or a key.
/// Leaves the last error as it was.
///
/// # Safety
/// `message_out` is NULL (error 9005) or valid for writing one `char *`.
#[no_mangle]
pub unsafe extern "C" fn mb_last_error_message(message_out: *mut *mut c_char) -> c_int {
    boundary::status("mb_last_error_message", LastError::Kept, || {
        // SAFETY: the caller promises NULL or a writable char *.
        let out = unsafe { out_arg(message_out, "message_out") }?;
        let message = boundary::last_error(|error| error.map(ToString::to_string))?;
        *out = match message {
            Some(text) => give(c_text(text)?),
            None => std::ptr::null_mut(),
        };
        Ok(())
    })
}
