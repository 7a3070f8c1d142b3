//! Local failures and the JSON error text they become. Codes 5 and 6 and the OS errno on a failed
//! connect keep the original PHP client's numbers; every new condition has its own number from
//! 9001, above the largest errno any Unix reserves (Linux caps errno at 4095), so they can never
//! collide. No failure is ever reported with code 0.

use std::fmt;

use crate::phpjson;

pub const CONFIG_NOT_FOUND: i64 = 5;
pub const NULL_RESPONSE: i64 = 6;
pub const TIMEOUT: i64 = 9001;
pub const CONNECTION_LOST: i64 = 9002;
pub const FRAME_TOO_LARGE: i64 = 9003;
pub const MALFORMED_REPLY: i64 = 9004;
pub const INVALID_ARGUMENT: i64 = 9005;
pub const INVALID_KEY: i64 = 9006;
pub const CLOSED_HANDLE: i64 = 9007;
pub const INTERNAL: i64 = 9008;
pub const HOST_NOT_RESOLVED: i64 = 9009;
/// Used by the PHP shim when `workparams` has no `CRYPTO_KEY_2` row.
pub const KEY2_ROW_MISSING: i64 = 9010;

pub const CONNECT_FAILED_TEXT: &str = "Can`t connect!";
pub const NULL_RESPONSE_TEXT: &str = "Null response! Probably incorrect encryption keys!";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// TCP connect failed; carries the OS errno (never 0) and what was tried.
    Connect {
        errno: i64,
        detail: String,
    },
    /// No usable auth reply: nothing came, the stream ended, or it did not decrypt to JSON.
    NullResponse(String),
    /// The server answered the auth message with a non-zero code; its reply passes through.
    AuthRejected(String),
    Timeout(String),
    ConnectionLost(String),
    FrameTooLarge(String),
    MalformedReply(String),
    InvalidArgument(String),
    InvalidKey(String),
    ClosedHandle,
    Internal(String),
    HostNotResolved(String),
}

impl Error {
    pub fn code(&self) -> i64 {
        match self {
            Error::Connect { errno, .. } => *errno,
            Error::NullResponse(_) => NULL_RESPONSE,
            Error::AuthRejected(reply) => reply_code(reply).unwrap_or(INTERNAL),
            Error::Timeout(_) => TIMEOUT,
            Error::ConnectionLost(_) => CONNECTION_LOST,
            Error::FrameTooLarge(_) => FRAME_TOO_LARGE,
            Error::MalformedReply(_) => MALFORMED_REPLY,
            Error::InvalidArgument(_) => INVALID_ARGUMENT,
            Error::InvalidKey(_) => INVALID_KEY,
            Error::ClosedHandle => CLOSED_HANDLE,
            Error::Internal(_) => INTERNAL,
            Error::HostNotResolved(_) => HOST_NOT_RESOLVED,
        }
    }

    /// The short text under `return` and `result`; the original's texts are kept verbatim.
    fn text(&self) -> String {
        match self {
            Error::Connect { .. } => CONNECT_FAILED_TEXT.to_string(),
            Error::NullResponse(_) => NULL_RESPONSE_TEXT.to_string(),
            Error::AuthRejected(reply) => reply.clone(),
            Error::Timeout(what) => format!("Timed out {what}"),
            Error::ConnectionLost(what) => format!("Connection lost {what}"),
            Error::FrameTooLarge(what) => format!("Frame too large: {what}"),
            Error::MalformedReply(what) => format!("Malformed reply: {what}"),
            Error::InvalidArgument(what) => format!("Invalid argument: {what}"),
            Error::InvalidKey(what) => format!("Invalid key: {what}"),
            Error::ClosedHandle => "Unknown or closed handle".to_string(),
            Error::Internal(what) => format!("Internal error: {what}"),
            Error::HostNotResolved(what) => format!("Host name not resolved: {what}"),
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Error::Connect { detail, .. } | Error::NullResponse(detail) => Some(detail),
            _ => None,
        }
    }

    /// `{"return":TEXT,"result":TEXT,"code":N}` (+ `"detail"`): `return` is the key the server
    /// uses, `result` the key the original PHP client used, so callers written for either work.
    /// A server's auth rejection is returned exactly as the server sent it.
    pub fn to_json(&self) -> String {
        if let Error::AuthRejected(reply) = self {
            return reply.clone();
        }
        let text = self.text();
        let mut out = String::from(r#"{"return":"#);
        phpjson::write_str(&mut out, &text);
        out.push_str(r#","result":"#);
        phpjson::write_str(&mut out, &text);
        out.push_str(&format!(r#","code":{}"#, self.code()));
        if let Some(detail) = self.detail() {
            out.push_str(r#","detail":"#);
            phpjson::write_str(&mut out, detail);
        }
        out.push('}');
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.text(), self.code())?;
        if let Some(detail) = self.detail() {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The `code` of a reply text, when it is a JSON object with an integer code.
pub fn reply_code(reply: &str) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_str(reply).ok()?;
    value.get("code")?.as_i64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_failure_keeps_the_original_text_and_errno() {
        let e = Error::Connect {
            errno: 111,
            detail: "127.0.0.1:1: Connection refused".into(),
        };
        assert_eq!(
            e.to_json(),
            r#"{"return":"Can`t connect!","result":"Can`t connect!","code":111,"detail":"127.0.0.1:1: Connection refused"}"#
        );
    }

    #[test]
    fn null_response_is_code_6() {
        let e = Error::NullResponse("the server closed the connection".into());
        assert_eq!(e.code(), 6);
        assert!(e.to_json().starts_with(
            r#"{"return":"Null response! Probably incorrect encryption keys!","result":"Null response! Probably incorrect encryption keys!","code":6"#
        ));
    }

    #[test]
    fn auth_rejection_passes_through_unchanged() {
        let reply = r#"{"return":"Wrong password","code":101}"#;
        let e = Error::AuthRejected(reply.into());
        assert_eq!(e.to_json(), reply);
        assert_eq!(e.code(), 101);
    }

    #[test]
    fn new_codes_are_distinct_and_above_errno_range() {
        let all = [
            Error::Timeout("x".into()),
            Error::ConnectionLost("x".into()),
            Error::FrameTooLarge("x".into()),
            Error::MalformedReply("x".into()),
            Error::InvalidArgument("x".into()),
            Error::InvalidKey("x".into()),
            Error::ClosedHandle,
            Error::Internal("x".into()),
            Error::HostNotResolved("x".into()),
        ];
        let mut codes: Vec<i64> = all.iter().map(Error::code).collect();
        assert!(codes.iter().all(|&c| c > 4095));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        for e in &all {
            let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
            assert_eq!(v["return"], v["result"]);
            assert_eq!(v["code"].as_i64(), Some(e.code()));
        }
    }

    #[test]
    fn error_text_is_escaped_like_php() {
        let e = Error::InvalidArgument("path \"a/b\"".into());
        assert_eq!(
            e.to_json(),
            r#"{"return":"Invalid argument: path \"a\/b\"","result":"Invalid argument: path \"a\/b\"","code":9005}"#
        );
    }
}
