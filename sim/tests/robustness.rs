//! Hostile and broken peers, many connections at once, idle timeouts and signals.

use mikrobill::protocol::frame::write_frame;
use mikrobill_testkit::sim::*;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

/// The server must still answer a well-behaved client after each abuse.
fn still_serving(sim: &Sim) {
    let mut cl = sim.client();
    assert_eq!(code(&call(&mut cl, "API.GetClients", None)), 0);
}

fn expect_close(mut s: TcpStream) {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("expected a close, got {n} bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected a close, got {e}"),
    }
}

#[test]
fn malformed_first_frames_get_no_reply_and_a_close() {
    let sim = Sim::start(&["--max-frame", "4096"]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "oversize announcement",
            0xffff_fff0u32.to_le_bytes().to_vec(),
        ),
        ("just over --max-frame", 4112u32.to_le_bytes().to_vec()),
        ("zero length", vec![0, 0, 0, 0]),
        ("length not a multiple of 16", {
            let mut v = 17u32.to_le_bytes().to_vec();
            v.extend_from_slice(&[7u8; 17]);
            v
        }),
        ("garbage", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("undecryptable first frame", {
            let mut v = 32u32.to_le_bytes().to_vec();
            v.extend_from_slice(&[0x5au8; 32]);
            v
        }),
        ("truncated frame then EOF", {
            let mut v = 64u32.to_le_bytes().to_vec();
            v.extend_from_slice(&[1u8; 10]);
            v
        }),
    ];
    for (name, bytes) in cases {
        let mut s = sim.tcp();
        write_raw(&mut s, &bytes);
        if name.starts_with("truncated") {
            s.shutdown(std::net::Shutdown::Write).unwrap();
        }
        expect_close(s);
        eprintln!("ok: {name}");
    }
    still_serving(&sim);
}

#[test]
fn wrong_keys_and_non_auth_first_frames_get_no_reply() {
    let sim = Sim::start(&[]);
    // Valid frame under other keys: decrypts to noise, which is not an auth message.
    let other = mikrobill::protocol::crypto::Cipher::from_base64(
        "AAECAwQFBgcICQoLDA0ODw==",
        "EBESExQVFhcYGRobHB0eHw==",
    )
    .unwrap();
    let mut s = sim.tcp();
    let auth = mikrobill::protocol::message::auth("api", "secret", "0.1 1");
    write_frame(&mut s, &other.encrypt(auth.as_bytes())).unwrap();
    expect_close(s);

    for first in [
        r#"{"path":"API.GetClients","value":null}"#,
        r#"{"auth":{"login":"api"}}"#,
        r#"{"auth":"api"}"#,
        "[]",
    ] {
        let mut conn = Conn::new(sim.tcp());
        conn.send(first);
        assert!(conn.closed_without_reply(), "{first}");
    }
    still_serving(&sim);
}

#[test]
fn malformed_frames_after_auth_close_only_that_connection() {
    let sim = Sim::start(&["--max-frame", "4096"]);
    for bytes in [vec![0u8, 0, 0, 0], 8192u32.to_le_bytes().to_vec(), {
        let mut v = 20u32.to_le_bytes().to_vec();
        v.extend_from_slice(&[1u8; 20]);
        v
    }] {
        let mut conn = sim.conn();
        write_raw(&mut conn.stream, &bytes);
        expect_close(conn.stream);
    }
    still_serving(&sim);
}

