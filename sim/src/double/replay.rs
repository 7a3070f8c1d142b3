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

/// A request's key: its path and value, with passwords as `mb proxy` records them (redacted), so
/// a request that sets a password matches its recorded exchange whatever the password.
fn key(path: &str, value: &Value) -> String {
    let mut value = value.clone();
    crate::redact::passwords(path, &mut value, crate::redact::REDACTED);
    format!("{path}\n{}", phpjson::encode(&value))
}

#[derive(Default)]
pub struct Recording {
    recorded: HashMap<String, Vec<String>>,
    /// How many replies of each request were handed out.
    used: HashMap<String, usize>,
    pub exchanges: usize,
    /// The 1-based number of a torn last line that was dropped.
    pub torn_line: Option<usize>,
}

impl Recording {
    /// Reads a recording; a torn last write is dropped with a message on stderr.
    pub fn load(file: &Path) -> Result<Recording, String> {
        let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let r = Recording::parse(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        if let Some(line) = r.torn_line {
            eprintln!(
                "mikrobill-sim: {}: line {line} has no line break and is not whole JSON (a write \
                 torn when the recorder stopped); replaying the {} whole exchanges before it",
                file.display(),
                r.exchanges
            );
        }
        Ok(r)
    }

    /// Lines that are not a decrypted process exchange (auth, DISCONNECT, undecryptable frames)
    /// are skipped. A line that is not JSON is an error, except a last one without its line break:
    /// that is a write the recorder could not finish (killed, disk full), so it is dropped and
    /// named in `torn_line` rather than refusing every whole exchange before it.
    pub fn parse(bytes: &[u8]) -> Result<Recording, String> {
        let mut r = Recording::default();
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let last = lines.len() - 1;
        for (n, line) in lines.into_iter().enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // The text after the last line break, when there is any, is the unterminated line.
            let unterminated = n == last;
            let entry: Value = match serde_json::from_slice(line) {
                Ok(entry) => entry,
                Err(_) if unterminated => {
                    r.torn_line = Some(n + 1);
                    break;
                }
                Err(e) => return Err(format!("line {}: not JSON: {e}", n + 1)),
            };
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
        let mut r = Recording::parse(text.as_bytes()).unwrap();
        assert_eq!(r.torn_line, None);
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
        assert!(Recording::parse(b"nope\n").is_err());
    }

    #[test]
    fn a_password_set_matches_its_redacted_recording() {
        let text = r#"{"kind":"process","path":"A.Accounts.2","value":{"Password":"[redacted]","IP":"1"},"reply":"set"}"#;
        let mut r = Recording::parse(text.as_bytes()).unwrap();
        let sent: Value = serde_json::from_str(r#"{"Pass\u0077ord":"hunter2","IP":"1"}"#).unwrap();
        assert_eq!(r.answer("A.Accounts.2", &sent).as_deref(), Some("set"));
        let other: Value = serde_json::from_str(r#"{"Password":"x","IP":"2"}"#).unwrap();
        assert_eq!(r.answer("A.Accounts.2", &other), None);
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_the_rest_replayed() {
        let whole = "{\"kind\":\"process\",\"path\":\"P\",\"reply\":\"one\"}\n";
        // Cut inside a two-byte character, as a killed recorder can leave it.
        let mut bytes = format!("{whole}{{\"kind\":\"process\",\"path\":\"Я").into_bytes();
        bytes.pop();
        let r = Recording::parse(&bytes).unwrap();
        assert_eq!((r.exchanges, r.torn_line), (1, Some(2)));
        // A bad line with whole lines after it is damage, not a torn write.
        let damaged = format!("{whole}nope\n{whole}");
        let err = Recording::parse(damaged.as_bytes()).err().unwrap();
        assert!(err.starts_with("line 2: not JSON"), "{err}");
        // So is a bad line that ends with its line break.
        assert!(Recording::parse(format!("{whole}nope\n").as_bytes()).is_err());
        // A whole last line without its line break is still replayed.
        let r = Recording::parse(whole.trim_end().as_bytes()).unwrap();
        assert_eq!((r.exchanges, r.torn_line), (1, None));
    }
}
