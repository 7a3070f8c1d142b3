//! Unix: owner-only mode bits, `O_NOFOLLOW`, and the refusals that keep a file another user
//! planted from being written through.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Opens a file that holds account data for appending: readable by its owner only, also when it
/// existed before with a wider mode. In a folder other users can write to, another user can plant
/// the name first, so the file is refused (before anything is written or its mode
/// changed) when it is a symbolic link, not a regular file, owned by another user, or has other
/// hard links; and a folder every user may write to without the sticky bit is refused outright,
/// since there another user can swap the file under us at any time.
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
fn refuse_link(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            Err(not_followed(io::Error::from_raw_os_error(libc::ELOOP)))
        }
        _ => Ok(()),
    }
}

fn private_options() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = OpenOptions::new();
    options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    options
}

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

/// Unix appends with O_APPEND, which leaves the descriptor free to truncate.
pub fn truncate(file: &File) -> io::Result<()> {
    file.set_len(0)
}

/// The state lock's file: default mode (it holds no data), refused when it is a link or in a
/// folder `check_folder` refuses.
pub fn open_lock(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    check_folder(path)?;
    refuse_link(path)?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(not_followed)
}
