//! Runs a PHP script as a differential oracle: the script reads its cases from stdin and answers
//! one line per case. Shared by the tests that compare the library with PHP itself.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `php ARGS -r SCRIPT` with `input` on stdin and returns its stdout lines. `missing` is the
/// message when php cannot be started: the tests fail, never skip, without it.
pub fn run_script(args: &[&str], script: &str, input: &str, missing: &str) -> Vec<String> {
    let mut child = Command::new("php")
        .args(args)
        .args(["-r", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect(missing);
    let mut stdin = child.stdin.take().unwrap();
    let owned = input.to_owned();
    // Written from another thread, so that a large input cannot deadlock against PHP's output.
    let writer = std::thread::spawn(move || stdin.write_all(owned.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "php failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}
