//! `mb shell` driven for real through a pseudo-terminal: tmux runs it, `send-keys` types and
//! `capture-pane` reads the screen, so line editing, completion, history and the password prompt
//! are exercised as a user meets them. tmux is required (scripts/setup.sh installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use mikrobill_testkit::sim::Sim;

fn serve() -> Sim {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
    command.arg("serve");
    Sim::start_command(command)
}

/// One tmux server of our own (its own socket), ended by `kill-server` on drop.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn start(name: &str, home: &Path, port: u16, args: &[&str]) -> Terminal {
        let socket = format!("mb-test-{}-{name}", std::process::id());
        let terminal = Terminal { socket };
        let mut shell = format!(
            "env -i HOME='{}' LANG=C.UTF-8 TERM=xterm-256color MIKROBILL_PORT={port} '{}' shell",
            home.display(),
            env!("CARGO_BIN_EXE_mb")
        );
        for arg in args {
            shell.push_str(&format!(" '{arg}'"));
        }
        // When mb exits the pane stays, so its last screen can still be read.
        let o = terminal.tmux(&[
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "50",
            "-s",
            "t",
            &shell,
        ]);
        assert!(o.status.success(), "tmux new-session: {}", text(&o.stderr));
        let o = terminal.tmux(&["set-option", "-t", "t", "remain-on-exit", "on"]);
        assert!(o.status.success(), "tmux set-option: {}", text(&o.stderr));
        terminal
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-u")
            .args(["-L", &self.socket])
            .args(args)
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap_or_else(|e| panic!("tmux is required for this test (scripts/setup.sh): {e}"))
    }

    /// Types keys; names such as `Tab`, `Enter`, `Up`, `C-d` are keys, other words literal text.
    fn keys(&self, keys: &[&str]) {
        for key in keys {
            let o = self.tmux(&["send-keys", "-t", "t", key]);
            assert!(o.status.success(), "send-keys {key}: {}", text(&o.stderr));
            // rustyline may drop type-ahead when it switches terminal modes: one key at a time.
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Literal text, however it looks (no key-name lookup).
    fn type_text(&self, line: &str) {
        let o = self.tmux(&["send-keys", "-t", "t", "-l", line]);
        assert!(o.status.success(), "send-keys -l: {}", text(&o.stderr));
        std::thread::sleep(Duration::from_millis(60));
    }

    fn screen(&self) -> String {
        text(
            &self
                .tmux(&["capture-pane", "-p", "-t", "t", "-S", "-200"])
                .stdout,
        )
    }

    /// Waits until the screen shows `wanted`, and returns the screen. tmux drops trailing
    /// blanks from captured lines, so `wanted` is compared without its own.
    fn wait_for(&self, wanted: &str) -> String {
        let wanted = wanted.trim_end();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.contains(wanted) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {wanted:?}; it shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The last line that holds the prompt, as typed so far.
    fn prompt_line(&self, prompt: &str) -> String {
        self.screen()
            .lines()
            .rev()
            .find(|l| l.contains(prompt.trim_end()))
            .unwrap_or_default()
            .to_string()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn temp_home(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mb-shell-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn shell_completes_paths_and_guids_toggles_output_and_keeps_history() {
    let sim = serve();
    let home = temp_home("main");
    let t = Terminal::start("main", &home, sim.port, &[]);
    let prompt = format!("api@127.0.0.1:{}> ", sim.port);
    t.wait_for(&format!("mb shell: api@127.0.0.1:{}.", sim.port));
    t.wait_for(&prompt);

    // Path segments complete from the tree.
    t.keys(&["API.Cl", "Tab"]);
    wait_until("API.Client. completed", || {
        t.prompt_line(&prompt).ends_with("> API.Client.")
    });
    t.keys(&["C-u", "API.Get", "Tab"]);
    wait_until("API.GetClients completed", || {
        t.prompt_line(&prompt)
            .trim_end()
            .ends_with("> API.GetClients")
    });
    t.keys(&["Enter"]);
    t.wait_for("[633824158637492,9527563927532953,4611686018427387905]");

    // GUIDs from that reply complete at a GUID position: all three listed, one completed.
    t.keys(&["API.Client.", "Tab", "Tab"]);
    let screen = t.wait_for("4611686018427387905  633824158637492");
    assert!(screen.contains("9527563927532953"), "{screen}");
    t.keys(&["6", "Tab", "Bi", "Tab", "M", "Tab"]);
    wait_until("the money path completed", || {
        t.prompt_line(&prompt)
            .trim_end()
            .ends_with("> API.Client.633824158637492.BillingInfo.Money")
    });
    t.keys(&["Enter"]);
    t.wait_for(r#"{"return":"100.01","code":0}"#);

    // \timing and \pretty (completed from \tim and \pre).
    t.keys(&["\\tim", "Tab", "Enter"]);
    t.wait_for("Timing is on.");
    t.keys(&["\\pre", "Tab", "Enter"]);
    t.wait_for("Pretty output is on.");
    t.type_text("API.Client.633824158637492.AutorizeInfo.Name");
    t.keys(&["Enter"]);
    let screen = t.wait_for("\"return\": \"Иванов Иван Иванович\"");
    assert!(screen.contains("Time: "), "{screen}");

    // Lines that set a password, directly or in a batch with the key spelled by an escape, are
    // sent but not kept in the history.
    let account = "API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083";
    t.type_text(&format!("{account}.Password \"hunter2\""));
    t.keys(&["Enter"]);
    t.wait_for("this line sets a password, so it is not kept in the history");
    t.type_text(
        r#"API.Client.633824158637492 {"AutorizeInfo":{"Accounts":{"28236356495083":{"Pass\u0077ord":"hunter3"}}}}"#,
    );
    t.keys(&["Enter"]);
    wait_until("the second password line refused for the history", || {
        t.screen()
            .matches("this line sets a password, so it is not kept in the history")
            .count()
            >= 2
    });
    t.type_text(&format!("{account}.Password"));
    t.keys(&["Enter"]);
    t.wait_for("\"return\": \"hunter3\"");

    // A bare word gets the hint and the session goes on; a server error shows its code.
    t.type_text("API.Client.633824158637492.AutorizeInfo.Name Петров");
    t.keys(&["Enter"]);
    t.wait_for("write it in quotes: \"Петров\"\n");
    t.type_text("API.Client.1.BillingInfo.Money");
    t.keys(&["Enter"]);
    t.wait_for("mb: the server answered code 202");

    // History: Up brings back the last line, which line editing can change before sending.
    t.keys(&["Up"]);
    wait_until("the last line recalled", || {
        t.prompt_line(&prompt)
            .trim_end()
            .ends_with("> API.Client.1.BillingInfo.Money")
    });
    t.keys(&["C-u", "C-d"]);
    wait_until("mb shell to leave and save its history", || {
        std::fs::read_to_string(home.join(".mb_history"))
            .is_ok_and(|h| h.contains("API.Client.1.BillingInfo.Money"))
    });
    let history = std::fs::read_to_string(home.join(".mb_history")).unwrap();
    assert!(history.contains("API.GetClients"), "{history}");
    assert!(
        !history.contains("hunter2") && !history.contains("hunter3"),
        "{history}"
    );
    // A read of the password is kept: it carries none.
    assert!(
        history.contains(&format!("{account}.Password\n")),
        "{history}"
    );
    // Lines may hold values such as an account's password: only the owner may read them.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(home.join(".mb_history"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "history file mode {mode:o}");
    drop(t);

    // A new session starts with that history.
    let t = Terminal::start("again", &home, sim.port, &[]);
    t.wait_for(&prompt);
    t.keys(&["Up"]);
    wait_until("history from the previous session", || {
        t.prompt_line(&prompt)
            .trim_end()
            .ends_with("> API.Client.1.BillingInfo.Money")
    });
    t.keys(&["C-u", "\\q", "Enter"]);
    drop(t);
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn shell_asks_for_the_password_on_the_terminal() {
    let sim = serve();
    let home = temp_home("password");
    let t = Terminal::start("password", &home, sim.port, &["--ask-password"]);
    t.wait_for("Password for api: ");
    t.type_text("secret");
    t.keys(&["Enter"]);
    let prompt = format!("api@127.0.0.1:{}> ", sim.port);
    let screen = t.wait_for(&prompt);
    assert!(
        !screen.contains("secret"),
        "the password is not echoed:\n{screen}"
    );
    assert!(!screen.contains("not connected"), "{screen}");
    t.type_text("API.GetClients");
    t.keys(&["Enter"]);
    t.wait_for(r#""code":0}"#);
    t.keys(&["C-d"]);
    drop(t);

    let t = Terminal::start("wrong", &home, sim.port, &["-W"]);
    t.wait_for("Password for api: ");
    t.type_text("not-the-password");
    t.keys(&["Enter"]);
    t.wait_for("not connected yet");
    t.type_text("API.GetClients");
    t.keys(&["Enter"]);
    let screen = t.wait_for("mb: the server refused the login");
    assert!(screen.contains("(code 101)"), "{screen}");
    assert!(!screen.contains("not-the-password"), "{screen}");
    t.keys(&["C-d"]);
    drop(t);
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn ctrl_c_cancels_a_slow_request_and_every_pasted_line_runs() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
    command.arg("serve");
    let sim = Sim::launch_command(command).admin("127.0.0.1:0").start();
    // Requests for API.Slow wait 30 s before the simulator answers.
    let admin = sim.admin.clone().unwrap();
    let body = r#"{"path":"API.Slow","action":"delay","delay_ms":30000}"#;
    let mut http = std::net::TcpStream::connect(&admin).unwrap();
    std::io::Write::write_all(
        &mut http,
        format!(
            "POST /api/faults HTTP/1.0\r\nHost: {admin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut http, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.0 200"), "{answer}");

    let home = temp_home("cancel");
    let t = Terminal::start("cancel", &home, sim.port, &[]);
    let prompt = format!("api@127.0.0.1:{}> ", sim.port);
    t.wait_for(&prompt);
    t.type_text("API.Slow");
    t.keys(&["Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    let pressed = Instant::now();
    t.keys(&["C-c"]);
    t.wait_for("mb: Cancelled waiting for the reply; the request was not resent (code 9011)\n");
    assert!(
        pressed.elapsed() < Duration::from_secs(5),
        "the request was not cancelled at once"
    );
    // The shell goes on.
    t.type_text("API.Client.633824158637492.BillingInfo.Money");
    t.keys(&["Enter"]);
    t.wait_for(r#"{"return":"100.01","code":0}"#);

    // Two lines pasted at once (bracketed paste), then Enter: both run, in order.
    let o = t.tmux(&[
        "set-buffer",
        "API.Client.633824158637492.AutorizeInfo.Name\nAPI.Client.9527563927532953.AutorizeInfo.Name",
    ]);
    assert!(o.status.success(), "set-buffer: {}", text(&o.stderr));
    let o = t.tmux(&["paste-buffer", "-p", "-t", "t"]);
    assert!(o.status.success(), "paste-buffer: {}", text(&o.stderr));
    std::thread::sleep(Duration::from_millis(200));
    t.keys(&["Enter"]);
    // Raw output shows the core's text as sent: "Иванов..." and "Петров..." escaped.
    let (ivanov, petrov) = (
        r#"{"return":"\u0418\u0432\u0430\u043d\u043e\u0432 "#,
        r#"{"return":"\u041f\u0435\u0442\u0440\u043e\u0432 "#,
    );
    t.wait_for(petrov);
    let screen = t.screen();
    let first = screen.find(ivanov).expect("the first pasted line ran");
    assert!(
        screen[first..].contains(petrov),
        "the second pasted line ran after the first:\n{screen}"
    );
    drop(t);
}
