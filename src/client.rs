//! One session with a MikroBILL core: lazy connect and auth, one request then one reply, safe
//! reconnection between calls, and never a resent request.

use serde_json::Value;
use std::io::{self, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::call_io::{stop_of, CallIo, CancelToken, Cancels, Connection, HandleStop, Stop};
use crate::config::Config;
use crate::error::Error;
use crate::peek::peek_now;
use crate::pool::{self, Identity};
use crate::protocol::crypto::Cipher;
use crate::protocol::frame::{read_body, read_len, FrameError};
use crate::protocol::{jsoncheck, message, phpjson};

pub struct Client {
    config: Config,
    cipher: Cipher,
    conn: Option<Connection>,
    stop: Arc<HandleStop>,
    /// The token of the call in progress, when it was given one (process_with).
    call_token: Option<CancelToken>,
    /// The process that opened or took `conn`: a forked child must not talk on its parent's
    /// session.
    conn_pid: u32,
    /// Set for a persistent client: the pool key its connections go back under.
    identity: Option<Identity>,
}

/// What one read of a reply asks the socket for: a whole small reply with its prefix.
const REPLY_READ_BUFFER: usize = 8 * 1024;

/// Text of code 6 when the server hung up instead of answering the auth message.
const CLOSED_DURING_AUTH: &str = "the server closed the connection without answering the auth \
     (keys wrong, or the server refused the connection)";

impl Client {
    /// Checks the settings and keys; the connection is opened by the first call that needs it,
    /// as the original client does.
    pub fn new(config: Config) -> Result<Client, Error> {
        config.validate()?;
        let cipher = Cipher::from_base64(&config.key1, &config.key2)
            .map_err(|e| Error::InvalidKey(e.to_string()))?;
        let identity = config.persistent.then(|| Identity::of(&config));
        Ok(Client {
            config,
            cipher,
            conn: None,
            stop: Arc::default(),
            call_token: None,
            conn_pid: 0,
            identity,
        })
    }

    /// What another thread uses to discard this client: every call from then on, running or
    /// not, returns code 9011 (a running one within about 20 ms; one stuck in a TCP connect when
    /// the connect ends, at most `connect_timeout`).
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    pub(crate) fn stopper(&self) -> Arc<HandleStop> {
        Arc::clone(&self.stop)
    }

    /// Sends `{"path":PATH,"value":VALUE}` and returns the reply text exactly as decrypted.
    /// `value_json` is any JSON text (`None` reads); it is re-encoded as PHP `json_encode`
    /// writes it, keeping key order and number text.
    /// The reply must be UTF-8 (9004 otherwise); [`Client::process_bytes`] takes any bytes.
    pub fn process(&mut self, path: &str, value_json: Option<&str>) -> Result<String, Error> {
        utf8(self.process_bytes(path, value_json, None)?)
    }

    /// [`Client::process`] for a reply in any encoding: the reply's bytes exactly as decrypted,
    /// UTF-8 or not (a core writing CP1251 is passed through, as the original client passes it),
    /// cancelled by `token` as [`Client::process_with`] is.
    pub fn process_bytes(
        &mut self,
        path: &str,
        value_json: Option<&str>,
        token: Option<&CancelToken>,
    ) -> Result<Vec<u8>, Error> {
        self.begin_call(token);
        let result = self.request(path, value_json);
        self.call_token = None;
        result
    }

    /// [`Client::process`], cancelled by `token`: at once, sending nothing, when the token is
    /// already cancelled; otherwise when it is cancelled during the call (code 9011). A token
    /// cancelled after the call has no effect on it.
    pub fn process_with(
        &mut self,
        path: &str,
        value_json: Option<&str>,
        token: &CancelToken,
    ) -> Result<String, Error> {
        utf8(self.process_bytes(path, value_json, Some(token))?)
    }

    /// A call starts, watched by its own token only (a token left by a call that panicked is
    /// dropped here).
    fn begin_call(&mut self, token: Option<&CancelToken>) {
        self.call_token = token.cloned();
    }

    /// What stops the call in progress: a discard of the handle, or its token.
    fn cancels(&self) -> Cancels<'_> {
        Cancels {
            handle: &self.stop,
            call: self.call_token.as_ref(),
        }
    }

    fn token_cancelled(&self) -> bool {
        self.call_token
            .as_ref()
            .is_some_and(CancelToken::is_cancelled)
    }

    fn request(&mut self, path: &str, value_json: Option<&str>) -> Result<Vec<u8>, Error> {
        let value = value_json
            .map(|text| {
                let numbers = if self.config.php_floats {
                    phpjson::Numbers::PhpDoubles
                } else {
                    phpjson::Numbers::AsWritten
                };
                phpjson::reencode_with(text, numbers).map_err(|e| match e {
                    phpjson::ParseError::TooDeep => Error::InvalidArgument(format!("value is {e}")),
                    phpjson::ParseError::Json(e) => {
                        Error::InvalidArgument(format!("value is not valid JSON: {e}"))
                    }
                    phpjson::ParseError::NotFinite(e) => {
                        Error::InvalidArgument(format!("value: {e}"))
                    }
                    phpjson::ParseError::NoThread(_) => Error::Internal(e.to_string()),
                })
            })
            .transpose()?;
        let request = message::request_encoded(path, value.as_deref());
        drop(value);
        self.send(request)
    }

    fn send(&mut self, request: String) -> Result<Vec<u8>, Error> {
        let deadline = self.deadline();
        self.connect_by(deadline)?;
        let frame = self.cipher.encrypt_frame(request.as_bytes());
        drop(request);
        let result = self.exchange(&frame, deadline);
        if result.is_err() {
            // After a failed exchange the stream may still deliver a late reply, which would be
            // taken for the answer to the next request: the only safe state is a new connection.
            self.drop_connection();
        }
        result
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.config.call_timeout
    }

    fn io<'a>(&'a self, conn: &'a Connection, deadline: Instant) -> CallIo<'a> {
        CallIo {
            conn,
            deadline,
            idle: self.config.io_timeout,
            cancels: self.cancels(),
        }
    }

    /// True when the server is reachable and accepts our login, connecting if needed; the
    /// "is the billing online" probe that kassa extensions use.
    pub fn check_connection(&mut self) -> bool {
        self.ensure_connected(None).is_ok()
    }

    /// Connects and authenticates unless the connection is already sound, within one call's
    /// deadline; the reason when that fails. `token`, when given, cancels the check as it
    /// cancels [`Client::process_with`].
    pub fn ensure_connected(&mut self, token: Option<&CancelToken>) -> Result<(), Error> {
        self.begin_call(token);
        let result = self.connect_by(self.deadline());
        self.call_token = None;
        result
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Says DISCONNECT, waits for a reply if one comes (at most `io_timeout`), and closes. The
    /// client stays usable: the next call connects again. A persistent client hands its
    /// connection to the pool instead.
    pub fn disconnect(&mut self) {
        if self.conn.is_some() && self.conn_pid != std::process::id() {
            // Inherited across fork: DISCONNECT would end the parent's session.
            self.drop_connection();
            return;
        }
        if self.return_to_pool() {
            return;
        }
        if let Some(conn) = self.conn.take() {
            // The courtesy is a call of its own, watched by no call's token (only a discard stops
            // it, and its own io_timeout bounds it).
            self.begin_call(None);
            let bye = message::request(message::DISCONNECT_PATH, None);
            let mut io = self.io(&conn, Instant::now() + self.config.io_timeout);
            if io
                .write_all(&self.cipher.encrypt_frame(bye.as_bytes()))
                .is_ok()
            {
                // The reply, an end of stream or an error are all fine here: we are leaving.
                let _ = read_len(&mut io, self.config.max_frame_bytes)
                    .and_then(|len| read_body(&mut io, len, 0));
            }
        }
    }

    /// Closes the connection without the DISCONNECT courtesy and without waiting, for when its
    /// state is unknown or the caller must not block. Only this process's descriptor is closed
    /// (no `shutdown`), so a connection inherited across `fork` stays intact in the other process.
    pub fn drop_connection(&mut self) {
        self.conn = None;
    }

    /// Lets go of the connection without network I/O or waiting: a persistent client hands it
    /// to the pool, any other just closes it. For finalizers.
    pub fn release(&mut self) {
        if !self.return_to_pool() {
            self.drop_connection();
        }
    }

    /// True when the connection went to the pool. Failed exchanges drop their connection, so one
    /// still here is idle and its last exchange succeeded; one inherited across `fork` is only
    /// closed, never pooled.
    fn return_to_pool(&mut self) -> bool {
        let Some(identity) = &self.identity else {
            return false;
        };
        if self.conn.is_some() && self.conn_pid != std::process::id() {
            self.drop_connection();
            return true;
        }
        match self.conn.take() {
            Some(conn) => {
                pool::put(
                    identity.clone(),
                    conn,
                    self.cipher.clone(),
                    self.config.pool_limits,
                );
                true
            }
            None => true,
        }
    }

    fn connect_by(&mut self, deadline: Instant) -> Result<(), Error> {
        if self.stop.is_discarded() {
            return Err(Error::Cancelled(
                "before it started: the handle was discarded".into(),
            ));
        }
        if self.token_cancelled() {
            return Err(Error::Cancelled(
                "before it started: its token was cancelled; nothing was sent".into(),
            ));
        }
        if self.conn.is_some() && self.conn_pid != std::process::id() {
            // Inherited across fork: the parent may still use this session.
            self.drop_connection();
        }
        if let Some(conn) = &self.conn {
            if peer_still_there(conn.stream()) {
                return Ok(());
            }
            // The server went away between calls (restart, idle timeout), or sent bytes nobody
            // asked for: nothing of ours was in flight, so connecting again before sending is
            // safe.
            self.drop_connection();
        }
        let pooled = self.identity.as_ref().and_then(pool::take);
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open(deadline)?,
        };
        self.conn = Some(conn);
        self.conn_pid = std::process::id();
        Ok(())
    }

    fn open(&self, deadline: Instant) -> Result<Connection, Error> {
        let stream = self.connect_tcp(deadline)?;
        // Every wait is a socket timeout bounded by the call (see call_io).
        stream
            .set_nodelay(true)
            .map_err(|e| Error::Internal(format!("configuring the socket: {e}")))?;
        self.authenticate(Connection::new(stream), deadline)
    }

    fn connect_tcp(&self, deadline: Instant) -> Result<TcpStream, Error> {
        let host = self.config.host.as_str();
        let port = self.config.port;
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::HostNotResolved(format!("{host}: {e}")))?;
        let mut last_failure = None;
        for addr in addrs {
            if self.cancels().any() {
                return Err(Error::Cancelled("while connecting".into()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.call_deadline_passed("while connecting"));
            }
            let limit = self.config.connect_timeout.min(left);
            match TcpStream::connect_timeout(&addr, limit) {
                Ok(stream) => return Ok(stream),
                Err(e) => last_failure = Some((addr, e)),
            }
        }
        if self.cancels().any() {
            return Err(Error::Cancelled("while connecting".into()));
        }
        match last_failure {
            None => Err(Error::HostNotResolved(format!("{host}: no addresses"))),
            Some(_) if Instant::now() >= deadline => {
                Err(self.call_deadline_passed("while connecting"))
            }
            Some((addr, e)) => Err(Error::Connect {
                errno: os_errno(&e),
                detail: format!("{addr}: {e}"),
            }),
        }
    }

    fn call_deadline_passed(&self, during: &str) -> Error {
        Error::Timeout(format!(
            "{during}: the call took longer than call_timeout_ms ({} ms)",
            self.config.call_timeout.as_millis()
        ))
    }

    /// The error for an I/O failure that [`CallIo`] stopped on purpose, if it was one.
    fn stopped(&self, e: &io::Error, during: &str) -> Option<Error> {
        match stop_of(e)? {
            Stop::Cancelled => Some(Error::Cancelled(during.to_string())),
            Stop::CallDeadline => Some(self.call_deadline_passed(during)),
            Stop::Idle => Some(Error::Timeout(format!(
                "{during}: nothing moved for io_timeout_ms ({} ms)",
                self.config.io_timeout.as_millis()
            ))),
        }
    }

    fn authenticate(&self, conn: Connection, deadline: Instant) -> Result<Connection, Error> {
        let sign = message::microtime_sign(SystemTime::now());
        let auth = message::auth(&self.config.login, &self.config.password, &sign);
        let mut io = self.io(&conn, deadline);
        io.write_all(&self.cipher.encrypt_frame(auth.as_bytes()))
            .map_err(|e| {
                self.stopped(&e, "while sending the auth message")
                    .unwrap_or_else(|| {
                        if is_refusal(&e) {
                            Error::NullResponse(CLOSED_DURING_AUTH.into())
                        } else {
                            Error::ConnectionLost(format!("while sending the auth message: {e}"))
                        }
                    })
            })?;
        // A missing auth reply, however it goes missing, is what the original reported as
        // code 6: most often the keys are wrong and the server stays silent. A deadline or a
        // cancel are the caller's own limits and keep their codes.
        let ciphertext = read_len(&mut io, self.config.max_frame_bytes)
            .and_then(|len| read_body(&mut io, len, 0))
            .map_err(|e| match e {
                FrameError::Io(ref io) if matches!(stop_of(io), Some(Stop::Idle)) => {
                    Error::NullResponse(format!(
                        "no auth reply within io_timeout_ms ({} ms)",
                        self.config.io_timeout.as_millis()
                    ))
                }
                FrameError::Io(ref io) if stop_of(io).is_some() => self
                    .stopped(io, "while waiting for the auth reply")
                    .expect("stop_of is some"),
                FrameError::Closed => Error::NullResponse(CLOSED_DURING_AUTH.into()),
                FrameError::Io(ref io) if is_refusal(io) => {
                    Error::NullResponse(CLOSED_DURING_AUTH.into())
                }
                e => reply_failure(e, Error::NullResponse, " (auth reply)"),
            })?;
        let plain = self.cipher.decrypt_owned(ciphertext).unwrap_or_default();
        let reply: Value = serde_json::from_slice(&plain)
            .map_err(|_| Error::NullResponse("the auth reply did not decrypt to JSON".into()))?;
        match reply.get("code").and_then(Value::as_i64) {
            Some(0) => Ok(conn),
            Some(_) => Err(Error::AuthRejected(
                String::from_utf8(plain).expect("parsed as JSON, so UTF-8"),
            )),
            None => Err(Error::MalformedReply(
                "the auth reply has no integer code".into(),
            )),
        }
    }

    /// Sends `frame` and reads its reply. What the protocol only infers is not judged: a batch
    /// reply's paths pass as the core wrote them (it may normalise them), and so do replies that
    /// are not UTF-8.
    fn exchange(&self, frame: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        let max = self.config.max_frame_bytes;
        let conn = self.conn.as_ref().expect("connected by connect_by");
        let mut io = self.io(conn, deadline);
        io.write_all(frame).map_err(|e| {
            self.stopped(&e, "while sending the request; it was not resent")
                .unwrap_or_else(|| {
                    Error::ConnectionLost(format!(
                        "while sending the request ({e}); it was not resent"
                    ))
                })
        })?;
        // Buffered so that a small reply, prefix and body, comes in one read. One spare byte, so
        // that the C ABI's terminating NUL needs no reallocation.
        let mut reader = BufReader::with_capacity(REPLY_READ_BUFFER, io);
        let ciphertext = read_len(&mut reader, max)
            .and_then(|len| read_body(&mut reader, len, 1))
            .map_err(|e| match e {
                FrameError::Io(ref io) if stop_of(io).is_some() => self
                    .stopped(io, "waiting for the reply; the request was not resent")
                    .expect("stop_of is some"),
                e => reply_failure(e, Error::ConnectionLost, "; the request was not resent"),
            })?;
        let behind = reader.buffer().len();
        if let Some(waiting) = (behind > 0)
            .then_some(behind)
            .or_else(|| bytes_waiting(conn.stream()))
        {
            return Err(Error::OutOfStep(format!(
                "more bytes ({waiting}+) came right behind the reply, so it may answer an earlier \
                 request; the connection was dropped, the request was not resent and its outcome \
                 is unknown"
            )));
        }
        let plain = self
            .cipher
            .decrypt_owned(ciphertext)
            .ok_or_else(|| Error::MalformedReply("the reply is not whole cipher blocks".into()))?;
        if plain.is_empty() {
            return Err(Error::MalformedReply("the reply is empty".into()));
        }
        if plain.contains(&0) {
            return Err(Error::MalformedReply(
                "the reply holds a NUL byte, which C text cannot carry".into(),
            ));
        }
        if let Err(what) = jsoncheck::check(&plain) {
            let text = String::from_utf8_lossy(&plain).into_owned();
            return Err(Error::ReplyNotJson { what, text });
        }
        Ok(plain)
    }
}

