//! JSON written byte for byte as PHP's `json_encode` writes it with default flags: no whitespace,
//! `/` escaped, every non-ASCII character as lowercase `\uXXXX` (surrogate pairs above U+FFFF).
//! Numbers keep the text they were parsed from (serde_json's `arbitrary_precision`), so a 64-bit
//! GUID never passes through a double.

use serde_json::Value;
use std::fmt::Write;

pub fn encode(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
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
                write_value(out, item);
            }
            out.push('}');
        }
    }
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

/// Parses caller-supplied JSON keeping object key order and number text.
pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn empty_containers() {
        assert_eq!(php(r#"{"a":[],"b":{}}"#), r#"{"a":[],"b":{}}"#);
    }
}
