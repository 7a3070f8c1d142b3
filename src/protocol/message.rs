//! The plaintexts a client sends: the auth message and path/value requests, encoded as the original
//! PHP client encodes them so that a server sees the same bytes for the same call, and parsed
//! here too, for the servers (the simulator, test peers) that receive them.

use serde_json::Value;
use sha1::{Digest, Sha1};
use std::time::{SystemTime, UNIX_EPOCH};

use super::phpjson;

/// PHP `microtime()` text for now: fractional seconds with 8 decimals, a space, Unix seconds.
/// PHP has microsecond resolution, so the last two decimals are always zero.
pub fn microtime_sign(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("0.{:06}00 {}", since.subsec_micros(), since.as_secs())
}

/// Lowercase hex SHA-1 of the password bytes followed by the sign bytes.
fn password_hash(password: &[u8], sign: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(password);
    sha.update(sign.as_bytes());
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `password` is the password's bytes: UTF-8 text, or a legacy encoding's bytes, hashed as they
/// are, as the original client's `sha1($Password . $MT)` hashes them.
pub fn auth(login: &str, password: impl AsRef<[u8]>, sign: &str) -> String {
    let mut out = String::from(r#"{"auth":{"login":"#);
    phpjson::write_str(&mut out, login);
    out.push_str(r#","password":"#);
    phpjson::write_str(&mut out, &password_hash(password.as_ref(), sign));
    out.push_str(r#","sign":"#);
    phpjson::write_str(&mut out, sign);
    out.push_str("}}");
    out
}

pub fn request(path: &str, value: Option<&Value>) -> String {
    request_encoded(path, value.map(phpjson::encode).as_deref())
}

/// A request whose value is already PHP-encoded JSON text (`None` reads).
pub(crate) fn request_encoded(path: &str, value: Option<&str>) -> String {
    let mut out = String::from(r#"{"path":"#);
    phpjson::write_str(&mut out, path);
    out.push_str(r#","value":"#);
    out.push_str(value.unwrap_or("null"));
    out.push('}');
    out
}

pub const DISCONNECT_PATH: &str = "DISCONNECT";

/// An auth message as a server receives it: `{"auth":{"login":..,"password":..,"sign":..}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub login: String,
    /// Hex SHA-1 of the password followed by the sign, as [`password_hash`] makes it.
    pub password_hash: String,
    pub sign: String,
}

impl Auth {
    /// Whether the message was made with `password`. The hex case is not significant.
    pub fn proves(&self, password: impl AsRef<[u8]>) -> bool {
        password_hash(password.as_ref(), &self.sign).eq_ignore_ascii_case(&self.password_hash)
    }
}

/// The auth message in `plaintext`, or `None` when it is not one: not JSON, no `auth` object,
/// or one of its three fields missing or not a string. Other keys are ignored.
pub fn parse_auth(plaintext: &[u8]) -> Option<Auth> {
    let message: Value = serde_json::from_slice(plaintext).ok()?;
    let field = |name: &str| Some(message.get("auth")?.get(name)?.as_str()?.to_string());
    Some(Auth {
        login: field("login")?,
        password_hash: field("password")?,
        sign: field("sign")?,
    })
}

/// A request as a server receives it: `{"path":PATH,"value":VALUE}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// The path was [`DISCONNECT_PATH`]: the client is leaving.
    Disconnect,
    /// Any other path; a missing `value` is `null`, as a read sends it.
    Process { path: String, value: Value },
}

/// Why a plaintext is not a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotARequest {
    /// Not UTF-8, not JSON, or nested deeper than a request can be.
    NotJson,
    /// JSON, but not an object with a string `path`.
    NoPath,
}

impl std::fmt::Display for NotARequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NotARequest::NotJson => "the request is not JSON text",
            NotARequest::NoPath => "the request is not an object with a string path",
        })
    }
}

impl std::error::Error for NotARequest {}

/// The request in `plaintext`. A value may nest as deep as PHP's `json_encode` allows, one level
/// inside the request object (513 levels in all; deeper is [`NotARequest::NotJson`]).
///
/// The parse recurses once per level on the caller's stack, and so do dropping and walking the
/// value it returns. A thread that parses requests from untrusted peers needs at least
/// [`REQUEST_STACK_BYTES`] of stack: measured for a 513-level request, the parse overflows
/// 256 KiB and fits in 384 KiB in a release build, and fits in 2 MiB (not 1 MiB) in a debug build.
/// The simulator gives each connection thread 8 MiB.
/// The stack a thread calling [`parse_request`] needs for the deepest request, with a margin of
/// more than two over what was measured (see there).
pub const REQUEST_STACK_BYTES: usize = if cfg!(debug_assertions) {
    4 << 20
} else {
    1 << 20
};

