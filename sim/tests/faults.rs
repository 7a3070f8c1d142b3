//! Network faults between a C ABI caller and the real simulator, injected by a proxy: each fault
//! gets its documented code, the next call on the same handle works, and no set is ever applied
//! twice (counted in the simulator's request trace).

use std::ffi::{c_char, CStr, CString};
use std::time::{Duration, Instant};

use mikrobill::code;
use mikrobill_testkit::relay::{Fault, FaultProxy};
use mikrobill_testkit::sim::{Sim, TempDir, KEY1, KEY2};

// The exports themselves, as a C program calls them.
use mikrobill::ffi::{
    mb_cancel_token_cancel, mb_cancel_token_free, mb_cancel_token_new, mb_close, mb_connect,
    mb_discard, mb_free, mb_process,
};

const NAME: &str = "API.Client.633824158637492.AutorizeInfo.Name";

fn connect(port: u16, extra: &str) -> i64 {
    let config = CString::new(format!(
        r#"{{"host":"127.0.0.1","port":{port},"login":"api","password":"secret","key1":"{KEY1}","key2":"{KEY2}"{extra}}}"#
    ))
    .unwrap();
    let mut handle = 0;
    // SAFETY: a NUL-terminated string that outlives the call and a valid out-parameter.
    assert_eq!(unsafe { mb_connect(config.as_ptr(), &mut handle) }, 0);
    assert!(handle > 0);
    handle
}

fn new_token() -> i64 {
    let mut token = 0;
    // SAFETY: a valid out-parameter.
    assert_eq!(unsafe { mb_cancel_token_new(&mut token) }, 0);
    assert!(token > 0);
    token
}

fn process(handle: i64, path: &str, value: Option<&str>) -> String {
    process_with_token(handle, path, value, 0)
}

/// `mb_process` given `token` (0: none), with the path and value (None reads) as C strings; the
/// text of the reply it writes, the error JSON on failure, whose code its status repeats.
fn process_with_token(handle: i64, path: &str, value: Option<&str>, token: i64) -> String {
    let path = CString::new(path).unwrap();
    let value = value.map(|v| CString::new(v).unwrap());
    let mut reply: *mut c_char = std::ptr::null_mut();
    // SAFETY: NULL or NUL-terminated strings that outlive the call, a valid out-parameter.
    let status = unsafe {
        mb_process(
            handle,
            path.as_ptr(),
            value.as_ref().map_or(std::ptr::null(), |v| v.as_ptr()),
            token,
            &mut reply,
        )
    };
    let reply = take_reply(reply);
    if status != 0 {
        assert_eq!(i64::from(status), code_of(&reply), "{reply}");
    }
    reply
}

/// The text of a reply from the library, which is then freed.
fn take_reply(reply: *mut c_char) -> String {
    assert!(!reply.is_null());
    // SAFETY: a non-NULL string from the library, NUL-terminated and not yet freed.
    let text = unsafe { CStr::from_ptr(reply) }
        .to_str()
        .unwrap()
        .to_owned();
    // SAFETY: issued by the library and not used again.
    unsafe { mb_free(reply) };
    text
}

fn code_of(reply: &str) -> i64 {
    mikrobill::reply_code(reply).unwrap_or_else(|| panic!("no code in {reply}"))
}

/// How many traced requests carry `marker`: each is one set the simulator applied.
fn applied(trace: &std::path::Path, marker: &str) -> usize {
    std::fs::read_to_string(trace)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains(marker))
        .count()
}

struct Bench {
    sim: Sim,
    proxy: FaultProxy,
    trace: std::path::PathBuf,
    _dir: TempDir,
}

impl Bench {
    fn start(name: &str) -> Bench {
        let dir = TempDir::new(name);
        let trace = dir.0.join("trace.log");
        let state = dir.0.join("state.json");
        let sim = Sim::start(&[
            "--trace-requests",
            trace.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ]);
        let proxy = FaultProxy::start(sim.port);
        Bench {
            sim,
            proxy,
            trace,
            _dir: dir,
        }
    }
}

