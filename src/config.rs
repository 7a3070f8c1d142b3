//! Connection settings, from Rust or from the JSON text the C ABI receives.

use serde::Deserialize;
use std::fmt;
use std::time::Duration;

use crate::error::Error;
use crate::pool::{Limits, DEFAULT_LIMITS};
use crate::protocol::frame::DEFAULT_MAX_FRAME;

pub const DEFAULT_PORT: u16 = 7403;
/// The original client's fixed limits, kept as defaults.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole call, connect and auth included, however slowly the bytes trickle in: long enough
/// for an 18 MB `API.GetClients` reply over a slow link, short enough that a stuck server never
/// holds a PHP worker for minutes.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub login: String,
    /// The password's bytes, hashed as they are: UTF-8 text, or the bytes of a legacy encoding
    /// such as CP1251 (`password_base64` in the C ABI's config).
    pub password: Vec<u8>,
    /// `CRYPTO_KEY_1`, base64.
    pub key1: String,
    /// `CRYPTO_KEY_2`, base64.
    pub key2: String,
    pub connect_timeout: Duration,
    /// Limit for each read and write; a read's limit starts again whenever bytes arrive.
    pub io_timeout: Duration,
    /// Limit for a whole call: connecting, auth, sending and the whole reply.
    pub call_timeout: Duration,
    pub max_frame_bytes: usize,
    /// Hand the connection to the process-wide pool on close instead of saying DISCONNECT.
    pub persistent: bool,
    /// Separates pools of otherwise identical settings, as phpredis' `persistent_id` does.
    pub persistent_id: String,
    /// Pool bounds, applied when this client returns a connection.
    pub pool_limits: Limits,
    /// Rewrite every non-integer number of a value as PHP's `json_encode` writes that double
    /// (`1.0` → `1`, `1e25` → `1.0e+25`); integers stay byte-identical. For bindings that hand
    /// over their language's round-trip number text.
    pub php_floats: bool,
}

/// Secrets stay out of logs and panic messages.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("login", &self.login)
            .field("connect_timeout", &self.connect_timeout)
            .field("io_timeout", &self.io_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("persistent", &self.persistent)
            .field("persistent_id", &self.persistent_id)
            .field("pool_limits", &self.pool_limits)
            .field("php_floats", &self.php_floats)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigJson {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    login: String,
    password: Option<String>,
    password_base64: Option<String>,
    key1: String,
    key2: String,
    connect_timeout_ms: Option<u64>,
    io_timeout_ms: Option<u64>,
    call_timeout_ms: Option<u64>,
    max_frame_bytes: Option<usize>,
    #[serde(default)]
    persistent: bool,
    persistent_id: Option<String>,
    pool_max_idle: Option<usize>,
    pool_max_idle_total: Option<usize>,
    pool_idle_timeout_ms: Option<u64>,
    #[serde(default)]
    php_floats: bool,
}

fn default_port() -> u16 {
    DEFAULT_PORT
}

impl Config {
    pub fn new(
        host: impl Into<String>,
        port: u16,
        login: impl Into<String>,
        password: impl Into<Vec<u8>>,
        key1: impl Into<String>,
        key2: impl Into<String>,
    ) -> Config {
        Config {
            host: host.into(),
            port,
            login: login.into(),
            password: password.into(),
            key1: key1.into(),
            key2: key2.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            io_timeout: DEFAULT_IO_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_frame_bytes: DEFAULT_MAX_FRAME,
            persistent: false,
            persistent_id: String::new(),
            pool_limits: DEFAULT_LIMITS,
            php_floats: false,
        }
    }

    /// Parses the C ABI's config object. Unknown keys, wrong types and out-of-range values are
    /// refused with a message naming the key, so a typo never silently falls back to a default.
    pub fn from_json(text: &str) -> Result<Config, Error> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("config: {e}")))?;
        refuse_non_string_secrets(&value)?;
        // Parsed again from the text: errors through a `Value` lose the number they refuse.
        let raw: ConfigJson = serde_json::from_str(text)
            .map_err(|e| Error::InvalidArgument(format!("config: {e}")))?;
        let password = match (raw.password, raw.password_base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(encoded)) => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.trim())
                    .map_err(|_| {
                        Error::InvalidArgument(
                            "config: password_base64 is not base64 (its value is not shown)".into(),
                        )
                    })?
            }
            (Some(_), Some(_)) => {
                return Err(Error::InvalidArgument(
                    "config: give password or password_base64, not both".into(),
                ))
            }
            (None, None) => {
                return Err(Error::InvalidArgument(
                    "config: missing field `password` (or `password_base64`)".into(),
                ))
            }
        };
        let mut config = Config::new(raw.host, raw.port, raw.login, password, raw.key1, raw.key2);
        if let Some(ms) = raw.connect_timeout_ms {
            config.connect_timeout = positive_ms("connect_timeout_ms", ms)?;
        }
        if let Some(ms) = raw.io_timeout_ms {
            config.io_timeout = positive_ms("io_timeout_ms", ms)?;
        }
        if let Some(ms) = raw.call_timeout_ms {
            config.call_timeout = positive_ms("call_timeout_ms", ms)?;
        }
        if let Some(bytes) = raw.max_frame_bytes {
            config.max_frame_bytes = bytes;
        }
        config.persistent = raw.persistent;
        config.persistent_id = raw.persistent_id.unwrap_or_default();
        if let Some(n) = raw.pool_max_idle {
            config.pool_limits.max_idle_per_identity = n;
        }
        if let Some(n) = raw.pool_max_idle_total {
            config.pool_limits.max_idle_total = n;
        }
        if let Some(ms) = raw.pool_idle_timeout_ms {
            config.pool_limits.idle_timeout = positive_ms("pool_idle_timeout_ms", ms)?;
        }
        config.php_floats = raw.php_floats;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), Error> {
        if self.host.is_empty() {
            return Err(Error::InvalidArgument("config: host is empty".into()));
        }
        if self.port == 0 {
            return Err(Error::InvalidArgument(
                "config: port must be 1..65535".into(),
            ));
        }
        if self.connect_timeout.is_zero()
            || self.io_timeout.is_zero()
            || self.call_timeout.is_zero()
        {
            return Err(Error::InvalidArgument(
                "config: timeouts must be positive".into(),
            ));
        }
        if self.max_frame_bytes < crate::protocol::crypto::BLOCK {
            return Err(Error::InvalidArgument(
                "config: max_frame_bytes must be at least 16".into(),
            ));
        }
        Ok(())
    }
}

