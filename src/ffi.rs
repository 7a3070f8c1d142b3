//! The C ABI. Handles are integers resolved through a registry and never reused, so a closed or
//! made-up handle is a clean error rather than a dangling pointer. Every string handed out is
//! recorded until `mb_free` takes it back, so freeing twice or freeing a foreign pointer is ignored
//! instead of corrupting the heap. Every entry point catches panics: unwinding into php-fpm or the
//! .NET host would abort it. The tables are B-trees because their nodes are referenced from their
//! start, so leak checkers see them as reachable at exit (a hash table's interior pointer shows up
//! in valgrind as "possibly lost").

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_char, c_int, c_longlong, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::client::Client;
use crate::config::Config;
use crate::error::{code, Error};

/// `None` once closed: a call that found the handle just before `mb_close` removed it still
/// sees the close when it gets the lock, instead of reconnecting a released client.
type Shared = Arc<Mutex<Option<Client>>>;

fn registry() -> MutexGuard<'static, BTreeMap<c_longlong, Shared>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<c_longlong, Shared>>> = OnceLock::new();
    lock(REGISTRY.get_or_init(Default::default))
}

fn issued_strings() -> MutexGuard<'static, BTreeSet<usize>> {
    static ISSUED: OnceLock<Mutex<BTreeSet<usize>>> = OnceLock::new();
    lock(ISSUED.get_or_init(Default::default))
}

static NEXT_HANDLE: AtomicI64 = AtomicI64::new(1);

thread_local! {
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

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
    let mut guard = lock_client(&shared);
    guard.as_mut().map(call).ok_or(Error::ClosedHandle)
}

fn lookup(handle: c_longlong) -> Result<Shared, Error> {
    registry().get(&handle).cloned().ok_or(Error::ClosedHandle)
}

fn give(text: String) -> *mut c_char {
    let owned = CString::new(text).unwrap_or_else(|_| {
        let e =
            Error::MalformedReply("the reply holds a NUL byte, which C text cannot carry".into());
        CString::new(e.to_json()).expect("error JSON escapes NUL")
    });
    let ptr = owned.into_raw();
    issued_strings().insert(ptr as usize);
    ptr
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

fn guarded<T>(on_panic: impl FnOnce() -> T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| on_panic())
}

fn set_last_error(error: Option<String>) {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = error);
}

/// Creates a client from a JSON config object and returns its handle (> 0). Nothing is sent
/// until the first call that needs the server. Returns 0 when the config or keys are refused;
/// `mb_last_error` then tells why.
///
/// Config keys: `host`, `login`, `password`, `key1`, `key2` (strings, required), `port` (default
/// 7403), `connect_timeout_ms` and `io_timeout_ms` (default 5000), `max_frame_bytes` (default
/// 67108864), `persistent` (default false: hand the connection to the process-wide pool on
/// close) with `persistent_id` (default ""), `pool_max_idle` (4 per identity),
/// `pool_max_idle_total` (64) and `pool_idle_timeout_ms` (60000). Unknown keys and wrong types
/// are refused.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mb_connect(config_json: *const c_char) -> c_longlong {
    guarded(
        || {
            set_last_error(Some(
                Error::Internal("panic in mb_connect".into()).to_json(),
            ));
            0
        },
        || {
            // SAFETY: the caller promises NULL or a NUL-terminated string.
            let created = unsafe { text_arg(config_json, "config_json") }
                .and_then(Config::from_json)
                .and_then(Client::new);
            match created {
                Ok(client) => {
                    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
                    registry().insert(handle, Arc::new(Mutex::new(Some(client))));
                    set_last_error(None);
                    handle
                }
                Err(e) => {
                    set_last_error(Some(e.to_json()));
                    0
                }
            }
        },
    )
}

/// The JSON error text of this thread's last failed `mb_connect`, or NULL when the last one
/// succeeded or none failed. Free the result with `mb_free`.
#[no_mangle]
pub extern "C" fn mb_last_error() -> *mut c_char {
    guarded(std::ptr::null_mut, || {
        LAST_ERROR
            .with(|slot| slot.borrow().clone())
            .map_or(std::ptr::null_mut(), give)
    })
}

