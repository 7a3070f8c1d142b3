//! The C ABI used as a C program would use it, through its exported functions: one handle shared
//! by many threads, close racing with calls, and misuse after close.

#[path = "support/hostile.rs"]
mod hostile;

use std::ffi::{c_char, CStr, CString};
use std::sync::Arc;
use std::thread;

use mikrobill::code;

// The exports are reached as a C program reaches them: by symbol, through the library.
unsafe extern "C" {
    fn mb_connect(config_json: *const c_char) -> i64;
    fn mb_process(handle: i64, path: *const c_char, value_json: *const c_char) -> *mut c_char;
    safe fn mb_close(handle: i64) -> i32;
    safe fn mb_last_error_code() -> i32;
    safe fn mb_discard(handle: i64) -> i32;
    fn mb_free(text: *mut c_char);
}

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

fn process(handle: i64, path: &str, value: Option<&str>) -> String {
    let path = CString::new(path).unwrap();
    let value = value.map(|v| CString::new(v).unwrap());
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    take(unsafe {
        mb_process(
            handle,
            path.as_ptr(),
            value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
        )
    })
}

#[test]
fn threads_sharing_one_handle_never_get_each_others_replies() {
    let server = hostile::spawn(0);
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let handle = unsafe { mb_connect(config(server.addr.port(), "echo").as_ptr()) };
    assert!(handle > 0);
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
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let handle = unsafe { mb_connect(config(server.addr.port(), "echo").as_ptr()) };
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
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let handle = unsafe { mb_connect(config(server.addr.port(), "echo").as_ptr()) };
    let path = CString::new("API.GetClients").unwrap();
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let null_path = take(unsafe { mb_process(handle, std::ptr::null(), std::ptr::null()) });
    assert_eq!(
        mikrobill::reply_code(&null_path),
        Some(code::INVALID_ARGUMENT)
    );
    let bad_utf8 = b"API.\xc3\0";
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let reply = take(unsafe { mb_process(handle, bad_utf8.as_ptr().cast(), std::ptr::null()) });
    assert_eq!(mikrobill::reply_code(&reply), Some(code::INVALID_ARGUMENT));
    let bad_json = CString::new("[1,").unwrap();
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let reply = take(unsafe { mb_process(handle, path.as_ptr(), bad_json.as_ptr()) });
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
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let handle = unsafe { mb_connect(config(server.addr.port(), "nul").as_ptr()) };
    let reply = process(handle, "API.GetClients", None);
    assert_eq!(mikrobill::reply_code(&reply), Some(code::MALFORMED_REPLY));
    assert!(reply.contains("NUL"), "{reply}");
    assert_eq!(
        i64::from(mb_last_error_code()),
        code::MALFORMED_REPLY,
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
    // SAFETY: arguments are NULL or NUL-terminated strings that outlive the call.
    let handle = unsafe { mb_connect(config(port, "echo").as_ptr()) };
    assert!(handle > 0);
    handle
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
            i64::from(mb_last_error_code())
        })
    };
    barrier.wait();
    assert_eq!(
        mikrobill::reply_code(&process(handle, "API.GetClients", None)),
        Some(0)
    );
    assert_eq!(mb_last_error_code(), 0);
    barrier.wait();
    assert_eq!(failing.join().unwrap(), code::CLOSED_HANDLE);
    assert_eq!(mb_close(handle), 0);
}
