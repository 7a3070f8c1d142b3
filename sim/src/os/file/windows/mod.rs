//! Windows: the refusals of the Unix side (`file/unix.rs`), through handles and security
//! descriptors instead of mode bits.
//!
//! - Every file is opened with FILE_FLAG_OPEN_REPARSE_POINT, so a symbolic link or junction
//!   planted under its name is opened itself, never followed, and then refused.
//! - A file this process creates has, from the moment it exists, a protected DACL that grants this
//!   process's user and SYSTEM alone: a handle another account opened under a wider DACL would
//!   keep its access after the DACL narrowed.
//! - A file that existed is checked first (not a reparse point, not a folder, owned by this user,
//!   one link) and only then given that DACL.
//! - A folder whose DACL lets another account delete or rename what it holds is refused: the
//!   counterpart of a folder every user may write to without the sticky bit.

use std::fs::File;
use std::io;
use std::mem::size_of;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle};
use std::path::Path;
use std::ptr;

use windows_sys::Win32::Foundation::{GENERIC_ALL, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Security::{
    SetKernelObjectSecurity, WinBuiltinAdministratorsSid, WinLocalSystemSid,
    DACL_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION, SECURITY_ATTRIBUTES,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FileAttributeTagInfo, GetFileInformationByHandle, GetFileInformationByHandleEx,
    ReOpenFile, BY_HANDLE_FILE_INFORMATION, CREATE_NEW, FILE_ATTRIBUTE_DIRECTORY,
    FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_REPARSE_POINT, FILE_ATTRIBUTE_TAG_INFO,
    FILE_DELETE_CHILD, FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_GENERIC_READ,
    FILE_GENERIC_WRITE, FILE_READ_ATTRIBUTES, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    FILE_WRITE_DATA, OPEN_ALWAYS, OPEN_EXISTING, READ_CONTROL, WRITE_DAC, WRITE_OWNER,
};

mod security;
use security::{Me, PrivateDescriptor, SecurityInfo, Sid};

/// What std's `OpenOptions::new().share_mode` defaults to: other openers (our own `truncate`
/// included) are kept out by the DACL, not by sharing.
const SHARE_ALL: u32 = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

/// Append-only, as std's `append(true)`: without FILE_WRITE_DATA every write lands at the end.
/// READ_CONTROL and WRITE_DAC check the owner and narrow the DACL through the same handle.
const APPEND_ACCESS: u32 =
    (FILE_GENERIC_WRITE & !FILE_WRITE_DATA) | FILE_READ_ATTRIBUTES | READ_CONTROL | WRITE_DAC;

/// A reparse point is opened itself, not what it points to.
const NO_FOLLOW: u32 = FILE_FLAG_OPEN_REPARSE_POINT | FILE_ATTRIBUTE_NORMAL;

/// A folder right that, granted to another account, lets it remove or rename our files (or grant
/// itself that right).
const REPLACING_RIGHTS: u32 = FILE_DELETE_CHILD | WRITE_DAC | WRITE_OWNER | GENERIC_ALL;

/// NT SERVICE\TrustedInstaller, the service that installs Windows' own files (a fixed SID: the
/// hash of the service's name).
const TRUSTED_INSTALLER: &str = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

/// Opens a file that holds account data for appending, private to this user also when it existed
/// with a wider DACL; refused (before anything is written or its DACL changed) in a folder
/// another account can replace it in, or when it is a link, not a regular file, another account's,
/// or has other hard links.
pub fn open_private_append(path: &Path) -> io::Result<File> {
    let me = Me::current()?;
    check_folder(path, &me)?;
    // One descriptor: the DACL a new file is created with is the one an existing file gets.
    let private = PrivateDescriptor::new(&me)?;
    let file = create_file(path, APPEND_ACCESS, OPEN_ALWAYS, &private)?;
    check_own(&file, &me)?;
    make_private(&file, &private)?;
    Ok(file)
}

/// Creates `path` anew for writing, private, for a temporary that is renamed into place: a
/// leftover of an earlier run is removed first (deleting a planted link deletes the link, not its
/// target), then the file is created exclusively (CREATE_NEW), private from its first moment.
pub fn create_private_new(path: &Path) -> io::Result<File> {
    let me = Me::current()?;
    check_folder(path, &me)?;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    create_file(
        path,
        FILE_GENERIC_WRITE | FILE_READ_ATTRIBUTES,
        CREATE_NEW,
        &PrivateDescriptor::new(&me)?,
    )
}

/// Opens a file of account data this process wrote before, with the refusals of
/// `open_private_append`: a planted link or another account's file would load data of its choosing.
pub fn open_private_read(path: &Path) -> io::Result<File> {
    let me = Me::current()?;
    // Nothing is created, so no descriptor is given.
    let file = open_handle(
        path,
        FILE_GENERIC_READ,
        OPEN_EXISTING,
        NO_FOLLOW,
        ptr::null(),
    )?;
    check_own(&file, &me)?;
    Ok(file)
}

/// The append handle may not set the file's length (that needs FILE_WRITE_DATA, which would also
/// let its writes land anywhere): ReOpenFile opens the same file, not the name, with that right.
pub fn truncate(file: &File) -> io::Result<()> {
    // SAFETY: the handle is `file`'s, open for the whole call; ReOpenFile only reads it and
    // returns a new handle (or INVALID_HANDLE_VALUE), which `owned` takes.
    let handle = unsafe { ReOpenFile(file.as_raw_handle() as HANDLE, GENERIC_WRITE, SHARE_ALL, 0) };
    let writable = owned(handle)?;
    writable.set_len(0)
}

/// The state lock's file: refused when it is a link or in a folder `check_folder` refuses;
/// private when this process creates it.
pub fn open_lock(path: &Path) -> io::Result<File> {
    let me = Me::current()?;
    check_folder(path, &me)?;
    let file = create_file(
        path,
        FILE_GENERIC_WRITE | FILE_READ_ATTRIBUTES,
        OPEN_ALWAYS,
        &PrivateDescriptor::new(&me)?,
    )?;
    refuse_reparse_point(&file)?;
    Ok(file)
}

/// Opens or creates a file of account data: a reparse point is opened itself, never followed,
/// and a file this call creates gets the private DACL (which CreateFileW ignores for one that
/// exists).
fn create_file(
    path: &Path,
    access: u32,
    disposition: u32,
    descriptor: &PrivateDescriptor,
) -> io::Result<File> {
    let attributes = SECURITY_ATTRIBUTES {
        nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: descriptor.as_ptr(),
        bInheritHandle: 0,
    };
    open_handle(path, access, disposition, NO_FOLLOW, &attributes)
}

/// CreateFileW, sharing as std does; `attributes` and what it points to are only read.
fn open_handle(
    path: &Path,
    access: u32,
    disposition: u32,
    flags: u32,
    attributes: *const SECURITY_ATTRIBUTES,
) -> io::Result<File> {
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    // SAFETY: `wide` is NUL-terminated and outlives the call; `attributes` is null or points to
    // SECURITY_ATTRIBUTES (and a descriptor) that the caller keeps alive for the call, which
    // reads them only; no template handle is passed.
    let handle = unsafe {
        CreateFileW(
            wide.as_ptr(),
            access,
            SHARE_ALL,
            attributes,
            disposition,
            flags,
            ptr::null_mut(),
        )
    };
    owned(handle)
}

/// A File that owns `handle`, or the error CreateFileW or ReOpenFile left.
fn owned(handle: HANDLE) -> io::Result<File> {
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a handle the call just returned, owned by nothing else; the File closes it.
    Ok(unsafe { File::from_raw_handle(handle) })
}

/// Why a reparse point is refused: a name surrogate (or a tag that cannot be read) may have been
/// planted; any other kind is storage whose data another component supplies.
fn reparse_point_problem(tag: Option<u32>) -> String {
    match tag {
        // IsReparseTagNameSurrogate: symbolic links, junctions and mount points.
        Some(tag) if tag & 0x2000_0000 == 0 => format!(
            "it is a reparse point (tag {tag:#010x}), whose data another component provides; \
             use a path outside synchronized or virtualized storage"
        ),
        _ => "it is a symbolic link or junction, which is not followed for a file that holds \
              account data (another account may have planted it); remove it or use another path"
            .to_string(),
    }
}

fn refuse_reparse_point(file: &File) -> io::Result<BY_HANDLE_FILE_INFORMATION> {
    let handle = file.as_raw_handle() as HANDLE;
    // SAFETY: BY_HANDLE_FILE_INFORMATION is plain data, so all zeroes is a valid value.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: `handle` is open for the call and `info` is writable and of the size expected.
    if unsafe { GetFileInformationByHandle(handle, &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    if info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        // SAFETY: as above, plain data.
        let mut tag: FILE_ATTRIBUTE_TAG_INFO = unsafe { std::mem::zeroed() };
        // SAFETY: `tag` is writable and its size is the one passed.
        let known = unsafe {
            GetFileInformationByHandleEx(
                handle,
                FileAttributeTagInfo,
                (&mut tag as *mut FILE_ATTRIBUTE_TAG_INFO).cast(),
                size_of::<FILE_ATTRIBUTE_TAG_INFO>() as u32,
            )
        } != 0;
        let tag = known.then_some(tag.ReparseTag);
        return Err(io::Error::other(reparse_point_problem(tag)));
    }
    Ok(info)
}

/// Refuses a file this process did not make its own: another account's file stays readable to
/// that account, and a second hard link would let the data be read, or a file be overwritten,
/// elsewhere.
fn check_own(file: &File, me: &Me) -> io::Result<()> {
    let info = refuse_reparse_point(file)?;
    if info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY != 0 {
        return Err(io::Error::other("it is not a regular file"));
    }
    let security = SecurityInfo::of(file.as_raw_handle() as HANDLE, OWNER_SECURITY_INFORMATION)?;
    let owner = security
        .owner()
        .ok_or_else(|| io::Error::other("its owner cannot be read"))?;
    if !me.owns(&owner) {
        return Err(io::Error::other(format!(
            "it is owned by {}, not by this process's user, {}; the owner could read what is \
             written into it; remove it or use another path",
            owner.describe(),
            me.user.describe(),
        )));
    }
    if info.nNumberOfLinks != 1 {
        return Err(io::Error::other(format!(
            "it has {} hard links, so what is written into it is visible elsewhere too; remove \
             it or use another path",
            info.nNumberOfLinks
        )));
    }
    Ok(())
}

/// Replaces the DACL of a file this process owns with the private one.
fn make_private(file: &File, descriptor: &PrivateDescriptor) -> io::Result<()> {
    // SAFETY: the handle was opened with WRITE_DAC and is open for the call; the descriptor and
    // the ACL it points to outlive the call, which reads them only.
    let done = unsafe {
        SetKernelObjectSecurity(
            file.as_raw_handle() as HANDLE,
            DACL_SECURITY_INFORMATION,
            descriptor.as_ptr(),
        )
    };
    if done == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Refuses the folder of `path` when its DACL lets an account other than this user, SYSTEM, the
/// Administrators or TrustedInstaller delete or rename the files in it, or change who may (no DACL at all grants
/// everyone everything). Entries that apply only to what the folder holds are not the folder's.
fn check_folder(path: &Path, me: &Me) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // BACKUP_SEMANTICS is what opens a folder; READ_CONTROL reads its DACL. A folder reached
    // through a junction is checked where the junction leads, where the files will be.
    let folder = open_handle(
        dir,
        READ_CONTROL,
        OPEN_EXISTING,
        FILE_FLAG_BACKUP_SEMANTICS,
        ptr::null(),
    )?;
    let security = SecurityInfo::of(folder.as_raw_handle() as HANDLE, DACL_SECURITY_INFORMATION)?;
    let refused = |who: String| {
        io::Error::other(format!(
            "its folder {} lets {who} delete or rename the files in it, so another account could \
             replace the file; use a folder only this user can change",
            dir.display()
        ))
    };
    let Some(entries) = security.allowed()? else {
        return Err(refused("every account (it has no DACL)".to_string()));
    };
    // The system's own accounts, which may change any folder anyway; TrustedInstaller holds full
    // control of Program Files and the Windows folder.
    let trusted = [
        Sid::well_known(WinLocalSystemSid)?,
        Sid::well_known(WinBuiltinAdministratorsSid)?,
        Sid::from_text(TRUSTED_INSTALLER)?,
    ];
    for (mask, sid) in entries {
        if mask & REPLACING_RIGHTS != 0 && !me.owns(&sid) && !trusted.iter().any(|t| t.is(&sid)) {
            return Err(refused(sid.describe()));
        }
    }
    Ok(())
}
