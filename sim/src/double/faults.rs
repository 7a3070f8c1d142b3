//! Faults and delays, for one path pattern or for all traffic. The newest matching fault applies.

use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::pattern::PathPattern;
use crate::reply::json_str;

/// What happens instead of (or besides) the normal reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Reply normally, after `delay_ms`.
    Delay,
    /// Read the request, send nothing, keep the connection open.
    NoReply,
    /// Read the request, then close the connection.
    Close,
    /// Send the first half of the reply frame, then close the connection.
    Truncate,
    /// Reply `{"return":TEXT,"code":CODE}` instead of the normal reply.
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Absent: every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathPattern>,
    pub action: Action,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// Longest delay a fault may ask for: long enough for any timeout test, short enough that a typo
/// cannot wedge a connection thread for days.
pub const MAX_DELAY_MS: u64 = 600_000;

impl FaultSpec {
    pub fn check(&self) -> Result<(), String> {
        if self.delay_ms > MAX_DELAY_MS {
            return Err(format!("delay_ms is at most {MAX_DELAY_MS}"));
        }
        if self.action != Action::Error {
            return match self.code.is_some() || self.text.is_some() {
                true => Err("code and text belong to error faults only".into()),
                false => Ok(()),
            };
        }
        match self.code {
            None => Err("an error fault needs a code".into()),
            Some(0) => Err("an error fault's code cannot be 0 (0 means success)".into()),
            Some(_) => Ok(()),
        }
    }

    pub fn applies_to(&self, path: &str) -> bool {
        self.path.as_ref().is_none_or(|p| p.matches(path))
    }

    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms)
    }

    pub fn error_reply(&self) -> String {
        format!(
            r#"{{"return":{},"code":{}}}"#,
            json_str(
                self.text
                    .as_deref()
                    .unwrap_or("fault injected by the simulator")
            ),
            self.code.unwrap_or(0)
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Result<FaultSpec, String> {
        let s: FaultSpec = serde_json::from_str(json).map_err(|e| e.to_string())?;
        s.check().map(|()| s)
    }

    #[test]
    fn checks() {
        assert!(spec(r#"{"action":"error","code":301,"text":"busy"}"#).is_ok());
        assert!(spec(r#"{"action":"error"}"#).is_err());
        assert!(spec(r#"{"action":"error","code":0}"#).is_err());
        assert!(spec(r#"{"action":"close","code":5}"#).is_err());
        assert!(spec(r#"{"action":"delay","delay_ms":600001}"#).is_err());
        assert!(spec(r#"{"action":"explode"}"#).is_err());
        let f = spec(r#"{"path":"API.*","action":"no_reply"}"#).unwrap();
        assert!(f.applies_to("API.GetClients") && !f.applies_to("API.Client.1"));
        assert_eq!(
            spec(r#"{"action":"error","code":301,"text":"a/b"}"#)
                .unwrap()
                .error_reply(),
            r#"{"return":"a\/b","code":301}"#
        );
    }
}
