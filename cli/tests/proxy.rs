//! `mb proxy` records a session against a simulator standing in for a real core, and
//! `mb serve --replay` answers the same requests with byte-identical reply frames.

use mikrobill::protocol::frame::{read_frame, write_frame};
use mikrobill::protocol::message;
use mikrobill_testkit::sim::*;
use serde_json::Value;
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn mb(args: &[&str]) -> Sim {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
    command.args(args);
    Sim::start_command(command)
}

/// A simulator with other data that answers only from the recording (211 for anything else).
fn strict_replay(record: &str) -> Sim {
    mb(&[
        "serve",
        "--generate",
        "1",
        "--replay",
        record,
        "--replay-unmatched",
        "error",
    ])
}

fn proxy(upstream: u16, record: &str, extra: &[&str]) -> Sim {
    let upstream = format!("127.0.0.1:{upstream}");
    let mut args = vec!["proxy", "--upstream", &upstream, "--record", record];
    args.extend_from_slice(extra);
    mb(&args)
}

/// Stops a proxy with SIGTERM and expects a clean exit.
fn stop(mut p: Sim) {
    p.signal(libc::SIGTERM);
    let status = p.child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// A raw connection that keeps each reply's ciphertext frame.
struct Raw {
    stream: TcpStream,
    cipher: mikrobill::protocol::crypto::Cipher,
}

impl Raw {
    fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Raw {
            stream,
            cipher: cipher(),
        }
    }

    fn exchange(&mut self, plain: &str) -> Vec<u8> {
        write_frame(&mut self.stream, &self.cipher.encrypt(plain.as_bytes())).unwrap();
        read_frame(&mut self.stream, 1 << 30).unwrap()
    }

    fn text(&self, frame: &[u8]) -> String {
        String::from_utf8(self.cipher.decrypt(frame).unwrap()).unwrap()
    }
}

const NAME: &str = "API.Client.633824158637492.AutorizeInfo.Name";

