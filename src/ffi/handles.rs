//! Client handles: integers resolved through a registry and never reused, so a closed or
//! made-up handle is a clean error (9007) rather than a dangling pointer. The registry is a
//! B-tree because its nodes are referenced from their start, so leak checkers see it as
//! reachable at exit (a hash table's interior pointer shows up in valgrind as "possibly lost").

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_longlong};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError};

use super::boundary::{self, LastError};
use super::{lock, out_arg, text_arg};
use crate::call_io::HandleStop;
use crate::client::Client;
use crate::config::Config;
use crate::error::Error;

/// One handle: its client, and the client's stop flag, reachable without the client's lock so
/// that `mb_discard` never waits for a call in progress.
pub(super) struct Entry {
    /// `None` once closed: a call that found the handle just before `mb_close` removed it still
    /// sees the close when it gets the lock, instead of reconnecting a released client.
    client: Mutex<Option<Client>>,
    stop: Arc<HandleStop>,
    /// The client's settings, to make it anew in a forked child (see [`current`]).
    config: Config,
    /// The fork generation (`crate::fork`) in which this entry was made or last checked.
    generation: AtomicU64,
}

type Shared = Arc<Entry>;

fn registry() -> MutexGuard<'static, BTreeMap<c_longlong, Shared>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<c_longlong, Shared>>> = OnceLock::new();
    lock(REGISTRY.get_or_init(Default::default))
}

static NEXT_HANDLE: AtomicI64 = AtomicI64::new(1);

/// A client whose call panicked may have sent a request without reading its reply; its
/// connection is dropped so that the next call starts clean.
pub(super) fn lock_client(client: &Mutex<Option<Client>>) -> MutexGuard<'_, Option<Client>> {
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
pub(super) fn with_client<T>(
    handle: c_longlong,
    call: impl FnOnce(&mut Client) -> T,
) -> Result<T, Error> {
    let shared = current(handle)?;
    let mut guard = lock_client(&shared.client);
    if shared.stop.is_discarded() {
        // Discarded while this call waited for the lock: the handle is gone, and the client
        // goes with it (without a word to the server, see Client's Drop).
        guard.take();
        return Err(Error::ClosedHandle);
    }
    let client = guard.as_mut().ok_or(Error::ClosedHandle)?;
    boundary::forced_panic_point("with_client");
    Ok(call(client))
}

/// The entry behind `handle`, usable in this process. In a forked child, a handle made before
/// the fork is checked once: when a thread of the parent held its client's lock at the fork, no
/// thread here will ever release it, so the handle gets a new client made from the same
/// settings, which connects afresh on its first call. The old client is left as the fork found
/// it, possibly mid-call: it is never touched or dropped (its memory and its copy of the socket
/// stay with the child until it exits).
fn current(handle: c_longlong) -> Result<Shared, Error> {
    let generation = crate::fork::generation();
    let found = registry()
        .get(&handle)
        .cloned()
        .ok_or(Error::ClosedHandle)?;
    if found.generation.load(Ordering::SeqCst) == generation {
        return Ok(found);
    }
    // Checked under the registry's lock, so that two threads of the child agree on one entry.
    let mut registry = registry();
    let shared = registry.get(&handle).cloned().ok_or(Error::ClosedHandle)?;
    if shared.generation.load(Ordering::SeqCst) == generation {
        return Ok(shared);
    }
    let stuck = matches!(shared.client.try_lock(), Err(TryLockError::WouldBlock));
    if !stuck {
        shared.generation.store(generation, Ordering::SeqCst);
        return Ok(shared);
    }
    let fresh = entry(Client::new(shared.config.clone())?);
    registry.insert(handle, Arc::clone(&fresh));
    std::mem::forget(shared);
    Ok(fresh)
}

/// The cipher made from the keys of the client behind `handle`, without waiting for a call in
/// progress on it.
pub(super) fn cipher_of(handle: c_longlong) -> Result<crate::protocol::crypto::Cipher, Error> {
    let config = &current(handle)?.config;
    crate::protocol::crypto::Cipher::from_base64(&config.key1, &config.key2)
        .map_err(|e| Error::InvalidKey(e.to_string()))
}

/// Holds the handle registry across a `fork()` (see `crate::fork`).
#[cfg(unix)]
pub(crate) fn hold() -> Box<dyn std::any::Any> {
    Box::new(registry())
}

