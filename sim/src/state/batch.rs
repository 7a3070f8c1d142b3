//! Batch commands (MikroBILL 2.0.9+): an array or object VALUE expands into leaf requests, each
//! a full path plus a value (null for a read), in document order.

use serde_json::Value;

/// When the path names a method that takes an argument list, a list VALUE is that list.
fn takes_argument_list(path: &str) -> bool {
    path.rsplit('.').next() == Some("AddAccount")
}

/// Whether a request is a batch rather than a single leaf.
pub fn is_batch(path: &str, value: &Value) -> bool {
    match value {
        Value::Object(_) => true,
        Value::Array(_) => !takes_argument_list(path),
        _ => false,
    }
}

/// Longest full path of a request or of one batch leaf, in bytes. Real class-tree paths are a
/// few dozen bytes; the limit keeps a request from making the reply repeat a huge path per leaf.
pub const MAX_PATH: usize = 4096;
/// Most leaves one batch may expand into.
pub const MAX_LEAVES: usize = 100_000;
/// Largest total of the full leaf paths of one batch, in bytes (each appears in the reply).
pub const MAX_PATH_BYTES: usize = 4 * 1024 * 1024;

/// Reply budget of one batch, in bytes of results and paths: leaves after it is passed are not
/// evaluated (code 209). Without it, a batch of many `API.GetClients` reads over a large
/// dataset could build a reply of gigabytes.
pub const MAX_REPLY_BYTES: usize = 32 * 1024 * 1024;

/// Why a request was refused before anything was evaluated (reply code 209).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TooLarge {
    Path,
    Leaves,
    PathBytes,
}

impl TooLarge {
    pub fn description(self) -> String {
        match self {
            TooLarge::Path => format!("request too large: a path is longer than {MAX_PATH} bytes"),
            TooLarge::Leaves => {
                format!("request too large: a batch may expand into at most {MAX_LEAVES} leaves")
            }
            TooLarge::PathBytes => format!(
                "request too large: the full paths of a batch may total at most {MAX_PATH_BYTES} bytes"
            ),
        }
    }
}

struct Out<'a> {
    leaves: &'a mut Vec<(String, Value)>,
    path_bytes: usize,
}

impl Out<'_> {
    /// Adds one leaf, checking the limits before the full path is built.
    fn push(&mut self, prefix: &str, key: &str, value: Value) -> Result<(), TooLarge> {
        let len = if prefix.is_empty() {
            key.len()
        } else {
            prefix.len() + 1 + key.len()
        };
        let path = join(prefix, key, len)?;
        if self.leaves.len() >= MAX_LEAVES {
            return Err(TooLarge::Leaves);
        }
        self.path_bytes += len;
        if self.path_bytes > MAX_PATH_BYTES {
            return Err(TooLarge::PathBytes);
        }
        self.leaves.push((path, value));
        Ok(())
    }
}

fn join(prefix: &str, key: &str, len: usize) -> Result<String, TooLarge> {
    if len > MAX_PATH {
        return Err(TooLarge::Path);
    }
    Ok(if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    })
}

fn is_index(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit())
}

/// Expands a batch VALUE under `prefix` into `(path, value)` leaves, or refuses it as soon as a
/// limit is passed (so a refused batch never costs more than the limits). Recursion depth is
/// the value's nesting, which the request parser bounds (phpjson::MAX_DEPTH).
pub fn expand(
    prefix: &str,
    value: &Value,
    leaves: &mut Vec<(String, Value)>,
) -> Result<(), TooLarge> {
    if prefix.len() > MAX_PATH {
        return Err(TooLarge::Path);
    }
    let mut out = Out {
        leaves,
        path_bytes: 0,
    };
    expand_into(prefix, value, &mut out)
}

fn expand_into(prefix: &str, value: &Value, out: &mut Out) -> Result<(), TooLarge> {
    match value {
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => out.push(prefix, s, Value::Null)?,
                    Value::Array(_) | Value::Object(_) => expand_into(prefix, item, out)?,
                    // A number or bool in a list can only be a path segment written unquoted.
                    other => out.push(prefix, &other.to_string(), Value::Null)?,
                }
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                match item {
                    Value::String(s) if is_index(key) => out.push(prefix, s, Value::Null)?,
                    _ => {
                        let len = prefix.len() + 1 + key.len();
                        let path = join(prefix, key, len)?;
                        if is_batch(&path, item) {
                            expand_into(&path, item, out)?;
                        } else {
                            out.push(prefix, key, item.clone())?;
                        }
                    }
                }
            }
        }
        scalar => out.push("", prefix, scalar.clone())?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(prefix: &str, json: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        expand(prefix, &serde_json::from_str(json).unwrap(), &mut out).unwrap();
        out.into_iter().map(|(p, v)| (p, v.to_string())).collect()
    }

    #[test]
    fn manual_examples_expand_in_document_order() {
        assert_eq!(
            leaves(
                "API.Client.1.AutorizeInfo.Accounts",
                r#"{"2":["IP","MAC"]}"#
            ),
            vec![
                (
                    "API.Client.1.AutorizeInfo.Accounts.2.IP".into(),
                    "null".into()
                ),
                (
                    "API.Client.1.AutorizeInfo.Accounts.2.MAC".into(),
                    "null".into()
                ),
            ]
        );
        assert_eq!(
            leaves(
                "API.Client",
                r#"{"0":"1.BillingInfo.Money","2.AutorizeInfo.Accounts.3":{"MAC":"m"}}"#
            ),
            vec![
                ("API.Client.1.BillingInfo.Money".into(), "null".into()),
                (
                    "API.Client.2.AutorizeInfo.Accounts.3.MAC".into(),
                    "\"m\"".into()
                ),
            ]
        );
    }

    #[test]
    fn add_account_list_inside_a_batch_is_an_argument_list() {
        assert_eq!(
            leaves(
                "API.Client.1",
                r#"{"AutorizeInfo":{"Accounts":{"AddAccount":["a","b","c","d"]}}}"#
            ),
            vec![(
                "API.Client.1.AutorizeInfo.Accounts.AddAccount".into(),
                r#"["a","b","c","d"]"#.into()
            )]
        );
        assert!(!is_batch(
            "API.Client.1.AutorizeInfo.Accounts.AddAccount",
            &serde_json::json!([])
        ));
    }

    #[test]
    fn limits_are_checked_while_expanding() {
        let mut out = Vec::new();
        let long = "x".repeat(MAX_PATH);
        assert_eq!(
            expand(&long, &serde_json::json!([""]), &mut out),
            Err(TooLarge::Path)
        );
        assert_eq!(
            expand("API", &serde_json::json!({ long.as_str(): null }), &mut out),
            Err(TooLarge::Path)
        );
        let prefix = "p".repeat(MAX_PATH - 1);
        let many = serde_json::Value::Array(vec![serde_json::json!(""); 2000]);
        out.clear();
        assert_eq!(expand(&prefix, &many, &mut out), Err(TooLarge::PathBytes));
        assert!(out.len() * MAX_PATH <= MAX_PATH_BYTES + MAX_PATH);
        let items = serde_json::Value::Array(vec![serde_json::json!("a"); MAX_LEAVES + 1]);
        out.clear();
        assert_eq!(expand("A", &items, &mut out), Err(TooLarge::Leaves));
    }
}
