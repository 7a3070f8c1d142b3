//! Socket reads and writes bounded by the whole call: each one waits at most until the call's
//! deadline, at most `io_timeout` without progress, and notices a cancellation within
//! `CANCEL_POLL`. The socket is non-blocking and every wait is a `poll` slice, so a peer that
//! trickles one byte a second cannot stretch a call past its deadline, and cancelling needs no
//! signal, no `shutdown` and no descriptor of its own: it only sets a flag in this process's
//! memory, which is what keeps it harmless to a connection inherited across `fork`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a blocked read or write may go before it looks at the cancel flag again.
pub const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Shared between a client and whoever may cancel its calls from another thread.
#[derive(Debug, Default)]
pub struct CancelToken {
    /// Set by `cancel`, cleared when the next call starts: cancels the call in progress only.
    requested: AtomicBool,
    /// Set once by `discard`: every call from now on, running or not, is cancelled.
    discarded: AtomicBool,
}

impl CancelToken {
    pub fn cancel(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    pub fn discard(&self) {
        self.discarded.store(true, Ordering::SeqCst);
        self.cancel();
    }

    pub fn is_discarded(&self) -> bool {
        self.discarded.load(Ordering::SeqCst)
    }

    /// A call starts: a cancel that arrived while no call ran does not carry over to this one.
    pub fn begin_call(&self) {
        self.requested.store(false, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.requested.load(Ordering::SeqCst) || self.discarded.load(Ordering::SeqCst)
    }
}

/// Why a bounded read or write gave up; carried inside the `io::Error` it returns. Its kind is
/// never `Interrupted`, which `read_to_end` and `write_all` would silently retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The whole call's deadline (`call_timeout_ms`) passed.
    CallDeadline,
    /// Nothing moved for `io_timeout_ms`.
    Idle,
    Cancelled,
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stop::CallDeadline => "call deadline passed",
            Stop::Idle => "no progress within the I/O timeout",
            Stop::Cancelled => "cancelled",
        })
    }
}

impl std::error::Error for Stop {}

/// The `Stop` inside an error from [`CallIo`], if that is what it is.
pub fn stop_of(e: &io::Error) -> Option<Stop> {
    e.get_ref()?.downcast_ref::<Stop>().copied()
}

pub struct CallIo<'a> {
    pub stream: &'a TcpStream,
    pub deadline: Instant,
    pub idle: Duration,
    pub cancel: &'a CancelToken,
}

impl CallIo<'_> {
    /// Waits until the socket is ready for `events`, or returns the reason it stopped waiting.
    fn wait(&self, events: libc::c_short) -> io::Result<()> {
        let idle_until = Instant::now() + self.idle;
        loop {
            if self.cancel.is_cancelled() {
                return Err(io::Error::other(Stop::Cancelled));
            }
            let now = Instant::now();
            if now >= self.deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, Stop::CallDeadline));
            }
            if now >= idle_until {
                return Err(io::Error::new(io::ErrorKind::TimedOut, Stop::Idle));
            }
            let slice = CANCEL_POLL
                .min(self.deadline - now)
                .min(idle_until - now)
                .as_millis()
                .max(1) as libc::c_int;
            let mut pollfd = libc::pollfd {
                fd: self.stream.as_raw_fd(),
                events,
                revents: 0,
            };
            // SAFETY: one valid pollfd on the stack that outlives the call.
            let ready = unsafe { libc::poll(&mut pollfd, 1, slice) };
            if ready > 0 {
                // Readable, writable, or an error/hang-up the next read or write will report.
                return Ok(());
            }
            if ready < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

impl Read for CallIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match (&mut &*self.stream).read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait(libc::POLLIN)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }
}

impl Write for CallIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match (&mut &*self.stream).write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait(libc::POLLOUT)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
