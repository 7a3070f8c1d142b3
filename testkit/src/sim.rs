//! The one launcher of the simulator for the Rust tests and benchmarks: starts the real
//! `mikrobill-sim` binary (or `mb serve`) on a free port, reads the port (and the control API's
//! address) from its first lines, and stops it when dropped. Also speaks the wire protocol to it
//! over TCP, with the demo cashier's keys.

use mikrobill::protocol::crypto::Cipher;
use mikrobill::protocol::frame::{read_frame, write_frame};
use mikrobill::protocol::message;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, SystemTime};

pub use mikrobill_sim::config::{DEMO_KEY1 as KEY1, DEMO_KEY2 as KEY2, DEMO_LOGIN, DEMO_PASSWORD};
pub const IVANOV: u64 = 633824158637492;
pub const IVANOV_ACC: u64 = 28236356495083;
pub const PETROV: u64 = 9527563927532953;
pub const PETROV_ACC: u64 = 835354904534456;
pub const PETROV_ACC2: u64 = 835354904534457;
pub const SIDOROVA: u64 = 4611686018427387905;

/// A running simulator, killed when dropped.
pub struct Sim {
    pub child: Child,
    pub port: u16,
    /// `ADDR:PORT` of the control API, when it was started with one (`Launch::admin`).
    pub admin: Option<String>,
}

/// A simulator about to start: its command, where it listens and whether it serves the control
/// API.
pub struct Launch {
    command: Command,
    listen: String,
    admin: Option<String>,
}

impl Launch {
    pub fn arg(mut self, arg: &str) -> Launch {
        self.command.arg(arg);
        self
    }

    pub fn args(mut self, args: &[&str]) -> Launch {
        self.command.args(args);
        self
    }

    /// Listen on `addr` instead of a free loopback port.
    pub fn listen(mut self, addr: &str) -> Launch {
        self.listen = addr.to_string();
        self
    }

    /// Serve the control API on `addr` (`127.0.0.1:0` for a free port); its address is then in
    /// `Sim::admin`.
    pub fn admin(mut self, addr: &str) -> Launch {
        self.admin = Some(addr.to_string());
        self
    }

    /// Starts it and waits for its `listening on` line (and `admin on` line).
    pub fn start(mut self) -> Sim {
        self.command.args(["--listen", &self.listen]);
        if let Some(admin) = &self.admin {
            self.command.args(["--admin", admin]);
        }
        let mut child = self
            .command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the simulator");
        let mut out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let port = after_prefix(&mut out, "listening on ")
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("the first line ends with the port");
        let admin = self.admin.is_some().then(|| {
            let line = after_prefix(&mut out, "admin on http://");
            line.strip_suffix('/')
                .unwrap_or_else(|| panic!("unexpected admin line {line:?}"))
                .to_string()
        });
        Sim { child, port, admin }
    }
}

/// The next stdout line of the simulator, which must start with `prefix`; the rest of it.
fn after_prefix(out: &mut BufReader<ChildStdout>, prefix: &str) -> String {
    let mut line = String::new();
    out.read_line(&mut line)
        .expect("read the simulator's stdout");
    line.trim()
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("expected a line starting {prefix:?}, got {line:?}"))
        .to_string()
}

