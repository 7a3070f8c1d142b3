//! The error contract of every export, through the exports themselves.

use std::ffi::{c_char, c_int, c_longlong, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::{Arc, Mutex};

use super::boundary;
use super::calls::*;
use super::cancel::*;
use super::cipher::*;
use super::handles::*;
use super::last_error::*;
use super::process_wide::*;
use super::strings::{self, mb_free};
use crate::client::Client;
use crate::config::Config;
use crate::error::code;

fn take(ptr: *mut c_char) -> String {
    assert!(!ptr.is_null());
    // SAFETY: a non-NULL pointer from this library is a NUL-terminated string it issued, read
    // here before it is released exactly once.
    let text = unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_string();
    // SAFETY: `ptr` was issued by this library and is not used again.
    unsafe { mb_free(ptr) };
    text
}

fn code_of(json: &str) -> i64 {
    crate::error::reply_code(json).unwrap()
}

/// This thread's last error message, or None.
fn message() -> Option<String> {
    let mut out: *mut c_char = null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { mb_last_error_message(&mut out) }, 0);
    (!out.is_null()).then(|| take(out))
}

fn c(code: i64) -> c_int {
    code as c_int
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

fn connect(config: &CStr) -> Result<c_longlong, c_int> {
    let mut handle = -1;
    // SAFETY: a NUL-terminated string and a valid out-pointer.
    match unsafe { mb_connect(config.as_ptr(), &mut handle) } {
        0 => Ok(handle),
        code => {
            assert_eq!(handle, -1, "a failure leaves the out-parameter alone");
            Err(code)
        }
    }
}

/// A handle whose server refuses connections.
fn offline_handle() -> c_longlong {
    let handle = connect(&config_json(dead_port())).unwrap();
    assert!(handle > 0);
    handle
}

fn process_with(handle: c_longlong, path: &str, token: c_longlong) -> (c_int, String) {
    let path = CString::new(path).unwrap();
    let mut reply: *mut c_char = null_mut();
    // SAFETY: NUL-terminated strings that outlive the call, NULL to read, a valid out-pointer.
    let status = unsafe { mb_process(handle, path.as_ptr(), null(), token, &mut reply) };
    (status, take(reply))
}

fn process(handle: c_longlong, path: &str) -> (c_int, String) {
    process_with(handle, path, 0)
}

fn new_token() -> c_longlong {
    let mut token = 0;
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { mb_cancel_token_new(&mut token) }, 0);
    assert!(token > 0);
    token
}

