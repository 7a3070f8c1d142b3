//! Peers that lie, through the C ABI, with the memory each call costs measured: a counting
//! allocator tracks the bytes the calling thread holds, and each case's peak is checked against
//! its bound. Large honest replies may cost at most 1.5 times their frame.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{c_char, CStr, CString};
use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use mikrobill::code;
use mikrobill::protocol::crypto::Cipher;
use mikrobill::protocol::frame::{read_frame, write_frame};
use mikrobill_testkit::hostile;

/// Counts what threads that opted in allocate. A reallocation that moved is counted as holding
/// both blocks at once, as a copy does.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The counters are global: measuring tests take turns, or one would count the other's bytes.
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());
static PEAK: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

fn grow(by: isize) {
    let now = LIVE.fetch_add(by, Ordering::SeqCst) + by;
    PEAK.fetch_max(now, Ordering::SeqCst);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            grow(layout.size() as isize);
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        }
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's pointer, layout and size.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if counted() && !moved.is_null() {
            let old = layout.size() as isize;
            if moved != ptr {
                grow(new_size as isize);
                LIVE.fetch_sub(old, Ordering::SeqCst);
            } else {
                grow(new_size as isize - old);
            }
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// The exports themselves, as a C program calls them.
use mikrobill::ffi::{mb_close, mb_connect, mb_free, mb_process};

fn connect(port: u16, login: &str) -> i64 {
    let config = CString::new(format!(
        r#"{{"host":"127.0.0.1","port":{port},"login":"{login}","password":"pw","key1":"{}","key2":"{}","io_timeout_ms":500,"call_timeout_ms":1500}}"#,
        hostile::KEY1,
        hostile::KEY2
    ))
    .unwrap();
    let mut handle = 0;
    // SAFETY: a NUL-terminated string that outlives the call and a valid out-parameter.
    assert_eq!(unsafe { mb_connect(config.as_ptr(), &mut handle) }, 0);
    assert!(handle > 0);
    handle
}

/// One `mb_process` call; returns the reply's code and length, and the most bytes this thread
/// held above what it held before the call, while the reply was still held.
fn measured_call(handle: i64) -> (i64, usize, usize) {
    let path = CString::new("API.GetClients").unwrap();
    COUNTED.with(|c| c.set(true));
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let mut reply: *mut c_char = std::ptr::null_mut();
    // SAFETY: NULL or NUL-terminated strings that outlive the call, a valid out-parameter.
    let status = unsafe { mb_process(handle, path.as_ptr(), std::ptr::null(), 0, &mut reply) };
    let peak = (PEAK.load(Ordering::SeqCst) - before).max(0) as usize;
    COUNTED.with(|c| c.set(false));
    // SAFETY: a non-NULL string from the library, NUL-terminated and not yet freed.
    let text = unsafe { CStr::from_ptr(reply) }.to_bytes();
    let len = text.len();
    let code = last_code(&String::from_utf8_lossy(text));
    if status != 0 {
        assert_eq!(
            i64::from(status),
            code,
            "the status is the error JSON's code"
        );
    }
    // SAFETY: issued by the library and not used again.
    unsafe { mb_free(reply) };
    (code, len, peak)
}

/// The last `"code":N` of a reply: serde_json stops at 128 levels, and one case nests deeper.
fn last_code(reply: &str) -> i64 {
    let at = reply.rfind("\"code\":").expect("a code") + 7;
    let digits: String = reply[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().unwrap()
}

/// A peer that answers the auth, then every request with the same prebuilt frame, built before
/// the call so that only the client's memory is counted.
fn serve_frame(frame: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let cipher = Cipher::from_base64(hostile::KEY1, hostile::KEY2).unwrap();
        let ok = cipher.encrypt(br#"{"return":"OK","code":0}"#);
        for mut stream in listener.incoming().flatten() {
            if read_frame(&mut stream, 1 << 16).is_err() || write_frame(&mut stream, &ok).is_err() {
                continue;
            }
            while read_frame(&mut stream, 1 << 16).is_ok() {
                if stream.write_all(&frame).is_err() {
                    break;
                }
            }
        }
    });
    port
}

fn framed(plain: &[u8]) -> Vec<u8> {
    let cipher = Cipher::from_base64(hostile::KEY1, hostile::KEY2).unwrap();
    cipher.encrypt_frame(plain)
}

