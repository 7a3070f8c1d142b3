//! The C ABI used as a C program would use it, through its exported functions: one handle shared
//! by many threads, close racing with calls, and misuse after close.

use mikrobill_testkit::hostile;
use std::ffi::{c_char, CStr, CString};
use std::ptr::{null, null_mut};
use std::sync::Arc;
use std::thread;

use mikrobill::code;
// The exports themselves, as a C program calls them.
use mikrobill::ffi::{
    mb_close, mb_connect, mb_discard, mb_free, mb_last_error_message, mb_process,
};

fn config(port: u16, login: &str) -> CString {
    CString::new(format!(
        r#"{{"host":"127.0.0.1","port":{port},"login":"{login}","password":"pw","key1":"{}","key2":"{}","io_timeout_ms":2000}}"#,
        hostile::KEY1,
        hostile::KEY2
    ))
    .unwrap()
}

fn take(ptr: *mut c_char) -> String {
    assert!(!ptr.is_null());
    // SAFETY: a non-NULL string from the library is NUL-terminated and not yet freed.
    let text = unsafe { CStr::from_ptr(ptr) }.to_str().unwrap().to_owned();
    // SAFETY: the pointer was issued by the library and is not used again.
    unsafe { mb_free(ptr) };
    text
}

/// `mb_process` on raw arguments: its status and its reply (the error JSON on failure).
///
/// # Safety
/// `path` and `value` are NULL or NUL-terminated strings that outlive the call.
unsafe fn process_raw(handle: i64, path: *const c_char, value: *const c_char) -> (i32, String) {
    let mut reply: *mut c_char = null_mut();
    // SAFETY: the caller's promise for the strings; `reply` is a valid out-parameter.
    let status = unsafe { mb_process(handle, path, value, 0, &mut reply) };
    let reply = take(reply);
    // The status and the reply's code agree: 0 for a server reply (its own code is 0 here).
    assert_eq!(
        i64::from(status),
        mikrobill::reply_code(&reply).unwrap_or(-1),
        "{reply}"
    );
    (status, reply)
}

fn process(handle: i64, path: &str, value: Option<&str>) -> String {
    let path = CString::new(path).unwrap();
    let value = value.map(|v| CString::new(v).unwrap());
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    unsafe {
        process_raw(
            handle,
            path.as_ptr(),
            value.as_ref().map_or(null(), |v| v.as_ptr()),
        )
    }
    .1
}

/// This thread's last error message, None after a success.
fn last_error_message() -> Option<String> {
    let mut message: *mut c_char = null_mut();
    // SAFETY: a valid out-parameter.
    assert_eq!(unsafe { mb_last_error_message(&mut message) }, 0);
    (!message.is_null()).then(|| take(message))
}

fn connect(config: &CStr) -> i64 {
    let mut handle = 0;
    // SAFETY: a NUL-terminated string that outlives the call and a valid out-parameter.
    assert_eq!(unsafe { mb_connect(config.as_ptr(), &mut handle) }, 0);
    assert!(handle > 0);
    handle
}

