//! Files: owner-only permissions for files that hold account data, making a rename durable, and
//! the exclusive lock that keeps two simulators off one state file.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Opens a file that holds account data: readable by its owner only, also when it existed before
/// with a wider mode.
#[cfg(unix)]
pub fn open_owner_only(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = options.mode(0o600).open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Windows has no owner-only mode bits: the file gets its folder's inherited ACL, so keep such
/// files in a folder only the simulator's account can read (docs/simulator.md).
#[cfg(windows)]
pub fn open_owner_only(options: &mut OpenOptions, path: &Path) -> io::Result<File> {
    options.open(path)
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
/// LOCK_NB) on Unix, LockFileEx on Windows (std's File::try_lock).
pub fn lock_exclusive(path: &Path) -> io::Result<Locked> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Locked::Held(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(Locked::InUse),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}