/// `{"return":[1000000000000001,...],"code":0}` of about `bytes` bytes.
fn big_reply(bytes: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(bytes + 64);
    text.extend_from_slice(br#"{"return":["#);
    let mut n = 1_000_000_000_000_000u64;
    while text.len() < bytes {
        text.extend_from_slice(n.to_string().as_bytes());
        text.push(b',');
        n += 1;
    }
    text.extend_from_slice(br#"0],"code":0}"#);
    text
}

#[test]
fn a_large_reply_costs_at_most_one_and_a_half_times_its_frame() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    for size in [3 << 20, 17 << 20, 40 << 20] {
        let frame = framed(&big_reply(size));
        let frame_len = frame.len();
        let port = serve_frame(frame);
        let handle = connect(port, "api");
        let (code, len, peak) = measured_call(handle);
        assert_eq!(code, 0);
        assert!(len + 64 >= size);
        println!(
            "reply frame {} KiB: peak {} KiB ({:.2}x)",
            frame_len >> 10,
            peak >> 10,
            peak as f64 / frame_len as f64
        );
        assert!(
            peak * 2 <= frame_len * 3,
            "peak {peak} for a frame of {frame_len}"
        );
        assert_eq!(mb_close(handle), 0);
    }
}

#[test]
fn lying_peers_get_their_codes_and_cost_no_more_than_what_they_sent() {
    let _turn = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let deep = {
        let mut t = b"{\"return\":".to_vec();
        t.extend(std::iter::repeat_n(b'[', 200_000));
        t.extend(std::iter::repeat_n(b']', 200_000));
        t.extend_from_slice(b",\"code\":0}");
        t
    };
    let unclosed = {
        let mut t = b"{\"return\":".to_vec();
        t.extend(std::iter::repeat_n(b'[', 300_000));
        t
    };
    let garbage = {
        let mut t = 4096u32.to_le_bytes().to_vec();
        t.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        t
    };
    let mut announced_only = (32u32 << 20).to_le_bytes().to_vec();
    announced_only.extend_from_slice(&[7u8; 1024]);
    // (what the peer does, its frame or hostile login, expected code, bound on peak bytes)
    let prebuilt: Vec<(&str, Vec<u8>, i64, usize)> = vec![
        ("deep nesting", framed(&deep), 0, 3 * deep.len() / 2 + 4096),
        (
            "unclosed nesting",
            framed(&unclosed),
            code::REPLY_NOT_JSON,
            4 * unclosed.len(),
        ),
        ("garbage", garbage, code::MALFORMED_REPLY, 64 << 10),
        // Passed through as its bytes: the core's output encoding has never been seen.
        (
            "invalid UTF-8",
            framed(b"{\"return\":\"\xc3\x28\",\"code\":0}"),
            0,
            64 << 10,
        ),
        (
            "embedded NUL",
            framed(b"{\"return\":\"a\0b\",\"code\":0}"),
            code::MALFORMED_REPLY,
            64 << 10,
        ),
        (
            "32 MiB announced, 1 KiB sent",
            announced_only,
            code::TIMEOUT,
            256 << 10,
        ),
        (
            "odd length",
            {
                let mut t = 33u32.to_le_bytes().to_vec();
                t.extend_from_slice(&[1u8; 33]);
                t
            },
            code::MALFORMED_REPLY,
            16 << 10,
        ),
        (
            "4 GiB announced",
            vec![0xff; 4],
            code::FRAME_TOO_LARGE,
            16 << 10,
        ),
    ];
    for (what, frame, expected, bound) in prebuilt {
        let port = serve_frame(frame);
        let handle = connect(port, "api");
        let (code, _, peak) = measured_call(handle);
        println!("{what}: code {code}, peak {} KiB", peak >> 10);
        assert_eq!(code, expected, "{what}");
        assert!(peak <= bound, "{what}: peak {peak} over {bound}");
        assert_eq!(mb_close(handle), 0);
    }
    let server = hostile::spawn(0);
    for (login, expected) in [
        ("trickle", code::TIMEOUT),
        ("not-json", code::REPLY_NOT_JSON),
        ("empty", code::MALFORMED_REPLY),
    ] {
        let handle = connect(server.addr.port(), login);
        let started = std::time::Instant::now();
        let (code, _, peak) = measured_call(handle);
        println!("{login}: code {code}, peak {} KiB", peak >> 10);
        assert_eq!(code, expected, "{login}");
        assert!(peak <= 64 << 10, "{login}: peak {peak}");
        assert!(started.elapsed() < Duration::from_secs(3), "{login}");
        assert_eq!(mb_close(handle), 0);
    }
}
