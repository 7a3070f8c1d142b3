//! `--replay FILE`: answers requests with the replies recorded by `mb proxy --record FILE`.
//! A request matches a recorded one by path and value (compared as JSON, so key order inside an
//! object matters but whitespace does not). When the same request was recorded several times the
//! replies come back in recorded order, and the last one repeats once they run out.

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

use crate::reply::{shorten, Reply};
use mikrobill::protocol::phpjson;

/// Reply code for a request the recording does not hold, with `--replay-unmatched error`.
pub const NOT_RECORDED: i64 = 211;

/// What answers a request the recording lacks (--replay-unmatched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unmatched {
    /// Fall back to the simulated tree (and stubs).
    #[default]
    Tree,
    /// Reply code 211.
    Error,
}

impl Unmatched {
    /// The flag's value; clap names the flag and the value before the message.
    pub fn parse(text: &str) -> Result<Unmatched, String> {
        match text {
            "tree" => Ok(Unmatched::Tree),
            "error" => Ok(Unmatched::Error),
            _ => Err("takes tree or error".to_string()),
        }
    }

    pub fn reply(self, path: &str) -> Option<String> {
        match self {
            Unmatched::Tree => None,
            Unmatched::Error => Some(
                Reply::error(
                    NOT_RECORDED,
                    &format!("no recorded reply for {}", shorten(path)),
                )
                .to_json(),
            ),
        }
    }
}

fn key(path: &str, value: &Value) -> String {
    format!("{path}\n{}", phpjson::encode(value))
}

#[derive(Default)]
pub struct Recording {
    recorded: HashMap<String, Vec<String>>,
    /// How many replies of each request were handed out.
    used: HashMap<String, usize>,
    pub exchanges: usize,
}

impl Recording {
    pub fn load(file: &Path) -> Result<Recording, String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        Recording::parse(&text).map_err(|e| format!("{}: {e}", file.display()))
    }

    /// Lines that are not a decrypted process exchange (auth, DISCONNECT, undecryptable frames)
    /// are skipped; a line that is not JSON at all is an error.
    pub fn parse(text: &str) -> Result<Recording, String> {
        let mut r = Recording::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry: Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: not JSON: {e}", n + 1))?;
            if entry.get("kind").and_then(Value::as_str) != Some("process") {
                continue;
            }
            let (Some(path), Some(reply)) = (
                entry.get("path").and_then(Value::as_str),
                entry.get("reply").and_then(Value::as_str),
            ) else {
                continue;
            };
            let value = entry.get("value").cloned().unwrap_or(Value::Null);
            r.recorded
                .entry(key(path, &value))
                .or_default()
                .push(reply.to_string());
            r.exchanges += 1;
        }
        Ok(r)
    }

    pub fn answer(&mut self, path: &str, value: &Value) -> Option<String> {
        let key = key(path, value);
        let replies = self.recorded.get(&key)?;
        let used = self.used.entry(key).or_insert(0);
        let reply = replies[(*used).min(replies.len() - 1)].clone();
        *used += 1;
        Some(reply)
    }

    /// Back to the first recorded reply of every request.
    pub fn rewind(&mut self) {
        self.used.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_in_order_then_the_last_repeats() {
        let text = r#"{"kind":"auth","login":"api","reply":"{\"return\":\"OK\",\"code\":0}"}
{"kind":"process","path":"P","value":null,"reply":"one"}
{"kind":"process","path":"P","reply":"two"}
{"kind":"process","path":"P","value":{"a":1},"reply":"obj"}
{"kind":"process","path":"Q","request_error":"not decryptable"}
"#;
        let mut r = Recording::parse(text).unwrap();
        assert_eq!(r.exchanges, 3);
        let null = Value::Null;
        assert_eq!(r.answer("P", &null).as_deref(), Some("one"));
        assert_eq!(r.answer("P", &null).as_deref(), Some("two"));
        assert_eq!(r.answer("P", &null).as_deref(), Some("two"));
        let obj: Value = serde_json::from_str(r#"{ "a" : 1 }"#).unwrap();
        assert_eq!(r.answer("P", &obj).as_deref(), Some("obj"));
        assert_eq!(r.answer("Q", &null), None);
        r.rewind();
        assert_eq!(r.answer("P", &null).as_deref(), Some("one"));
        assert!(Recording::parse("nope").is_err());
    }
}