fn entry(client: Client) -> Shared {
    Arc::new(Entry {
        stop: client.stopper(),
        config: client.config().clone(),
        client: Mutex::new(Some(client)),
        generation: AtomicU64::new(crate::fork::generation()),
    })
}

fn register(client: Client) -> c_longlong {
    let handle = NEXT_HANDLE.fetch_add(1, Ordering::Relaxed);
    registry().insert(handle, entry(client));
    handle
}

/// Takes the client out of the registry, says goodbye with `farewell`, and drops it.
fn release(handle: c_longlong, farewell: fn(&mut Client)) -> Result<(), Error> {
    current(handle)?;
    let removed = registry().remove(&handle);
    let mut client = removed
        .and_then(|shared| lock_client(&shared.client).take())
        .ok_or(Error::ClosedHandle)?;
    farewell(&mut client);
    Ok(())
}

/// Creates a client from the JSON config object `config_json` and writes its handle (> 0) to
/// `*handle_out`. Nothing is sent until the first call that needs the server. Error 9005 for a
/// config that is not a JSON object, has an unknown key, a key of the wrong type or out of
/// range, or lacks a required key; 9006 when `key1` or `key2` is not a valid AES key or IV.
///
/// Config keys (unknown keys and wrong types are refused):
/// `host`, `login`, `key1`, `key2` (strings, required); `password` (string) or
/// `password_base64` (the password's raw bytes in base64, for a password that is not UTF-8),
/// exactly one; `port` (default 7403); `connect_timeout_ms` and `io_timeout_ms` (default 5000);
/// `call_timeout_ms` (default 30000: the whole call, however slowly the reply trickles);
/// `max_frame_bytes` (default 67108864); `php_floats` (default false: when true, every
/// non-integer number of a value is rewritten as PHP's `json_encode` writes that double);
/// `persistent` (default false: hand the connection to the process-wide pool on close) with
/// `persistent_id` (default ""), `pool_max_idle` (default 4 per identity),
/// `pool_max_idle_total` (default 64) and `pool_idle_timeout_ms` (default 60000).
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `handle_out` is NULL or valid for writing
/// one `long long`.
#[no_mangle]
pub unsafe extern "C" fn mb_connect(
    config_json: *const c_char,
    handle_out: *mut c_longlong,
) -> c_int {
    boundary::status("mb_connect", LastError::ClearedOnSuccess, || {
        // SAFETY: the caller promises NULL or a writable long long.
        let out = unsafe { out_arg(handle_out, "handle_out") }?;
        // SAFETY: the caller promises NULL or a NUL-terminated string.
        let config = unsafe { text_arg(config_json, "config_json") }?;
        *out = register(Client::new(Config::from_json(config)?)?);
        Ok(())
    })
}

/// Says DISCONNECT and closes the connection; the handle stays valid and the next call connects
/// again. A persistent client hands the connection to the pool instead. Waits for a call in
/// progress on another thread. Error 9007 for an unknown or closed handle.
#[no_mangle]
pub extern "C" fn mb_disconnect(handle: c_longlong) -> c_int {
    boundary::status("mb_disconnect", LastError::ClearedOnSuccess, || {
        with_client(handle, Client::disconnect)
    })
}

/// Disconnects and releases the handle; later use of it gets error 9007. A persistent client's
/// connection goes to the pool instead of saying DISCONNECT. Waits for a call in progress on
/// another thread. Error 9007 when the handle is unknown or already closed.
#[no_mangle]
pub extern "C" fn mb_close(handle: c_longlong) -> c_int {
    boundary::status("mb_close", LastError::ClearedOnSuccess, || {
        release(handle, Client::disconnect)
    })
}

/// Releases the handle at once, without saying DISCONNECT and without waiting for anything:
/// for finalizers and garbage collectors, which must never block on the network. A call in
/// progress on the handle in another thread returns 9011 within about 20 ms and its connection
/// is closed when it returns; otherwise the socket is closed now, or, for a persistent client,
/// handed to the pool. Only this process's descriptor is closed, so a connection shared with a
/// forked process stays intact there. Later use of the handle gets error 9007. Error 9007 when
/// the handle is unknown or already closed.
#[no_mangle]
pub extern "C" fn mb_discard(handle: c_longlong) -> c_int {
    boundary::status("mb_discard", LastError::ClearedOnSuccess, || {
        current(handle)?;
        let shared = registry().remove(&handle).ok_or(Error::ClosedHandle)?;
        shared.stop.discard();
        // Free now if no call holds the client; otherwise the call, stopped, lets go of it
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
