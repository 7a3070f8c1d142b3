//! `mb proxy`: a recording proxy between a client and a real MikroBILL core. Bytes are forwarded
//! unchanged in both directions; a copy of each frame is decrypted with the installation's keys
//! and every exchange becomes one JSON line in the record file (docs/src/simulator.md, "Recording a
//! real core"). The auth message's password hash and sign are never written, nor are the keys.

use clap::Args;
use mikrobill::protocol::crypto::{Cipher, BLOCK};
use mikrobill::protocol::message::DISCONNECT_PATH;
use mikrobill_sim::config::{DEMO_KEY1, DEMO_KEY2};
use mikrobill_sim::one_line;
use mikrobill_sim::options::{byte_size, UsageError};
use mikrobill_sim::os::file::open_private_append;
use mikrobill_sim::os::{self, signal};
use mikrobill_sim::redact;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What `mb proxy --help` says after the flags.
pub const AFTER_HELP: &str = "\
Each exchange becomes one JSON line: time_ms, connection, kind (auth, process, disconnect,
undecryptable), the request path and value, the reply text and rtt_ms. The password hash, the
sign and the keys are never written, nor account passwords (set directly, in a batch or by
AddAccount), which read [redacted]. `mikrobill-sim --replay FILE` answers from such a file.

The first stdout line is `listening on ADDR:PORT`. SIGINT/SIGTERM close every connection, flush
the record file and exit 0.";

/// `mb proxy`'s flags.
#[derive(Args)]
pub struct Options {
    /// Where clients connect (port 0 = any free port)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7404")]
    listen: String,
    /// The real core's API port
    #[arg(long, value_name = "HOST:PORT")]
    upstream: String,
    /// Append the exchanges to FILE
    #[arg(long, value_name = "FILE")]
    record: String,
    /// CRYPTO_KEY_1 (default the simulator's demo key)
    #[arg(long, value_name = "B64", env = "MIKROBILL_KEY1", hide_env_values = true,
          default_value = DEMO_KEY1, hide_default_value = true)]
    key1: String,
    /// CRYPTO_KEY_2 (default the simulator's demo IV)
    #[arg(long, value_name = "B64", env = "MIKROBILL_KEY2", hide_env_values = true,
          default_value = DEMO_KEY2, hide_default_value = true)]
    key2: String,
    /// Frames larger than this are forwarded but recorded as too large; bounds the memory each
    /// connection uses (a whole number, optionally with KiB, MiB or GiB)
    #[arg(long, value_name = "BYTES", default_value = "16777216", value_parser = record_bytes)]
    max_record: usize,
    /// Refuse connections beyond N at once
    #[arg(long, value_name = "N", default_value = "256", value_parser = connections)]
    max_connections: usize,
    /// Close a client that sends nothing for SECS (its core connection with it)
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = idle_seconds)]
    idle_timeout: u64,
}

fn idle_seconds(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(0) | Err(_) => Err(format!(
            "not a whole number of seconds of at least 1: {text}"
        )),
        Ok(secs) => Ok(secs),
    }
}

fn record_bytes(text: &str) -> Result<usize, UsageError> {
    Ok(usize::try_from(byte_size(text)?).unwrap_or(usize::MAX))
}

/// A limit of connections; 0 means 1, as a proxy with no slot would serve nobody.
fn connections(text: &str) -> Result<usize, String> {
    let n: u64 = text
        .parse()
        .map_err(|_| format!("not a non-negative integer: {text}"))?;
    Ok(usize::try_from(n.max(1)).unwrap_or(usize::MAX))
}

/// The record file, one line per exchange, flushed after each line so that a crash loses at
/// most the exchange in flight.
struct Recorder {
    file: Mutex<BufWriter<File>>,
}

impl Recorder {
    /// Writes one line straight into the file's buffer (no copy of it as a string first).
    fn write(&self, line: &impl serde::Serialize) {
        self.write_with(|file| serde_json::to_writer(file, line).map_err(io::Error::from));
    }

    /// Writes an exchange's line, with `value` in the place of the line's "value".
    fn write_exchange(&self, line: &Map<String, Value>, value: Option<&RequestValue>) {
        self.write_with(|file| write_exchange(file, line, value));
    }