/// The session: reads, a set between two reads of the same path, errors, a batch, unicode.
fn session() -> Vec<String> {
    let req = |path: &str, value: Option<&str>| {
        let v: Option<Value> = value.map(|t| serde_json::from_str(t).unwrap());
        message::request(path, v.as_ref())
    };
    vec![
        req("API.GetClients", None),
        req(NAME, None),
        req(NAME, Some("\"Пётр / \\\"quoted\\\"\"")),
        req(NAME, None),
        req("API.GetClients", Some("\"Пётр\"")),
        req("API.Client.1.BillingInfo.Money", None),
        req("API.Nope", None),
        req(
            "API.Client.9527563927532953",
            Some(r#"{"BillingInfo":{"Money":null,"Tariff":null}}"#),
        ),
        req(NAME, Some("\"Иванов Иван Иванович\"")),
        req(NAME, None),
        // An account password set in a batch: recorded redacted, replayed all the same.
        req(
            "API.Client.633824158637492",
            Some(r#"{"AutorizeInfo":{"Accounts":{"28236356495083":{"Password":"hunter2"}}}}"#),
        ),
    ]
}

fn run_session(port: u16) -> Vec<Vec<u8>> {
    let mut c = Raw::connect(port);
    let sign = message::microtime_sign(SystemTime::now());
    let auth = c.exchange(&message::auth(DEMO_LOGIN, DEMO_PASSWORD, &sign));
    assert_eq!(code(&c.text(&auth)), 0);
    let replies: Vec<Vec<u8>> = session().iter().map(|r| c.exchange(r)).collect();
    let bye = c.exchange(&message::request(message::DISCONNECT_PATH, None));
    assert_eq!(code(&c.text(&bye)), 0);
    replies
}

#[test]
fn a_recorded_session_replays_byte_for_byte() {
    let dir = TempDir::new("replay");
    let record = dir.0.join("session.jsonl");
    let record = record.to_str().unwrap();
    let core = mb(&["serve"]);
    let p = proxy(core.port, record, &[]);
    let through_proxy = run_session(p.port);
    // The same session straight to the core: the proxy changed no byte.
    let direct_core = mb(&["serve"]);
    assert_eq!(run_session(direct_core.port), through_proxy);

    // A client with the wrong keys: its frames are recorded as undecryptable, not dropped.
    let mut stranger = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
    let wrong = mikrobill::protocol::crypto::Cipher::from_base64(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "AAAAAAAAAAAAAAAAAAAAAA==",
    )
    .unwrap();
    let sign = message::microtime_sign(SystemTime::now());
    write_frame(
        &mut stranger,
        &wrong.encrypt(message::auth(DEMO_LOGIN, DEMO_PASSWORD, &sign).as_bytes()),
    )
    .unwrap();
    stranger
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    // The core cannot decrypt it either and closes without a reply.
    assert!(read_frame(&mut stranger, 1 << 20).is_err());
    drop(stranger);
    std::thread::sleep(Duration::from_millis(200));
    stop(p);

    let text = std::fs::read_to_string(record).unwrap();
    let lines: Vec<Value> = text.lines().map(parse).collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    let mut want = vec!["auth"];
    want.extend(std::iter::repeat_n("process", session().len()));
    want.extend(["disconnect", "undecryptable"]);
    assert_eq!(kinds, want, "{text}");
    assert_eq!(lines[0]["login"], DEMO_LOGIN);
    assert_eq!(lines[2]["path"], NAME);
    assert!(lines[2]["rtt_ms"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        lines.last().unwrap()["reply_error"],
        "the connection ended before a reply"
    );
    // No secret: not the keys, the password, a sign or a hash (both are hex/digit strings that
    // only the auth line could carry, and it has only these members).
    for secret in [KEY1, KEY2, DEMO_PASSWORD, "password", "sign", "hunter2"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let auth_keys: Vec<&String> = lines[0].as_object().unwrap().keys().collect();
    assert_eq!(
        auth_keys,
        ["time_ms", "kind", "login", "reply", "connection", "rtt_ms"]
    );

    // Replay on a simulator with different data: every reply comes from the recording.
    let replay = strict_replay(record);
    assert_eq!(run_session(replay.port), through_proxy);
    // A request the recording lacks gets 211.
    let mut c = replay.conn();
    assert_eq!(
        code(&c.process("API.Client.1.BillingInfo.Tariff", None)),
        211
    );
    // Without --replay-unmatched error the simulated tree answers it.
    let fallback = mb(&["serve", "--replay", record]);
    let mut c = fallback.conn();
    assert_eq!(
        code(&c.process("API.Client.633824158637492.BillingInfo.Tariff", None)),
        0
    );

    // A recorder killed in mid-write leaves a torn last line: the whole exchanges still replay.
    let mut torn = std::fs::read(record).unwrap();
    torn.extend_from_slice(br#"{"kind":"process","path":"API.Clie"#);
    std::fs::write(record, &torn).unwrap();
    let replay = strict_replay(record);
    assert_eq!(run_session(replay.port), through_proxy);
}

#[test]
fn each_exchange_is_one_line_and_a_password_too_deep_to_search_is_not_written() {
    let dir = TempDir::new("proxy-lines");
    let record = dir.0.join("r.jsonl");
    let core = mb(&["serve"]);
    let p = proxy(core.port, record.to_str().unwrap(), &[]);
    let mut c = Raw::connect(p.port);
    let sign = message::microtime_sign(SystemTime::now());
    c.exchange(&message::auth(DEMO_LOGIN, DEMO_PASSWORD, &sign));
    // Pretty-printed, as a hand-written client may send it: line breaks between the tokens.
    let pretty = "{\"path\":\"API.Client.9527563927532953\",\r\n\"value\":{\n  \"BillingInfo\": {\n    \"Money\": null\n  }\n}\n}";
    let reply = c.exchange(pretty);
    // The core took it as a batch of one read.
    assert_eq!(parse(&c.text(&reply))[0]["code"], 0);
    // A password set under more levels than serde_json builds a tree of (128).
    let deep = format!(
        r#"{{"path":"API.Client.633824158637492","value":{{"AutorizeInfo":{{"Accounts":{{"28236356495083":{{"Password":"hunter2","Note":{}{}}}}}}}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    write_frame(&mut c.stream, &c.cipher.encrypt(deep.as_bytes())).unwrap();
    let _ = read_frame(&mut c.stream, 1 << 20);
    drop(c);
    std::thread::sleep(Duration::from_millis(200));
    stop(p);

    let text = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<Value> = text.lines().map(parse).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[1]["value"],
        serde_json::json!({"BillingInfo": {"Money": null}})
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert_eq!(lines[2]["value"], "[redacted]");
}

#[test]
fn huge_frames_are_forwarded_whole_but_recorded_as_too_large() {
    let dir = TempDir::new("huge");
    let record = dir.0.join("r.jsonl");
    let record = record.to_str().unwrap();
    let core = mb(&["serve", "--generate", "20000"]);
    let p = proxy(core.port, record, &["--max-record", "4096"]);
    let mut direct = core.client();
    let want = call(&mut direct, "API.GetClients", None);
    assert!(want.len() > 100_000);
    let mut through = p.client();
    assert_eq!(call(&mut through, "API.GetClients", None), want);
    through.disconnect();
    stop(p);
    let text = std::fs::read_to_string(record).unwrap();
    let lines: Vec<Value> = text.lines().map(parse).collect();
    assert_eq!(lines[1]["path"], "API.GetClients");
    assert!(lines[1].get("reply").is_none());
    assert!(
        lines[1]["reply_error"]
            .as_str()
            .unwrap()
            .contains("over --max-record"),
        "{text}"
    );
}

#[test]
fn many_connections_at_once_each_get_their_own_lines() {
    let dir = TempDir::new("many");
    let record = dir.0.join("r.jsonl");
    let record = record.to_str().unwrap();
    let core = mb(&["serve"]);
    let p = proxy(core.port, record, &[]);
    let port = p.port;
    let threads: Vec<_> = (0..32)
        .map(|i| {
            std::thread::spawn(move || {
                let cfg = demo_client_config(port);
                let mut c = mikrobill::Client::new(cfg).unwrap();
                for n in 0..10 {
                    let reply = call(&mut c, &format!("API.T{i}.R{n}"), None);
                    assert_eq!(code(&reply), 201);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    stop(p);
    let text = std::fs::read_to_string(record).unwrap();
    let lines: Vec<Value> = text.lines().map(parse).collect();
    assert_eq!(lines.len(), 32 * 12, "auth + 10 requests + DISCONNECT each");
    for i in 0..32 {
        let mine: Vec<&Value> = lines
            .iter()
            .filter(|l| {
                l["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(&format!("API.T{i}.")))
            })
            .collect();
        assert_eq!(mine.len(), 10);
        for (n, l) in mine.iter().enumerate() {
            assert_eq!(l["path"], format!("API.T{i}.R{n}"));
            assert_eq!(l["connection"], mine[0]["connection"]);
            assert_eq!(code(l["reply"].as_str().unwrap()), 201);
        }
    }
}

#[test]
fn a_connection_open_at_shutdown_still_gets_its_line() {
    let dir = TempDir::new("shutdown");
    let record = dir.0.join("r.jsonl");
    let record = record.to_str().unwrap();
    // An existing record file readable by all is made the owner's only before anything is added.
    std::fs::write(record, "").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(record, std::fs::Permissions::from_mode(0o644)).unwrap();
    let core = mb(&["serve"]);
    let p = proxy(core.port, record, &[]);
    let mut c = p.client();
    assert_eq!(code(&call(&mut c, "API.GetClients", None)), 0);
    // The client stays connected while the proxy is stopped.
    stop(p);
    let text = std::fs::read_to_string(record).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.ends_with('\n'));
    let mode = std::fs::metadata(record).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the record file is the owner's only");
}

#[test]
fn a_stream_that_stops_being_frames_is_copied_through_and_noted() {
    use std::io::{Read, Write};
    let dir = TempDir::new("unframed");
    let record = dir.0.join("r.jsonl");
    let record = record.to_str().unwrap();
    let core = mb(&["serve"]);
    let p = proxy(core.port, record, &[]);
    let mut raw = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // 5 is no frame length (frames are whole 16-byte blocks).
    raw.write_all(&[5, 0, 0, 0, b'h', b'e', b'l', b'l', b'o'])
        .unwrap();
    raw.shutdown(std::net::Shutdown::Write).unwrap();
    // The simulator refuses what is no auth frame and closes; the proxy passes the end on.
    let mut rest = Vec::new();
    let _ = raw.read_to_end(&mut rest);
    stop(p);
    let text = std::fs::read_to_string(record).unwrap();
    let notes: Vec<Value> = text
        .lines()
        .map(parse)
        .filter(|line| line["kind"] == "unframed")
        .collect();
    assert_eq!(notes.len(), 1, "{text}");
    assert_eq!(
        notes[0]["note"],
        "client sent a length prefix of 5: copied through unparsed"
    );
}

#[test]
fn clients_whose_core_connection_closed_give_their_slots_back() {
    let dir = TempDir::new("upstream-closed");
    let record = dir.0.join("r.jsonl");
    // The core closes connections idle for a second.
    let core = mb(&["serve", "--idle-timeout", "1"]);
    let p = proxy(core.port, record.to_str().unwrap(), &[]);
    // Every one of the proxy's 256 slots taken by an authenticated client that then idles.
    let mut idle: Vec<Conn> = (0..256).map(|_| p.conn()).collect();
    std::thread::sleep(Duration::from_millis(2500));
    // Each learns that its connection is gone (the proxy closed it), and a new client is served.
    for c in &mut idle {
        c.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(c.closed_without_reply(), "an idle client was left open");
    }
    let mut honest = p.client();
    assert_eq!(code(&call(&mut honest, "API.GetClients", None)), 0);
    drop(idle);
    stop(p);
}

#[test]
fn a_client_that_sends_nothing_is_closed_at_the_idle_timeout() {
    let dir = TempDir::new("idle-client");
    let record = dir.0.join("r.jsonl");
    let core = mb(&["serve"]);
    let p = proxy(
        core.port,
        record.to_str().unwrap(),
        &["--idle-timeout", "1"],
    );
    let mut silent = p.tcp();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1];
    let n = std::io::Read::read(&mut silent, &mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without a byte");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        started.elapsed()
    );
    stop(p);
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains(r#""kind":"idle""#), "{text}");
}

#[test]
fn a_recorded_frame_is_held_once_not_built_into_a_tree() {
    const REQUEST: usize = 16 << 20;
    let dir = TempDir::new("proxy-memory");
    let record = dir.0.join("r.jsonl");
    let core = mb(&["serve"]);
    let p = proxy(
        core.port,
        record.to_str().unwrap(),
        &["--max-record", "32MiB"],
    );
    let baseline = peak_rss(p.child.id());
    // 16 MiB of `[0,0,...]`: eight million values, which as a tree took 400 MB.
    let mut text = String::with_capacity(REQUEST + 64);
    text.push_str(r#"{"path":"API.Client.633824158637492","value":[0"#);
    while text.len() < REQUEST {
        text.push_str(",0");
    }
    text.push_str("]}");
    let frame = Arc::new(cipher().encrypt(text.as_bytes()));
    let peers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = p.conn();
            let frame = Arc::clone(&frame);
            std::thread::spawn(move || {
                c.stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
                write_frame(&mut c.stream, &frame).unwrap();
                c.recv().expect("the core's reply")
            })
        })
        .collect();
    for peer in peers {
        peer.join().unwrap();
    }
    let peak = peak_rss(p.child.id());
    stop(p);
    println!(
        "mb proxy: 4 requests of {} MiB at once, peak {} MiB over a baseline of {} MiB",
        REQUEST >> 20,
        (peak - baseline) >> 20,
        baseline >> 20
    );
    // Per request in flight: the frame and its decrypted text, which the line's value is kept
    // in, twice its size (and no copy to search for a password in).
    assert!(
        peak < baseline + 4 * 2 * REQUEST + (16 << 20),
        "peak {} MiB over a baseline of {} MiB",
        peak >> 20,
        baseline >> 20
    );
    // The line holds the value as sent.
    let recorded = std::fs::read_to_string(&record).unwrap();
    let line = recorded
        .lines()
        .find(|l| l.contains(r#""kind":"process""#))
        .expect("a process line");
    assert!(line.contains(r#""value":[0,0,0"#), "{}", &line[..200]);
}
