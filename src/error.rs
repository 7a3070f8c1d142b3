//! Local failures and the JSON error text they become. Code 6 and the OS errno on a failed
//! connect keep the original PHP client's numbers; every new condition has its own number from
//! 9001 (`crate::abi`'s table), above the largest errno any Unix reserves (Linux caps errno at
//! 4095), so they can never collide. No failure is ever reported with code 0.

use std::fmt;

use crate::protocol::phpjson;

pub use crate::abi::code;

use code::*;

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
    Cancelled(String),
    OutOfStep(String),
    /// `what` says why it is not JSON; `text` is the reply as received.
    ReplyNotJson {
        what: String,
        text: String,
    },
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
            Error::Cancelled(_) => CANCELLED,
            Error::OutOfStep(_) => OUT_OF_STEP,
            Error::ReplyNotJson { .. } => REPLY_NOT_JSON,
        }
    }

    /// The short text under `return` and `result`; the original's texts are kept verbatim.
    fn text(&self) -> String {
        match self {
            Error::Connect { .. } => CONNECT_FAILED_TEXT.to_string(),
            Error::NullResponse(_) => NULL_RESPONSE_TEXT.to_string(),
            Error::AuthRejected(reply) => match phpjson::parse(reply) {
                Ok(serde_json::Value::Object(map)) => match map.get("return") {
                    Some(serde_json::Value::String(text)) => {
                        format!("The server refused the login: {text}")
                    }
                    _ => format!("The server refused the login: {reply}"),
                },
                _ => format!("The server refused the login: {reply}"),
            },
            Error::Timeout(what) => format!("Timed out {what}"),
            Error::ConnectionLost(what) => format!("Connection lost {what}"),
            Error::FrameTooLarge(what) => format!("Frame too large: {what}"),
            Error::MalformedReply(what) => format!("Malformed reply: {what}"),
            Error::InvalidArgument(what) => format!("Invalid argument: {what}"),
            Error::InvalidKey(what) => format!("Invalid key: {what}"),
            Error::ClosedHandle => "Unknown or closed handle".to_string(),
            Error::Internal(what) => format!("Internal error: {what}"),
            Error::HostNotResolved(what) => format!("Host name not resolved: {what}"),
            Error::Cancelled(what) => format!("Cancelled {what}"),
            Error::OutOfStep(what) => format!("Reply stream out of step: {what}"),
            Error::ReplyNotJson { what, .. } => format!("The reply is not JSON: {what}"),
        }
    }

    fn detail(&self) -> Option<&str> {
        match self {
            Error::Connect { detail, .. } | Error::NullResponse(detail) => Some(detail),
            Error::ReplyNotJson { text, .. } => Some(text),
            _ => None,
        }
    }

    /// `{"return":TEXT,"result":TEXT,"code":N}` (+ `"detail"`): `return` is the key the server
    /// uses, `result` the key the original PHP client used, so callers written for either work.
    /// A server's auth rejection is the server's reply with `result` added (see
    /// [`with_result_key`]).
    pub fn to_json(&self) -> String {
        if let Error::AuthRejected(reply) = self {
            return with_result_key(reply);
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

/// The original client answers a rejected login with the server's `return` text moved under its
/// own key `result`; the server's reply has `return`. Both keys are given: `result` (encoded as
/// PHP's `json_encode` wrote it) goes in front of the server's text, which is kept byte for byte.
/// A reply without `return`, or one that already has `result`, is left as it came.
fn with_result_key(reply: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = phpjson::parse(reply) else {
        return reply.to_string();
    };
    let (Some(text), None) = (map.get("return"), map.get("result")) else {
        return reply.to_string();
    };
    let Some(rest) = reply.trim_start().strip_prefix('{') else {
        return reply.to_string();
    };
    let mut out = String::from(r#"{"result":"#);
    phpjson::write_value(&mut out, text);
    out.push(',');
    out.push_str(rest);
    out
}

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
    fn auth_rejection_keeps_the_servers_reply_and_adds_result() {
        let reply = r#"{"return":"\u041d\u0435\u0442 \/ no","code":101}"#;
        let e = Error::AuthRejected(reply.into());
        assert_eq!(
            e.to_json(),
            r#"{"result":"\u041d\u0435\u0442 \/ no","return":"\u041d\u0435\u0442 \/ no","code":101}"#
        );
        assert_eq!(e.code(), 101);
        // The server's own spelling of its text is kept; `result` is written as PHP writes it.
        let e = Error::AuthRejected(r#" {"return":"Нет","code":102,"extra":[1]}"#.into());
        assert_eq!(
            e.to_json(),
            r#"{"result":"\u041d\u0435\u0442","return":"Нет","code":102,"extra":[1]}"#
        );
        for unchanged in [
            r#"{"code":101}"#,
            r#"{"return":"a","result":"b","code":101}"#,
        ] {
            assert_eq!(Error::AuthRejected(unchanged.into()).to_json(), unchanged);
        }
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
            Error::Cancelled("x".into()),
            Error::OutOfStep("x".into()),
            Error::ReplyNotJson {
                what: "x".into(),
                text: "x".into(),
            },
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
    fn a_reply_that_is_not_json_keeps_its_text_in_detail() {
        let e = Error::ReplyNotJson {
            what: "expected a value at byte 0".into(),
            text: "Fatal error: <b>x</b>".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["code"], 9013);
        assert_eq!(v["detail"], "Fatal error: <b>x</b>");
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
