//! Command-line flags of `mikrobill-sim` and `mb serve`, declared once with clap: `mb` flattens
//! the same `Options` into its `serve` subcommand.

use clap::{Args, Parser};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use mikrobill::protocol::frame::DEFAULT_MAX_FRAME;

/// What `--help` says after the flags, for `mikrobill-sim` and `mb serve` alike.
pub const AFTER_HELP: &str = "\
The first stdout line is `listening on ADDR:PORT` once the socket is bound (with --admin, the
second is `admin on http://ADDR/`). SIGINT and SIGTERM stop the server cleanly (exit 0).
BYTES take a whole number, optionally followed by KiB, MiB or GiB (e.g. 100MiB).";

/// Four frames of the default maximum size at once.
pub const DEFAULT_MAX_BUFFERED: usize = 4 * DEFAULT_MAX_FRAME;

#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Listen address (port 0 = any free port)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7403")]
    pub listen: String,
    /// JSON config with key1, key2 and cashiers (default: the demo ones)
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// CRYPTO_KEY_1, overriding the config's (goes with --key2)
    #[arg(long, value_name = "B64", requires = "key2")]
    pub key1: Option<String>,
    /// CRYPTO_KEY_2, overriding the config's (goes with --key1)
    #[arg(long, value_name = "B64", requires = "key1")]
    pub key2: Option<String>,
    /// Add a cashier (with the API right) whose password is the raw bytes BASE64 decodes to, e.g.
    /// a CP1251 password; replaces a cashier of the same login. May be given more than once.
    /// (Checked at start-up, not here: clap would quote a refused value, password included.)
    #[arg(long = "cashier", value_name = "LOGIN:BASE64")]
    pub cashiers: Vec<String>,
    /// Load clients from a JSON dataset instead of the demo dataset
    #[arg(long, value_name = "FILE", conflicts_with = "generate")]
    pub dataset: Option<PathBuf>,
    /// Serve N synthetic clients instead of the demo dataset (a dataset may say "generate" too)
    #[arg(long, value_name = "N")]
    pub generate: Option<u64>,
    /// Keep changes in FILE (+ its write-ahead log FILE.wal), durable before each reply; an
    /// existing FILE wins over --dataset/--generate
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Largest frame accepted, at least 16; the first (auth) frame is capped at 65536
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = DEFAULT_MAX_FRAME,
        value_parser = frame_bytes
    )]
    pub max_frame: usize,
    /// Close a connection silent this long
    #[arg(long, value_name = "SECS", default_value = "300", value_parser = seconds)]
    pub idle_timeout: Duration,
    /// Close a connection not authenticated this long after it was accepted, however it
    /// trickles bytes
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub auth_timeout: Duration,
    /// At most N connections at once; when all are taken, a new one replaces the oldest not yet
    /// authenticated (once that one has had 250 ms to send its auth), and only when every one is
    /// authenticated is it refused [default: 1024, or less to fit the descriptor limit]
    #[arg(long, value_name = "N", value_parser = connections)]
    pub max_connections: Option<usize>,
    /// At most BYTES of request frames being received or decoded, over all connections; a
    /// request that would pass it gets code 209 and its connection is closed
    #[arg(
        long = "max-buffered-bytes",
        value_name = "BYTES",
        default_value_t = DEFAULT_MAX_BUFFERED,
        value_parser = buffered_bytes
    )]
    pub max_buffered: usize,
    /// Append each decrypted non-auth request to FILE, one per line (passwords redacted)
    #[arg(long, value_name = "FILE")]
    pub trace_requests: Option<PathBuf>,
    /// --admin, --replay and friends (crate::double::flags).
    #[command(flatten)]
    pub double: crate::double::flags::Flags,
    /// Keep FILE as JSON {auths, disconnects}: sessions granted and DISCONNECTs answered so far
    #[arg(long, value_name = "FILE")]
    pub session_counts: Option<PathBuf>,
}

/// `mikrobill-sim`'s own command line: the options, `--help` and `--version`.
#[derive(Parser)]
#[command(
    name = "mikrobill-sim",
    version,
    about = "A wire-compatible simulator of the MikroBILL core API",
    after_help = AFTER_HELP,
    // A flag given twice takes its last value, as scripts that add a default before the
    // caller's own flags expect.
    args_override_self = true
)]
struct Command {
    #[command(flatten)]
    options: Options,
}

impl Default for Options {
    /// Every flag at its default.
    fn default() -> Options {
        parse(std::iter::empty::<String>()).expect("the defaults are valid")
    }
}

/// Parses the command line after the program name. Help and version requests come back as the
/// error, as clap reports them: `Error::print` shows them and `Error::exit_code` is 0 for them.
/// `--max-connections` when the descriptor limit allows it (crate::os::descriptors).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, clap::Error> {
    let argv = std::iter::once("mikrobill-sim".to_string()).chain(args);
    Command::try_parse_from(argv).map(|c| c.options)
}

/// A value a flag cannot take; clap names the flag before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    NotANumber(String),
    /// Not a whole number of bytes, with an optional KiB/MiB/GiB unit.
    NotASize(String),
    FrameTooSmall,
    BufferTooSmall,
    ZeroSeconds,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NotANumber(value) => write!(f, "not a non-negative integer: {value}"),
            UsageError::NotASize(value) => write!(
                f,
                "not a size in bytes: {value} (a whole number, optionally with KiB, MiB or GiB)"
            ),
            UsageError::FrameTooSmall | UsageError::BufferTooSmall => {
                write!(f, "must be at least 16 (one cipher block)")
            }
            UsageError::ZeroSeconds => write!(f, "must be at least 1"),
        }
    }
}

