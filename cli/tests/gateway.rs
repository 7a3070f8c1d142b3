//! `mb --gateway URL --token-file FILE`: `process` and `shell` through a real mikrobill-gateway
//! over TLS (a certificate the test makes), in front of the simulator. The replies equal those
//! of the direct route; the gateway's refusals, a wrong token, a wrong CA and a core that is down
//! come back as clear messages with their codes; the token never appears in anything mb prints.
//!
//! The gateway binary is the one `cargo test --workspace` (CI) or `cargo build -p
//! mikrobill-gateway` builds into this profile's folder; missing, the tests fail and say so.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use mikrobill_sim::config::{DEMO_KEY1, DEMO_KEY2, DEMO_LOGIN, DEMO_PASSWORD};
use mikrobill_testkit::sim::{Sim, IVANOV};

const PASSWORD_ENV: &str = "MB_GATEWAY_TEST_PASSWORD";
const WRITER: &str = "mbg_test_writer_3f1c9a7e";
const READER: &str = "mbg_test_reader_b42d0c55";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("mb-gateway-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gateway_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let binary = profile_dir.join(format!("mikrobill-gateway{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build -p mikrobill-gateway, or run the workspace's \
         tests, which build it)",
        binary.display()
    );
    binary
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A self-signed certificate for 127.0.0.1 and localhost: (cert PEM, key PEM).
fn certificate() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A gateway over TLS to the core on `core_port`, with a read-write token and a read-only one.
fn start_gateway(dir: &TempDir, core_port: u16) -> Gateway {
    let (cert, key) = certificate();
    let cert = dir.write("cert.pem", &cert);
    let key = dir.write("key.pem", &key);
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ntls_cert = {cert:?}\ntls_key = {key:?}\n\
         audit_log = {audit:?}\n\n\
         [core]\nhost = \"127.0.0.1\"\nport = {core_port}\nlogin = \"{DEMO_LOGIN}\"\n\
         password_env = \"{PASSWORD_ENV}\"\nkey1 = \"{DEMO_KEY1}\"\nkey2 = \"{DEMO_KEY2}\"\n\
         connect_timeout_ms = 2000\nio_timeout_ms = 2000\n\n\
         [[token]]\nname = \"writer\"\nsha256 = \"{writer}\"\npaths = [\"*\"]\nread_only = false\n\
         rate_per_second = 1000\nburst = 1000\n\n\
         [[token]]\nname = \"reader\"\nsha256 = \"{reader}\"\npaths = [\"API.Client.*\"]\n\
         read_only = true\nrate_per_second = 1000\nburst = 1000\n",
        audit = dir.path("audit.jsonl"),
        writer = sha256_hex(WRITER),
        reader = sha256_hex(READER),
    );
    let config = dir.write("gateway.toml", &config);
    let mut child = Command::new(gateway_binary())
        .args(["serve", "--config"])
        .arg(&config)
        .env(PASSWORD_ENV, DEMO_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the gateway");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the gateway said {line:?}"))
        .to_string();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    Gateway { child, url }
}

struct Setup {
    dir: TempDir,
    sim: Sim,
    gateway: Gateway,
}

impl Setup {
    fn new(name: &str) -> Setup {
        let dir = TempDir::new(name);
        let mut serve = Command::new(env!("CARGO_BIN_EXE_mb"));
        serve.arg("serve");
        let sim = Sim::start_command(serve);
        let gateway = start_gateway(&dir, sim.port);
        dir.write("writer.token", &format!("{WRITER}\n"));
        dir.write("reader.token", &format!("{READER}\n"));
        Setup { dir, sim, gateway }
    }

    /// `mb --gateway URL --token-file TOKEN --gateway-ca cert.pem ARGS...`.
    fn mb(&self, token: &str, args: &[&str]) -> Output {
        self.mb_command(token, args).output().unwrap()
    }

    fn mb_command(&self, token: &str, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
        command
            .arg("--gateway")
            .arg(&self.gateway.url)
            .arg("--token-file")
            .arg(self.dir.path(token))
            .arg("--gateway-ca")
            .arg(self.dir.path("cert.pem"))
            .args(args)
            .env_clear();
        command
    }

