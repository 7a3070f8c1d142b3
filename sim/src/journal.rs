//! The --state file: a snapshot (a dataset JSON, replaced atomically by temp + fsync + rename)
//! plus `<FILE>.journal`, an append-only log of changes, one per line as `JSON<TAB>CHECKSUM`.
//! Every acknowledged change is in the journal and fsynced before its reply. On load a torn or
//! corrupt record ends the journal (a crash can only tear the last one). Compaction writes a new
//! snapshot and then empties the journal; a crash between the two is harmless because replaying
//! changes that the snapshot already holds changes nothing (see tree::Change).
//!
//! Durability is tracked by sequence numbers: each appended record gets the next number, and
//! `wait_durable(n)` returns once records up to `n` are fsynced (or compacted into the snapshot).
//! One fsync covers every record appended before it started (group commit). A reply, read or
//! write, waits for the sequence number that was current while its leaves were evaluated, so no
//! reply ever shows a value that a crash could still lose.
//!
//! `<FILE>.lock` is held with an exclusive lock (flock on Unix, LockFileEx on
//! Windows) for the life of the process, so two simulators
//! cannot share one state file (their journals and `<FILE>.tmp` would collide).

use sha1::{Digest, Sha1};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

use crate::error::SimError;
use crate::model::Dataset;
use crate::store::Store;
use crate::tree::{self, Change};

/// Journal size that triggers compaction while running.
pub const COMPACT_BYTES: u64 = 8 * 1024 * 1024;

pub struct Journal {
    snapshot: PathBuf,
    file: File,
    bytes: AtomicU64,
    /// Sequence number of the last appended record (written under the store's write lock).
    appended: AtomicU64,
    sync: Mutex<SyncState>,
    synced: Condvar,
    /// Holds the flock on `<FILE>.lock` until the process exits.
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
    /// About to fsync the journal (outside any lock; a test may block here).
    BeforeSync,
    /// Waiting for another thread's fsync to make `seq` durable.
    Waiting(u64),
    /// The engine found the journal over its size and is about to take the write lock.
    CompactionWanted,
}

fn sibling(snapshot: &Path, suffix: &str) -> PathBuf {
    let mut p = snapshot.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn journal_path(snapshot: &Path) -> PathBuf {
    sibling(snapshot, ".journal")
}

/// Takes `<FILE>.lock` exclusively, or says who has it.
fn lock(snapshot: &Path) -> Result<File, SimError> {
    let path = sibling(snapshot, ".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(SimError::file(&path))?;
    // flock(LOCK_EX | LOCK_NB) on Unix, LockFileEx on Windows.
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(SimError::StateInUse {
            snapshot: snapshot.to_path_buf(),
            lock: path,
        }),
        Err(fs::TryLockError::Error(source)) => Err(SimError::File { path, source }),
    }
}

/// One journal record: `<JSON><TAB><checksum>\n`.
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

/// Makes a rename or create in `file`'s directory durable. Windows has no directory handle to
/// fsync through std; NTFS journals the rename itself.
#[cfg(windows)]
fn sync_dir(_file: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(not(windows))]
fn sync_dir(file: &Path) -> io::Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Opens a file that holds account passwords: readable by its owner only, also when it existed
/// before with a wider mode.
#[cfg(unix)]
pub fn open_secret(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = options.mode(0o600).open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Windows has no owner-only mode bits: the file gets its folder's inherited ACL, so keep
/// `--state` in a folder only the simulator's account can read (docs/simulator.md).
#[cfg(windows)]
pub fn open_secret(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    options.open(path)
}

/// Writes the snapshot so that the file at `path` is always either the old or the new version.
pub fn write_snapshot(path: &Path, store: &Store) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let file = open_secret(
            OpenOptions::new().write(true).create(true).truncate(true),
            &tmp,
        )?;
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
    let file = File::open(path).map_err(SimError::file(path))?;
    serde_json::from_reader(BufReader::new(file)).map_err(|source| SimError::Snapshot {
        path: path.to_path_buf(),
        source,
    })
}

/// Valid changes of a journal and whether anything after them was dropped.
pub fn parse_journal(bytes: &[u8]) -> (Vec<Change>, bool) {
    let mut changes = Vec::new();
    let mut rest = bytes;
    while let Some(end) = rest.iter().position(|&b| b == b'\n') {
        let line = &rest[..end];
        let Some(tab) = line.iter().rposition(|&b| b == b'\t') else {
            return (changes, true);
        };
        let (payload, sum) = (&line[..tab], &line[tab + 1..]);
        if checksum(payload).as_bytes() != sum {
            return (changes, true);
        }
        match serde_json::from_slice::<Change>(payload) {
            Ok(c) => changes.push(c),
            Err(_) => return (changes, true),
        }
        rest = &rest[end + 1..];
    }
    (changes, !rest.is_empty())
}

impl Journal {
    /// Opens (or creates from `seed`) the state at `path`, replays its journal and compacts.
    pub fn open(
        path: &Path,
        seed: impl FnOnce() -> Result<Dataset, SimError>,
    ) -> Result<(Store, Journal), SimError> {
        let lock = lock(path)?;
        let jpath = journal_path(path);
        let mut store = if path.exists() {
            Store::from_dataset(read_snapshot(path)?)?
        } else {
            Store::from_dataset(seed()?)?
        };
        let mut bytes = Vec::new();
        match File::open(&jpath) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes).map_err(SimError::file(&jpath))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SimError::File {
                    path: jpath,
                    source,
                })
            }
        }
        let (changes, dropped) = parse_journal(&bytes);
        if dropped {
            eprintln!(
                "mikrobill-sim: ignoring a torn or corrupt tail of {} after {} records",
                jpath.display(),
                changes.len()
            );
        }
        for change in &changes {
            tree::replay(&mut store, change).map_err(|error| SimError::Replay {
                journal: jpath.clone(),
                error,
            })?;
        }
        let file = open_secret(OpenOptions::new().create(true).append(true), &jpath)
            .map_err(SimError::file(&jpath))?;
        let journal = Journal {
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
        journal.compact(&store).map_err(SimError::file(path))?;
        Ok((store, journal))
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

    /// Snapshot then empty the journal; the caller holds the store's write lock, so every
    /// appended record is in the snapshot and thus durable once it is written.
    pub fn compact(&self, store: &Store) -> io::Result<()> {
        write_snapshot(&self.snapshot, store)?;
        let mut state = self.sync.lock().unwrap_or_else(PoisonError::into_inner);
        state.durable = state.durable.max(self.appended());
        self.synced.notify_all();
        drop(state);
        self.file.set_len(0)?;
        self.file.sync_all()?;
        sync_dir(&journal_path(&self.snapshot))?;
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
        assert_eq!(parse_journal(&bytes), (vec![a.clone(), a.clone()], false));
        let whole = bytes.len();
        bytes.extend_from_slice(&line(&a)[..10]);
        assert_eq!(parse_journal(&bytes), (vec![a.clone(), a.clone()], true));
        bytes.truncate(whole);
        bytes[whole - 3] ^= 1;
        assert_eq!(parse_journal(&bytes), (vec![a], true));
    }
}
