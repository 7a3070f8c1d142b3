//! Who gets a connection slot and for how long before authenticating, and how many request bytes
//! may be held at once.
//!
//! The auth phase has one overall deadline (--auth-timeout), so unauthenticated sockets hold
//! their slot of --max-connections only briefly, however they trickle bytes (slowloris). When
//! every slot is taken, a new connection replaces the oldest one still waiting for its auth frame
//! with nothing queued, once that one has had EVICTION_GRACE to send it (until then newcomers
//! wait in the listen queue), so peers that connect and never authenticate cannot lock honest
//! clients out. Request frames being received or decoded share one memory budget
//! (--max-buffered-bytes) over all connections.

use std::collections::BTreeMap;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::os::socket::queued_bytes;
use mikrobill::protocol::frame::read_frame;

/// Largest first (auth) frame: a real auth message is about 128 bytes.
pub const MAX_AUTH_FRAME: usize = 64 * 1024;

/// How long a new connection keeps its slot whatever comes after it. An honest client sends its
/// auth right after connecting, but a loaded machine can deschedule it for milliseconds in
/// between; peers that reconnect the moment they are closed renew every other slot meanwhile, so
/// "the oldest" alone could be a connection a few milliseconds old.
const EVICTION_GRACE: Duration = Duration::from_millis(250);

/// How often the accept loop looks again while it leaves newcomers queued (a slot may also free).
const ADMISSION_RECHECK: Duration = Duration::from_millis(10);

/// The limits of the auth phase, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// --max-frame; the auth frame is capped lower still (MAX_AUTH_FRAME).
    pub max_frame: usize,
    pub idle_timeout: Duration,
    pub auth_timeout: Duration,
}