impl Sim {
    /// The `mikrobill-sim` binary of this build: cargo builds a package's binaries for its
    /// integration tests and benchmarks into the folder above theirs (target/PROFILE), so the
    /// simulator crate's tests find it there.
    pub fn binary() -> PathBuf {
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("the test binary is in target/PROFILE/deps");
        let binary = profile_dir.join(format!("mikrobill-sim{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.exists(),
            "{} is missing: the simulator crate's tests build it; elsewhere start the simulator \
             through `mb serve` (Sim::launch_command)",
            binary.display()
        );
        binary
    }

    /// `mikrobill-sim`, on a free loopback port unless told otherwise.
    pub fn launch() -> Launch {
        Sim::launch_command(Command::new(Sim::binary()))
    }

    /// A simulator command (`mikrobill-sim` or `mb serve`, with its arguments so far).
    pub fn launch_command(command: Command) -> Launch {
        Launch {
            command,
            listen: "127.0.0.1:0".to_string(),
            admin: None,
        }
    }

    /// `mikrobill-sim ARGS` on a free loopback port.
    pub fn start(args: &[&str]) -> Sim {
        Sim::launch().args(args).start()
    }

    /// A simulator command (`mikrobill-sim` or `mb serve`) on a free loopback port.
    pub fn start_command(command: Command) -> Sim {
        Sim::launch_command(command).start()
    }

    pub fn tcp(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }

    /// A connection authenticated as the demo cashier.
    pub fn conn(&self) -> Conn {
        let mut c = Conn::new(self.tcp());
        let reply = c.auth(DEMO_LOGIN, DEMO_PASSWORD).expect("auth reply");
        assert_eq!(code(&reply), 0, "{reply}");
        c
    }

    /// The project's own client, configured for this simulator as the demo cashier.
    pub fn client(&self) -> mikrobill::Client {
        self.client_as(DEMO_LOGIN, DEMO_PASSWORD)
    }

    /// The demo cashier's client settings for this simulator.
    pub fn config(&self) -> mikrobill::Config {
        demo_client_config(self.port)
    }

    pub fn client_as(&self, login: &str, password: &str) -> mikrobill::Client {
        let cfg = mikrobill::Config::new("127.0.0.1", self.port, login, password, KEY1, KEY2);
        mikrobill::Client::new(cfg).unwrap()
    }

    #[cfg(unix)]
    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo cashier's client settings for a simulator on `port`, for threads that hold no `Sim`.
pub fn demo_client_config(port: u16) -> mikrobill::Config {
    mikrobill::Config::new("127.0.0.1", port, DEMO_LOGIN, DEMO_PASSWORD, KEY1, KEY2)
}

/// Runs the simulator with `args` where it must refuse to start: its exit code and stderr. A
/// simulator that starts after all is killed after 20 s and reported with no exit code, so the
/// caller's assertion fails instead of the test hanging on a server that never exits.
pub fn start_fails(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(Sim::binary())
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr meanwhile, so a chatty simulator cannot block on a full pipe.
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    });
    match exit_within(&mut child, Duration::from_secs(20)) {
        Some(status) => (status.code(), reader.join().unwrap()),
        None => {
            let text = reader.join().unwrap();
            (
                None,
                format!("{text}\n(the simulator started and was killed after 20 s)"),
            )
        }
    }
}

/// The child's exit status once it exits within `limit`; past it the child is killed and reaped
/// and the answer is None, so a test's assertion fails instead of the test hanging.
pub fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn cipher() -> Cipher {
    Cipher::from_base64(KEY1, KEY2).unwrap()
}

pub struct Conn {
    pub stream: TcpStream,
    cipher: Cipher,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            cipher: cipher(),
        }
    }

    pub fn send(&mut self, plain: &str) {
        write_frame(&mut self.stream, &self.cipher.encrypt(plain.as_bytes())).unwrap();
    }

    /// The next reply, or None when the server closed the connection instead.
    pub fn recv(&mut self) -> Option<String> {
        let frame = read_frame(&mut self.stream, 1 << 30).ok()?;
        Some(String::from_utf8(self.cipher.decrypt(&frame)?).unwrap())
    }

    pub fn auth(&mut self, login: &str, password: &str) -> Option<String> {
        let sign = message::microtime_sign(SystemTime::now());
        self.send(&message::auth(login, password, &sign));
        self.recv()
    }

    /// One request; `value` is JSON text, re-encoded the way PHP would send it.
    pub fn process(&mut self, path: &str, value: Option<&str>) -> String {
        let value: Option<Value> = value.map(|v| serde_json::from_str(v).unwrap());
        self.send(&message::request(path, value.as_ref()));
        self.recv().expect("a reply")
    }

    /// True when the server closed the connection (EOF) without sending anything.
    pub fn closed_without_reply(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.stream.read(&mut buf), Ok(0))
    }
}

/// `process` through the client, which must succeed at the transport level.
pub fn call(c: &mut mikrobill::Client, path: &str, value: Option<&str>) -> String {
    c.process(path, value)
        .unwrap_or_else(|e| panic!("{path}: {}", e.to_json()))
}

pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON {text:?}: {e}"))
}

pub fn code(reply: &str) -> i64 {
    parse(reply)["code"].as_i64().unwrap()
}

pub fn ret(reply: &str) -> Value {
    parse(reply)["return"].clone()
}

pub fn write_raw(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).unwrap();
}

/// A scratch folder for one test, removed when the test ends (also on panic).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("mb-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The peak resident memory of process `pid` so far, in bytes (Linux VmHWM).
pub fn peak_rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kb * 1024
}