#[test]
fn null_and_bad_config_give_a_code_and_a_reason() {
    let mut handle = -1;
    assert_eq!(
        // SAFETY: NULL is allowed, and `handle` is a valid out-pointer.
        unsafe { mb_connect(null(), &mut handle) },
        c(code::INVALID_ARGUMENT)
    );
    assert_eq!(handle, -1);
    assert!(message().unwrap().contains("config_json is NULL"));
    let bad = CString::new(r#"{"host":"h","login":"l","password":"p","key1":"AAEC","key2":"x"}"#)
        .unwrap();
    assert_eq!(connect(&bad), Err(c(code::INVALID_KEY)));
    let invalid_utf8 = c"{\"host\":\"\xff\"}";
    assert_eq!(connect(invalid_utf8), Err(c(code::INVALID_ARGUMENT)));
    assert!(message().unwrap().contains("UTF-8"));
    // A NULL out-parameter is refused, and no handle is made.
    let config = config_json(dead_port());
    assert_eq!(
        // SAFETY: a NUL-terminated string; a NULL out-pointer is allowed and refused.
        unsafe { mb_connect(config.as_ptr(), null_mut()) },
        c(code::INVALID_ARGUMENT)
    );
    assert!(message().unwrap().contains("handle_out is NULL"));
}

#[test]
fn closed_and_unknown_handles_are_refused_cleanly() {
    let (status, reply) = process(-5, "API.GetClients");
    assert_eq!(status, c(code::CLOSED_HANDLE));
    assert_eq!(code_of(&reply), code::CLOSED_HANDLE);
    assert!(message().unwrap().contains("closed handle"));
    assert_eq!(mb_check_connection(0, 0), c(code::CLOSED_HANDLE));
    assert_eq!(mb_close(123_456_789), c(code::CLOSED_HANDLE));
    assert_eq!(mb_disconnect(123_456_789), c(code::CLOSED_HANDLE));
    assert_eq!(mb_discard(123_456_789), c(code::CLOSED_HANDLE));
}

#[test]
fn a_null_reply_out_is_refused_and_nothing_is_sent() {
    let handle = offline_handle();
    let path = CString::new("API.GetClients").unwrap();
    // SAFETY: NULL out-pointer is allowed and refused.
    let status = unsafe { mb_process(handle, path.as_ptr(), null(), 0, null_mut()) };
    assert_eq!(status, c(code::INVALID_ARGUMENT));
    assert!(message().unwrap().contains("reply_out is NULL"));
    assert_eq!(mb_close(handle), 0);
}

#[test]
fn pool_and_worker_cache_exports_follow_the_error_contract() {
    let mut stats: *mut c_char = null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { mb_pool_stats(&mut stats) }, 0);
    let stats = take(stats);
    assert!(
        stats.contains("\"idle\":") && stats.contains("\"expired\":"),
        "{stats}"
    );
    assert_eq!(message(), None);
    let mut closed = -1;
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { mb_pool_clear(&mut closed) }, 0);
    assert!(closed >= 0);
    // SAFETY: NULL out-pointers are allowed and refused.
    unsafe {
        assert_eq!(mb_pool_stats(null_mut()), c(code::INVALID_ARGUMENT));
        assert_eq!(mb_pool_clear(null_mut()), c(code::INVALID_ARGUMENT));
    }
    let get = |name: *const c_char| -> Result<Option<String>, c_int> {
        let mut value: *mut c_char = null_mut();
        // SAFETY: NULL or a NUL-terminated string, and a valid out-pointer.
        match unsafe { mb_worker_cache_get(name, &mut value) } {
            0 => Ok((!value.is_null()).then(|| take(value))),
            code => Err(code),
        }
    };
    assert_eq!(get(null()), Err(c(code::INVALID_ARGUMENT)));
    let name = CString::new("ffi-contract-test").unwrap();
    let value = CString::new("v").unwrap();
    assert_eq!(get(name.as_ptr()), Ok(None), "absent is not an error");
    assert_eq!(message(), None);
    // SAFETY: NUL-terminated strings that outlive the calls, or NULL where allowed.
    unsafe {
        assert_eq!(mb_worker_cache_set(name.as_ptr(), value.as_ptr()), 0);
        assert_eq!(get(name.as_ptr()), Ok(Some("v".into())));
        assert_eq!(mb_worker_cache_set(name.as_ptr(), null()), 0);
        assert_eq!(get(name.as_ptr()), Ok(None));
        assert_eq!(
            mb_worker_cache_set(null(), value.as_ptr()),
            c(code::INVALID_ARGUMENT)
        );
        assert_eq!(
            mb_worker_cache_get(name.as_ptr(), null_mut()),
            c(code::INVALID_ARGUMENT)
        );
    }
    let big = CString::new("x".repeat(crate::worker_cache::MAX_BYTES)).unwrap();
    // SAFETY: NUL-terminated strings that outlive the call.
    let refused = unsafe { mb_worker_cache_set(name.as_ptr(), big.as_ptr()) };
    assert_eq!(refused, c(code::INVALID_ARGUMENT));
    assert!(
        !message().unwrap().contains("xxxx"),
        "the value stays out of the error"
    );
}

#[test]
fn a_success_clears_the_last_error_and_reading_or_freeing_keeps_it() {
    assert!(connect(&CString::new("{").unwrap()).is_err());
    let first = message().unwrap();
    assert_eq!(
        message().unwrap(),
        first,
        "reading twice gives the same text"
    );
    let version = mb_version();
    assert_eq!(
        message().unwrap(),
        first,
        "mb_version leaves the last error alone"
    );
    assert_eq!(mb_close(-1), c(code::CLOSED_HANDLE));
    let closed = message().unwrap();
    // SAFETY: the version is static and not issued: mb_free ignores it.
    unsafe { mb_free(version.cast_mut()) };
    assert_eq!(
        message().unwrap(),
        closed,
        "mb_free leaves the last error alone"
    );

    let handle = offline_handle();
    assert_eq!(message(), None, "a success clears it");
    assert_eq!(mb_disconnect(handle), 0);
    assert_eq!(mb_close(handle), 0);
    assert_eq!(message(), None);
}

