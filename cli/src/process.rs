//! `mb process PATH [VALUE]`: one request, one reply.

use std::io::Write;

use crate::args::{GatewayArgs, ProcessArgs};
use crate::backend::{Backend, Failure};
use crate::output::{exit, format_reply, reply_problem, write_laid_out, Style};
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
/// UTF-8, with U+FFFD for bytes that are not, and lay it out without building it into a tree.
pub fn show_reply(reply: &[u8], style: Style) -> i32 {
    // Borrowed, not copied, when the reply is UTF-8: a large reply is not held twice.
    let text = String::from_utf8_lossy(reply);
    if let Some(layout) = style.layout() {
        // Straight to standard output: the indented text or the line is never held beside the
        // reply.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let _ = write_laid_out(&text, layout, &mut out)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
    } else {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`mb process ... | head`) is the reader's choice, not mb's failure.
        let _ = out.write_all(reply).and_then(|()| out.write_all(b"\n"));
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
