//! The command line, declared with clap: it gives `--help`, `--version`, typo suggestions and the
//! shell completion scripts from one description.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use mikrobill_sim::config::DEMO_LOGIN;

#[derive(Parser)]
#[command(
    name = "mb",
    version,
    about = "A command-line client for the MikroBILL billing core API, with the simulator built in",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub gateway: GatewayArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// `process` and `shell` through a mikrobill-gateway instead of straight to a core.
#[derive(Args)]
pub struct GatewayArgs {
    /// Send requests to this mikrobill-gateway (https://HOST[:PORT]; http:// only to loopback)
    /// instead of a core: no keys or cashier password on this host
    #[arg(long, value_name = "URL", global = true, requires = "token_file")]
    pub gateway: Option<String>,
    /// The gateway token's file (its first line), with --gateway
    #[arg(long, value_name = "FILE", global = true, requires = "gateway")]
    pub token_file: Option<PathBuf>,
    /// PEM certificates to trust for the gateway, when a private CA signed its certificate
    #[arg(long, value_name = "FILE", global = true, requires = "gateway")]
    pub gateway_ca: Option<PathBuf>,
}

/// The connection flags that name a core; with --gateway the gateway holds those settings.
pub const CORE_FLAGS: &[&str] = &[
    "host",
    "port",
    "login",
    "password",
    "password_file",
    "ask_password",
    "key1",
    "key2",
];

pub const EXIT_CODES: &str = "\
Exit codes:
  0  the reply's code is 0 (and every batch element's)
  1  the server answered with a non-zero code; the reply is printed
  2  usage error: a bad option, value or password source
  3  no reply: connecting, logging in or the exchange failed (the message names the code)";

pub const SHELL_LINES: &str = "\
Each line is PATH [VALUE] (VALUE as JSON text or @FILE); Tab completes paths and GUIDs.
  \\pretty  \\json  \\timing  toggle indented replies, JSON lines, request times
  \\help  \\q               this list; leave (or Ctrl-D)";

#[derive(Subcommand)]
pub enum Command {
    /// Send one request and print the reply
    #[command(after_help = EXIT_CODES, allow_negative_numbers = true)]
    Process(ProcessArgs),
    /// An interactive session on one connection (line editing, history, tab completion)
    #[command(after_help = SHELL_LINES)]
    Shell(ShellArgs),
    /// Run the MikroBILL core simulator (the options of `mikrobill-sim`)
    #[command(after_help = mikrobill_sim::options::AFTER_HELP, args_override_self = true)]
    Serve(mikrobill_sim::Options),
    /// Forward to a real core and record every exchange as JSON lines
    #[command(after_help = crate::proxy::AFTER_HELP)]
    Proxy(crate::proxy::Options),
    /// Check what a kassa page needs (shim, library, web server PHP, config.php, workparams, the
    /// core) and say how to fix each failure
    #[command(after_help = DOCTOR_EXIT_CODES)]
    Doctor(DoctorArgs),
    /// Print a completion script for a shell (e.g. `mb completions bash > /etc/bash_completion.d/mb`)
    Completions {
        #[arg(value_enum)]
        shell: CompletionShell,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Where to connect and as whom. Flags fall back to the environment, then to the simulator's demo
/// settings, so `mb process API.GetClients` works against a default simulator.
#[derive(Args)]
pub struct ConnectionArgs {
    #[arg(long, env = "MIKROBILL_HOST", default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, env = "MIKROBILL_PORT", default_value = "7403",
          value_parser = port)]
    pub port: u16,
    #[arg(long, env = "MIKROBILL_LOGIN", default_value = DEMO_LOGIN)]
    pub login: String,
    /// Visible to every user in `ps`: prefer MIKROBILL_PASSWORD, --password-file or --ask-password
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from the first line of FILE
    #[arg(long, value_name = "FILE", conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    /// Ask for the password on the terminal
    #[arg(short = 'W', long, conflicts_with_all = ["password", "password_file"])]
    pub ask_password: bool,
    /// CRYPTO_KEY_1 (base64); visible in `ps`: prefer MIKROBILL_KEY1 (default the demo key)
    #[arg(long, value_name = "B64")]
    pub key1: Option<String>,
    /// CRYPTO_KEY_2 (base64); visible in `ps`: prefer MIKROBILL_KEY2 (default the demo IV)
    #[arg(long, value_name = "B64")]
    pub key2: Option<String>,
    /// Connect and read timeout in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = milliseconds)]
    pub timeout_ms: u64,
}

#[derive(Args)]
pub struct OutputArgs {
    /// Indent the reply and show text as text (numbers keep their exact digits)
    #[arg(long, conflicts_with = "json")]
    pub pretty: bool,
    /// One compact JSON line per reply or error, on standard output, for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ProcessArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The request path, e.g. API.GetClients or API.Client.<GUID>.BillingInfo.Money
    pub path: String,
    /// The value as JSON text, `-` to read it from standard input, or `@FILE`; omit it to read
    #[arg(allow_hyphen_values = true)]
    pub value: Option<String>,
}

#[derive(Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The kassa folder of the web root (holds apicore.php; config.php is one folder above): checks
    /// the shim it loads, the library, config.php, workparams and the web server's PHP
    #[arg(long, value_name = "DIR")]
    pub kassa: Option<PathBuf>,
    /// The command-line php that runs the kassa checks
    #[arg(long, value_name = "BINARY", default_value = "php")]
    pub php: String,
    /// The php-fpm of the kassa's web server (default: the newest php-fpmX.Y on PATH)
    #[arg(long, value_name = "BINARY", conflicts_with = "apache_ini")]
    pub php_fpm: Option<String>,
    /// For Apache's mod_php: its PHP folder (e.g. /etc/php/8.2/apache2), read through --php
    #[arg(long, value_name = "DIR")]
    pub apache_ini: Option<PathBuf>,
}

pub const DOCTOR_EXIT_CODES: &str = "\
Exit codes:
  0  every check passed (warnings aside)
  1  a check failed; the line under it says what to do
  2  usage error";

#[derive(Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// History file (default ~/.mb_history; MB_HISTFILE)
    #[arg(long, env = "MB_HISTFILE", value_name = "FILE")]
    pub history: Option<PathBuf>,
}

fn port(text: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err("a port is a whole number from 1 to 65535".into()),
    }
}

fn milliseconds(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(ms),
        _ => Err("give a whole number of milliseconds, at least 1".into()),
    }
}