/// Sends `path` with `value_json` (NULL to read) and returns the reply: the server's text exactly
/// as decrypted, or the library's JSON error `{"return":..,"result":..,"code":N}` with N != 0.
/// Never returns NULL. Free the result with `mb_free`. Connects and authenticates first when
/// needed, also after the server dropped an idle connection; a request whose connection breaks
/// after sending is reported, never resent. Calls on one handle from several threads are
/// serialized.
///
/// # Safety
/// `path` and `value_json` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn mb_process(
    handle: c_longlong,
    path: *const c_char,
    value_json: *const c_char,
) -> *mut c_char {
    guarded(
        || give(Error::Internal("panic in mb_process".into()).to_json()),
        || {
            let reply = (|| {
                // SAFETY: the caller promises NULL or NUL-terminated strings.
                let path = unsafe { text_arg(path, "path") }?;
                let value = if value_json.is_null() {
                    None
                } else {
                    // SAFETY: as for `path`.
                    Some(unsafe { text_arg(value_json, "value_json") }?)
                };
                with_client(handle, |client| client.process(path, value))?
            })();
            give(reply.unwrap_or_else(|e| e.to_json()))
        },
    )
}

/// 1 when the server is reachable and accepts the login (connecting if needed), 0 when not, -1
/// for an unknown or closed handle.
#[no_mangle]
pub extern "C" fn mb_check_connection(handle: c_longlong) -> c_int {
    guarded(
        || 0,
        || with_client(handle, |client| c_int::from(client.check_connection())).unwrap_or(-1),
    )
}

/// Says DISCONNECT and closes the socket; the handle stays valid and the next call connects
/// again. A persistent client hands the connection to the pool instead. Returns 0, or 9007 for an unknown or closed handle.
#[no_mangle]
pub extern "C" fn mb_disconnect(handle: c_longlong) -> c_int {
    guarded(
        || code::INTERNAL as c_int,
        || match with_client(handle, Client::disconnect) {
            Ok(()) => 0,
            Err(e) => e.code() as c_int,
        },
    )
}

/// Disconnects and releases the handle; later use of it gets error 9007. A persistent client's
/// connection goes to the pool instead of saying DISCONNECT. Waits for a call in
/// progress on another thread. Returns 0, or 9007 when the handle is unknown or already closed.
#[no_mangle]
pub extern "C" fn mb_close(handle: c_longlong) -> c_int {
    release(handle, Client::disconnect)
}

/// Releases the handle at once, without saying DISCONNECT and without waiting for the server:
/// for finalizers and garbage collectors, which must never block on the network. The socket is
/// just closed, or, for a persistent client, handed to the pool. Later use of the handle gets error 9007. Returns 0, or 9007 when the handle is
/// unknown or already closed.
#[no_mangle]
pub extern "C" fn mb_discard(handle: c_longlong) -> c_int {
    release(handle, Client::release)
}

/// Takes the client out of the registry, says goodbye with `farewell`, and drops it.
fn release(handle: c_longlong, farewell: fn(&mut Client)) -> c_int {
    guarded(
        || code::INTERNAL as c_int,
        || {
            let removed = registry().remove(&handle);
            match removed.and_then(|shared| lock_client(&shared).take()) {
                Some(mut client) => {
                    farewell(&mut client);
                    0
                }
                None => code::CLOSED_HANDLE as c_int,
            }
        },
    )
}

/// Frees a string returned by this library. NULL, and pointers this library did not hand out
/// or already took back, are ignored.
///
/// # Safety
/// `text` is NULL or any pointer; only pointers issued by this library are dereferenced.
#[no_mangle]
pub unsafe extern "C" fn mb_free(text: *mut c_char) {
    guarded(
        || (),
        || {
            if !text.is_null() && issued_strings().remove(&(text as usize)) {
                // SAFETY: the table held this address, so `give` made it with
                // `CString::into_raw` and nothing has freed it since: removing it from the table
                // makes this the only release.
                drop(unsafe { CString::from_raw(text) });
            }
        },
    )
}

/// The library version, e.g. "0.1.0". Free the result with `mb_free`.
#[no_mangle]
pub extern "C" fn mb_version() -> *mut c_char {
    guarded(std::ptr::null_mut, || {
        give(env!("CARGO_PKG_VERSION").to_string())
    })
}

/// The persistent-connection pool as JSON: `idle` (connections waiting in all), `identities`
/// (distinct identities they serve), and counts since the process started or forked:
/// `returned`, `reused`, `closed_idle_timeout`, `closed_over_limit`, `closed_dead`,
/// `closed_by_clear`, `forgotten_after_fork`. Closes expired connections (with DISCONNECT)
/// first. Thread-safe. Free the result with `mb_free`.
#[no_mangle]
pub extern "C" fn mb_pool_stats() -> *mut c_char {
    guarded(
        || give(Error::Internal("panic in mb_pool_stats".into()).to_json()),
        || give(crate::pool::stats()),
    )
}

