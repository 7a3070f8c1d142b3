//! Is this text one JSON value? Checked without building it and without recursion: a reply may
//! be tens of megabytes or nested thousands of levels deep, and neither may cost memory beyond a
//! bit per open bracket, nor a stack overflow (serde_json either recurses or stops at 128). The
//! text need not be UTF-8: the core's output encoding has never been seen, and a reply in
//! CP1251 is passed through as the original client passes it.

/// `Err` says what is wrong and at which byte.
pub fn check(text: &[u8]) -> Result<(), String> {
    Checker { text, at: 0 }.document()
}

/// The open brackets, one bit each: set for an array, clear for an object.
#[derive(Default)]
struct Open {
    bits: Vec<u64>,
    depth: usize,
}

impl Open {
    fn push(&mut self, array: bool) {
        let (word, bit) = (self.depth / 64, self.depth % 64);
        if word == self.bits.len() {
            self.bits.push(0);
        }
        if array {
            self.bits[word] |= 1 << bit;
        } else {
            self.bits[word] &= !(1 << bit);
        }
        self.depth += 1;
    }

    fn pop(&mut self) {
        self.depth -= 1;
    }

    /// The closing bracket the innermost open container needs, if any is open.
    fn last(&self) -> Option<u8> {
        let top = self.depth.checked_sub(1)?;
        let array = self.bits[top / 64] >> (top % 64) & 1 == 1;
        Some(if array { b']' } else { b'}' })
    }

    fn is_empty(&self) -> bool {
        self.depth == 0
    }
}

struct Checker<'a> {
    text: &'a [u8],
    at: usize,
}

/// What the parser expects next.
#[derive(Clone, Copy)]
enum Want {
    Value,
    /// After `[`: a value or `]`.
    FirstItem,
    /// After `{`: a key or `}`.
    FirstKey,
    Key,
    /// After a value inside a container: `,` or the closing bracket.
    Next,
}

impl Checker<'_> {
    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.at))
    }

    fn skip_space(&mut self) {
        while matches!(self.text.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn document(mut self) -> Result<(), String> {
        let mut open = Open::default();
        let mut want = Want::Value;
        loop {
            self.skip_space();
            let Some(&c) = self.text.get(self.at) else {
                return self.fail("unexpected end of text");
            };
            want = match want {
                Want::FirstItem if c == b']' => {
                    self.at += 1;
                    open.pop();
                    Want::Next
                }
                Want::Value | Want::FirstItem => match c {
                    b'[' => {
                        self.at += 1;
                        open.push(true);
                        Want::FirstItem
                    }
                    b'{' => {
                        self.at += 1;
                        open.push(false);
                        Want::FirstKey
                    }
                    b'"' => {
                        self.string()?;
                        Want::Next
                    }
                    b't' => self.word(b"true")?,
                    b'f' => self.word(b"false")?,
                    b'n' => self.word(b"null")?,
                    b'-' | b'0'..=b'9' => {
                        self.number()?;
                        Want::Next
                    }
                    _ => return self.fail("expected a value"),
                },
                Want::FirstKey if c == b'}' => {
                    self.at += 1;
                    open.pop();
                    Want::Next
                }
                Want::FirstKey | Want::Key => {
                    if c != b'"' {
                        return self.fail("expected a string key");
                    }
                    self.string()?;
                    self.skip_space();
                    if self.text.get(self.at) != Some(&b':') {
                        return self.fail("expected `:`");
                    }
                    self.at += 1;
                    Want::Value
                }
                Want::Next => {
                    let Some(close) = open.last() else {
                        return if self.at == self.text.len() {
                            Ok(())
                        } else {
                            self.fail("text after the value")
                        };
                    };
                    self.at += 1;
                    match c {
                        b',' if close == b']' => Want::Value,
                        b',' => Want::Key,
                        c if c == close => {
                            open.pop();
                            Want::Next
                        }
                        _ => {
                            self.at -= 1;
                            return self.fail("expected `,` or a closing bracket");
                        }
                    }
                }
            };
            if matches!(want, Want::Next) && open.is_empty() {
                self.skip_space();
                return if self.at == self.text.len() {
                    Ok(())
                } else {
                    self.fail("text after the value")
                };
            }
        }
    }

    fn word(&mut self, word: &[u8]) -> Result<Want, String> {
        if self.text[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(Want::Next)
        } else {
            self.fail("expected a value")
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.text.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<(), String> {
        if self.text[self.at] == b'-' {
            self.at += 1;
        }
        match self.text.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.fail("expected a digit"),
        }
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return self.fail("expected a digit");
            }
        }
        if matches!(self.text.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.text.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return self.fail("expected a digit");
            }
        }
        Ok(())
    }

    /// A string from its opening quote. Any byte from 0x20 up passes, so a reply in another
    /// encoding than UTF-8 (a core writing CP1251) is still judged by its structure alone.
    fn string(&mut self) -> Result<(), String> {
        self.at += 1;
        loop {
            match self.text.get(self.at) {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.text.get(self.at) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1
                        }
                        Some(b'u') => {
                            let hex = self.text.get(self.at + 1..self.at + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return self.fail("bad \\u escape");
                            }
                            self.at += 5;
                        }
                        _ => return self.fail("bad escape"),
                    }
                }
                Some(&c) if c < 0x20 => return self.fail("control character in a string"),
                Some(_) => self.at += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn a_string_in_a_legacy_encoding_is_still_json() {
        // {"return":"Иван","code":0} with the name in CP1251.
        let cp1251 = b"{\"return\":\"\xc8\xe2\xe0\xed\",\"code\":0}";
        assert_eq!(check(cp1251), Ok(()));
        assert!(
            check(b"{\"return\":\"\xc8\x01\"}").is_err(),
            "control bytes still fail"
        );
    }

    #[test]
    fn accepts_what_serde_json_accepts() {
        for ok in [
            r#"{"return":"OK","code":0}"#,
            "[]",
            "{}",
            " [1, -0.5e+3, true, false, null, \"a\\u00e9\\n\"] ",
            r#"[{"return":[],"code":0,"path":"a.b"},{"x":{"y":[{}]}}]"#,
            "0",
            "\"\"",
        ] {
            assert!(serde_json::from_str::<serde_json::Value>(ok).is_ok());
            assert_eq!(check(ok.as_bytes()), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for bad in [
            "",
            "Fatal error",
            "{",
            "[1,]",
            "{\"a\"}",
            "{\"a\":1,}",
            "[1] x",
            "01",
            "1.",
            "\"a",
            "\"\\x\"",
            "{1:2}",
            "[}",
            "nul",
            "\"\u{1}\"",
        ] {
            assert!(serde_json::from_str::<serde_json::Value>(bad).is_err());
            assert!(check(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deep_nesting_costs_no_stack() {
        let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(check(deep.as_bytes()), Ok(()));
        let unclosed = "[{\"a\":".repeat(100_000);
        assert!(check(unclosed.as_bytes()).is_err());
    }
}