impl std::error::Error for UsageError {}

fn number(text: &str) -> Result<u64, UsageError> {
    text.parse()
        .map_err(|_| UsageError::NotANumber(text.to_string()))
}

/// A size in bytes: `4096`, `64KiB`, `100MiB`, `1GiB` (binary units; a space before the unit is
/// allowed). For every flag that takes BYTES, here and in `mb proxy`.
pub fn byte_size(text: &str) -> Result<u64, UsageError> {
    let bad = || UsageError::NotASize(text.to_string());
    let digits = text.trim_end_matches(|c: char| !c.is_ascii_digit());
    let unit = text[digits.len()..].trim_start();
    let shift = match unit {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => return Err(bad()),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift).ok_or_else(bad)
}

/// A byte count as a usize; one past what this machine can address is as good as unlimited.
fn bytes_at_least_16(text: &str, too_small: UsageError) -> Result<usize, UsageError> {
    let bytes = byte_size(text)?;
    if bytes < 16 {
        return Err(too_small);
    }
    Ok(usize::try_from(bytes).unwrap_or(usize::MAX))
}

fn frame_bytes(text: &str) -> Result<usize, UsageError> {
    bytes_at_least_16(text, UsageError::FrameTooSmall)
}

fn buffered_bytes(text: &str) -> Result<usize, UsageError> {
    bytes_at_least_16(text, UsageError::BufferTooSmall)
}

/// A limit of connections; 0 means 1, as a server with no slot would serve nobody.
fn connections(text: &str) -> Result<usize, UsageError> {
    Ok(usize::try_from(number(text)?.max(1)).unwrap_or(usize::MAX))
}

/// A timeout of at least one second: a socket refuses a zero timeout.
fn seconds(text: &str) -> Result<Duration, UsageError> {
    match number(text)? {
        0 => Err(UsageError::ZeroSeconds),
        secs => Ok(Duration::from_secs(secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    /// The typed reason behind a value clap refused.
    fn usage_error(e: clap::Error) -> Option<UsageError> {
        e.source()?.downcast_ref::<UsageError>().cloned()
    }

    #[test]
    fn flags_parse_with_space_or_equals() {
        let o = parse(args("--listen 127.0.0.1:0 --generate=10 --idle-timeout 2")).unwrap();
        assert_eq!(o.listen, "127.0.0.1:0");
        assert_eq!(o.generate, Some(10));
        assert_eq!(o.idle_timeout, Duration::from_secs(2));
        let help = parse(args("--help")).unwrap_err();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert_eq!(help.exit_code(), 0);
        assert!(parse(args("--bogus")).is_err());
        assert!(parse(args("--generate")).is_err());
        assert!(parse(args("--key1 x")).is_err());
        assert!(parse(args("--max-frame 15")).is_err());
        assert_eq!(parse(args("--max-frame 16")).unwrap().max_frame, 16);
        assert!(parse(args("--auth-timeout 0")).is_err());
        assert_eq!(
            parse(args("--max-buffered-bytes 4096"))
                .unwrap()
                .max_buffered,
            4096
        );
        assert_eq!(
            usage_error(parse(args("--max-buffered-bytes 8")).unwrap_err()),
            Some(UsageError::BufferTooSmall)
        );
        let o = parse(args("--auth-timeout 1")).unwrap();
        assert_eq!(o.auth_timeout, Duration::from_secs(1));
    }

    #[test]
    fn defaults_and_combinations() {
        let o = Options::default();
        assert_eq!(o.listen, "127.0.0.1:7403");
        assert_eq!(o.max_frame, DEFAULT_MAX_FRAME);
        assert_eq!(o.max_buffered, DEFAULT_MAX_BUFFERED);
        assert_eq!(o.idle_timeout, Duration::from_secs(300));
        assert_eq!(o.auth_timeout, Duration::from_secs(10));
        assert_eq!(o.max_connections, None);
        assert!(parse(args("--dataset d.json --generate 5")).is_err());
        assert!(parse(args("--key1 a --key2 b")).is_ok());
        assert_eq!(
            parse(args("--max-connections 0"))
                .unwrap()
                .max_connections
                .unwrap(),
            1
        );
        // The last of a repeated flag wins.
        assert_eq!(
            parse(args("--listen 127.0.0.1:1 --listen 127.0.0.1:0"))
                .unwrap()
                .listen,
            "127.0.0.1:0"
        );
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(byte_size("4096"), Ok(4096));
        assert_eq!(byte_size("64KiB"), Ok(64 << 10));
        assert_eq!(byte_size("100MiB"), Ok(100 << 20));
        assert_eq!(byte_size("100 MiB"), Ok(100 << 20));
        assert_eq!(byte_size("1GiB"), Ok(1 << 30));
        for bad in ["", "MiB", "10MB", "-1", "1.5MiB", "99999999999999GiB"] {
            assert_eq!(
                byte_size(bad),
                Err(UsageError::NotASize(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            parse(args("--max-buffered-bytes 100MiB"))
                .unwrap()
                .max_buffered,
            100 << 20
        );
    }
}
