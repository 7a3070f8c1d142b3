//! What a request gets when it does not reach a core reply: the library's error JSON
//! (`{"return":TEXT,"result":TEXT,"code":N}`, the shape every binding already parses) with an HTTP
//! status that says what kind of failure it is.
//!
//! The gateway's own refusals use codes 9401..9503 (9000 + the HTTP status), above the library's
//! 9001..9099 and the OS errno range, so a client tells "the gateway said no" from "the core or
//! the library failed" by the code alone.

use hyper::StatusCode;
use mikrobill::protocol::phpjson;

/// The gateway's own codes, in the `code` member of its error JSON.
pub mod code {
    /// No `Authorization: Bearer` token, or one that is not in the config.
    pub const UNAUTHORIZED: i64 = 9401;
    /// The path (or a batch leaf's path) is outside the token's scope, or a read-only token sent a
    /// value.
    pub const FORBIDDEN: i64 = 9403;
    pub const NOT_FOUND: i64 = 9404;
    pub const METHOD_NOT_ALLOWED: i64 = 9405;
    /// The body did not arrive within the body timeout.
    pub const BODY_TIMEOUT: i64 = 9408;
    pub const BODY_TOO_LARGE: i64 = 9413;
    pub const RATE_LIMITED: i64 = 9429;
    /// Every core connection was busy and the queue was full, or the request waited in the queue
    /// longer than the limit; in both cases nothing was sent to the core.
    pub const BUSY: i64 = 9503;
}

/// A finished error answer: its status and the JSON body.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: i64,
    pub body: String,
}

impl Refusal {
    /// A refusal of the gateway's own, `text` being safe to show (it never quotes a secret).
    pub fn new(status: StatusCode, code: i64, text: &str) -> Refusal {
        let mut body = String::from(r#"{"return":"#);
        phpjson::write_str(&mut body, text);
        body.push_str(r#","result":"#);
        phpjson::write_str(&mut body, text);
        body.push_str(&format!(r#","code":{code}}}"#));
        Refusal { status, code, body }
    }

    /// A library failure: its own error JSON, with the status its kind maps to.
    pub fn library(error: &mikrobill::Error) -> Refusal {
        Refusal {
            status: status_of(error),
            code: error.code(),
            body: error.to_json(),
        }
    }

    /// A request that is not `{"path": STRING[, "value": ANY]}` JSON: the library's own code for
    /// an invalid argument, as `mb_process` gives for the same mistake.
    pub fn bad_request(text: &str) -> Refusal {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            mikrobill::code::INVALID_ARGUMENT,
            &format!("Invalid argument: {text}"),
        )
    }
}

/// The HTTP status of a library failure, by what went wrong rather than by number: the caller's
/// mistake (400), the core unreachable, refusing the gateway's login or answering nonsense (502),
/// the core too slow (504), the call abandoned while the gateway stops (503), and defects (500).
pub fn status_of(error: &mikrobill::Error) -> StatusCode {
    use mikrobill::Error as E;
    match error {
        E::InvalidArgument(_) => StatusCode::BAD_REQUEST,
        E::Connect { .. }
        | E::HostNotResolved(_)
        | E::NullResponse(_)
        | E::AuthRejected(_)
        | E::ConnectionLost(_)
        | E::FrameTooLarge(_)
        | E::MalformedReply(_)
        | E::OutOfStep(_)
        | E::ReplyNotJson { .. } => StatusCode::BAD_GATEWAY,
        E::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        E::Cancelled(_) => StatusCode::SERVICE_UNAVAILABLE,
        E::InvalidKey(_) | E::ClosedHandle | E::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateways_refusal_has_the_librarys_shape() {
        let r = Refusal::new(
            StatusCode::FORBIDDEN,
            code::FORBIDDEN,
            "path \"x/y\" not allowed",
        );
        assert_eq!(
            r.body,
            r#"{"return":"path \"x\/y\" not allowed","result":"path \"x\/y\" not allowed","code":9403}"#
        );
    }

    #[test]
    fn library_failures_map_by_kind() {
        let refused = mikrobill::Error::Connect {
            errno: 111,
            detail: "127.0.0.1:1: Connection refused".into(),
        };
        let r = Refusal::library(&refused);
        assert_eq!((r.status, r.code), (StatusCode::BAD_GATEWAY, 111));
        assert_eq!(r.body, refused.to_json());
        let login = mikrobill::Error::AuthRejected(r#"{"return":"no","code":101}"#.into());
        assert_eq!(status_of(&login), StatusCode::BAD_GATEWAY);
        assert_eq!(
            status_of(&mikrobill::Error::Timeout("x".into())),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            status_of(&mikrobill::Error::InvalidArgument("x".into())),
            StatusCode::BAD_REQUEST
        );
    }
}
