//! Surviving `fork()` at any moment: php-fpm, Apache prefork, gunicorn and Python's
//! `multiprocessing` fork processes that may have other threads inside this library.
//!
//! - The process-wide locks (handle registry, cancel tokens, issued strings, pool, worker cache)
//!   are taken by a `pthread_atfork` prepare handler and released after the fork in both
//!   processes, so a child never inherits one held by a thread it does not have. None of them is
//!   ever held while another is taken, so taking them all in one order cannot deadlock.
//! - Each fork in a child bumps [`generation`]: a handle made before it is inherited, and its
//!   client's own lock may have been held by a parent thread mid-call (`ffi::handles` replaces
//!   such a client instead of waiting for a lock nobody will release).
//! - A descriptor is closed only while it is still the socket this library opened ([`Owned`]):
//!   a child that closed its inherited descriptors and opened a file under the same number keeps
//!   that file.

use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// How many forks this process is removed from the one that loaded the library: 0 in it, 1 in
/// its child, and so on.
pub(crate) fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

/// Holds a process-wide lock across `fork()`: `take` returns a guard that the prepare handler
/// keeps until the fork is done.
#[cfg(unix)]
pub(crate) type Take = fn() -> Box<dyn std::any::Any>;

#[cfg(unix)]
mod atfork {
    use std::cell::RefCell;
    use std::sync::Once;

    use super::{Take, GENERATION};
    use std::sync::atomic::Ordering;

    thread_local! {
        /// The guards the prepare handler took, released by the parent and child handlers,
        /// which run on the same (forking) thread.
        static HELD: RefCell<Vec<Box<dyn std::any::Any>>> = const { RefCell::new(Vec::new()) };
    }

    const LOCKS: &[Take] = &[
        crate::ffi::hold_registry,
        crate::ffi::hold_cancel_tokens,
        crate::ffi::hold_issued_strings,
        crate::pool::hold,
        crate::worker_cache::hold,
    ];

    extern "C" fn prepare() {
        // A panic must not unwind into libc; a lock that cannot be taken is simply not held.
        let _ = std::panic::catch_unwind(|| {
            let guards: Vec<_> = LOCKS.iter().map(|take| take()).collect();
            let _ = HELD.try_with(|held| *held.borrow_mut() = guards);
        });
    }

    extern "C" fn release_in_parent() {
        let _ = std::panic::catch_unwind(|| {
            let _ = HELD.try_with(|held| held.borrow_mut().clear());
        });
    }

    extern "C" fn release_in_child() {
        GENERATION.fetch_add(1, Ordering::SeqCst);
        let _ = std::panic::catch_unwind(|| {
            // The forking thread took these locks and is the child's only thread: releasing
            // them here is an ordinary unlock by their owner.
            let _ = HELD.try_with(|held| held.borrow_mut().clear());
        });
    }

    /// Registers the handlers once per process; every process-wide lock calls it before it is
    /// first taken.
    pub(crate) fn register() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: the three handlers are `extern "C"` functions that live as long as the
            // process and never unwind (each catches panics).
            unsafe {
                libc::pthread_atfork(
                    Some(prepare),
                    Some(release_in_parent),
                    Some(release_in_child),
                );
            }
        });
    }
}

/// Makes the process-wide locks safe across `fork()` (a no-op where there is no fork).
pub(crate) fn protect_locks() {
    #[cfg(unix)]
    atfork::register();
}

/// The identity of a socket this library opened, to tell in a forked child whether its
/// descriptor number still names that socket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owned {
    pid: u32,
    #[cfg(unix)]
    identity: Option<(u64, u64)>,
}

impl Owned {
    // Without fork() (Windows) the socket's identity is never needed.
    #[cfg_attr(not(unix), allow(unused_variables))]
    pub(crate) fn of(stream: &std::net::TcpStream) -> Owned {
        Owned {
            pid: std::process::id(),
            #[cfg(unix)]
            identity: identity(std::os::fd::AsRawFd::as_raw_fd(stream)),
        }
    }

    /// Whether closing `stream`'s descriptor closes the socket this library opened: always in
    /// the process that opened it; in a forked child only while the descriptor still names that
    /// socket (the child may have closed it and reused the number for something of its own).
    #[cfg_attr(not(unix), allow(unused_variables))]
    pub(crate) fn may_close(&self, stream: &std::net::TcpStream) -> bool {
        if self.pid == std::process::id() {
            return true;
        }
        #[cfg(unix)]
        {
            let now = identity(std::os::fd::AsRawFd::as_raw_fd(stream));
            now.is_some() && now == self.identity
        }
        #[cfg(not(unix))]
        true
    }
}

/// The device and inode behind `fd`, or None when it names nothing.
#[cfg(unix)]
fn identity(fd: std::os::fd::RawFd) -> Option<(u64, u64)> {
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `stat` is valid for writing a `struct stat`, which fstat fills on success only.
    if unsafe { libc::fstat(fd, stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between targets
    Some((stat.st_dev as u64, stat.st_ino as u64))
}
