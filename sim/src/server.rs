//! The TCP server: a polled accept loop (so a signal can stop it) and one thread per connection.
//! Each connection owns its socket and timeouts, and touches shared state only inside
//! Engine::process, so a slow or hostile peer only ever stalls its own thread. The auth phase
//! has one overall deadline (--auth-timeout), so unauthenticated sockets hold their slot of
//! --max-connections only briefly; when every slot is taken, a new connection replaces the
//! oldest one still authenticating, so peers that connect and never authenticate cannot lock
//! honest clients out. Request frames being received or decoded share one memory budget
//! (--max-buffered-bytes) over all connections.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Instant;

use crate::config::Config;
use crate::double::{send_truncated, Outcome, TestDouble};
use crate::engine::Engine;
use crate::error::SimError;
use crate::options::Options;
use crate::redact;
use crate::reply::{Reply, BAD_LOGIN, NOT_UNDERSTOOD, NO_API_RIGHT, TOO_LARGE};
use crate::signal;
use mikrobill::protocol::crypto::Cipher;
use mikrobill::protocol::frame::{read_body, read_frame, read_len, write_frame};
use mikrobill::protocol::message::{parse_auth, parse_request, Request};

pub struct Server {
    engine: Engine,
    cipher: Cipher,
    config: Config,
    options: Options,
    trace: Option<Mutex<File>>,
    active: AtomicUsize,
    /// Connections still authenticating, by accept number (so the first is the oldest).
    authenticating: Mutex<BTreeMap<u64, TcpStream>>,
    accepted: AtomicU64,
    buffered: AtomicUsize,
    double: Arc<TestDouble>,
}

/// Bytes of one request frame counted against --max-buffered-bytes until it is dropped.
struct Buffered<'a> {
    total: &'a AtomicUsize,
    bytes: usize,
}

impl Drop for Buffered<'_> {
    fn drop(&mut self) {
        self.total.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// Leaves the authenticating set when the connection authenticates or ends.
struct Authenticating<'a> {
    set: &'a Mutex<BTreeMap<u64, TcpStream>>,
    id: u64,
}

impl Authenticating<'_> {
    fn done(&self) {
        self.set
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

impl Drop for Authenticating<'_> {
    fn drop(&mut self) {
        self.done();
    }
}

/// Stack of a connection thread. Parsing, expanding and dropping a request value recurse once
/// per nesting level, and a request may nest phpjson::MAX_DEPTH + 1 levels; 8 MiB is far above
/// what that needs even in debug builds, and costs address space only until it is touched.
pub const CONNECTION_STACK: usize = 8 * 1024 * 1024;

/// What one read of requests asks the socket for: a whole small request with its prefix.
const REQUEST_READ_BUFFER: usize = 8 * 1024;

/// Largest first (auth) frame: a real auth message is about 128 bytes.
pub const MAX_AUTH_FRAME: usize = 64 * 1024;

/// Reads that all end by one deadline: each read's timeout is the time left, so a peer that
/// trickles bytes cannot stretch the auth phase the way it can stretch a per-read timeout.
/// The idle timeout still bounds each single read.
struct Deadline<'a> {
    stream: &'a TcpStream,
    until: Instant,
    idle: std::time::Duration,
}

impl io::Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left.min(self.idle)))?;
        (&mut &*self.stream).read(buf)
    }
}

#[cfg(unix)]
fn has_pending_bytes(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: recv(2) of at most one byte into a live local, on a descriptor `stream` owns;
    // MSG_PEEK leaves the byte for the connection's own thread.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n > 0
}

/// FIONREAD counts what is queued without reading it or touching the socket's blocking mode,
/// which the connection's own thread relies on.
#[cfg(windows)]
fn has_pending_bytes(stream: &TcpStream) -> bool {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{ioctlsocket, FIONREAD, SOCKET};
    let mut queued: u32 = 0;
    // SAFETY: ioctlsocket(FIONREAD) writes one u32 into a live local, on a socket `stream` owns.
    let status = unsafe { ioctlsocket(stream.as_raw_socket() as SOCKET, FIONREAD, &mut queued) };
    status == 0 && queued > 0
}

/// Decrements the live-connection count when a connection thread ends, however it ends.
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

enum Auth {
    /// Not an auth message at all: the real core answers nothing.
    Absent,
    Refused(Reply),
    Granted,
}