#[test]
fn abrupt_disconnects_at_every_stage() {
    let sim = Sim::start(&[]);
    drop(sim.tcp());
    let mut s = sim.tcp();
    write_raw(&mut s, &[48, 0]);
    drop(s);
    let conn = sim.conn();
    drop(conn);
    let mut conn = sim.conn();
    conn.send(r#"{"path":"API.GetClients","value":null}"#);
    drop(conn);
    still_serving(&sim);
}

#[test]
fn idle_connections_are_closed_after_the_timeout() {
    let sim = Sim::start(&["--idle-timeout", "1"]);
    let silent = sim.tcp();
    let mut authed = sim.conn();
    // Not closed at once: a request sent right away is answered.
    assert_eq!(code(&authed.process("API.GetClients", None)), 0);
    // Then both are closed by the server (the read timeout in Sim::tcp is 20 s, far above 1 s).
    expect_close(silent);
    expect_close(authed.stream);
    still_serving(&sim);
}

/// Nested `depth` levels deep: objects `{"a":...}` around null, or arrays around one string.
fn nested(depth: usize, objects: bool) -> String {
    if objects {
        format!("{}null{}", r#"{"a":"#.repeat(depth), "}".repeat(depth))
    } else {
        format!(
            "{}\"AutorizeInfo.Name\"{}",
            "[".repeat(depth),
            "]".repeat(depth)
        )
    }
}

fn deep_request(depth: usize, objects: bool) -> String {
    format!(
        r#"{{"path":"API.Client.{IVANOV}","value":{}}}"#,
        nested(depth, objects)
    )
}

#[test]
fn values_nested_512_levels_are_served() {
    // PHP's json_encode nests at most 512 levels; the request envelope adds one. A debug build
    // recurses deepest, and the tests run in one.
    let sim = Sim::start(&[]);
    let mut conn = sim.conn();
    conn.send(&deep_request(512, true));
    let reply = parse(&conn.recv().expect("a reply to a 512-level object"));
    let path = format!("API.Client.{IVANOV}{}", ".a".repeat(512));
    assert_eq!(
        reply,
        json!([{"return": reply[0]["return"], "code": 201, "path": path}])
    );
    conn.send(&deep_request(512, false));
    let reply = parse(&conn.recv().expect("a reply to a 512-level array"));
    assert_eq!(
        reply,
        json!([{"return": "Иванов Иван Иванович", "code": 0,
                "path": format!("API.Client.{IVANOV}.AutorizeInfo.Name")}])
    );
    still_serving(&sim);
}

#[test]
fn values_nested_too_deep_get_208_and_the_server_keeps_serving() {
    let sim = Sim::start(&[]);
    let mut conn = sim.conn();
    for objects in [true, false] {
        for depth in [513, 600, 100_000] {
            conn.send(&deep_request(depth, objects));
            let reply = conn.recv().expect("a reply");
            assert_eq!(code(&reply), 208, "depth {depth}: {reply}");
        }
    }
    // The same session goes on, and so do others.
    assert_eq!(code(&conn.process("API.GetClients", None)), 0);
    still_serving(&sim);
}

#[test]
fn batches_cannot_amplify_into_huge_replies() {
    let sim = Sim::start(&[]);
    let mut conn = sim.conn();
    // A 1 MB path with 300 reads once made a 600 MB reply: now one short 209 reply.
    let long = format!("API.Client.{IVANOV}.{}", "x".repeat(1 << 20));
    let items = serde_json::to_string(&vec![""; 300]).unwrap();
    let reply = conn.process(&long, Some(&items));
    assert_eq!(code(&reply), 209, "{}", &reply[..reply.len().min(300)]);
    assert!(reply.len() < 300, "{reply}");
    // A single request with a long path too: it is not echoed.
    let reply = conn.process(&long, None);
    assert_eq!(code(&reply), 209);
    assert!(reply.len() < 300, "{reply}");
    // Short enough paths, but too many bytes of them in one batch.
    let prefix = format!("API.Client.{IVANOV}.{}", "y".repeat(3000));
    let items = serde_json::to_string(&vec![""; 2000]).unwrap();
    let reply = conn.process(&prefix, Some(&items));
    assert_eq!(code(&reply), 209);
    // Too many leaves.
    let items = serde_json::to_string(&vec!["GetClients"; 100_001]).unwrap();
    assert_eq!(code(&conn.process("API", Some(&items))), 209);
    // Error descriptions quote a bounded piece of a path.
    let path = format!("API.Client.{IVANOV}.{}", "z".repeat(4000));
    let reply = conn.process(&path, None);
    assert_eq!(code(&reply), 201);
    assert!(reply.len() < 400, "{reply}");
    still_serving(&sim);
}

#[test]
fn batch_replies_stop_at_the_reply_budget() {
    // Each GetClients read lists 100000 GUIDs (about 1.8 MB); 40 of them would make 72 MB.
    let sim = Sim::start(&["--generate", "100000"]);
    let mut conn = sim.conn();
    let items = serde_json::to_string(&vec!["GetClients"; 40]).unwrap();
    let reply = conn.process("API", Some(&items));
    assert!(reply.len() < 40 << 20, "{} bytes", reply.len());
    let reply = parse(&reply);
    let codes: Vec<i64> = reply
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes.len(), 40);
    let evaluated = codes.iter().take_while(|&&c| c == 0).count();
    assert!((1..40).contains(&evaluated), "{codes:?}");
    assert!(codes[evaluated..].iter().all(|&c| c == 209), "{codes:?}");
    still_serving(&sim);
}

/// Reads until the server closes `s`; panics if it has not within 20 s.
fn wait_for_close(s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the server to close the socket, got {other:?}"),
    }
}

#[test]
fn idle_unauthenticated_sockets_cannot_lock_clients_out() {
    let sim = Sim::start(&["--max-connections", "4", "--auth-timeout", "1"]);
    let mut idle: Vec<TcpStream> = (0..4).map(|_| sim.tcp()).collect();
    // The auth deadline closes them all, well before the 300 s idle timeout.
    for s in &mut idle {
        wait_for_close(s);
    }
    still_serving(&sim);
}

#[test]
fn a_client_gets_in_while_n_minus_1_unauthenticated_sockets_are_held() {
    let sim = Sim::start(&["--max-connections", "4", "--auth-timeout", "60"]);
    // Connected first, so the server accepts them before the client below (accept is FIFO).
    let mut idle: Vec<TcpStream> = (0..3).map(|_| sim.tcp()).collect();
    let mut cl = sim.client();
    assert_eq!(code(&call(&mut cl, "API.GetClients", None)), 0);
    // Now all 4 slots are taken: a fifth connection takes the slot of the oldest socket that
    // never authenticated, and is served.
    let mut fifth = Conn::new(sim.tcp());
    // The others stay open: a close would free a slot and spare the oldest.
    wait_for_close(&mut idle[0]);
    assert_eq!(code(&fifth.auth(DEMO_LOGIN, DEMO_PASSWORD).unwrap()), 0);
    assert_eq!(code(&call(&mut cl, "API.GetClients", None)), 0);
}