#[test]
fn threads_sharing_one_handle_never_get_each_others_replies() {
    let server = hostile::spawn(0);
    let handle = connect(&config(server.addr.port(), "echo"));
    let workers: Vec<_> = (0..16)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..50 {
                    let path = format!("API.Client.{t}.Call{i}");
                    let reply = process(handle, &path, Some(&format!("[{t},{i}]")));
                    let expected = format!(r#"{{\"path\":\"{path}\",\"value\":[{t},{i}]}}"#);
                    assert!(reply.contains(&expected), "{reply} lacks {expected}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(mb_close(handle), 0);
    assert_eq!(
        server
            .counters
            .auths
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

#[test]
fn closing_while_other_threads_call_is_safe_and_final() {
    let server = hostile::spawn(0);
    let handle = connect(&config(server.addr.port(), "echo"));
    let barrier = Arc::new(std::sync::Barrier::new(9));
    let callers: Vec<_> = (0..8)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut codes = Vec::new();
                for _ in 0..100 {
                    let reply = process(handle, "API.GetClients", None);
                    codes.push(mikrobill::reply_code(&reply).unwrap());
                }
                codes
            })
        })
        .collect();
    barrier.wait();
    assert_eq!(mb_close(handle), 0);
    // Once mb_close has returned, nothing more may reach the server: no call that found the
    // handle just before the close may reconnect or send.
    let auths = server
        .counters
        .auths
        .load(std::sync::atomic::Ordering::SeqCst);
    let requests = server
        .counters
        .requests
        .load(std::sync::atomic::Ordering::SeqCst);
    for c in callers {
        let codes = c.join().unwrap();
        // Each call either completed before the close or was refused as closed; once refused,
        // never served again.
        let first_closed = codes.iter().position(|&c| c == code::CLOSED_HANDLE);
        assert!(codes.iter().all(|&c| c == 0 || c == code::CLOSED_HANDLE));
        if let Some(at) = first_closed {
            assert!(codes[at..].iter().all(|&c| c == code::CLOSED_HANDLE));
        }
    }
    assert_eq!(mb_close(handle), code::CLOSED_HANDLE as i32);
    assert_eq!(
        server
            .counters
            .auths
            .load(std::sync::atomic::Ordering::SeqCst),
        auths
    );
    assert_eq!(
        server
            .counters
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        requests
    );
}

#[test]
fn null_and_invalid_arguments_to_process_are_9005() {
    let server = hostile::spawn(0);
    let handle = connect(&config(server.addr.port(), "echo"));
    let path = CString::new("API.GetClients").unwrap();
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let (_, null_path) = unsafe { process_raw(handle, null(), null()) };
    assert_eq!(
        mikrobill::reply_code(&null_path),
        Some(code::INVALID_ARGUMENT)
    );
    let bad_utf8 = b"API.\xc3\0";
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let (_, reply) = unsafe { process_raw(handle, bad_utf8.as_ptr().cast(), null()) };
    assert_eq!(mikrobill::reply_code(&reply), Some(code::INVALID_ARGUMENT));
    let bad_json = CString::new("[1,").unwrap();
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let (_, reply) = unsafe { process_raw(handle, path.as_ptr(), bad_json.as_ptr()) };
    assert_eq!(mikrobill::reply_code(&reply), Some(code::INVALID_ARGUMENT));
    // Nothing of that reached the server, and the handle still works.
    assert_eq!(
        server
            .counters
            .requests
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(
        mikrobill::reply_code(&process(handle, "API.GetClients", None)),
        Some(0)
    );
    assert_eq!(mb_close(handle), 0);
}

#[test]
fn a_reply_c_text_cannot_carry_is_9004_at_the_c_boundary() {
    let server = hostile::spawn(0);
    let handle = connect(&config(server.addr.port(), "nul"));
    let reply = process(handle, "API.GetClients", None);
    assert_eq!(mikrobill::reply_code(&reply), Some(code::MALFORMED_REPLY));
    assert!(reply.contains("NUL"), "{reply}");
    assert!(
        last_error_message().unwrap().contains("(code 9004)"),
        "a reply C cannot carry is a failed call"
    );
    assert_eq!(mb_close(handle), 0);
}

#[test]
fn close_says_disconnect_and_discard_only_closes_the_socket() {
    let server = hostile::spawn(0);
    let counters = &server.counters;
    let closed = mb_connect_echo(server.addr.port());
    assert_eq!(
        mikrobill::reply_code(&process(closed, "API.A", None)),
        Some(0)
    );
    assert_eq!(mb_close(closed), 0);
    assert!(counters.wait_closed(1));
    assert_eq!(
        counters
            .disconnects
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );

    let discarded = mb_connect_echo(server.addr.port());
    assert_eq!(
        mikrobill::reply_code(&process(discarded, "API.B", None)),
        Some(0)
    );
    assert_eq!(mb_discard(discarded), 0);
    assert!(counters.wait_closed(2), "the socket is closed at once");
    assert_eq!(
        counters
            .disconnects
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(mb_discard(discarded), code::CLOSED_HANDLE as i32);
    assert_eq!(
        mikrobill::reply_code(&process(discarded, "API.C", None)),
        Some(code::CLOSED_HANDLE)
    );
}

fn mb_connect_echo(port: u16) -> i64 {
    connect(&config(port, "echo"))
}

#[test]
fn each_thread_sees_only_its_own_last_error() {
    let server = hostile::spawn(0);
    let handle = mb_connect_echo(server.addr.port());
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let failing = {
        let barrier = Arc::clone(&barrier);
        thread::spawn(move || {
            let reply = process(-1, "API.GetClients", None);
            assert_eq!(mikrobill::reply_code(&reply), Some(code::CLOSED_HANDLE));
            barrier.wait(); // the other thread succeeds now
            barrier.wait();
            last_error_message()
        })
    };
    barrier.wait();
    assert_eq!(
        mikrobill::reply_code(&process(handle, "API.GetClients", None)),
        Some(0)
    );
    assert_eq!(last_error_message(), None);
    barrier.wait();
    let failed = failing
        .join()
        .unwrap()
        .expect("the failing thread keeps its error");
    assert!(failed.contains("(code 9007)"), "{failed}");
    assert_eq!(mb_close(handle), 0);
}
