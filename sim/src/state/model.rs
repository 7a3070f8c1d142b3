//! The simulated core's data: clients with their accounts and extra personal-data fields. The same
//! structs are the JSON dataset format (see docs/simulator.md), so a snapshot of the state is a
//! dataset that can be loaded again.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    #[serde(rename = "GUID")]
    pub guid: u64,
    #[serde(rename = "IP", default)]
    pub ip: String,
    #[serde(rename = "MAC", default)]
    pub mac: String,
    #[serde(rename = "Login", default)]
    pub login: String,
    #[serde(rename = "Password", default)]
    pub password: String,
    #[serde(rename = "PPP_IP", default)]
    pub ppp_ip: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub id: u64,
    #[serde(rename = "FieldName", default)]
    pub name: String,
    #[serde(rename = "FieldValue", default)]
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
pub struct Client {
    #[serde(rename = "GUID")]
    pub guid: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default = "zero_money")]
    pub money: String,
    #[serde(default)]
    pub default_interface: String,
    #[serde(default)]
    pub tariff: String,
    #[serde(default)]
    pub group: String,
    #[serde(default = "not_blocked")]
    pub block_reason: i64,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub current_speed_limit_in: i64,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub mobile_tel: String,
    #[serde(default)]
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub fields: Vec<Field>,
}

fn zero_money() -> String {
    "0.00".to_string()
}

fn not_blocked() -> i64 {
    -1
}

impl Client {
    pub fn account(&self, guid: u64) -> Option<&Account> {
        self.accounts.iter().find(|a| a.guid == guid)
    }

    pub fn account_mut(&mut self, guid: u64) -> Option<&mut Account> {
        self.accounts.iter_mut().find(|a| a.guid == guid)
    }

    pub fn field(&self, id: u64) -> Option<&Field> {
        self.fields.iter().find(|f| f.id == id)
    }

    pub fn field_mut(&mut self, id: u64) -> Option<&mut Field> {
        self.fields.iter_mut().find(|f| f.id == id)
    }

    /// Search as `API.GetClients "text"` does: case-insensitive substring of the name, any account
    /// login or any extra-field value (the contract number lives in one). `needle` is lowercase.
    pub fn matches(&self, needle: &str) -> bool {
        contains_folded(&self.name, needle)
            || self
                .accounts
                .iter()
                .any(|a| contains_folded(&a.login, needle))
            || self
                .fields
                .iter()
                .any(|f| contains_folded(&f.value, needle))
    }
}

fn contains_folded(haystack: &str, needle: &str) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        return haystack
            .as_bytes()
            .windows(needle.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
            || needle.is_empty();
    }
    haystack.to_lowercase().contains(needle)
}

/// A dataset file: optional synthetic clients plus explicit ones. Explicit clients whose GUID falls
/// in the generated range replace the generated client with that GUID.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generate: u64,
    #[serde(default)]
    pub clients: Vec<Client>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
