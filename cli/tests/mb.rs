//! The `mb` tool: `mb serve` runs the simulator, `mb process` talks to it.

#[path = "../../sim/tests/support/mod.rs"]
mod sim_support;

use std::process::{Command, Output};

use sim_support::Sim;

fn serve() -> Sim {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mb"));
    command.arg("serve");
    Sim::start_command(command)
}

fn mb(port: u16, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mb"))
        .arg("process")
        .args(args)
        .env_clear()
        .env("MIKROBILL_PORT", port.to_string())
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn process_reads_sets_and_reports_codes_through_the_exit_status() {
    let s = serve();
    let o = mb(s.port, &["API.GetClients"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        "{\"return\":[633824158637492,9527563927532953,4611686018427387905],\"code\":0}\n"
    );
    let name = "API.Client.633824158637492.AutorizeInfo.Name";
    let o = mb(s.port, &[name, "\"Иван\""]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = mb(s.port, &["--pretty", name]);
    assert_eq!(stdout(&o), "{\n  \"return\": \"Иван\",\n  \"code\": 0\n}\n");

    let o = mb(s.port, &["API.Client.1.BillingInfo.Money"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("\"code\":202"));
    // A batch with one failing element fails the command.
    let o = mb(
        s.port,
        &[
            "API.Client.633824158637492.BillingInfo",
            r#"["Money","Nope"]"#,
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = mb(
        s.port,
        &["API.Client.633824158637492.BillingInfo", r#"["Money"]"#],
    );
    assert_eq!(o.status.code(), Some(0));
    // Pretty output keeps big GUIDs exact.
    let o = mb(s.port, &["--pretty", "API.GetClients"]);
    assert!(stdout(&o).contains("4611686018427387905"));
}

#[test]
fn flags_override_the_environment_and_failures_are_json() {
    let s = serve();
    let o = mb(s.port, &["--password", "wrong", "API.GetClients"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("\"code\":101"), "{}", stdout(&o));
    let o = mb(
        s.port,
        &["--port", "1", "--timeout-ms", "2000", "API.GetClients"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("Can`t connect!"), "{}", stdout(&o));
    let o = mb(s.port, &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = mb(s.port, &["--bogus", "x"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_on_every_command() {
    for args in [
        &["--help"][..],
        &["process", "--help"],
        &["serve", "--help"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_mb"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}");
        assert!(stdout(&o).starts_with("Usage:"), "{args:?}");
    }
    let o = Command::new(env!("CARGO_BIN_EXE_mb"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("--trace-requests"));
}