#[test]
fn every_fault_gets_its_code_the_next_call_works_and_no_set_is_applied_twice() {
    let bench = Bench::start("table");
    let handle = connect(
        bench.proxy.port,
        r#","io_timeout_ms":400,"call_timeout_ms":3000"#,
    );
    let table = [
        (Fault::Pass, code::OK),
        (Fault::Delay(Duration::from_millis(150)), code::OK),
        (Fault::OneByteWrites, code::OK),
        (Fault::Stall, code::TIMEOUT),
        (Fault::ResetAfterRequest, code::CONNECTION_LOST),
        (Fault::TruncatedReply, code::CONNECTION_LOST),
        (Fault::LostReply, code::CONNECTION_LOST),
        (Fault::DuplicatedReply, code::OUT_OF_STEP),
        (Fault::LateDuplicate(Duration::from_millis(50)), code::OK),
        (Fault::UnsolicitedFrame, code::OK),
    ];
    for (round, (fault, expected)) in table.into_iter().enumerate() {
        let marker = format!("fault-{round}-{fault:?}")
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "");
        bench.proxy.set(fault);
        let reply = process(handle, NAME, Some(&format!("\"{marker}\"")));
        assert_eq!(code_of(&reply), expected, "{fault:?}: {reply}");
        // A late duplicate or stray frame arrives while the handle is idle: the next call must
        // notice it and reconnect instead of taking it for its reply.
        std::thread::sleep(Duration::from_millis(120));
        let read = process(handle, NAME, None);
        assert_eq!(code_of(&read), 0, "after {fault:?}: {read}");
        let name: serde_json::Value = serde_json::from_str(&read).unwrap();
        assert_eq!(name["return"], marker.as_str(), "after {fault:?}");
        assert_eq!(applied(&bench.trace, &marker), 1, "{fault:?}");
    }
    assert_eq!(mb_close(handle), 0);
}

