//! The process-wide pool of idle, authenticated connections that persistent clients
//! (`"persistent": true`) hand back instead of saying DISCONNECT, so that the next client with
//! the same identity skips connect and auth: what `mysqli`'s `p:` hosts and phpredis'
//! `pconnect` do for a php-fpm worker.
//!
//! The lock is held only for bookkeeping, never across network I/O: connections to close are
//! taken out first and said goodbye to afterwards. A fork while another thread held the lock is
//! the one case that could leave the child's copy locked; php-fpm forks its workers from a
//! master that makes no calls, and a child never uses the parent's entries anyway (see
//! [`Pool::forget_if_forked`]).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::call_io::Connection;
use crate::client::peer_still_there;
use crate::config::Config;
use crate::protocol::crypto::Cipher;
use crate::protocol::frame::write_frame;
use crate::protocol::message;

/// Who the server thinks we are, and everything else that shapes the session: a pooled
/// connection is only ever handed to a client whose identity is byte for byte the same. Kept as
/// opaque bytes (length-prefixed fields) that nothing prints, since it holds the password and keys.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Identity(Vec<u8>);

impl Identity {
    pub(crate) fn of(config: &Config) -> Identity {
        let mut bytes = Vec::new();
        let mut field = |value: &[u8]| {
            bytes.extend_from_slice(&(value.len() as u64).to_le_bytes());
            bytes.extend_from_slice(value);
        };
        field(config.host.as_bytes());
        field(&config.port.to_le_bytes());
        field(config.login.as_bytes());
        field(&config.password);
        field(config.key1.as_bytes());
        field(config.key2.as_bytes());
        field(&config.connect_timeout.as_nanos().to_le_bytes());
        field(&config.io_timeout.as_nanos().to_le_bytes());
        field(&(config.max_frame_bytes as u64).to_le_bytes());
        field(&[u8::from(config.php_floats)]);
        field(config.persistent_id.as_bytes());
        Identity(bytes)
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(..)")
    }
}

/// The bounds a returning client asks for; see docs/src/guarantees.md, "Persistent connections".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Idle connections kept per identity.
    pub max_idle_per_identity: usize,
    /// Idle connections kept in all, over every identity.
    pub max_idle_total: usize,
    /// How long a connection may sit idle in the pool before it is closed with DISCONNECT.
    pub idle_timeout: Duration,
}

pub const DEFAULT_LIMITS: Limits = Limits {
    max_idle_per_identity: 4,
    max_idle_total: 64,
    idle_timeout: Duration::from_secs(60),
};

struct Idle {
    conn: Connection,
    /// To say DISCONNECT when the pool closes it.
    cipher: Cipher,
    expires: Instant,
    returned: Instant,
}

#[derive(Default, Clone, Copy)]
struct Counters {
    returned: u64,
    reused: u64,
    closed_idle_timeout: u64,
    closed_over_limit: u64,
    closed_dead: u64,
    closed_by_clear: u64,
    forgotten_after_fork: u64,
}

struct Pool {
    pid: u32,
    idle: BTreeMap<Identity, Vec<Idle>>,
    counters: Counters,
}

impl Pool {
    /// A child process inherits the parent's descriptors: the same TCP sessions, which the parent
    /// may go on using. The child closes its copies of the descriptors (no `shutdown`, no
    /// DISCONNECT, so the parent's sessions stay intact) and starts with an empty pool.
    fn forget_if_forked(&mut self) {
        let pid = std::process::id();
        if self.pid != pid {
            let forgotten: usize = self.idle.values().map(Vec::len).sum();
            self.idle.clear();
            self.counters = Counters::default();
            self.counters.forgotten_after_fork = forgotten as u64;
            self.pid = pid;
        }
    }

    fn take_expired(&mut self, now: Instant, out: &mut Vec<Idle>) {
        let before = out.len();
        self.idle.retain(|_, entries| {
            let (expired, kept): (Vec<Idle>, Vec<Idle>) =
                entries.drain(..).partition(|e| e.expires <= now);
            out.extend(expired);
            *entries = kept;
            !entries.is_empty()
        });
        self.counters.closed_idle_timeout += (out.len() - before) as u64;
    }

    fn total(&self) -> usize {
        self.idle.values().map(Vec::len).sum()
    }

    /// Removes the connection returned longest ago, over every identity.
    fn take_oldest(&mut self) -> Option<Idle> {
        let key = self
            .idle
            .iter()
            .filter_map(|(k, v)| v.first().map(|e| (k, e.returned)))
            .min_by_key(|(_, at)| *at)
            .map(|(k, _)| k.clone())?;
        let entries = self.idle.get_mut(&key)?;
        let oldest = entries.remove(0);
        if entries.is_empty() {
            self.idle.remove(&key);
        }
        Some(oldest)
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    pid: 0,
    idle: BTreeMap::new(),
    counters: Counters {
        returned: 0,
        reused: 0,
        closed_idle_timeout: 0,
        closed_over_limit: 0,
        closed_dead: 0,
        closed_by_clear: 0,
        forgotten_after_fork: 0,
    },
});

