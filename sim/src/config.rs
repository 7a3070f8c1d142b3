//! The --config file: keys and cashiers (see docs/simulator.md). Without it the contract's demo
//! keys and cashiers apply.

use serde::Deserialize;
use std::path::Path;

pub const DEMO_KEY1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const DEMO_KEY2: &str = "EBESExQVFhcYGRobHB0eHw==";
pub const DEMO_LOGIN: &str = "api";
pub const DEMO_PASSWORD: &str = "secret";

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cashier {
    pub login: String,
    pub password: String,
    /// The cashier profile's "may connect through the API" right.
    #[serde(default = "yes")]
    pub api: bool,
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
}

impl Default for Config {
    fn default() -> Config {
        let cashier = |login: &str, api| Cashier {
            login: login.into(),
            password: DEMO_PASSWORD.into(),
            api,
        };
        Config {
            key1: DEMO_KEY1.into(),
            key2: DEMO_KEY2.into(),
            cashiers: vec![cashier(DEMO_LOGIN, true), cashier("noapi", false)],
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        refuse_non_string_secrets(&value).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn cashier(&self, login: &str) -> Option<&Cashier> {
        self.cashiers.iter().find(|c| c.login == login)
    }
}

/// serde's type errors quote the value they refuse (``invalid type: integer `1234` ``): keys and
/// passwords of the wrong JSON type are refused first, by their type alone.
fn refuse_non_string_secrets(config: &serde_json::Value) -> Result<(), String> {
    let kind = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    };
    let check = |v: Option<&serde_json::Value>, name: &str| match v {
        Some(v) if !v.is_string() => Err(format!(
            "{name} must be a string, not {} (its value is not shown)",
            kind(v)
        )),
        _ => Ok(()),
    };
    check(config.get("key1"), "key1")?;
    check(config.get("key2"), "key2")?;
    if let Some(cashiers) = config.get("cashiers").and_then(|c| c.as_array()) {
        for (i, cashier) in cashiers.iter().enumerate() {
            check(cashier.get("password"), &format!("cashiers[{i}].password"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
            let e = super::Config::load(&file).err().unwrap();
            assert!(e.contains(key) && !e.contains("73519284"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

// Keys and passwords must never reach a log line, so Debug is deliberately not derived.
