//! A core that answers a little differently from the simulator's defaults, so that every binding
//! can be tested against replies the protocol only infers: batch paths echoed normalised
//! (`--batch-paths normalised`) and replies written in CP1251 (`--reply-encoding cp1251`).

use clap::ValueEnum;
use encoding_rs::WINDOWS_1251;
use std::borrow::Cow;

/// How a batch reply's `path`s are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum BatchPaths {
    /// Each path exactly as the request spelled it.
    #[default]
    Exact,
    /// Each path normalised as a real core might echo it (see `normalise`).
    Normalised,
}

impl BatchPaths {
    /// The `path` a batch reply element shows for the leaf `path`.
    pub fn echo(self, path: &str) -> Cow<'_, str> {
        match self {
            BatchPaths::Exact => path.into(),
            BatchPaths::Normalised => normalise(path).into(),
        }
    }
}

/// `path` as a core that normalises might echo it, segment by segment (segments are split at
/// dots; empty ones stay empty):
/// - `Client` becomes `Clients` and `Clients` becomes `Client`;
/// - a number (a GUID or an index) loses its leading zeros (`007` -> `7`), or gains one when it
///   has none (`1` -> `01`);
/// - the last segment, when it is neither of those, has the case of each letter swapped
///   (`Money` -> `mONEY`, `IP` -> `ip`).
///
/// Every path with a `Client` segment, a number or a letter in its last segment comes back
/// different from the request's text, so no reply path is textually under the request's path.
pub fn normalise(path: &str) -> String {
    let count = path.split('.').count();
    let segments: Vec<String> = path
        .split('.')
        .enumerate()
        .map(|(i, segment)| {
            if segment == "Client" {
                "Clients".to_string()
            } else if segment == "Clients" {
                "Client".to_string()
            } else if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                let trimmed = segment.trim_start_matches('0');
                if trimmed.len() < segment.len() {
                    if trimmed.is_empty() { "0" } else { trimmed }.to_string()
                } else {
                    format!("0{segment}")
                }
            } else if i + 1 == count {
                segment.chars().map(swap_case).collect()
            } else {
                segment.to_string()
            }
        })
        .collect();
    segments.join(".")
}

fn swap_case(c: char) -> char {
    if c.is_ascii_lowercase() {
        c.to_ascii_uppercase()
    } else if c.is_ascii_uppercase() {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

/// The text encoding every reply is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ReplyEncoding {
    /// UTF-8 (the simulator writes every non-ASCII character as a `\uXXXX` escape, as PHP's
    /// `json_encode` does, so its replies are ASCII).
    #[default]
    #[value(name = "utf-8")]
    Utf8,
    /// Windows-1251: every escaped character that CP1251 has (Cyrillic, `№`, `«»`...) is written
    /// as its raw CP1251 byte instead of its escape, so a reply holding a Cyrillic name is not
    /// UTF-8; characters CP1251 lacks stay `\uXXXX` escapes.
    Cp1251,
}

impl ReplyEncoding {
    /// The bytes of the reply `text` (JSON, as the simulator writes it) in this encoding.
    pub fn encode(self, text: &str) -> Cow<'_, [u8]> {
        match self {
            ReplyEncoding::Utf8 => text.as_bytes().into(),
            ReplyEncoding::Cp1251 => cp1251(text).into(),
        }
    }
}

/// `text` with each `\uXXXX` escape (and each raw character) that CP1251 can hold written as
/// that character, encoded in CP1251. A character CP1251 lacks is written as an escape, which
/// only a JSON string can hold; the simulator writes no raw non-ASCII outside strings.
fn cp1251(text: &str) -> Vec<u8> {
    let mut unescaped = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(|c: char| c == '\\' || !c.is_ascii()) {
        unescaped.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix('\\') {
            match escaped_char(after) {
                Some((c, used)) if in_cp1251(c) => {
                    unescaped.push(c);
                    rest = &after[used..];
                }
                _ => {
                    // An escape kept as it is: a backslash and the character it escapes (so an
                    // escaped backslash is never read as the start of another escape).
                    let len = 1 + after.chars().next().map_or(0, char::len_utf8);
                    unescaped.push_str(&rest[..len]);
                    rest = &rest[len..];
                }
            }
        } else {
            let c = rest.chars().next().expect("found a character");
            if in_cp1251(c) {
                unescaped.push(c);
            } else {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    unescaped.push_str(&format!("\\u{unit:04x}"));
                }
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    unescaped.push_str(rest);
    let (bytes, _, unmappable) = WINDOWS_1251.encode(&unescaped);
    debug_assert!(!unmappable, "only characters CP1251 has were unescaped");
    bytes.into_owned()
}

/// The character of the escape `uXXXX` (or a surrogate pair `uD8XX\uDCXX`) at the start of
/// `after` (the text after a backslash), and how many bytes of `after` it takes.
fn escaped_char(after: &str) -> Option<(char, usize)> {
    let unit = |s: &str| -> Option<u32> {
        let hex = s.strip_prefix('u')?.get(..4)?;
        if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            u32::from_str_radix(hex, 16).ok()
        } else {
            None
        }
    };
    let first = unit(after)?;
    if (0xD800..0xDC00).contains(&first) {
        let low = unit(after.get(5..)?.strip_prefix('\\')?)?;
        if !(0xDC00..0xE000).contains(&low) {
            return None;
        }
        let c = char::from_u32(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00))?;
        return Some((c, 11));
    }
    Some((char::from_u32(first)?, 5))
}

/// Whether CP1251 has `c` (ASCII control characters stay escaped: JSON needs them so).
fn in_cp1251(c: char) -> bool {
    if (c as u32) < 0x80 {
        return false;
    }
    let mut buf = [0u8; 4];
    let (_, _, unmappable) = WINDOWS_1251.encode(c.encode_utf8(&mut buf));
    !unmappable
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_paths_differ_from_the_request_text() {
        assert_eq!(
            normalise("API.Client.633824158637492.BillingInfo.Money"),
            "API.Clients.0633824158637492.BillingInfo.mONEY"
        );
        assert_eq!(normalise("API.Clients.007.IP"), "API.Client.7.ip");
        assert_eq!(normalise("API.Client.000"), "API.Clients.0");
        assert_eq!(normalise("a..b"), "a..B");
        assert_eq!(normalise(""), "");
    }

    #[test]
    fn cp1251_writes_cyrillic_as_raw_bytes_and_keeps_other_escapes() {
        // "Иванов" escaped, an escaped backslash before a u, a character CP1251 lacks (€ is
        // 0x88 in CP1251, 😀 is not there) and a control character.
        let text = r#"{"return":"\u0418\u0432\u0430\u043d\u043e\u0432 \\u0418 \u20ac \ud83d\ude00 \u0001","code":0}"#;
        let bytes = ReplyEncoding::Cp1251.encode(text);
        let expected: Vec<u8> = [
            &br#"{"return":""#[..],
            &[0xC8, 0xE2, 0xE0, 0xED, 0xEE, 0xE2],
            br#" \\u0418 "#,
            &[0x88],
            br#" \ud83d\ude00 \u0001","code":0}"#,
        ]
        .concat();
        assert_eq!(bytes.as_ref(), expected.as_slice());
        assert!(std::str::from_utf8(&bytes).is_err());
        assert_eq!(ReplyEncoding::Utf8.encode(text).as_ref(), text.as_bytes());
    }
}
