//! The client against a peer that misbehaves on purpose, over real TCP: every local error code,
//! reconnection between calls, and no resend once a request has left.

use mikrobill_testkit::hostile;
use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mikrobill::code;
use mikrobill::{CancelToken, Client, Config, Error};

fn client(port: u16, login: &str) -> Client {
    let mut config = Config::new("127.0.0.1", port, login, "pw", hostile::KEY1, hostile::KEY2);
    config.io_timeout = Duration::from_millis(300);
    config.connect_timeout = Duration::from_millis(300);
    config.max_frame_bytes = 1 << 20;
    Client::new(config).unwrap()
}

fn code(result: Result<String, Error>) -> i64 {
    match result {
        Ok(reply) => mikrobill::reply_code(&reply).expect("reply has a code"),
        Err(e) => e.code(),
    }
}

#[test]
fn refused_connect_reports_the_os_errno_with_the_original_text() {
    let mut c = client(hostile::dead_port(), "echo");
    let e = c.process("API.GetClients", None).unwrap_err();
    assert_eq!(e.code(), i64::from(libc::ECONNREFUSED));
    let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(v["return"], "Can`t connect!");
    assert_eq!(v["result"], "Can`t connect!");
    assert!(!c.check_connection());
}

#[test]
fn connect_timeout_is_etimedout() {
    // A listener whose accept queue is full drops further SYNs, so the connect hangs.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    // SAFETY: listen(2) on a descriptor that `listener` owns and keeps open.
    assert_eq!(unsafe { libc::listen(fd, 0) }, 0);
    let mut fillers = Vec::new();
    let mut timed_out = None;
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(
            &listener.local_addr().unwrap(),
            Duration::from_millis(200),
        ) {
            Ok(s) => fillers.push(s),
            Err(_) => {
                timed_out = Some(());
                break;
            }
        }
    }
    assert!(timed_out.is_some(), "accept queue never filled");
    let mut c = client(port, "echo");
    assert_eq!(
        c.process("API.GetClients", None).unwrap_err().code(),
        i64::from(libc::ETIMEDOUT)
    );
}

#[test]
fn unresolvable_host_has_its_own_code() {
    let config = Config::new("name.invalid", 7403, "l", "p", hostile::KEY1, hostile::KEY2);
    let mut c = Client::new(config).unwrap();
    assert_eq!(
        c.process("API.GetClients", None).unwrap_err().code(),
        code::HOST_NOT_RESOLVED
    );
}

#[test]
fn missing_or_undecryptable_auth_reply_is_code_6() {
    let server = hostile::spawn(0);
    for login in ["close-auth", "garbage-auth"] {
        let mut c = client(server.addr.port(), login);
        let e = c.process("API.GetClients", None).unwrap_err();
        assert_eq!(e.code(), 6, "{login}");
        assert!(e
            .to_json()
            .contains("Null response! Probably incorrect encryption keys!"));
    }
}

#[test]
fn wrong_keys_against_the_peer_give_code_6() {
    let server = hostile::spawn(0);
    let config = Config::new(
        "127.0.0.1",
        server.addr.port(),
        "echo",
        "pw",
        "AAECAwQFBgcICQoLDA0ODw==",
        hostile::KEY2,
    );
    let mut c = Client::new(config).unwrap();
    assert_eq!(code(c.process("API.GetClients", None)), 6);
}

#[test]
fn auth_rejection_has_the_servers_return_and_the_original_clients_result() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "reject");
    let e = c.process("API.GetClients", None).unwrap_err();
    assert_eq!(
        e.to_json(),
        r#"{"result":"Access denied","return":"Access denied","code":101}"#
    );
    assert!(!c.check_connection());
}

#[test]
fn requests_are_encoded_like_php_and_replies_pass_through() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "echo");
    let reply = c
        .process(
            "API.Client.9527563927532953.AutorizeInfo.Name",
            Some(r#" { "a/b" : ["Иван", 9527563927532953, 1.50, null, true] } "#),
        )
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(
        v["return"],
        r#"{"path":"API.Client.9527563927532953.AutorizeInfo.Name","value":{"a\/b":["\u0418\u0432\u0430\u043d",9527563927532953,1.50,null,true]}}"#
    );
    let read = c.process("API.GetClients", None).unwrap();
    assert!(read.contains(r#"\"value\":null"#), "{read}");
}

#[test]
fn invalid_value_json_fails_before_connecting() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "echo");
    let e = c.process("API.GetClients", Some("{oops")).unwrap_err();
    assert_eq!(e.code(), code::INVALID_ARGUMENT);
    assert_eq!(server.counters.auths.load(Ordering::SeqCst), 0);
}

#[test]
fn reply_timeout_is_9001_and_the_request_is_not_resent() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "timeout");
    assert_eq!(code(c.process("API.GetClients", None)), code::TIMEOUT);
    assert_eq!(server.counters.requests.load(Ordering::SeqCst), 1);
    assert!(!c.is_connected());
}

#[test]
fn connection_lost_after_sending_is_9002_and_not_resent() {
    let server = hostile::spawn(0);
    for login in ["drop", "truncated"] {
        let before = server.counters.requests.load(Ordering::SeqCst);
        let mut c = client(server.addr.port(), login);
        assert_eq!(
            code(c.process("API.Client.1.BillingInfo.Money", Some("\"5\""))),
            code::CONNECTION_LOST,
            "{login}"
        );
        assert_eq!(server.counters.requests.load(Ordering::SeqCst), before + 1);
    }
}

#[test]
fn oversized_frame_is_9003() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "huge");
    assert_eq!(
        code(c.process("API.GetClients", None)),
        code::FRAME_TOO_LARGE
    );
}

