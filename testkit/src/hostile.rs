//! A misbehaving MikroBILL peer for fault tests. It decrypts the auth message like the core does,
//! then misbehaves in the way the login names, so each test picks its fault by logging in as it.
//! Logins and what they get:
//!   close-auth    the connection is closed instead of an auth reply
//!   garbage-auth  an auth reply that does not decrypt to JSON
//!   reject        `{"return":"Access denied","code":101}`, then close
//!   echo          every request answered `{"return":<request plaintext>,"code":0}`
//!   once          like echo, but the connection is closed after the first reply
//!   unsolicited   like echo, but an extra frame follows each reply
//!   timeout       requests are read and never answered
//!   drop          the connection is closed after each request is read
//!   huge          a reply announcing 4 GiB
//!   misaligned    a reply frame of 17 bytes
//!   truncated     a reply frame cut short, then close
//!   not-utf8      a reply that decrypts to invalid UTF-8
//!   nul           a reply with a NUL byte inside
//!   empty         a reply of one all-zero block
//! Any other login is treated as echo. Only the auth and request counts are kept, for tests that
//! check whether a request was resent.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use mikrobill::protocol::crypto::Cipher;
use mikrobill::protocol::frame::{read_frame, write_frame};
use mikrobill::protocol::phpjson;

pub const KEY1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const KEY2: &str = "EBESExQVFhcYGRobHB0eHw==";
const OTHER_KEY1: &str = "AAECAwQFBgcICQoLDA0ODw==";

#[derive(Default)]
pub struct Counters {
    pub auths: AtomicUsize,
    pub requests: AtomicUsize,
    pub disconnects: AtomicUsize,
    /// Connections this side has closed, so a test can wait for a close before its next call.
    pub closed: AtomicUsize,
}

impl Counters {
    /// Waits (up to 10 s) until `closed` reaches `n`; true if it did.
    pub fn wait_closed(&self, n: usize) -> bool {
        for _ in 0..1000 {
            if self.closed.load(Ordering::SeqCst) >= n {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    }
}

pub struct Hostile {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
}

/// Listens on 127.0.0.1 at `port` (0 for any) and serves on background threads.
pub fn spawn(port: u16) -> Hostile {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("bound address");
    let counters = Arc::new(Counters::default());
    let shared = Arc::clone(&counters);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counters = Arc::clone(&shared);
            thread::spawn(move || {
                serve(stream, &counters);
                counters.closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    Hostile { addr, counters }
}

fn send(stream: &mut TcpStream, cipher: &Cipher, plain: &[u8]) -> bool {
    write_frame(stream, &cipher.encrypt(plain)).is_ok()
}

fn serve(mut stream: TcpStream, counters: &Counters) {
    let cipher = Cipher::from_base64(KEY1, KEY2).expect("test keys");
    let Ok(frame) = read_frame(&mut stream, 1 << 20) else {
        return;
    };
    let Some(plain) = cipher.decrypt(&frame) else {
        return;
    };
    let Ok(auth) = serde_json::from_slice::<serde_json::Value>(&plain) else {
        return;
    };
    let login = auth["auth"]["login"].as_str().unwrap_or("").to_string();
    counters.auths.fetch_add(1, Ordering::SeqCst);
    match login.as_str() {
        "close-auth" => return,
        "garbage-auth" => {
            let other = Cipher::from_base64(OTHER_KEY1, KEY2).expect("test keys");
            send(&mut stream, &other, br#"{"return":"OK","code":0}"#);
            return;
        }
        "reject" => {
            send(
                &mut stream,
                &cipher,
                br#"{"return":"Access denied","code":101}"#,
            );
            return;
        }
        _ => {
            if !send(&mut stream, &cipher, br#"{"return":"OK","code":0}"#) {
                return;
            }
        }
    }
    loop {
        let Ok(frame) = read_frame(&mut stream, 1 << 20) else {
            return;
        };
        let request = cipher.decrypt(&frame).unwrap_or_default();
        if request.starts_with(br#"{"path":"DISCONNECT""#) {
            counters.disconnects.fetch_add(1, Ordering::SeqCst);
            send(&mut stream, &cipher, br#"{"return":"OK","code":0}"#);
            return;
        }
        counters.requests.fetch_add(1, Ordering::SeqCst);
        let echo = {
            let mut out = String::from(r#"{"return":"#);
            phpjson::write_str(&mut out, &String::from_utf8_lossy(&request));
            out.push_str(r#","code":0}"#);
            out
        };
        let ok = match login.as_str() {
            "timeout" => {
                // Hold the connection open without answering until the client gives up.
                let _ = read_frame(&mut stream, 1 << 20);
                return;
            }
            "drop" => return,
            "huge" => stream.write_all(&[0xff, 0xff, 0xff, 0xff]).is_ok(),
            "misaligned" => {
                stream.write_all(&[17, 0, 0, 0]).is_ok() && stream.write_all(&[1; 17]).is_ok()
            }
            "truncated" => {
                let _ = stream.write_all(&[32, 0, 0, 0]);
                let _ = stream.write_all(&[1; 16]);
                return;
            }
            "not-utf8" => send(
                &mut stream,
                &cipher,
                b"{\"return\":\"\xff\xfe\",\"code\":0}",
            ),
            "nul" => send(&mut stream, &cipher, b"{\"return\":1,\"code\":0}\0{}"),
            "empty" => write_frame(&mut stream, &cipher.encrypt(&[0u8; 16])).is_ok(),
            "not-json" => send(&mut stream, &cipher, b"<b>Fatal error</b>: out of memory"),
            "stray-path" => send(
                &mut stream,
                &cipher,
                br#"[{"return":"OK","code":0,"path":"API.Client.1.AutorizeInfo.Name"},{"return":"OK","code":0,"path":"API.Clients.2.X"}]"#,
            ),
            "trickle" => {
                let mut frame = Vec::new();
                let _ = write_frame(&mut frame, &cipher.encrypt(echo.as_bytes()));
                frame.iter().all(|byte| {
                    thread::sleep(Duration::from_millis(100));
                    stream.write_all(std::slice::from_ref(byte)).is_ok()
                })
            }
            "once" => {
                send(&mut stream, &cipher, echo.as_bytes());
                return;
            }
            "unsolicited" => {
                // One write, so the stray frame is already there when the client looks.
                let mut both = Vec::new();
                let _ = write_frame(&mut both, &cipher.encrypt(echo.as_bytes()));
                let _ = write_frame(
                    &mut both,
                    &cipher.encrypt(br#"{"return":"stray","code":0}"#),
                );
                stream.write_all(&both).is_ok()
            }
            _ => send(&mut stream, &cipher, echo.as_bytes()),
        };
        if !ok {
            return;
        }
    }
}

/// A port where nothing listens: bound, then released.
pub fn dead_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
