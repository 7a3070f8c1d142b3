//! `fork()` at any moment, as php-fpm, Apache prefork, gunicorn and `multiprocessing` do it:
//! while other threads are inside the library (its process-wide locks held), while a thread is
//! in the middle of a call on a handle the child then uses, and with the child reusing the
//! descriptor numbers it inherited. Each child reports through its exit status; the parent
//! kills a child that outlives its bound, so a hang fails the test instead of stalling it.

#![cfg(unix)]

use mikrobill_testkit::hostile;
use std::ffi::{c_char, CString};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mikrobill::code;
use mikrobill::ffi::{
    mb_cancel_token_free, mb_cancel_token_new, mb_close, mb_connect, mb_free, mb_pool_stats,
    mb_process, mb_worker_cache_set,
};

fn config(port: u16, login: &str, extra: &str) -> CString {
    CString::new(format!(
        r#"{{"host":"127.0.0.1","port":{port},"login":"{login}","password":"pw","key1":"{}","key2":"{}","io_timeout_ms":5000,"call_timeout_ms":3000{extra}}}"#,
        hostile::KEY1,
        hostile::KEY2
    ))
    .unwrap()
}

fn connect(config: &CString) -> i64 {
    let mut handle = 0;
    // SAFETY: a NUL-terminated string that outlives the call and a valid out-parameter.
    let status = unsafe { mb_connect(config.as_ptr(), &mut handle) };
    assert_eq!(status, 0);
    handle
}

/// `mb_process`'s status for a read of `path`; the reply is freed.
fn process(handle: i64, path: &str) -> i32 {
    let path = CString::new(path).unwrap();
    let mut reply: *mut c_char = null_mut();
    // SAFETY: a NUL-terminated string, NULL to read, and a valid out-parameter.
    let status = unsafe { mb_process(handle, path.as_ptr(), null(), 0, &mut reply) };
    // SAFETY: issued by the library, freed once.
    unsafe { mb_free(reply) };
    status
}