/// Closes every idle pooled connection with DISCONNECT and returns how many; connections in
/// use by open handles are not touched. Thread-safe. Returns -1 on an internal failure.
#[no_mangle]
pub extern "C" fn mb_pool_clear() -> c_longlong {
    guarded(
        || -1,
        || c_longlong::try_from(crate::pool::clear()).unwrap_or(c_longlong::MAX),
    )
}

/// The string kept under `name` by `mb_worker_cache_set`, or NULL when there is none. Such
/// strings live as long as the process (a php-fpm worker), across requests. Free the result
/// with `mb_free`.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn mb_worker_cache_get(name: *const c_char) -> *mut c_char {
    guarded(std::ptr::null_mut, || {
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        match unsafe { text_arg(name, "name") } {
            Ok(name) => crate::worker_cache::get(name).map_or(std::ptr::null_mut(), give),
            Err(_) => std::ptr::null_mut(),
        }
    })
}

/// Keeps `value` under `name` for the life of the process, or forgets `name` when `value` is
/// NULL. At most 256 names (the oldest in name order goes first) of at most 64 KiB with their
/// value. Returns 0, or 9005 for a NULL or non-UTF-8 name or value, or a pair too large.
///
/// # Safety
/// `name` and `value` are NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn mb_worker_cache_set(name: *const c_char, value: *const c_char) -> c_int {
    guarded(
        || code::INTERNAL as c_int,
        || {
            let stored = (|| {
                // SAFETY: the caller promises NULL or NUL-terminated strings.
                let name = unsafe { text_arg(name, "name") }?;
                let value = if value.is_null() {
                    None
                } else {
                    // SAFETY: as for `name`.
                    Some(unsafe { text_arg(value, "value") }?)
                };
                Ok::<bool, Error>(crate::worker_cache::set(name, value))
            })();
            match stored {
                Ok(true) => 0,
                _ => code::INVALID_ARGUMENT as c_int,
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(ptr: *mut c_char) -> String {
        assert!(!ptr.is_null());
        // SAFETY: a non-NULL pointer from this library is a NUL-terminated string it issued,
        // read here before it is released exactly once.
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        let text = unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_string();
        // SAFETY: `ptr` was issued by this library and is not used again.
        unsafe { mb_free(ptr) };
        text
    }

    fn code_of(json: &str) -> i64 {
        crate::error::reply_code(json).unwrap()
    }

    #[test]
    fn null_and_bad_config_give_zero_and_a_reason() {
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        assert_eq!(unsafe { mb_connect(std::ptr::null()) }, 0);
        assert_eq!(code_of(&take(mb_last_error())), code::INVALID_ARGUMENT);
        let bad =
            CString::new(r#"{"host":"h","login":"l","password":"p","key1":"AAEC","key2":"x"}"#)
                .unwrap();
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        assert_eq!(unsafe { mb_connect(bad.as_ptr()) }, 0);
        assert_eq!(code_of(&take(mb_last_error())), code::INVALID_KEY);
        let invalid_utf8 = b"{\"host\":\"\xff\"}\0";
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        assert_eq!(unsafe { mb_connect(invalid_utf8.as_ptr().cast()) }, 0);
        assert!(take(mb_last_error()).contains("UTF-8"));
    }

    #[test]
    fn closed_and_unknown_handles_are_refused_cleanly() {
        let path = CString::new("API.GetClients").unwrap();
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        let reply = take(unsafe { mb_process(-5, path.as_ptr(), std::ptr::null()) });
        assert_eq!(code_of(&reply), code::CLOSED_HANDLE);
        assert_eq!(mb_check_connection(0), -1);
        assert_eq!(mb_close(123_456_789), code::CLOSED_HANDLE as c_int);
        assert_eq!(mb_disconnect(123_456_789), code::CLOSED_HANDLE as c_int);
    }

    #[test]
    fn a_panic_becomes_the_fallback_value() {
        assert_eq!(guarded(|| -1, || panic!("deliberate")), -1);
        let reply = take(guarded(
            || give(Error::Internal("panic in test".into()).to_json()),
            || panic!("deliberate"),
        ));
        assert_eq!(code_of(&reply), code::INTERNAL);
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
    fn free_ignores_null_foreign_and_repeated_pointers() {
        let version = mb_version();
        // SAFETY: NULL or NUL-terminated strings that outlive the call, as the export allows.
        unsafe {
            mb_free(version);
            mb_free(version);
            mb_free(std::ptr::null_mut());
            let mut local = *b"not ours\0";
            mb_free(local.as_mut_ptr().cast());
        }
    }
}
