//! The --state file's durability: a snapshot (a dataset JSON, replaced atomically by temp +
//! fsync + rename) plus `<FILE>.wal`, the write-ahead log, an append-only log of changes, one per
//! line as `JSON<TAB>CHECKSUM`. Every acknowledged change is in the log and fsynced before its
//! reply. On load a bad record with nothing valid after it is a write torn by a crash and is
//! dropped (with a message); a bad record followed by valid ones is damage, and start-up stops
//! with the file left untouched, since dropping would lose the acknowledged changes after it.
//! Compaction writes a new snapshot and then empties the log; a crash between the two is harmless
//! because replaying changes that the snapshot already holds changes nothing (see tree::Change).
//!
//! Durability is tracked by sequence numbers: each appended record gets the next number, and
//! `wait_durable(n)` returns once records up to `n` are fsynced (or compacted into the snapshot).
//! One fsync covers every record appended before it started (group commit). A reply, read or
//! write, waits for the sequence number that was current while its leaves were evaluated, so no
//! reply ever shows a value that a crash could still lose.
//!
//! `<FILE>.lock` is held with an exclusive lock (crate::os::file::lock_exclusive) for the life of
//! the process, so two simulators cannot share one state file (their logs and `<FILE>.tmp` would
//! collide).
//!
//! Version 0.2 named the log `<FILE>.journal`. A leftover one is replayed before `<FILE>.wal` and
//! removed once the first compaction holds its changes, so a state written by 0.2 loses nothing.

use sha1::{Digest, Sha1};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use super::model::Dataset;
use super::store::Store;
use super::tree::{self, Change};
use crate::error::SimError;
use crate::os::file::{
    create_private_new, lock_exclusive, open_private_append, open_private_read, sync_dir, truncate,
    Locked,
};

/// Log size that triggers compaction while running.
pub const COMPACT_BYTES: u64 = 8 * 1024 * 1024;

/// The write-ahead log of one state file.
pub struct Wal {
    snapshot: PathBuf,
    file: File,
    bytes: AtomicU64,
    /// Sequence number of the last appended record (written under the store's write lock).
    appended: AtomicU64,
    sync: Mutex<SyncState>,
    synced: Condvar,
    /// Holds the lock on `<FILE>.lock` until the process exits.
    _lock: File,
    #[cfg(test)]
    pub(crate) hook: Option<Box<dyn Fn(Hook) + Send + Sync>>,
}

struct SyncState {
    /// Every record up to this sequence number is durable.
    durable: u64,
    /// A thread is running fsync; others wait for it instead of starting their own.
    syncing: bool,
}

/// Points where tests can observe or stall the group commit.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    /// About to fsync the log (outside any lock; a test may block here).
    BeforeSync,
    /// Waiting for another thread's fsync to make `seq` durable.
    Waiting(u64),
    /// The engine found the log over its size and is about to take the write lock.
    CompactionWanted,
}

fn sibling(snapshot: &Path, suffix: &str) -> PathBuf {
    let mut p = snapshot.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// `<FILE>.wal`.
pub fn wal_path(snapshot: &Path) -> PathBuf {
    sibling(snapshot, ".wal")
}

/// `<FILE>.journal`, where 0.2 kept the log.
fn legacy_path(snapshot: &Path) -> PathBuf {
    sibling(snapshot, ".journal")
}

/// Takes `<FILE>.lock` exclusively, or says who has it.
fn lock(snapshot: &Path) -> Result<File, SimError> {
    let path = sibling(snapshot, ".lock");
    match lock_exclusive(&path) {
        Ok(Locked::Held(file)) => Ok(file),
        Ok(Locked::InUse) => Err(SimError::StateInUse {
            snapshot: snapshot.to_path_buf(),
            lock: path,
        }),
        Err(source) => Err(SimError::File { path, source }),
    }
}

/// One log record: `<JSON><TAB><checksum>\n`.
pub fn record_line(change: &Change) -> io::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(change)?;
    let sum = checksum(&line);
    line.push(b'\t');
    line.extend_from_slice(sum.as_bytes());
    line.push(b'\n');
    Ok(line)
}

fn checksum(payload: &[u8]) -> String {
    Sha1::digest(payload)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes the snapshot so that the file at `path` is always either the old or the new version.
pub fn write_snapshot(path: &Path, store: &Store) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        // The snapshot holds account passwords: the owner's alone.
        let file = create_private_new(&tmp)?;
        let mut w = BufWriter::new(&file);
        serde_json::to_writer(&mut w, &store.to_dataset())?;
        w.flush()?;
        drop(w);
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(path)
}

fn read_snapshot(path: &Path) -> Result<Dataset, SimError> {
    let file = open_private_read(path).map_err(SimError::file(path))?;
    serde_json::from_reader(BufReader::new(file)).map_err(|source| SimError::Snapshot {
        path: path.to_path_buf(),
        source,
    })
}

/// What follows a log's valid records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tail {
    /// Nothing: every record is valid.
    Clean,
    /// Bad or partial records and nothing valid after them: a write torn by a crash.
    Torn,
    /// A bad record (1-based, at byte `offset`) with `valid_after` valid records after it.
    Corrupt {
        record: usize,
        offset: usize,
        valid_after: usize,
    },
}

