//! Where the secrets come from. A password or key on the command line is readable by every user
//! of the machine through `ps`, so it still works but earns a warning; the environment, a file or
//! the terminal prompt keep it private.

use std::io::IsTerminal;

use mikrobill_sim::config::{DEMO_KEY1, DEMO_KEY2, DEMO_LOGIN, DEMO_PASSWORD};

use crate::args::ConnectionArgs;

pub const ENV: &str = "MIKROBILL_PASSWORD";

pub const PS_WARNING: &str = "mb: warning: a password given with --password is visible to other \
users in `ps`; use MIKROBILL_PASSWORD, --password-file FILE or --ask-password instead";

/// `--key1`/`--key2` (warned), then `MIKROBILL_KEY1`/`MIKROBILL_KEY2`, then the simulator's demo
/// key and IV.
pub fn keys(args: &ConnectionArgs) -> (String, String) {
    let key = |flag: &Option<String>, name: &str, env: &str, demo: &str| match flag {
        Some(key) => {
            eprintln!(
                "mb: warning: a key given with --{name} is visible to other users in `ps`; use \
                 {env} instead"
            );
            key.clone()
        }
        None => std::env::var(env).unwrap_or_else(|_| demo.to_string()),
    };
    (
        key(&args.key1, "key1", "MIKROBILL_KEY1", DEMO_KEY1),
        key(&args.key2, "key2", "MIKROBILL_KEY2", DEMO_KEY2),
    )
}

/// The password, in this order: `--password` (warned), `--password-file`, `--ask-password`,
/// `MIKROBILL_PASSWORD`; with none of them, the demo login gets the demo password and any other
/// login is asked for one on the terminal. An `Err` is a message for the user (exit code 2).
pub fn resolve(args: &ConnectionArgs) -> Result<String, String> {
    if let Some(password) = &args.password {
        eprintln!("{PS_WARNING}");
        return Ok(password.clone());
    }
    if let Some(file) = &args.password_file {
        return from_file(file);
    }
    if args.ask_password {
        return prompt(&args.login);
    }
    if let Ok(password) = std::env::var(ENV) {
        return Ok(password);
    }
    if args.login == DEMO_LOGIN {
        return Ok(DEMO_PASSWORD.to_string());
    }
    prompt(&args.login)
}

/// The file's first line without its line ending, so `echo secret > file` works.
fn from_file(file: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the password file {}: {e}", file.display()))?;
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(format!("the password file {} is empty", file.display()));
    }
    Ok(line.to_string())
}

fn prompt(login: &str) -> Result<String, String> {
    // rpassword reads from the controlling terminal, so a value piped on stdin is not consumed;
    // without a terminal there is nobody to ask.
    if !std::io::stderr().is_terminal() && !std::io::stdin().is_terminal() {
        return Err(format!(
            "no password for login {login}: set {ENV}, use --password-file FILE, or run on a \
             terminal to be asked"
        ));
    }
    rpassword::prompt_password(format!("Password for {login}: "))
        .map_err(|e| format!("cannot read the password from the terminal: {e}"))
}
