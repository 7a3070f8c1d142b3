//! Executes one decrypted request against the shared store and renders the reply text.

use serde_json::Value;
use std::sync::{PoisonError, RwLock};

use super::batch;
use super::path::{self, Target};
use super::reply::{Reply, NOT_UNDERSTOOD};
use super::state::Journal;
use super::store::Store;
use super::tree::{self, Change};

pub struct Engine {
    store: RwLock<Store>,
    journal: Option<Journal>,
}

/// A parsed request: `{"path":PATH,"value":VALUE}`.
pub enum Request {
    Disconnect,
    Process { path: String, value: Value },
}

pub fn parse_request(plaintext: &[u8]) -> Result<Request, Reply> {
    let not_understood = || {
        Reply::error(
            NOT_UNDERSTOOD,
            "request not understood: expected {\"path\":...,\"value\":...}",
        )
    };
    // A value as deep as PHP's json_encode allows sits one level inside the request object.
    let parsed = std::str::from_utf8(plaintext)
        .ok()
        .and_then(|text| crate::phpjson::parse_nested(text, crate::phpjson::MAX_DEPTH + 1).ok());
    let Some(Value::Object(mut map)) = parsed else {
        return Err(not_understood());
    };
    let Some(Value::String(path)) = map.remove("path") else {
        return Err(not_understood());
    };
    if path == crate::message::DISCONNECT_PATH {
        return Ok(Request::Disconnect);
    }
    let value = map.remove("value").unwrap_or(Value::Null);
    Ok(Request::Process { path, value })
}

struct Leaf {
    path: String,
    value: Value,
    target: Result<Target, Reply>,
}

impl Engine {
    pub fn new(store: Store, journal: Option<Journal>) -> Engine {
        Engine {
            store: RwLock::new(store),
            journal,
        }
    }

    /// Runs one request and returns the reply JSON text. Storage failures are fatal: a change
    /// that cannot be made durable must never be acknowledged.
    pub fn process(&self, path: &str, value: &Value) -> String {
        let batch = batch::is_batch(path, value);
        let mut raw = Vec::new();
        if batch {
            batch::expand(path, value, &mut raw);
        } else {
            raw.push((path.to_string(), value.clone()));
        }
        let leaves: Vec<Leaf> = raw
            .into_iter()
            .map(|(path, value)| Leaf {
                target: path::parse(&path),
                path,
                value,
            })
            .collect();
        let writes = leaves
            .iter()
            .any(|l| l.target.as_ref().is_ok_and(|t| tree::is_write(t, &l.value)));
        let (replies, changed) = if writes {
            self.run_writes(&leaves)
        } else {
            let store = self.store.read().unwrap_or_else(PoisonError::into_inner);
            let replies = leaves
                .iter()
                .map(|l| match &l.target {
                    Ok(t) => tree::read(&store, t, &l.value),
                    Err(r) => r.clone(),
                })
                .collect();
            (replies, false)
        };
        if changed {
            if let Some(journal) = &self.journal {
                if let Err(e) = journal.sync() {
                    fatal_storage_error(&e);
                }
                if journal.wants_compaction() {
                    let store = self.store.write().unwrap_or_else(PoisonError::into_inner);
                    if let Err(e) = journal.compact(&store) {
                        fatal_storage_error(&e);
                    }
                }
            }
        }
        if batch {
            let items: Vec<String> = leaves
                .iter()
                .zip(&replies)
                .map(|(l, r)| r.to_json_with_path(&l.path))
                .collect();
            format!("[{}]", items.join(","))
        } else {
            replies[0].to_json()
        }
    }

    fn run_writes(&self, leaves: &[Leaf]) -> (Vec<Reply>, bool) {
        let mut store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        let mut changed = false;
        let replies = leaves
            .iter()
            .map(|l| match &l.target {
                Err(r) => r.clone(),
                Ok(t) if !tree::is_write(t, &l.value) => tree::read(&store, t, &l.value),
                Ok(t) => match tree::write(&mut store, t, &l.path, &l.value) {
                    Ok((reply, change)) => {
                        self.record(&change);
                        changed = true;
                        reply
                    }
                    Err(reply) => reply,
                },
            })
            .collect();
        (replies, changed)
    }

    fn record(&self, change: &Change) {
        if let Some(journal) = &self.journal {
            if let Err(e) = journal.append(change) {
                fatal_storage_error(&e);
            }
        }
    }

    /// Final compaction on clean shutdown; holds the lock so no change slips in after it.
    pub fn shutdown(&self) {
        let store = self.store.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(journal) = &self.journal {
            if let Err(e) = journal.compact(&store) {
                eprintln!("mikrobill-sim: final compaction failed (the journal is intact): {e}");
            }
        }
        // Keep the lock until the process exits.
        std::mem::forget(store);
    }
}

fn fatal_storage_error(e: &std::io::Error) -> ! {
    eprintln!("mikrobill-sim: cannot write the state file, stopping: {e}");
    std::process::exit(3);
}