/// One whole line's change, when its checksum and JSON are good.
fn parse_line(line: &[u8]) -> Option<Change> {
    let tab = line.iter().rposition(|&b| b == b'\t')?;
    let (payload, sum) = (&line[..tab], &line[tab + 1..]);
    if checksum(payload).as_bytes() != sum {
        return None;
    }
    serde_json::from_slice(payload).ok()
}

/// The valid changes of a log, up to its first bad record, and what follows them.
pub fn parse_records(bytes: &[u8]) -> (Vec<Change>, Tail) {
    let mut changes = Vec::new();
    let mut offset = 0;
    while let Some(end) = bytes[offset..].iter().position(|&b| b == b'\n') {
        let line = &bytes[offset..offset + end];
        match parse_line(line) {
            Some(change) => changes.push(change),
            None => {
                // Only whole lines count as valid records after it; a partial last line is
                // the torn write itself.
                let after = &bytes[offset + end + 1..];
                let whole = match after.iter().rposition(|&b| b == b'\n') {
                    Some(last) => &after[..last],
                    None => &[][..],
                };
                let valid_after = if whole.is_empty() {
                    0
                } else {
                    whole
                        .split(|&b| b == b'\n')
                        .filter(|l| parse_line(l).is_some())
                        .count()
                };
                let tail = if valid_after == 0 {
                    Tail::Torn
                } else {
                    Tail::Corrupt {
                        record: changes.len() + 1,
                        offset,
                        valid_after,
                    }
                };
                return (changes, tail);
            }
        }
        offset += end + 1;
    }
    let tail = if offset == bytes.len() {
        Tail::Clean
    } else {
        Tail::Torn
    };
    (changes, tail)
}

