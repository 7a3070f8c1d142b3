//! Executes one decrypted request against the shared store and renders the reply text.

use serde_json::Value;
use std::sync::{PoisonError, RwLock};

use crate::double::dialect::BatchPaths;
use crate::reply::{Reply, TOO_LARGE};
use crate::state::batch::{self, TooLarge};
use crate::state::path::{self, Target};
use crate::state::store::Store;
use crate::state::tree::{self, Change};
use crate::state::wal::Wal;

pub struct Engine {
    store: RwLock<Store>,
    wal: Option<Wal>,
    /// --batch-paths: how a batch reply echoes its leaves' paths.
    batch_paths: BatchPaths,
}

struct Leaf {
    path: String,
    value: Value,
    target: Result<Target, Reply>,
}

/// Evaluates leaves in order. In a batch, once the reply passes MAX_REPLY_BYTES the remaining
/// leaves are not evaluated (a set among them changes nothing) and each gets code 209.
fn evaluate(leaves: &[Leaf], batch: bool, mut eval: impl FnMut(&Leaf) -> Reply) -> Vec<Reply> {
    let mut used = 0usize;
    leaves
        .iter()
        .map(|leaf| {
            if batch && used > batch::MAX_REPLY_BYTES {
                return Reply::error(
                    TOO_LARGE,
                    &format!(
                        "not evaluated: the batch reply passed {} bytes",
                        batch::MAX_REPLY_BYTES
                    ),
                );
            }
            let reply = eval(leaf);
            used += reply.ret.len() + leaf.path.len();
            reply
        })
        .collect()
}

impl Engine {
    pub fn new(store: Store, wal: Option<Wal>) -> Engine {
        Engine {
            store: RwLock::new(store),
            wal,
            batch_paths: BatchPaths::Exact,
        }
    }

    /// Echo batch paths as `batch_paths` says (--batch-paths).
    pub fn with_batch_paths(mut self, batch_paths: BatchPaths) -> Engine {
        self.batch_paths = batch_paths;
        self
    }

    /// Runs one request and returns the reply JSON text. Storage failures are fatal: a change
    /// that cannot be made durable must never be acknowledged, nor shown to a reader.
    pub fn process(&self, path: &str, value: &Value) -> String {
        let too_large = |e: TooLarge| Reply::error(TOO_LARGE, &e.description()).to_json();
        if path.len() > batch::MAX_PATH {
            return too_large(TooLarge::Path);
        }
        let batch = batch::is_batch(path, value);
        let mut raw = Vec::new();
        if batch {
            if let Err(e) = batch::expand(path, value, &mut raw) {
                return too_large(e);
            }
        } else {
            raw.push((path.to_string(), value.clone()));
        }
        let leaves: Vec<Leaf> = raw
            .into_iter()
            .map(|(path, value)| Leaf {
                target: path::parse(&path),
                path,
                value,
            })
            .collect();
        let writes = leaves
            .iter()
            .any(|l| l.target.as_ref().is_ok_and(|t| tree::is_write(t, &l.value)));
        let (replies, seen, changed) = if writes {
            self.run_writes(&leaves, batch)
        } else {
            let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
            let replies = evaluate(&leaves, batch, |l| match &l.target {
                Ok(t) => tree::read(&store, t, &l.value),
                Err(r) => r.clone(),
            });
            (replies, self.appended(), false)
        };
        if let Some(wal) = &self.wal {
            // Whatever this reply shows, including other requests' changes, is durable first.
            if let Err(e) = wal.wait_durable(seen) {
                fatal_storage_error(&e);
            }
            if changed {
                self.compact_if_wanted();
            }
        }
        if batch {
            let items: Vec<String> = leaves
                .iter()
                .zip(&replies)
                .map(|(l, r)| r.to_json_with_path(&self.batch_paths.echo(&l.path)))
                .collect();
            format!("[{}]", items.join(","))
        } else {
            replies[0].to_json()
        }
    }

    /// The log's sequence number of the last change; call it with the store lock held.
    fn appended(&self) -> u64 {
        self.wal.as_ref().map_or(0, Wal::appended)
    }

    /// Compacts when the write-ahead log is over its size. Re-checked under the write lock: threads
    /// that queued behind a compaction find the log empty and do not compact again.
    fn compact_if_wanted(&self) -> bool {
        let Some(wal) = &self.wal else {
            return false;
        };
        if !wal.wants_compaction() {
            return false;
        }
        #[cfg(test)]
        wal.hook(crate::state::wal::Hook::CompactionWanted);
        let store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        if !wal.wants_compaction() {
            return false;
        }
        if let Err(e) = wal.compact(&store) {
            fatal_storage_error(&e);
        }
        true
    }

    /// Returns the replies, the log sequence number they may show, and whether anything
    /// changed.
    fn run_writes(&self, leaves: &[Leaf], batch: bool) -> (Vec<Reply>, u64, bool) {
        let mut store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        let mut changed = false;
        let replies = evaluate(leaves, batch, |l| match &l.target {
            Err(r) => r.clone(),
            Ok(t) if !tree::is_write(t, &l.value) => tree::read(&store, t, &l.value),
            Ok(t) => match tree::write(&mut store, t, &l.path, &l.value) {
                Ok((reply, change)) => {
                    self.record(&change);
                    changed = true;
                    reply
                }
                Err(reply) => reply,
            },
        });
        (replies, self.appended(), changed)
    }

    fn record(&self, change: &Change) {
        if let Some(wal) = &self.wal {
            if let Err(e) = wal.append(change) {
                fatal_storage_error(&e);
            }
        }
    }

