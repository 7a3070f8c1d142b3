//! JSON written byte for byte as PHP's `json_encode` writes it with default flags: no whitespace,
//! `/` escaped, every non-ASCII character as lowercase `\uXXXX` (surrogate pairs above U+FFFF).
//! Numbers keep the text they were parsed from (serde_json's `arbitrary_precision`), so a 64-bit
//! GUID never passes through a double; with [`Numbers::PhpDoubles`] the non-integer ones are
//! rewritten as PHP writes doubles (`phpfloat`).

use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write;

use super::phpfloat::{self, NotFinite};

/// How number tokens are written. Integer tokens are copied byte for byte either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Numbers {
    /// Every number keeps the text it was parsed from.
    #[default]
    AsWritten,
    /// A token with a fraction or exponent is written as PHP's `json_encode` writes the double
    /// it denotes (`1.0` → `1`, `1e25` → `1.0e+25`), so a binding can hand over any round-trip
    /// text of its doubles (Python's `repr`, .NET's "R").
    PhpDoubles,
}

pub fn encode(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

pub(crate) fn write_value(out: &mut String, value: &Value) {
    write_with(out, value, Numbers::AsWritten).expect("numbers as written cannot fail");
}

/// `encode` with a choice of number layout; fails only for a double token beyond a double's
/// range under [`Numbers::PhpDoubles`].
pub(crate) fn encode_with(value: &Value, numbers: Numbers) -> Result<String, NotFinite> {
    let mut out = String::new();
    write_with(&mut out, value, numbers)?;
    Ok(out)
}

fn write_with(out: &mut String, value: &Value, numbers: Numbers) -> Result<(), NotFinite> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            // With `arbitrary_precision` the Display of a number is its source text.
            let text = n.to_string();
            if numbers == Numbers::PhpDoubles && phpfloat::is_double_token(&text) {
                phpfloat::write_token(out, &text)?;
            } else {
                out.push_str(&text);
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_with(out, item, numbers)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, key);
                out.push(':');
                write_with(out, item, numbers)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7f => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// PHP's `json_encode` refuses nesting deeper than 512, so no original client ever sent more.
pub const MAX_DEPTH: usize = 512;

/// Values nested deeper than this are parsed and written on a helper thread with a stack of its
/// own: the caller's thread (a php-fpm worker, a .NET pool thread, musl's 128 KiB default) may be
/// too small for hundreds of levels of recursion, and a stack overflow cannot be caught.
const INLINE_DEPTH: usize = 32;
const DEEP_STACK_BYTES: usize = 16 << 20;

#[derive(Debug)]
pub enum ParseError {
    TooDeep,
    Json(serde_json::Error),
    /// The helper thread for a deep value could not be started.
    NoThread(std::io::Error),
    /// Under [`Numbers::PhpDoubles`], a number beyond a double's range (`1e400`).
    NotFinite(NotFinite),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::TooDeep => {
                write!(f, "nested too deep (PHP json_encode allows {MAX_DEPTH})")
            }
            ParseError::Json(e) => write!(f, "{e}"),
            ParseError::NoThread(e) => write!(f, "cannot start a thread for a deep value: {e}"),
            ParseError::NotFinite(e) => write!(f, "{e}"),
        }
    }
}

/// Parses caller-supplied JSON keeping object key order and number text. serde_json's own limit
/// (128 levels) is below PHP's, so depth is bounded here instead, before any recursion starts.
pub fn parse(text: &str) -> Result<Value, ParseError> {
    parse_nested(text, MAX_DEPTH)
}

/// `parse` with another depth bound: a request envelope wraps a value one level deeper.
pub(crate) fn parse_nested(text: &str, max_depth: usize) -> Result<Value, ParseError> {
    if nesting_depth(text.as_bytes()) > max_depth {
        return Err(ParseError::TooDeep);
    }
    parse_bounded(text)
}

/// Caller-supplied JSON text re-encoded as PHP's `json_encode` writes it, with a choice of number
/// layout, without ever recursing deeply on the caller's stack.
pub fn reencode_with(text: &str, numbers: Numbers) -> Result<String, ParseError> {
    let depth = nesting_depth(text.as_bytes());
    if depth > MAX_DEPTH {
        return Err(ParseError::TooDeep);
    }
    let work = || {
        let value = parse_bounded(text)?;
        encode_with(&value, numbers).map_err(ParseError::NotFinite)
    };
    if depth <= INLINE_DEPTH {
        return work();
    }
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("mikrobill-json".into())
            .stack_size(DEEP_STACK_BYTES)
            .spawn_scoped(scope, work)
            .map_err(ParseError::NoThread)?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Parses text whose depth is already known to be bounded.
fn parse_bounded(text: &str) -> Result<Value, ParseError> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = Value::deserialize(&mut de).map_err(ParseError::Json)?;
    de.end().map_err(ParseError::Json)?;
    Ok(value)
}

