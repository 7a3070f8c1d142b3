//! Running the gateway: config reload without dropping requests in flight, a graceful stop, the
//! bounded queue, 64 concurrent clients with every request applied exactly once, and the audit
//! log, metrics and errors free of secrets.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

const SIGHUP: i32 = 1;
const SIGTERM: i32 = 15;
/// A real property the tests slow down with a delay fault.
const SLOW: &str = "API.Client.*.BillingInfo.Tariff";

fn slow_path() -> String {
    SLOW.replace('*', &IVANOV.to_string())
}

fn delay(sim: &Sim, path: &str, ms: u64) {
    sim.admin_post(
        "/api/faults",
        &format!(r#"{{"path":"{path}","action":"delay","delay_ms":{ms}}}"#),
    );
}

async fn metrics(https: &Https) -> String {
    let a = https.send("GET", "/metrics", None, None).await;
    assert_eq!(a.status, 200);
    a.body
}

/// Until a core connection is in a call (the slow request was taken by a worker); the simulator
/// counts a request only once it has answered it.
async fn wait_until_busy(https: &Https) {
    let started = Instant::now();
    while !metrics(https)
        .await
        .contains(r#"core_connections{state="busy"} 1"#)
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no request reached the core"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_tokens_without_dropping_a_request_in_flight() {
    let dir = TempDir::new("reload");
    let sim = Sim::start(&dir);
    let old = TestToken::new(
        "old",
        &["API.GetClients", "API.Client.*.BillingInfo.Tariff"],
        true,
    );
    let new = TestToken::new("new", &["API.GetClients"], true);
    let gw = Gateway::start(&dir, &sim, Setup::default(), &[&old]);
    let https = Arc::new(gw.https());
    // Long enough that the reload surely happens while it runs, even on a loaded machine.
    delay(&sim, SLOW, 4000);

    let in_flight = {
        let https = Arc::clone(&https);
        let secret = old.secret.clone();
        tokio::spawn(async move {
            let token = TestToken {
                secret,
                ..TestToken::new("old", &[], true)
            };
            https.process(&token, &slow_path(), None).await
        })
    };
    wait_until_busy(&https).await;

    gw.rewrite_config(&config_text(&dir, sim.port, &Setup::default(), &[&new]));
    assert!(!in_flight.is_finished());
    gw.signal(SIGHUP);
    let started = Instant::now();
    loop {
        let a = https.process(&new, "API.GetClients", None).await;
        if a.status == 200 {
            break;
        }
        assert_eq!(a.status, 401);
        assert!(started.elapsed() < Duration::from_secs(10), "no reload");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        https.process(&old, "API.GetClients", None).await.status,
        401
    );
    let a = in_flight.await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body,
        r#"{"return":"\u0411\u0430\u0437\u043e\u0432\u044b\u0439 100","code":0}"#
    );

    // A config that does not load leaves the running one in place.
    gw.rewrite_config("[core\n");
    gw.signal(SIGHUP);
    eventually(
        Duration::from_secs(10),
        "the failed reload to be reported",
        || gw.stderr_text().contains("reload (SIGHUP) failed"),
    )
    .await;
    assert_eq!(
        https.process(&new, "API.GetClients", None).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_config_file_is_reloaded_when_it_changes() {
    let dir = TempDir::new("watch");
    let sim = Sim::start(&dir);
    let first = TestToken::new("first", &["*"], true);
    let second = TestToken::new("second", &["*"], true).rate(1, 1);
    let setup = || Setup {
        server: vec!["watch_config_ms = 100".into()],
        ..Setup::default()
    };
    let gw = Gateway::start(&dir, &sim, setup(), &[&first]);
    let https = gw.https();
    assert_eq!(
        https.process(&second, "API.GetClients", None).await.status,
        401
    );
    gw.rewrite_config(&config_text(&dir, sim.port, &setup(), &[&first, &second]));
    let started = Instant::now();
    while https.process(&second, "API.GetClients", None).await.status == 401 {
        assert!(started.elapsed() < Duration::from_secs(10), "no reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        https.process(&first, "API.GetClients", None).await.status,
        200
    );
    assert!(gw.stderr_text().contains("config reloaded (file changed)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish() {
    let dir = TempDir::new("stop");
    let sim = Sim::start(&dir);
    let reader = TestToken::new("reader", &["*"], true);
    let mut gw = Gateway::start(&dir, &sim, Setup::default(), &[&reader]);
    let https = Arc::new(gw.https());
    delay(&sim, SLOW, 3000);
    let in_flight = {
        let https = Arc::clone(&https);
        let secret = reader.secret.clone();
        tokio::spawn(async move {
            let token = TestToken {
                secret,
                ..TestToken::new("reader", &[], true)
            };
            https.process(&token, &slow_path(), None).await
        })
    };
    wait_until_busy(&https).await;
    assert!(!in_flight.is_finished());
    gw.signal(SIGTERM);
    let a = in_flight.await.unwrap();
    assert_eq!((a.status, a.code()), (200, 0), "{}", a.body);
    assert!(a.body.contains("\\u0411"), "{}", a.body);
    assert_eq!(gw.wait(Duration::from_secs(20)), Some(0));
    assert!(tokio::net::TcpStream::connect(https.addr).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_and_a_long_wait_get_503_and_send_nothing() {
    let dir = TempDir::new("queue");
    let sim = Sim::start(&dir);
    let reader = TestToken::new("reader", &["*"], true);
    let setup = Setup {
        core: vec![
            "connections = 1".into(),
            "queue = 1".into(),
            "queue_wait_ms = 300".into(),
        ],
        ..Setup::default()
    };
    let gw = Gateway::start(&dir, &sim, setup, &[&reader]);
    let https = Arc::new(gw.https());
    // The slow request holds the only connection while the others queue; long enough for the
    // test's polling on a loaded machine.
    delay(&sim, SLOW, 4000);
    let spawn = |path: String| {
        let https = Arc::clone(&https);
        let secret = reader.secret.clone();
        tokio::spawn(async move {
            let token = TestToken {
                secret,
                ..TestToken::new("reader", &[], true)
            };
            https.process(&token, &path, None).await
        })
    };
    let slow = spawn(slow_path());
    let started = Instant::now();
    loop {
        if metrics(&https)
            .await
            .contains(r#"core_connections{state="busy"} 1"#)
        {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waiting = spawn("API.GetClients".to_string());
    let started = Instant::now();
    loop {
        if metrics(&https).await.contains("queued_requests 1") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let full = https.process(&reader, "API.GetClients", None).await;
    assert_eq!((full.status, full.code()), (503, 9503), "{}", full.body);
    assert!(full.body.contains("queue is full"), "{}", full.body);
    let waited = waiting.await.unwrap();
    assert_eq!(
        (waited.status, waited.code()),
        (503, 9503),
        "{}",
        waited.body
    );
    assert!(waited.body.contains("wait limit"), "{}", waited.body);
    let slow = slow.await.unwrap();
    assert_eq!(slow.status, 200, "{}", slow.body);
    // Only the slow request ever reached the core; the connection serves again.
    assert_eq!(sim.requests(), 1);
    assert_eq!(
        https.process(&reader, "API.GetClients", None).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_at_once_each_request_applied_exactly_once() {
    let dir = TempDir::new("load");
    let sim = Sim::start(&dir);
    let writer = TestToken::new("writer", &["*"], false);
    let gw = Gateway::start(&dir, &sim, Setup::default(), &[&writer]);
    let https = Arc::new(gw.https());
    let accounts = format!("API.Client.{PETROV}.AutorizeInfo.Accounts");
    let count_accounts = |https: Arc<Https>, token: String, path: String| async move {
        let token = TestToken {
            secret: token,
            ..TestToken::new("writer", &[], false)
        };
        let a = https.process(&token, &path, None).await;
        a.json()["return"].as_array().unwrap().len()
    };
    let accounts_before =
        count_accounts(Arc::clone(&https), writer.secret.clone(), accounts.clone()).await;
    let requests_before = sim.requests();

    const CLIENTS: usize = 64;
    const READS: usize = 8;
    const ADDS: usize = 2;
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let https = Arc::clone(&https);
        let secret = writer.secret.clone();
        let accounts = accounts.clone();
        tasks.push(tokio::spawn(async move {
            let token = TestToken {
                secret,
                ..TestToken::new("writer", &[], false)
            };
            let mut conn = https.connect().await;
            let mut failures = Vec::new();
            for i in 0..READS + ADDS {
                let a = if i < ADDS {
                    let args = format!(
                        r#"["10.{}.{}.1","","load{client}x{i}","pw{client}"]"#,
                        client / 250,
                        client % 250
                    );
                    conn.process(&token, &format!("{accounts}.AddAccount"), Some(&args))
                        .await
                } else {
                    conn.process(&token, "API.GetClients", None).await
                };
                if a.status != 200 || a.code() != 0 {
                    failures.push(format!("{} {}", a.status, a.body));
                }
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for task in tasks {
        failures.extend(task.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let sent = (CLIENTS * (READS + ADDS)) as u64;
    assert_eq!(
        sim.requests(),
        requests_before + sent,
        "requests reached the core more or fewer times than sent"
    );
    let accounts_after =
        count_accounts(Arc::clone(&https), writer.secret.clone(), accounts.clone()).await;
    assert_eq!(accounts_after, accounts_before + CLIENTS * ADDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_metrics_and_errors_hold_no_secret() {
    let dir = TempDir::new("audit");
    let mut sim = Sim::start(&dir);
    let writer = TestToken::new("writer", &["*"], false);
    let narrow = TestToken::new("narrow", &["API.GetClients"], true);
    let gw = Gateway::start(&dir, &sim, Setup::default(), &[&writer, &narrow]);
    let https = gw.https();
    let secret_value = "SeCrEt-Value-8812";
    let wrong_token = "mbg_wrong_secret_token_55";
    let name = format!("API.Client.{IVANOV}.AutorizeInfo.Name");
    let mut answers = Vec::new();

    answers.push(https.process(&writer, "API.GetClients", None).await);
    answers.push(
        https
            .process(&writer, &name, Some(&format!("\"{secret_value}\"")))
            .await,
    );
    answers.push(
        https
            .process(&narrow, &name, Some(&format!("\"{secret_value}\"")))
            .await,
    );
    answers.push(
        https
            .send(
                "POST",
                "/v1/process",
                Some(wrong_token),
                Some(&format!(
                    r#"{{"path":"API.GetClients","value":"{secret_value}"}}"#
                )),
            )
            .await,
    );
    answers.push(
        https
            .send(
                "POST",
                "/v1/process",
                Some(&writer.secret),
                Some(&format!(r#"{{"path":"A","value":"{secret_value}""#)),
            )
            .await,
    );
    answers.push(
        https
            .send("GET", "/nowhere", Some(&writer.secret), None)
            .await,
    );
    answers.push(https.send("GET", "/v1/health", None, None).await);
    sim.stop();
    answers.push(
        https
            .process(&writer, &name, Some(&format!("\"{secret_value}\"")))
            .await,
    );
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 403, 401, 400, 404, 200, 502]);
    let metrics_text = metrics(&https).await;

    let lines = gw.audit_lines();
    assert_eq!(
        lines.len(),
        answers.len() + 1,
        "one line per request (metrics included)"
    );
    for line in &lines {
        for field in [
            "time",
            "token",
            "client",
            "method",
            "route",
            "path",
            "value_sent",
            "status",
            "code",
            "duration_ms",
        ] {
            assert!(line.get(field).is_some(), "{field} missing in {line}");
        }
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert!(line["client"].as_str().unwrap().starts_with("127.0.0.1:"));
        assert!(line["duration_ms"].as_f64().unwrap() >= 0.0);
    }
    let set = &lines[1];
    assert_eq!(set["token"], "writer");
    assert_eq!(set["path"], name.as_str());
    assert_eq!(set["value_sent"], true);
    assert_eq!(
        (set["status"].as_u64(), set["code"].as_i64()),
        (Some(200), Some(0))
    );
    assert_eq!(lines[0]["value_sent"], false);
    assert_eq!(
        (lines[2]["token"].as_str(), lines[2]["code"].as_i64()),
        (Some("narrow"), Some(9403))
    );
    assert!(lines[3]["token"].is_null());
    assert_eq!(lines[3]["code"], 9401);
    assert_eq!(
        (lines[7]["status"].as_u64(), lines[7]["code"].as_i64()),
        (Some(502), Some(111))
    );
    assert_eq!(lines[8]["route"], "/metrics");

    assert!(metrics_text.contains(r#"token="writer""#), "{metrics_text}");
    assert!(metrics_text.contains(r#"code="111""#), "{metrics_text}");
    assert!(metrics_text.contains("mikrobill_gateway_process_duration_seconds_bucket"));

    let audit = std::fs::read_to_string(&gw.audit).unwrap();
    let stderr = gw.stderr_text();
    let bodies: String = answers.iter().map(|a| a.body.clone() + "\n").collect();
    for (what, text) in [
        ("audit log", &audit),
        ("stderr", &stderr),
        ("metrics", &metrics_text),
        ("answers", &bodies),
    ] {
        for secret in [
            PASSWORD,
            KEY1,
            KEY2,
            secret_value,
            wrong_token,
            writer.secret.as_str(),
            narrow.secret.as_str(),
        ] {
            assert!(!text.contains(secret), "the {what} holds a secret: {text}");
        }
    }
}