/// The whole file, or None when it does not exist.
fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, SimError> {
    let mut bytes = Vec::new();
    match open_private_read(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(SimError::file(path))?;
            Ok(Some(bytes))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SimError::File {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Applies the valid records of the log at `path` (its bytes are `bytes`) to `store`.
fn replay_log(store: &mut Store, path: &Path, bytes: &[u8]) -> Result<(), SimError> {
    let (changes, tail) = parse_records(bytes);
    match tail {
        Tail::Clean => {}
        Tail::Torn => eprintln!(
            "mikrobill-sim: dropping the torn last write of {} after {} whole records",
            path.display(),
            changes.len()
        ),
        Tail::Corrupt {
            record,
            offset,
            valid_after,
        } => {
            return Err(SimError::CorruptLog {
                log: path.to_path_buf(),
                record,
                offset,
                valid_after,
            })
        }
    }
    for change in &changes {
        tree::replay(store, change).map_err(|error| SimError::Replay {
            log: path.to_path_buf(),
            error,
        })?;
    }
    Ok(())
}

impl Wal {
    /// Opens (or creates from `seed`) the state at `path`, replays its log and compacts.
    pub fn open(
        path: &Path,
        seed: impl FnOnce() -> Result<Dataset, SimError>,
    ) -> Result<(Store, Wal), SimError> {
        let lock = lock(path)?;
        let wpath = wal_path(path);
        let legacy = legacy_path(path);
        let mut store = if path.exists() {
            Store::from_dataset(read_snapshot(path)?)?
        } else {
            Store::from_dataset(seed()?)?
        };
        // A 0.2 log holds changes older than any in `<FILE>.wal`: it was removed before 0.3
        // appended its first record.
        let legacy_bytes = read_if_exists(&legacy)?;
        if let Some(bytes) = &legacy_bytes {
            replay_log(&mut store, &legacy, bytes)?;
        }
        let bytes = read_if_exists(&wpath)?.unwrap_or_default();
        replay_log(&mut store, &wpath, &bytes)?;
        let file = open_private_append(&wpath).map_err(SimError::file(&wpath))?;
        let wal = Wal {
            snapshot: path.to_path_buf(),
            file,
            bytes: AtomicU64::new(bytes.len() as u64),
            appended: AtomicU64::new(0),
            sync: Mutex::new(SyncState {
                durable: 0,
                syncing: false,
            }),
            synced: Condvar::new(),
            _lock: lock,
            #[cfg(test)]
            hook: None,
        };
        wal.compact(&store).map_err(SimError::file(path))?;
        if legacy_bytes.is_some() {
            // The snapshot now holds its changes. Nothing was served yet, so a crash before the
            // removal only replays the same changes onto the same snapshot next time.
            fs::remove_file(&legacy)
                .and_then(|()| sync_dir(&legacy))
                .map_err(SimError::file(&legacy))?;
        }
        Ok((store, wal))
    }

    /// Appends one record (not yet durable); the caller holds the store's write lock so records
    /// keep their order. The record's sequence number is the new `appended()`.
    pub fn append(&self, change: &Change) -> io::Result<()> {
        let line = record_line(change)?;
        (&self.file).write_all(&line)?;
        self.bytes.fetch_add(line.len() as u64, Ordering::Relaxed);
        self.appended.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Sequence number of the last appended record. Read under the store lock (read or write),
    /// it covers every change visible through that lock.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::SeqCst)
    }

    #[cfg(test)]
    pub(crate) fn hook(&self, at: Hook) {
        if let Some(hook) = &self.hook {
            hook(at);
        }
    }

    /// Returns once every record up to `seq` is durable. The first thread to find it is not
    /// fsyncs for everyone (covering all records appended so far); the others wait for it.
    pub fn wait_durable(&self, seq: u64) -> io::Result<()> {
        let mut state = self.sync.lock().unwrap_or_else(PoisonError::into_inner);
        while state.durable < seq {
            if state.syncing {
                #[cfg(test)]
                self.hook(Hook::Waiting(seq));
                state = self
                    .synced
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.syncing = true;
            drop(state);
            // Every record up to `target` was fully written before `appended` counted it.
            let target = self.appended();
            #[cfg(test)]
            self.hook(Hook::BeforeSync);
            let result = self.file.sync_data();
            state = self.sync.lock().unwrap_or_else(PoisonError::into_inner);
            state.syncing = false;
            if result.is_ok() {
                state.durable = state.durable.max(target);
            }
            self.synced.notify_all();
            result?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn pretend_bytes(&self, bytes: u64) {
        self.bytes.store(bytes, Ordering::Relaxed);
    }

    pub fn wants_compaction(&self) -> bool {
        self.bytes.load(Ordering::Relaxed) > COMPACT_BYTES
    }

    /// Writes `store` as the snapshot, for a reset right after `compact` emptied the log (see
    /// `Engine::replace`).
    pub fn write_snapshot_of(&self, store: &Store) -> io::Result<()> {
        write_snapshot(&self.snapshot, store)
    }

    /// Snapshot then empty the log; the caller holds the store's write lock, so every
    /// appended record is in the snapshot and thus durable once it is written.
    pub fn compact(&self, store: &Store) -> io::Result<()> {
        write_snapshot(&self.snapshot, store)?;
        let mut state = self.sync.lock().unwrap_or_else(PoisonError::into_inner);
        state.durable = state.durable.max(self.appended());
        self.synced.notify_all();
        drop(state);
        truncate(&self.file)?;
        self.file.sync_all()?;
        sync_dir(&wal_path(&self.snapshot))?;
        self.bytes.store(0, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(change: &Change) -> Vec<u8> {
        record_line(change).unwrap()
    }

    #[test]
    fn torn_and_corrupt_tails_are_dropped() {
        let a = Change::Set {
            path: "API.Client.1.AutorizeInfo.Name".into(),
            value: json!("a"),
        };
        let mut bytes = line(&a);
        bytes.extend_from_slice(&line(&a));
        assert_eq!(
            parse_records(&bytes),
            (vec![a.clone(), a.clone()], Tail::Clean)
        );
        let whole = bytes.len();
        bytes.extend_from_slice(&line(&a)[..10]);
        assert_eq!(
            parse_records(&bytes),
            (vec![a.clone(), a.clone()], Tail::Torn)
        );
        bytes.truncate(whole);
        bytes[whole - 3] ^= 1;
        assert_eq!(parse_records(&bytes), (vec![a.clone()], Tail::Torn));
    }

    #[test]
    fn a_bad_record_before_valid_ones_is_corruption() {
        let a = Change::Set {
            path: "API.Client.1.AutorizeInfo.Name".into(),
            value: json!("a"),
        };
        let one = line(&a);
        let mut bytes = Vec::new();
        for _ in 0..4 {
            bytes.extend_from_slice(&one);
        }
        bytes[one.len() + 5] ^= 1;
        assert_eq!(
            parse_records(&bytes),
            (
                vec![a.clone()],
                Tail::Corrupt {
                    record: 2,
                    offset: one.len(),
                    valid_after: 2
                }
            )
        );
        // Followed only by a partial line, a bad record is still the torn write.
        let mut torn = one.clone();
        torn.extend_from_slice(&one);
        torn[one.len() + 5] ^= 1;
        torn.extend_from_slice(&one[..10]);
        assert_eq!(parse_records(&torn), (vec![a], Tail::Torn));
    }

    #[test]
    fn a_log_left_by_0_2_is_replayed_then_removed() {
        let dir = std::env::temp_dir().join(format!("mb-wal-legacy-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let state = dir.join("state.json");
        let name = "API.Client.633824158637492.AutorizeInfo.Name";
        let set = Change::Set {
            path: name.into(),
            value: json!("from 0.2"),
        };
        fs::write(legacy_path(&state), line(&set)).unwrap();
        let (store, wal) = Wal::open(&state, || Ok(super::super::demo::dataset())).unwrap();
        let engine = super::super::engine::Engine::new(store, Some(wal));
        assert_eq!(
            engine.process(name, &serde_json::Value::Null),
            r#"{"return":"from 0.2","code":0}"#
        );
        assert!(!legacy_path(&state).exists());
        assert_eq!(fs::metadata(wal_path(&state)).unwrap().len(), 0);
        assert!(read_snapshot(&state).is_ok());
        drop(engine);
        let _ = fs::remove_dir_all(&dir);
    }
}
