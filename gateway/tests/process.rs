//! `POST /v1/process` through real TLS to a real simulator: replies pass through unchanged,
//! library failures come back as the library's error JSON with a status by kind, and a core that
//! goes away and comes back costs failed requests, never a stuck gateway.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

fn direct(sim: &Sim, path: &str, value: Option<&str>) -> String {
    let config = mikrobill::Config::new("127.0.0.1", sim.port, LOGIN, PASSWORD, KEY1, KEY2);
    mikrobill::Client::new(config)
        .unwrap()
        .process(path, value)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_pass_through_unchanged() {
    let dir = TempDir::new("pass");
    let sim = Sim::start(&dir);
    let writer = TestToken::new("writer", &["*"], false);
    let gw = Gateway::start(&dir, &sim, Setup::default(), &[&writer]);
    let https = gw.https();

    let a = https.process(&writer, "API.GetClients", None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.body, direct(&sim, "API.GetClients", None));

    // A read with an explicit null is the same read.
    let a = https.process(&writer, "API.GetClients", Some("null")).await;
    assert_eq!(a.body, direct(&sim, "API.GetClients", None));

    let money = format!("API.Client.{IVANOV}.BillingInfo.Money");
    let a = https.process(&writer, &money, Some("\"123.45\"")).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (200, r#"{"return":"OK","code":0}"#)
    );
    let a = https.process(&writer, &money, None).await;
    assert_eq!(a.body, r#"{"return":"123.45","code":0}"#);
    // The number's text reaches the core as written.
    let a = https.process(&writer, &money, Some("100.50")).await;
    assert_eq!(a.code(), 0, "{}", a.body);
    assert_eq!(
        direct(&sim, &money, None),
        r#"{"return":"100.50","code":0}"#
    );

    // The core's own error replies are replies: 200, unchanged.
    let a = https.process(&writer, "API.NoSuchThing", None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body, direct(&sim, "API.NoSuchThing", None));
    assert_eq!(a.code(), 201);

    // A batch, with non-ASCII text, passes through as the core wrote it.
    let batch = format!(r#"{{"0":"{IVANOV}.AutorizeInfo.Name","1":"{PETROV}.BillingInfo.Money"}}"#);
    let a = https.process(&writer, "API.Client", Some(&batch)).await;
    assert_eq!(a.body, direct(&sim, "API.Client", Some(&batch)));
    assert!(a.body.contains(r"\u"), "{}", a.body);

    let h = https.send("GET", "/v1/health", None, None).await;
    assert_eq!(h.status, 200, "{}", h.body);
    assert_eq!(h.json()["core_reachable"], true);
    assert_eq!(h.json()["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_is_served_and_names_every_route() {
    let dir = TempDir::new("openapi");
    let sim = Sim::start(&dir);
    let gw = Gateway::start(&dir, &sim, Setup::default(), &[]);
    let a = gw.https().send("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(a.status, 200);
    let served = a.json();
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../openapi.json")).unwrap();
    assert_eq!(served, committed);
    assert!(served["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));
    for route in ["/v1/process", "/v1/health", "/metrics", "/v1/openapi.json"] {
        assert!(
            served["paths"].get(route).is_some(),
            "{route} is not documented"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_failures_keep_their_json_and_get_a_status_by_kind() {
    let dir = TempDir::new("failures");
    let mut sim = Sim::start(&dir);
    let writer = TestToken::new("writer", &["*"], false);
    let setup = Setup {
        core: vec![
            // Long enough for a loaded CI machine, short enough to keep the test quick.
            "io_timeout_ms = 2000".into(),
            "call_timeout_ms = 6000".into(),
            "connections = 2".into(),
        ],
        ..Setup::default()
    };
    let gw = Gateway::start(&dir, &sim, setup, &[&writer]);
    let https = gw.https();

    // The core does not answer in time: 504 with the library's timeout.
    sim.admin_post(
        "/api/faults",
        r#"{"path":"API.Tariffs.*.Name","action":"no_reply"}"#,
    );
    let a = https.process(&writer, "API.Tariffs.1.Name", None).await;
    assert_eq!((a.status, a.code()), (504, 9001), "{}", a.body);
    assert_eq!(a.json()["return"], a.json()["result"]);
    // The core drops the connection after the request: 502, not resent.
    sim.admin_delete("/api/faults");
    sim.admin_post(
        "/api/faults",
        r#"{"path":"API.Tariffs.*.Name","action":"close"}"#,
    );
    let before = sim.requests();
    let a = https.process(&writer, "API.Tariffs.2.Name", None).await;
    assert_eq!((a.status, a.code()), (502, 9002), "{}", a.body);
    assert_eq!(sim.requests(), before + 1, "the request was resent");
    sim.admin_delete("/api/faults");

    // The core goes away: 502 with the connect failure's errno, quickly, and health says so.
    sim.stop();
    let started = Instant::now();
    for _ in 0..3 {
        let a = https.process(&writer, "API.GetClients", None).await;
        assert_eq!(a.status, 502, "{}", a.body);
        assert_eq!(a.code(), 111, "{}", a.body);
        assert_eq!(a.json()["return"], "Can`t connect!");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the health cache
    let h = https.send("GET", "/v1/health", None, None).await;
    assert_eq!(
        (h.status, &h.json()["core_reachable"]),
        (503, &serde_json::json!(false))
    );
    // The reason, as the library gives it.
    assert_eq!(h.json()["code"], 111);
    assert_eq!(h.json()["error"]["return"], "Can`t connect!");

    // It comes back: the next requests succeed through new connections.
    sim.restart();
    let a = https.process(&writer, "API.GetClients", None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, direct(&sim, "API.GetClients", None));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let h = https.send("GET", "/v1/health", None, None).await;
    assert_eq!(h.status, 200, "{}", h.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_is_502_with_the_cores_reply() {
    let dir = TempDir::new("login");
    let sim = Sim::start(&dir);
    let writer = TestToken::new("writer", &["*"], false);
    let text = config_text(&dir, sim.port, &Setup::default(), &[&writer])
        .replace(&format!("login = \"{LOGIN}\""), "login = \"nobody\"");
    std::fs::write(dir.path("gateway.toml"), &text).unwrap();
    make_certificate(&dir);
    let gw = Gateway::start_existing(&dir, true);
    let a = gw.https().process(&writer, "API.GetClients", None).await;
    assert_eq!((a.status, a.code()), (502, 101), "{}", a.body);
    assert!(!a.body.contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_new_prints_a_working_token_once() {
    let out = Command::new(env!("CARGO_BIN_EXE_mikrobill-gateway"))
        .args(["token", "new", "billing-bot"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("mbg_"))
        .unwrap()
        .to_string();
    assert_eq!(text.matches(&token).count(), 1, "{text}");
    let block = &text[text.find("[[token]]").unwrap()..];

    let hashed = Command::new(env!("CARGO_BIN_EXE_mikrobill-gateway"))
        .args(["token", "hash"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(token.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    let hash = String::from_utf8(hashed.stdout).unwrap();
    assert!(
        block.contains(&format!("sha256 = \"{}\"", hash.trim())),
        "{block}"
    );

    let dir = TempDir::new("tokennew");
    let sim = Sim::start(&dir);
    let mut text = config_text(&dir, sim.port, &Setup::default(), &[]);
    text.push('\n');
    text.push_str(block);
    std::fs::write(dir.path("gateway.toml"), &text).unwrap();
    make_certificate(&dir);
    let gw = Gateway::start_existing(&dir, true);
    let check = Command::new(env!("CARGO_BIN_EXE_mikrobill-gateway"))
        .args(["check", "--config"])
        .arg(&gw.config)
        .env(PASSWORD_ENV, PASSWORD)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let printed = TestToken {
        secret: token,
        ..TestToken::new("billing-bot", &["*"], true)
    };
    let a = gw.https().process(&printed, "API.GetClients", None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // The printed block is read-only.
    let a = gw
        .https()
        .process(
            &printed,
            &format!("API.Client.{IVANOV}.BillingInfo.Money"),
            Some("\"1\""),
        )
        .await;
    assert_eq!((a.status, a.code()), (403, 9403));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reaches_every_route() {
    let dir = TempDir::new("curl");
    let sim = Sim::start(&dir);
    let writer = TestToken::new("writer", &["*"], false);
    let gw = Gateway::start(&dir, &sim, Setup::default(), &[&writer]);
    let url = |route: &str| format!("https://localhost:{}{route}", gw.addr.port());
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&gw.cert_pem)
            .args([
                "--resolve",
                &format!("localhost:{}:127.0.0.1", gw.addr.port()),
            ])
            .args(["-w", "\n%{http_code}"])
            .args(args)
            .output()
            .expect("curl must be installed (apt-get install curl)");
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let (body, status) = text.rsplit_once('\n').unwrap();
        (status.parse::<u16>().unwrap(), body.to_string())
    };
    let auth = format!("Authorization: Bearer {}", writer.secret);
    let (status, body) = curl(&[
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "--data",
        r#"{"path":"API.GetClients"}"#,
        &url("/v1/process"),
    ]);
    assert_eq!((status, body), (200, direct(&sim, "API.GetClients", None)));
    let (status, body) = curl(&[
        "--data",
        r#"{"path":"API.GetClients"}"#,
        &url("/v1/process"),
    ]);
    assert_eq!(status, 401, "{body}");
    let (status, body) = curl(&[&url("/v1/health")]);
    assert_eq!(status, 200, "{body}");
    let (status, body) = curl(&[&url("/v1/openapi.json")]);
    assert_eq!(status, 200);
    assert!(body.contains("\"openapi\""));
    let (status, body) = curl(&[&url("/metrics")]);
    assert_eq!(status, 200);
    assert!(body.contains("mikrobill_gateway_requests_total"), "{body}");
}

/// A core that answers in CP1251, as some installations do: the reply's bytes reach the HTTP
/// client unchanged, not re-encoded and not refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_is_not_utf8_passes_through_as_bytes() {
    use mikrobill::protocol::crypto::Cipher;
    use mikrobill::protocol::frame::{read_frame, write_frame};
    const REPLY: &[u8] = b"{\"return\":\"\xcf\xf0\xe8\xe2\xe5\xf2\",\"code\":0}";
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let cipher = Cipher::from_base64(KEY1, KEY2).unwrap();
                let answer = |stream: &mut std::net::TcpStream, reply: &[u8]| {
                    read_frame(stream, 1 << 20).ok()?;
                    write_frame(stream, &cipher.encrypt(reply)).ok()
                };
                if answer(&mut stream, br#"{"return":"OK","code":0}"#).is_none() {
                    return;
                }
                while answer(&mut stream, REPLY).is_some() {}
            });
        }
    });
    let dir = TempDir::new("cp1251");
    let reader = TestToken::new("reader", &["*"], true);
    std::fs::write(
        dir.path("gateway.toml"),
        config_text(&dir, port, &Setup::default(), &[&reader]),
    )
    .unwrap();
    make_certificate(&dir);
    let gw = Gateway::start_existing(&dir, true);
    let mut tls = gw.https().tls().await;
    let body = r#"{"path":"API.Tariffs.1.Name"}"#;
    let request = format!(
        "POST /v1/process HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reader.secret,
        body.len()
    );
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        answer.ends_with(REPLY),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let line = &gw.audit_lines()[0];
    assert_eq!(
        (line["status"].as_u64(), line["code"].as_i64()),
        (Some(200), Some(0))
    );
}
