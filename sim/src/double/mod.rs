//! The simulator as a test double: stubs, faults and delays, replay of a recorded session, the
//! request journal, and the control API with its dashboard (docs/simulator.md, "Testing your
//! extension"). The server calls in here at three points: auth, each request, DISCONNECT.

pub mod admin;
pub mod dialect;
pub mod faults;
pub mod flags;
pub mod journal;
pub mod pattern;
pub mod replay;
pub mod session_counts;
pub mod stubs;

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use faults::{Action, Fault, FaultSpec};
use journal::{journal_value, now_ms, reply_code, Counts, Entry, RequestJournal, Source};
use mikrobill::protocol::crypto::Cipher;
use replay::{Recording, Unmatched};
use session_counts::{SessionCounts, SessionEvent};
use stubs::{Stub, StubSpec, Stubs};

/// Who is on a connection, as the journal names it.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub connection: u64,
    pub cashier: String,
}

/// What the connection does with one request.
pub enum Outcome {
    Reply(String),
    /// Send nothing; the connection stays open.
    NoReply,
    /// Close the connection without a reply.
    Close,
    /// Send the first half of this reply's frame, then close.
    Truncate(String),
}

#[derive(Default)]
struct Inner {
    stubs: Stubs,
    faults: Vec<Fault>,
    replay: Option<Recording>,
    journal: RequestJournal,
    next_id: u64,
}

pub struct TestDouble {
    inner: Mutex<Inner>,
    connections: AtomicU64,
    unmatched: Unmatched,
    /// Only the control API reads the journal: without --admin it is not kept.
    keep_journal: bool,
    /// The one tally of auths and DISCONNECTs, read by `counts` and --session-counts alike.
    sessions: SessionCounts,
}

impl Default for TestDouble {
    fn default() -> TestDouble {
        TestDouble {
            inner: Mutex::default(),
            connections: AtomicU64::new(0),
            unmatched: Unmatched::Tree,
            keep_journal: false,
            sessions: SessionCounts::default(),
        }
    }
}

/// The test double the config's stubs and faults and the --replay flags describe.
pub fn from_options(
    config: &crate::config::Config,
    flags: &flags::Flags,
) -> Result<TestDouble, String> {
    let replay = flags.replay.as_deref().map(Recording::load).transpose()?;
    TestDouble::new(
        config.stubs.clone(),
        config.faults.clone(),
        replay,
        flags.replay_unmatched,
        flags.admin.is_some(),
    )
}

/// A reply as journalled: cut to 256 bytes, and not shown at all when it may hold an account
/// password (a read of one, or of an account whose object holds it). A refused login's reply is
/// the simulator's own fixed text.
fn journal_reply(path: &str, text: &str, source: Source) -> String {
    let mentions = |s: &str| s.to_ascii_lowercase().contains("password");
    if source != Source::LoginRefused && (mentions(path) || mentions(text)) {
        return "(not shown: it may hold an account password)".into();
    }
    crate::reply::shorten(text).into_owned()
}

/// The login named by an auth message; the password hash and sign are never looked at here.
fn login_of(auth_plaintext: &[u8]) -> String {
    serde_json::from_slice::<Value>(auth_plaintext)
        .ok()
        .and_then(|m| Some(m.get("auth")?.get("login")?.as_str()?.to_string()))
        .unwrap_or_default()
}

impl TestDouble {
    pub fn new(
        stubs: Vec<StubSpec>,
        faults: Vec<FaultSpec>,
        replay: Option<Recording>,
        unmatched: Unmatched,
        keep_journal: bool,
    ) -> Result<TestDouble, String> {
        let double = TestDouble {
            unmatched,
            keep_journal,
            ..TestDouble::default()
        };
        for (i, stub) in stubs.into_iter().enumerate() {
            double
                .add_stub(stub)
                .map_err(|e| format!("stubs[{i}]: {e}"))?;
        }
        for (i, fault) in faults.into_iter().enumerate() {
            double
                .add_fault(fault)
                .map_err(|e| format!("faults[{i}]: {e}"))?;
        }
        double.lock().replay = replay;
        Ok(double)
    }

