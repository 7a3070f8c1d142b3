//! The gateway's TOML config: where it listens, which core it talks to and as whom, and the
//! tokens. Secrets (the cashier's password, the keys) may come from a file or an environment
//! variable so that the config itself can be readable by more than the service; the password may
//! only come from one of those. No error of this module ever quotes a secret: TOML syntax errors
//! are reported by line and column without the source line.

use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err(text: impl Into<String>) -> ConfigError {
    ConfigError(text.into())
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct File {
    #[serde(default)]
    pub server: Server,
    pub core: Core,
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenSpec>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: String,
    /// PEM certificate chain and private key; both or neither (plain HTTP).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_body_bytes: usize,
    /// Time for a client to send a request's headers (and to finish the TLS handshake).
    pub header_timeout_ms: u64,
    /// Time for a client to send a request's body once its headers came.
    pub body_timeout_ms: u64,
    pub max_connections: usize,
    /// One JSON line per request; absent: standard output.
    pub audit_log: Option<PathBuf>,
    /// Re-read the config when its file changes, checking this often; 0 turns it off. The way
    /// to reload on Windows, which has no SIGHUP (the default there is 2000).
    pub watch_config_ms: u64,
}

impl Default for Server {
    fn default() -> Server {
        Server {
            listen: DEFAULT_LISTEN.into(),
            tls_cert: None,
            tls_key: None,
            max_body_bytes: 1 << 20,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            max_connections: 1024,
            audit_log: None,
            watch_config_ms: if cfg!(windows) { 2000 } else { 0 },
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Core {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub login: String,
    pub password_file: Option<PathBuf>,
    pub password_env: Option<String>,
    pub key1: Option<String>,
    pub key1_file: Option<PathBuf>,
    pub key1_env: Option<String>,
    pub key2: Option<String>,
    pub key2_file: Option<PathBuf>,
    pub key2_env: Option<String>,
    pub connect_timeout_ms: Option<u64>,
    pub io_timeout_ms: Option<u64>,
    pub call_timeout_ms: Option<u64>,
    /// Authenticated connections kept open to the core, each serving one request at a time.
    #[serde(default = "default_connections")]
    pub connections: usize,
    /// Requests that may wait for a connection; one more gets 503.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// The longest a request waits for a connection before it gets 503.
    #[serde(default = "default_queue_wait_ms")]
    pub queue_wait_ms: u64,
}

fn default_port() -> u16 {
    7403
}
fn default_connections() -> usize {
    4
}
fn default_queue() -> usize {
    256
}
fn default_queue_wait_ms() -> u64 {
    5000
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    pub name: String,
    /// Hex SHA-256 of the token (`mikrobill-gateway token new` prints it).
    pub sha256: String,
    pub paths: Vec<String>,
    /// A read-only token may only send `null` (or no value).
    #[serde(default = "yes")]
    pub read_only: bool,
    #[serde(default = "default_rate")]
    pub rate_per_second: u32,
    /// Requests allowed at once above the steady rate; defaults to `rate_per_second`.
    pub burst: Option<u32>,
}

fn yes() -> bool {
    true
}
fn default_rate() -> u32 {
    20
}

impl File {
    pub fn load(path: &Path) -> Result<File, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        File::parse(&text).map_err(|e| err(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<File, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
        file.validate()?;
        Ok(file)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.server.listen_addr()?;
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err(err("[server] tls_cert and tls_key go together"));
        }
        for (name, value) in [
            ("max_body_bytes", self.server.max_body_bytes as u64),
            ("header_timeout_ms", self.server.header_timeout_ms),
            ("body_timeout_ms", self.server.body_timeout_ms),
            ("max_connections", self.server.max_connections as u64),
        ] {
            if value == 0 {
                return Err(err(format!("[server] {name} must be positive")));
            }
        }
        let core = &self.core;
        if core.connections == 0 || core.queue_wait_ms == 0 {
            return Err(err("[core] connections and queue_wait_ms must be positive"));
        }
        let password_sources =
            core.password_file.is_some() as u8 + core.password_env.is_some() as u8;
        if password_sources != 1 {
            return Err(err(
                "[core] needs exactly one of password_file or password_env \
                 (the password is never written in the config itself)",
            ));
        }
        for (name, inline, file, env) in [
            ("key1", &core.key1, &core.key1_file, &core.key1_env),
            ("key2", &core.key2, &core.key2_file, &core.key2_env),
        ] {
            let n = inline.is_some() as u8 + file.is_some() as u8 + env.is_some() as u8;
            if n != 1 {
                return Err(err(format!(
                    "[core] needs exactly one of {name}, {name}_file or {name}_env"
                )));
            }
        }
        let mut names = std::collections::HashSet::new();
        let mut hashes = std::collections::HashSet::new();
        for token in &self.tokens {
            if token.name.is_empty() || !names.insert(token.name.as_str()) {
                return Err(err(format!(
                    "token names must be unique and not empty: {:?}",
                    token.name
                )));
            }
            if crate::tokens::parse_hash(&token.sha256).is_none() {
                return Err(err(format!(
                    "token {:?}: sha256 must be 64 hex digits",
                    token.name
                )));
            }
            if !hashes.insert(token.sha256.to_ascii_lowercase()) {
                return Err(err(format!(
                    "token {:?} has the same hash as another token",
                    token.name
                )));
            }
            if token.paths.is_empty() {
                return Err(err(format!("token {:?} has no paths", token.name)));
            }
            crate::scope::Scope::parse(&token.paths)
                .map_err(|e| err(format!("token {:?}: {e}", token.name)))?;
            if token.rate_per_second == 0 || token.burst == Some(0) {
                return Err(err(format!(
                    "token {:?}: rate_per_second and burst must be positive",
                    token.name
                )));
            }
        }
        Ok(())
    }

    /// The library's settings, with the secrets read from where the config says.
    pub fn core_config(&self) -> Result<mikrobill::Config, ConfigError> {
        let core = &self.core;
        let password = secret(
            "password",
            None,
            core.password_file.as_deref(),
            core.password_env.as_deref(),
        )?;
        let key1 = secret(
            "key1",
            core.key1.as_deref(),
            core.key1_file.as_deref(),
            core.key1_env.as_deref(),
        )?;
        let key2 = secret(
            "key2",
            core.key2.as_deref(),
            core.key2_file.as_deref(),
            core.key2_env.as_deref(),
        )?;
        let mut config =
            mikrobill::Config::new(&core.host, core.port, &core.login, password, key1, key2);
        if let Some(ms) = core.connect_timeout_ms {
            config.connect_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = core.io_timeout_ms {
            config.io_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = core.call_timeout_ms {
            config.call_timeout = Duration::from_millis(ms);
        }
        config.validate().map_err(|e| err(format!("[core]: {e}")))?;
        Ok(config)
    }
}

impl Server {
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            err(format!(
                "[server] listen must be IP:PORT (e.g. {DEFAULT_LISTEN}), not {:?}",
                self.listen
            ))
        })
    }

    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms)
    }
}

/// A secret from the config (keys only), a file (trailing line break dropped) or an environment
/// variable. Errors name the source, never the content.
fn secret(
    name: &str,
    inline: Option<&str>,
    file: Option<&Path>,
    env: Option<&str>,
) -> Result<String, ConfigError> {
    if let Some(value) = inline {
        return Ok(value.to_string());
    }
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("[core] {name}_file {}: {e}", path.display())))?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        return Ok(text.strip_suffix('\r').unwrap_or(text).to_string());
    }
    if let Some(var) = env {
        return std::env::var(var).map_err(|_| {
            err(format!(
                "[core] {name}_env: the environment variable {var} is not set or not UTF-8"
            ))
        });
    }
    Err(err(format!("[core] {name} has no source")))
}

