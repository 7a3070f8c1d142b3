//! Socket reads and writes bounded by the whole call: each one waits at most until the call's
//! deadline, at most `io_timeout` without progress, and notices a cancellation within
//! `CANCEL_POLL`. Every wait is a socket timeout of at most one slice, so a peer that trickles one
//! byte a second cannot stretch a call past its deadline, and cancelling needs no signal, no
//! `shutdown` and no descriptor of its own: it only sets a flag in this process's memory, which
//! is what keeps it harmless to a connection inherited across `fork`. Only std socket calls are
//! used, so the same code runs on Linux and Windows.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fork::Owned;

/// How long a blocked read or write may go before it looks at the cancel flag again.
pub const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Set once by `mb_discard` (or a binding's finalizer) from any thread: every call of the
/// client from then on, running or not, stops.
#[derive(Debug, Default)]
pub(crate) struct HandleStop {
    discarded: AtomicBool,
}

impl HandleStop {
    pub(crate) fn discard(&self) {
        self.discarded.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_discarded(&self) -> bool {
        self.discarded.load(Ordering::SeqCst)
    }
}

/// Cancels the calls it is given to, from any thread, whether they have started yet or not: a
/// call that starts with it already cancelled sends nothing, and one in progress stops within
/// [`CANCEL_POLL`] (code 9011). It never reaches a call it was not given to, so a binding can
/// cancel exactly one call without racing the next one. Cancelling is for good; clones share
/// one state.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What stops the call in progress: its client's [`HandleStop`], and its own [`CancelToken`]
/// when it was given one.
#[derive(Debug, Clone, Copy)]
pub struct Cancels<'a> {
    pub(crate) handle: &'a HandleStop,
    pub call: Option<&'a CancelToken>,
}

impl Cancels<'_> {
    pub fn any(&self) -> bool {
        self.handle.is_discarded() || self.call.is_some_and(CancelToken::is_cancelled)
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

/// A connection's socket and the timeouts last set on it. Each bounded read or write needs a
/// socket timeout of one slice, nearly always the same `CANCEL_POLL`; setting it is a system
/// call, so it is set only when it changes, across calls and across pages of a pooled
/// connection alike. Only [`CallIo`] sets timeouts on this socket, so what is recorded here is
/// what the socket has.
#[derive(Debug)]
pub struct Connection {
    /// Closed by `Drop` only while it is still ours (see [`Owned`]).
    stream: ManuallyDrop<TcpStream>,
    owned: Owned,
    read_slice: Cell<Option<Duration>>,
    write_slice: Cell<Option<Duration>>,
}

impl Connection {
    /// A socket whose timeouts are not known: the first read and write set theirs.
    pub fn new(stream: TcpStream) -> Connection {
        Connection {
            owned: Owned::of(&stream),
            stream: ManuallyDrop::new(stream),
            read_slice: Cell::new(None),
            write_slice: Cell::new(None),
        }
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl Drop for Connection {
    /// Closes this process's descriptor (never `shutdown`, so a forked process sharing the
    /// socket keeps its session), unless, in a forked child, the number no longer names the
    /// socket: then it belongs to the child now and is left open.
    fn drop(&mut self) {
        if self.owned.may_close(&self.stream) {
            // SAFETY: `stream` is dropped once, here, and never used again.
            unsafe { ManuallyDrop::drop(&mut self.stream) };
        }
    }
}

pub struct CallIo<'a> {
    pub conn: &'a Connection,
    pub deadline: Instant,
    pub idle: Duration,
    pub cancels: Cancels<'a>,
}

/// Which socket timeout a slice sets.
#[derive(Clone, Copy)]
enum Direction {
    Read,
    Write,
}

impl CallIo<'_> {
    /// Runs `attempt` (one read or one write) in slices until it moves bytes, fails for real,
    /// or a limit or a cancel stops it.
    fn bounded(
        &self,
        direction: Direction,
        mut attempt: impl FnMut() -> io::Result<usize>,
    ) -> io::Result<usize> {
        let idle_until = Instant::now() + self.idle;
        let set_slice = match direction {
            Direction::Read => &self.conn.read_slice,
            Direction::Write => &self.conn.write_slice,
        };
        loop {
            if self.cancels.any() {
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
                .max(Duration::from_millis(1));
            if set_slice.get() != Some(slice) {
                // Forgotten first: should setting fail half-way, the next attempt sets it again.
                set_slice.set(None);
                match direction {
                    Direction::Read => self.conn.stream.set_read_timeout(Some(slice))?,
                    Direction::Write => self.conn.stream.set_write_timeout(Some(slice))?,
                }
                set_slice.set(Some(slice));
            }
            match attempt() {
                // Unix reports a socket timeout as WouldBlock, Windows as TimedOut.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                other => return other,
            }
        }
    }
}

impl Read for CallIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let stream: &TcpStream = &self.conn.stream;
        self.bounded(Direction::Read, || (&mut &*stream).read(buf))
    }
}

impl Write for CallIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let stream: &TcpStream = &self.conn.stream;
        self.bounded(Direction::Write, || (&mut &*stream).write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
