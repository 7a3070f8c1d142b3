//! Files that hold account data (the trace, the state files, `mb proxy`'s recording): readable by
//! their owner only and never written through a name another user planted (`unix.rs` with mode
//! bits and `O_NOFOLLOW`, `windows/` with a private DACL and reparse points opened, not
//! followed); emptying the state log in place; making a rename durable; and the exclusive lock
//! that keeps two simulators off one state file.

use std::fs::{self, File};
use std::io;
use std::path::Path;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

pub use platform::{create_private_new, open_private_append, open_private_read};

/// Empties a file opened by `open_private_append`. On Windows that handle may only append (which
/// is what keeps every write at the end), and setting a file's length needs the right to write
/// anywhere, so the same file is opened again, by handle, with that right.
pub fn truncate(file: &File) -> io::Result<()> {
    platform::truncate(file)
}

/// Makes a rename or create in `file`'s directory durable. Windows has no directory handle to
/// fsync through std; NTFS journals the rename itself.
#[cfg(windows)]
pub fn sync_dir(_file: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(not(windows))]
pub fn sync_dir(file: &Path) -> io::Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Whether an exclusive lock was taken.
pub enum Locked {
    /// The lock is held for as long as this file stays open.
    Held(File),
    /// Another process holds it.
    InUse,
}

/// Creates `path` if needed and takes an exclusive lock on it without waiting: flock(LOCK_EX |
/// LOCK_NB) on Unix, LockFileEx on Windows (std's File::try_lock). A planted link would make the
/// lock create or hold a file of another user's choosing, so the lock file gets the same folder
/// and link refusals as the files it guards.
pub fn lock_exclusive(path: &Path) -> io::Result<Locked> {
    let file = platform::open_lock(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Locked::Held(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(Locked::InUse),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}
