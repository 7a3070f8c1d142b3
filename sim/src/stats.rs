//! Session counts: how many auths the server granted and how many DISCONNECTs it answered, so
//! that a test can tell a reused (pooled) connection from a new session. With
//! `--session-counts FILE` the server rewrites FILE as `{"auths":N,"disconnects":M}` after each
//! of them, replacing it whole (write and rename) so a reader never sees half a line.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

static AUTHS: AtomicU64 = AtomicU64::new(0);
static DISCONNECTS: AtomicU64 = AtomicU64::new(0);
static FILE: OnceLock<Option<Mutex<PathBuf>>> = OnceLock::new();

/// Where to publish the counts; called once before the server starts.
pub fn publish_to(path: Option<PathBuf>) -> Result<(), crate::error::SimError> {
    let _ = FILE.set(path.map(Mutex::new));
    write().map_err(|(path, source)| crate::error::SimError::File { path, source })
}

pub fn auth_granted() {
    AUTHS.fetch_add(1, Ordering::SeqCst);
    report(write());
}

pub fn disconnect_answered() {
    DISCONNECTS.fetch_add(1, Ordering::SeqCst);
    report(write());
}

pub fn counts() -> (u64, u64) {
    (
        AUTHS.load(Ordering::SeqCst),
        DISCONNECTS.load(Ordering::SeqCst),
    )
}

fn report(result: Result<(), (PathBuf, io::Error)>) {
    if let Err((path, e)) = result {
        eprintln!(
            "mikrobill-sim: cannot write the session counts: {}: {e}",
            path.display()
        );
    }
}

fn write() -> Result<(), (PathBuf, io::Error)> {
    let Some(Some(path)) = FILE.get() else {
        return Ok(());
    };
    // Under the lock the counts read are at least those of every write before: the file only
    // ever moves forward.
    let path = path.lock().unwrap_or_else(PoisonError::into_inner);
    let (auths, disconnects) = counts();
    let mut tmp = path.clone().into_os_string();
    tmp.push(".tmp");
    std::fs::write(
        &tmp,
        format!("{{\"auths\":{auths},\"disconnects\":{disconnects}}}\n"),
    )
    .and_then(|()| std::fs::rename(&tmp, &*path))
    .map_err(|e| (path.clone(), e))
}