/// Forks; the child runs `child` and exits with its status (a panic is 101). The parent waits at
/// most `bound` and returns the child's exit status, or None when it had to kill it.
fn in_child(bound: Duration, child: impl FnOnce() -> i32) -> Option<i32> {
    // SAFETY: fork has no preconditions; the child only runs `child` and then _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: leaves the child at once, without running the parent's atexit handlers or
        // the test harness's destructors.
        unsafe { libc::_exit(status) };
    }
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is a valid out-parameter.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            return libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
        }
        if started.elapsed() > bound {
            // SAFETY: signals our own child, then reaps it.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// Threads that keep the library's process-wide locks busy (handle registry, cancel tokens,
/// issued strings, pool, worker cache) until `stop` is set.
fn churn(port: u16, stop: &Arc<AtomicBool>) -> Vec<thread::JoinHandle<()>> {
    (0..3)
        .map(|n| {
            let stop = Arc::clone(stop);
            let echo = config(port, "echo", r#","persistent":true"#);
            thread::spawn(move || {
                let name = CString::new(format!("fork-churn-{n}")).unwrap();
                while !stop.load(Ordering::SeqCst) {
                    let handle = connect(&echo);
                    assert_eq!(process(handle, "API.Churn"), 0);
                    assert_eq!(mb_close(handle), 0);
                    let mut token = 0;
                    let mut stats: *mut c_char = null_mut();
                    // SAFETY: valid out-parameters and NUL-terminated strings.
                    unsafe {
                        assert_eq!(mb_cancel_token_new(&mut token), 0);
                        assert_eq!(mb_pool_stats(&mut stats), 0);
                        mb_free(stats);
                        assert_eq!(mb_worker_cache_set(name.as_ptr(), name.as_ptr()), 0);
                    }
                    assert_eq!(mb_cancel_token_free(token), 0);
                }
            })
        })
        .collect()
}

#[test]
fn hundreds_of_forks_while_other_threads_hold_the_librarys_locks_never_hang_a_child() {
    let server = hostile::spawn(0);
    let port = server.addr.port();
    let stop = Arc::new(AtomicBool::new(false));
    let workers = churn(port, &stop);
    // A handle the parent's threads share, in use at many of the forks.
    let shared = connect(&config(port, "echo", ""));
    let user = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                assert_eq!(process(shared, "API.Parent"), 0);
            }
        })
    };
    let mut failures = Vec::new();
    for round in 0..300 {
        let outcome = in_child(Duration::from_secs(10), || {
            // Inherited handle: its first call reconnects (or finds its client held by a parent
            // thread at the fork and gets a new one); a new handle works as usual.
            if process(shared, "API.Child") != 0 {
                return 1;
            }
            let fresh = connect(&config(port, "echo", ""));
            if process(fresh, "API.Child") != 0 || mb_close(fresh) != 0 {
                return 2;
            }
            0
        });
        if outcome != Some(0) {
            failures.push((round, outcome));
            if failures.len() == 3 {
                break; // enough to fail on, without waiting out every hung child
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    user.join().unwrap();
    for w in workers {
        w.join().unwrap();
    }
    assert_eq!(mb_close(shared), 0);
    assert!(
        failures.is_empty(),
        "children that failed or hung: {failures:?}"
    );
}

#[test]
fn a_child_using_a_handle_whose_call_was_in_progress_at_the_fork_finishes_within_its_deadline() {
    let server = hostile::spawn(0);
    let port = server.addr.port();
    for _ in 0..5 {
        // This peer never answers a request: the parent's call holds the handle for its whole
        // call_timeout_ms (3 s), and so it holds it at the fork.
        let stalled = connect(&config(port, "timeout", ""));
        let parent_call = thread::spawn(move || process(stalled, "API.Stalled"));
        thread::sleep(Duration::from_millis(300));
        let auths_before = server.counters.auths.load(Ordering::SeqCst);
        let outcome = in_child(Duration::from_secs(8), || {
            let started = Instant::now();
            let status = process(stalled, "API.Child");
            // The child's call runs on a client of its own, which the same peer also leaves
            // unanswered: it ends at its own deadline instead of waiting for a lock no thread of
            // the child will ever release.
            let in_time = started.elapsed() < Duration::from_millis(4500);
            i32::from(!(status == code::TIMEOUT as i32 && in_time))
        });
        assert_eq!(outcome, Some(0), "the child hung or failed");
        assert!(
            server.counters.auths.load(Ordering::SeqCst) > auths_before,
            "the child connected and authenticated afresh"
        );
        assert_eq!(parent_call.join().unwrap(), code::TIMEOUT as i32);
        assert_eq!(mb_close(stalled), 0);
    }
}

/// The device and inode a descriptor names, or None when it is closed.
fn identity(fd: i32) -> Option<(u64, u64)> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `stat` is valid for writing a `struct stat`, filled on success only.
    if unsafe { libc::fstat(fd, stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so `stat` is filled.
    let stat = unsafe { stat.assume_init() };
    Some((stat.st_dev, stat.st_ino))
}

#[test]
fn a_child_that_reused_its_inherited_descriptor_numbers_keeps_its_files() {
    let server = hostile::spawn(0);
    let persistent = config(server.addr.port(), "echo", r#","persistent":true"#);
    for _ in 0..50 {
        let handle = connect(&persistent);
        assert_eq!(process(handle, "API.Pooled"), 0);
        // The connection now waits in the pool, its descriptor inherited by the child.
        assert_eq!(mb_close(handle), 0);
        let outcome = in_child(Duration::from_secs(10), || {
            // As a daemonizing child does: close every inherited descriptor, then open files of
            // its own, which get the freed numbers, the pooled socket's among them.
            for fd in 3..1024 {
                // SAFETY: closing descriptors of this (child) process.
                unsafe { libc::close(fd) };
            }
            let path = CString::new("/dev/null").unwrap();
            // SAFETY: a NUL-terminated path.
            let files: Vec<i32> = (0..256)
                .map(|_| unsafe { libc::open(path.as_ptr(), libc::O_WRONLY) })
                .collect();
            if files.iter().any(|&fd| fd < 0) {
                return 3;
            }
            // Using the pool makes the child forget what it inherited.
            let handle = connect(&persistent);
            let _ = process(handle, "API.Child");
            let _ = mb_close(handle);
            // Every number still names /dev/null: the library closed nothing it no longer owns
            // (a number it closed by mistake would now be closed, or reused by its new socket).
            let null = identity(files[0]);
            let lost = files.iter().filter(|&&fd| identity(fd) != null).count();
            i32::from(null.is_none() || lost > 0) * 4
        });
        assert_eq!(
            outcome,
            Some(0),
            "the child lost a file of its own (4) or hung"
        );
    }
}
