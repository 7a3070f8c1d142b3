//! `mb shell`: an interactive session on one connection, in the manner of psql or redis-cli.
//! Each line is `PATH [VALUE]`; backslash commands change how replies are shown.

mod helper;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use mikrobill::CancelToken;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{CompletionType, Config, Editor};

use crate::args::{GatewayArgs, ShellArgs};
use crate::backend::Backend;
use crate::output::{exit, format_reply, reply_problem, Style};
use crate::paths;
use crate::value;
use helper::ShellHelper;
use mikrobill_sim::redact;

const HELP: &str = "\
  PATH [VALUE]   send a request; VALUE is JSON text or @FILE (Tab completes paths and GUIDs)
  \\pretty        indented replies on/off
  \\json          one compact JSON line per reply on/off
  \\timing        show how long each request took on/off
  \\help          this text
  \\q             leave (or Ctrl-D)";

struct Session {
    style: Style,
    timing: bool,
}

pub fn run(args: ShellArgs, gateway: &GatewayArgs) -> i32 {
    let mut backend = match Backend::open(&args.connection, gateway) {
        Ok(b) => b,
        Err(message) => {
            eprintln!("mb: {message}");
            return exit::USAGE;
        }
    };
    let target = match &backend {
        Backend::Gateway(gateway) => gateway.url().to_string(),
        Backend::Core(_) => format!(
            "{}@{}:{}",
            args.connection.login, args.connection.host, args.connection.port
        ),
    };
    let mut editor = match new_editor() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("mb: cannot start line editing: {e}");
            return exit::USAGE;
        }
    };
    let history = args.history.or_else(default_history);
    if let Some(file) = &history {
        // A first session has no history file yet; that is not worth a message.
        let _ = editor.load_history(file);
    }
    println!("mb shell: {target}. \\help for help, Ctrl-D to leave.");
    if !backend.check() {
        eprintln!("mb: not connected yet (server down or login refused); each request tries again");
    }
    let mut session = Session {
        style: Style::from_args(&args.output),
        timing: false,
    };
    let prompt = format!("{target}> ");
    on_ctrl_c(std::io::stdin().is_terminal());
    'session: loop {
        let text = match editor.readline(&prompt) {
            Ok(text) => text,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("mb: cannot read the line: {e}");
                break;
            }
        };
        // Several pasted lines come as one text: each runs, in order.
        for line in text.lines() {
            if !run_line(line.trim(), &mut editor, &mut backend, &mut session) {
                break 'session;
            }
        }
    }
    if let Some(file) = &history {
        if let Err(e) = editor.save_history(file) {
            eprintln!("mb: cannot save the history to {}: {e}", file.display());
        }
    }
    backend.disconnect();
    exit::OK
}

impl Session {
    /// Runs a backslash command; false means leave.
    fn backslash(&mut self, command: &str) -> bool {
        match command.trim() {
            "q" | "quit" => return false,
            "pretty" => {
                self.style = toggle(self.style, Style::Pretty);
                println!("Pretty output is {}.", on_off(self.style == Style::Pretty));
            }
            "json" => {
                self.style = toggle(self.style, Style::JsonLine);
                println!("JSON lines are {}.", on_off(self.style == Style::JsonLine));
            }
            "timing" => {
                self.timing = !self.timing;
                println!("Timing is {}.", on_off(self.timing));
            }
            "help" | "?" => println!("{HELP}"),
            other => eprintln!("mb: unknown command \\{other}; \\help lists the commands"),
        }
        true
    }
}