/// "line L, column C: MESSAGE", without the source snippet that toml's Display shows: the line
/// may hold a key.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e.message();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            err(format!("line {line}, column {column}: {message}"))
        }
        None => err(message.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[core]
host = "127.0.0.1"
login = "api"
password_env = "MB_TEST_PASSWORD_UNSET_X"
key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
key2 = "EBESExQVFhcYGRobHB0eHw=="
"#;

    #[test]
    fn the_shipped_example_is_valid() {
        let f = File::parse(include_str!("../deploy/gateway.example.toml")).unwrap();
        assert_eq!(f.tokens.len(), 1);
        assert_eq!(
            f.server,
            Server {
                tls_cert: f.server.tls_cert.clone(),
                tls_key: f.server.tls_key.clone(),
                audit_log: f.server.audit_log.clone(),
                watch_config_ms: f.server.watch_config_ms,
                ..Server::default()
            }
        );
    }

    #[test]
    fn defaults_bind_loopback() {
        let f = File::parse(MINIMAL).unwrap();
        assert_eq!(f.server.listen, "127.0.0.1:8443");
        assert_eq!(f.core.port, 7403);
        assert!(f.tokens.is_empty());
    }

    #[test]
    fn a_syntax_error_does_not_quote_the_line() {
        let text = MINIMAL.replace(
            "key2 = \"EBESExQVFhcYGRobHB0eHw==\"",
            "key2 = \"EBESExQVFhcYGRobHB0eHw==",
        );
        let e = File::parse(&text).unwrap_err().to_string();
        assert!(!e.contains("EBESExQV"), "{e}");
        assert!(e.starts_with("line 7,"), "{e}");
    }

    #[test]
    fn an_inline_password_is_refused() {
        let text = MINIMAL.replace("password_env", "password");
        let e = File::parse(&text).unwrap_err().to_string();
        assert!(e.contains("unknown field `password`"), "{e}");
        let text = MINIMAL.replace(
            "password_env = \"MB_TEST_PASSWORD_UNSET_X\"",
            "password_env = \"X\"\npassword_file = \"/y\"",
        );
        assert!(File::parse(&text).is_err());
    }

    #[test]
    fn a_missing_secret_names_its_source_only() {
        let f = File::parse(MINIMAL).unwrap();
        let e = f.core_config().unwrap_err().to_string();
        assert!(e.contains("MB_TEST_PASSWORD_UNSET_X"), "{e}");
    }

    #[test]
    fn tokens_are_checked() {
        let token = |extra: &str| {
            format!(
                "{MINIMAL}\n[[token]]\nname = \"a\"\nsha256 = \"{}\"\npaths = [\"API.GetClients\"]\n{extra}",
                "ab".repeat(32)
            )
        };
        let f = File::parse(&token("")).unwrap();
        assert!(f.tokens[0].read_only);
        assert_eq!(f.tokens[0].rate_per_second, 20);
        assert!(File::parse(&token("rate_per_second = 0")).is_err());
        let twice = format!(
            "{}\n[[token]]\nname = \"a\"\nsha256 = \"{}\"\npaths = [\"*\"]\n",
            token(""),
            "cd".repeat(32)
        );
        assert!(File::parse(&twice).is_err());
        let bad_hash = token("").replace(&"ab".repeat(32), "xyz");
        assert!(File::parse(&bad_hash).is_err());
        let bad_path = token("").replace("API.GetClients", "API.Get*");
        assert!(File::parse(&bad_path).is_err());
    }
}
