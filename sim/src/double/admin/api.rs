//! The control API's routes (listed in openapi.json). Every reply is JSON except the dashboard;
//! errors are `{"error":TEXT}` with a 4xx status. Client GUIDs are strings here because a
//! browser's JSON loses integers above 2^53. Keys and cashier passwords are never in any reply;
//! account passwords are shown as "***".

use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

use crate::double::faults::FaultSpec;
use crate::double::pattern::PathPattern;
use crate::double::stubs::StubSpec;
use crate::double::TestDouble;
use crate::net::Server;
use crate::state::model::Client;
use crate::state::store::Store;

pub const OPENAPI: &str = include_str!("openapi.json");
pub const DASHBOARD: &str = include_str!("dashboard.html");

/// Largest request body accepted (a stub's reply may be big, but not this big).
pub const MAX_BODY: usize = 1024 * 1024;
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;

/// Builds a fresh store from the dataset the simulator started with.
pub type Reset = Box<dyn Fn() -> Result<Store, String> + Send + Sync>;

pub struct Admin {
    pub server: Arc<Server>,
    pub double: Arc<TestDouble>,
    pub reset: Reset,
    /// --admin-allow-remote: any Host header is accepted.
    pub allow_remote: bool,
}

pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

fn ok(value: impl Serialize) -> Answer {
    Answer {
        status: 200,
        content_type: "application/json",
        body: serde_json::to_string(&value).unwrap_or_else(|_| "null".into()),
    }
}

pub fn error(status: u16, text: &str) -> Answer {
    Answer {
        status,
        content_type: "application/json",
        body: json!({ "error": text }).to_string(),
    }
}

