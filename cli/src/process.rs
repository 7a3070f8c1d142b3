//! `mb process PATH [VALUE]`: one request, one reply.

use std::io::Write;

use crate::args::{GatewayArgs, ProcessArgs};
use crate::backend::{Backend, Failure};
use crate::output::{exit, format_reply, reply_problem, Style};
use crate::value;

pub fn run(args: ProcessArgs, gateway: &GatewayArgs) -> i32 {
    let style = Style::from_args(&args.output);
    let value = match args.value.as_deref().map(value::load).transpose() {
        Ok(v) => v,
        Err(message) => return usage(&message),
    };
    let mut backend = match Backend::open(&args.connection, gateway) {
        Ok(b) => b,
        Err(message) => return usage(&message),
    };
    let result = backend.process(&args.path, value.as_deref());
    backend.disconnect();
    match result {
        Ok(reply) => show_reply(&reply, style),
        Err(failure) => show_error(&failure, style),
    }
}

pub fn usage(message: &str) -> i32 {
    eprintln!("mb: {message}");
    exit::USAGE
}

/// Prints the reply; a non-zero code is also said on standard error. Raw output is the core's
/// bytes as they came (a core may answer in CP1251); --pretty and --json read the reply as
/// UTF-8, with U+FFFD for bytes that are not.
pub fn show_reply(reply: &[u8], style: Style) -> i32 {
    // Borrowed, not copied, when the reply is UTF-8: a large reply is not held twice.
    let text = String::from_utf8_lossy(reply);
    if style == Style::Raw {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`mb process ... | head`) is the reader's choice, not mb's failure.
        let _ = out.write_all(reply).and_then(|()| out.write_all(b"\n"));
    } else if style == Style::JsonLine {
        // Straight to standard output: the line is never held beside the reply.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let written = match crate::compact::write(&text, &mut out) {
            Ok(true) => Ok(()),
            Ok(false) => out.write_all(crate::output::json_line_from_a_tree(&text).as_bytes()),
            Err(e) => Err(e),
        };
        let _ = written
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
    } else {
        println!("{}", format_reply(&text, style));
    }
    match reply_problem(&text) {
        Some(problem) => {
            eprintln!("mb: {problem}");
            exit::SERVER_CODE
        }
        None => exit::OK,
    }
}

/// Says what failed on standard error; a script reading `--json` lines also gets the error JSON.
pub fn show_error(failure: &Failure, style: Style) -> i32 {
    if style == Style::JsonLine {
        println!("{}", format_reply(&failure.to_json(), style));
    }
    eprintln!("mb: {}", failure.describe());
    exit::NO_REPLY
}
