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

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn is_index(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit())
}

/// Expands a batch VALUE under `prefix` into `(path, value)` leaves.
pub fn expand(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => out.push((join(prefix, s), Value::Null)),
                    Value::Array(_) | Value::Object(_) => expand(prefix, item, out),
                    // A number or bool in a list can only be a path segment written unquoted.
                    other => out.push((join(prefix, &other.to_string()), Value::Null)),
                }
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                match item {
                    Value::String(s) if is_index(key) => out.push((join(prefix, s), Value::Null)),
                    _ => {
                        let path = join(prefix, key);
                        if is_batch(&path, item) {
                            expand(&path, item, out);
                        } else {
                            out.push((path, item.clone()));
                        }
                    }
                }
            }
        }
        scalar => out.push((prefix.to_string(), scalar.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(prefix: &str, json: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        expand(prefix, &serde_json::from_str(json).unwrap(), &mut out);
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
}
