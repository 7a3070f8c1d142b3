//! The plaintexts a client sends: the auth message and path/value requests, encoded as the original
//! PHP client encodes them so that a server sees the same bytes for the same call.

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
pub fn password_hash(password: &str, sign: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(password.as_bytes());
    sha.update(sign.as_bytes());
    sha.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn auth(login: &str, password: &str, sign: &str) -> String {
    let mut out = String::from(r#"{"auth":{"login":"#);
    phpjson::write_str(&mut out, login);
    out.push_str(r#","password":"#);
    phpjson::write_str(&mut out, &password_hash(password, sign));
    out.push_str(r#","sign":"#);
    phpjson::write_str(&mut out, sign);
    out.push_str("}}");
    out
}

pub fn request(path: &str, value: Option<&Value>) -> String {
    request_encoded(path, value.map(phpjson::encode).as_deref())
}

/// A request whose value is already PHP-encoded JSON text (`None` reads).
pub fn request_encoded(path: &str, value: Option<&str>) -> String {
    let mut out = String::from(r#"{"path":"#);
    phpjson::write_str(&mut out, path);
    out.push_str(r#","value":"#);
    out.push_str(value.unwrap_or("null"));
    out.push('}');
    out
}

pub const DISCONNECT_PATH: &str = "DISCONNECT";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::crypto::tests::{hex, IV, KEY256};
    use crate::protocol::crypto::Cipher;
    use crate::protocol::frame::write_frame;
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
            password_hash("secret", sign),
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
}
