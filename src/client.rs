//! One session with a MikroBILL core: lazy connect and auth, one request then one reply, safe
//! reconnection between calls, and never a resent request.

use serde_json::Value;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::SystemTime;

use crate::config::Config;
use crate::error::Error;
use crate::pool::{self, Identity};
use crate::protocol::crypto::Cipher;
use crate::protocol::frame::{read_frame, write_frame, FrameError};
use crate::protocol::{message, phpjson};

pub struct Client {
    config: Config,
    cipher: Cipher,
    conn: Option<TcpStream>,
    /// The process that opened or took `conn`: a forked child must not talk on its parent's
    /// session.
    conn_pid: u32,
    /// Set for a persistent client: the pool key its connections go back under.
    identity: Option<Identity>,
}

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
            conn_pid: 0,
            identity,
        })
    }

    /// Sends `{"path":PATH,"value":VALUE}` and returns the reply text exactly as decrypted.
    /// `value_json` is any JSON text (`None` reads); it is re-encoded as PHP `json_encode`
    /// writes it, keeping key order and number text.
    pub fn process(&mut self, path: &str, value_json: Option<&str>) -> Result<String, Error> {
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
        self.send(message::request_encoded(path, value.as_deref()))
    }

    fn send(&mut self, request: String) -> Result<String, Error> {
        self.ensure_connected()?;
        let result = self.exchange(request.as_bytes());
        if result.is_err() {
            // After a failed exchange the stream may still deliver a late reply, which would be
            // taken for the answer to the next request: the only safe state is a new connection.
            self.drop_connection();
        }
        result
    }

    /// True when the server is reachable and accepts our login, connecting if needed; the
    /// "is the billing online" probe that kassa extensions use.
    pub fn check_connection(&mut self) -> bool {
        self.ensure_connected().is_ok()
    }

    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Says DISCONNECT, waits for a reply if one comes, and closes. The client stays usable: the
    /// next call connects again. A persistent client hands its connection to the pool instead.
    pub fn disconnect(&mut self) {
        if self.conn.is_some() && self.conn_pid != std::process::id() {
            // Inherited across fork: DISCONNECT would end the parent's session.
            self.drop_connection();
            return;
        }
        if self.return_to_pool() {
            return;
        }
        if let Some(mut stream) = self.conn.take() {
            let bye = message::request(message::DISCONNECT_PATH, None);
            if write_frame(&mut stream, &self.cipher.encrypt(bye.as_bytes())).is_ok() {
                // The reply, an end of stream or an error are all fine here: we are leaving.
                let _ = read_frame(&mut stream, self.config.max_frame_bytes);
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
            Some(stream) => {
                pool::put(
                    identity.clone(),
                    stream,
                    self.cipher.clone(),
                    self.config.pool_limits,
                );
                true
            }
            None => true,
        }
    }

    pub(crate) fn ensure_connected(&mut self) -> Result<(), Error> {
        if self.conn.is_some() && self.conn_pid != std::process::id() {
            // Inherited across fork: the parent may still use this session.
            self.drop_connection();
        }
        if let Some(stream) = &self.conn {
            if peer_still_there(stream) {
                return Ok(());
            }
            // The server went away between calls (restart, idle timeout): nothing of ours was
            // in flight, so connecting again before sending is safe.
            self.drop_connection();
        }
        let pooled = self.identity.as_ref().and_then(pool::take);
        let stream = match pooled {
            Some(stream) => stream,
            None => self.open()?,
        };
        self.conn = Some(stream);
        self.conn_pid = std::process::id();
        Ok(())
    }

    fn open(&self) -> Result<TcpStream, Error> {
        let stream = self.connect_tcp()?;
        stream
            .set_read_timeout(Some(self.config.io_timeout))
            .and_then(|_| stream.set_write_timeout(Some(self.config.io_timeout)))
            .and_then(|_| stream.set_nodelay(true))
            .map_err(|e| Error::Internal(format!("configuring the socket: {e}")))?;
        self.authenticate(stream)
    }

    fn connect_tcp(&self) -> Result<TcpStream, Error> {
        let host = self.config.host.as_str();
        let port = self.config.port;
        let addrs = (host, port)
            .to_socket_addrs()
            .map_err(|e| Error::HostNotResolved(format!("{host}: {e}")))?;
        let mut last_failure = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.config.connect_timeout) {
                Ok(stream) => return Ok(stream),
                Err(e) => last_failure = Some((addr, e)),
            }
        }
        match last_failure {
            None => Err(Error::HostNotResolved(format!("{host}: no addresses"))),
            Some((addr, e)) => Err(Error::Connect {
                errno: os_errno(&e),
                detail: format!("{addr}: {e}"),
            }),
        }
    }

    fn authenticate(&self, mut stream: TcpStream) -> Result<TcpStream, Error> {
        let sign = message::microtime_sign(SystemTime::now());
        let auth = message::auth(&self.config.login, &self.config.password, &sign);
        write_frame(&mut stream, &self.cipher.encrypt(auth.as_bytes())).map_err(|e| {
            if is_timeout(&e) {
                Error::Timeout("sending the auth message".into())
            } else {
                Error::ConnectionLost(format!("while sending the auth message: {e}"))
            }
        })?;
        // A missing auth reply, however it goes missing, is what the original reported as
        // code 6: most often the keys are wrong and the server stays silent.
        let ciphertext = read_frame(&mut stream, self.config.max_frame_bytes).map_err(|e| {
            reply_failure(
                e,
                self.config.io_timeout.as_millis(),
                Error::NullResponse,
                " (auth reply)",
            )
        })?;
        let plain = self.cipher.decrypt(&ciphertext).unwrap_or_default();
        let reply: Value = serde_json::from_slice(&plain)
            .map_err(|_| Error::NullResponse("the auth reply did not decrypt to JSON".into()))?;
        match reply.get("code").and_then(Value::as_i64) {
            Some(0) => Ok(stream),
            Some(_) => Err(Error::AuthRejected(
                String::from_utf8(plain).expect("parsed as JSON, so UTF-8"),
            )),
            None => Err(Error::MalformedReply(
                "the auth reply has no integer code".into(),
            )),
        }
    }

    fn exchange(&mut self, request: &[u8]) -> Result<String, Error> {
        let frame = self.cipher.encrypt(request);
        let max = self.config.max_frame_bytes;
        let io_ms = self.config.io_timeout.as_millis();
        let stream = self.conn.as_mut().expect("connected by ensure_connected");
        write_frame(stream, &frame).map_err(|e| {
            if is_timeout(&e) {
                Error::Timeout(format!(
                    "sending the request ({io_ms} ms); it was not resent"
                ))
            } else {
                Error::ConnectionLost(format!(
                    "while sending the request ({e}); it was not resent"
                ))
            }
        })?;
        let ciphertext = read_frame(stream, max).map_err(|e| match e {
            FrameError::Io(ref io) if is_timeout(io) => Error::Timeout(format!(
                "waiting {io_ms} ms for the reply; the request was not resent"
            )),
            e => reply_failure(
                e,
                io_ms,
                Error::ConnectionLost,
                "; the request was not resent",
            ),
        })?;
        let plain = self
            .cipher
            .decrypt(&ciphertext)
            .ok_or_else(|| Error::MalformedReply("the reply is not whole cipher blocks".into()))?;
        let text = String::from_utf8(plain)
            .map_err(|_| Error::MalformedReply("the reply is not UTF-8 text".into()))?;
        if text.is_empty() {
            return Err(Error::MalformedReply("the reply is empty".into()));
        }
        Ok(text)
    }
}

/// What a failed reply read means. `missing` names the error for a reply that never came (the
/// stream ended, broke or stayed silent); `context` finishes its sentence.
fn reply_failure(e: FrameError, io_ms: u128, missing: fn(String) -> Error, context: &str) -> Error {
    match e {
        FrameError::Closed => missing(format!("before the reply arrived{context}")),
        FrameError::Truncated => missing(format!("in the middle of the reply{context}")),
        FrameError::Io(io) if is_timeout(&io) => {
            missing(format!("no reply within {io_ms} ms{context}"))
        }
        FrameError::Io(io) => missing(format!("while waiting for the reply ({io}){context}")),
        FrameError::TooLarge { .. } => Error::FrameTooLarge(e.to_string()),
        FrameError::Misaligned(_) => Error::MalformedReply(e.to_string()),
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.disconnect();
    }
}

/// A connection that is idle between calls has nothing to read; end of stream, an error or
/// unsolicited bytes all mean it cannot carry the next request.
pub(crate) fn peer_still_there(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let mut byte = [0u8; 1];
    let idle =
        matches!(stream.peek(&mut byte), Err(ref e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && idle
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
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