impl Server {
    pub fn new(
        engine: Engine,
        cipher: Cipher,
        config: Config,
        options: Options,
    ) -> Result<Server, SimError> {
        let trace = match &options.trace_requests {
            None => None,
            // Requests may carry account data: the trace is the owner's alone.
            Some(path) => Some(Mutex::new(
                crate::journal::open_secret(OpenOptions::new().create(true).append(true), path)
                    .map_err(SimError::file(path))?,
            )),
        };
        Ok(Server {
            engine,
            cipher,
            config,
            options,
            trace,
            active: AtomicUsize::new(0),
            authenticating: Mutex::default(),
            accepted: AtomicU64::new(0),
            buffered: AtomicUsize::new(0),
            double: Arc::default(),
        })
    }

    /// Stubs, faults, replay and the request journal (crate::double) for this server.
    pub fn with_double(mut self, double: Arc<TestDouble>) -> Server {
        self.double = double;
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Accepts until SIGINT/SIGTERM, then compacts the state and returns.
    pub fn run(self: Arc<Self>, listener: TcpListener) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        while !signal::stop_requested() {
            wait_for_connection(&listener, 200);
            loop {
                match listener.accept() {
                    Ok((stream, _)) => self.spawn(stream),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => break,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning; peers retry.
                        eprintln!("mikrobill-sim: accept failed: {e}");
                        thread::sleep(std::time::Duration::from_millis(50));
                        break;
                    }
                }
            }
        }
        self.engine.shutdown();
        Ok(())
    }

    fn spawn(self: &Arc<Self>, stream: TcpStream) {
        if self.active.fetch_add(1, Ordering::SeqCst) >= self.options.max_connections
            && !self.evict_oldest_authenticating()
        {
            self.active.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let id = self.accepted.fetch_add(1, Ordering::SeqCst);
        if let Ok(watch) = stream.try_clone() {
            self.lock_authenticating().insert(id, watch);
        }
        let server = Arc::clone(self);
        let started = thread::Builder::new()
            .name("mikrobill-conn".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                let _slot = Slot(&server.active);
                let authenticating = Authenticating {
                    set: &server.authenticating,
                    id,
                };
                server.serve(stream, &authenticating);
            });
        if let Err(e) = started {
            self.lock_authenticating().remove(&id);
            self.active.fetch_sub(1, Ordering::SeqCst);
            eprintln!("mikrobill-sim: cannot start a connection thread: {e}");
        }
    }

    fn lock_authenticating(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, TcpStream>> {
        self.authenticating
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every slot is taken: the connection that has waited longest for its auth frame gives up
    /// its slot to the new one (its thread sees the shutdown and ends, freeing the slot). Until
    /// it has ended the live count passes --max-connections by one. A connection whose bytes are
    /// waiting to be read is skipped: an honest client sends its auth at once, and evicting it
    /// in the instant before its thread reads would let a storm of reconnecting squatters push
    /// out every honest newcomer.
    fn evict_oldest_authenticating(&self) -> bool {
        let mut set = self.lock_authenticating();
        let victim = set
            .iter()
            .find(|(_, stream)| !has_pending_bytes(stream))
            .map(|(&id, _)| id);
        match victim.and_then(|id| set.remove(&id)) {
            Some(stream) => {
                let _ = stream.shutdown(std::net::Shutdown::Both);
                true
            }
            None => false,
        }
    }

    /// Counts `bytes` against --max-buffered-bytes, or refuses when they would pass it.
    fn reserve(&self, bytes: usize) -> Option<Buffered<'_>> {
        let cap = self.options.max_buffered;
        self.buffered
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(bytes).filter(|&total| total <= cap)
            })
            .ok()?;
        Some(Buffered {
            total: &self.buffered,
            bytes,
        })
    }

    fn send(&self, mut stream: &TcpStream, text: &str) -> io::Result<()> {
        write_frame(&mut stream, &self.cipher.encrypt(text.as_bytes()))
    }

    fn serve(&self, mut stream: TcpStream, authenticating: &Authenticating<'_>) {
        let timeout = Some(self.options.idle_timeout);
        if stream.set_nonblocking(false).is_err()
            || stream.set_read_timeout(timeout).is_err()
            || stream.set_write_timeout(timeout).is_err()
        {
            return;
        }
        let _ = stream.set_nodelay(true);
        let max = self.options.max_frame;
        let auth_deadline = Deadline {
            stream: &stream,
            until: Instant::now() + self.options.auth_timeout,
            idle: self.options.idle_timeout,
        };
        let Ok(first) = read_frame(&mut { auth_deadline }, max.min(MAX_AUTH_FRAME)) else {
            return;
        };
        // A whole auth frame arrived: it is answered at once, so it is no longer evictable.
        authenticating.done();
        if stream.set_read_timeout(timeout).is_err() {
            return;
        }
        let Some(plain) = self.cipher.decrypt(&first) else {
            return;
        };
        let mut session = self.double.open();
        match self.authenticate(&plain) {
            Auth::Absent => return,
            Auth::Refused(reply) => {
                self.double.auth(&mut session, &plain, false);
                let _ = self.send(&stream, &reply.to_json());
                return;
            }
            Auth::Granted => {
                self.double.auth(&mut session, &plain, true);
                if self.send(&stream, &Reply::ok().to_json()).is_err() {
                    return;
                }
            }
        }
        // Buffered so that a small request, prefix and body, comes in one read; bytes of a
        // request that follows at once stay in the buffer for the next turn.
        let mut requests = BufReader::with_capacity(REQUEST_READ_BUFFER, &stream);
        loop {
            let Ok(len) = read_len(&mut requests, max) else {
                return;
            };
            let Some(buffered) = self.reserve(len) else {
                // The body is left unread, so the stream cannot go on: answer, then close.
                let busy = Reply::error(
                    TOO_LARGE,
                    &format!(
                        "request of {len} bytes not read: the simulator is buffering other \
                         requests up to --max-buffered-bytes ({}); try again",
                        self.options.max_buffered
                    ),
                );
                let _ = self.send(&stream, &busy.to_json());
                return;
            };
            let Ok(frame) = read_body(&mut requests, len, 0) else {
                return;
            };
            let Some(plain) = self.cipher.decrypt_owned(frame) else {
                return;
            };
            self.trace(&plain);
            let reply = match parse_request(&plain) {
                Ok(Request::Disconnect) => {
                    self.double.disconnect();
                    let _ = self.send(&stream, &Reply::ok().to_json());
                    return;
                }
                Ok(Request::Process { path, value }) => {
                    let tree = || self.engine.process(&path, &value);
                    match self.double.process(&session, &path, &value, tree) {
                        Outcome::Reply(text) => text,
                        Outcome::NoReply => continue,
                        Outcome::Close => return,
                        Outcome::Truncate(text) => {
                            let _ = send_truncated(&mut stream, &self.cipher, &text);
                            return;
                        }
                    }
                }
                Err(_) => {
                    let text = Reply::error(
                        NOT_UNDERSTOOD,
                        "request not understood: expected {\"path\":...,\"value\":...}",
                    )
                    .to_json();
                    self.double.unparsed(&session, &text);
                    text
                }
            };
            // The request is done with (its value was dropped by now): the budget is free again
            // before the peer can see the reply.
            drop(plain);
            drop(buffered);
            if self.send(&stream, &reply).is_err() {
                return;
            }
        }
    }

    fn authenticate(&self, plain: &[u8]) -> Auth {
        let Some(auth) = parse_auth(plain) else {
            return Auth::Absent;
        };
        let bad = || Auth::Refused(Reply::error(BAD_LOGIN, "incorrect login or password"));
        let Some(cashier) = self.config.cashier(&auth.login) else {
            return bad();
        };
        if !auth.proves(&cashier.password) {
            return bad();
        }
        if !cashier.api {
            return Auth::Refused(Reply::error(
                NO_API_RIGHT,
                "this cashier may not connect through the API",
            ));
        }
        Auth::Granted
    }

    fn trace(&self, plain: &[u8]) {
        if let Some(trace) = &self.trace {
            let traced = redact::for_trace(plain);
            let mut line = Vec::with_capacity(traced.len() + 1);
            line.extend_from_slice(&traced);
            line.push(b'\n');
            let mut file = trace.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = file.write_all(&line) {
                eprintln!("mikrobill-sim: cannot write the request trace: {e}");
            }
        }
    }
}

/// Waits up to `millis` for the listener to have a connection to accept; returns early, late or
/// spuriously without harm, since the caller accepts non-blockingly and loops.
#[cfg(unix)]
fn wait_for_connection(listener: &TcpListener, millis: i32) {
    use std::os::fd::AsRawFd;
    let mut pollfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd that outlives the call. EINTR (a signal) just returns.
    unsafe { libc::poll(&mut pollfd, 1, millis) };
}

#[cfg(windows)]
fn wait_for_connection(listener: &TcpListener, millis: i32) {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{WSAPoll, POLLRDNORM, SOCKET, WSAPOLLFD};
    let mut pollfd = WSAPOLLFD {
        fd: listener.as_raw_socket() as SOCKET,
        events: POLLRDNORM,
        revents: 0,
    };
    // SAFETY: one valid WSAPOLLFD that outlives the call, on a socket the listener keeps open.
    unsafe { WSAPoll(&mut pollfd, 1, millis) };
}