    /// The session tally to count into, e.g. one that publishes to --session-counts.
    pub fn with_session_counts(mut self, sessions: SessionCounts) -> TestDouble {
        self.sessions = sessions;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new connection was accepted.
    pub fn open(&self) -> Session {
        self.lock().journal.counts.connections += 1;
        Session {
            connection: self.connections.fetch_add(1, Ordering::SeqCst) + 1,
            cashier: String::new(),
        }
    }

    /// Call before the auth's reply is sent, so a client holding the reply finds it counted.
    pub fn auth(&self, session: &mut Session, auth_plaintext: &[u8], granted: bool) {
        if granted {
            session.cashier = login_of(auth_plaintext);
            self.session_event(SessionEvent::AuthGranted);
        } else {
            self.session_event(SessionEvent::AuthRefused);
        }
    }

    /// A refused login, answered with `reply`: counted, and journalled (the login tried, never
    /// the password or its hash) so the dashboard shows who was refused and why.
    pub fn login_refused(&self, session: &mut Session, auth_plaintext: &[u8], reply: &str) {
        self.auth(session, auth_plaintext, false);
        if self.keep_journal {
            let tried = Session {
                cashier: login_of(auth_plaintext),
                ..session.clone()
            };
            self.record(
                &tried,
                "",
                &Value::Null,
                Some(reply),
                Source::LoginRefused,
                None,
                None,
                0,
            );
        }
    }

    /// Call before the DISCONNECT's reply is sent.
    pub fn disconnect(&self) {
        self.session_event(SessionEvent::DisconnectAnswered);
    }

    fn session_event(&self, event: SessionEvent) {
        {
            // Counted under the lock `counts` reads under, so its numbers are all of one instant.
            let _one_instant = self.lock();
            self.sessions.count(event);
        }
        // Outside the lock: a --session-counts rewrite touches the disk, and every request
        // takes that lock.
        self.sessions.publish(event);
    }

    /// A request that could not be parsed, answered with `reply`.
    pub fn unparsed(&self, session: &Session, reply: &str) {
        self.not_evaluated(session, reply, Source::Unparsed);
    }

    /// A request refused for the memory budget (209), answered with `reply`.
    pub fn over_budget(&self, session: &Session, reply: &str) {
        self.not_evaluated(session, reply, Source::OverBudget);
    }

    /// A request answered without being evaluated: its path and value are not known.
    fn not_evaluated(&self, session: &Session, reply: &str, source: Source) {
        self.record(
            session,
            "",
            &Value::Null,
            Some(reply),
            source,
            None,
            None,
            0,
        );
    }

    /// Runs one request: a fault for its path first, then the newest matching stub, then the
    /// recording (with --replay), then `tree` (the simulated class tree).
    pub fn process(
        &self,
        session: &Session,
        path: &str,
        value: &Value,
        tree: impl FnOnce() -> String,
    ) -> Outcome {
        let started = Instant::now();
        let fault = self
            .lock()
            .faults
            .iter()
            .rev()
            .find(|f| f.spec.applies_to(path))
            .cloned();
        if let Some(f) = &fault {
            std::thread::sleep(f.spec.delay());
        }
        let fault_id = fault.as_ref().map(|f| f.id);
        let (outcome, text, source, stub) = match fault.as_ref().map(|f| f.spec.action) {
            Some(Action::NoReply) => (Outcome::NoReply, None, Source::Fault, None),
            Some(Action::Close) => (Outcome::Close, None, Source::Fault, None),
            Some(Action::Error) => {
                let text = fault
                    .as_ref()
                    .map(|f| f.spec.error_reply())
                    .unwrap_or_default();
                (
                    Outcome::Reply(text.clone()),
                    Some(text),
                    Source::Fault,
                    None,
                )
            }
            action => {
                let (text, source, stub) = self.answer(path, value, tree);
                if action == Some(Action::Truncate) {
                    (
                        Outcome::Truncate(text.clone()),
                        Some(text),
                        Source::Fault,
                        stub,
                    )
                } else {
                    (Outcome::Reply(text.clone()), Some(text), source, stub)
                }
            }
        };
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let code = match outcome {
            Outcome::Reply(_) => text.as_deref(),
            _ => None,
        };
        self.record(session, path, value, code, source, stub, fault_id, elapsed);
        outcome
    }

    fn answer(
        &self,
        path: &str,
        value: &Value,
        tree: impl FnOnce() -> String,
    ) -> (String, Source, Option<u64>) {
        {
            let mut inner = self.lock();
            if let Some((id, text)) = inner.stubs.answer(path, value) {
                return (text, Source::Stub, Some(id));
            }
            if let Some(recording) = inner.replay.as_mut() {
                if let Some(text) = recording.answer(path, value) {
                    return (text, Source::Replay, None);
                }
                if let Some(text) = self.unmatched.reply(path) {
                    return (text, Source::Replay, None);
                }
            }
        }
        // Outside the lock: the tree may wait for the state file's fsync.
        (tree(), Source::Tree, None)
    }

    #[allow(clippy::too_many_arguments)]
    /// Counts the request and, when the journal is kept, adds its entry.
    fn record(
        &self,
        session: &Session,
        path: &str,
        value: &Value,
        reply: Option<&str>,
        source: Source,
        stub: Option<u64>,
        fault: Option<u64>,
        elapsed_ms: u64,
    ) {
        if !self.keep_journal {
            self.lock().journal.counts.requests += 1;
            return;
        }
        let entry = Entry {
            seq: 0,
            time_ms: now_ms(),
            connection: session.connection,
            cashier: session.cashier.clone(),
            path: path.to_string(),
            value: journal_value(path, value),
            code: reply.and_then(reply_code),
            reply: reply.map(|text| journal_reply(path, text, source)),
            source,
            stub,
            fault,
            elapsed_ms,
        };
        self.lock().journal.push(entry);
    }

    pub fn add_stub(&self, spec: StubSpec) -> Result<u64, String> {
        spec.check()?;
        let mut inner = self.lock();
        let id = inner.next_id + 1;
        inner.stubs.add(id, spec)?;
        inner.next_id = id;
        Ok(id)
    }

    pub fn remove_stub(&self, id: u64) -> bool {
        self.lock().stubs.remove(id)
    }

    pub fn clear_stubs(&self) {
        self.lock().stubs.clear();
    }

    /// `{"stubs":[...],"scenarios":{...}}`, written under the lock without copying the stubs
    /// first, so a listing costs the text once (the stubs are bounded, see stubs::MAX_STUB_BYTES).
    pub fn stubs_json(&self) -> Result<String, serde_json::Error> {
        #[derive(serde::Serialize)]
        struct Listing<'a> {
            stubs: &'a [Stub],
            scenarios: BTreeMap<String, String>,
        }
        let inner = self.lock();
        let listing = Listing {
            stubs: inner.stubs.list(),
            scenarios: inner.stubs.scenarios(),
        };
        serde_json::to_string(&listing)
    }

