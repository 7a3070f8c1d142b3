//! The C ABI. Every export converts its arguments, calls the core and converts the result inside
//! the panic boundary for its return kind (`boundary`), which also keeps the thread's last error:
//! set by every failing call, cleared by every successful one except those that read it or free
//! strings. Handles are integers resolved through a registry and never reused, so a closed or
//! made-up handle is a clean error rather than a dangling pointer. Strings handed out are
//! recorded until `mb_free` takes them back (`strings`). The registry is a B-tree because its
//! nodes are referenced from their start, so leak checkers see it as reachable at exit (a hash
//! table's interior pointer shows up in valgrind as "possibly lost").

mod boundary;
mod strings;
mod tokens;

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_longlong, CStr};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::call_io::CancelToken;
use crate::client::Client;
use crate::config::Config;
use crate::error::Error;

/// One handle: its client, and the client's cancel token, reachable without the client's lock
/// so that `mb_cancel` and `mb_discard` never wait for a call in progress.
struct Entry {
    /// `None` once closed: a call that found the handle just before `mb_close` removed it still
    /// sees the close when it gets the lock, instead of reconnecting a released client.
    client: Mutex<Option<Client>>,
    cancel: Arc<CancelToken>,
}

type Shared = Arc<Entry>;

fn registry() -> MutexGuard<'static, BTreeMap<c_longlong, Shared>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<c_longlong, Shared>>> = OnceLock::new();
    lock(REGISTRY.get_or_init(Default::default))
}

static NEXT_HANDLE: AtomicI64 = AtomicI64::new(1);

/// The registry and string table hold no invariant a panic could break half-way, so a poisoned
/// lock is simply taken over.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A client whose call panicked may have sent a request without reading its reply; its
/// connection is dropped so that the next call starts clean.
fn lock_client(client: &Mutex<Option<Client>>) -> MutexGuard<'_, Option<Client>> {
    match client.lock() {
        Ok(guard) => guard,
        Err(poisoned) => {
            let mut guard = poisoned.into_inner();
            if let Some(client) = guard.as_mut() {
                client.drop_connection();
            }
            client.clear_poison();
            guard
        }
    }
}

/// Runs `call` on the open client behind `handle`.
fn with_client<T>(handle: c_longlong, call: impl FnOnce(&mut Client) -> T) -> Result<T, Error> {
    let shared = lookup(handle)?;
    let mut guard = lock_client(&shared.client);
    if shared.cancel.is_discarded() {
        // Discarded while this call waited for the lock: the handle is gone, and the client
        // goes with it (without a word to the server, see Client's Drop).
        guard.take();
        return Err(Error::ClosedHandle);
    }
    let client = guard.as_mut().ok_or(Error::ClosedHandle)?;
    boundary::forced_panic_point("with_client");
    Ok(call(client))
}

fn lookup(handle: c_longlong) -> Result<Shared, Error> {
    registry().get(&handle).cloned().ok_or(Error::ClosedHandle)
}

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

fn register(client: Client) -> c_longlong {
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    let cancel = client.canceller();
    registry().insert(
        handle,
        Arc::new(Entry {
            client: Mutex::new(Some(client)),
            cancel,
        }),
    );
    handle
}

/// Creates a client from a JSON config object and returns its handle (> 0). Nothing is sent
/// until the first call that needs the server. Returns 0 when the config or keys are refused
/// (9005, 9006); the last error then tells why.
///
/// Config keys: `host`, `login`, `password`, `key1`, `key2` (strings, required), `port` (default
/// 7403), `connect_timeout_ms` and `io_timeout_ms` (default 5000), `call_timeout_ms` (default
/// 30000: the whole call, however slowly the reply trickles), `max_frame_bytes` (default
/// 67108864), `php_floats` (default false: when true, every non-integer number of a value is
/// rewritten as PHP's `json_encode` writes that double; integers stay byte-identical),
/// `persistent` (default false: hand the connection to the process-wide pool on close) with
/// `persistent_id` (default ""), `pool_max_idle` (4 per identity), `pool_max_idle_total` (64) and
/// `pool_idle_timeout_ms` (60000). Unknown keys and wrong types are refused.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mb_connect(config_json: *const c_char) -> c_longlong {
    boundary::handle("mb_connect", || {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let config = unsafe { text_arg(config_json, "config_json") }?;
        Config::from_json(config)
            .and_then(Client::new)
            .map(register)
    })
}