/// A reply as text, for the callers that need UTF-8.
fn utf8(reply: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(reply).map_err(|_| {
        Error::MalformedReply(
            "the reply is not UTF-8 text (Client::process_bytes passes any encoding through)"
                .into(),
        )
    })
}

/// How many bytes are already waiting on the socket, if any, without waiting for more.
fn bytes_waiting(stream: &TcpStream) -> Option<usize> {
    let mut probe = [0u8; 64];
    match peek_now(stream, &mut probe) {
        Ok(n) if n > 0 => Some(n),
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => None,
        // Not knowing is treated as out of step: the connection is dropped, nothing resent.
        Err(_) => Some(0),
    }
}

/// A reset or broken pipe while authenticating: the server closed without reading our auth
/// (keys it cannot decrypt, or no free connection slot).
fn is_refusal(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// What a failed reply read means. `missing` names the error for a reply that never came (the
/// stream ended or broke); `context` finishes its sentence.
fn reply_failure(e: FrameError, missing: fn(String) -> Error, context: &str) -> Error {
    match e {
        FrameError::Closed => missing(format!("before the reply arrived{context}")),
        FrameError::Truncated => missing(format!("in the middle of the reply{context}")),
        FrameError::Io(io) => missing(format!("while waiting for the reply ({io}){context}")),
        FrameError::TooLarge { .. } => Error::FrameTooLarge(e.to_string()),
        FrameError::Misaligned(_) => Error::MalformedReply(e.to_string()),
    }
}

impl Drop for Client {
    /// A discarded client leaves without a word and without waiting: its connection is closed,
    /// or, for a persistent client, handed to the pool.
    fn drop(&mut self) {
        if self.stop.is_discarded() {
            self.release();
        } else {
            self.disconnect();
        }
    }
}

/// A connection that is idle between calls has nothing to read; end of stream, an error or
/// unsolicited bytes all mean it cannot carry the next request.
pub(crate) fn peer_still_there(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(peek_now(stream, &mut byte), Err(ref e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// The original reported fsockopen's errno; a timeout from `connect_timeout` carries none, so it
/// becomes ETIMEDOUT, and anything else without one EIO, never 0.
fn os_errno(e: &io::Error) -> i64 {
    match e.raw_os_error() {
        Some(n) if n != 0 => i64::from(n),
        _ if e.kind() == io::ErrorKind::TimedOut => i64::from(libc::ETIMEDOUT),
        _ => i64::from(libc::EIO),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code;

    #[test]
    fn a_discarded_client_refuses_every_later_call_without_touching_the_network() {
        // Nothing listens there, so a call that tried to connect would fail with the errno.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = Config::new(
            "127.0.0.1",
            port,
            "l",
            "p",
            crate::protocol::crypto::tests::KEY256,
            crate::protocol::crypto::tests::IV,
        );
        let mut c = Client::new(config).unwrap();
        assert_eq!(
            c.process("API.GetClients", None).unwrap_err().code(),
            i64::from(libc::ECONNREFUSED)
        );
        c.stopper().discard();
        let e = c.process("API.GetClients", None).unwrap_err();
        assert_eq!(e.code(), code::CANCELLED, "{e}");
        assert!(e.to_string().contains("discarded"), "{e}");
        assert_eq!(
            c.ensure_connected(None).unwrap_err().code(),
            code::CANCELLED
        );
    }
}