fn toggle(current: Style, style: Style) -> Style {
    if current == style {
        Style::Raw
    } else {
        style
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// A value typed on the line, or `@FILE`; standard input is the terminal here, so no `-`.
/// Runs one line of the shell; false means leave.
fn run_line(
    line: &str,
    editor: &mut Editor<ShellHelper, FileHistory>,
    backend: &mut Backend,
    session: &mut Session,
) -> bool {
    if line.is_empty() {
        return true;
    }
    if sets_password(line) {
        eprintln!("mb: this line sets a password, so it is not kept in the history");
    } else {
        let _ = editor.add_history_entry(line);
    }
    if let Some(command) = line.strip_prefix('\\') {
        return session.backslash(command);
    }
    let (path, value_text) = match line.split_once(char::is_whitespace) {
        Some((path, rest)) => (path, Some(rest.trim())),
        None => (line, None),
    };
    let value = match value_text.map(load_value).transpose() {
        Ok(v) => v,
        Err(message) => {
            eprintln!("mb: {message}");
            return true;
        }
    };
    let started = Instant::now();
    let token = CancelToken::new();
    *in_flight() = Some(token.clone());
    let result = backend.process_cancellable(path, value.as_deref(), &token);
    *in_flight() = None;
    let elapsed = started.elapsed();
    match result {
        Ok(reply) => {
            // The shell shows text: a reply that is not UTF-8 gets U+FFFD for the bytes that
            // are not (`mb process` prints the bytes themselves).
            let reply = String::from_utf8_lossy(&reply);
            println!("{}", format_reply(&reply, session.style));
            if let Some(problem) = reply_problem(&reply) {
                eprintln!("mb: {problem}");
            }
            if let (Some(helper), Ok(parsed)) = (
                editor.helper_mut(),
                mikrobill::protocol::phpjson::parse(&reply),
            ) {
                let mut found = Vec::new();
                paths::guids_in(&parsed, &mut found);
                helper.guids.extend(found);
            }
        }
        Err(failure) => eprintln!("mb: {}", failure.describe()),
    }
    if session.timing {
        println!("Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0);
    }
    true
}

/// The token of the request in flight, which Ctrl-C cancels.
fn in_flight() -> std::sync::MutexGuard<'static, Option<CancelToken>> {
    static IN_FLIGHT: Mutex<Option<CancelToken>> = Mutex::new(None);
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// At a terminal, Ctrl-C while a request runs cancels that request (code 9011) and the shell
/// goes on; while a line is edited rustyline reads it as a key and clears the line. Without this,
/// the terminal's SIGINT would end the shell in the middle of a slow request. With lines read
/// from a pipe or a file nobody is at a prompt to go on from, so SIGINT ends the shell as it ends
/// any other filter, with the conventional status 130 (128 + SIGINT), request in flight or not.
fn on_ctrl_c(interactive: bool) {
    let installed = ctrlc::set_handler(move || {
        if !interactive {
            std::process::exit(exit::INTERRUPTED);
        }
        if let Some(token) = in_flight().as_ref() {
            token.cancel();
        }
    });
    if let Err(e) = installed {
        eprintln!("mb: Ctrl-C will end the shell rather than cancel a request: {e}");
    }
}

/// Whether a request line sets an account password (by `mikrobill_sim::redact`'s rule), so that
/// it stays out of the history file. A value that does not parse counts as setting one when the
/// line names a password at all: better a line missing from the history than a password in it.
fn sets_password(line: &str) -> bool {
    if line.starts_with('\\') || !redact::may_set_password(line.as_bytes()) {
        return false;
    }
    let Some((path, value)) = line.split_once(char::is_whitespace) else {
        return false; // a read
    };
    let value = value.trim();
    if value.starts_with('@') {
        return false; // the value is in a file; the line holds only its name
    }
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(mut value) => redact::passwords(path, &mut value, redact::REDACTED),
        Err(_) => true,
    }
}

fn load_value(text: &str) -> Result<String, String> {
    if text.starts_with('@') {
        return value::load(text);
    }
    value::check(text, value::Hint::Json)?;
    Ok(text.to_string())
}

fn new_editor() -> rustyline::Result<Editor<ShellHelper, FileHistory>> {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .max_history_size(5000)?
        .build();
    let mut editor = Editor::with_config(config)?;
    editor.set_helper(Some(ShellHelper::default()));
    Ok(editor)
}

fn default_history() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".mb_history"))
}
