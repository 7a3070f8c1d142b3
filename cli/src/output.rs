//! How replies and failures are shown: the reply on standard output (raw, pretty or one JSON line),
//! and what went wrong on standard error in plain words with its code.

use mikrobill::Error;
use serde_json::Value;
use std::io::{self, Write};

use crate::args::OutputArgs;
use crate::layout::Layout;

/// The exit codes documented in `mb --help` and docs/src/mb.md.
pub mod exit {
    pub const OK: i32 = 0;
    pub const SERVER_CODE: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const NO_REPLY: i32 = 3;
    /// `mb shell` reading a pipe or a file, ended by SIGINT (128 + 2, as shells report it).
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    /// The reply text exactly as the server sent it.
    Raw,
    /// Indented, text shown as text, numbers with their exact digits.
    Pretty,
    /// One compact line, text shown as text, for scripts reading line by line.
    JsonLine,
}

impl Style {
    /// How `layout::write` lays the reply out; None for raw output, which is not laid out.
    pub fn layout(self) -> Option<Layout> {
        match self {
            Style::Raw => None,
            Style::Pretty => Some(Layout::Indented),
            Style::JsonLine => Some(Layout::Line),
        }
    }

    pub fn from_args(args: &OutputArgs) -> Style {
        if args.pretty {
            Style::Pretty
        } else if args.json {
            Style::JsonLine
        } else {
            Style::Raw
        }
    }
}

/// The reply as `style` shows it. serde_json keeps number text (`arbitrary_precision`), so a
/// 64-bit GUID or a money amount never passes through a double. A reply that is not JSON is shown
/// as it came, except that a JSON line must stay one line.
/// Raw output borrows the reply: a reply of millions of clients is never held twice.
pub fn format_reply(reply: &str, style: Style) -> std::borrow::Cow<'_, str> {
    let Some(layout) = style.layout() else {
        return reply.into();
    };
    let mut text = Vec::new();
    match write_laid_out(reply, layout, &mut text) {
        // What is written is UTF-8, as the reply is.
        Ok(()) => String::from_utf8(text).unwrap_or_default().into(),
        // A Vec takes every write: the error is the copy's own.
        Err(_) => from_a_tree(reply, layout),
    }
}

/// Writes `reply` in `layout` (without a final line break): copied token by token by
/// `layout::write`, or from a tree where it cannot be.
pub fn write_laid_out(reply: &str, layout: Layout, out: &mut impl Write) -> io::Result<()> {
    if crate::layout::write(reply, layout, out)? {
        return Ok(());
    }
    out.write_all(from_a_tree(reply, layout).as_bytes())
}

/// The reply in `layout` when `layout::write` cannot copy it: parsed (a string with a lone
/// surrogate escape), or when it is not JSON at all, the text as it came (indented) or as one
/// JSON string (a line must stay one line).
fn from_a_tree(reply: &str, layout: Layout) -> std::borrow::Cow<'_, str> {
    let tree = parse(reply);
    match layout {
        Layout::Indented => tree
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .map_or_else(|| reply.into(), Into::into),
        Layout::Line => tree
            .and_then(|v| serde_json::to_string(&v).ok())
            .unwrap_or_else(|| serde_json::to_string(reply).expect("a string serializes"))
            .into(),
    }
}

/// Parses a reply with the library's depth bound (PHP's 512), so a hostile reply cannot exhaust
/// the stack.
fn parse(reply: &str) -> Option<Value> {
    mikrobill::protocol::phpjson::parse(reply).ok()
}

/// True when the reply's code, or every batch element's, is 0. Only the codes are read, the rest
/// is skipped unparsed, so a large reply is not built into a tree (several times its size) just
/// to learn that it succeeded. `None` when that cannot be told this way (not JSON, or nested past
/// serde_json's 128 levels).
fn all_codes_zero(reply: &str) -> Option<bool> {
    #[derive(serde::Deserialize)]
    struct Coded {
        code: Option<i64>,
    }
    if reply.trim_start().starts_with('[') {
        let items: Vec<Coded> = serde_json::from_str(reply).ok()?;
        Some(items.iter().all(|i| i.code == Some(0)))
    } else {
        let one: Coded = serde_json::from_str(reply).ok()?;
        Some(one.code == Some(0))
    }
}