    fn write_with(&self, write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        let written = write(&mut file)
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.flush());
        if let Err(e) = written {
            eprintln!("mb proxy: cannot write the record file: {e}");
        }
    }

    fn finish(&self) -> io::Result<()> {
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        file.flush()?;
        file.get_ref().sync_all()
    }
}

struct Shared {
    cipher: Cipher,
    recorder: Recorder,
    upstream: Vec<SocketAddr>,
    max_record: usize,
    idle_timeout: Duration,
    /// Both sockets of every live connection, so that shutdown can end them.
    live: Mutex<HashMap<u64, (TcpStream, TcpStream)>>,
    active: AtomicUsize,
    next_id: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One frame as it went by: its announced length and, when not over --max-record, its bytes
/// (borrowed from the buffer it is forwarded from, so the frame is held once).
struct Seen<'a> {
    len: usize,
    bytes: Option<&'a [u8]>,
}

enum Relayed {
    Frame,
    /// The peer closed between frames.
    End,
    /// The length prefix is not a frame length (zero or not whole blocks): the rest of the
    /// stream was copied through unparsed.
    Unframed(usize),
}

/// Copies one frame from `from` to `to`. A frame of at most `keep` bytes is read whole and shown
/// to `seen` before it is forwarded (so a request is queued before its reply can come back); a
/// larger one is announced by length only and streamed through in chunks, so memory stays
/// bounded by `keep` plus one chunk whatever the frame's size.
fn relay_frame(
    from: &mut TcpStream,
    to: &mut TcpStream,
    keep: usize,
    seen: impl FnOnce(Seen<'_>),
) -> io::Result<Relayed> {
    let mut prefix = [0u8; 4];
    let mut got = 0;
    while got < prefix.len() {
        match from.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(Relayed::End),
            Ok(0) => {
                to.write_all(&prefix[..got])?;
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(prefix) as usize;
    if len == 0 || !len.is_multiple_of(BLOCK) {
        to.write_all(&prefix)?;
        io::copy(from, to)?;
        return Ok(Relayed::Unframed(len));
    }
    if len <= keep {
        let mut frame = vec![0u8; 4 + len];
        frame[..4].copy_from_slice(&prefix);
        if let Err(e) = from.read_exact(&mut frame[4..]) {
            // Pass on what came, so the other side sees the same truncated stream.
            to.write_all(&prefix)?;
            return Err(e);
        }
        seen(Seen {
            len,
            bytes: Some(&frame[4..]),
        });
        to.write_all(&frame)?;
        return Ok(Relayed::Frame);
    }
    seen(Seen { len, bytes: None });
    to.write_all(&prefix)?;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let want = left.min(chunk.len());
        let n = from.read(&mut chunk[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        to.write_all(&chunk[..n])?;
        left -= n;
    }
    Ok(Relayed::Frame)
}

/// A request waiting for its reply.
struct Pending {
    started: Instant,
    line: Map<String, Value>,
    /// The request's value, written in the place of the line's "value".
    value: Option<RequestValue>,
}

/// A request's value as it is recorded: left in the decrypted request, neither copied nor built
/// into a tree, so a request in flight costs its frame and its text while it is forwarded, then
/// its text alone. Only a value that sets a password becomes a tree, which redacting it needs.
enum RequestValue {
    /// `text[range]`, as the client wrote it; `text` is the whole decrypted request.
    AsSent { text: String, range: Range<usize> },
    /// With its passwords redacted: the tree that found them, written as it is.
    Redacted(Value),
}

/// A request as the proxy reads it: its path, and its value left as text in the request.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default, borrow)]
    value: Option<&'a RawValue>,
}

/// Where `inner`, a slice of `outer`, lies in it.
fn range_within(outer: &str, inner: &str) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

/// `line` as one JSON line's text, with `value` written where the line has its "value" (a value
/// as sent, the client's JSON text, with its line breaks as spaces: `one_line`).
fn write_exchange(
    out: &mut impl Write,
    line: &Map<String, Value>,
    value: Option<&RequestValue>,
) -> io::Result<()> {
    out.write_all(b"{")?;
    for (i, (key, item)) in line.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, key)?;
        out.write_all(b":")?;
        match (key.as_str(), value) {
            ("value", Some(RequestValue::Redacted(tree))) => {
                serde_json::to_writer(&mut *out, tree)?
            }
            ("value", Some(RequestValue::AsSent { text, range })) => {
                one_line::write(out, text[range.clone()].as_bytes())?
            }
            _ => serde_json::to_writer(&mut *out, item)?,
        }
    }
    out.write_all(b"}")
}

/// What a client frame said, minus every secret: an auth message keeps only its login; a request
/// its path and its value as text (passwords redacted), returned beside the line.
fn describe_request(
    shared: &Shared,
    seen: &Seen,
    first: bool,
) -> (Map<String, Value>, Option<RequestValue>) {
    let mut line = Map::new();
    let Some(bytes) = seen.bytes else {
        line.insert("kind".into(), json!("undecryptable"));
        line.insert(
            "request_error".into(),
            json!(format!(
                "a frame of {} bytes, over --max-record: forwarded, not recorded",
                seen.len
            )),
        );
        return (line, None);
    };
    let text = shared
        .cipher
        .decrypt(bytes)
        .and_then(|plain| String::from_utf8(plain).ok());
    if first {
        if let Some(login) = text.as_deref().and_then(auth_login) {
            line.insert("kind".into(), json!("auth"));
            line.insert("login".into(), login);
            return (line, None);
        }
    }
    let (Some((path, value)), Some(text)) = (text.as_deref().and_then(read_request), text) else {
        line.insert("kind".into(), json!("undecryptable"));
        line.insert(
            "request_error".into(),
            json!(format!(
                "a frame of {} bytes that does not decrypt to a request with the given keys",
                seen.len
            )),
        );
        return (line, None);
    };
    if path == DISCONNECT_PATH {
        line.insert("kind".into(), json!("disconnect"));
        return (line, None);
    }
    line.insert("kind".into(), json!("process"));
    line.insert("path".into(), json!(path));
    // Its place in the line; write_exchange writes the text there.
    line.insert("value".into(), Value::Null);
    let value = value.map(|value| match value {
        ReadValue::AsSent(range) => RequestValue::AsSent { text, range },
        ReadValue::Redacted(raw) => RequestValue::Redacted(raw),
    });
    (line, value)
}

/// The login of an auth message, or `None` when `text` is not one.
fn auth_login(text: &str) -> Option<Value> {
    #[derive(serde::Deserialize)]
    struct Auth {
        #[serde(default)]
        login: Value,
    }
    #[derive(serde::Deserialize)]
    struct AuthProbe {
        auth: Option<Auth>,
    }
    serde_json::from_str::<AuthProbe>(text)
        .ok()?
        .auth
        .map(|auth| auth.login)
}

/// A request's value as read from its text, before that text is kept.
enum ReadValue {
    /// Where it lies in the text.
    AsSent(Range<usize>),
    Redacted(Value),
}

/// A request's path and value, or `None` when `text` is not a request.
fn read_request(text: &str) -> Option<(String, Option<ReadValue>)> {
    let Envelope { path, value } = serde_json::from_str(text).ok()?;
    let value = value.map(|raw| match redacted(&path, raw) {
        Some(redacted) => ReadValue::Redacted(redacted),
        None => ReadValue::AsSent(range_within(text, raw.get())),
    });
    Some((path.into_owned(), value))
}

/// `raw` with the passwords it sets redacted (sim's redact rule), or `None` when it sets none;
/// parsed into a tree only when its text may hold one.
fn redacted(path: &str, raw: &RawValue) -> Option<Value> {
    if !redact::may_set_password(raw.get().as_bytes()) && !redact::may_set_password(path.as_bytes())
    {
        return None;
    }
    let Ok(mut value) = serde_json::from_str::<Value>(raw.get()) else {
        // Valid JSON too deep for a tree (serde_json stops at 128 levels) that may set a
        // password: it cannot be searched, so none of it is kept.
        return Some(Value::from(redact::REDACTED));
    };
    redact::passwords(path, &mut value, redact::REDACTED).then_some(value)
}

fn describe_reply(shared: &Shared, seen: &Seen, line: &mut Map<String, Value>) {
    let Some(bytes) = &seen.bytes else {
        line.insert(
            "reply_error".into(),
            json!(format!(
                "a reply frame of {} bytes, over --max-record: forwarded, not recorded",
                seen.len
            )),
        );
        return;
    };
    match shared
        .cipher
        .decrypt(bytes)
        .and_then(|plain| String::from_utf8(plain).ok())
    {
        Some(text) => {
            line.insert("reply".into(), json!(text));
        }
        None => {
            line.insert(
                "reply_error".into(),
                json!(format!(
                    "a reply frame of {} bytes that does not decrypt to text with the given keys",
                    seen.len
                )),
            );
        }
    }
}

fn finish_line(id: u64, pending: Pending, shared: &Shared) {
    let mut line = pending.line;
    let rtt = pending.started.elapsed().as_secs_f64() * 1000.0;
    line.insert("connection".into(), json!(id));
    line.insert("rtt_ms".into(), json!((rtt * 1000.0).round() / 1000.0));
    shared
        .recorder
        .write_exchange(&line, pending.value.as_ref());
}

fn record_note(shared: &Shared, id: u64, kind: &str, note: String) {
    shared.recorder.write(&json!({
        "time_ms": now_ms(), "connection": id, "kind": kind, "note": note
    }));
}

/// After one relayed frame from `sender` ("client" or "core"): true while that direction goes
/// on frame by frame. An end, an error, or a stream that stopped being frames (noted in the
/// recording) ends it.
fn another_frame_may_follow(
    relayed: io::Result<Relayed>,
    shared: &Shared,
    id: u64,
    sender: &str,
) -> bool {
    match relayed {
        Ok(Relayed::Frame) => true,
        Ok(Relayed::Unframed(len)) => {
            record_note(
                shared,
                id,
                "unframed",
                format!("{sender} sent a length prefix of {len}: copied through unparsed"),
            );
            false
        }
        Ok(Relayed::End) | Err(_) => false,
    }
}

/// Client to core: forwards frames and queues each request for the reply side.
fn client_to_core(
    id: u64,
    mut client: TcpStream,
    mut core: TcpStream,
    queue: &Mutex<VecDeque<Pending>>,
    shared: &Shared,
) {
    let mut first = true;
    loop {
        let queue_it = |seen: Seen| {
            let mut line = Map::new();
            line.insert("time_ms".into(), json!(now_ms()));
            let (described, value) = describe_request(shared, &seen, first);
            line.extend(described);
            // The round trip runs from the request handed on to the reply fully read back.
            let started = Instant::now();
            queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_back(Pending {
                    started,
                    line,
                    value,
                });
        };
        let relayed = relay_frame(&mut client, &mut core, shared.max_record, queue_it);
        let idle = matches!(&relayed, Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut));
        if idle {
            // Past --idle-timeout without a request: both sides go, and with them the slot.
            record_note(
                shared,
                id,
                "idle",
                "the client sent nothing within --idle-timeout: closed".into(),
            );
            let _ = core.shutdown(Shutdown::Both);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        if !another_frame_may_follow(relayed, shared, id, "client") {
            break;
        }
        first = false;
    }
    // The core may still answer what was sent; it closes its side after.
    let _ = core.shutdown(Shutdown::Write);
}

fn serve(id: u64, client: TcpStream, shared: Arc<Shared>) {
    let core = match TcpStream::connect(&shared.upstream[..]) {
        Ok(core) => core,
        Err(e) => {
            record_note(
                &shared,
                id,
                "error",
                format!("cannot connect upstream: {e}"),
            );
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = core.set_nodelay(true);
    let _ = client.set_read_timeout(Some(shared.idle_timeout));
    let (Ok(client2), Ok(core2), Ok(client3), Ok(core3)) = (
        client.try_clone(),
        core.try_clone(),
        client.try_clone(),
        core.try_clone(),
    ) else {
        return;
    };
    shared
        .live
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, (client3, core3));
    let queue = Mutex::new(VecDeque::new());
    thread::scope(|scope| {
        scope.spawn(|| client_to_core(id, client2, core2, &queue, &shared));
        core_to_client(id, core, client, &queue, &shared);
    });
    // Requests the core never answered still get their line.
    let left: Vec<Pending> = queue
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .drain(..)
        .collect();
    for mut pending in left {
        pending.line.insert(
            "reply_error".into(),
            json!("the connection ended before a reply"),
        );
        finish_line(id, pending, &shared);
    }
    shared
        .live
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
}

fn core_to_client(
    id: u64,
    mut core: TcpStream,
    mut client: TcpStream,
    queue: &Mutex<VecDeque<Pending>>,
    shared: &Shared,
) {
    loop {
        let record_it = |seen: Seen| {
            let pending = queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop_front();
            let mut pending = pending.unwrap_or_else(|| Pending {
                started: Instant::now(),
                line: Map::from_iter([
                    ("time_ms".to_string(), json!(now_ms())),
                    ("kind".to_string(), json!("unsolicited")),
                ]),
                value: None,
            });
            describe_reply(shared, &seen, &mut pending.line);
            finish_line(id, pending, shared);
        };
        let relayed = relay_frame(&mut core, &mut client, shared.max_record, record_it);
        if !another_frame_may_follow(relayed, shared, id, "core") {
            break;
        }
    }
    // The core is gone: so is the client's connection (an idle client would otherwise hold its
    // slot with nothing behind it, and learn of it only at its next request).
    let _ = client.shutdown(Shutdown::Both);
}

fn run(o: Options) -> Result<(), String> {
    let cipher = Cipher::from_base64(&o.key1, &o.key2).map_err(|e| e.to_string())?;
    let upstream: Vec<SocketAddr> = o
        .upstream
        .to_socket_addrs()
        .map_err(|e| format!("--upstream {}: {e}", o.upstream))?
        .collect();
    if upstream.is_empty() {
        return Err(format!("--upstream {}: resolves to no address", o.upstream));
    }
    // Request values are recorded (passwords redacted, other account data as sent): owner only.
    let file = open_private_append(o.record.as_ref()).map_err(|e| format!("{}: {e}", o.record))?;
    let shared = Arc::new(Shared {
        cipher,
        recorder: Recorder {
            file: Mutex::new(BufWriter::new(file)),
        },
        upstream,
        max_record: o.max_record,
        idle_timeout: Duration::from_secs(o.idle_timeout),
        live: Mutex::default(),
        active: AtomicUsize::new(0),
        next_id: AtomicU64::new(1),
    });
    signal::install();
    let listener =
        os::bind(&o.listen).map_err(|e| format!("cannot listen on {}: {e}", o.listen))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")
        .and_then(|()| out.flush())
        .map_err(|e| e.to_string())?;
    drop(out);
    while !signal::stop_requested() {
        match listener.accept() {
            Ok((client, _)) => {
                if client.set_nonblocking(false).is_err() {
                    continue;
                }
                if shared.active.fetch_add(1, Ordering::SeqCst) >= o.max_connections {
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
                let conn = Arc::clone(&shared);
                let started =
                    thread::Builder::new()
                        .name("mb-proxy-conn".into())
                        .spawn(move || {
                            serve(id, client, Arc::clone(&conn));
                            conn.active.fetch_sub(1, Ordering::SeqCst);
                        });
                if started.is_err() {
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("mb proxy: accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
    // End every live connection, give their threads a moment to write their last lines, then
    // make the file durable.
    for (client, core) in shared
        .live
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .values()
    {
        let _ = client.shutdown(Shutdown::Both);
        let _ = core.shutdown(Shutdown::Both);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    shared
        .recorder
        .finish()
        .map_err(|e| format!("cannot flush {}: {e}", o.record))
}

/// `mb proxy`; returns the exit code.
pub fn main(o: Options) -> i32 {
    match run(o) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("mb proxy: {e}");
            1
        }
    }
}