fn pool() -> MutexGuard<'static, Pool> {
    crate::fork::protect_locks();
    // Every change is a push or pop of whole entries: a panic cannot leave one half-made.
    let mut guard = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    guard.forget_if_forked();
    guard
}

/// Holds the pool across a `fork()` (see `crate::fork`); the child forgets what it inherited on
/// its first use.
#[cfg(unix)]
pub(crate) fn hold() -> Box<dyn std::any::Any> {
    Box::new(POOL.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Says DISCONNECT without waiting for the reply, then closes. The socket is made non-blocking
/// first: the frame fits in an idle socket's send buffer, and a finalizer returning a connection
/// must never block on the network.
fn farewell(entries: Vec<Idle>) {
    for entry in entries {
        let bye = message::request(message::DISCONNECT_PATH, None);
        let mut stream = entry.conn.stream();
        if stream.set_nonblocking(true).is_ok() {
            let _ = write_frame(&mut stream, &entry.cipher.encrypt(bye.as_bytes()));
        }
    }
}

/// The most recently returned idle connection for `identity` that is still sound (nothing
/// unread, no end of stream), or None. Unsound ones are closed on the way.
pub(crate) fn take(identity: &Identity) -> Option<Connection> {
    let mut expired = Vec::new();
    let found = loop {
        let candidate = {
            let mut pool = pool();
            pool.take_expired(Instant::now(), &mut expired);
            let candidate = pool.idle.get_mut(identity).and_then(Vec::pop);
            if pool.idle.get(identity).is_some_and(Vec::is_empty) {
                pool.idle.remove(identity);
            }
            candidate
        };
        let Some(entry) = candidate else { break None };
        if peer_still_there(entry.conn.stream()) {
            pool().counters.reused += 1;
            break Some(entry.conn);
        }
        // The server closed it while it sat here (restart, its own idle timeout): nothing of
        // ours was in flight, so the caller simply connects anew.
        pool().counters.closed_dead += 1;
    };
    farewell(expired);
    found
}

/// Keeps a sound, idle, authenticated connection for the next client with `identity`, closing
/// whatever the limits no longer allow (the oldest first).
pub(crate) fn put(identity: Identity, conn: Connection, cipher: Cipher, limits: Limits) {
    let now = Instant::now();
    let mut closing = Vec::new();
    {
        let mut pool = pool();
        pool.take_expired(now, &mut closing);
        pool.counters.returned += 1;
        let entries = pool.idle.entry(identity).or_default();
        entries.push(Idle {
            conn,
            cipher,
            expires: now + limits.idle_timeout,
            returned: now,
        });
        let excess = entries.len().saturating_sub(limits.max_idle_per_identity);
        closing.extend(entries.drain(..excess));
        let mut over = excess as u64;
        while pool.total() > limits.max_idle_total {
            match pool.take_oldest() {
                Some(oldest) => closing.push(oldest),
                None => break,
            }
            over += 1;
        }
        pool.idle.retain(|_, entries| !entries.is_empty());
        pool.counters.closed_over_limit += over;
    }
    farewell(closing);
}

/// The pool's state as JSON, a pure read that touches no connection: `idle`, the connections
/// waiting that are still within their idle lifetime, and the number of identities they serve;
/// `expired`, those past it that the next use of the pool (a take, a return or [`clear`]) closes
/// with DISCONNECT; then counts since the process started (or forked): connections returned,
/// reused, and closed for each reason.
pub fn stats() -> String {
    let now = Instant::now();
    let mut pool = pool();
    pool.forget_if_forked();
    let live = |entries: &Vec<Idle>| entries.iter().filter(|e| e.expires > now).count();
    let idle: usize = pool.idle.values().map(live).sum();
    let identities = pool.idle.values().filter(|e| live(e) > 0).count();
    let c = pool.counters;
    serde_json::json!({
        "idle": idle,
        "expired": pool.total() - idle,
        "identities": identities,
        "returned": c.returned,
        "reused": c.reused,
        "closed_idle_timeout": c.closed_idle_timeout,
        "closed_over_limit": c.closed_over_limit,
        "closed_dead": c.closed_dead,
        "closed_by_clear": c.closed_by_clear,
        "forgotten_after_fork": c.forgotten_after_fork,
    })
    .to_string()
}

/// Closes every idle connection with DISCONNECT and returns how many were within their idle
/// lifetime (expired ones are closed too, counted as `closed_idle_timeout`). Connections in use
/// by clients are not touched; they return to the pool when their clients are closed.
pub fn clear() -> usize {
    let mut expired = Vec::new();
    let all: Vec<Idle> = {
        let mut pool = pool();
        pool.take_expired(Instant::now(), &mut expired);
        let all: Vec<Idle> = std::mem::take(&mut pool.idle)
            .into_values()
            .flatten()
            .collect();
        pool.counters.closed_by_clear += all.len() as u64;
        all
    };
    let n = all.len();
    farewell(expired);
    farewell(all);
    n
}