#[test]
fn the_version_is_static_and_never_freed() {
    let version = mb_version();
    // SAFETY: mb_version returns a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(version) }.to_str().unwrap();
    assert_eq!(text, env!("CARGO_PKG_VERSION"));
    assert_eq!(text, crate::abi::VERSION);
    assert!(!strings::is_issued(version));
    assert_eq!(mb_version(), version, "the same string every time");
}

#[test]
fn an_offline_server_is_the_connect_errno_for_every_call() {
    let handle = offline_handle();
    assert_eq!(mb_check_connection(handle, 0), libc::ECONNREFUSED);
    assert!(message().unwrap().contains("(code 111)"));
    let (status, reply) = process(handle, "API.GetClients");
    assert_eq!(status, libc::ECONNREFUSED);
    assert_eq!(code_of(&reply), i64::from(libc::ECONNREFUSED));
    assert_eq!(mb_close(handle), 0);
    assert_eq!(mb_check_connection(handle, 0), c(code::CLOSED_HANDLE));
}

#[test]
fn cancel_tokens_follow_the_error_contract() {
    let handle = offline_handle();
    let token = new_token();
    assert_ne!(new_token(), token, "numbers are never reused");
    assert_eq!(
        // SAFETY: a NULL out-pointer is allowed and refused.
        unsafe { mb_cancel_token_new(null_mut()) },
        c(code::INVALID_ARGUMENT)
    );
    assert_eq!(mb_cancel_token_cancel(token), 0);
    // A cancelled token stops its call before anything is sent, whatever the server.
    let (status, reply) = process_with(handle, "API.GetClients", token);
    assert_eq!(status, c(code::CANCELLED));
    assert!(reply.contains("nothing was sent"), "{reply}");
    assert_eq!(mb_check_connection(handle, token), c(code::CANCELLED));
    // Another token, never cancelled, does not stop anything: the call reaches the connect.
    let other = new_token();
    assert_eq!(mb_check_connection(handle, other), libc::ECONNREFUSED);
    assert_eq!(mb_cancel_token_free(token), 0);
    assert_eq!(mb_cancel_token_free(token), c(code::INVALID_ARGUMENT));
    assert_eq!(mb_cancel_token_cancel(token), c(code::INVALID_ARGUMENT));
    let (status, _) = process_with(handle, "API.GetClients", token);
    assert_eq!(
        status,
        c(code::INVALID_ARGUMENT),
        "a freed token is unknown"
    );
    assert!(message().unwrap().contains("unknown"));
    assert_eq!(mb_check_connection(handle, -7), c(code::INVALID_ARGUMENT));
    assert_eq!(mb_cancel_token_free(other), 0);
    assert_eq!(mb_close(handle), 0);
}

/// Forces a panic in `export`'s next call on this thread and checks that it is 9008 in the
/// return value and the last error's text alike.
fn expect_contained_panic(export: &'static str, call: impl FnOnce() -> c_int) {
    boundary::panic_at(export);
    assert_eq!(call(), c(code::INTERNAL), "{export}");
    let text = message().unwrap();
    assert!(
        text.contains(export) && text.contains("(code 9008)"),
        "{text}"
    );
}