/// A client as the API shows it: GUIDs as strings, account passwords masked.
fn client_view(client: &Client) -> Value {
    let mut v = serde_json::to_value(client).unwrap_or(Value::Null);
    if let Some(g) = v.get_mut("GUID") {
        *g = Value::from(client.guid.to_string());
    }
    if let Some(accounts) = v.get_mut("Accounts").and_then(Value::as_array_mut) {
        for (account, real) in accounts.iter_mut().zip(&client.accounts) {
            account["GUID"] = Value::from(real.guid.to_string());
            account["Password"] = Value::from("***");
        }
    }
    v
}

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(text: &str) -> Query {
        Query(
            form_urlencoded::parse(text.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn number(&self, name: &str) -> Result<Option<u64>, Answer> {
        self.get(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| error(400, &format!("{name} must be a non-negative integer")))
            })
            .transpose()
    }

    fn limit(&self) -> Result<usize, Answer> {
        let limit = self.number("limit")?.unwrap_or(DEFAULT_LIMIT as u64);
        Ok(usize::try_from(limit).unwrap_or(MAX_LIMIT).min(MAX_LIMIT))
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Answer> {
    serde_json::from_slice(body).map_err(|e| error(400, &format!("request body: {e}")))
}

fn id(segment: &str) -> Result<u64, Answer> {
    segment
        .parse()
        .map_err(|_| error(400, &format!("not an id: {segment}")))
}

impl Admin {
    pub fn route(&self, method: &str, url: &str, body: &[u8]) -> Answer {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let query = Query::parse(query);
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let result = match (method, segments.as_slice()) {
            ("GET", [""]) => Ok(Answer {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: DASHBOARD.into(),
            }),
            ("GET", ["openapi.json"]) => Ok(Answer {
                status: 200,
                content_type: "application/json",
                body: OPENAPI.into(),
            }),
            ("GET", ["api", "counts"]) => Ok(ok(self.double.counts())),
            ("GET", ["api", "journal"]) => self.journal(&query),
            ("DELETE", ["api", "journal"]) => {
                self.double.clear_journal();
                Ok(ok(json!({ "cleared": true })))
            }
            ("GET", ["api", "clients"]) => self.clients(&query),
            ("GET", ["api", "clients", guid]) => self.client(guid),
            ("POST", ["api", "reset"]) => self.reset(),
            ("GET", ["api", "stubs"]) => self
                .double
                .stubs_json()
                .map(|body| Answer {
                    status: 200,
                    content_type: "application/json",
                    body,
                })
                .map_err(|e| error(500, &format!("cannot list the stubs: {e}"))),
            ("POST", ["api", "stubs"]) => parse_body::<StubSpec>(body).and_then(|spec| {
                self.double
                    .add_stub(spec)
                    .map(|id| ok(json!({ "id": id })))
                    .map_err(|e| error(400, &e))
            }),
            ("DELETE", ["api", "stubs"]) => {
                self.double.clear_stubs();
                Ok(ok(json!({ "cleared": true })))
            }
            ("DELETE", ["api", "stubs", n]) => id(n).and_then(|n| {
                if self.double.remove_stub(n) {
                    Ok(ok(json!({ "removed": n })))
                } else {
                    Err(error(404, &format!("no stub {n}")))
                }
            }),
            ("GET", ["api", "faults"]) => Ok(ok(json!({ "faults": self.double.faults() }))),
            ("POST", ["api", "faults"]) => parse_body::<FaultSpec>(body).and_then(|spec| {
                self.double
                    .add_fault(spec)
                    .map(|id| ok(json!({ "id": id })))
                    .map_err(|e| error(400, &e))
            }),
            ("DELETE", ["api", "faults"]) => {
                self.double.clear_faults();
                Ok(ok(json!({ "cleared": true })))
            }
            ("DELETE", ["api", "faults", n]) => id(n).and_then(|n| {
                if self.double.remove_fault(n) {
                    Ok(ok(json!({ "removed": n })))
                } else {
                    Err(error(404, &format!("no fault {n}")))
                }
            }),
            (_, [""] | ["openapi.json"])
            | (_, ["api", "counts" | "journal" | "clients" | "reset" | "stubs" | "faults"])
            | (_, ["api", "clients" | "stubs" | "faults", _]) => {
                Err(error(405, &format!("{method} is not allowed on {path}")))
            }
            _ => Err(error(404, &format!("no such route: {path}"))),
        };
        result.unwrap_or_else(|e| e)
    }

    fn journal(&self, query: &Query) -> Result<Answer, Answer> {
        let pattern = query
            .get("path")
            .map(PathPattern::new)
            .transpose()
            .map_err(|e| error(400, &e))?;
        let since = query.number("since")?;
        let entries = self
            .double
            .journal_entries(pattern.as_ref(), since, query.limit()?);
        Ok(ok(json!({ "entries": entries })))
    }

    fn clients(&self, query: &Query) -> Result<Answer, Answer> {
        let limit = query.limit()?;
        let clients: Vec<Value> = self.server.engine().inspect(|store| {
            let guids: Vec<u64> = match query.get("search") {
                Some(text) => store.search(text).into_iter().take(limit).collect(),
                None => store.guids().take(limit).collect(),
            };
            guids
                .into_iter()
                .filter_map(|g| store.client(g).map(|c| client_view(&c)))
                .collect()
        });
        Ok(ok(json!({ "clients": clients })))
    }

    fn client(&self, guid: &str) -> Result<Answer, Answer> {
        let n: u64 = guid
            .parse()
            .map_err(|_| error(400, &format!("not a client GUID: {guid}")))?;
        self.server
            .engine()
            .inspect(|store| store.client(n).map(|c| client_view(&c)))
            .map(ok)
            .ok_or_else(|| error(404, &format!("unknown client: {n}")))
    }

    fn reset(&self) -> Result<Answer, Answer> {
        let store =
            (self.reset)().map_err(|e| error(500, &format!("cannot reload the dataset: {e}")))?;
        self.server
            .engine()
            .replace(store)
            .map_err(|e| error(500, &format!("cannot write the state file: {e}")))?;
        // The counts stay: --session-counts shows the same tally and only moves forward
        // (crate::double::session_counts).
        self.double.rewind();
        Ok(ok(json!({ "reset": true })))
    }
}
