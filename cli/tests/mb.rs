//! The `mb` tool: `mb serve` runs the simulator, `mb process` talks to it; usage errors, values
//! from stdin and files, output styles, password sources, exit codes and completions.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use mikrobill_testkit::sim::{Sim, IVANOV};

fn serve() -> Sim {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
    command.arg("serve");
    Sim::start_command(command)
}

fn mb_command(port: u16, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
    command
        .arg("process")
        .args(args)
        .env_clear()
        .env("MIKROBILL_PORT", port.to_string());
    command
}

fn mb(port: u16, args: &[&str]) -> Output {
    mb_command(port, args).output().unwrap()
}

fn mb_plain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mb"))
        .args(args)
        .env_clear()
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const NAME: &str = "API.Client.633824158637492.AutorizeInfo.Name";

#[test]
fn process_reads_sets_and_reports_codes_through_the_exit_status() {
    let s = serve();
    let o = mb(s.port, &["API.GetClients"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "{\"return\":[633824158637492,9527563927532953,4611686018427387905],\"code\":0}\n"
    );
    assert_eq!(stderr(&o), "");
    let o = mb(s.port, &[NAME, "\"Иван\""]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = mb(s.port, &["API.Client.1.BillingInfo.Money"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("\"code\":202"), "{}", stdout(&o));
    assert!(
        stderr(&o).starts_with("mb: the server answered code 202: "),
        "{}",
        stderr(&o)
    );
    // A batch with one failing element fails the command, and the message says which.
    let o = mb(
        s.port,
        &[
            "API.Client.633824158637492.BillingInfo",
            r#"["Money","Nope"]"#,
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(
            "mb: 1 of 2 batch elements failed; the first: the server answered code 201"
        ),
        "{}",
        stderr(&o)
    );
    let o = mb(
        s.port,
        &["API.Client.633824158637492.BillingInfo", r#"["Money"]"#],
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn a_reply_that_is_not_utf8_is_printed_as_its_bytes() {
    // A core answering in CP1251 (the simulator's --reply-encoding cp1251): mb prints the bytes
    // as they came, as the library hands them over, never a failure code.
    let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
    command.args(["serve", "--reply-encoding", "cp1251"]);
    let sim = Sim::start_command(command);
    let o = mb(
        sim.port,
        &[&format!("API.Client.{IVANOV}.AutorizeInfo.Name")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // "Иванов Иван Иванович" in CP1251.
    let name = b"\xc8\xe2\xe0\xed\xee\xe2 \xc8\xe2\xe0\xed \xc8\xe2\xe0\xed\xee\xe2\xe8\xf7";
    let mut expected = b"{\"return\":\"".to_vec();
    expected.extend_from_slice(name);
    expected.extend_from_slice(b"\",\"code\":0}\n");
    assert_eq!(o.stdout, expected);
    // --json reads it as UTF-8 text, U+FFFD for each byte that is not: still one JSON line.
    let o = mb(
        sim.port,
        &["--json", &format!("API.Client.{IVANOV}.AutorizeInfo.Name")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["code"], 0);
    assert!(line["return"].as_str().unwrap().contains('\u{FFFD}'));
}

#[test]
fn output_styles_raw_pretty_and_json_lines() {
    let s = serve();
    assert_eq!(mb(s.port, &[NAME, "\"Иван /\""]).status.code(), Some(0));
    // Raw is the server's text exactly: PHP escapes.
    let o = mb(s.port, &[NAME]);
    assert_eq!(
        stdout(&o),
        "{\"return\":\"\\u0418\\u0432\\u0430\\u043d \\/\",\"code\":0}\n"
    );
    let o = mb(s.port, &["--pretty", NAME]);
    assert_eq!(
        stdout(&o),
        "{\n  \"return\": \"Иван /\",\n  \"code\": 0\n}\n"
    );
    let o = mb(s.port, &["--json", NAME]);
    assert_eq!(stdout(&o), "{\"return\":\"Иван /\",\"code\":0}\n");
    // Numbers keep their digits: a GUID above 2^53 and a money amount with trailing zeros.
    let money = format!("API.Client.{IVANOV}.BillingInfo.Money");
    assert_eq!(
        mb(s.port, &[&money, "1234567890123.50"]).status.code(),
        Some(0)
    );
    for style in ["--pretty", "--json"] {
        let o = mb(s.port, &[style, "API.GetClients"]);
        assert!(stdout(&o).contains("4611686018427387905"), "{}", stdout(&o));
        let o = mb(s.port, &[style, &money]);
        assert!(stdout(&o).contains("1234567890123.5"), "{}", stdout(&o));
    }
    let o = mb(s.port, &["--pretty", "--json", NAME]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "the two styles exclude each other"
    );
}

#[test]
fn values_from_an_argument_stdin_or_a_file_and_a_hint_for_bare_words() {
    let s = serve();
    let mut child = mb_command(s.port, &[NAME, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("\"Из stdin\"\n".as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&mb(s.port, &["--json", NAME])).contains("Из stdin"));

    let dir = std::env::temp_dir().join(format!("mb-value-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("name.json");
    std::fs::write(&file, "\"Из файла\"").unwrap();
    let o = mb(s.port, &[NAME, &format!("@{}", file.display())]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&mb(s.port, &["--json", NAME])).contains("Из файла"));
    let o = mb(
        s.port,
        &[NAME, &format!("@{}", dir.join("absent").display())],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read the value from"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();

    let o = mb(s.port, &[NAME, "Петров"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "mb: the value must be JSON; to send the text Петров write it in quotes: '\"Петров\"'\n"
    );
    let o = mb(s.port, &[NAME, "{\"a\":"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("mb: the value is not valid JSON"));
    // A negative number is a value, not an option.
    let money = format!("API.Client.{IVANOV}.BillingInfo.Money");
    assert_eq!(mb(s.port, &[&money, "-5"]).status.code(), Some(0));
}

#[test]
fn failures_are_plain_words_on_stderr_with_the_code() {
    let s = serve();
    let o = mb(
        s.port,
        &["--port", "1", "--timeout-ms", "2000", "API.GetClients"],
    );
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(stdout(&o), "");
    let e = stderr(&o);
    assert!(
        e.starts_with("mb: cannot connect to the server: 127.0.0.1:1"),
        "{e}"
    );
    assert!(e.trim_end().ends_with("(code 111)"), "{e}");
    // Scripts reading --json lines get the error object too.
    let o = mb(s.port, &["--json", "--port", "1", "API.GetClients"]);
    assert_eq!(o.status.code(), Some(3));
    let line: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(line["code"], 111);
    assert_eq!(line["result"], "Can`t connect!");

    let o = mb(s.port, &["--key1", "bm90IGEga2V5", "API.GetClients"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("(code 9006)"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--key1 is visible to other users in `ps`"),
        "{}",
        stderr(&o)
    );
    assert!(
        !stderr(&o).contains("bm90IGEga2V5"),
        "no key in messages: {}",
        stderr(&o)
    );
    // From the environment: no warning.
    let o = mb_command(s.port, &["API.GetClients"])
        .env("MIKROBILL_KEY1", "bm90IGEga2V5")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("bm90IGEga2V5"),
        "no key in messages: {}",
        stderr(&o)
    );
}

#[test]
fn validation_messages_are_plain() {
    let o = mb(7403, &["--port", "99999", "API.GetClients"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("a port is a whole number from 1 to 65535"),
        "{e}"
    );
    assert!(!e.contains("u16") && !e.contains("config"), "{e}");
    let o = mb(7403, &["--timeout-ms", "0", "API.GetClients"]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("at least 1"), "{e}");
    assert!(!e.contains("connect_timeout_ms"), "{e}");
    let o = mb(7403, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("<PATH>"), "{}", stderr(&o));
}

#[test]
fn typos_get_suggestions_and_version_is_printed() {
    let o = mb_plain(&["procss", "API.GetClients"]);
    assert_eq!(o.status.code(), Some(2));
    // `mb proxy` is close to "procss" too, so clap names both.
    assert!(
        stderr(&o).contains("similar subcommands exist: 'proxy', 'process'"),
        "{}",
        stderr(&o)
    );
    let o = mb_plain(&["process", "--prety", "API.GetClients"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--pretty"), "{}", stderr(&o));
    let o = mb_plain(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o), format!("mb {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn password_from_the_environment_a_file_or_the_flag_with_a_warning() {
    let s = serve();
    let o = mb_command(s.port, &["API.GetClients"])
        .env("MIKROBILL_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stderr(&o).contains("the server refused the login"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("(code 101)"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("wrong"), "no password in messages");

    let dir = std::env::temp_dir().join(format!("mb-password-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("password");
    std::fs::write(&file, "secret\n").unwrap();
    let o = mb_command(
        s.port,
        &["--password-file", file.to_str().unwrap(), "API.GetClients"],
    )
    .env("MIKROBILL_PASSWORD", "wrong")
    .output()
    .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "the file wins over the environment: {}",
        stderr(&o)
    );
    std::fs::write(&file, "").unwrap();
    let o = mb(
        s.port,
        &["--password-file", file.to_str().unwrap(), "API.GetClients"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is empty"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();

    let o = mb(s.port, &["--password", "secret", "API.GetClients"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("visible to other users in `ps`"),
        "{}",
        stderr(&o)
    );

    // Another login with no password source and no terminal cannot be asked.
    let o = mb(s.port, &["--login", "noapi", "API.GetClients"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no password for login noapi"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for shell in ["bash", "zsh", "fish"] {
        let o = mb_plain(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = stdout(&o);
        for word in ["process", "shell", "serve", "pretty", "password-file"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    // bash loads its script and registers the completion function for mb.
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source <('{}' completions bash) && complete -p mb",
            env!("CARGO_BIN_EXE_mb")
        ))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("_mb"), "{}", stdout(&o));
}

#[test]
fn help_on_every_command() {
    for args in [
        &["--help"][..],
        &["process", "--help"],
        &["shell", "--help"],
    ] {
        let o = mb_plain(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(stdout(&o).contains("Usage: mb"), "{args:?}");
        assert!(
            stdout(&o).contains("Exit codes:") || args[0] == "shell",
            "{args:?}"
        );
    }
    let o = mb_plain(&["serve", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("--trace-requests"));
}

/// With lines from a pipe nobody is at a prompt: SIGINT ends `mb shell` with status 130 (it was
/// ignored between requests, so a script feeding it could not be stopped with Ctrl-C).
#[test]
fn sigint_ends_a_shell_that_reads_a_pipe() {
    use mikrobill_testkit::sim::exit_within;
    use std::io::{BufRead, BufReader};
    use std::time::Duration;
    let s = serve();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mb"))
        .arg("shell")
        .env_clear()
        .env("MIKROBILL_PORT", s.port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(b"API.Client.633824158637492.BillingInfo.Money\n")
        .unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("\"return\"") {
        line.clear();
        assert_ne!(
            output.read_line(&mut line).unwrap(),
            0,
            "the shell ended early"
        );
    }
    // The reply is out and the pipe stays open: the shell waits for its next line.
    // SAFETY: kill only sends a signal to the child this test started and still owns.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let status = exit_within(&mut child, Duration::from_secs(10))
        .expect("mb shell ignored SIGINT while reading a pipe");
    assert_eq!(status.code(), Some(130));
    drop(input);
}
