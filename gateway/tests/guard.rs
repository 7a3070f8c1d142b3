//! What the gateway refuses before anything reaches the core: missing or unknown tokens, paths
//! outside a token's scope, values from read-only tokens, rates over the limit, bodies that are
//! not the request JSON, too large or too slow, slow headers, and plain HTTP off loopback.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_and_read_only_tokens_are_enforced_before_the_core() {
    let dir = TempDir::new("scopes");
    let sim = Sim::start(&dir);
    let money = TestToken::new(
        "money",
        &["API.GetClients", "API.Client.*.BillingInfo.Money"],
        false,
    );
    let reader = TestToken::new("reader", &["*"], true);
    let gw = Gateway::start(&dir, &sim, Setup::default(), &[&money, &reader]);
    let https = gw.https();
    let ivanov_money = format!("API.Client.{IVANOV}.BillingInfo.Money");

    assert_eq!(
        https.process(&money, "API.GetClients", None).await.status,
        200
    );
    assert_eq!(
        https
            .process(&money, &ivanov_money, Some("\"5.00\""))
            .await
            .status,
        200
    );
    assert_eq!(
        https.process(&reader, &ivanov_money, None).await.status,
        200
    );
    let reached = sim.requests();

    let refused = [
        // Outside the scope.
        (
            &money,
            format!("API.Client.{IVANOV}.BillingInfo.Tariff"),
            None,
        ),
        (
            &money,
            format!("API.Client.{IVANOV}"),
            Some(r#"{"BillingInfo":{"Tariff":"Free"}}"#),
        ),
        (
            &money,
            "API.Client".to_string(),
            Some(r#"{"0":"1.AutorizeInfo.Name"}"#),
        ),
        (
            &money,
            format!("api.client.{IVANOV}.billinginfo.money"),
            None,
        ),
        // A read-only token sends a value (a set, a search, a batch of reads).
        (&reader, ivanov_money.clone(), Some("\"0\"")),
        (&reader, "API.GetClients".to_string(), Some("\"Ivanov\"")),
        (
            &reader,
            "API.Client".to_string(),
            Some(r#"["1.AutorizeInfo.Name"]"#),
        ),
    ];
    for (token, path, value) in refused {
        let a = https.process(token, &path, value).await;
        assert_eq!(
            (a.status, a.code()),
            (403, 9403),
            "{path} {value:?}: {}",
            a.body
        );
        assert_eq!(a.json()["return"], a.json()["result"]);
    }
    // A batch that stays inside the scope goes through.
    let inside = format!(r#"{{"{IVANOV}":{{"BillingInfo":{{"Money":"6.00"}}}}}}"#);
    let a = https.process(&money, "API.Client", Some(&inside)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        sim.requests(),
        reached + 1,
        "a refused request reached the core"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_token_get_401() {
    let dir = TempDir::new("auth");
    let sim = Sim::start(&dir);
    let reader = TestToken::new("reader", &["*"], true);
    let gw = Gateway::start(&dir, &sim, Setup::default(), &[&reader]);
    let https = gw.https();
    let text = r#"{"path":"API.GetClients"}"#;
    let body = Some(text);
    let hash = mikrobill_gateway::tokens::hex(&mikrobill_gateway::tokens::sha256(
        reader.secret.as_bytes(),
    ));
    let before = sim.requests();
    for token in [None, Some(""), Some("mbg_wrong"), Some(hash.as_str())] {
        let a = https.send("POST", "/v1/process", token, body).await;
        assert_eq!((a.status, a.code()), (401, 9401), "{token:?}");
        assert_eq!(a.headers["www-authenticate"], "Bearer");
    }
    // The token under another scheme is not a bearer token.
    let mut tls = https.tls().await;
    let request = format!(
        "POST /v1/process HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        reader.secret,
        text.len(),
        text
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert_eq!(sim.requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_over_its_rate_gets_429_and_others_do_not() {
    let dir = TempDir::new("rate");
    let sim = Sim::start(&dir);
    let slow = TestToken::new("slow", &["*"], true).rate(1, 3);
    let other = TestToken::new("other", &["*"], true);
    let gw = Gateway::start(&dir, &sim, Setup::default(), &[&slow, &other]);
    let mut conn = gw.https().connect().await;
    let started = Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(conn.process(&slow, "API.GetClients", None).await);
    }
    // The allowance refills one request a second: within a second, four requests pass at most
    // three plus one.
    if started.elapsed() < Duration::from_secs(1) {
        let last = statuses.last().unwrap();
        assert_eq!((last.status, last.code()), (429, 9429), "{}", last.body);
        let wait: u64 = last.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=2).contains(&wait), "{wait}");
    }
    assert!(statuses[..3].iter().all(|a| a.status == 200));
    assert_eq!(
        conn.process(&other, "API.GetClients", None).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_a_request_get_400_and_routes_404_405() {
    let dir = TempDir::new("badjson");
    let sim = Sim::start(&dir);
    let writer = TestToken::new("writer", &["*"], false);
    let setup = Setup {
        server: vec!["max_body_bytes = 65536".into()],
        ..Setup::default()
    };
    let gw = Gateway::start(&dir, &sim, setup, &[&writer]);
    let https = gw.https();
    let before = sim.requests();
    let deep = format!(
        r#"{{"path":"A","value":{}{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    for body in [
        "",
        "{",
        "not json",
        r#"["API.GetClients"]"#,
        r#"{"path":""}"#,
        r#"{"path":1}"#,
        r#"{"value":null}"#,
        r#"{"path":"API.GetClients","extra":true}"#,
        &deep,
    ] {
        let a = https
            .send("POST", "/v1/process", Some(&writer.secret), Some(body))
            .await;
        assert_eq!((a.status, a.code()), (400, 9005), "{body:.40}: {}", a.body);
    }
    // Too large, announced or not.
    let huge = format!(r#"{{"path":"A","value":"{}"}}"#, "x".repeat(70_000));
    let a = https
        .send("POST", "/v1/process", Some(&writer.secret), Some(&huge))
        .await;
    assert_eq!((a.status, a.code()), (413, 9413), "{}", a.body);
    let chunked = {
        let mut tls = https.tls().await;
        let head = format!(
            "POST /v1/process HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            writer.secret
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        for _ in 0..5 {
            let chunk = "y".repeat(20_000);
            let frame = format!("{:x}\r\n{chunk}\r\n", chunk.len());
            if tls.write_all(frame.as_bytes()).await.is_err() {
                break;
            }
        }
        let _ = tls.write_all(b"0\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = tls.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    };
    assert!(chunked.starts_with("HTTP/1.1 413"), "{chunked}");
    assert!(chunked.contains("9413"), "{chunked}");

    let a = https
        .send("GET", "/v1/process", Some(&writer.secret), None)
        .await;
    assert_eq!((a.status, a.code()), (405, 9405));
    assert_eq!(a.headers["allow"], "POST");
    let a = https.send("POST", "/v1/health", None, Some("{}")).await;
    assert_eq!(a.status, 405);
    let a = https.send("GET", "/v2/anything", None, None).await;
    assert_eq!((a.status, a.code()), (404, 9404));
    assert_eq!(sim.requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let dir = TempDir::new("slow");
    let sim = Sim::start(&dir);
    let writer = TestToken::new("writer", &["*"], false);
    let setup = Setup {
        server: vec![
            "header_timeout_ms = 400".into(),
            "body_timeout_ms = 400".into(),
        ],
        ..Setup::default()
    };
    let gw = Gateway::start(&dir, &sim, setup, &[&writer]);
    let https = gw.https();
    let bound = Duration::from_secs(10);

    // Headers that never end: the connection is closed.
    let started = Instant::now();
    let mut tls = https.tls().await;
    tls.write_all(b"POST /v1/process HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(bound, tls.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "slow headers were not cut off");
    assert!(started.elapsed() >= Duration::from_millis(300));
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
        "{rest}"
    );

    // A body that stops coming: 408 with the gateway's code.
    let mut tls = https.tls().await;
    let head = format!(
        "POST /v1/process HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 100\r\n\r\n{{\"path\":",
        writer.secret
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(bound, tls.read(&mut answer))
        .await
        .expect("a slow body was not cut off")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("9408"), "{answer}");

    // A TCP connection that never starts TLS is closed too.
    let mut raw = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(bound, raw.read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");

    // A kept-alive connection that goes quiet after a request is closed too, so idle
    // connections cannot hold every connection slot.
    let mut tls = https.tls().await;
    let request = format!(
        "POST /v1/process HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Length: 25\r\n\r\n{{\"path\":\"API.GetClients\"}}",
        writer.secret
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut first = Vec::new();
    let read = tokio::time::timeout(bound, tls.read_to_end(&mut first)).await;
    assert!(read.is_ok(), "an idle kept-alive connection stayed open");
    assert!(
        first.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first)
    );

    // The gateway still serves.
    assert_eq!(
        https.process(&writer, "API.GetClients", None).await.status,
        200
    );
}

#[test]
fn plain_http_serves_on_loopback_and_is_refused_elsewhere_without_the_flag() {
    let dir = TempDir::new("plain");
    let sim = Sim::start(&dir);
    let reader = TestToken::new("reader", &["*"], true);
    let setup = Setup {
        tls: false,
        ..Setup::default()
    };
    let gw = Gateway::start(&dir, &sim, setup, &[&reader]);
    let mut s = std::net::TcpStream::connect(gw.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let body = r#"{"path":"API.GetClients"}"#;
    write!(
        s,
        "POST /v1/process HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reader.secret,
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    drop(gw);

    let config = std::fs::read_to_string(dir.path("gateway.toml"))
        .unwrap()
        .replace("listen = \"127.0.0.1:0\"", "listen = \"0.0.0.0:0\"");
    std::fs::write(dir.path("gateway.toml"), config).unwrap();
    let gateway = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mikrobill-gateway"));
        c.args(["serve", "--config"])
            .arg(dir.path("gateway.toml"))
            .env(PASSWORD_ENV, PASSWORD);
        c
    };
    let refused = gateway().output().unwrap();
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        text.contains("--allow-plain-http-on-non-loopback"),
        "{text}"
    );

    let mut allowed = gateway()
        .arg("--allow-plain-http-on-non-loopback")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(allowed.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = allowed.kill();
    let _ = allowed.wait();
    assert!(line.starts_with("listening on http://0.0.0.0:"), "{line}");
}
