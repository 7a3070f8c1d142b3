//! Starts a real simulator (the `mikrobill-sim` binary, with its control API) and a real gateway
//! (this crate's binary, over TLS with a certificate made here), and talks HTTPS to the gateway.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, RootCertStore};
use tokio_rustls::TlsConnector;

pub const KEY1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const KEY2: &str = "EBESExQVFhcYGRobHB0eHw==";
pub const LOGIN: &str = "gw";
/// Distinctive, so that its absence from logs and answers can be checked.
pub const PASSWORD: &str = "gw-Pass-7Zq81x";
pub const PASSWORD_ENV: &str = "MB_GATEWAY_TEST_PASSWORD";
pub const IVANOV: u64 = 633824158637492;
pub const PETROV: u64 = 9527563927532953;

/// A scratch folder for one test, removed when it ends.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mb-gateway-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The simulator binary: `$MIKROBILL_SIM`, or the one built next to this test's target folder
/// (`cargo build --release -p mikrobill-sim`). Missing is a failure, never a skip.
pub fn sim_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("MIKROBILL_SIM") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let sim = dir.join(format!("mikrobill-sim{}", std::env::consts::EXE_SUFFIX));
    assert!(
        sim.exists(),
        "{} is missing: build it first (cargo build --release -p mikrobill-sim) or set MIKROBILL_SIM",
        sim.display()
    );
    sim
}

pub struct Sim {
    child: Child,
    pub port: u16,
    pub admin: SocketAddr,
    config: PathBuf,
}

impl Sim {
    /// A simulator with the demo dataset, a cashier `gw` and its control API.
    pub fn start(dir: &TempDir) -> Sim {
        let config = dir.path("sim.json");
        std::fs::write(
            &config,
            serde_json::json!({
                "key1": KEY1, "key2": KEY2,
                "cashiers": [{"login": LOGIN, "password": PASSWORD, "api": true}]
            })
            .to_string(),
        )
        .unwrap();
        Sim::start_on(&config, "127.0.0.1:0")
    }

    fn start_on(config: &Path, listen: &str) -> Sim {
        let mut child = Command::new(sim_binary())
            .arg("--config")
            .arg(config)
            .args(["--listen", listen, "--admin", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the simulator");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("simulator said {line:?}"));
        line.clear();
        out.read_line(&mut line).unwrap();
        let admin = line
            .trim()
            .strip_prefix("admin on http://")
            .and_then(|a| a.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("simulator said {line:?}"));
        Sim {
            child,
            port,
            admin,
            config: config.to_path_buf(),
        }
    }

    /// Kills this simulator and starts another on the same port (a core restart).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The port may linger briefly; the simulator refuses to start until it is free.
            let next = std::panic::catch_unwind(|| {
                Sim::start_on(&self.config, &format!("127.0.0.1:{}", self.port))
            });
            match next {
                Ok(next) => {
                    *self = next;
                    return;
                }
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => std::panic::resume_unwind(e),
            }
        }
    }

    /// `GET /api/...` on the control API: the parsed JSON.
    pub fn admin_get(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.admin("GET", path, None);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub fn admin_post(&self, path: &str, body: &str) -> serde_json::Value {
        let (status, text) = self.admin("POST", path, Some(body));
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    pub fn admin_delete(&self, path: &str) {
        let (status, text) = self.admin("DELETE", path, None);
        assert!(status == 200 || status == 204, "{path}: {status} {text}");
    }

    /// Requests the core has answered (or dropped by a fault) since it started.
    pub fn requests(&self) -> u64 {
        self.admin_get("/api/counts")["requests"].as_u64().unwrap()
    }

    fn admin(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut s = TcpStream::connect(self.admin).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        // Only small JSON answers are read here; a chunked one is unwrapped crudely.
        let body = if text
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            let mut out = String::new();
            let mut rest = body;
            while let Some((size, after)) = rest.split_once("\r\n") {
                let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if n == 0 {
                    break;
                }
                out.push_str(&after[..n]);
                rest = &after[n + 2..];
            }
            out
        } else {
            body.to_string()
        };
        (status, body)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A token the tests configure: its secret text and its `[[token]]` settings.
pub struct TestToken {
    pub name: &'static str,
    pub secret: String,
    pub paths: Vec<&'static str>,
    pub read_only: bool,
    pub rate: u32,
    pub burst: u32,
}

impl TestToken {
    pub fn new(name: &'static str, paths: &[&'static str], read_only: bool) -> TestToken {
        TestToken {
            name,
            secret: format!("mbg_test_{name}_5eed0f7a"),
            paths: paths.to_vec(),
            read_only,
            rate: 10_000,
            burst: 10_000,
        }
    }

    pub fn rate(mut self, rate: u32, burst: u32) -> TestToken {
        self.rate = rate;
        self.burst = burst;
        self
    }

    pub fn block(&self) -> String {
        let hash = mikrobill_gateway::tokens::hex(&mikrobill_gateway::tokens::sha256(
            self.secret.as_bytes(),
        ));
        let paths: Vec<String> = self.paths.iter().map(|p| format!("{p:?}")).collect();
        format!(
            "[[token]]\nname = {:?}\nsha256 = \"{hash}\"\npaths = [{}]\nread_only = {}\n\
             rate_per_second = {}\nburst = {}\n",
            self.name,
            paths.join(", "),
            self.read_only,
            self.rate,
            self.burst
        )
    }
}

/// What goes into the gateway's config besides the tokens.
pub struct Setup {
    pub server: Vec<String>,
    pub core: Vec<String>,
    pub tls: bool,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            server: Vec::new(),
            core: Vec::new(),
            tls: true,
        }
    }
}

pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    pub config: PathBuf,
    pub audit: PathBuf,
    pub stderr: PathBuf,
    pub cert_der: Vec<u8>,
    pub cert_pem: PathBuf,
}

fn rustls_der(pem: &[u8]) -> Vec<u8> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem).unwrap().to_vec()
}

/// A self-signed certificate for `localhost` and 127.0.0.1: (cert PEM path, key PEM path, DER).
pub fn make_certificate(dir: &TempDir) -> (PathBuf, PathBuf, Vec<u8>) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.path("cert.pem"), dir.path("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key, certified.cert.der().to_vec())
}

pub fn config_text(dir: &TempDir, sim_port: u16, setup: &Setup, tokens: &[&TestToken]) -> String {
    let mut text = String::from("[server]\nlisten = \"127.0.0.1:0\"\n");
    if setup.tls {
        text.push_str(&format!(
            "tls_cert = {:?}\ntls_key = {:?}\n",
            dir.path("cert.pem"),
            dir.path("key.pem")
        ));
    }
    text.push_str(&format!("audit_log = {:?}\n", dir.path("audit.jsonl")));
    for line in &setup.server {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!(
        "\n[core]\nhost = \"127.0.0.1\"\nport = {sim_port}\nlogin = \"{LOGIN}\"\n\
         password_env = \"{PASSWORD_ENV}\"\nkey1 = \"{KEY1}\"\nkey2_file = {:?}\n",
        dir.path("key2.txt")
    ));
    std::fs::write(dir.path("key2.txt"), format!("{KEY2}\n")).unwrap();
    for line in &setup.core {
        text.push_str(line);
        text.push('\n');
    }
    for token in tokens {
        text.push('\n');
        text.push_str(&token.block());
    }
    text
}

impl Gateway {
    pub fn start(dir: &TempDir, sim: &Sim, setup: Setup, tokens: &[&TestToken]) -> Gateway {
        make_certificate(dir);
        std::fs::write(
            dir.path("gateway.toml"),
            config_text(dir, sim.port, &setup, tokens),
        )
        .unwrap();
        Gateway::start_existing(dir, setup.tls)
    }

    /// Starts the gateway on `dir`'s gateway.toml (and cert.pem, when `tls`).
    pub fn start_existing(dir: &TempDir, tls: bool) -> Gateway {
        let config = dir.path("gateway.toml");
        let cert_pem = dir.path("cert.pem");
        let cert_der = if tls {
            rustls_der(&std::fs::read(&cert_pem).unwrap())
        } else {
            Vec::new()
        };
        let stderr = dir.path("gateway.stderr");
        let mut child = Command::new(env!("CARGO_BIN_EXE_mikrobill-gateway"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env(PASSWORD_ENV, PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&stderr).unwrap()))
            .spawn()
            .expect("start the gateway");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let scheme = if tls { "https://" } else { "http://" };
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.strip_prefix(scheme))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!(
                    "gateway said {line:?}; stderr: {}",
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                )
            });
        Gateway {
            child,
            addr,
            config,
            audit: dir.path("audit.jsonl"),
            stderr,
            cert_der,
            cert_pem,
        }
    }

    pub fn https(&self) -> Https {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.cert_der.clone()))
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Https {
            connector: TlsConnector::from(Arc::new(config)),
            addr: self.addr,
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid, which we have not waited for yet.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }

    /// Waits for the gateway to exit (after a SIGTERM): its exit code.
    pub fn wait(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the gateway did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?}: {e}")))
            .collect()
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Rewrites the config with these tokens (same core and server settings).
    pub fn rewrite_config(&self, text: &str) {
        let tmp = self.config.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.config).unwrap();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Https {
    connector: TlsConnector,
    pub addr: SocketAddr,
}

#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn code(&self) -> i64 {
        self.json()["code"].as_i64().unwrap()
    }
}

impl Https {
    /// A TLS stream to the gateway, handshake done.
    pub async fn tls(&self) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        self.connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    }

    pub async fn connect(&self) -> Conn {
        let (sender, connection) = http1::handshake(TokioIo::new(self.tls().await))
            .await
            .unwrap();
        tokio::spawn(connection);
        Conn { sender }
    }

    /// One request on a connection of its own.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        self.connect().await.send(method, path, token, body).await
    }

    pub async fn process(&self, token: &TestToken, path: &str, value: Option<&str>) -> Answer {
        self.connect().await.process(token, path, value).await
    }
}

/// A kept-alive HTTPS connection.
pub struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Answer {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or("").to_string())))
            .unwrap();
        self.sender.ready().await.unwrap();
        let response = self.sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    pub async fn process(&mut self, token: &TestToken, path: &str, value: Option<&str>) -> Answer {
        let body = match value {
            Some(v) => format!(r#"{{"path":{path:?},"value":{v}}}"#),
            None => format!(r#"{{"path":{path:?}}}"#),
        };
        self.send("POST", "/v1/process", Some(&token.secret), Some(&body))
            .await
    }
}

/// Polls `check` every 20 ms until it holds, failing after `limit` (a generous bound).
pub async fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