/// The code of this thread's last error: 0 when the last call (other than mb_last_error,
/// mb_last_error_code and mb_free, which leave it alone) succeeded or no call failed yet.
/// A server's auth rejection code that does not fit in int reads as 9004. 9008 is also what a
/// contained panic in this function returns (it then becomes the last error, and mb_last_error()
/// says "panic in mb_last_error_code"); either way it is a defect to report.
#[no_mangle]
pub extern "C" fn mb_last_error_code() -> c_int {
    boundary::keeping_last_error::<boundary::Code>("mb_last_error_code", || {
        boundary::last_error(|error| error.map_or(0, boundary::c_code))
    })
}

/// The JSON text of this thread's last error, `{"return":..,"result":..,"code":N}` (or the
/// server's own text when it refused the login), or NULL when mb_last_error_code() is 0.
/// NULL is also what a contained panic in this function returns: mb_last_error_code() is then
/// 9008 instead of 0, which tells the two apart. Free the result with `mb_free`.
#[no_mangle]
pub extern "C" fn mb_last_error() -> *mut c_char {
    boundary::keeping_last_error::<boundary::Text>("mb_last_error", || {
        boundary::last_error(|error| error.map(Error::to_json))
    })
}

/// Sends `path` with `value_json` (NULL to read) and returns the reply: the server's text exactly
/// as decrypted, whatever its code (the call succeeded), or on failure the library's JSON error
/// `{"return":..,"result":..,"code":N}` with N != 0, which is also the last error. Never returns
/// NULL. Free the result with `mb_free`. Connects and authenticates first when needed, also after
/// the server dropped an idle connection; a request whose connection breaks after sending is
/// reported, never resent. Calls on one handle from several threads are serialized.
///
/// # Safety
/// `path` and `value_json` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn mb_process(
    handle: c_longlong,
    path: *const c_char,
    value_json: *const c_char,
) -> *mut c_char {
    boundary::reply("mb_process", || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        unsafe { process_on(handle, path, value_json, 0) }
    })
}

/// `mb_process`, also cancelled by `token`, from `mb_token_new` (0: none, exactly
/// `mb_process`). When the token is already cancelled as the call starts (also after waiting
/// for another thread's call on the handle), nothing is sent and the reply is error 9011; when
/// it is cancelled during the call, the call stops as `mb_cancel` stops it. An unknown token is
/// error 9005, and nothing is sent.
///
/// # Safety
/// `path` and `value_json` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn mb_process_with_token(
    handle: c_longlong,
    path: *const c_char,
    value_json: *const c_char,
    token: c_longlong,
) -> *mut c_char {
    boundary::reply("mb_process_with_token", || {
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        unsafe { process_on(handle, path, value_json, token) }
    })
}

/// What `mb_process` and `mb_process_with_token` do; `token` 0 is none.
///
/// # Safety
/// `path` and `value_json` are NULL or NUL-terminated strings that outlive the call.
unsafe fn process_on(
    handle: c_longlong,
    path: *const c_char,
    value_json: *const c_char,
    token: c_longlong,
) -> Result<String, Error> {
    // SAFETY: the caller's promise, passed on.
    let path = unsafe { text_arg(path, "path") }?;
    // SAFETY: as for `path`.
    let value = unsafe { optional_text_arg(value_json, "value_json") }?;
    if token == 0 {
        return with_client(handle, |client| client.process(path, value))?;
    }
    let token = tokens::find(token)?;
    with_client(handle, |client| client.process_with(path, value, &token))?
}

/// 1 when the server is reachable and accepts the login (connecting if needed). 0 when it is
/// not; the last error says why (the connect errno, 9001, 6, the server's refusal...). -1 when
/// the check could not be made: an unknown or closed handle (9007), or 9008: a defect inside the
/// library, including a contained panic.
#[no_mangle]
pub extern "C" fn mb_check_connection(handle: c_longlong) -> c_int {
    boundary::probe("mb_check_connection", || {
        with_client(handle, Client::ensure_connected)?
    })
}

/// Says DISCONNECT and closes the socket; the handle stays valid and the next call connects
/// again. A persistent client hands the connection to the pool instead. Returns 0, or the error's code (9007 for an unknown or closed handle).
#[no_mangle]
pub extern "C" fn mb_disconnect(handle: c_longlong) -> c_int {
    boundary::status("mb_disconnect", || with_client(handle, Client::disconnect))
}

