//! Property tests (stable Rust, proptest) of the parsing a hostile peer reaches: frames, the
//! cipher's input, the JSON check, and the client's handling of whatever comes back for its auth
//! message. Inputs are arbitrary bytes; nothing may panic, hang or claim success it did not get.

use mikrobill_testkit::hostile;
use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use mikrobill::protocol::crypto::Cipher;
use mikrobill::protocol::frame::{read_frame, write_frame, FrameError};
use mikrobill::protocol::jsoncheck;
use mikrobill::{Client, Config};
use proptest::prelude::*;

fn cipher() -> Cipher {
    Cipher::from_base64(hostile::KEY1, hostile::KEY2).unwrap()
}

/// Text made of JSON's own pieces, so that most cases are near-valid JSON.
fn json_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"k\"".to_string()),
        Just("\"\\u00e9\\n\"".to_string()),
        Just("\"\\x\"".to_string()),
        Just("-1.5e3".to_string()),
        Just("01".to_string()),
        Just("true".to_string()),
        Just("nul".to_string()),
        Just(" ".to_string()),
        "[a-z0-9\"\\\\.]{0,3}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reading_arbitrary_bytes_as_a_frame_never_panics_or_overreads(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        max in 16usize..512,
    ) {
        match read_frame(&mut &bytes[..], max) {
            Ok(body) => {
                let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
                prop_assert_eq!(body.len(), len);
                prop_assert!(len <= max && len % 16 == 0 && len > 0);
                prop_assert_eq!(&body[..], &bytes[4..4 + len]);
            }
            Err(FrameError::Closed) => prop_assert!(bytes.is_empty()),
            Err(FrameError::Truncated) => prop_assert!(!bytes.is_empty()),
            Err(FrameError::TooLarge { announced, .. }) => prop_assert!(announced > max),
            Err(FrameError::Misaligned(n)) => prop_assert!(n == 0 || n % 16 != 0),
            Err(FrameError::Io(e)) => prop_assert!(false, "no I/O error from a slice: {}", e),
        }
    }

    #[test]
    fn frames_round_trip(payload in prop::collection::vec(any::<u8>(), 1..2048)) {
        let c = cipher();
        let frame = c.encrypt_frame(&payload);
        let mut split = Vec::new();
        write_frame(&mut split, &c.encrypt(&payload)).unwrap();
        prop_assert_eq!(&frame, &split);
        let body = read_frame(&mut &frame[..], 1 << 20).unwrap();
        let plain = c.decrypt_owned(body).unwrap();
        let start = payload.iter().position(|&b| b != 0).unwrap_or(payload.len());
        let end = payload.iter().rposition(|&b| b != 0).map_or(start, |i| i + 1);
        prop_assert_eq!(&plain[..], &payload[start..end]);
    }

    #[test]
    fn decrypting_arbitrary_ciphertext_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let aligned = !bytes.is_empty() && bytes.len() % 16 == 0;
        prop_assert_eq!(cipher().decrypt_owned(bytes).is_some(), aligned);
    }

    #[test]
    fn the_json_check_agrees_with_serde_json(text in json_like()) {
        let serde = serde_json::from_str::<serde_json::Value>(&text).is_ok();
        prop_assert_eq!(jsoncheck::check(text.as_bytes()).is_ok(), serde, "{:?}", text);
    }

    #[test]
    fn the_json_check_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let serde = serde_json::from_str::<serde_json::Value>(text).is_ok();
            prop_assert_eq!(jsoncheck::check(&bytes).is_ok(), serde);
        }
    }
}

/// A peer that answers every auth message with `reply` (raw bytes on the wire) and closes.
fn auth_replier(reply: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Some(Ok(mut stream)) = listener.incoming().next() {
            let _ = read_frame(&mut stream, 1 << 16);
            let _ = stream.write_all(&reply);
        }
    });
    port
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Whatever comes back for the auth message, the call ends with a non-zero code within its
    /// deadline, unless the reply really was an encrypted `code` 0.
    #[test]
    fn any_auth_reply_ends_the_call_with_an_honest_code(
        raw in prop::collection::vec(any::<u8>(), 0..96),
        encrypted in any::<bool>(),
    ) {
        let reply = if encrypted { cipher().encrypt_frame(&raw) } else { raw.clone() };
        let port = auth_replier(reply);
        let mut config = Config::new("127.0.0.1", port, "l", "p", hostile::KEY1, hostile::KEY2);
        config.io_timeout = Duration::from_millis(200);
        config.call_timeout = Duration::from_millis(400);
        let mut client = Client::new(config).unwrap();
        let started = Instant::now();
        let granted = client.check_connection();
        prop_assert!(started.elapsed() < Duration::from_secs(2));
        let start = raw.iter().position(|&b| b != 0).unwrap_or(raw.len());
        let end = raw.iter().rposition(|&b| b != 0).map_or(start, |i| i + 1);
        let said_ok = encrypted
            && serde_json::from_slice::<serde_json::Value>(&raw[start..end])
            .ok()
            .and_then(|v| v.get("code").and_then(serde_json::Value::as_i64))
                == Some(0);
        prop_assert_eq!(granted, said_ok);
    }
}
