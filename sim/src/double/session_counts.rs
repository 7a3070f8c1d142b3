//! Session counts: how many auths the server granted and refused and how many DISCONNECTs it
//! answered. This is the one tally of them: the test double records each event here once
//! (crate::double::TestDouble::auth and ::disconnect, called from the server's session
//! handling), and both views read it: the control API's `GET /api/counts` and, with
//! `--session-counts FILE`, FILE, rewritten as `{"auths":N,"disconnects":M}` after each granted
//! auth and each DISCONNECT, replaced whole (write and rename) so a reader never sees half a
//! line. Tests use the file to tell a reused (pooled) connection from a new session.
//!
//! Nothing resets these counts, the control API's `POST /api/reset` and `DELETE /api/journal`
//! included: they count since start, the file's readers rely on it only ever moving forward, and
//! so the two views always agree.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::error::SimError;

/// One session event the server handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    AuthGranted,
    AuthRefused,
    DisconnectAnswered,
}

/// The counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sessions {
    pub auths_granted: u64,
    pub auths_refused: u64,
    pub disconnects: u64,
}

#[derive(Default)]
pub struct SessionCounts {
    auths_granted: AtomicU64,
    auths_refused: AtomicU64,
    disconnects: AtomicU64,
    /// `--session-counts FILE`; the lock orders the rewrites. None: nothing is ever written.
    file: Option<Mutex<PathBuf>>,
}

impl SessionCounts {
    /// Counts that rewrite `path` after each event it shows; the file is written at once (all
    /// zeros), so a start-up that cannot write it fails instead of the first auth.
    pub fn publishing_to(path: Option<PathBuf>) -> Result<SessionCounts, SimError> {
        let counts = SessionCounts {
            file: path.map(Mutex::new),
            ..SessionCounts::default()
        };
        counts
            .write()
            .map_err(|(path, source)| SimError::File { path, source })?;
        Ok(counts)
    }

    /// Counts one event. Cheap (one atomic add), so it may run under a caller's lock; the file
    /// is rewritten separately by `publish`, outside any such lock.
    pub fn count(&self, event: SessionEvent) {
        let counter = match event {
            SessionEvent::AuthGranted => &self.auths_granted,
            SessionEvent::AuthRefused => &self.auths_refused,
            SessionEvent::DisconnectAnswered => &self.disconnects,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }

    /// Rewrites the file after a counted `event`, when there is a file and the event shows in it
    /// (refused auths do not); without `--session-counts` this returns before any lock or
    /// allocation. Call it before the event's reply is sent, so a client that has its reply
    /// finds the event in the file.
    pub fn publish(&self, event: SessionEvent) {
        if self.file.is_none() || event == SessionEvent::AuthRefused {
            return;
        }
        if let Err((path, e)) = self.write() {
            eprintln!(
                "mikrobill-sim: cannot write the session counts: {}: {e}",
                path.display()
            );
        }
    }

    pub fn snapshot(&self) -> Sessions {
        Sessions {
            auths_granted: self.auths_granted.load(Ordering::SeqCst),
            auths_refused: self.auths_refused.load(Ordering::SeqCst),
            disconnects: self.disconnects.load(Ordering::SeqCst),
        }
    }

    fn write(&self) -> Result<(), (PathBuf, io::Error)> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        // Under the lock the counts read are at least those of every write before: the file only
        // ever moves forward.
        let path = path.lock().unwrap_or_else(PoisonError::into_inner);
        let Sessions {
            auths_granted,
            disconnects,
            ..
        } = self.snapshot();
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        std::fs::write(
            &tmp,
            format!("{{\"auths\":{auths_granted},\"disconnects\":{disconnects}}}\n"),
        )
        .and_then(|()| std::fs::rename(&tmp, &*path))
        .map_err(|e| (path.clone(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(counts: &SessionCounts, event: SessionEvent) {
        counts.count(event);
        counts.publish(event);
    }

    #[test]
    fn the_file_shows_granted_auths_and_disconnects_of_the_one_tally() {
        let dir = std::env::temp_dir().join(format!("mb-stats-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("counts.json");
        let counts = SessionCounts::publishing_to(Some(path.clone())).unwrap();
        let file = || std::fs::read_to_string(&path).unwrap();
        assert_eq!(file(), "{\"auths\":0,\"disconnects\":0}\n");
        record(&counts, SessionEvent::AuthGranted);
        record(&counts, SessionEvent::AuthRefused);
        record(&counts, SessionEvent::AuthGranted);
        record(&counts, SessionEvent::DisconnectAnswered);
        assert_eq!(file(), "{\"auths\":2,\"disconnects\":1}\n");
        assert_eq!(
            counts.snapshot(),
            Sessions {
                auths_granted: 2,
                auths_refused: 1,
                disconnects: 1
            }
        );
        assert!(!dir.join("counts.json.tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_a_file_the_counts_are_kept_and_nothing_is_written() {
        let counts = SessionCounts::publishing_to(None).unwrap();
        record(&counts, SessionEvent::AuthGranted);
        record(&counts, SessionEvent::DisconnectAnswered);
        assert_eq!(counts.snapshot().auths_granted, 1);
        assert_eq!(counts.snapshot().disconnects, 1);
        assert!(counts.file.is_none());
    }

    #[test]
    fn an_unwritable_file_fails_the_start() {
        let path = PathBuf::from("/nonexistent-dir/counts.json");
        match SessionCounts::publishing_to(Some(path.clone())) {
            Err(SimError::File { path: p, .. }) => assert_eq!(p, path),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("an unwritable path was accepted"),
        }
    }
}
