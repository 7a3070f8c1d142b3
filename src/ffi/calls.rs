//! The calls that talk to the core on a handle: a request, and the "is it online" check.

use std::ffi::{c_char, c_int, c_longlong};

use super::boundary::{self, LastError};
use super::cancel;
use super::handles::with_client;
use super::{optional_text_arg, text_arg};
use crate::client::Client;

/// Sends `path` with `value_json` (NULL to read) and writes the reply to `*reply_out` (free it
/// with `mb_free`). Returns 0 when the server replied, whatever the reply's own `code`:
/// `*reply_out` is then the server's text exactly as decrypted, NUL-terminated: its bytes as
/// they came, which need not be UTF-8 (a core may answer in CP1251; only a reply holding a NUL
/// byte is refused, 9004). Otherwise returns the error's
/// code, and `*reply_out` is the library's error JSON `{"return":..,"result":..,"code":N}`
/// (for a refused login, the server's own reply with `result` added): what the original PHP
/// client returns for that failure. `*reply_out` is never left unset unless `reply_out` is NULL
/// (error 9005).
///
/// `cancel_token` is 0, or a token from `mb_cancel_token_new` that cancels this call (9011):
/// at once, sending nothing, when it is already cancelled as the call starts (also after
/// waiting for another thread's call on the handle); within about 20 ms when it is cancelled
/// during the call. An unknown token is error 9005, and nothing is sent.
///
/// Connects and authenticates first when needed, also after the server dropped an idle
/// connection; a request whose connection breaks after sending is reported, never resent.
/// Calls on one handle from several threads are serialized.
///
/// # Safety
/// `path` and `value_json` are NULL or NUL-terminated strings; `reply_out` is NULL or valid for
/// writing one `char *`.
#[no_mangle]
pub unsafe extern "C" fn mb_process(
    handle: c_longlong,
    path: *const c_char,
    value_json: *const c_char,
    cancel_token: c_longlong,
    reply_out: *mut *mut c_char,
) -> c_int {
    if reply_out.is_null() {
        return boundary::status("mb_process", LastError::ClearedOnSuccess, || {
            Err(crate::Error::InvalidArgument("reply_out is NULL".into()))
        });
    }
    let write = |reply: *mut c_char| {
        // SAFETY: `reply_out` is not NULL, and the caller promises it is valid for writing.
        unsafe { reply_out.write(reply) }
    };
    boundary::reply("mb_process", write, || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let path = unsafe { text_arg(path, "path") }?;
        // SAFETY: as for `path`.
        let value = unsafe { optional_text_arg(value_json, "value_json") }?;
        let token = cancel::find(cancel_token)?;
        with_client(handle, |client| {
            client.process_bytes(path, value, token.as_ref())
        })?
    })
}

/// Returns 0 when the server is reachable and accepts the login (connecting and authenticating
/// if needed), otherwise the reason's code: an OS errno from the connect, 9009, 9001, 6, the
/// server's refusal, 9007 for an unknown or closed handle, 9011 when `cancel_token` (0 for
/// none, as for `mb_process`) was cancelled.
#[no_mangle]
pub extern "C" fn mb_check_connection(handle: c_longlong, cancel_token: c_longlong) -> c_int {
    boundary::status("mb_check_connection", LastError::ClearedOnSuccess, || {
        let token = cancel::find(cancel_token)?;
        with_client(handle, |client: &mut Client| {
            client.ensure_connected(token.as_ref())
        })?
    })
}
