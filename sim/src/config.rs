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
            password: DEMO_PASSWORD.into(),
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
