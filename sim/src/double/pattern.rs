//! Path patterns for stubs and faults: dotted segments where `*` stands for exactly one segment.

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PathPattern(String);

/// Checked like `new`, so a config or API body cannot hold a pattern that never matches.
impl<'de> Deserialize<'de> for PathPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PathPattern, D::Error> {
        let text = String::deserialize(d)?;
        PathPattern::new(&text).map_err(serde::de::Error::custom)
    }
}

impl PathPattern {
    pub fn new(text: &str) -> Result<PathPattern, String> {
        if text.is_empty() {
            return Err("a path pattern cannot be empty".into());
        }
        if text.split('.').any(|s| s.contains('*') && s != "*") {
            return Err(format!(
                "{text}: `*` must be a whole segment (it stands for exactly one segment)"
            ));
        }
        Ok(PathPattern(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, path: &str) -> bool {
        let mut want = self.0.split('.');
        let mut got = path.split('.');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some("*"), Some(_)) => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_is_one_segment() {
        let p = PathPattern::new("API.Tariff.*.Name").unwrap();
        assert!(p.matches("API.Tariff.7.Name"));
        assert!(!p.matches("API.Tariff.7.8.Name"));
        assert!(!p.matches("API.Tariff.Name"));
        assert!(!p.matches("API.Tariff.7.Name.X"));
        assert!(PathPattern::new("API.GetClients")
            .unwrap()
            .matches("API.GetClients"));
        assert!(PathPattern::new("API.Tar*").is_err());
        assert!(PathPattern::new("").is_err());
    }
}