    pub fn add_fault(&self, spec: FaultSpec) -> Result<u64, String> {
        spec.check()?;
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        inner.faults.push(Fault { id, spec });
        Ok(id)
    }

    pub fn remove_fault(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.faults.len();
        inner.faults.retain(|f| f.id != id);
        inner.faults.len() != before
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.clone()
    }

    pub fn journal_entries(
        &self,
        path: Option<&pattern::PathPattern>,
        since: Option<u64>,
        limit: usize,
    ) -> Vec<Entry> {
        self.lock().journal.select(path, since, limit)
    }

    pub fn clear_journal(&self) {
        self.lock().journal.clear();
    }

    pub fn counts(&self) -> Counts {
        let inner = self.lock();
        Counts::new(inner.journal.counts, self.sessions.snapshot())
    }

    /// Scenarios back to "Started" and the recording back to its first replies.
    pub fn rewind(&self) {
        let mut inner = self.lock();
        inner.stubs.reset_scenarios();
        if let Some(r) = inner.replay.as_mut() {
            r.rewind();
        }
    }

    pub fn replaying(&self) -> Option<usize> {
        self.lock().replay.as_ref().map(|r| r.exchanges)
    }
}

/// The truncate fault: the frame's length prefix and the first half of its ciphertext, then
/// the connection closes, so the client sees the stream end inside a frame.
pub fn send_truncated(stream: &mut TcpStream, cipher: &Cipher, text: &[u8]) -> io::Result<()> {
    let ciphertext = cipher.encrypt(text);
    let len = u32::try_from(ciphertext.len()).unwrap_or(u32::MAX);
    let mut bytes = len.to_le_bytes().to_vec();
    bytes.extend_from_slice(&ciphertext[..ciphertext.len() / 2]);
    stream.write_all(&bytes)?;
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Both)
}