/// The --max-connections slots and the connections still authenticating.
pub struct Slots {
    max: usize,
    active: AtomicUsize,
    /// Connections still authenticating, by accept number (so the first is the oldest).
    authenticating: Mutex<BTreeMap<u64, Waiting>>,
    accepted: AtomicU64,
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

/// One connection's slot. While it is authenticating the connection may be evicted; dropping
/// the ticket, however the connection ends, frees the slot.
pub struct Ticket {
    slots: Arc<Slots>,
    id: u64,
}

impl Ticket {
    /// The connection is no longer evictable: its auth frame is queued whole or was read.
    fn authenticating_done(&self) {
        self.slots.lock_authenticating().remove(&self.id);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.authenticating_done();
        self.slots.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Slots {
    pub fn new(max: usize) -> Slots {
        Slots {
            max,
            active: AtomicUsize::new(0),
            authenticating: Mutex::default(),
            accepted: AtomicU64::new(0),
        }
    }

    fn lock_authenticating(&self) -> MutexGuard<'_, BTreeMap<u64, Waiting>> {
        self.authenticating
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a connection just accepted, evicting a connection still authenticating when
    /// every slot is taken; None (the newcomer is to be closed) when no slot can be had.
    pub fn admit(self: &Arc<Self>, stream: &TcpStream) -> Option<Ticket> {
        if self.active.fetch_add(1, Ordering::SeqCst) >= self.max && !self.evict_oldest() {
            self.active.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let id = self.accepted.fetch_add(1, Ordering::SeqCst);
        if let Ok(watch) = stream.try_clone() {
            let waiting = Waiting {
                stream: watch,
                accepted: Instant::now(),
            };
            self.lock_authenticating().insert(id, waiting);
        }
        Some(Ticket {
            slots: Arc::clone(self),
            id,
        })
    }

    /// The connection that may give up its slot: the oldest one waiting for its auth frame with
    /// nothing queued, if it is past EVICTION_GRACE (every later one is younger). A connection
    /// with bytes queued is passed over: it leaves the set before it reads its whole auth frame
    /// (see read_auth_frame), so an honest client whose frame has arrived is never taken.
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
    pub fn wait(&self) -> Option<Duration> {
        if self.active.load(Ordering::SeqCst) < self.max {
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
    /// is authenticated or has its auth queued, or, rarely, the candidate `wait` saw was
    /// authenticated in the meantime and the next one is still within its grace.
    fn evict_oldest(&self) -> bool {
        let mut set = self.lock_authenticating();
        let victim = match Self::eviction_candidate(&set) {
            Eviction::Now(id) => set.remove(&id),
            Eviction::After(_) | Eviction::Nobody => None,
        };
        match victim {
            Some(waiting) => {
                let _ = waiting.stream.shutdown(Shutdown::Both);
                true
            }
            None => false,
        }
    }
}

/// Reads that all end by one deadline: each read's timeout is the time left, so a peer that
/// trickles bytes cannot stretch the auth phase the way it can stretch a per-read timeout.
/// The idle timeout still bounds each single read.
struct Deadline<'a> {
    stream: &'a TcpStream,
    until: Instant,
    idle: Duration,
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

/// The auth phase of a connection just admitted: sets its socket up (blocking, the idle timeout
/// on reads and writes, no Nagle delay) and reads its first frame within --auth-timeout. None
/// when the peer does not send a whole frame of at most MAX_AUTH_FRAME bytes in time (the caller
/// closes the connection).
pub fn read_auth_frame(stream: &TcpStream, ticket: &Ticket, limits: &Limits) -> Option<Vec<u8>> {
    let timeout = Some(limits.idle_timeout);
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(timeout).is_err()
        || stream.set_write_timeout(timeout).is_err()
    {
        return None;
    }
    let _ = stream.set_nodelay(true);
    let deadline = Deadline {
        stream,
        until: Instant::now() + limits.auth_timeout,
        idle: limits.idle_timeout,
    };
    // Leaving the set before the frame is read, while its bytes are still queued, leaves no
    // instant in which an eviction sees nothing queued yet still finds the connection in the
    // set: leaving after the read let a reconnecting storm evict an honest client whose
    // auth had been read but not yet answered. A frame not queued whole at first (trickled)
    // leaves the connection evictable until it is read.
    if whole_auth_frame_queued(stream, deadline.until, deadline.idle).ok()? {
        ticket.authenticating_done();
    }
    let first = read_frame(&mut { deadline }, limits.max_frame.min(MAX_AUTH_FRAME)).ok()?;
    // A whole auth frame arrived: it is answered at once, so it is no longer evictable.
    ticket.authenticating_done();
    stream.set_read_timeout(timeout).ok()?;
    Some(first)
}

/// The --max-buffered-bytes budget: bytes of request frames being received or decoded, and what
/// parsing them is expected to cost, over all connections.
///
/// Large reservations (over LARGE) may together hold at most the budget less a part kept for
/// small ones (SMALL_SHARE, a quarter of it at most), so peers that announce big frames and
/// trickle them in can never keep small requests out; a slow frame also loses its reservation
/// at its deadline (crate::session).
pub struct Budget {
    cap: usize,
    used: AtomicUsize,
    used_large: AtomicUsize,
}

/// A reservation over this is large.
pub const LARGE: usize = 1024 * 1024;
/// What large reservations leave to small ones: this much, or a quarter of a smaller budget.
pub const SMALL_SHARE: usize = 16 * 1024 * 1024;

/// Bytes counted against the budget until dropped.
pub struct Reserved<'a> {
    budget: &'a Budget,
    bytes: usize,
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::SeqCst);
        if self.bytes > LARGE {
            self.budget
                .used_large
                .fetch_sub(self.bytes, Ordering::SeqCst);
        }
    }
}

impl Budget {
    pub fn new(cap: usize) -> Budget {
        Budget {
            cap,
            used: AtomicUsize::new(0),
            used_large: AtomicUsize::new(0),
        }
    }

    /// What large reservations may hold together.
    pub fn large_cap(&self) -> usize {
        self.cap - SMALL_SHARE.min(self.cap / 4)
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Counts `bytes` against the budget, or refuses when they would pass it (or, for a large
    /// reservation, the part large ones may hold).
    pub fn reserve(&self, bytes: usize) -> Option<Reserved<'_>> {
        let within = |counter: &AtomicUsize, cap: usize| {
            counter
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                    used.checked_add(bytes).filter(|&total| total <= cap)
                })
                .is_ok()
        };
        if bytes > LARGE && !within(&self.used_large, self.large_cap()) {
            return None;
        }
        if !within(&self.used, self.cap) {
            if bytes > LARGE {
                self.used_large.fetch_sub(bytes, Ordering::SeqCst);
            }
            return None;
        }
        Some(Reserved {
            budget: self,
            bytes,
        })
    }
}
