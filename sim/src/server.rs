//! The TCP server: a polled accept loop (so a signal can stop it) and one thread per connection.
//! Each connection owns its socket and timeouts, and touches shared state only inside
//! Engine::process, so a slow or hostile peer only ever stalls its own thread. The auth phase
//! has one overall deadline (--auth-timeout), so unauthenticated sockets hold their slot of
//! --max-connections only briefly.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Instant;

use crate::config::Config;
use crate::double::{send_truncated, Outcome, TestDouble};
use crate::engine::Engine;
use crate::error::SimError;
use crate::options::Options;
use crate::reply::{Reply, BAD_LOGIN, NOT_UNDERSTOOD, NO_API_RIGHT};
use crate::signal;
use mikrobill::protocol::crypto::Cipher;
use mikrobill::protocol::frame::{read_frame, write_frame};
use mikrobill::protocol::message::{parse_auth, parse_request, Request};

pub struct Server {
    engine: Engine,
    cipher: Cipher,
    config: Config,
    options: Options,
    trace: Option<Mutex<File>>,
    active: AtomicUsize,
    double: Arc<TestDouble>,
}

/// Stack of a connection thread. Parsing, expanding and dropping a request value recurse once
/// per nesting level, and a request may nest phpjson::MAX_DEPTH + 1 levels; 8 MiB is far above
/// what that needs even in debug builds, and costs address space only until it is touched.
pub const CONNECTION_STACK: usize = 8 * 1024 * 1024;

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
            Some(path) => Some(Mutex::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
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
        if self.active.fetch_add(1, Ordering::SeqCst) >= self.options.max_connections {
            self.active.fetch_sub(1, Ordering::SeqCst);
            return;
        }
        let server = Arc::clone(self);
        let started = thread::Builder::new()
            .name("mikrobill-conn".into())
            .stack_size(CONNECTION_STACK)
            .spawn(move || {
                let _slot = Slot(&server.active);
                server.serve(stream);
            });
        if let Err(e) = started {
            self.active.fetch_sub(1, Ordering::SeqCst);
            eprintln!("mikrobill-sim: cannot start a connection thread: {e}");
        }
    }

    fn send(&self, stream: &mut TcpStream, text: &str) -> io::Result<()> {
        write_frame(stream, &self.cipher.encrypt(text.as_bytes()))
    }

    fn serve(&self, mut stream: TcpStream) {
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
                let _ = self.send(&mut stream, &reply.to_json());
                return;
            }
            Auth::Granted => {
                self.double.auth(&mut session, &plain, true);
                crate::stats::auth_granted();
                if self.send(&mut stream, &Reply::ok().to_json()).is_err() {
                    return;
                }
            }
        }
        loop {
            let Ok(frame) = read_frame(&mut stream, max) else {
                return;
            };
            let Some(plain) = self.cipher.decrypt(&frame) else {
                return;
            };
            self.trace(&plain);
            let reply = match parse_request(&plain) {
                Ok(Request::Disconnect) => {
                    self.double.disconnect();
                    crate::stats::disconnect_answered();
                    let _ = self.send(&mut stream, &Reply::ok().to_json());
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
            if self.send(&mut stream, &reply).is_err() {
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
            let mut line = Vec::with_capacity(plain.len() + 1);
            line.extend_from_slice(plain);
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
