//! Which core paths a token may use: dotted path patterns, and the leaves of a batch request.
//!
//! A pattern is a dotted path whose segments are literal or `*` (exactly one non-empty
//! segment); a last segment `**` stands for one or more segments; the pattern `*` alone allows
//! every path. Matching is byte-exact, so a path the pattern does not spell (another case, an
//! empty segment) is refused rather than guessed at.
//!
//! A batch value (an array or object, protocol.md "Batch commands") makes the core act on
//! `path.<key>...` leaves rather than on the request's path, so each leaf's full path is checked.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    One,
    /// Only last: one or more segments.
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// `None`: the pattern `*`, every path.
    segments: Option<Vec<Segment>>,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        if text == "*" {
            return Ok(Pattern { segments: None });
        }
        let parts: Vec<&str> = text.split('.').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match *part {
                "" => return Err(format!("path pattern {text:?} has an empty segment")),
                "*" => Segment::One,
                "**" if i + 1 == parts.len() => Segment::Rest,
                "**" => {
                    return Err(format!(
                        "path pattern {text:?}: `**` may only end a pattern"
                    ))
                }
                literal if literal.contains('*') => {
                    return Err(format!(
                        "path pattern {text:?}: `*` must be a whole segment"
                    ))
                }
                literal => Segment::Literal(literal.to_string()),
            };
            segments.push(segment);
        }
        Ok(Pattern {
            segments: Some(segments),
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        let Some(segments) = &self.segments else {
            return true;
        };
        let mut parts = path.split('.');
        for segment in segments {
            match segment {
                Segment::Rest => {
                    let rest: Vec<&str> = parts.collect();
                    return !rest.is_empty() && rest.iter().all(|p| !p.is_empty());
                }
                Segment::One => match parts.next() {
                    Some(p) if !p.is_empty() => {}
                    _ => return false,
                },
                Segment::Literal(literal) => match parts.next() {
                    Some(p) if p == literal => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }
}

/// A token's allowed paths.
#[derive(Debug, Clone)]
pub struct Scope {
    patterns: Vec<Pattern>,
}

impl Scope {
    pub fn parse(texts: &[String]) -> Result<Scope, String> {
        let patterns = texts
            .iter()
            .map(|t| Pattern::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scope { patterns })
    }

    pub fn allows(&self, path: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(path))
    }

    /// `Ok` when every path the core would act on for this request is in scope; otherwise the
    /// first path that is not (the request's path, or a batch leaf's).
    pub fn check(&self, path: &str, value: Option<&Value>) -> Result<(), String> {
        for leaf in leaves(path, value)? {
            if !self.allows(&leaf) {
                return Err(leaf);
            }
        }
        Ok(())
    }
}

/// The full paths a request acts on. A scalar or absent value acts on `path` itself; an array or
/// object is a batch, expanded as protocol.md describes; a list under a method path
/// (`...AddAccount`) is that method's argument list. A batch shape the protocol does not describe
/// (a number or `null` in a list, a list in a list) is refused by naming the request's path, so
/// that nothing the gateway did not check can reach the core.
pub fn leaves(path: &str, value: Option<&Value>) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    match value {
        Some(v @ (Value::Array(_) | Value::Object(_))) => expand(path, v, &mut out)?,
        _ => out.push(path.to_string()),
    }
    Ok(out)
}

fn is_method(path: &str) -> bool {
    path.rsplit('.').next() == Some("AddAccount")
}

fn expand(prefix: &str, value: &Value, out: &mut Vec<String>) -> Result<(), String> {
    match value {
        Value::Array(_) if is_method(prefix) => out.push(prefix.to_string()),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => out.push(format!("{prefix}.{s}")),
                    _ => return Err(prefix.to_string()),
                }
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let numeric = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
                match item {
                    Value::String(s) if numeric => out.push(format!("{prefix}.{s}")),
                    Value::Array(_) | Value::Object(_) => {
                        expand(&format!("{prefix}.{key}"), item, out)?
                    }
                    _ => out.push(format!("{prefix}.{key}")),
                }
            }
        }
        _ => out.push(prefix.to_string()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(patterns: &[&str]) -> Scope {
        Scope::parse(&patterns.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn star_is_one_segment_and_the_lone_star_is_everything() {
        let s = scope(&["API.GetClients", "API.Client.*.BillingInfo.Money"]);
        assert!(s.allows("API.GetClients"));
        assert!(s.allows("API.Client.633824158637492.BillingInfo.Money"));
        assert!(!s.allows("API.Client.1.2.BillingInfo.Money"));
        assert!(!s.allows("API.Client..BillingInfo.Money"));
        assert!(!s.allows("API.Client.1.BillingInfo.Tariff"));
        assert!(!s.allows("API.GetClients.x"));
        assert!(!s.allows("api.getclients"));
        assert!(scope(&["*"]).allows("anything.at.all"));
    }

    #[test]
    fn double_star_ends_a_pattern_with_one_or_more_segments() {
        let s = scope(&["API.Client.**"]);
        assert!(s.allows("API.Client.1"));
        assert!(s.allows("API.Client.1.BillingInfo.Money"));
        assert!(!s.allows("API.Client"));
        assert!(!s.allows("API.Client.1."));
        assert!(!s.allows("API.Clients.1"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["", "API..X", "API.Cli*", "API.**.Money"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn batch_leaves_follow_the_protocol() {
        let v: Value = serde_json::from_str(
            r#"{"0":"633.BillingInfo.Money","9527.AutorizeInfo.Accounts.8353":{"MAC":"aa","IP":null}}"#,
        )
        .unwrap();
        assert_eq!(
            leaves("API.Client", Some(&v)).unwrap(),
            [
                "API.Client.633.BillingInfo.Money",
                "API.Client.9527.AutorizeInfo.Accounts.8353.MAC",
                "API.Client.9527.AutorizeInfo.Accounts.8353.IP",
            ]
        );
        let v: Value = serde_json::from_str(r#"{"2823":["IP","MAC"]}"#).unwrap();
        assert_eq!(
            leaves("API.Client.6.AutorizeInfo.Accounts", Some(&v)).unwrap(),
            [
                "API.Client.6.AutorizeInfo.Accounts.2823.IP",
                "API.Client.6.AutorizeInfo.Accounts.2823.MAC",
            ]
        );
        let args: Value = serde_json::from_str(r#"["1.2.3.4","","u","p"]"#).unwrap();
        let add = "API.Client.6.AutorizeInfo.Accounts.AddAccount";
        assert_eq!(leaves(add, Some(&args)).unwrap(), [add]);
        let odd: Value = serde_json::from_str(r#"[1]"#).unwrap();
        assert_eq!(leaves("API.Client", Some(&odd)).unwrap_err(), "API.Client");
    }

    #[test]
    fn a_batch_cannot_reach_outside_the_scope() {
        let s = scope(&["API.Client.*.BillingInfo.Money"]);
        let sneaky: Value =
            serde_json::from_str(r#"{"BillingInfo":{"Money":"1","Tariff":"Free"}}"#).unwrap();
        assert_eq!(
            s.check("API.Client.5", Some(&sneaky)).unwrap_err(),
            "API.Client.5.BillingInfo.Tariff"
        );
        let fine: Value = serde_json::from_str(r#"{"BillingInfo":{"Money":"1"}}"#).unwrap();
        assert!(s.check("API.Client.5", Some(&fine)).is_ok());
        assert!(s.check("API.Client.5.BillingInfo.Money", None).is_ok());
    }
}