#[test]
fn the_auth_deadline_is_not_restarted_by_trickled_bytes() {
    // Each byte comes well within --idle-timeout, so only an overall deadline can close it.
    let sim = Sim::start(&["--auth-timeout", "1", "--idle-timeout", "5"]);
    let mut s = sim.tcp();
    write_raw(&mut s, &1024u32.to_le_bytes());
    // Reads time out after 100 ms (that paces the trickle); a read of 0 bytes is the close.
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 16];
    loop {
        assert!(
            Instant::now() < deadline,
            "still open after 20 s of trickling"
        );
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => panic!("unexpected {n} bytes"),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(_) => {
                if s.write_all(&[0]).is_err() {
                    break;
                }
            }
        }
    }
    still_serving(&sim);
}

#[test]
fn an_oversized_auth_frame_is_closed_at_once() {
    // 64 KiB + 16 is within --max-frame but over the auth frame cap; the close comes from the
    // length check, not the 60 s auth deadline (wait_for_close gives up after 20 s).
    let sim = Sim::start(&["--auth-timeout", "60"]);
    let mut s = sim.tcp();
    write_raw(&mut s, &(65536u32 + 16).to_le_bytes());
    wait_for_close(&mut s);
    still_serving(&sim);
}

#[test]
fn a_stalled_peer_does_not_block_others() {
    let sim = Sim::start(&[]);
    // Announces a frame and never finishes it; another sends half a prefix.
    let mut stalled = sim.conn();
    write_raw(&mut stalled.stream, &64u32.to_le_bytes());
    let mut half = sim.tcp();
    write_raw(&mut half, &[16, 0]);
    let mut cl = sim.client();
    for _ in 0..20 {
        call(
            &mut cl,
            &format!("API.Client.{IVANOV}.BillingInfo.Money"),
            Some("\"5.00\""),
        );
    }
    drop(stalled);
    drop(half);
}

#[test]
fn three_hundred_concurrent_connections() {
    let sim = Sim::start(&[]);
    const N: usize = 300;
    // Open and authenticate all of them first, so they are truly live at the same time.
    let conns: Vec<Conn> = (0..N).map(|_| sim.conn()).collect();
    let handles: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut conn)| {
            thread::spawn(move || {
                let path = format!("API.Client.{IVANOV}.AutorizeInfo.Accounts.{IVANOV_ACC}.Login");
                let reply = conn.process(&path, Some(&format!("\"user{i}\"")));
                assert_eq!(code(&reply), 0, "{reply}");
                let reply = conn.process("API.GetClients", None);
                assert_eq!(ret(&reply), json!([IVANOV, PETROV, SIDOROVA]));
                assert_eq!(
                    conn.process("DISCONNECT", None),
                    r#"{"return":"OK","code":0}"#
                );
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut cl = sim.client();
    let login = ret(&call(
        &mut cl,
        &format!("API.Client.{IVANOV}.AutorizeInfo.Accounts.{IVANOV_ACC}.Login"),
        None,
    ));
    let login = login.as_str().unwrap();
    let n: usize = login.strip_prefix("user").unwrap().parse().unwrap();
    assert!(n < N);
}

#[test]
fn sigterm_and_sigint_exit_cleanly() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut sim = Sim::start(&[]);
        let _idle = sim.conn();
        still_serving(&sim);
        sim.signal(sig);
        let status = sim.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "signal {sig}: {status:?}");
    }
}

#[test]
fn trace_requests_records_non_auth_plaintexts_byte_exact() {
    let dir = std::env::temp_dir().join(format!("mb-sim-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("trace.txt");
    let _ = std::fs::remove_file(&trace);
    let sim = Sim::start(&["--trace-requests", trace.to_str().unwrap()]);
    let mut cl = sim.client();
    call(
        &mut cl,
        &format!("API.Client.{IVANOV}.AutorizeInfo.Name"),
        Some(r#""Иван/Ivan""#),
    );
    // Pretty-printed, as a hand-written client may send it: still one line, its breaks spaces.
    let mut raw = sim.conn();
    raw.send("{\"path\": \"API.GetClients\",\r\n  \"value\": null\n}");
    assert_eq!(code(&raw.recv().expect("a reply")), 0);
    drop(raw);
    // The server traces a request before it replies, so the file is complete once this returns.
    cl.disconnect();
    let text = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"path":"API.Client.633824158637492.AutorizeInfo.Name","value":"\u0418\u0432\u0430\u043d\/Ivan"}"#,
            "\n",
            r#"{"path": "API.GetClients",    "value": null }"#,
            "\n",
            r#"{"path":"DISCONNECT","value":null}"#,
            "\n"
        )
    );
    assert!(!text.contains("auth"));
    let _ = std::fs::remove_dir_all(&dir);
}
