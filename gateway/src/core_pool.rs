//! The core side: a fixed set of worker threads, each owning one library [`Client`] whose
//! authenticated connection stays open between requests, fed from one bounded queue.
//!
//! A request is handed to the queue and waits at most `queue_wait` for a worker to take it;
//! until a worker takes it nothing has been sent, so a request that gives up waiting (or whose
//! HTTP client goes away) is dropped unsent. Once taken it runs to the end under the library's
//! call deadline and is never resent: the library drops a connection after a failed exchange
//! and only reconnects before the next request.

use mikrobill::{Client, Config, Error};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;
use tokio::sync::oneshot;

/// A job's life: waiting in the queue, taken by a worker, or given up by its requester.
const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const ABANDONED: u8 = 2;

/// A worker's state, for the metrics.
const WORKER_DISCONNECTED: u8 = 0;
const WORKER_IDLE: u8 = 1;
const WORKER_BUSY: u8 = 2;

enum Work {
    Process { path: String, value: Option<String> },
    Check,
}

enum Done {
    /// The reply's bytes exactly as decrypted: UTF-8 or not (a core writing CP1251 is passed
    /// through as it wrote).
    Reply(Result<Vec<u8>, Error>),
    Checked(Result<(), Error>),
}

struct Job {
    work: Work,
    state: Arc<AtomicU8>,
    done: oneshot::Sender<Done>,
}

/// Why a request got no answer from the core.
#[derive(Debug)]
pub enum PoolError {
    /// Every connection busy and the queue full: nothing was sent.
    QueueFull,
    /// Waited longer than the limit for a connection: nothing was sent.
    WaitedTooLong,
    /// The gateway is stopping.
    Stopped,
}

/// Connections by what they are doing, at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolCounts {
    pub busy: usize,
    pub idle: usize,
    pub disconnected: usize,
    pub queued: usize,
}

pub struct CorePool {
    sender: Mutex<Option<SyncSender<Job>>>,
    queue_wait: Duration,
    workers: Vec<Arc<AtomicU8>>,
    queued: Arc<AtomicUsize>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

impl CorePool {
    /// Starts `connections` workers, each connecting at once so the first requests pay no
    /// connect or auth (a core that is down is tried again by the first request).
    pub fn start(
        config: &Config,
        connections: usize,
        queue: usize,
        queue_wait: Duration,
    ) -> Result<CorePool, Error> {
        let (sender, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let queued = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::with_capacity(connections);
        let mut threads = Vec::with_capacity(connections);
        for i in 0..connections {
            let client = Client::new(config.clone())?;
            let state = Arc::new(AtomicU8::new(WORKER_DISCONNECTED));
            let worker = Worker {
                client,
                state: Arc::clone(&state),
                receiver: Arc::clone(&receiver),
                queued: Arc::clone(&queued),
            };
            let handle = thread::Builder::new()
                .name(format!("core-{i}"))
                .spawn(move || worker.run())
                .map_err(|e| Error::Internal(format!("cannot start a worker thread: {e}")))?;
            workers.push(state);
            threads.push(handle);
        }
        Ok(CorePool {
            sender: Mutex::new(Some(sender)),
            queue_wait,
            workers,
            queued,
            threads: Mutex::new(threads),
        })
    }

    /// Sends one request to the core through the next free connection.
    pub async fn process(
        &self,
        path: String,
        value: Option<String>,
    ) -> Result<Result<Vec<u8>, Error>, PoolError> {
        match self.submit(Work::Process { path, value }).await? {
            Done::Reply(reply) => Ok(reply),
            Done::Checked(_) => unreachable!("a process job answers with a reply"),
        }
    }

    /// Whether the core is reachable and accepts the login (connecting if needed), through the
    /// next free connection; the reason when not.
    pub async fn check(&self) -> Result<Result<(), Error>, PoolError> {
        match self.submit(Work::Check).await? {
            Done::Checked(result) => Ok(result),
            Done::Reply(_) => unreachable!("a check job answers with a bool"),
        }
    }

    async fn submit(&self, work: Work) -> Result<Done, PoolError> {
        let (done, mut answer) = oneshot::channel();
        let state = Arc::new(AtomicU8::new(QUEUED));
        let job = Job {
            work,
            state: Arc::clone(&state),
            done,
        };
        {
            let sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
            let sender = sender.as_ref().ok_or(PoolError::Stopped)?;
            self.queued.fetch_add(1, Ordering::SeqCst);
            if let Err(e) = sender.try_send(job) {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                return Err(match e {
                    TrySendError::Full(_) => PoolError::QueueFull,
                    TrySendError::Disconnected(_) => PoolError::Stopped,
                });
            }
        }
        // From here a dropped future (the HTTP client went away) must not leave the job to run.
        let _unsent_if_dropped = AbandonOnDrop(Arc::clone(&state));
        tokio::select! {
            answer = &mut answer => return answer.map_err(|_| PoolError::Stopped),
            () = tokio::time::sleep(self.queue_wait) => {}
        }
        if abandon(&state) {
            return Err(PoolError::WaitedTooLong);
        }
        // A worker took it just now: its answer comes within the library's call deadline.
        answer.await.map_err(|_| PoolError::Stopped)
    }

    pub fn counts(&self) -> PoolCounts {
        let mut counts = PoolCounts {
            queued: self.queued.load(Ordering::SeqCst),
            ..PoolCounts::default()
        };
        for worker in &self.workers {
            match worker.load(Ordering::SeqCst) {
                WORKER_BUSY => counts.busy += 1,
                WORKER_IDLE => counts.idle += 1,
                _ => counts.disconnected += 1,
            }
        }
        counts
    }

    /// Stops taking jobs; each worker finishes its call, says DISCONNECT and ends. Blocks until
    /// they have (at most about one call deadline).
    pub fn stop(&self) {
        self.sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let threads =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// True when the job was still waiting and is now given up (no worker will run it).
fn abandon(state: &AtomicU8) -> bool {
    state
        .compare_exchange(QUEUED, ABANDONED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
}

struct AbandonOnDrop(Arc<AtomicU8>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        abandon(&self.0);
    }
}

struct Worker {
    client: Client,
    state: Arc<AtomicU8>,
    receiver: Arc<Mutex<Receiver<Job>>>,
    queued: Arc<AtomicUsize>,
}

impl Worker {
    fn run(mut self) {
        self.client.check_connection();
        self.publish_idle();
        loop {
            let job = {
                let receiver = self.receiver.lock().unwrap_or_else(PoisonError::into_inner);
                receiver.recv()
            };
            let Ok(job) = job else { break };
            self.queued.fetch_sub(1, Ordering::SeqCst);
            if job
                .state
                .compare_exchange(QUEUED, TAKEN, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                continue;
            }
            self.state.store(WORKER_BUSY, Ordering::SeqCst);
            let done = match &job.work {
                Work::Process { path, value } => {
                    Done::Reply(self.client.process_bytes(path, value.as_deref(), None))
                }
                Work::Check => Done::Checked(self.client.ensure_connected(None)),
            };
            self.publish_idle();
            // The requester may be gone (its client hung up); the answer is then dropped.
            let _ = job.done.send(done);
        }
        self.client.disconnect();
        self.state.store(WORKER_DISCONNECTED, Ordering::SeqCst);
    }

    fn publish_idle(&self) {
        let state = if self.client.is_connected() {
            WORKER_IDLE
        } else {
            WORKER_DISCONNECTED
        };
        self.state.store(state, Ordering::SeqCst);
    }
}