/// serde's type errors quote the offending value (``invalid type: integer `1234` ``), which for
/// these keys would put a secret into `mb_last_error`; they are checked first and named by their
/// JSON type only. Strings are never quoted by the errors that can follow.
fn refuse_non_string_secrets(value: &serde_json::Value) -> Result<(), Error> {
    let secrets = crate::abi::CONFIG_KEYS.iter().filter(|spec| spec.secret);
    for key in secrets.map(|spec| spec.name) {
        let kind = match value.get(key) {
            None | Some(serde_json::Value::String(_)) => continue,
            Some(serde_json::Value::Null) => "null",
            Some(serde_json::Value::Bool(_)) => "a boolean",
            Some(serde_json::Value::Number(_)) => "a number",
            Some(serde_json::Value::Array(_)) => "an array",
            Some(serde_json::Value::Object(_)) => "an object",
        };
        return Err(Error::InvalidArgument(format!(
            "config: {key} must be a string, not {kind} (its value is not shown)"
        )));
    }
    Ok(())
}

fn positive_ms(key: &str, ms: u64) -> Result<Duration, Error> {
    if ms == 0 {
        return Err(Error::InvalidArgument(format!(
            "config: {key} must be at least 1"
        )));
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#""host":"h","login":"l","password":"p","key1":"k","key2":"v""#;

    fn parse(extra: &str) -> Result<Config, Error> {
        Config::from_json(&format!("{{{BASE}{extra}}}"))
    }

    #[test]
    fn defaults_follow_the_original_client() {
        let c = parse("").unwrap();
        assert_eq!(c.port, 7403);
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.io_timeout, Duration::from_secs(5));
        assert_eq!(c.call_timeout, Duration::from_secs(30));
        assert_eq!(c.max_frame_bytes, DEFAULT_MAX_FRAME);
        assert!(!c.php_floats);
        assert!(!c.persistent);
        assert_eq!(c.pool_limits, DEFAULT_LIMITS);
    }

    #[test]
    fn persistence_settings_are_read() {
        let c = parse(
            r#","persistent":true,"persistent_id":"shop2","pool_max_idle":2,"pool_max_idle_total":9,"pool_idle_timeout_ms":1500"#,
        )
        .unwrap();
        assert!(c.persistent);
        assert_eq!(c.persistent_id, "shop2");
        assert_eq!(c.pool_limits.max_idle_per_identity, 2);
        assert_eq!(c.pool_limits.max_idle_total, 9);
        assert_eq!(c.pool_limits.idle_timeout, Duration::from_millis(1500));
        refused(r#","persistent":1"#, "invalid type");
        refused(r#","pool_idle_timeout_ms":0"#, "pool_idle_timeout_ms");
        refused(r#","pool_max_idle":-1"#, "invalid value");
    }

    #[test]
    fn php_floats_is_a_bool() {
        assert!(parse(r#","php_floats":true"#).unwrap().php_floats);
        assert!(!parse(r#","php_floats":false"#).unwrap().php_floats);
        refused(r#","php_floats":1"#, "invalid type");
        refused(r#","php_float":true"#, "php_float");
    }

    #[test]
    fn tunables_are_read() {
        let c = parse(
            r#","port":7000,"connect_timeout_ms":250,"io_timeout_ms":1500,"call_timeout_ms":9000,"max_frame_bytes":4096"#,
        )
        .unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.connect_timeout, Duration::from_millis(250));
        assert_eq!(c.io_timeout, Duration::from_millis(1500));
        assert_eq!(c.call_timeout, Duration::from_millis(9000));
        assert_eq!(c.max_frame_bytes, 4096);
    }

    fn refused(extra: &str, needle: &str) {
        let e = parse(extra).unwrap_err();
        assert_eq!(e.code(), crate::error::code::INVALID_ARGUMENT);
        assert!(e.to_string().contains(needle), "{e} lacks {needle}");
    }

    #[test]
    fn unknown_keys_wrong_types_and_ranges_are_refused() {
        refused(r#","prot":1"#, "prot");
        refused(r#","port":"7403""#, "invalid type");
        refused(r#","port":70000"#, "70000");
        refused(r#","port":0"#, "port");
        refused(r#","io_timeout_ms":0"#, "io_timeout_ms");
        refused(r#","call_timeout_ms":0"#, "call_timeout_ms");
        refused(r#","connect_timeout_ms":-1"#, "invalid value");
        refused(r#","max_frame_bytes":8"#, "max_frame_bytes");
        assert!(Config::from_json(r#"{"host":"h"}"#).is_err());
        assert!(Config::from_json("[]").is_err());
        assert!(Config::from_json("").is_err());
    }

    #[test]
    fn a_secret_of_the_wrong_type_is_never_echoed() {
        for key in ["password", "password_base64", "key1", "key2"] {
            for value in [
                "987654321",
                "98765.4321",
                "[\"s3cr3t\"]",
                "{\"s3cr3t\":1}",
                "true",
            ] {
                // A repeated key: the later one wins, as it would for a caller's typo.
                let shown = parse(&format!(r#","{key}":{value}"#))
                    .unwrap_err()
                    .to_json();
                assert!(shown.contains(key), "{shown}");
                for secret in ["987654321", "98765", "4321", "s3cr3t", "true"] {
                    assert!(!shown.contains(secret), "{shown} shows {secret}");
                }
            }
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let c = Config::new("h", 1, "l", "hunter2", "KEYONE", "KEYTWO");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("KEYONE") && !shown.contains("KEYTWO")
        );
    }

    #[test]
    fn a_password_is_text_or_raw_bytes_in_base64_never_both() {
        let cp1251 = [0xcf, 0xe0, 0xf0, 0xee, 0xeb, 0xfc]; // "Пароль" in CP1251
        let text = r#"{"host":"h","login":"l","key1":"k","key2":"v","password_base64":"z+Dw7uv8"}"#;
        assert_eq!(Config::from_json(text).unwrap().password, cp1251);
        assert_eq!(parse("").unwrap().password, b"p");
        let both = r#"{"host":"h","login":"l","password":"p","password_base64":"cA==","key1":"k","key2":"v"}"#;
        assert!(Config::from_json(both)
            .unwrap_err()
            .to_string()
            .contains("not both"));
        let neither = r#"{"host":"h","login":"l","key1":"k","key2":"v"}"#;
        assert!(Config::from_json(neither)
            .unwrap_err()
            .to_string()
            .contains("password"));
        let bad = r#"{"host":"h","login":"l","key1":"k","key2":"v","password_base64":"s3cr3t!!"}"#;
        let shown = Config::from_json(bad).unwrap_err().to_json();
        assert!(
            shown.contains("password_base64") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }

    /// The table the bindings are generated from (`crate::abi::CONFIG_KEYS`) and this parser
    /// agree: every key of the table is accepted with its default and changes nothing, and a key
    /// outside the table is refused.
    #[test]
    fn the_config_key_table_matches_the_parser() {
        let base = parse("").unwrap();
        for spec in crate::abi::CONFIG_KEYS {
            let Some(default) = spec.default else {
                continue;
            };
            let with = parse(&format!(r#","{}":{default}"#, spec.name))
                .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
            assert_eq!(format!("{with:?}"), format!("{base:?}"), "{}", spec.name);
            assert_eq!(with.password, base.password);
        }
        for spec in crate::abi::CONFIG_KEYS.iter().filter(|s| s.required) {
            let without: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str::<serde_json::Value>(&format!("{{{BASE}}}"))
                    .unwrap()
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| *k != spec.name)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
            let text = serde_json::Value::Object(without).to_string();
            assert!(
                Config::from_json(&text).is_err(),
                "{} is required",
                spec.name
            );
        }
        for (key, value) in [("password", "\"p\""), ("password_base64", "\"cA==\"")] {
            let text =
                format!(r#"{{"host":"h","login":"l","key1":"k","key2":"v","{key}":{value}}}"#);
            assert!(Config::from_json(&text).is_ok(), "{key}");
            assert!(crate::abi::config_key(key).is_some());
        }
        refused(r#","not_a_key":1"#, "not_a_key");
    }
}
