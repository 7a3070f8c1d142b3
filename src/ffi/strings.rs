//! The strings and byte buffers handed to C. Each one is recorded, with its length, until
//! `mb_free` takes it back, so that NULL, a
//! foreign pointer or one already taken back is ignored instead of corrupting the heap. What
//! cannot be detected is a stale pointer whose address the allocator has since given to a newer
//! string of ours: it is indistinguishable from that newer string. The table is a B-tree because
//! its nodes are referenced from their start, so leak checkers see it as reachable at exit (a hash
//! table's interior pointer shows up in valgrind as "possibly lost").

use std::collections::BTreeMap;
use std::ffi::{c_char, CString};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::lock;
use crate::error::Error;

/// Address of each issued buffer and its length, its terminating NUL included.
fn issued() -> MutexGuard<'static, BTreeMap<usize, usize>> {
    static ISSUED: OnceLock<Mutex<BTreeMap<usize, usize>>> = OnceLock::new();
    lock(ISSUED.get_or_init(Default::default))
}

/// Holds the table of issued strings across a `fork()` (see `crate::fork`).
#[cfg(unix)]
pub(crate) fn hold() -> Box<dyn std::any::Any> {
    Box::new(issued())
}

/// `text` as C text; a NUL byte inside it (which C would take for the end) is an error, not a
/// silently shortened string.
pub(super) fn c_text(text: impl Into<Vec<u8>>) -> Result<CString, Error> {
    CString::new(text).map_err(|_| {
        Error::MalformedReply("the reply holds a NUL byte, which C text cannot carry".into())
    })
}

/// Hands `text` to C; it stays issued until [`take_back`].
pub(super) fn give(text: CString) -> *mut c_char {
    give_bytes(text.into_bytes()).0
}

/// Hands `bytes`, which may hold NUL bytes, to C with a NUL after them (so that text readers
/// stop there too); returns the pointer and the length without that NUL. It stays issued until
/// [`take_back`].
pub(super) fn give_bytes(mut bytes: Vec<u8>) -> (*mut c_char, usize) {
    let len = bytes.len();
    bytes.push(0);
    let buffer = Box::into_raw(bytes.into_boxed_slice());
    let ptr: *mut c_char = buffer.cast();
    issued().insert(ptr as usize, len + 1);
    (ptr, len)
}

/// Whether `ptr` is currently issued, i.e. whether [`take_back`] would release it.
#[cfg(test)]
pub(super) fn is_issued(ptr: *const c_char) -> bool {
    issued().contains_key(&(ptr as usize))
}

/// Releases `ptr` when it is currently issued; anything else is left alone.
///
/// # Safety
/// If `ptr` is currently issued, nothing may use it after this call.
pub(super) unsafe fn take_back(ptr: *mut c_char) {
    if ptr.is_null() {
        return;
    }
    let Some(len) = issued().remove(&(ptr as usize)) else {
        return;
    };
    let buffer = std::ptr::slice_from_raw_parts_mut(ptr.cast::<u8>(), len);
    // SAFETY: the table held this address with this length, so `give_bytes` made it with
    // `Box::into_raw` of a boxed slice that long, and nothing has released it since; removing it
    // from the table makes this the only release.
    drop(unsafe { Box::from_raw(buffer) });
}

/// Frees a string this library gave out. NULL is ignored, and so is a pointer that is not
/// currently issued (never issued by this library, such as `mb_version`'s, or already freed).
/// A stale pointer whose address was reused for a newer string of this library cannot be told
/// from that newer string, which it would free: free each string exactly once. Leaves the last
/// error as it was.
///
/// # Safety
/// `text` is NULL or any pointer; only pointers currently issued by this library are
/// dereferenced, and nothing may use such a pointer after this call.
#[no_mangle]
pub unsafe extern "C" fn mb_free(text: *mut c_char) {
    // A panic here is contained and dropped: mb_free has no result to report it through, and
    // the string, if any, simply stays issued.
    let _ = super::boundary::status("mb_free", super::boundary::LastError::Kept, || {
        // SAFETY: the caller gives up `text` with this call.
        unsafe { take_back(text) };
        Ok(())
    });
}