    /// The same request straight to the simulator.
    fn direct(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_mb"))
            .arg("process")
            .args(args)
            .env_clear()
            .env("MIKROBILL_PORT", self.sim.port.to_string())
            .output()
            .unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Nothing mb printed holds either token.
fn assert_no_token(output: &Output) {
    for stream in [&output.stdout, &output.stderr] {
        let printed = String::from_utf8_lossy(stream);
        assert!(
            !printed.contains(WRITER) && !printed.contains(READER),
            "a token was printed: {printed}"
        );
    }
}

fn money() -> String {
    format!("API.Client.{IVANOV}.BillingInfo.Money")
}

#[test]
fn process_through_the_gateway_gives_the_direct_reply() {
    let setup = Setup::new("same");
    let money = money();
    for args in [
        vec!["process", "API.GetClients"],
        vec!["process", &money],
        vec!["process", "--pretty", &money],
        vec!["process", "--json", "API.Client.1.BillingInfo.Money"],
    ] {
        let through = setup.mb("writer.token", &args);
        let direct = setup.direct(&args[1..]);
        assert_eq!(text(&through.stdout), text(&direct.stdout), "{args:?}");
        assert_eq!(through.status.code(), direct.status.code(), "{args:?}");
        assert_no_token(&through);
    }
    // A core's non-zero code is exit 1 on both routes (the last request above).
    assert_eq!(
        setup
            .mb(
                "writer.token",
                &["process", "API.Client.1.BillingInfo.Money"]
            )
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn a_set_goes_through_once_and_a_read_only_token_is_refused() {
    let setup = Setup::new("set");
    let money = money();
    let set = setup.mb("writer.token", &["process", &money, "\"123.45\""]);
    assert_eq!(set.status.code(), Some(0), "{}", text(&set.stderr));
    let read = setup.direct(&[&money]);
    assert_eq!(text(&read.stdout), "{\"return\":\"123.45\",\"code\":0}\n");

    let refused = setup.mb("reader.token", &["process", &money, "\"0.01\""]);
    assert_eq!(refused.status.code(), Some(3));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("HTTP 403"), "{stderr}");
    assert!(stderr.contains("read-only"), "{stderr}");
    assert!(stderr.contains("(code 9403)"), "{stderr}");
    assert_no_token(&refused);
    // Never reached the core.
    let read = setup.direct(&[&money]);
    assert_eq!(text(&read.stdout), "{\"return\":\"123.45\",\"code\":0}\n");

    // Outside the reader's scope; --json gives the gateway's error JSON on standard output.
    let outside = setup.mb("reader.token", &["process", "--json", "API.GetClients"]);
    assert_eq!(outside.status.code(), Some(3));
    let line: serde_json::Value = serde_json::from_slice(&outside.stdout).unwrap();
    assert_eq!(line["code"], 9403);
    assert!(line["return"]
        .as_str()
        .unwrap()
        .contains("outside this token's scope"));
}

#[test]
fn a_wrong_or_missing_token_is_a_clear_error() {
    let setup = Setup::new("token");
    setup
        .dir
        .write("wrong.token", "mbg_not_a_known_token_at_all\n");
    let wrong = setup.mb("wrong.token", &["process", "API.GetClients"]);
    assert_eq!(wrong.status.code(), Some(3));
    let stderr = text(&wrong.stderr);
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("(code 9401)"),
        "{stderr}"
    );
    assert!(!stderr.contains("mbg_not_a_known_token_at_all"), "{stderr}");

    let missing = setup.mb("absent.token", &["process", "API.GetClients"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("absent.token"));

    setup.dir.write("empty.token", "\n");
    let empty = setup.mb("empty.token", &["process", "API.GetClients"]);
    assert_eq!(empty.status.code(), Some(2));
    assert!(text(&empty.stderr).contains("first line is empty"));

    let no_file = Command::new(env!("CARGO_BIN_EXE_mb"))
        .args(["--gateway", &setup.gateway.url, "process", "API.GetClients"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(no_file.status.code(), Some(2));
    assert!(text(&no_file.stderr).contains("--token-file"));
}

#[test]
fn an_untrusted_certificate_fails_with_the_fix() {
    let setup = Setup::new("tls");
    // No --gateway-ca: the self-signed certificate is not trusted.
    let untrusted = Command::new(env!("CARGO_BIN_EXE_mb"))
        .arg("--gateway")
        .arg(&setup.gateway.url)
        .arg("--token-file")
        .arg(setup.dir.path("writer.token"))
        .args(["process", "API.GetClients"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(untrusted.status.code(), Some(3));
    let stderr = text(&untrusted.stderr);
    assert!(stderr.contains("TLS with the gateway failed"), "{stderr}");
    assert!(
        stderr.contains("--gateway-ca") && stderr.contains("(code 9502)"),
        "{stderr}"
    );
    assert_no_token(&untrusted);

    // Another certificate as the CA: refused the same way.
    let (other, _) = certificate();
    let other = setup.dir.write("other.pem", &other);
    let wrong_ca = Command::new(env!("CARGO_BIN_EXE_mb"))
        .arg("--gateway")
        .arg(&setup.gateway.url)
        .arg("--token-file")
        .arg(setup.dir.path("writer.token"))
        .arg("--gateway-ca")
        .arg(&other)
        .args(["process", "API.GetClients"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(wrong_ca.status.code(), Some(3));
    assert!(text(&wrong_ca.stderr).contains("TLS with the gateway failed"));

    let not_pem = setup.dir.write("not.pem", "hello\n");
    let bad = Command::new(env!("CARGO_BIN_EXE_mb"))
        .arg("--gateway")
        .arg(&setup.gateway.url)
        .arg("--token-file")
        .arg(setup.dir.path("writer.token"))
        .arg("--gateway-ca")
        .arg(&not_pem)
        .args(["process", "API.GetClients"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("no PEM certificate"));
}

#[test]
fn a_core_that_is_down_comes_back_with_the_librarys_code() {
    let dir = TempDir::new("down");
    let dead = mikrobill_testkit::hostile::dead_port();
    let gateway = start_gateway(&dir, dead);
    dir.write("writer.token", &format!("{WRITER}\n"));
    let output = Command::new(env!("CARGO_BIN_EXE_mb"))
        .arg("--gateway")
        .arg(&gateway.url)
        .arg("--token-file")
        .arg(dir.path("writer.token"))
        .arg("--gateway-ca")
        .arg(dir.path("cert.pem"))
        .args(["process", "API.GetClients"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = text(&output.stderr);
    // The OS's "connection refused", as the direct route reports it.
    assert!(
        stderr.contains("HTTP 502") && stderr.contains("(code 111)"),
        "{stderr}"
    );
}

#[test]
fn the_core_flags_and_other_commands_do_not_mix_with_gateway() {
    let setup = Setup::new("flags");
    let both = setup.mb(
        "writer.token",
        &["process", "--host", "10.0.0.1", "API.GetClients"],
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(
        text(&both.stderr).contains("--host"),
        "{}",
        text(&both.stderr)
    );
    let serve = setup.mb("writer.token", &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(serve.status.code(), Some(2));
    assert!(text(&serve.stderr).contains("`process` and `shell`"));
    // The environment's core settings are simply not used.
    let env = setup
        .mb_command("writer.token", &["process", "API.GetClients"])
        .env("MIKROBILL_PORT", "1")
        .output()
        .unwrap();
    assert_eq!(env.status.code(), Some(0), "{}", text(&env.stderr));
}

#[test]
fn the_shell_runs_over_the_gateway() {
    let setup = Setup::new("shell");
    let mut child = setup
        .mb_command("writer.token", &["shell", "--history"])
        .arg(setup.dir.path("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{}\nAPI.Client.1.BillingInfo.Money\n", money()).as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = text(&output.stdout);
    assert!(stdout.contains(&setup.gateway.url), "{stdout}");
    assert!(
        stdout.contains("{\"return\":\"100.01\",\"code\":0}"),
        "{stdout}"
    );
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("not connected yet"), "{stderr}");
    assert!(
        stderr.contains("code"),
        "the failing request's code: {stderr}"
    );
    assert_no_token(&output);
}