#[test]
fn every_export_reports_a_contained_panic_as_9008_never_0() {
    let config = config_json(dead_port());
    let mut handle_out = -1;
    expect_contained_panic("mb_connect", || {
        // SAFETY: a NUL-terminated string and a valid out-pointer.
        unsafe { mb_connect(config.as_ptr(), &mut handle_out) }
    });
    assert_eq!(handle_out, -1);

    let handle = offline_handle();
    let mut reply: *mut c_char = null_mut();
    let path = CString::new("API.GetClients").unwrap();
    expect_contained_panic("mb_process", || {
        // SAFETY: NUL-terminated strings that outlive the call and a valid out-pointer.
        unsafe { mb_process(handle, path.as_ptr(), null(), 0, &mut reply) }
    });
    assert_eq!(
        code_of(&take(reply)),
        code::INTERNAL,
        "the reply is the panic's JSON"
    );
    expect_contained_panic("mb_check_connection", || mb_check_connection(handle, 0));
    expect_contained_panic("mb_disconnect", || mb_disconnect(handle));
    expect_contained_panic("mb_close", || mb_close(handle));
    expect_contained_panic("mb_discard", || mb_discard(handle));
    let mut token = -1;
    expect_contained_panic("mb_cancel_token_new", || {
        // SAFETY: a valid out-pointer.
        unsafe { mb_cancel_token_new(&mut token) }
    });
    assert_eq!(token, -1);
    let token = new_token();
    expect_contained_panic("mb_cancel_token_cancel", || mb_cancel_token_cancel(token));
    expect_contained_panic("mb_cancel_token_free", || mb_cancel_token_free(token));
    // The token outlived the panics, uncancelled.
    assert_eq!(mb_check_connection(handle, token), libc::ECONNREFUSED);
    assert_eq!(mb_cancel_token_free(token), 0);
    let mut text: *mut c_char = null_mut();
    // SAFETY: valid out-pointers.
    expect_contained_panic("mb_pool_stats", || unsafe { mb_pool_stats(&mut text) });
    let mut count = -1;
    // SAFETY: a valid out-pointer.
    expect_contained_panic("mb_pool_clear", || unsafe { mb_pool_clear(&mut count) });
    assert_eq!(count, -1);
    let name = CString::new("ffi-test").unwrap();
    expect_contained_panic("mb_worker_cache_get", || {
        // SAFETY: a NUL-terminated string and a valid out-pointer.
        unsafe { mb_worker_cache_get(name.as_ptr(), &mut text) }
    });
    expect_contained_panic("mb_worker_cache_set", || {
        // SAFETY: NUL-terminated strings that outlive the call.
        unsafe { mb_worker_cache_set(name.as_ptr(), name.as_ptr()) }
    });
    let mut bytes_len = -1;
    for export in ["mb_encrypt", "mb_decrypt"] {
        let call = if export == "mb_encrypt" {
            mb_encrypt
        } else {
            mb_decrypt
        };
        expect_contained_panic(export, || {
            // SAFETY: a valid input and valid out-parameters.
            unsafe { call(handle, c"x".as_ptr(), 1, &mut text, &mut bytes_len) }
        });
    }
    assert_eq!(bytes_len, -1);
    assert!(text.is_null(), "no out-parameter was written");
    boundary::panic_at("mb_last_error_message");
    assert_eq!(
        // SAFETY: a valid out-pointer.
        unsafe { mb_last_error_message(&mut text) },
        c(code::INTERNAL)
    );
    assert!(text.is_null());
    assert!(message()
        .unwrap()
        .contains("panic in mb_last_error_message"));

    let mut stats: *mut c_char = null_mut();
    // SAFETY: a valid out-pointer.
    assert_eq!(unsafe { mb_pool_stats(&mut stats) }, 0);
    boundary::panic_at("mb_free");
    // SAFETY: `stats` was issued by this library; the forced panic leaves it issued.
    unsafe { mb_free(stats) };
    assert!(message().unwrap().contains("panic in mb_free"));
    assert!(
        take(stats).contains("idle"),
        "the string survived the panicked free"
    );

    // The handle is intact: the panics happened before any of those calls touched it.
    assert_eq!(mb_close(handle), 0);
    assert_eq!(message(), None);
}

#[test]
fn a_panic_while_holding_a_client_leaves_the_handle_usable() {
    let handle = offline_handle();
    boundary::panic_at("with_client");
    let (status, reply) = process(handle, "API.GetClients");
    assert_eq!(status, c(code::INTERNAL));
    assert_eq!(code_of(&reply), code::INTERNAL);
    let (status, _) = process(handle, "API.GetClients");
    assert_eq!(status, libc::ECONNREFUSED);
    boundary::panic_at("with_client");
    assert_eq!(mb_check_connection(handle, 0), c(code::INTERNAL));
    assert_eq!(mb_check_connection(handle, 0), libc::ECONNREFUSED);
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
    let issue = || {
        let mut out: *mut c_char = null_mut();
        // SAFETY: a valid out-pointer.
        assert_eq!(unsafe { mb_pool_stats(&mut out) }, 0);
        out
    };
    let kept = issue();
    let freed = issue();
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
        mb_free(null_mut());
        mb_free(foreign);
    }
    assert_eq!(&local, b"not ours\0");
    assert!(!strings::is_issued(foreign));
    assert!(
        strings::is_issued(kept),
        "an unrelated issued string stays issued"
    );
    assert!(take(kept).contains("idle"));
    assert!(!strings::is_issued(kept));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `mb_encrypt` or `mb_decrypt` on `input`: the status and the bytes written (freed).