    /// For the control API: a look at the store under the read lock.
    pub fn inspect<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.store.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// For the control API's reset: replaces the whole state, durably when there is a state file.
    /// Durable before visible: the log is first folded into the current snapshot, then the new
    /// dataset is written as the snapshot. With the log empty, that snapshot's rename is the one
    /// step that switches states, so a failure (a full disk) or a crash anywhere leaves the old
    /// state or the new one whole on disk, never the old log replayed onto the new dataset; and
    /// memory changes only once the new state is on disk.
    pub fn replace(&self, store: Store) -> std::io::Result<()> {
        let mut guard = self.store.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(wal) = &self.wal {
            wal.compact(&guard)?;
            wal.write_snapshot_of(&store)?;
        }
        *guard = store;
        Ok(())
    }

    /// Final compaction on clean shutdown; holds the lock so no change slips in after it.
    pub fn shutdown(&self) {
        let store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(wal) = &self.wal {
            if let Err(e) = wal.compact(&store) {
                eprintln!(
                    "mikrobill-sim: final compaction failed (the write-ahead log is intact): {e}"
                );
            }
        }
        // Keep the lock until the process exits.
        std::mem::forget(store);
    }
}

fn fatal_storage_error(e: &std::io::Error) -> ! {
    eprintln!("mikrobill-sim: cannot write the state file, stopping: {e}");
    std::process::exit(3);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::demo;
    use crate::state::wal::Hook;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    const DEADLINE: Duration = Duration::from_secs(30);
    const NAME: &str = "API.Client.633824158637492.AutorizeInfo.Name";

    #[derive(Debug, PartialEq)]
    enum Event {
        Hook(Hook),
        Returned(String),
    }

    struct Dir(std::path::PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let dir = std::env::temp_dir().join(format!("mb-engine-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// An engine whose write-ahead log reports its hooks on `events`; the first fsync waits for `gate`.
    fn engine(
        dir: &Dir,
        events: mpsc::Sender<Event>,
        gate: Option<mpsc::Receiver<()>>,
    ) -> Arc<Engine> {
        let (store, mut wal) =
            Wal::open(&dir.0.join("state.json"), || Ok(demo::dataset())).unwrap();
        let events = Mutex::new(events);
        let gate = Mutex::new(gate);
        let first = AtomicBool::new(true);
        wal.hook = Some(Box::new(move |at| {
            let _ = events.lock().unwrap().send(Event::Hook(at));
            if at == Hook::BeforeSync && first.swap(false, Ordering::SeqCst) {
                if let Some(gate) = gate.lock().unwrap().as_ref() {
                    gate.recv_timeout(DEADLINE)
                        .expect("the test releases the fsync");
                }
            }
        }));
        Arc::new(Engine::new(store, Some(wal)))
    }

    fn next(events: &mpsc::Receiver<Event>) -> Event {
        match events.recv_timeout(DEADLINE) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => panic!("no event within {DEADLINE:?}"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_read_never_shows_a_change_before_it_is_fsynced() {
        let dir = Dir::new("durable");
        let (tx, events) = mpsc::channel();
        let (release, gate) = mpsc::channel();
        let engine = engine(&dir, tx.clone(), Some(gate));
        let writer = {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || engine.process(NAME, &Value::from("new")))
        };
        // The writer has appended "new", released the store lock and is stalled in its fsync.
        assert_eq!(next(&events), Event::Hook(Hook::BeforeSync));
        let reader = {
            let engine = Arc::clone(&engine);
            std::thread::spawn(move || {
                let reply = engine.process(NAME, &Value::Null);
                let _ = tx.send(Event::Returned(reply.clone()));
                reply
            })
        };
        // The reader sees "new" under the lock, so it must wait for that fsync, not reply.
        assert_eq!(next(&events), Event::Hook(Hook::Waiting(1)));
        release.send(()).unwrap();
        assert_eq!(
            next(&events),
            Event::Returned(r#"{"return":"new","code":0}"#.into())
        );
        assert_eq!(writer.join().unwrap(), r#"{"return":"OK","code":0}"#);
        assert_eq!(reader.join().unwrap(), r#"{"return":"new","code":0}"#);
    }

    #[test]
    fn threads_queued_behind_a_compaction_do_not_compact_again() {
        let dir = Dir::new("compact");
        let (tx, events) = mpsc::channel();
        let engine = engine(&dir, tx, None);
        engine.wal.as_ref().unwrap().pretend_bytes(u64::MAX);
        let guard = engine.store.write().unwrap();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let engine = Arc::clone(&engine);
                std::thread::spawn(move || engine.compact_if_wanted())
            })
            .collect();
        // Both saw the log over its size and now queue for the write lock.
        for _ in 0..2 {
            assert_eq!(next(&events), Event::Hook(Hook::CompactionWanted));
        }
        drop(guard);
        let compacted: Vec<bool> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(compacted.iter().filter(|&&c| c).count(), 1, "{compacted:?}");
    }

    #[test]
    fn oversized_requests_get_209_before_anything_runs() {
        let engine = Engine::new(Store::from_dataset(demo::dataset()).unwrap(), None);
        let code = |reply: String| serde_json::from_str::<Value>(&reply).unwrap()["code"].clone();
        let long = format!("API.Client.{}", "1".repeat(1 << 20));
        let items = Value::Array(vec![Value::from(""); 300]);
        assert_eq!(code(engine.process(&long, &items)), TOO_LARGE);
        assert_eq!(code(engine.process(&long, &Value::Null)), TOO_LARGE);
        let reply = engine.process(&long[..batch::MAX_PATH], &Value::Null);
        assert_eq!(code(reply.clone()), crate::reply::UNKNOWN_PATH);
        assert!(
            reply.len() < 400,
            "the description quotes at most a short piece"
        );
    }
}
