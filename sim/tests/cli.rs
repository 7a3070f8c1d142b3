//! The simulator binary's own command line.

use std::process::Command;

#[test]
fn help_lists_every_flag_and_exits_zero() {
    let o = Command::new(env!("CARGO_BIN_EXE_mikrobill-sim"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    for flag in [
        "--listen",
        "--trace-requests",
        "--state",
        "--dataset",
        "--config",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
}

#[test]
fn version_prints_the_workspace_version() {
    let o = Command::new(env!("CARGO_BIN_EXE_mikrobill-sim"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        format!("mikrobill-sim {}\n", env!("CARGO_PKG_VERSION"))
    );
}
