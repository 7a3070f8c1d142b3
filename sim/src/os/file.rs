//! Files: owner-only permissions for files that hold account data, making a rename durable, and
//! the exclusive lock that keeps two simulators off one state file.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Opens a file that holds account data for appending: readable by its owner only, also when it
/// existed before with a wider mode. In a folder other users can write to, another user can plant
/// the name first, so on Unix the file is refused (before anything is written or its mode
/// changed) when it is a symbolic link, not a regular file, owned by another user, or has other
/// hard links; and a folder every user may write to without the sticky bit is refused outright,
/// since there another user can swap the file under us at any time.
#[cfg(unix)]
pub fn open_private_append(path: &Path) -> io::Result<File> {
    check_folder(path)?;
    refuse_link(path)?;
    let file = private_options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(not_followed)?;
    check_own(&file)?;
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Creates `path` anew for writing, owner-only, for a temporary that is renamed into place: a
/// leftover of an earlier run is removed first (unlinking a planted link removes the link, not
/// its target), then the file is created exclusively (O_EXCL), so nothing another user put there
/// is ever written through.
#[cfg(unix)]
pub fn create_private_new(path: &Path) -> io::Result<File> {
    check_folder(path)?;
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    private_options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(not_followed)
}

/// Opens a file of account data this process wrote before (a snapshot, a log) for reading, with
/// the same refusals as `open_private_append`: a planted link or another user's file would load
/// data of that user's choosing.
#[cfg(unix)]
pub fn open_private_read(path: &Path) -> io::Result<File> {
    refuse_link(path)?;
    let mut options = private_options();
    let file = options.read(true).open(path).map_err(not_followed)?;
    check_own(&file)?;
    Ok(file)
}

/// A link is named as such before the open, whatever the kernel's own protections would answer
/// (Linux's protected_symlinks denies some with a bare "Permission denied"); O_NOFOLLOW then
/// covers a link planted between the check and the open.
#[cfg(unix)]
fn refuse_link(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(not_followed(io::Error::from_raw_os_error(libc::ELOOP)))
        }
        _ => Ok(()),
    }
}

#[cfg(unix)]
fn private_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    options
}

#[cfg(unix)]
fn not_followed(e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::other(
            "it is a symbolic link, which is not followed for a file that holds account data \
             (another user may have planted it); remove it or use another path",
        )
    } else {
        e
    }
}

/// Refuses a file this process did not make its own: another user's file would stay readable to
/// that user, and a second hard link would let the data be read, or overwrite a file, elsewhere.
#[cfg(unix)]
fn check_own(file: &File) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    let me = unsafe { libc::geteuid() };
    let problem = if !meta.file_type().is_file() {
        "it is not a regular file".to_string()
    } else if meta.uid() != me {
        format!(
            "it is owned by uid {}, not by this process's user (uid {me}), who could read what \
             is written into it; remove it or use another path",
            meta.uid()
        )
    } else if meta.nlink() != 1 {
        format!(
            "it has {} hard links, so what is written into it is visible elsewhere too; remove \
             it or use another path",
            meta.nlink()
        )
    } else {
        return Ok(());
    };
    Err(io::Error::other(problem))
}

/// Refuses a folder that every user may write to without the sticky bit (in a sticky one such as
/// /tmp, others cannot remove or rename our files, and the checks above cover the names they
/// may plant first).
#[cfg(unix)]
fn check_folder(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o002 != 0 && mode & 0o1000 == 0 {
        return Err(io::Error::other(format!(
            "its folder {} is writable by every user and not sticky (mode {:o}), so another user \
             could replace the file; use a folder only this user can write to",
            dir.display(),
            mode & 0o7777
        )));
    }
    Ok(())
}

/// Windows has no owner-only mode bits: the file gets its folder's inherited ACL, so keep such
/// files in a folder only the simulator's account can read (docs/simulator.md).
#[cfg(windows)]
pub fn open_private_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(windows)]
pub fn open_private_read(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(windows)]
pub fn create_private_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
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
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    // A planted link would make the lock create or hold a file of another user's choosing.
    #[cfg(unix)]
    {
        check_folder(path)?;
        refuse_link(path)?;
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Locked::Held(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(Locked::InUse),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}
