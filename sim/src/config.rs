//! The --config file: keys and cashiers (see docs/simulator.md). Without it the contract's demo
//! keys and cashiers apply.

use serde::Deserialize;
use std::path::Path;

use crate::error::SimError;

pub const DEMO_KEY1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const DEMO_KEY2: &str = "EBESExQVFhcYGRobHB0eHw==";
pub const DEMO_LOGIN: &str = "api";
pub const DEMO_PASSWORD: &str = "secret";

#[derive(Clone, Deserialize)]
#[serde(try_from = "CashierSpec")]
pub struct Cashier {
    pub login: String,
    /// The password's bytes: the auth proves sha1(these bytes . sign), so a password saved in a
    /// legacy encoding (CP1251) is checked byte for byte, as the real core would.
    pub password: Vec<u8>,
    /// The cashier profile's "may connect through the API" right.
    pub api: bool,
}

impl Cashier {
    /// A cashier of the `--cashier LOGIN:BASE64` flag, with the API right; `None` when it is
    /// not a login, a colon and base64.
    pub fn from_flag(text: &str) -> Option<Cashier> {
        use base64::Engine as _;
        let (login, b64) = text.split_once(':')?;
        let password = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        (!login.is_empty()).then(|| Cashier {
            login: login.to_string(),
            password,
            api: true,
        })
    }
}

/// A cashier as the config file writes it: the password as text (`password`, hashed as its
/// UTF-8 bytes) or as raw bytes in base64 (`password_base64`), exactly one of them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CashierSpec {
    login: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    password_base64: Option<String>,
    #[serde(default = "yes")]
    api: bool,
}

impl TryFrom<CashierSpec> for Cashier {
    type Error = String;

    /// The errors name the keys, never the password or the offending base64 symbol.
    fn try_from(spec: CashierSpec) -> Result<Cashier, String> {
        use base64::Engine as _;
        let password = match (spec.password, spec.password_base64) {
            (Some(text), None) => text.into_bytes(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| {
                    format!(
                        "cashier {:?}: password_base64 is not valid base64",
                        spec.login
                    )
                })?,
            (Some(_), Some(_)) => {
                return Err(format!(
                    "cashier {:?}: give password or password_base64, not both",
                    spec.login
                ))
            }
            (None, None) => {
                return Err(format!(
                    "cashier {:?}: password or password_base64 is required",
                    spec.login
                ))
            }
        };
        Ok(Cashier {
            login: spec.login,
            password,
            api: spec.api,
        })
    }
}

fn yes() -> bool {
    true
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub key1: String,
    pub key2: String,
    pub cashiers: Vec<Cashier>,
    /// Canned replies (docs/simulator.md, "Stubs").
    #[serde(default)]
    pub stubs: Vec<crate::double::stubs::StubSpec>,
    /// Faults and delays (docs/simulator.md, "Faults and delays").
    #[serde(default)]
    pub faults: Vec<crate::double::faults::FaultSpec>,
}

impl Default for Config {
    fn default() -> Config {
        let cashier = |login: &str, api| Cashier {
            login: login.into(),
            password: DEMO_PASSWORD.as_bytes().to_vec(),
            api,
        };
        Config {
            key1: DEMO_KEY1.into(),
            key2: DEMO_KEY2.into(),
            cashiers: vec![cashier(DEMO_LOGIN, true), cashier("noapi", false)],
            stubs: Vec::new(),
            faults: Vec::new(),
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, SimError> {
        let text = std::fs::read_to_string(path).map_err(SimError::file(path))?;
        let json = |source| SimError::Json {
            path: path.to_path_buf(),
            source,
        };
        // serde's type errors quote the value they refuse (``invalid type: integer `1234` ``):
        // keys and passwords of the wrong JSON type are refused first, by their type alone.
        let value: serde_json::Value = serde_json::from_str(&text).map_err(json)?;
        if let Some((key, kind)) = non_string_secret(&value) {
            return Err(SimError::SecretNotText {
                path: path.to_path_buf(),
                key,
                kind,
            });
        }
        serde_json::from_str(&text).map_err(|source| SimError::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    pub fn cashier(&self, login: &str) -> Option<&Cashier> {
        self.cashiers.iter().find(|c| c.login == login)
    }
}

// Keys and passwords must never reach a log line, so Debug is deliberately not derived.

/// The first key or password that is present but not a string, with its JSON type.
fn non_string_secret(config: &serde_json::Value) -> Option<(String, &'static str)> {
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    };
    let mut secrets: Vec<(String, &serde_json::Value)> = ["key1", "key2"]
        .into_iter()
        .filter_map(|k| Some((k.to_string(), config.get(k)?)))
        .collect();
    if let Some(cashiers) = config.get("cashiers").and_then(|c| c.as_array()) {
        for (i, cashier) in cashiers.iter().enumerate() {
            for key in ["password", "password_base64"] {
                if let Some(password) = cashier.get(key) {
                    secrets.push((format!("cashiers[{i}].{key}"), password));
                }
            }
        }
    }
    secrets
        .into_iter()
        .find(|(_, v)| !v.is_string())
        .map(|(key, v)| (key, kind(v)))
}

#[cfg(test)]
mod secret_tests {
    #[test]
    fn a_secret_of_the_wrong_type_is_refused_without_its_value() {
        let dir = std::env::temp_dir().join(format!("mb-sim-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.json");
        for (json, key) in [
            (r#"{"key1":73519284,"key2":"x","cashiers":[]}"#, "key1"),
            (r#"{"key1":"x","key2":[73519284],"cashiers":[]}"#, "key2"),
            (
                r#"{"key1":"x","key2":"y","cashiers":[{"login":"a","password":73519284}]}"#,
                "cashiers[0].password",
            ),
        ] {
            std::fs::write(&file, json).unwrap();
            let e = super::Config::load(&file).err().unwrap().to_string();
            assert!(e.contains(key) && !e.contains("73519284"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