fn cipher_call(
    export: unsafe extern "C" fn(
        c_longlong,
        *const c_char,
        c_longlong,
        *mut *mut c_char,
        *mut c_longlong,
    ) -> c_int,
    handle: c_longlong,
    input: &[u8],
) -> Result<Vec<u8>, c_int> {
    let mut out: *mut c_char = null_mut();
    let mut len: c_longlong = -1;
    // SAFETY: `input` is valid for its length; valid out-parameters.
    let status = unsafe {
        export(
            handle,
            input.as_ptr().cast(),
            input.len() as c_longlong,
            &mut out,
            &mut len,
        )
    };
    if status != 0 {
        assert!(
            out.is_null() && len == -1,
            "a failure writes no out-parameter"
        );
        return Err(status);
    }
    // SAFETY: the library wrote `len` bytes at `out`, followed by a NUL.
    let bytes = unsafe { std::slice::from_raw_parts(out.cast::<u8>(), len as usize) }.to_vec();
    // SAFETY: issued by the library, freed once.
    unsafe { mb_free(out) };
    Ok(bytes)
}

/// The vectors are PHP's mcrypt_encrypt/mcrypt_decrypt (php8.2-mcrypt) with the demo key and IV,
/// which is what the original client's Encrypt and Decrypt call.
#[test]
fn encrypt_and_decrypt_match_the_original_clients_mcrypt() {
    let handle = offline_handle();
    let encrypt = |input: &[u8]| cipher_call(mb_encrypt, handle, input).map(|b| hex(&b));
    assert_eq!(
        encrypt(b"hello"),
        Ok("41bcc5f84b7b2102642c0ba43ec98d8a".into())
    );
    assert_eq!(encrypt(b""), Ok("e9c3ef8ab23453e6f0749cd636e7a88e".into()));
    assert_eq!(
        encrypt(b"a\0b"),
        Ok("02567e61d0c501b58ebab3c854a30739".into())
    );
    let decrypt = |input: &[u8]| cipher_call(mb_decrypt, handle, input);
    let long = "Иван/Ivan and a text longer than one block".as_bytes();
    let sealed = cipher_call(mb_encrypt, handle, long).unwrap();
    assert_eq!(decrypt(&sealed), Ok(long.to_vec()));
    assert_eq!(
        decrypt(b"abc").map(|b| hex(&b)),
        Ok("c7e339b7df27bfbe3e93921535393d93".into())
    );
    assert_eq!(
        decrypt(b"").map(|b| hex(&b)),
        Ok("7d8e1af83e3b316dac909ed4edb68416".into())
    );
    let sealed = cipher_call(mb_encrypt, handle, b"a\0b").unwrap();
    assert_eq!(decrypt(&sealed), Ok(b"a\0b".to_vec()), "inner NULs survive");
    // Misuse is refused, nothing written.
    assert_eq!(
        cipher_call(mb_encrypt, -3, b"x"),
        Err(c(code::CLOSED_HANDLE))
    );
    let mut out: *mut c_char = null_mut();
    let mut len: c_longlong = -1;
    // SAFETY: NULL data with a non-zero length, a negative length and NULL out-parameters are
    // refused without reading or writing through them.
    unsafe {
        assert_eq!(
            mb_encrypt(handle, null(), 3, &mut out, &mut len),
            c(code::INVALID_ARGUMENT)
        );
        assert_eq!(
            mb_decrypt(handle, c"x".as_ptr(), -1, &mut out, &mut len),
            c(code::INVALID_ARGUMENT)
        );
        assert_eq!(
            mb_encrypt(handle, c"x".as_ptr(), 1, null_mut(), &mut len),
            c(code::INVALID_ARGUMENT)
        );
        assert_eq!(
            mb_decrypt(handle, c"x".as_ptr(), 1, &mut out, null_mut()),
            c(code::INVALID_ARGUMENT)
        );
    }
    assert!(out.is_null() && len == -1);
    assert_eq!(mb_close(handle), 0);
}