/// Disconnects and releases the handle; later use of it gets error 9007. A persistent client's
/// connection goes to the pool instead of saying DISCONNECT. Waits for a call in
/// progress on another thread. Returns 0, or the error's code (9007 when the handle is unknown or
/// already closed).
#[no_mangle]
pub extern "C" fn mb_close(handle: c_longlong) -> c_int {
    boundary::status("mb_close", || release(handle, Client::disconnect))
}

/// Releases the handle at once, without saying DISCONNECT and without waiting for anything:
/// for finalizers and garbage collectors, which must never block on the network. A call in
/// progress on the handle in another thread is cancelled (it returns 9011 within about 20 ms)
/// and its connection closed when it returns; otherwise the socket is closed now, or, for a
/// persistent client, handed to the pool. Only this process's descriptor is closed, so a
/// connection shared with a forked process stays intact there. Later use of the handle gets error 9007. Returns 0, or the error's code (9007 when the
/// handle is unknown or already closed).
#[no_mangle]
pub extern "C" fn mb_discard(handle: c_longlong) -> c_int {
    boundary::status("mb_discard", || {
        let shared = registry().remove(&handle).ok_or(Error::ClosedHandle)?;
        shared.cancel.discard();
        // Free now if no call holds the client; otherwise the call, cancelled, lets go of it
        // within moments and the last reference drops it, without DISCONNECT.
        let idle = match shared.client.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        };
        if let Some(mut guard) = idle {
            match guard.take() {
                Some(mut client) => client.release(),
                None => return Err(Error::ClosedHandle),
            }
        }
        Ok(())
    })
}

/// Cancels the call in progress on `handle` from any thread: that call returns error 9011
/// within about 20 ms (one blocked in the TCP connect itself, when the connect ends, at most
/// `connect_timeout_ms`), and its connection is dropped; the request may or may not have reached
/// the server and is never resent. Does not wait, and does nothing to a call that starts later;
/// the handle stays usable. Cancelling only sets a flag in this process, so a connection shared
/// with a forked process is not touched. Returns 0, or the error's code (9007 when the handle is
/// unknown or closed).
#[no_mangle]
pub extern "C" fn mb_cancel(handle: c_longlong) -> c_int {
    boundary::status("mb_cancel", || {
        lookup(handle)?.cancel.cancel();
        Ok(())
    })
}

/// A new cancel token (> 0) for `mb_process_with_token`. Cancelling it stops exactly the calls
/// given it, whether they have started yet or not, where `mb_cancel` stops whatever call the
/// handle runs at that moment: a binding cancels one call without any risk of reaching the
/// next. Thread-safe; free it with `mb_token_free`. 0 only on a contained panic (9008).
#[no_mangle]
pub extern "C" fn mb_token_new() -> c_longlong {
    boundary::handle("mb_token_new", || Ok(tokens::issue()))
}

/// Cancels `token` for good, from any thread, without waiting: a call given it that is in
/// progress returns error 9011 within about 20 ms (as with `mb_cancel`), and one that starts
/// later returns 9011 at once without sending anything. Only a flag in this process is set.
/// Returns 0, or 9005 when the token is unknown (never issued, or freed).
#[no_mangle]
pub extern "C" fn mb_token_cancel(token: c_longlong) -> c_int {
    boundary::status("mb_token_cancel", || {
        tokens::find(token)?.cancel();
        Ok(())
    })
}

/// Forgets `token`; a call still running with it goes on watching it until it returns. Returns
/// 0, or 9005 when the token is unknown (never issued, or already freed).
#[no_mangle]
pub extern "C" fn mb_token_free(token: c_longlong) -> c_int {
    boundary::status("mb_token_free", || tokens::forget(token))
}

/// Takes the client out of the registry, says goodbye with `farewell`, and drops it.
fn release(handle: c_longlong, farewell: fn(&mut Client)) -> Result<(), Error> {
    let removed = registry().remove(&handle);
    let mut client = removed
        .and_then(|shared| lock_client(&shared.client).take())
        .ok_or(Error::ClosedHandle)?;
    farewell(&mut client);
    Ok(())
}

