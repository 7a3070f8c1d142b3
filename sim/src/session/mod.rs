//! The session loop: what one admitted connection gets once its auth frame has arrived. The auth
//! is checked against the cashiers, then requests are read one frame at a time, each counted
//! against the memory budget, traced, and answered by the test double or the state's engine,
//! until DISCONNECT, a closing fault, or the peer goes. Shared state is touched only inside
//! Engine::process, so a slow or hostile peer only ever stalls its own thread.

pub mod cost;
pub mod trace;

use std::io::{self, BufReader};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::double::dialect::ReplyEncoding;
use crate::double::{send_truncated, Outcome, TestDouble};
use crate::net::admission::Budget;
use crate::reply::{Reply, BAD_LOGIN, NOT_UNDERSTOOD, NO_API_RIGHT, TOO_LARGE};
use crate::state::Engine;
use mikrobill::protocol::crypto::Cipher;
use mikrobill::protocol::frame::{read_body, read_len, write_frame};
use mikrobill::protocol::message::{parse_auth, parse_request, Request};
use trace::Trace;

/// What one read of requests asks the socket for: a whole small request with its prefix.
const REQUEST_READ_BUFFER: usize = 8 * 1024;

/// What every session shares: the state, the keys and cashiers, the test double, the trace and
/// the limits a session applies itself.
pub struct Service {
    pub engine: Engine,
    pub cipher: Cipher,
    pub config: Config,
    pub double: Arc<TestDouble>,
    pub trace: Option<Trace>,
    /// --max-frame.
    pub max_frame: usize,
    /// --max-buffered-bytes.
    pub budget: Budget,
    /// --reply-encoding: the bytes every reply's text is written as.
    pub reply_encoding: ReplyEncoding,
    /// --idle-timeout: the socket's timeout between reads.
    pub idle_timeout: Duration,
}

/// How long a request frame of `len` bytes may take to arrive once its length is read: ten
/// seconds plus one per MiB, so an honest client on a slow link gets its frame in, and a peer
/// that trickles a big one does not hold its share of the budget for longer.
fn frame_deadline(len: usize) -> Duration {
    Duration::from_secs(10 + (len / (1024 * 1024)) as u64)
}

/// The session's socket, read by one deadline while a frame's body is read (`until`), and by the
/// idle timeout alone otherwise.
struct FrameReader<'a> {
    stream: &'a TcpStream,
    until: Option<Instant>,
    idle: Duration,
    /// The read timeout the socket has now.
    set: Duration,
}

impl io::Read for FrameReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = match self.until {
            None => self.idle,
            Some(until) => {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                left.min(self.idle)
            }
        };
        // Between frames the socket keeps the idle timeout: no system call per read for it.
        if timeout != self.set {
            self.stream.set_read_timeout(Some(timeout))?;
            self.set = timeout;
        }
        io::Read::read(&mut &*self.stream, buf)
    }
}

enum Auth {
    /// Not an auth message at all: the real core answers nothing.
    Absent,
    Refused(Reply),
    Granted,
}

impl Service {
    fn send(&self, mut stream: &TcpStream, text: &str) -> io::Result<()> {
        write_frame(
            &mut stream,
            &self.cipher.encrypt(&self.reply_encoding.encode(text)),
        )
    }

    /// Runs the session whose auth frame is `first` until it ends; the connection closes when
    /// `stream` is dropped.
    pub fn serve(&self, mut stream: TcpStream, first: &[u8]) {
        let Some(plain) = self.cipher.decrypt(first) else {
            return;
        };
        let mut session = self.double.open();
        match self.authenticate(&plain) {
            Auth::Absent => return,
            Auth::Refused(reply) => {
                let reply = reply.to_json();
                self.double.login_refused(&mut session, &plain, &reply);
                let _ = self.send(&stream, &reply);
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
        let mut requests = BufReader::with_capacity(
            REQUEST_READ_BUFFER,
            FrameReader {
                stream: &stream,
                until: None,
                idle: self.idle_timeout,
                set: self.idle_timeout,
            },
        );
        loop {
            let Ok(len) = read_len(&mut requests, self.max_frame) else {
                return;
            };
            let Some(reserved) = self.budget.reserve(len) else {
                // The body is left unread, so the stream cannot go on: answer, then close.
                let busy = Reply::error(
                    TOO_LARGE,
                    &format!(
                        "request of {len} bytes not read: the simulator is buffering other \
                         requests up to --max-buffered-bytes ({}); try again",
                        self.budget.cap()
                    ),
                )
                .to_json();
                self.double.over_budget(&session, &busy);
                let _ = self.send(&stream, &busy);
                return;
            };
            // A frame that trickles in loses its reservation at its deadline, with its connection.
            requests.get_mut().until = Some(Instant::now() + frame_deadline(len));
            let Ok(frame) = read_body(&mut requests, len, 0) else {
                return;
            };
            requests.get_mut().until = None;
            let Some(plain) = self.cipher.decrypt_owned(frame) else {
                return;
            };
            let expected = cost::parsed(&plain);
            let Some(parsing) = self.budget.reserve(expected) else {
                drop(plain);
                drop(reserved);
                let busy = Reply::error(
                    TOO_LARGE,
                    &format!(
                        "request of {len} bytes not evaluated: parsed it would take about \
                         {expected} bytes, more than --max-buffered-bytes ({}) leaves free now; \
                         send less at once, or try again",
                        self.budget.cap()
                    ),
                )
                .to_json();
                self.double.over_budget(&session, &busy);
                if self.send(&stream, &busy).is_err() {
                    return;
                }
                continue;
            };
            if let Some(trace) = &self.trace {
                trace.write(&plain);
            }
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
                            let _ = send_truncated(
                                &mut stream,
                                &self.cipher,
                                &self.reply_encoding.encode(&text),
                            );
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
            drop(reserved);
            drop(parsing);
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
}
