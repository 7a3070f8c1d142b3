//! Stubs: canned replies for request paths, optionally for one request value, optionally tied to
//! a scenario state (WireMock-style: a stub may require a state and move the scenario to another,
//! so a set can change what a later read returns). Scenarios start in state "Started".

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::pattern::PathPattern;
use mikrobill::protocol::phpjson;

pub const INITIAL_STATE: &str = "Started";

/// A stub as the config and the control API give it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StubSpec {
    pub path: PathPattern,
    /// Absent: any value matches. Present (even `null`): the request value must equal it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
    /// The reply's "return" member.
    #[serde(default = "ok_text", rename = "return")]
    pub ret: Value,
    #[serde(default)]
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// The scenario state this stub answers in; absent means any state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_state: Option<String>,
    /// The state the scenario moves to after this stub answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_state: Option<String>,
}

fn ok_text() -> Value {
    Value::from("OK")
}

/// Keeps an explicit `null` apart from an absent member.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl StubSpec {
    pub fn check(&self) -> Result<(), String> {
        if (self.required_state.is_some() || self.new_state.is_some()) && self.scenario.is_none() {
            return Err("required_state and new_state need a scenario".into());
        }
        Ok(())
    }

    pub fn reply_text(&self) -> String {
        format!(
            r#"{{"return":{},"code":{}}}"#,
            phpjson::encode(&self.ret),
            self.code
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Stub {
    pub id: u64,
    #[serde(flatten)]
    pub spec: StubSpec,
}

/// At most this many stubs at once, holding at most MAX_STUB_BYTES of JSON in all: a stub's
/// reply may be big, but the stubs (and so a listing of them) stay bounded however many a
/// client adds.
pub const MAX_STUBS: usize = 1000;
pub const MAX_STUB_BYTES: usize = 16 * 1024 * 1024;

#[derive(Default)]
pub struct Stubs {
    /// Oldest first; the newest matching stub wins. Each with its size in JSON.
    list: Vec<Stub>,
    sizes: Vec<usize>,
    bytes: usize,
    scenarios: BTreeMap<String, String>,
}

impl Stubs {
    pub fn add(&mut self, id: u64, spec: StubSpec) -> Result<(), String> {
        let size = serde_json::to_string(&spec).map_or(0, |text| text.len());
        if self.list.len() >= MAX_STUBS {
            return Err(format!(
                "there are already {MAX_STUBS} stubs, the most the simulator keeps; remove some first"
            ));
        }
        if self.bytes + size > MAX_STUB_BYTES {
            return Err(format!(
                "this stub ({size} bytes of JSON) would take the stubs past {MAX_STUB_BYTES} bytes \
                 in all; remove some first"
            ));
        }
        self.list.push(Stub { id, spec });
        self.sizes.push(size);
        self.bytes += size;
        Ok(())
    }

    pub fn remove(&mut self, id: u64) -> bool {
        let Some(at) = self.list.iter().position(|s| s.id == id) else {
            return false;
        };
        self.list.remove(at);
        self.bytes -= self.sizes.remove(at);
        true
    }

    pub fn clear(&mut self) {
        self.list.clear();
        self.sizes.clear();
        self.bytes = 0;
        self.scenarios.clear();
    }

    pub fn reset_scenarios(&mut self) {
        self.scenarios.clear();
    }

    pub fn list(&self) -> &[Stub] {
        &self.list
    }

    /// Every scenario a stub names, with its current state.
    pub fn scenarios(&self) -> BTreeMap<String, String> {
        self.list
            .iter()
            .filter_map(|s| s.spec.scenario.clone())
            .map(|name| {
                let state = self.state(&name).to_string();
                (name, state)
            })
            .collect()
    }

    fn state(&self, scenario: &str) -> &str {
        self.scenarios
            .get(scenario)
            .map_or(INITIAL_STATE, String::as_str)
    }

    /// The reply of the newest stub matching the request, moving its scenario on.
    pub fn answer(&mut self, path: &str, value: &Value) -> Option<(u64, String)> {
        let stub = self.list.iter().rev().find(|s| {
            let spec = &s.spec;
            spec.path.matches(path)
                && spec.value.as_ref().is_none_or(|v| v == value)
                && match (&spec.scenario, &spec.required_state) {
                    (Some(name), Some(want)) => self.state(name) == want,
                    _ => true,
                }
        })?;
        let answer = (stub.id, stub.spec.reply_text());
        if let (Some(name), Some(next)) = (&stub.spec.scenario, &stub.spec.new_state) {
            let (name, next) = (name.clone(), next.clone());
            self.scenarios.insert(name, next);
        }
        Some(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stubs_stay_within_their_count_and_bytes() {
        let mut stubs = Stubs::default();
        for id in 0..MAX_STUBS as u64 {
            stubs.add(id, spec(r#"{"path":"P"}"#)).unwrap();
        }
        let err = stubs.add(0, spec(r#"{"path":"P"}"#)).unwrap_err();
        assert!(err.contains("already 1000 stubs"), "{err}");
        stubs.clear();
        let big = format!(r#"{{"path":"P","return":"{}"}}"#, "x".repeat(1024 * 1024));
        for id in 0..15 {
            stubs.add(id, spec(&big)).unwrap();
        }
        let err = stubs.add(15, spec(&big)).unwrap_err();
        assert!(err.contains("past 16777216 bytes"), "{err}");
        // Removing one makes room again.
        assert!(stubs.remove(3));
        stubs.add(15, spec(&big)).unwrap();
    }

    fn spec(json: &str) -> StubSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn newest_match_wins_and_value_null_is_not_absent() {
        let mut stubs = Stubs::default();
        stubs
            .add(1, spec(r#"{"path":"API.Tariff.*.Name","return":"any"}"#))
            .unwrap();
        stubs
            .add(
                2,
                spec(r#"{"path":"API.Tariff.*.Name","value":null,"return":"read"}"#),
            )
            .unwrap();
        assert_eq!(
            stubs.answer("API.Tariff.3.Name", &Value::Null).unwrap().1,
            r#"{"return":"read","code":0}"#
        );
        assert_eq!(
            stubs
                .answer("API.Tariff.3.Name", &Value::from("x"))
                .unwrap()
                .0,
            1
        );
        assert!(stubs.answer("API.Other", &Value::Null).is_none());
    }

    #[test]
    fn a_scenario_moves_on() {
        let mut stubs = Stubs::default();
        stubs.add(1, spec(r#"{"path":"P","value":null,"return":"0","scenario":"pay","required_state":"Started"}"#)).unwrap();
        stubs
            .add(
                2,
                spec(r#"{"path":"P","value":"100","scenario":"pay","new_state":"Paid"}"#),
            )
            .unwrap();
        stubs.add(3, spec(r#"{"path":"P","value":null,"return":"100","scenario":"pay","required_state":"Paid"}"#)).unwrap();
        let read = |s: &mut Stubs| s.answer("P", &Value::Null).unwrap().1;
        assert_eq!(read(&mut stubs), r#"{"return":"0","code":0}"#);
        assert_eq!(stubs.answer("P", &Value::from("100")).unwrap().0, 2);
        assert_eq!(read(&mut stubs), r#"{"return":"100","code":0}"#);
        assert_eq!(stubs.scenarios()["pay"], "Paid");
        assert!(spec(r#"{"path":"P","new_state":"x"}"#).check().is_err());
    }
}
