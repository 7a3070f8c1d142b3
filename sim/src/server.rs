//! The TCP server: a polled accept loop (so a signal can stop it) and one thread per connection.
//! Each connection owns its socket and timeouts, and touches shared state only inside
//! Engine::process, so a slow or hostile peer only ever stalls its own thread. The auth phase
//! has one overall deadline (--auth-timeout), so unauthenticated sockets hold their slot of
//! --max-connections only briefly; when every slot is taken, a new connection replaces the
//! oldest one still waiting for its auth frame with nothing queued, once that one has had
//! EVICTION_GRACE to send it (until then newcomers wait in the listen queue), so peers that
//! connect and never authenticate cannot lock honest clients out. Request frames being received
//! or decoded share one memory budget (--max-buffered-bytes) over all connections.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

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
    authenticating: Mutex<BTreeMap<u64, Waiting>>,
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

/// A connection waiting for its auth frame, as the accept loop sees it when it must evict one.
struct Waiting {
    stream: TcpStream,
    accepted: Instant,
}

/// Which connection waiting for its auth frame may give up its slot to a newcomer.
enum Eviction {
    Now(u64),
    /// The candidate is still within EVICTION_GRACE for this long.
    After(Duration),
    /// None is waiting with nothing queued.
    Nobody,
}

/// Leaves the authenticating set when the connection authenticates or ends.
struct Authenticating<'a> {
    set: &'a Mutex<BTreeMap<u64, Waiting>>,
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

/// How long a new connection keeps its slot whatever comes after it. An honest client sends its
/// auth right after connecting, but a loaded machine can deschedule it for milliseconds in
/// between; peers that reconnect the moment they are closed renew every other slot meanwhile, so
/// "the oldest" alone could be a connection a few milliseconds old.
const EVICTION_GRACE: Duration = Duration::from_millis(250);

/// How often the accept loop looks again while it leaves newcomers queued (a slot may also free).
const ADMISSION_RECHECK: Duration = Duration::from_millis(10);

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

/// Bytes queued on the socket and not yet read. FIONREAD counts them without reading them or
/// touching the socket's blocking mode, which the connection's own thread relies on.
#[cfg(unix)]
fn queued_bytes(stream: &TcpStream) -> usize {
    use std::os::fd::AsRawFd;
    let mut queued: libc::c_int = 0;
    // SAFETY: ioctl(FIONREAD) writes one c_int into a live local, on a descriptor `stream` owns.
    let status = unsafe { libc::ioctl(stream.as_raw_fd(), libc::FIONREAD, &mut queued) };
    if status == 0 {
        usize::try_from(queued).unwrap_or(0)
    } else {
        0
    }
}

#[cfg(windows)]
fn queued_bytes(stream: &TcpStream) -> usize {
    use std::os::windows::io::AsRawSocket;
    use windows_sys::Win32::Networking::WinSock::{ioctlsocket, FIONREAD, SOCKET};
    let mut queued: u32 = 0;
    // SAFETY: ioctlsocket(FIONREAD) writes one u32 into a live local, on a socket `stream` owns.
    let status = unsafe { ioctlsocket(stream.as_raw_socket() as SOCKET, FIONREAD, &mut queued) };
    if status == 0 {
        queued as usize
    } else {
        0
    }
}

/// Waits, within the auth deadline, for the first bytes of the auth frame, and tells whether the
/// whole frame (the prefix and the body it announces) is then queued. Nothing is read: the bytes
/// stay queued, so eviction keeps passing the connection over until it leaves the set.
fn whole_auth_frame_queued(stream: &TcpStream, until: Instant, idle: Duration) -> io::Result<bool> {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    stream.set_read_timeout(Some(left.min(idle)))?;
    let mut prefix = [0u8; 4];
    if stream.peek(&mut prefix)? < prefix.len() {
        return Ok(false);
    }
    let frame = usize::try_from(u32::from_le_bytes(prefix))
        .unwrap_or(usize::MAX)
        .saturating_add(prefix.len());
    Ok(queued_bytes(stream) >= frame)
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
                if let Some(wait) = self.admission_wait() {
                    // Newcomers stay in the listen queue, where their auth bytes can arrive.
                    thread::sleep(wait);
                    break;
                }
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
            let waiting = Waiting {
                stream: watch,
                accepted: Instant::now(),
            };
            self.lock_authenticating().insert(id, waiting);
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

    fn lock_authenticating(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Waiting>> {
        self.authenticating
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection that may give up its slot: the oldest one waiting for its auth frame with
    /// nothing queued, if it is past EVICTION_GRACE (every later one is younger). A connection
    /// with bytes queued is passed over: it leaves the set before it reads its whole auth frame
    /// (see serve), so an honest client whose frame has arrived is never taken.
    fn eviction_candidate(set: &BTreeMap<u64, Waiting>) -> Eviction {
        let Some((&id, oldest)) = set
            .iter()
            .find(|(_, waiting)| queued_bytes(&waiting.stream) == 0)
        else {
            return Eviction::Nobody;
        };
        let left = EVICTION_GRACE.saturating_sub(oldest.accepted.elapsed());
        if left.is_zero() {
            Eviction::Now(id)
        } else {
            Eviction::After(left)
        }
    }

    /// Every slot is taken and the connection that would give its slot up is still within its
    /// grace: how long to leave newcomers queued before looking again. None when a newcomer can
    /// be accepted now: a slot is free, a connection can be evicted, or none is waiting for its
    /// auth with nothing queued (the newcomer is then closed on accept, as every slot is in use).
    fn admission_wait(&self) -> Option<Duration> {
        if self.active.load(Ordering::SeqCst) < self.options.max_connections {
            return None;
        }
        match Self::eviction_candidate(&self.lock_authenticating()) {
            Eviction::After(left) => Some(left.min(ADMISSION_RECHECK)),
            Eviction::Now(_) | Eviction::Nobody => None,
        }
    }

    /// Every slot is taken: the eviction candidate gives up its slot to the new connection (its
    /// thread sees the shutdown and ends, freeing the slot). Until it has ended the live count
    /// passes --max-connections by one. False (the newcomer is closed) when none may: every one
    /// is authenticated or has its auth queued, or, rarely, the candidate admission_wait saw
    /// authenticated in the meantime and the next one is still within its grace.
    fn evict_oldest_authenticating(&self) -> bool {
        let mut set = self.lock_authenticating();
        let victim = match Self::eviction_candidate(&set) {
            Eviction::Now(id) => set.remove(&id),
            Eviction::After(_) | Eviction::Nobody => None,
        };
        match victim {
            Some(waiting) => {
                let _ = waiting.stream.shutdown(std::net::Shutdown::Both);
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
        // Leaving the set before the frame is read, while its bytes are still queued, leaves no
        // instant in which an eviction sees nothing queued yet still finds the connection in the
        // set: leaving after the read let a reconnecting storm evict an honest client whose
        // auth had been read but not yet answered. A frame not queued whole at first (trickled)
        // leaves the connection evictable until it is read.
        let Ok(whole) = whole_auth_frame_queued(&stream, auth_deadline.until, auth_deadline.idle)
        else {
            return;
        };
        if whole {
            authenticating.done();
        }
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