#[test]
fn a_trickling_reply_times_out_at_the_call_deadline() {
    let bench = Bench::start("trickle");
    let handle = connect(
        bench.proxy.port,
        r#","io_timeout_ms":1000,"call_timeout_ms":1200"#,
    );
    // Each byte comes well within io_timeout_ms, so only the whole-call deadline can end it.
    bench.proxy.set(Fault::Trickle(Duration::from_millis(100)));
    let started = Instant::now();
    let reply = process(handle, NAME, Some("\"trickled\""));
    let took = started.elapsed();
    assert_eq!(code_of(&reply), code::TIMEOUT, "{reply}");
    assert!(reply.contains("call_timeout_ms"), "{reply}");
    assert!(
        took >= Duration::from_millis(1100) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    assert_eq!(code_of(&process(handle, NAME, None)), 0);
    assert_eq!(applied(&bench.trace, "trickled"), 1);
    assert_eq!(mb_close(handle), 0);
}

#[test]
fn connections_closed_by_a_restart_are_reopened_and_state_survives() {
    let mut bench = Bench::start("restart");
    let handle = connect(bench.proxy.port, r#","io_timeout_ms":2000"#);
    assert_eq!(code_of(&process(handle, NAME, Some("\"before\""))), 0);
    // The proxy closing every connection is what a restart looks like between calls.
    bench.proxy.restart();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(code_of(&process(handle, NAME, None)), 0);
    // A real restart: the simulator is killed and started again on its state file.
    let state = bench._dir.0.join("state.json");
    bench.sim.signal(libc::SIGKILL);
    let _ = bench.sim.child.wait();
    bench.sim = Sim::start(&["--state", state.to_str().unwrap()]);
    bench.proxy.set_upstream(bench.sim.port);
    bench.proxy.restart();
    std::thread::sleep(Duration::from_millis(50));
    let read = process(handle, NAME, None);
    assert_eq!(code_of(&read), 0, "{read}");
    assert!(read.contains("before"), "{read}");
    assert_eq!(mb_close(handle), 0);
}

/// Runs one set on `handle` in another thread, given `token` (0: none), returning its reply and
/// when it returned.
fn call_in_background(
    handle: i64,
    marker: &str,
    token: i64,
) -> std::thread::JoinHandle<(String, Instant)> {
    let value = format!("\"{marker}\"");
    std::thread::spawn(move || {
        let reply = if token == 0 {
            process(handle, NAME, Some(&value))
        } else {
            process_with_token(handle, NAME, Some(&value), token)
        };
        (reply, Instant::now())
    })
}

/// A handle whose set (carrying `marker`) is on its way in another thread, held up by a stalled
/// proxy long enough to have left; timeouts far beyond the test's, so only the test ends it.
fn stalled_set(
    tag: &str,
    marker: &str,
    token: i64,
) -> (Bench, i64, std::thread::JoinHandle<(String, Instant)>) {
    let bench = Bench::start(tag);
    let handle = connect(
        bench.proxy.port,
        r#","io_timeout_ms":20000,"call_timeout_ms":30000"#,
    );
    assert_eq!(code_of(&process(handle, NAME, None)), 0);
    bench.proxy.set(Fault::Stall);
    let call = call_in_background(handle, marker, token);
    std::thread::sleep(Duration::from_millis(300));
    (bench, handle, call)
}

/// The stalled set returns 9011 within 500 ms of its cancel at `since`.
fn ends_cancelled_soon(call: std::thread::JoinHandle<(String, Instant)>, since: Instant) {
    let (reply, returned_at) = call.join().unwrap();
    assert_eq!(code_of(&reply), code::CANCELLED, "{reply}");
    let took = returned_at.duration_since(since);
    assert!(
        took < Duration::from_millis(500),
        "returned {took:?} after the cancel"
    );
}

#[test]
fn a_token_cancelled_after_its_call_ended_does_not_cut_a_later_disconnect_short() {
    let bench = Bench::start("cancel-then-close");
    let handle = connect(bench.sim.port, "");
    let token = new_token();
    assert_eq!(code_of(&process_with_token(handle, NAME, None, token)), 0);
    // As a binding may do when its cancel lands just after the call it aimed at had ended.
    assert_eq!(mb_cancel_token_cancel(token), 0);
    assert_eq!(mb_close(handle), 0);
    assert_eq!(mb_cancel_token_free(token), 0);
    // The courtesy went out whole: the simulator traced the DISCONNECT request.
    let deadline = Instant::now() + Duration::from_secs(5);
    while applied(&bench.trace, "DISCONNECT") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(applied(&bench.trace, "DISCONNECT"), 1);
}

#[test]
fn discard_does_not_wait_for_a_stalled_call_which_then_ends_cancelled() {
    let (_bench, handle, call) = stalled_set("discard", "discarded", 0);
    let started = Instant::now();
    assert_eq!(mb_discard(handle), 0);
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "mb_discard took {took:?}"
    );
    ends_cancelled_soon(call, started);
    assert_eq!(code_of(&process(handle, NAME, None)), code::CLOSED_HANDLE);
    assert_eq!(mb_discard(handle), code::CLOSED_HANDLE as i32);
}

#[test]
fn a_token_cancels_its_stalled_call_at_once_and_the_handle_stays_usable() {
    let token = new_token();
    assert!(token > 0);
    let (bench, handle, call) = stalled_set("token", "token-cancelled", token);
    let cancelled_at = Instant::now();
    assert_eq!(mb_cancel_token_cancel(token), 0);
    ends_cancelled_soon(call, cancelled_at);
    assert_eq!(applied(&bench.trace, "token-cancelled"), 1);
    bench.proxy.set(Fault::Pass);
    // Cancelled for good: a later call given the same token sends nothing.
    let refused = process_with_token(handle, NAME, Some("\"token-late\""), token);
    assert_eq!(code_of(&refused), code::CANCELLED, "{refused}");
    assert!(refused.contains("nothing was sent"), "{refused}");
    assert_eq!(applied(&bench.trace, "token-late"), 0);
    // Other calls on the handle are untouched by it.
    let fresh = new_token();
    assert_eq!(code_of(&process_with_token(handle, NAME, None, fresh)), 0);
    assert_eq!(code_of(&process(handle, NAME, None)), 0);
    assert_eq!(mb_cancel_token_free(token), 0);
    assert_eq!(mb_cancel_token_free(fresh), 0);
    assert_eq!(mb_close(handle), 0);
}

#[test]
fn a_token_reaches_only_its_own_call_even_while_it_waits_behind_another() {
    let bench = Bench::start("token-queued");
    let handle = connect(bench.proxy.port, "");
    assert_eq!(code_of(&process(handle, NAME, None)), 0);
    bench.proxy.set(Fault::Delay(Duration::from_millis(1500)));
    let (running, queued) = (new_token(), new_token());
    let first = call_in_background(handle, "token-first", running);
    std::thread::sleep(Duration::from_millis(200));
    // Waits for the first call's turn on the handle.
    let second = call_in_background(handle, "token-second", queued);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(mb_cancel_token_cancel(queued), 0);
    let (reply, _) = first.join().unwrap();
    assert_eq!(
        code_of(&reply),
        0,
        "the running call is not the cancelled one: {reply}"
    );
    let (reply, _) = second.join().unwrap();
    assert_eq!(code_of(&reply), code::CANCELLED, "{reply}");
    assert_eq!(applied(&bench.trace, "token-first"), 1);
    assert_eq!(applied(&bench.trace, "token-second"), 0);
    for token in [running, queued] {
        assert_eq!(mb_cancel_token_free(token), 0);
    }
    assert_eq!(mb_close(handle), 0);
}

#[test]
fn unknown_and_freed_tokens_are_refused_and_token_zero_is_none() {
    let sim = Sim::start(&[]);
    let handle = connect(sim.port, "");
    let token = new_token();
    assert_eq!(mb_cancel_token_free(token), 0);
    for refused in [
        mb_cancel_token_cancel(token),
        mb_cancel_token_free(token),
        mb_cancel_token_cancel(-1),
    ] {
        assert_eq!(refused, code::INVALID_ARGUMENT as i32);
    }
    let reply = process_with_token(handle, NAME, None, token);
    assert_eq!(code_of(&reply), code::INVALID_ARGUMENT, "{reply}");
    assert!(
        reply.contains(&format!("cancel token {token} is unknown")),
        "{reply}"
    );
    assert_eq!(code_of(&process_with_token(handle, NAME, None, 0)), 0);
    let closed = process_with_token(handle + 1_000_000, NAME, None, 0);
    assert_eq!(code_of(&closed), code::CLOSED_HANDLE, "{closed}");
    assert_eq!(mb_close(handle), 0);
}