pub fn parse_request(plaintext: &[u8]) -> Result<Request, NotARequest> {
    let text = std::str::from_utf8(plaintext).map_err(|_| NotARequest::NotJson)?;
    let parsed =
        phpjson::parse_nested(text, phpjson::MAX_DEPTH + 1).map_err(|_| NotARequest::NotJson)?;
    let Value::Object(mut map) = parsed else {
        return Err(NotARequest::NoPath);
    };
    let Some(Value::String(path)) = map.remove("path") else {
        return Err(NotARequest::NoPath);
    };
    if path == DISCONNECT_PATH {
        return Ok(Request::Disconnect);
    }
    let value = map.remove("value").unwrap_or(Value::Null);
    Ok(Request::Process { path, value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::crypto::tests::{hex, IV, KEY256};
    use crate::protocol::crypto::Cipher;
    use crate::protocol::frame::{read_frame, write_frame};
    use std::time::Duration;

    fn frame_hex(plaintext: &str) -> String {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        let mut out = Vec::new();
        write_frame(&mut out, &c.encrypt(plaintext.as_bytes())).unwrap();
        hex(&out)
    }

    #[test]
    fn sign_has_php_microtime_shape() {
        let t = UNIX_EPOCH + Duration::new(1_138_197_510, 251_393_000);
        assert_eq!(microtime_sign(t), "0.25139300 1138197510");
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 1_000);
        assert_eq!(microtime_sign(t), "0.00000100 1700000000");
    }

    #[test]
    fn auth_vector() {
        let sign = "0.12345600 1700000000";
        assert_eq!(
            password_hash(b"secret", sign),
            "2d0d6a124543a57da14306eb02f76b64be794506"
        );
        let plain = auth("api", "secret", sign);
        assert_eq!(
            plain,
            r#"{"auth":{"login":"api","password":"2d0d6a124543a57da14306eb02f76b64be794506","sign":"0.12345600 1700000000"}}"#
        );
        assert_eq!(plain.len(), 109);
        assert_eq!(
            frame_hex(&plain),
            "700000000d2a27ef9b9b7080ee6fc54358f756bad9b997ce7b5c8a923c8afdcf1bcf6e75dd0d9e44e7ff67a14044ab281a42a62f08cf234d92db242905f30417b820d7eaf07caca0bb1211a9607f5f5d740711a6dff80d30c70ff0fcb587e8a0042df5c1110f1bfd2079e791e02871d74bff48f2"
        );
    }

    #[test]
    fn disconnect_and_get_clients_frames() {
        assert_eq!(
            frame_hex(&request(DISCONNECT_PATH, None)),
            "30000000173a0922c2f93b37bdaf8d1f4d556ff57c6f286a621752c8caf283a2b5b5050a7f98fdaa191e93cee72cc48a83408d62"
        );
        assert_eq!(
            frame_hex(&request("API.GetClients", None)),
            "300000008913e2f286660a759620c6a1e0680c5fd42d2427355eefd4df9689364b50fe56e2a96f1fc6203d2672da278217e5af9f"
        );
    }

    #[test]
    fn cyrillic_set_vector_needs_no_padding() {
        let value = Value::String("Иван/Ivan".into());
        let plain = request("API.Client.633824158637492.AutorizeInfo.Name", Some(&value));
        assert_eq!(
            plain,
            r#"{"path":"API.Client.633824158637492.AutorizeInfo.Name","value":"\u0418\u0432\u0430\u043d\/Ivan"}"#
        );
        assert_eq!(plain.len(), 96);
        assert_eq!(
            frame_hex(&plain),
            "60000000cd564ee495445cbde90c46a92f0480060d8a7061af3598a68ed7c584caeaf7fb7d9fc9281f5925ae81e5ce365418d888c5cd42cb1bb3624e3cdc012c50019df4e0c0bcc5615253a980d538c2f352a5af7720ee890f9f91fffd159c7351d2ee55"
        );
    }

    #[test]
    fn auth_round_trips_and_proves_only_its_password() {
        let sign = microtime_sign(UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_000));
        let parsed = parse_auth(auth("кассир \"1\"", "secret", &sign).as_bytes()).unwrap();
        assert_eq!(parsed.login, "кассир \"1\"");
        assert_eq!(parsed.sign, sign);
        assert_eq!(parsed.password_hash, password_hash(b"secret", &sign));
        assert!(parsed.proves("secret"));
        assert!(!parsed.proves("Secret"));
        let upper = Auth {
            password_hash: parsed.password_hash.to_uppercase(),
            ..parsed.clone()
        };
        assert!(upper.proves("secret"));
    }

    #[test]
    fn what_is_not_an_auth_message_is_none() {
        for text in [
            "",
            "not json",
            "[]",
            r#"{"path":"API.GetClients","value":null}"#,
            r#"{"auth":{"login":"a","password":"b"}}"#,
            r#"{"auth":{"login":"a","password":"b","sign":1}}"#,
            r#"{"auth":"a"}"#,
        ] {
            assert_eq!(parse_auth(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn requests_round_trip_with_key_order_and_number_text() {
        let value: Value =
            serde_json::from_str(r#"{"b":[1,2.50,"Иван/Ivan"],"a":{"GUID":9527563927532953}}"#)
                .unwrap();
        let plain = request("API.Client.1.AutorizeInfo.Accounts", Some(&value));
        assert_eq!(
            parse_request(plain.as_bytes()),
            Ok(Request::Process {
                path: "API.Client.1.AutorizeInfo.Accounts".into(),
                value: value.clone()
            })
        );
        assert_eq!(
            phpjson::encode(&value),
            r#"{"b":[1,2.50,"\u0418\u0432\u0430\u043d\/Ivan"],"a":{"GUID":9527563927532953}}"#
        );
        assert_eq!(
            parse_request(request("API.GetClients", None).as_bytes()),
            Ok(Request::Process {
                path: "API.GetClients".into(),
                value: Value::Null
            })
        );
        assert_eq!(
            parse_request(request(DISCONNECT_PATH, None).as_bytes()),
            Ok(Request::Disconnect)
        );
        assert_eq!(
            parse_request(br#"{"path":"API.GetClients"}"#),
            Ok(Request::Process {
                path: "API.GetClients".into(),
                value: Value::Null
            })
        );
    }

    #[test]
    fn a_value_as_deep_as_php_allows_is_a_request_and_deeper_is_not() {
        let deep = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        let at_limit = request_encoded("API.X", Some(&deep(phpjson::MAX_DEPTH)));
        assert!(matches!(
            parse_request(at_limit.as_bytes()),
            Ok(Request::Process { .. })
        ));
        let beyond = request_encoded("API.X", Some(&deep(phpjson::MAX_DEPTH + 1)));
        assert_eq!(parse_request(beyond.as_bytes()), Err(NotARequest::NotJson));
    }

    #[test]
    fn the_deepest_request_parses_and_drops_within_the_documented_stack() {
        let deep = |levels: usize| "[".repeat(levels) + &"]".repeat(levels);
        let text = request_encoded("API.X", Some(&deep(phpjson::MAX_DEPTH)));
        let parsed = std::thread::Builder::new()
            .stack_size(REQUEST_STACK_BYTES)
            .spawn(move || {
                let request = parse_request(text.as_bytes());
                let parsed = matches!(request, Ok(Request::Process { .. }));
                drop(request);
                parsed
            })
            .unwrap()
            .join()
            .unwrap();
        assert!(parsed);
    }

    #[test]
    fn what_is_not_a_request_says_why() {
        assert_eq!(parse_request(b"\xff"), Err(NotARequest::NotJson));
        assert_eq!(parse_request(b"{\"path\":"), Err(NotARequest::NotJson));
        assert_eq!(parse_request(b"[]"), Err(NotARequest::NoPath));
        assert_eq!(parse_request(br#"{"path":1}"#), Err(NotARequest::NoPath));
        assert_eq!(parse_request(br#"{"value":1}"#), Err(NotARequest::NoPath));
    }

    #[test]
    fn messages_round_trip_through_encryption_and_frames() {
        let c = Cipher::from_base64(KEY256, IV).unwrap();
        let sign = "0.12345600 1700000000";
        let value = Value::String("+79001112233".into());
        let mut wire = Vec::new();
        for plain in [
            auth("api", "secret", sign),
            request("API.Client.1.PersonalDataInfo.MobileTel", Some(&value)),
            request(DISCONNECT_PATH, None),
        ] {
            write_frame(&mut wire, &c.encrypt(plain.as_bytes())).unwrap();
        }
        let mut stream = wire.as_slice();
        let mut next = || {
            c.decrypt(&read_frame(&mut stream, 1 << 16).unwrap())
                .unwrap()
        };
        assert!(parse_auth(&next()).unwrap().proves("secret"));
        assert_eq!(
            parse_request(&next()),
            Ok(Request::Process {
                path: "API.Client.1.PersonalDataInfo.MobileTel".into(),
                value
            })
        );
        assert_eq!(parse_request(&next()), Ok(Request::Disconnect));
        assert!(stream.is_empty());
    }
}
