//! The tables every binding is generated from: the library's error codes, the config keys that
//! `mb_connect` takes, and the version. `cargo xtask codegen` writes the C header's `enum mb_code`
//! and each binding's constants from these; nothing else lists them.

/// One of the library's own error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSpec {
    /// The name without prefix (`TIMEOUT`; `MB_TIMEOUT` in C).
    pub name: &'static str,
    pub value: i32,
    /// What the code means, one paragraph.
    pub doc: &'static str,
}

/// The JSON type a config key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String,
    Integer,
    Boolean,
}

/// One key of the config object `mb_connect` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub name: &'static str,
    pub kind: KeyType,
    /// Whether a config without this key is refused.
    pub required: bool,
    /// The default as JSON text, when the key has one.
    pub default: Option<&'static str>,
    /// What the key sets, one paragraph.
    pub doc: &'static str,
    /// The value is a secret: never echoed in an error, a log or a dump.
    pub secret: bool,
}

/// The library's version; bindings check the library they load against it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Declares the codes once: the `code` constants the library uses and the [`CODES`] table.
macro_rules! codes {
    ($( $(#[doc = $doc:literal])+ $name:ident = $value:literal, )+) => {
        /// The library's error codes as the integers found in an error's `code`.
        pub mod code {
            $( $(#[doc = $doc])+ pub const $name: i64 = $value; )+
        }

        /// Every code of [`code`], in order, with its meaning.
        pub const CODES: &[CodeSpec] = &[
            $( CodeSpec { name: stringify!($name), value: $value, doc: concat!($($doc),+) }, )+
        ];
    };
}

// 9400..=9599 are the HTTPS gateway's own refusals (9000 + the HTTP status it answers with,
// docs/src/gateway.md): no library code may take one.
codes! {
    /// No error.
    OK = 0,
    /// No usable reply to the auth message: probably wrong keys (the original client's code).
    NULL_RESPONSE = 6,
    /// The server did not answer within `io_timeout_ms`, or the call passed `call_timeout_ms`;
    /// the request was not resent.
    TIMEOUT = 9001,
    /// The connection broke after the request was sent; the request was not resent.
    CONNECTION_LOST = 9002,
    /// The server announced a frame over `max_frame_bytes`.
    FRAME_TOO_LARGE = 9003,
    /// A frame that is not whole cipher blocks, or a reply that is empty or holds a NUL byte.
    MALFORMED_REPLY = 9004,
    /// A NULL pointer, invalid UTF-8, invalid JSON, a bad config or an unknown cancel token.
    INVALID_ARGUMENT = 9005,
    /// `key1` or `key2` is not base64 of a valid AES key or IV.
    INVALID_KEY = 9006,
    /// The handle was never issued or is already closed.
    CLOSED_HANDLE = 9007,
    /// A defect inside the library, a contained panic included; the call was abandoned safely.
    INTERNAL = 9008,
    /// The host name did not resolve.
    HOST_NOT_RESOLVED = 9009,
    /// The call was cancelled through its cancel token, or its handle was discarded while it
    /// ran; the request may or may not have reached the server, and was not resent. A call
    /// whose token was cancelled before it started sent nothing (the text says so).
    CANCELLED = 9011,
    /// The reply stream is out of step with the requests (more bytes followed a reply at once);
    /// the connection was dropped.
    OUT_OF_STEP = 9012,
    /// The server's reply is not JSON; its text is kept in `detail`.
    REPLY_NOT_JSON = 9013,
}

const fn key(
    name: &'static str,
    kind: KeyType,
    default: Option<&'static str>,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        name,
        kind,
        required: false,
        default,
        doc,
        secret: false,
    }
}

const fn required(name: &'static str, doc: &'static str) -> KeySpec {
    KeySpec {
        required: true,
        ..key(name, KeyType::String, None, doc)
    }
}

const fn secret(spec: KeySpec) -> KeySpec {
    KeySpec {
        secret: true,
        ..spec
    }
}

/// Every key `mb_connect` takes; any other key is refused (9005), and so is a wrong type.
pub const CONFIG_KEYS: &[KeySpec] = &[
    required("host", "The core's host name or address."),
    key(
        "port",
        KeyType::Integer,
        Some("7403"),
        "The core's TCP port (1..65535).",
    ),
    required("login", "The cashier's login."),
    secret(key(
        "password",
        KeyType::String,
        None,
        "The cashier's password as UTF-8 text. Exactly one of `password` and `password_base64` \
         is required.",
    )),
    secret(key(
        "password_base64",
        KeyType::String,
        None,
        "The password's raw bytes in base64, for a password that is not UTF-8 (a kassa file \
         saved in CP1251); hashed from those bytes as the original client hashes them.",
    )),
    secret(required("key1", "`CRYPTO_KEY_1`: the AES key, base64.")),
    secret(required("key2", "`CRYPTO_KEY_2`: the AES IV, base64.")),
    key(
        "connect_timeout_ms",
        KeyType::Integer,
        Some("5000"),
        "Limit for the TCP connect, in milliseconds (at least 1).",
    ),
    key(
        "io_timeout_ms",
        KeyType::Integer,
        Some("5000"),
        "Limit for each read and write without progress, in milliseconds (at least 1).",
    ),
    key(
        "call_timeout_ms",
        KeyType::Integer,
        Some("30000"),
        "Limit for a whole call (connect, auth, request and the whole reply), however slowly \
         the reply trickles, in milliseconds (at least 1).",
    ),
    key(
        "max_frame_bytes",
        KeyType::Integer,
        Some("67108864"),
        "The largest reply frame accepted (at least 16).",
    ),
    key(
        "php_floats",
        KeyType::Boolean,
        Some("false"),
        "Rewrite every non-integer number of a value as PHP's `json_encode` writes that double; \
         integers stay byte-identical.",
    ),
    key(
        "persistent",
        KeyType::Boolean,
        Some("false"),
        "Hand the connection to the process-wide pool on close instead of saying DISCONNECT.",
    ),
    key(
        "persistent_id",
        KeyType::String,
        Some("\"\""),
        "Separates pools of otherwise identical settings.",
    ),
    key(
        "pool_max_idle",
        KeyType::Integer,
        Some("4"),
        "Idle pooled connections kept per identity.",
    ),
    key(
        "pool_max_idle_total",
        KeyType::Integer,
        Some("64"),
        "Idle pooled connections kept in all.",
    ),
    key(
        "pool_idle_timeout_ms",
        KeyType::Integer,
        Some("60000"),
        "How long a pooled connection may wait unused, in milliseconds (at least 1).",
    ),
];

/// The spec of `name`, when it is a config key.
pub fn config_key(name: &str) -> Option<&'static KeySpec> {
    CONFIG_KEYS.iter().find(|spec| spec.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_new_ones_are_above_the_errno_range() {
        let mut values: Vec<i32> = CODES.iter().map(|c| c.value).collect();
        values.sort_unstable();
        values.dedup();
        assert_eq!(values.len(), CODES.len());
        for spec in CODES {
            assert!(!spec.doc.trim().is_empty(), "{}", spec.name);
            assert!(
                matches!(spec.value, 0 | 6) || spec.value > 4095,
                "{} would collide with an errno",
                spec.name
            );
        }
        assert_eq!(CODES[0].name, "OK");
        assert!(
            CODES.iter().all(|c| !(9400..=9599).contains(&c.value)),
            "9400..=9599 belong to the gateway"
        );
    }

    #[test]
    fn every_key_is_documented_and_defaults_are_json_of_its_type() {
        for spec in CONFIG_KEYS {
            assert!(!spec.doc.trim().is_empty(), "{}", spec.name);
            let Some(default) = spec.default else {
                continue;
            };
            let value: serde_json::Value = serde_json::from_str(default).unwrap();
            let fits = match spec.kind {
                KeyType::String => value.is_string(),
                KeyType::Integer => value.is_u64(),
                KeyType::Boolean => value.is_boolean(),
            };
            assert!(fits, "{}: {default}", spec.name);
            assert!(
                !spec.required,
                "{} is required yet has a default",
                spec.name
            );
        }
    }
}