/// What failed in a reply, when its code (or a batch element's) is not 0.
pub fn reply_problem(reply: &str) -> Option<String> {
    if all_codes_zero(reply) == Some(true) {
        return None;
    }
    let Some(value) = parse(reply) else {
        return Some("the reply is not JSON".into());
    };
    match &value {
        Value::Array(items) => {
            let failed: Vec<&Value> = items.iter().filter(|i| code_of(i) != Some(0)).collect();
            let first = failed.first()?;
            Some(format!(
                "{} of {} batch elements failed; the first: {}",
                failed.len(),
                items.len(),
                element_problem(first)
            ))
        }
        v if code_of(v) == Some(0) => None,
        v => Some(element_problem(v)),
    }
}

fn code_of(v: &Value) -> Option<i64> {
    v.get("code").and_then(Value::as_i64)
}

fn element_problem(v: &Value) -> String {
    let text = match v.get("return") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "(no return text)".into(),
    };
    let path = match v.get("path").and_then(Value::as_str) {
        Some(p) => format!(" at {p}"),
        None => String::new(),
    };
    match code_of(v) {
        Some(code) => format!("the server answered code {code}{path}: {text}"),
        None => format!("the reply has no code{path}: {text}"),
    }
}

/// A library failure in plain words, with its code and what the library adds.
pub fn describe(error: &Error) -> String {
    let code = error.code();
    let what = match error {
        Error::Connect { detail, .. } => format!("cannot connect to the server: {detail}"),
        Error::HostNotResolved(what) => format!("the host name does not resolve: {what}"),
        Error::NullResponse(detail) => {
            format!("no answer to the login, probably wrong encryption keys ({detail})")
        }
        Error::AuthRejected(reply) => {
            let text = parse(reply)
                .and_then(|v| v.get("return").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| reply.clone());
            format!("the server refused the login: {text}")
        }
        Error::Timeout(what) => format!("no answer in time: timed out {what}"),
        Error::ConnectionLost(what) => format!("the connection was lost {what}"),
        Error::FrameTooLarge(what) => format!("the reply is too large: {what}"),
        Error::MalformedReply(what) => format!("the reply is malformed: {what}"),
        Error::InvalidArgument(what) => format!("invalid request: {what}"),
        Error::InvalidKey(what) => format!("the encryption key is unusable: {what}"),
        // The library's own text already names the code (and its detail).
        other => return other.to_string(),
    };
    format!("{what} (code {code})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_decodes_text_and_keeps_number_digits() {
        let reply =
            r#"{"return":"\u0418\u0432\u0430\u043d","money":12345678901234567890.10,"code":0}"#;
        assert_eq!(
            format_reply(reply, Style::Pretty),
            "{\n  \"return\": \"Иван\",\n  \"money\": 12345678901234567890.10,\n  \"code\": 0\n}"
        );
        assert_eq!(
            format_reply(reply, Style::JsonLine),
            r#"{"return":"Иван","money":12345678901234567890.10,"code":0}"#
        );
        assert_eq!(format_reply(reply, Style::Raw), reply);
        assert_eq!(format_reply("not\njson", Style::JsonLine), r#""not\njson""#);
    }

    #[test]
    fn problems_name_the_code_and_the_first_failing_element() {
        assert_eq!(reply_problem(r#"{"return":"x","code":0}"#), None);
        assert_eq!(
            reply_problem(r#"{"return":"unknown client: 1","code":202}"#).unwrap(),
            "the server answered code 202: unknown client: 1"
        );
        let batch = r#"[{"return":1,"code":0,"path":"a"},{"return":"no","code":201,"path":"b"}]"#;
        assert_eq!(
            reply_problem(batch).unwrap(),
            "1 of 2 batch elements failed; the first: the server answered code 201 at b: no"
        );
    }
}
