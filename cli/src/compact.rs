//! `--json`'s one compact line, written without building the reply into a tree: a tree of a
//! reply of millions of clients takes several times the reply (each number keeps its text), so
//! the reply is checked, then copied with the whitespace between tokens dropped and each string
//! that holds an escape decoded and written again as JSON writes it (text shown as text). The
//! output is what serializing the parsed reply writes, token for token.

use serde::de::IgnoredAny;
use std::io::{self, Write};

/// Writes `reply` as one compact JSON line (without its line break) when it is JSON this can copy
/// (valid, every escaped string decodable); false, having written nothing, when it is not, for
/// the caller to show it another way. Neither step recurses, so depth costs no stack.
pub fn write<W: Write>(reply: &str, out: &mut W) -> io::Result<bool> {
    if serde_json::from_str::<IgnoredAny>(reply).is_err() || !each_string(reply, |_| Ok(()))? {
        return Ok(false);
    }
    let bytes = reply.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\n' | b'\r' => at += 1,
            b'"' => {
                let end = string_end(bytes, at);
                let token = &reply[at..end];
                if token.contains('\\') {
                    let text: String =
                        serde_json::from_str(token).map_err(|e| io::Error::other(e.to_string()))?;
                    serde_json::to_writer(&mut *out, &text)?;
                } else {
                    out.write_all(token.as_bytes())?;
                }
                at = end;
            }
            _ => {
                // A run of bytes outside strings up to the next string or whitespace.
                let start = at;
                while at < bytes.len() && !matches!(bytes[at], b' ' | b'\t' | b'\n' | b'\r' | b'"')
                {
                    at += 1;
                }
                out.write_all(&bytes[start..at])?;
            }
        }
    }
    Ok(true)
}

/// The index just past the string token that starts at `start` (a `"`), in valid JSON.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Calls `check` on each string token with an escape after decoding it; false when one does not
/// decode (a lone surrogate, which the check that skips strings lets through).
fn each_string(reply: &str, mut check: impl FnMut(&str) -> io::Result<()>) -> io::Result<bool> {
    let bytes = reply.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'"' {
            let end = string_end(bytes, at);
            let token = &reply[at..end];
            if token.contains('\\') {
                match serde_json::from_str::<String>(token) {
                    Ok(text) => check(&text)?,
                    Err(_) => return Ok(false),
                }
            }
            at = end;
        } else {
            at += 1;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn compact(reply: &str) -> Option<String> {
        let mut out = Vec::new();
        write(reply, &mut out)
            .unwrap()
            .then(|| String::from_utf8(out).unwrap())
    }

    /// What serializing the parsed reply writes: the reference this module must match.
    fn through_a_tree(reply: &str) -> String {
        serde_json::to_string(&serde_json::from_str::<Value>(reply).unwrap()).unwrap()
    }

    #[test]
    fn the_line_is_what_a_parsed_reply_serializes_to() {
        for reply in [
            r#"{"return":"\u0418\u0432\u0430\u043d","money":12345678901234567890.10,"code":0}"#,
            "[ 1 ,\n 2.50 , {\"a\" : [ ] , \"b\":{ }} , null , true , false ]",
            r#"{"return":"a \"quoted\" \\ back\/slash \n line \t tab \u0001 \ud83d\ude00","code":0}"#,
            r#""plain text with spaces""#,
            r#"{"k":"Иван","n":-0.0e+10}"#,
        ] {
            assert_eq!(compact(reply).unwrap(), through_a_tree(reply), "{reply}");
        }
    }

    #[test]
    fn what_it_cannot_copy_is_left_to_the_caller() {
        assert_eq!(compact("not json"), None);
        assert_eq!(compact(r#"{"a":"\ud800"}"#), None);
    }

    #[test]
    fn depth_costs_no_stack() {
        // Checked and copied without recursion: a million levels on the test thread's stack.
        let deep = format!("{} 1 {}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(compact(&deep).unwrap(), deep.replace(' ', ""));
    }
}
