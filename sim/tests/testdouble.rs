//! The simulator as a test double: stubs, faults and delays seen by the project's own client,
//! every control-API route (with bad input), and the journal and counts under 64 clients.

use mikrobill::code;
use mikrobill_testkit::sim::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A simulator with the control API on a free loopback port.
struct Double {
    sim: Sim,
    admin: String,
    _dir: Option<TempDir>,
}

fn start(args: &[&str], dir: Option<TempDir>) -> Double {
    let sim = Sim::launch().args(args).admin("127.0.0.1:0").start();
    let admin = sim.admin.clone().expect("started with the control API");
    Double {
        sim,
        admin,
        _dir: dir,
    }
}

fn with_config(name: &str, config: Value) -> Double {
    let dir = TempDir::new(name);
    let path = dir.0.join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    start(&["--config", path.to_str().unwrap()], Some(dir))
}

/// The demo config plus `extra` (stubs, faults).
fn demo_config(extra: Value) -> Value {
    let mut c = json!({
        "key1": KEY1, "key2": KEY2,
        "cashiers": [{"login": DEMO_LOGIN, "password": DEMO_PASSWORD}, {"login": "noapi", "password": DEMO_PASSWORD, "api": false}]
    });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// One HTTP/1.0 exchange (the test side only; the server is tiny_http). Returns status and body.
fn http(admin: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {admin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// The whole response to a hand-written request (for headers `http` always sets right).
fn raw_response(admin: &str, request: &str) -> String {
    let mut s = TcpStream::connect(admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw
}

fn raw_status(admin: &str, request: &str) -> u16 {
    raw_response(admin, request)
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

impl Double {
    fn get(&self, path: &str) -> Value {
        let (status, body) = http(&self.admin, "GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        parse(&body)
    }

    fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (status, text) = http(&self.admin, method, path, Some(&body.to_string()));
        (status, parse(&text))
    }

    fn client_with_timeout(&self, ms: u64) -> mikrobill::Client {
        let mut cfg = self.sim.config();
        cfg.io_timeout = Duration::from_millis(ms);
        mikrobill::Client::new(cfg).unwrap()
    }
}

const TARIFF_NAME: &str = "API.Tariffs.7.Name";
const NAME: &str = "API.Client.633824158637492.AutorizeInfo.Name";

#[test]
fn an_undocumented_path_is_served_by_a_stub_with_a_scenario() {
    let d = with_config(
        "stubs",
        demo_config(json!({"stubs": [
            {"path": "API.Tariffs.*.Name", "return": "Unlimited 100"},
            {"path": "API.Payments.Balance", "value": null, "return": "0", "scenario": "pay", "required_state": "Started"},
            {"path": "API.Payments.Add", "value": "150", "scenario": "pay", "new_state": "Paid"},
            {"path": "API.Payments.Balance", "value": null, "return": "150", "scenario": "pay", "required_state": "Paid"},
            {"path": NAME, "return": "stubbed name"},
            {"path": "API.Broken", "return": "no such thing", "code": 201}
        ]})),
    );
    let mut c = d.sim.client();
    assert_eq!(
        call(&mut c, TARIFF_NAME, None),
        r#"{"return":"Unlimited 100","code":0}"#
    );
    assert_eq!(ret(&call(&mut c, "API.Payments.Balance", None)), "0");
    // A value the stub does not name falls through to the tree: 201, unknown path.
    assert_eq!(code(&call(&mut c, "API.Payments.Add", Some("\"99\""))), 201);
    assert_eq!(code(&call(&mut c, "API.Payments.Add", Some("\"150\""))), 0);
    assert_eq!(ret(&call(&mut c, "API.Payments.Balance", None)), "150");
    // Stubs win over the built-in tree.
    assert_eq!(ret(&call(&mut c, NAME, None)), "stubbed name");
    assert_eq!(code(&call(&mut c, "API.Broken", None)), 201);
    let stubs = d.get("/api/stubs");
    assert_eq!(stubs["scenarios"]["pay"], "Paid");
    // The journal says who answered.
    let journal = d.get("/api/journal?path=API.Payments.*");
    let sources: Vec<&str> = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["stub", "tree", "stub", "stub"]);
    // Reset puts the scenario back to Started.
    assert_eq!(d.send("POST", "/api/reset", json!({})).0, 200);
    assert_eq!(ret(&call(&mut c, "API.Payments.Balance", None)), "0");
}

#[test]
fn faults_and_delays_reach_the_client_with_the_documented_codes() {
    let d = with_config(
        "faults",
        demo_config(json!({"faults": [
            {"path": "API.GetClients", "action": "delay", "delay_ms": 300}
        ]})),
    );
    let mut c = d.client_with_timeout(1500);
    let t = Instant::now();
    assert_eq!(code(&call(&mut c, "API.GetClients", None)), 0);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let delayed = d.get("/api/journal?path=API.GetClients");
    assert!(delayed["entries"][0]["elapsed_ms"].as_u64().unwrap() >= 300);
    assert_eq!(delayed["entries"][0]["source"], "tree");

    let fault = |spec: Value| {
        let (status, body) = d.send("POST", "/api/faults", spec);
        assert_eq!(status, 200, "{body}");
        body["id"].as_u64().unwrap()
    };
    let expect_err = |c: &mut mikrobill::Client, path: &str, want: i64| {
        let e = c.process(path, None).expect_err(path);
        assert_eq!(e.code(), want, "{path}: {}", e.to_json());
    };
    let id = fault(json!({"path": NAME, "action": "error", "code": 301, "text": "core busy"}));
    assert_eq!(
        call(&mut c, NAME, None),
        r#"{"return":"core busy","code":301}"#
    );
    assert_eq!(
        d.send("DELETE", &format!("/api/faults/{id}"), json!({})).0,
        200
    );
    assert_eq!(ret(&call(&mut c, NAME, None)), "Иванов Иван Иванович");

    fault(json!({"path": "API.Client.*.BillingInfo.Money", "action": "close"}));
    expect_err(
        &mut c,
        "API.Client.633824158637492.BillingInfo.Money",
        code::CONNECTION_LOST,
    );
    fault(json!({"path": "API.Client.*.BillingInfo.Tariff", "action": "truncate"}));
    expect_err(
        &mut c,
        "API.Client.633824158637492.BillingInfo.Tariff",
        code::CONNECTION_LOST,
    );
    fault(json!({"path": "API.Client.*.BillingInfo.Group", "action": "no_reply"}));
    expect_err(
        &mut c,
        "API.Client.633824158637492.BillingInfo.Group",
        code::TIMEOUT,
    );
    // Other paths are untouched, on a new connection.
    assert_eq!(code(&call(&mut c, "API.GetClients", None)), 0);
    // A fault for all traffic.
    fault(json!({"action": "error", "code": 302, "text": "maintenance"}));
    assert_eq!(code(&call(&mut c, "API.GetClients", None)), 302);
    assert_eq!(d.send("DELETE", "/api/faults", json!({})).0, 200);
    assert_eq!(code(&call(&mut c, "API.GetClients", None)), 0);
    let journal = d.get("/api/journal?path=API.Client.*.BillingInfo.*");
    let codes: Vec<&Value> = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["code"])
        .collect();
    // close, truncate and no_reply send no (whole) reply: the journal says null.
    assert_eq!(codes, [&Value::Null, &Value::Null, &Value::Null]);
}

#[test]
fn every_control_route_including_bad_input() {
    let d = start(&[], None);
    let mut c = d.sim.client();
    assert_eq!(code(&call(&mut c, NAME, Some("\"Renamed\""))), 0);
    let pw = format!("API.Client.633824158637492.AutorizeInfo.Accounts.{IVANOV_ACC}.Password");
    assert_eq!(code(&call(&mut c, &pw, Some("\"hunter2\""))), 0);
    c.disconnect();

    // Dashboard and OpenAPI document.
    let (status, html) = http(&d.admin, "GET", "/", None);
    assert_eq!(status, 200);
    assert!(html.contains("Request journal"), "{html}");
    let openapi = d.get("/openapi.json");
    assert_eq!(openapi["openapi"], "3.0.3");
    for route in [
        "/api/counts",
        "/api/journal",
        "/api/clients",
        "/api/clients/{guid}",
        "/api/reset",
        "/api/stubs",
        "/api/stubs/{id}",
        "/api/faults",
        "/api/faults/{id}",
    ] {
        assert!(openapi["paths"].get(route).is_some(), "{route}");
    }

    // Counts and journal.
    let counts = d.get("/api/counts");
    assert_eq!(counts["auths_granted"], 1);
    assert_eq!(counts["disconnects"], 1);
    assert_eq!(counts["requests"], 2);
    let journal = d.get("/api/journal");
    let entries = journal["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["cashier"], DEMO_LOGIN);
    assert_eq!(entries[0]["value"], "Renamed");
    assert_eq!(entries[1]["value"], "***", "account passwords are masked");
    let since = entries[0]["seq"].as_u64().unwrap();
    assert_eq!(
        d.get(&format!("/api/journal?since={since}"))["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        d.get("/api/journal?limit=1")["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        d.get("/api/journal?path=API.Client.*.AutorizeInfo.Name")["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(d.send("GET", "/api/journal?since=x", json!({})).0, 400);
    assert_eq!(d.send("GET", "/api/journal?path=API.Cl*", json!({})).0, 400);
    assert_eq!(d.send("DELETE", "/api/journal", json!({})).0, 200);
    assert!(d.get("/api/journal")["entries"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        d.get("/api/counts")["requests"],
        2,
        "clearing keeps the counts"
    );

    // Client state, never with a password.
    let ivanov = d.get(&format!("/api/clients/{IVANOV}"));
    assert_eq!(ivanov["GUID"], IVANOV.to_string());
    assert_eq!(ivanov["Name"], "Renamed");
    assert_eq!(ivanov["Accounts"][0]["Password"], "***");
    let all = d.get("/api/clients");
    assert_eq!(all["clients"].as_array().unwrap().len(), 3);
    assert_eq!(
        d.get("/api/clients?search=Renamed")["clients"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (status, body) = d.send("GET", "/api/clients/12345", json!({}));
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (404, "unknown client: 12345")
    );
    assert_eq!(d.send("GET", "/api/clients/abc", json!({})).0, 400);
    assert_eq!(d.send("GET", "/api/clients?limit=-1", json!({})).0, 400);
    for (_, text) in [
        http(&d.admin, "GET", "/api/clients", None),
        http(&d.admin, "GET", &format!("/api/clients/{IVANOV}"), None),
    ] {
        assert!(
            !text.contains("hunter2")
                && !text.contains(DEMO_PASSWORD)
                && !text.contains(KEY1)
                && !text.contains(KEY2),
            "{text}"
        );
    }

    // Reset to the dataset.
    assert_eq!(d.send("POST", "/api/reset", json!({})).0, 200);
    assert_eq!(
        d.get(&format!("/api/clients/{IVANOV}"))["Name"],
        "Иванов Иван Иванович"
    );

    // Stubs: add, list, remove, clear, bad input.
    let (status, added) = d.send(
        "POST",
        "/api/stubs",
        json!({"path": "API.X.*", "return": [1, 2]}),
    );
    assert_eq!(status, 200, "{added}");
    let id = added["id"].as_u64().unwrap();
    assert_eq!(d.get("/api/stubs")["stubs"][0]["path"], "API.X.*");
    let mut c = d.sim.client();
    assert_eq!(
        call(&mut c, "API.X.1", None),
        r#"{"return":[1,2],"code":0}"#
    );
    assert_eq!(
        d.send("DELETE", &format!("/api/stubs/{id}"), json!({})).0,
        200
    );
    assert_eq!(
        d.send("DELETE", &format!("/api/stubs/{id}"), json!({})).0,
        404
    );
    assert_eq!(d.send("DELETE", "/api/stubs/nope", json!({})).0, 400);
    assert_eq!(code(&call(&mut c, "API.X.1", None)), 201);
    let (status, text) = http(&d.admin, "POST", "/api/stubs", Some("{not json"));
    assert_eq!(status, 400, "{text}");
    assert!(parse(&text)["error"]
        .as_str()
        .unwrap()
        .starts_with("request body:"));
    assert_eq!(
        d.send("POST", "/api/stubs", json!({"path": "A", "bogus": 1}))
            .0,
        400
    );
    assert_eq!(d.send("POST", "/api/stubs", json!({"path": "A*"})).0, 400);
    assert_eq!(
        d.send("POST", "/api/stubs", json!({"path": "A", "new_state": "x"}))
            .0,
        400
    );
    d.send("POST", "/api/stubs", json!({"path": "A"}));
    assert_eq!(d.send("DELETE", "/api/stubs", json!({})).0, 200);
    assert!(d.get("/api/stubs")["stubs"].as_array().unwrap().is_empty());

    // Faults: add, list, remove, bad input.
    let (status, added) = d.send(
        "POST",
        "/api/faults",
        json!({"path": "API.Y", "action": "delay", "delay_ms": 5}),
    );
    assert_eq!(status, 200, "{added}");
    assert_eq!(d.get("/api/faults")["faults"][0]["action"], "delay");
    let id = added["id"].as_u64().unwrap();
    assert_eq!(
        d.send("DELETE", &format!("/api/faults/{id}"), json!({})).0,
        200
    );
    assert_eq!(
        d.send("DELETE", &format!("/api/faults/{id}"), json!({})).0,
        404
    );
    assert_eq!(
        d.send("POST", "/api/faults", json!({"action": "explode"}))
            .0,
        400
    );
    assert_eq!(
        d.send("POST", "/api/faults", json!({"action": "error"})).0,
        400
    );
    assert_eq!(
        d.send(
            "POST",
            "/api/faults",
            json!({"action": "delay", "delay_ms": 999999999})
        )
        .0,
        400
    );
    assert_eq!(d.send("DELETE", "/api/faults", json!({})).0, 200);

    // Unknown routes and wrong methods.
    assert_eq!(d.send("GET", "/api/nope", json!({})).0, 404);
    assert_eq!(d.send("PUT", "/api/stubs", json!({})).0, 405);
    assert_eq!(d.send("POST", "/api/counts", json!({})).0, 405);
    assert_eq!(d.send("GET", "/api/reset", json!({})).0, 405);
    // A web page cannot drive the API: a foreign Host (DNS rebinding) and a POST that is not
    // JSON (a form or no-cors fetch, which skips the CORS preflight) are refused.
    let foreign = "GET /api/counts HTTP/1.0\r\nHost: evil.example:80\r\n\r\n";
    assert_eq!(raw_status(&d.admin, foreign), 403);
    let form = format!(
        "POST /api/stubs HTTP/1.0\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n{{\"path\":\"A\"}}",
        d.admin
    );
    assert_eq!(raw_status(&d.admin, &form), 415);
    // The routes take the method in any case, so the check does too.
    let lowercase = format!(
        "post /api/stubs HTTP/1.0\r\nHost: {}\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n{{\"path\":\"A\"}}",
        d.admin
    );
    assert_eq!(raw_status(&d.admin, &lowercase), 415);
    assert!(d.get("/api/stubs")["stubs"].as_array().unwrap().is_empty());
    // No other page may frame the dashboard (its clear button) or the API, or run script there.
    for path in ["/", "/api/counts", "/api/nope"] {
        let response = raw_response(
            &d.admin,
            &format!("GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", d.admin),
        );
        let head = response
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .to_ascii_lowercase();
        for header in [
            "x-frame-options: deny",
            "x-content-type-options: nosniff",
            "content-security-policy: default-src 'none'; script-src 'sha256-",
        ] {
            assert!(head.contains(header), "GET {path} lacks {header}: {head}");
        }
        assert!(
            head.contains("frame-ancestors 'none'"),
            "GET {path}: {head}"
        );
    }
    let huge = "x".repeat(1024 * 1024 + 10);
    assert_eq!(http(&d.admin, "POST", "/api/stubs", Some(&huge)).0, 413);
}

#[test]
fn passwords_are_masked_in_the_journal_however_they_are_set() {
    let d = start(&[], None);
    let mut c = d.sim.client();
    let batch = format!(
        r#"{{"AutorizeInfo":{{"Accounts":{{"{IVANOV_ACC}":{{"Pass\u0077ord":"batch-secret"}}}}}}}}"#
    );
    let reply = call(&mut c, "API.Client.633824158637492", Some(&batch));
    assert!(reply.contains(r#""code":0"#), "{reply}");
    let add = r#"["10.0.0.9","","newlogin","add-secret"]"#;
    call(
        &mut c,
        "API.Client.633824158637492.AutorizeInfo.Accounts.AddAccount",
        Some(add),
    );
    c.disconnect();
    let (status, journal) = http(&d.admin, "GET", "/api/journal", None);
    assert_eq!(status, 200);
    assert!(
        !journal.contains("batch-secret") && !journal.contains("add-secret"),
        "{journal}"
    );
    let entries = parse(&journal)["entries"].as_array().unwrap().clone();
    assert_eq!(
        entries[0]["value"]["AutorizeInfo"]["Accounts"][IVANOV_ACC.to_string()]["Password"],
        "***"
    );
    assert_eq!(entries[1]["value"][3], "***");
    assert_eq!(entries[1]["value"][2], "newlogin");
}

#[test]
fn the_journal_shows_reply_texts_and_refused_logins_but_no_password() {
    let d = start(&[], None);
    assert!(!session(d.sim.port, DEMO_LOGIN, "wrong password", false));
    let mut c = d.sim.client();
    call(&mut c, NAME, None);
    let pw = format!("API.Client.633824158637492.AutorizeInfo.Accounts.{IVANOV_ACC}.Password");
    call(&mut c, &pw, None);
    let account = format!("API.Client.633824158637492.AutorizeInfo.Accounts.{IVANOV_ACC}");
    call(&mut c, &account, Some(r#"["Password","IP"]"#));
    c.disconnect();
    let (_, journal) = http(&d.admin, "GET", "/api/journal", None);
    assert!(
        !journal.contains("pass1"),
        "an account password in the journal: {journal}"
    );
    let entries = parse(&journal)["entries"].as_array().unwrap().clone();
    // The refused login: who tried, and what they were told; not counted as a request.
    assert_eq!(entries[0]["source"], "login_refused");
    assert_eq!(entries[0]["cashier"], DEMO_LOGIN);
    assert!(
        entries[0]["reply"]
            .as_str()
            .unwrap()
            .contains("incorrect login or password"),
        "{}",
        entries[0]
    );
    assert_eq!(d.get("/api/counts")["requests"], 3);
    assert_eq!(d.get("/api/counts")["auths_refused"], 1);
    // A reply's text, as the core wrote it.
    assert!(
        entries[1]["reply"]
            .as_str()
            .unwrap()
            .starts_with(r#"{"return":""#),
        "{}",
        entries[1]
    );
    // Replies that may hold an account password are not shown.
    for entry in &entries[2..4] {
        assert_eq!(
            entry["reply"], "(not shown: it may hold an account password)",
            "{entry}"
        );
    }
}

#[test]
fn a_non_loopback_control_port_is_refused_unless_allowed() {
    let (status, err) = start_fails(&["--admin", "0.0.0.0:0"]);
    assert_eq!(status, Some(1));
    assert!(
        err.contains("not a loopback address") && err.contains("--admin-allow-remote"),
        "{err}"
    );
    let sim = Sim::launch()
        .arg("--admin-allow-remote")
        .admin("0.0.0.0:0")
        .start();
    let admin = sim.admin.as_deref().unwrap_or_default();
    assert!(admin.starts_with("0.0.0.0:"), "admin on http://{admin}/");
}

#[test]
fn journal_and_counts_under_64_concurrent_clients() {
    const CLIENTS: usize = 64;
    const EACH: usize = 20;
    let d = start(&["--generate", "1000"], None);
    let port = d.sim.port;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            std::thread::spawn(move || {
                let cfg = demo_client_config(port);
                let mut c = mikrobill::Client::new(cfg).unwrap();
                for n in 0..EACH {
                    let path = format!("API.Thread{i}.Request{n}");
                    assert_eq!(code(&call(&mut c, &path, None)), 201);
                }
                c.disconnect();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let counts = d.get("/api/counts");
    assert_eq!(counts["auths_granted"], CLIENTS);
    assert_eq!(counts["disconnects"], CLIENTS);
    assert_eq!(counts["requests"], CLIENTS * EACH);
    assert_eq!(counts["connections"], CLIENTS);
    let journal = d.get("/api/journal?limit=10000");
    let entries = journal["entries"].as_array().unwrap();
    assert_eq!(entries.len(), CLIENTS * EACH);
    // Each thread's requests are all there, in its order, on one connection of its own.
    let mut connections = std::collections::HashSet::new();
    for i in 0..CLIENTS {
        let prefix = format!("API.Thread{i}.");
        let mine: Vec<&Value> = entries
            .iter()
            .filter(|e| e["path"].as_str().unwrap().starts_with(&prefix))
            .collect();
        assert_eq!(mine.len(), EACH);
        for (n, e) in mine.iter().enumerate() {
            assert_eq!(e["path"], format!("API.Thread{i}.Request{n}"));
            assert_eq!(e["code"], 201);
            assert_eq!(e["connection"], mine[0]["connection"]);
        }
        connections.insert(mine[0]["connection"].as_u64().unwrap());
    }
    assert_eq!(connections.len(), CLIENTS);
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_refused_login_is_counted() {
    let d = start(&[], None);
    let mut c = d.sim.client_as(DEMO_LOGIN, "wrong");
    assert!(c.process("API.GetClients", None).is_err());
    let mut c = d.sim.client_as("noapi", DEMO_PASSWORD);
    assert!(c.process("API.GetClients", None).is_err());
    let counts = d.get("/api/counts");
    assert_eq!(counts["auths_refused"], 2);
    assert_eq!(counts["auths_granted"], 0);
}

/// One session on a raw connection: an auth as `login`, then (when granted) a request and, when
/// `disconnect`, a DISCONNECT; otherwise the socket just closes. Returns whether it was granted.
fn session(port: u16, login: &str, password: &str, disconnect: bool) -> bool {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut c = Conn::new(stream);
    let granted = code(&c.auth(login, password).expect("an auth reply")) == 0;
    if granted {
        assert_eq!(code(&c.process("API.GetClients", None)), 0);
        if disconnect {
            c.send(&mikrobill::protocol::message::request(
                mikrobill::protocol::message::DISCONNECT_PATH,
                None,
            ));
            assert_eq!(code(&c.recv().expect("DISCONNECT answered")), 0);
        }
    }
    granted
}

#[test]
fn the_session_counts_file_and_the_control_api_agree() {
    let dir = TempDir::new("session-counts-agree");
    let config = dir.file("config.json");
    std::fs::write(&config, demo_config(json!({})).to_string()).unwrap();
    let file = dir.file("counts.json");
    let d = start(&["--config", &config, "--session-counts", &file], Some(dir));
    let port = d.sim.port;
    // (auths granted, auths refused, DISCONNECTs) as each view shows them; the file has no
    // refusals. Both are updated before the event's reply is sent, so no waiting is needed.
    let views = || {
        let f = parse(&std::fs::read_to_string(&file).unwrap());
        let a = d.get("/api/counts");
        let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
        (
            (n(&f, "auths"), n(&f, "disconnects")),
            (
                n(&a, "auths_granted"),
                n(&a, "auths_refused"),
                n(&a, "disconnects"),
            ),
        )
    };
    assert_eq!(views(), ((0, 0), (0, 0, 0)));
    let steps = [
        (DEMO_LOGIN, DEMO_PASSWORD, true, (1, 0, 1)),
        (DEMO_LOGIN, "wrong", true, (1, 1, 1)),
        (DEMO_LOGIN, DEMO_PASSWORD, false, (2, 1, 1)),
        ("noapi", DEMO_PASSWORD, true, (2, 2, 1)),
        ("nobody", DEMO_PASSWORD, false, (2, 3, 1)),
        (DEMO_LOGIN, DEMO_PASSWORD, true, (3, 3, 2)),
    ];
    for (login, password, disconnect, (granted, refused, disconnects)) in steps {
        session(port, login, password, disconnect);
        assert_eq!(
            views(),
            ((granted, disconnects), (granted, refused, disconnects)),
            "after a session as {login:?}"
        );
    }
    // The same mix from 24 clients at once: 8 of each kind.
    let threads: Vec<_> = (0..24)
        .map(|i| {
            std::thread::spawn(move || match i % 3 {
                0 => assert!(session(port, DEMO_LOGIN, DEMO_PASSWORD, true)),
                1 => assert!(session(port, DEMO_LOGIN, DEMO_PASSWORD, false)),
                _ => assert!(!session(port, "noapi", DEMO_PASSWORD, true)),
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(views(), ((19, 10), (19, 11, 10)));
    // Neither a reset of the state nor clearing the journal resets the counts, in either view.
    assert_eq!(d.send("POST", "/api/reset", json!({})).0, 200);
    assert_eq!(d.send("DELETE", "/api/journal", json!({})).0, 200);
    assert_eq!(views(), ((19, 10), (19, 11, 10)));
    let counts = d.get("/api/counts");
    assert_eq!(counts["connections"], 30);
    assert_eq!(
        counts["requests"],
        3 + 16,
        "one request per granted session"
    );
}

#[test]
fn bad_test_double_settings_stop_the_start_with_a_clear_error() {
    let run = start_fails;
    let (status, err) = run(&["--replay", "/nonexistent/session.jsonl"]);
    assert_eq!(status, Some(1));
    assert!(err.contains("/nonexistent/session.jsonl"), "{err}");
    let (status, err) = run(&["--replay-unmatched", "maybe"]);
    assert_eq!(status, Some(2));
    assert!(err.contains("tree or error"), "{err}");
    let dir = TempDir::new("badconfig");
    let config = dir.0.join("config.json");
    let bad = demo_config(json!({"faults": [{"action": "error"}]}));
    std::fs::write(&config, bad.to_string()).unwrap();
    let (status, err) = run(&["--config", config.to_str().unwrap()]);
    assert_eq!(status, Some(1));
    assert!(
        err.contains("faults[0]: an error fault needs a code"),
        "{err}"
    );
    let bad = demo_config(json!({"stubs": [{"path": "API.Ta*"}]}));
    std::fs::write(&config, bad.to_string()).unwrap();
    let (status, err) = run(&["--config", config.to_str().unwrap()]);
    assert_eq!(status, Some(1));
    assert!(err.contains("whole segment"), "{err}");
}

/// A request refused for the memory budget (209) shows in the journal, whether its frame did not
/// fit (not read) or what it would take parsed did not (read, not evaluated): these are what a
/// kassa developer sees fail, and the dashboard had no line for them.
#[test]
fn requests_refused_for_the_memory_budget_are_journalled() {
    let d = start(&["--max-buffered-bytes", "4MiB"], None);
    // 200,000 values: about 51 MB once parsed, from a text of 600 KB that fits as a frame.
    let costly = format!(
        r#"{{"path":"API.GetClients","value":[{}]}}"#,
        vec!["{}"; 200_000].join(",")
    );
    let mut c = d.sim.conn();
    c.send(&costly);
    let reply = c.recv().expect("a reply");
    assert_eq!(code_of(&reply), 209, "{reply}");
    // A frame larger than the budget is not read at all, and its connection is closed.
    let mut c = d.sim.conn();
    let large = format!(
        r#"{{"path":"API.GetClients","value":"{}"}}"#,
        "x".repeat(5 << 20)
    );
    // Written by hand: the simulator answers and closes before the body is sent, so the write
    // may fail; the reply is read all the same.
    let _ =
        mikrobill::protocol::frame::write_frame(&mut c.stream, &cipher().encrypt(large.as_bytes()));
    let reply = c.recv().expect("a reply");
    assert_eq!(code_of(&reply), 209, "{reply}");
    let entries = d.get("/api/journal")["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 2, "{entries:?}");
    for (entry, what) in entries.iter().zip(["not evaluated", "not read"]) {
        assert_eq!(entry["source"], "over_budget", "{entry}");
        assert_eq!(entry["code"], 209, "{entry}");
        assert_eq!(entry["cashier"], DEMO_LOGIN, "{entry}");
        assert_eq!(entry["path"], "", "{entry}");
        assert!(entry["reply"].as_str().unwrap().contains(what), "{entry}");
    }
    assert_eq!(d.get("/api/counts")["requests"], 2);
}

fn code_of(reply: &str) -> i64 {
    serde_json::from_str::<Value>(reply).unwrap()["code"]
        .as_i64()
        .unwrap()
}
