//! `--json`'s compact line and `--pretty`'s indented text, written without building the reply
//! into a tree: a tree of a reply of millions of clients takes several times the reply (each
//! number keeps its text), so the reply is checked, then copied token by token, with the
//! whitespace between tokens dropped (or replaced by serde_json's pretty layout: two spaces a
//! level, `"key": value`, `[]` and `{}` for empty ones) and each string that holds an escape
//! decoded and written again as JSON writes it (text shown as text). The output is what
//! serializing the parsed reply writes, token for token.

use serde::de::IgnoredAny;
use std::io::{self, Write};

/// How the copy is laid out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// One line, no whitespace: `serde_json::to_string`.
    Line,
    /// Indented: `serde_json::to_string_pretty`.
    Indented,
}

/// Writes `reply` in `layout` (without a final line break) when it is JSON this can copy (valid,
/// every escaped string decodable); false, having written nothing, when it is not, for the caller
/// to show it another way. Neither step recurses, so depth costs no stack.
pub fn write<W: Write>(reply: &str, layout: Layout, out: &mut W) -> io::Result<bool> {
    if serde_json::from_str::<IgnoredAny>(reply).is_err() || !each_string(reply, |_| Ok(()))? {
        return Ok(false);
    }
    let mut indent = Indent::new(layout);
    let bytes = reply.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\t' | b'\n' | b'\r' => at += 1,
            b'"' => {
                let end = string_end(bytes, at);
                let token = &reply[at..end];
                indent.before_value(out)?;
                if token.contains('\\') {
                    let text: String =
                        serde_json::from_str(token).map_err(|e| io::Error::other(e.to_string()))?;
                    serde_json::to_writer(&mut *out, &text)?;
                } else {
                    out.write_all(token.as_bytes())?;
                }
                at = end;
            }
            open @ (b'{' | b'[') => {
                indent.before_value(out)?;
                out.write_all(&[open])?;
                indent.open();
                at += 1;
            }
            close @ (b'}' | b']') => {
                indent.close(out)?;
                out.write_all(&[close])?;
                at += 1;
            }
            b',' => {
                out.write_all(b",")?;
                indent.next_line(out)?;
                at += 1;
            }
            b':' => {
                indent.colon(out)?;
                at += 1;
            }
            _ => {
                // A number or literal: bytes up to the next whitespace or structural character.
                let start = at;
                while at < bytes.len()
                    && !matches!(
                        bytes[at],
                        b' ' | b'\t'
                            | b'\n'
                            | b'\r'
                            | b'"'
                            | b'{'
                            | b'}'
                            | b'['
                            | b']'
                            | b','
                            | b':'
                    )
                {
                    at += 1;
                }
                indent.before_value(out)?;
                out.write_all(&bytes[start..at])?;
            }
        }
    }
    Ok(true)
}

/// Where the indented layout breaks lines. An opened container's line break waits for its first
/// element, so an empty one stays `[]` or `{}` as serde_json writes it.
struct Indent {
    indented: bool,
    depth: usize,
    opened: bool,
}

impl Indent {
    fn new(layout: Layout) -> Indent {
        Indent {
            indented: layout == Layout::Indented,
            depth: 0,
            opened: false,
        }
    }

    fn open(&mut self) {
        self.depth += 1;
        self.opened = true;
    }

    /// Before a value, a key or an opening bracket: the line break an opened container owes.
    fn before_value<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        if self.opened {
            self.opened = false;
            self.next_line(out)?;
        }
        Ok(())
    }

    fn close<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.opened {
            self.opened = false;
            Ok(())
        } else {
            self.next_line(out)
        }
    }

    /// Between a key and its value: `": "` indented, `":"` on one line.
    fn colon<W: Write>(&self, out: &mut W) -> io::Result<()> {
        out.write_all(if self.indented { b": " } else { b":" })
    }

    fn next_line<W: Write>(&self, out: &mut W) -> io::Result<()> {
        if self.indented {
            out.write_all(b"\n")?;
            for _ in 0..self.depth {
                out.write_all(b"  ")?;
            }
        }
        Ok(())
    }
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

    fn laid_out(reply: &str, layout: Layout) -> Option<String> {
        let mut out = Vec::new();
        write(reply, layout, &mut out)
            .unwrap()
            .then(|| String::from_utf8(out).unwrap())
    }

    fn compact(reply: &str) -> Option<String> {
        laid_out(reply, Layout::Line)
    }

    /// What serializing the parsed reply writes: the reference this module must match.
    fn through_a_tree(reply: &str, layout: Layout) -> String {
        let tree = serde_json::from_str::<Value>(reply).unwrap();
        match layout {
            Layout::Line => serde_json::to_string(&tree),
            Layout::Indented => serde_json::to_string_pretty(&tree),
        }
        .unwrap()
    }

    #[test]
    fn each_layout_is_what_a_parsed_reply_serializes_to() {
        for reply in [
            r#"{"return":"\u0418\u0432\u0430\u043d","money":12345678901234567890.10,"code":0}"#,
            "[ 1 ,\n 2.50 , {\"a\" : [ ] , \"b\":{ }} , null , true , false ]",
            r#"{"return":"a \"quoted\" \\ back\/slash \n line \t tab \u0001 \ud83d\ude00","code":0}"#,
            r#""plain text with spaces""#,
            r#"{"k":"Иван","n":-0.0e+10}"#,
            r#"{"return":[{"Id":1,"Tags":[],"Extra":{},"Nested":[[1,[2,{}]],{"a":{"b":[null]}}]}],"code":0}"#,
            "[]",
            " { } ",
            "[[],[[]],{\"a\":[]}]",
            "12.50",
            "null",
        ] {
            for layout in [Layout::Line, Layout::Indented] {
                assert_eq!(
                    laid_out(reply, layout).unwrap(),
                    through_a_tree(reply, layout),
                    "{layout:?}: {reply}"
                );
            }
        }
    }

    #[test]
    fn what_it_cannot_copy_is_left_to_the_caller() {
        for layout in [Layout::Line, Layout::Indented] {
            assert_eq!(laid_out("not json", layout), None);
            assert_eq!(laid_out(r#"{"a":"\ud800"}"#, layout), None);
        }
    }

    #[test]
    fn depth_costs_no_stack() {
        // Checked and copied without recursion: a million levels on the test thread's stack.
        let deep = format!("{} 1 {}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(compact(&deep).unwrap(), deep.replace(' ', ""));
        // Indented, each level costs its line's indent, so a thousand levels (deeper than any
        // parser of a tree would go) are enough to show the layout needs no recursion either.
        let deep = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
        let indented = laid_out(&deep, Layout::Indented).unwrap();
        assert_eq!(indented.lines().count(), 2001);
        assert_eq!(
            indented.lines().nth(1000),
            Some(format!("{}1", "  ".repeat(1000)).as_str())
        );
    }
}