/// Frees a string returned by this library. NULL is ignored, and so is a pointer that is not
/// currently issued (never issued by this library, or already freed). A currently issued pointer
/// is freed. A stale pointer whose address was reused for a newer string of this library cannot
/// be told from that newer string, which it would free: free each string exactly once. Leaves
/// the last error as it was.
///
/// # Safety
/// `text` is NULL or any pointer; only pointers currently issued by this library are
/// dereferenced, and nothing may use such a pointer after this call.
#[no_mangle]
pub unsafe extern "C" fn mb_free(text: *mut c_char) {
    boundary::keeping_last_error::<boundary::Nothing>("mb_free", || {
        // SAFETY: the caller gives up `text` with this call.
        unsafe { strings::take_back(text) };
        Ok(())
    })
}

/// The library version, e.g. "0.2.0". Free the result with `mb_free`. NULL only on a contained
/// panic (9008).
#[no_mangle]
pub extern "C" fn mb_version() -> *mut c_char {
    boundary::text("mb_version", || {
        Ok(Some(env!("CARGO_PKG_VERSION").to_string()))
    })
}

/// The persistent-connection pool as JSON: `idle` (connections waiting in all), `identities`
/// (distinct identities they serve), and counts since the process started or forked:
/// `returned`, `reused`, `closed_idle_timeout`, `closed_over_limit`, `closed_dead`,
/// `closed_by_clear`, `forgotten_after_fork`. Closes expired connections (with DISCONNECT)
/// first. Thread-safe. Free the result with `mb_free`. NULL only on a contained panic (9008).
#[no_mangle]
pub extern "C" fn mb_pool_stats() -> *mut c_char {
    boundary::text("mb_pool_stats", || Ok(Some(crate::pool::stats())))
}

/// Closes every idle pooled connection with DISCONNECT and returns how many; connections in
/// use by open handles are not touched. Thread-safe. -1 only on a contained panic (9008).
#[no_mangle]
pub extern "C" fn mb_pool_clear() -> c_longlong {
    boundary::count("mb_pool_clear", || {
        Ok(c_longlong::try_from(crate::pool::clear()).unwrap_or(c_longlong::MAX))
    })
}

/// The string kept under `name` by `mb_worker_cache_set`, or NULL when there is none (the last
/// error is then 0) or `name` is NULL or not UTF-8 (9005). Such strings live as long as the
/// process (a php-fpm worker), across requests. Free the result with `mb_free`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mb_worker_cache_get(name: *const c_char) -> *mut c_char {
    boundary::text("mb_worker_cache_get", || {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let name = unsafe { text_arg(name, "name") }?;
        Ok(crate::worker_cache::get(name))
    })
}

