//! Hostile and broken peers, many connections at once, idle timeouts and signals.

mod sim_support;
use mikrobill::frame::write_frame;
use serde_json::json;
use sim_support::*;
use std::io::Read;
use std::net::TcpStream;
use std::thread;

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
    let other = mikrobill::crypto::Cipher::from_base64(
        "AAECAwQFBgcICQoLDA0ODw==",
        "EBESExQVFhcYGRobHB0eHw==",
    )
    .unwrap();
    let mut s = sim.tcp();
    let auth = mikrobill::message::auth("api", "secret", "0.1 1");
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
    let authed = sim.conn();
    // Both are closed by the server (the read timeout in Sim::tcp is 20 s, far above 1 s).
    expect_close(silent);
    expect_close(authed.stream);
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
    // The server traces a request before it replies, so the file is complete once this returns.
    cl.disconnect();
    let text = std::fs::read_to_string(&trace).unwrap();
    assert_eq!(
        text,
        concat!(
            r#"{"path":"API.Client.633824158637492.AutorizeInfo.Name","value":"\u0418\u0432\u0430\u043d\/Ivan"}"#,
            "\n",
            r#"{"path":"DISCONNECT","value":null}"#,
            "\n"
        )
    );
    assert!(!text.contains("auth"));
    let _ = std::fs::remove_dir_all(&dir);
}
