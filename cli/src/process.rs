//! `mb process PATH [VALUE]`: one request, one reply.

use mikrobill::Error;

use crate::args::ProcessArgs;
use crate::connection;
use crate::output::{describe, exit, format_reply, reply_problem, Style};
use crate::value;

pub fn run(args: ProcessArgs) -> i32 {
    let style = Style::from_args(&args.output);
    let value = match args.value.as_deref().map(value::load).transpose() {
        Ok(v) => v,
        Err(message) => return usage(&message),
    };
    let mut client = match connection::client(&args.connection) {
        Ok(c) => c,
        Err(message) => return usage(&message),
    };
    let result = client.process(&args.path, value.as_deref());
    client.disconnect();
    match result {
        Ok(reply) => show_reply(&reply, style),
        Err(error) => show_error(&error, style),
    }
}

pub fn usage(message: &str) -> i32 {
    eprintln!("mb: {message}");
    exit::USAGE
}

/// Prints the reply; a non-zero code is also said on standard error.
pub fn show_reply(reply: &str, style: Style) -> i32 {
    println!("{}", format_reply(reply, style));
    match reply_problem(reply) {
        Some(problem) => {
            eprintln!("mb: {problem}");
            exit::SERVER_CODE
        }
        None => exit::OK,
    }
}

/// Says what failed on standard error; a script reading `--json` lines also gets the error JSON.
pub fn show_error(error: &Error, style: Style) -> i32 {
    if style == Style::JsonLine {
        println!("{}", format_reply(&error.to_json(), style));
    }
    eprintln!("mb: {}", describe(error));
    exit::NO_REPLY
}