/// The bytes of JSON text outside its strings, in order (a string, quotes included, is skipped
/// whole): what its structure is made of. Malformed text is scanned the same way; the parser
/// refuses it later.
pub fn outside_strings(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let (mut in_string, mut escaped) = (false, false);
    bytes.iter().copied().filter(move |&b| {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            false
        } else if b == b'"' {
            in_string = true;
            false
        } else {
            true
        }
    })
}

/// The deepest bracket nesting outside strings; malformed text is left for the parser to refuse.
fn nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for b in outside_strings(bytes) {
        match b {
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reencode(text: &str) -> Result<String, ParseError> {
        reencode_with(text, Numbers::AsWritten)
    }

    fn php(text: &str) -> String {
        encode(&parse(text).unwrap())
    }

    #[test]
    fn cyrillic_and_slash_follow_the_protocol_vector() {
        assert_eq!(php(r#""Иван/Ivan""#), r#""\u0418\u0432\u0430\u043d\/Ivan""#);
    }

    #[test]
    fn astral_characters_become_surrogate_pairs() {
        assert_eq!(php(r#""😀""#), r#""\ud83d\ude00""#);
    }

    #[test]
    fn control_characters_use_short_forms_then_lowercase_hex() {
        assert_eq!(
            php(r#""\b\f\n\r\t\u0001\u001f\u007f\"\\""#),
            "\"\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}\\\"\\\\\""
        );
    }

    #[test]
    fn no_whitespace_and_key_order_is_kept() {
        assert_eq!(
            php(r#"{ "z" : [1, 2, {"b":null,"a":true}], "a": false }"#),
            r#"{"z":[1,2,{"b":null,"a":true}],"a":false}"#
        );
    }

    #[test]
    fn number_text_survives_exactly() {
        assert_eq!(
            php("[9527563927532953, 18446744073709551615123, 1.0, -0.5e-7, 100.01]"),
            "[9527563927532953,18446744073709551615123,1.0,-0.5e-7,100.01]"
        );
    }

    #[test]
    fn nesting_is_accepted_up_to_php_limit_and_refused_beyond() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(php(&nested(MAX_DEPTH)), nested(MAX_DEPTH));
        assert!(matches!(
            parse(&nested(MAX_DEPTH + 1)),
            Err(ParseError::TooDeep)
        ));
        // A hostile depth is refused by the scan, before recursion could exhaust the stack.
        assert!(matches!(
            parse(&nested(1_000_000)),
            Err(ParseError::TooDeep)
        ));
        // Brackets inside strings do not count.
        let quoted = format!(r#"["{}\"{}"]"#, "[".repeat(600), "{".repeat(600));
        assert!(parse(&quoted).is_ok());
    }

    #[test]
    fn deep_values_are_reencoded_on_a_small_caller_stack() {
        let deep = format!(
            "{}1{}",
            r#"{"k":["#.repeat(MAX_DEPTH / 2),
            "]}".repeat(MAX_DEPTH / 2)
        );
        let text = deep.clone();
        // 64 KiB is far too little for 512 levels of recursion, as on a small host thread.
        let encoded = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || reencode(&text).unwrap())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(encoded, deep);
        assert_eq!(reencode(r#"{"a/b":"Ж"}"#).unwrap(), r#"{"a\/b":"\u0416"}"#);
        assert!(matches!(reencode("[1,"), Err(ParseError::Json(_))));
        assert!(matches!(
            reencode(&"[".repeat(MAX_DEPTH + 1)),
            Err(ParseError::TooDeep)
        ));
    }

    #[test]
    fn trailing_text_is_refused() {
        assert!(parse("[1] [2]").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn php_doubles_rewrite_only_non_integer_tokens() {
        let php = |text| reencode_with(text, Numbers::PhpDoubles).unwrap();
        assert_eq!(
            php("[9527563927532953, 18446744073709551615123, -0, 1.0, -0.0, 1e25, 1E-7, 100.010]"),
            "[9527563927532953,18446744073709551615123,-0,1,-0,1.0e+25,1.0e-7,100.01]"
        );
        assert_eq!(
            php(r#"{"a":[0.1,{"b":12345678901234567890.0}]}"#),
            r#"{"a":[0.1,{"b":1.2345678901234567e+19}]}"#
        );
        assert!(matches!(
            reencode_with("[1, 1e400]", Numbers::PhpDoubles),
            Err(ParseError::NotFinite(_))
        ));
        // As written, the same text passes unchanged.
        assert_eq!(reencode("[1.0,1e+400]").unwrap(), "[1.0,1e+400]");
    }

    #[test]
    fn empty_containers() {
        assert_eq!(php(r#"{"a":[],"b":{}}"#), r#"{"a":[],"b":{}}"#);
    }
}
