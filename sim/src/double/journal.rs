//! The request journal the control API shows: the newest requests with who sent them and what
//! came back, plus counters. Bounded: the oldest entries go once it holds CAPACITY.

use serde::Serialize;
use serde_json::Value;
use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use super::pattern::PathPattern;
use super::session_counts::Sessions;

pub const CAPACITY: usize = 10_000;

/// Request values longer than this (as JSON text) are journalled as a note, not in full.
pub const MAX_VALUE_TEXT: usize = 4096;

/// Which part of the simulator answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Tree,
    Stub,
    Replay,
    Fault,
    /// The request itself could not be understood (code 208).
    Unparsed,
    /// Not evaluated: its frame, or what it would take once parsed, did not fit in what
    /// --max-buffered-bytes left free (code 209). Its path is not known.
    OverBudget,
    /// Not a request: a login the simulator refused (its cashier is the login tried).
    LoginRefused,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub connection: u64,
    pub cashier: String,
    pub path: String,
    pub value: Value,
    /// The reply's code; for a batch the first non-zero element code (0 when all are 0); null
    /// when no reply was sent.
    pub code: Option<i64>,
    /// The reply's text, cut after 256 bytes (with "..."); absent when no reply was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stub: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<u64>,
    pub elapsed_ms: u64,
}

/// `GET /api/counts`, fields in the order served. Auths and DISCONNECTs come from the one
/// session tally (super::session_counts), connections and requests from the journal's own `Traffic`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub connections: u64,
    pub auths_granted: u64,
    pub auths_refused: u64,
    pub requests: u64,
    pub disconnects: u64,
}

impl Counts {
    pub fn new(traffic: Traffic, sessions: Sessions) -> Counts {
        Counts {
            connections: traffic.connections,
            auths_granted: sessions.auths_granted,
            auths_refused: sessions.auths_refused,
            requests: traffic.requests,
            disconnects: sessions.disconnects,
        }
    }
}

/// What the journal counts itself, under the test double's lock.
#[derive(Debug, Clone, Copy, Default)]
pub struct Traffic {
    pub connections: u64,
    pub requests: u64,
}

#[derive(Default)]
pub struct RequestJournal {
    entries: VecDeque<Entry>,
    next_seq: u64,
    pub counts: Traffic,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The code a reply text carries, as the journal shows it.
pub fn reply_code(reply: &str) -> Option<i64> {
    let code_of = |v: &Value| v.get("code").and_then(Value::as_i64);
    match serde_json::from_str::<Value>(reply).ok()? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(code_of)
                .find(|&c| c != 0)
                .unwrap_or(0),
        ),
        v => code_of(&v),
    }
}

/// The value as journalled: account passwords masked (`crate::redact`), huge values summarised.
pub fn journal_value(path: &str, value: &Value) -> Value {
    // Measured before cloning: a huge batch value is summarised without a copy of it.
    let text_len = value.to_string().len();
    if text_len > MAX_VALUE_TEXT {
        return Value::from(format!("({text_len} bytes of JSON, not journalled)"));
    }
    let mut value = value.clone();
    crate::redact::passwords(path, &mut value, "***");
    value
}

impl RequestJournal {
    pub fn push(&mut self, mut entry: Entry) {
        entry.seq = self.next_seq;
        self.next_seq += 1;
        if entry.source != Source::LoginRefused {
            self.counts.requests += 1;
        }
        if self.entries.len() == CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// Entries after `since` (a seq), matching `path`, at most `limit`, oldest first.
    pub fn select(
        &self,
        path: Option<&PathPattern>,
        since: Option<u64>,
        limit: usize,
    ) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| since.is_none_or(|s| e.seq > s))
            .filter(|e| path.is_none_or(|p| p.matches(&e.path)))
            .take(limit)
            .cloned()
            .collect()
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_masks() {
        assert_eq!(reply_code(r#"{"return":"x","code":202}"#), Some(202));
        assert_eq!(
            reply_code(r#"[{"return":1,"code":0},{"return":"x","code":203}]"#),
            Some(203)
        );
        assert_eq!(reply_code("not json"), None);
        assert_eq!(
            journal_value(
                "API.Client.1.AutorizeInfo.Accounts.2.Password",
                &Value::from("pw")
            ),
            Value::from("***")
        );
        let args: Value = serde_json::from_str(r#"["1.2.3.4","","l","pw"]"#).unwrap();
        assert_eq!(
            journal_value("API.Client.1.AutorizeInfo.Accounts.AddAccount", &args)[3],
            "***"
        );
        // A batch that sets a password, spelled any way, is masked too.
        let batch: Value =
            serde_json::from_str(r#"{"AutorizeInfo":{"Accounts":{"2":{"Pass\u0077ord":"pw"}}}}"#)
                .unwrap();
        assert_eq!(
            journal_value("API.Client.1", &batch)["AutorizeInfo"]["Accounts"]["2"]["Password"],
            "***"
        );
        let huge = Value::from("x".repeat(MAX_VALUE_TEXT));
        assert_eq!(
            journal_value("P", &huge),
            Value::from(format!(
                "({} bytes of JSON, not journalled)",
                MAX_VALUE_TEXT + 2
            ))
        );
    }

    #[test]
    fn bounded_and_filtered() {
        let mut log = RequestJournal::default();
        for i in 0..CAPACITY + 5 {
            log.push(Entry {
                seq: 0,
                time_ms: 0,
                connection: 1,
                cashier: "api".into(),
                path: if i % 2 == 0 { "A.x".into() } else { "B".into() },
                value: Value::Null,
                code: Some(0),
                reply: None,
                source: Source::Tree,
                stub: None,
                fault: None,
                elapsed_ms: 0,
            });
        }
        assert_eq!(log.len(), CAPACITY);
        assert_eq!(log.counts.requests, (CAPACITY + 5) as u64);
        let p = PathPattern::new("A.*").unwrap();
        let a = log.select(Some(&p), None, usize::MAX);
        assert_eq!(a.len(), CAPACITY / 2);
        let last = log.select(None, Some((CAPACITY + 2) as u64), 10);
        assert_eq!(last.len(), 2);
    }
}
