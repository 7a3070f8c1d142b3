//! Account passwords out of everything the simulator and `mb` write down: the request trace,
//! the request journal (control API and dashboard), `mb proxy`'s recording and `mb shell`'s
//! history. One rule for all of them, applied to the parsed value so that every spelling of a key
//! (`"Password"`, `"PASSWORD"`, `"Pass\u0077ord"`) is the same key: a request sets a password when
//! a leaf's full path ends in a `Password` segment (any case), or when it calls `AddAccount`,
//! whose fourth argument is the password; both are found at any depth of a batch.

use serde_json::Value;

/// What stands for a password in the trace and the recording.
pub const REDACTED: &str = "[redacted]";

/// Whether the request text may set a password, by its bytes alone: false means it certainly
/// does not, so most requests need no parsing. A JSON escape (`\u0077`) can spell either word, so
/// any `\u` counts as maybe.
pub fn may_set_password(text: &[u8]) -> bool {
    contains_ignoring_case(text, b"password")
        || contains_ignoring_case(text, b"addaccount")
        || contains_ignoring_case(text, b"\\u")
}

/// Compared in place: a request may be as large as the simulator accepts, and a lowercased
/// copy of it would cost its size again.
fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn last_segment(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// Replaces every password `value` sets at `path` with `marker`; true when something was
/// replaced. Recurses once per nesting level: run it where the request was parsed (the
/// simulator's connection threads have the stack for the deepest request it accepts).
pub fn passwords(path: &str, value: &mut Value, marker: &str) -> bool {
    let leaf = last_segment(path);
    match value {
        Value::Array(args) if leaf.eq_ignore_ascii_case("AddAccount") => match args.get_mut(3) {
            Some(password) => {
                *password = Value::String(marker.into());
                true
            }
            None => false,
        },
        Value::Array(items) => {
            let mut changed = false;
            // A string element is a read of `prefix.<string>`, which carries no secret.
            for item in items.iter_mut().filter(|item| !item.is_string()) {
                changed |= passwords(path, item, marker);
            }
            changed
        }
        Value::Object(map) => {
            let mut changed = false;
            for (key, item) in map.iter_mut() {
                changed |= passwords(&format!("{path}.{key}"), item, marker);
            }
            changed
        }
        // A null value is a read of the password, which carries none.
        Value::Null => false,
        _ if leaf.eq_ignore_ascii_case("password") => {
            *value = Value::String(marker.into());
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redacted(path: &str, value: &str) -> (bool, Value) {
        let mut value: Value = serde_json::from_str(value).unwrap();
        (passwords(path, &mut value, "***"), value)
    }

    #[test]
    fn every_way_of_setting_a_password_is_found() {
        let account = "API.Client.1.AutorizeInfo.Accounts.2";
        for (path, value) in [
            (format!("{account}.Password"), r#""hunter2""#),
            (format!("{account}.PASSWORD"), r#"12345"#),
            (
                "API.Client.1".into(),
                r#"{"AutorizeInfo":{"Accounts":{"2":{"Pass\u0077ord":"hunter2","IP":"1.2.3.4"}}}}"#,
            ),
            (
                "API.Client".into(),
                r#"{"1.AutorizeInfo.Accounts.2.password":"hunter2"}"#,
            ),
            (
                "API.Client.1.AutorizeInfo.Accounts".into(),
                r#"{"addaccount":["1.1.1.1","","u","hunter2"]}"#,
            ),
            (
                "API.Client.1.AutorizeInfo.Accounts.AddAccount".into(),
                r#"["1.1.1.1","","u","hunter2"]"#,
            ),
            (
                "API.Client".into(),
                r#"[{"1":{"AutorizeInfo":{"Accounts":{"2":{"Password":"x"}}}}}]"#,
            ),
        ] {
            let (changed, value) = redacted(&path, value);
            let text = value.to_string();
            assert!(changed && text.contains("***"), "{path}: {text}");
            assert!(
                !text.contains("hunter2") && !text.contains("12345"),
                "{text}"
            );
        }
    }

    #[test]
    fn reads_and_other_values_are_left_alone() {
        let account = "API.Client.1.AutorizeInfo.Accounts.2";
        assert_eq!(
            redacted(&format!("{account}.Password"), "null"),
            (false, Value::Null)
        );
        assert_eq!(
            redacted(account, r#"["Password","IP"]"#),
            (false, json!(["Password", "IP"]))
        );
        assert_eq!(
            redacted(&format!("{account}.IP"), r#""1.1.1.1""#),
            (false, json!("1.1.1.1"))
        );
    }

    #[test]
    fn the_byte_filter_lets_every_spelling_through() {
        assert!(may_set_password(br#"{"path":"X.PASSWORD","value":1}"#));
        assert!(may_set_password(
            br#"{"path":"X","value":{"Pass\u0077ord":1}}"#
        ));
        assert!(may_set_password(br#"{"path":"X.AddAccount","value":[]}"#));
        assert!(!may_set_password(br#"{"path":"X.Name","value":"y"}"#));
    }
}