#[test]
fn malformed_replies_are_9004() {
    let server = hostile::spawn(0);
    for login in ["misaligned", "not-utf8", "empty"] {
        let mut c = client(server.addr.port(), login);
        assert_eq!(
            code(c.process("API.GetClients", None)),
            code::MALFORMED_REPLY,
            "{login}"
        );
    }
}

#[test]
fn a_reply_with_a_nul_inside_is_9004_for_rust_callers_too() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "nul");
    assert_eq!(
        code(c.process("API.GetClients", None)),
        code::MALFORMED_REPLY
    );
}

#[test]
fn a_connection_dropped_between_calls_is_reopened_before_sending() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "once");
    for round in 1..=3 {
        assert_eq!(code(c.process("API.GetClients", None)), 0);
        assert!(server.counters.wait_closed(round));
    }
    assert_eq!(server.counters.auths.load(Ordering::SeqCst), 3);
    assert_eq!(server.counters.requests.load(Ordering::SeqCst), 3);
}

#[test]
fn a_connection_out_of_step_is_replaced_not_trusted() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "unsolicited");
    // The stray frame is already behind the first reply: that reply is not trusted.
    assert_eq!(code(c.process("API.A", None)), code::OUT_OF_STEP);
    assert!(!c.is_connected());
    let second = c.process("API.B", None).unwrap_err();
    assert_eq!(second.code(), code::OUT_OF_STEP);
    assert_eq!(server.counters.auths.load(Ordering::SeqCst), 2);
    assert_eq!(server.counters.requests.load(Ordering::SeqCst), 2);
}

#[test]
fn server_restart_on_the_same_port_is_transparent() {
    let port = hostile::dead_port();
    let mut c = client(port, "echo");
    assert!(c.process("API.GetClients", None).is_err());
    let _server = hostile::spawn(port);
    assert_eq!(code(c.process("API.GetClients", None)), 0);
    assert!(c.check_connection());
}

#[test]
fn disconnect_keeps_the_client_usable() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "echo");
    assert!(c.check_connection());
    c.disconnect();
    assert!(!c.is_connected());
    assert_eq!(code(c.process("API.GetClients", None)), 0);
    assert_eq!(server.counters.auths.load(Ordering::SeqCst), 2);
}

#[test]
fn a_reply_that_is_not_json_is_9013_with_its_text_in_detail() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "not-json");
    let e = c.process("API.GetClients", None).unwrap_err();
    assert_eq!(e.code(), code::REPLY_NOT_JSON);
    let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
    assert_eq!(v["detail"], "<b>Fatal error</b>: out of memory");
    assert!(!c.is_connected());
}

#[test]
fn a_batch_reply_naming_paths_as_the_core_normalised_them_passes_through() {
    // The core may echo a batch's paths normalised (`API.Clients` as `API.Client`, another
    // case, a GUID without its leading zero): the protocol only infers them, so the reply is
    // passed through as the original client passes it, and the connection stays.
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "stray-path");
    let reply = c
        .process(
            "API.Client",
            Some(r#"{"1.AutorizeInfo.Name":"x","2.X":"y"}"#),
        )
        .unwrap();
    assert!(reply.contains("API.Clients.2.X"), "{reply}");
    assert!(c.is_connected());
    assert!(c.process("API.Other", None).is_ok());
}

#[test]
fn a_reply_that_is_not_utf8_passes_through_as_bytes() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "not-utf8");
    let reply = c.process_bytes("API.GetClients", None, None).unwrap();
    assert_eq!(reply, b"{\"return\":\"\xff\xfe\",\"code\":0}");
    assert!(
        c.is_connected(),
        "a reply in another encoding is a good reply"
    );
    // The text API still wants UTF-8, and says where to go instead.
    let e = c.process("API.GetClients", None).unwrap_err();
    assert_eq!(e.code(), code::MALFORMED_REPLY);
    assert!(e.to_string().contains("process_bytes"), "{e}");
}

#[test]
fn a_trickling_reply_ends_at_the_call_deadline_not_after_it() {
    let server = hostile::spawn(0);
    let mut config = Config::new(
        "127.0.0.1",
        server.addr.port(),
        "trickle",
        "pw",
        hostile::KEY1,
        hostile::KEY2,
    );
    config.io_timeout = Duration::from_millis(500);
    config.call_timeout = Duration::from_millis(800);
    let mut c = Client::new(config).unwrap();
    let started = std::time::Instant::now();
    let e = c.process("API.GetClients", None).unwrap_err();
    assert_eq!(e.code(), code::TIMEOUT, "{e}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(780) && took < Duration::from_millis(1500),
        "{took:?}"
    );
}

#[test]
fn a_call_cancelled_from_another_thread_returns_9011_at_once() {
    let server = hostile::spawn(0);
    let mut c = client(server.addr.port(), "trickle");
    let token = CancelToken::new();
    let fired = token.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(250));
        fired.cancel();
        std::time::Instant::now()
    });
    let e = c.process_with("API.GetClients", None, &token).unwrap_err();
    let returned = std::time::Instant::now();
    let cancelled = canceller.join().unwrap();
    assert_eq!(e.code(), code::CANCELLED, "{e}");
    assert!(returned.duration_since(cancelled) < Duration::from_millis(200));
    assert!(!c.is_connected());
    // A token applies to the calls given it only: a call without it runs, one given it again
    // stops before sending anything.
    let mut c = client(server.addr.port(), "echo");
    assert_eq!(code(c.process("API.GetClients", None)), 0);
    let e = c.process_with("API.GetClients", None, &token).unwrap_err();
    assert_eq!(e.code(), code::CANCELLED);
    assert!(e.to_string().contains("nothing was sent"), "{e}");
    assert!(
        c.is_connected(),
        "a call refused before sending keeps the connection"
    );
}