/// Keeps `value` under `name` for the life of the process, or forgets `name` when `value` is
/// NULL. At most 256 names (beyond that the first in name order goes) of at most 64 KiB with
/// their value. Returns 0, or 9005 for a NULL or non-UTF-8 name or value, or a pair too large.
///
/// # Safety
/// `name` and `value` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn mb_worker_cache_set(name: *const c_char, value: *const c_char) -> c_int {
    boundary::status("mb_worker_cache_set", || {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code;
    use std::ffi::CString;

    fn take(ptr: *mut c_char) -> String {
        assert!(!ptr.is_null());
        // SAFETY: a non-NULL pointer from this library is a NUL-terminated string it issued,
        // read here before it is released exactly once.
        let text = unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_string();
        // SAFETY: `ptr` was issued by this library and is not used again.
        unsafe { mb_free(ptr) };
        text
    }

    fn code_of(json: &str) -> i64 {
        crate::error::reply_code(json).unwrap()
    }

    fn last_code() -> i64 {
        i64::from(mb_last_error_code())
    }

    /// A port on which nothing listens, so connecting is refused at once.
    fn dead_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn config_json(port: u16) -> CString {
        CString::new(format!(
            r#"{{"host":"127.0.0.1","port":{port},"login":"l","password":"p","key1":"{}","key2":"{}","connect_timeout_ms":2000}}"#,
            crate::protocol::crypto::tests::KEY256,
            crate::protocol::crypto::tests::IV,
        ))
        .unwrap()
    }

    /// A handle whose server refuses connections.
    fn offline_handle() -> c_longlong {
        // SAFETY: a NUL-terminated string that outlives the call.
        let handle = unsafe { mb_connect(config_json(dead_port()).as_ptr()) };
        assert!(handle > 0);
        handle
    }

    fn process(handle: c_longlong, path: &str) -> String {
        let path = CString::new(path).unwrap();
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        take(unsafe { mb_process(handle, path.as_ptr(), std::ptr::null()) })
    }

    #[test]
    fn null_and_bad_config_give_zero_and_a_reason() {
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        assert_eq!(unsafe { mb_connect(std::ptr::null()) }, 0);
        assert_eq!(code_of(&take(mb_last_error())), code::INVALID_ARGUMENT);
        assert_eq!(last_code(), code::INVALID_ARGUMENT);
        let bad =
            CString::new(r#"{"host":"h","login":"l","password":"p","key1":"AAEC","key2":"x"}"#)
                .unwrap();
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        assert_eq!(unsafe { mb_connect(bad.as_ptr()) }, 0);
        assert_eq!(code_of(&take(mb_last_error())), code::INVALID_KEY);
        assert_eq!(last_code(), code::INVALID_KEY);
        let invalid_utf8 = b"{\"host\":\"\xff\"}\0";
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        assert_eq!(unsafe { mb_connect(invalid_utf8.as_ptr().cast()) }, 0);
        assert!(take(mb_last_error()).contains("UTF-8"));
        assert_eq!(last_code(), code::INVALID_ARGUMENT);
    }

    #[test]
    fn closed_and_unknown_handles_are_refused_cleanly() {
        let reply = process(-5, "API.GetClients");
        assert_eq!(code_of(&reply), code::CLOSED_HANDLE);
        assert_eq!(last_code(), code::CLOSED_HANDLE);
        assert_eq!(take(mb_last_error()), reply);
        assert_eq!(mb_check_connection(0), -1);
        assert_eq!(last_code(), code::CLOSED_HANDLE);
        assert_eq!(mb_close(123_456_789), code::CLOSED_HANDLE as c_int);
        assert_eq!(last_code(), code::CLOSED_HANDLE);
        assert_eq!(mb_disconnect(123_456_789), code::CLOSED_HANDLE as c_int);
        assert_eq!(last_code(), code::CLOSED_HANDLE);
        assert_eq!(mb_discard(123_456_789), code::CLOSED_HANDLE as c_int);
        assert_eq!(last_code(), code::CLOSED_HANDLE);
    }

    #[test]
    fn pool_and_worker_cache_exports_follow_the_error_contract() {
        let stats = take(mb_pool_stats());
        assert!(stats.contains("\"idle\":"), "{stats}");
        assert_eq!(last_code(), code::OK);
        assert!(mb_pool_clear() >= 0);
        // SAFETY: NULL is allowed.
        assert!(unsafe { mb_worker_cache_get(std::ptr::null()) }.is_null());
        assert_eq!(last_code(), code::INVALID_ARGUMENT);
        let name = CString::new("ffi-contract-test").unwrap();
        let value = CString::new("v").unwrap();
        // SAFETY: NUL-terminated strings that outlive the call.
        unsafe {
            assert!(mb_worker_cache_get(name.as_ptr()).is_null());
            assert_eq!(last_code(), code::OK, "absent is not an error");
            assert_eq!(mb_worker_cache_set(name.as_ptr(), value.as_ptr()), 0);
            assert_eq!(take(mb_worker_cache_get(name.as_ptr())), "v");
            assert_eq!(mb_worker_cache_set(name.as_ptr(), std::ptr::null()), 0);
            assert!(mb_worker_cache_get(name.as_ptr()).is_null());
            assert_eq!(
                mb_worker_cache_set(std::ptr::null(), value.as_ptr()),
                code::INVALID_ARGUMENT as c_int
            );
        }
        let big = CString::new("x".repeat(crate::worker_cache::MAX_BYTES)).unwrap();
        // SAFETY: NUL-terminated strings that outlive the call.
        let refused = unsafe { mb_worker_cache_set(name.as_ptr(), big.as_ptr()) };
        assert_eq!(refused, code::INVALID_ARGUMENT as c_int);
        assert!(
            !take(mb_last_error()).contains("xxxx"),
            "the value stays out of the error"
        );
    }

    #[test]
    fn a_success_clears_the_last_error_and_reading_or_freeing_keeps_it() {
        // SAFETY: NULL is allowed.
        assert_eq!(unsafe { mb_connect(std::ptr::null()) }, 0);
        let first = take(mb_last_error());
        assert_eq!(
            take(mb_last_error()),
            first,
            "reading twice gives the same text"
        );
        assert_eq!(last_code(), code::INVALID_ARGUMENT);
        assert_eq!(last_code(), code::INVALID_ARGUMENT);
        let version = mb_version();
        assert_eq!(
            last_code(),
            code::OK,
            "mb_version succeeded, so the error is cleared"
        );
        assert!(mb_last_error().is_null());
        assert_eq!(mb_close(-1), code::CLOSED_HANDLE as c_int);
        // SAFETY: `version` was issued by this library and is not used again.
        unsafe { mb_free(version) };
        assert_eq!(
            last_code(),
            code::CLOSED_HANDLE,
            "mb_free leaves the last error alone"
        );

        let handle = offline_handle();
        assert_eq!(last_code(), code::OK);
        assert_eq!(mb_disconnect(handle), 0);
        assert_eq!(mb_close(handle), 0);
        assert_eq!(last_code(), code::OK);
    }

    #[test]
    fn an_offline_server_is_0_with_the_reason_and_a_closed_handle_is_minus_1() {
        let handle = offline_handle();
        assert_eq!(mb_check_connection(handle), 0);
        assert_eq!(last_code(), i64::from(libc::ECONNREFUSED));
        let reply = process(handle, "API.GetClients");
        assert_eq!(code_of(&reply), i64::from(libc::ECONNREFUSED));
        assert_eq!(take(mb_last_error()), reply);
        assert_eq!(mb_close(handle), 0);
        assert_eq!(mb_check_connection(handle), -1);
        assert_eq!(last_code(), code::CLOSED_HANDLE);
    }

    /// Forces a panic in `export`'s next call on this thread and checks that it is 9008 in the
    /// last error, text and code alike.
    fn expect_contained_panic<T>(export: &'static str, call: impl FnOnce() -> T) -> T {
        boundary::panic_at(export);
        let result = call();
        assert_eq!(last_code(), code::INTERNAL, "{export}");
        let text = take(mb_last_error());
        assert_eq!(code_of(&text), code::INTERNAL, "{export}: {text}");
        assert!(text.contains(export), "{text}");
        result
    }

    #[test]
    fn every_export_reports_a_contained_panic_as_9008_through_its_own_failure_value() {
        let config = config_json(dead_port());
        let connected = expect_contained_panic("mb_connect", || {
            // SAFETY: a NUL-terminated string that outlives the call.
            unsafe { mb_connect(config.as_ptr()) }
        });
        assert_eq!(connected, 0);

        let handle = offline_handle();
        let reply = expect_contained_panic("mb_process", || process(handle, "API.GetClients"));
        assert_eq!(code_of(&reply), code::INTERNAL);
        assert_eq!(
            expect_contained_panic("mb_check_connection", || mb_check_connection(handle)),
            -1
        );
        assert_eq!(
            expect_contained_panic("mb_disconnect", || mb_disconnect(handle)),
            code::INTERNAL as c_int
        );
        assert_eq!(
            expect_contained_panic("mb_close", || mb_close(handle)),
            code::INTERNAL as c_int
        );
        assert_eq!(
            expect_contained_panic("mb_discard", || mb_discard(handle)),
            code::INTERNAL as c_int
        );
        assert_eq!(
            expect_contained_panic("mb_cancel", || mb_cancel(handle)),
            code::INTERNAL as c_int
        );
        assert_eq!(expect_contained_panic("mb_token_new", || mb_token_new()), 0);
        let token = mb_token_new();
        assert_eq!(
            expect_contained_panic("mb_token_cancel", || mb_token_cancel(token)),
            code::INTERNAL as c_int
        );
        let path = CString::new("API.GetClients").unwrap();
        let reply = expect_contained_panic("mb_process_with_token", || {
            // SAFETY: a NUL-terminated string that outlives the call; NULL reads.
            take(unsafe { mb_process_with_token(handle, path.as_ptr(), std::ptr::null(), token) })
        });
        assert_eq!(code_of(&reply), code::INTERNAL);
        assert_eq!(
            expect_contained_panic("mb_token_free", || mb_token_free(token)),
            code::INTERNAL as c_int
        );
        // The token outlived the panics, uncancelled.
        assert_eq!(mb_token_cancel(token), 0);
        assert_eq!(mb_token_free(token), 0);
        assert!(expect_contained_panic("mb_version", || mb_version()).is_null());
        assert!(expect_contained_panic("mb_pool_stats", || mb_pool_stats()).is_null());
        assert_eq!(
            expect_contained_panic("mb_pool_clear", || mb_pool_clear()),
            -1
        );
        let name = CString::new("ffi-test").unwrap();
        assert!(expect_contained_panic("mb_worker_cache_get", || {
            // SAFETY: a NUL-terminated string that outlives the call.
            unsafe { mb_worker_cache_get(name.as_ptr()) }
        })
        .is_null());
        assert_eq!(
            expect_contained_panic("mb_worker_cache_set", || {
                // SAFETY: NUL-terminated strings that outlive the call.
                unsafe { mb_worker_cache_set(name.as_ptr(), name.as_ptr()) }
            }),
            code::INTERNAL as c_int
        );
        assert!(expect_contained_panic("mb_last_error", || mb_last_error()).is_null());
        assert_eq!(
            expect_contained_panic("mb_last_error_code", || mb_last_error_code()),
            code::INTERNAL as c_int
        );
        let version = mb_version();
        expect_contained_panic("mb_free", || {
            // SAFETY: `version` was issued by this library; the forced panic leaves it issued.
            unsafe { mb_free(version) }
        });
        assert!(
            take(version).starts_with("0."),
            "the string survived the panicked free"
        );

        // The handle is intact: the panics happened before any of those calls touched it.
        assert_eq!(mb_close(handle), 0);
        assert_eq!(last_code(), code::OK);
    }

    #[test]
    fn a_panic_while_holding_a_client_leaves_the_handle_usable() {
        let handle = offline_handle();
        boundary::panic_at("with_client");
        let reply = process(handle, "API.GetClients");
        assert_eq!(code_of(&reply), code::INTERNAL);
        assert_eq!(last_code(), code::INTERNAL);
        let reply = process(handle, "API.GetClients");
        assert_eq!(code_of(&reply), i64::from(libc::ECONNREFUSED));
        boundary::panic_at("with_client");
        assert_eq!(mb_check_connection(handle), -1);
        assert_eq!(last_code(), code::INTERNAL);
        assert_eq!(mb_check_connection(handle), 0);
        assert_eq!(last_code(), i64::from(libc::ECONNREFUSED));
        assert_eq!(mb_close(handle), 0);
    }

    #[test]
    fn a_poisoned_client_is_reused_with_a_fresh_connection() {
        let config = Config::new(
            "127.0.0.1",
            1,
            "l",
            "p",
            crate::protocol::crypto::tests::KEY256,
            crate::protocol::crypto::tests::IV,
        );
        let shared = Arc::new(Mutex::new(Some(Client::new(config).unwrap())));
        let poisoner = Arc::clone(&shared);
        let _ = std::thread::spawn(move || {
            let _guard = poisoner.lock().unwrap();
            panic!("deliberate");
        })
        .join();
        assert!(shared.is_poisoned());
        assert!(!lock_client(&shared).as_ref().unwrap().is_connected());
        assert!(!shared.is_poisoned());
    }

    #[test]
    fn free_releases_issued_pointers_and_ignores_null_and_foreign_ones() {
        let kept = mb_version();
        let freed = mb_version();
        assert!(strings::is_issued(kept) && strings::is_issued(freed));
        // SAFETY: a string this library issued, freed once and not used afterwards.
        unsafe { mb_free(freed) };
        // Freed once, it is no longer issued, so mb_free would ignore it. It is not freed a second
        // time here: other tests in this binary issue strings concurrently, and the allocator may
        // already have given its address to one of them (the case no check can detect).
        assert!(!strings::is_issued(freed));

        // A live buffer of the caller's is never in the table: mb_free leaves it, and every issued
        // string, alone.
        let mut local = *b"not ours\0";
        let foreign: *mut c_char = local.as_mut_ptr().cast();
        assert!(!strings::is_issued(foreign));
        // SAFETY: NULL and a foreign pointer, which the export ignores without dereferencing.
        unsafe {
            mb_free(std::ptr::null_mut());
            mb_free(foreign);
        }
        assert_eq!(&local, b"not ours\0");
        assert!(!strings::is_issued(foreign));
        assert!(
            strings::is_issued(kept),
            "an unrelated issued string stays issued"
        );
        assert_eq!(take(kept), env!("CARGO_PKG_VERSION"));
        assert!(!strings::is_issued(kept));
    }
}
