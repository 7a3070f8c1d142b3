//! Command-line flags of `mikrobill-sim` and `mb serve`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use mikrobill::protocol::frame::DEFAULT_MAX_FRAME;

pub const USAGE: &str = "\
Usage: mikrobill-sim [OPTIONS]
       mb serve [OPTIONS]

A wire-compatible simulator of the MikroBILL core API.

Options:
  --listen ADDR:PORT       listen address (default 127.0.0.1:7403; port 0 = any free port)
  --config FILE            JSON config with key1, key2 and cashiers (default: the demo ones)
  --key1 B64 --key2 B64    CRYPTO_KEY_1 / CRYPTO_KEY_2, overriding the config's
  --dataset FILE           load clients from a JSON dataset instead of the demo dataset
  --generate N             serve N synthetic clients instead of the demo dataset
  --state FILE             keep changes in FILE (+ FILE.journal), durable before each reply;
                           an existing FILE wins over --dataset/--generate
  --max-frame BYTES        largest frame accepted, at least 16 (default 67108864);
                           the first (auth) frame is capped at 65536
  --idle-timeout SECS      close a connection silent this long (default 300)
  --auth-timeout SECS      close a connection not authenticated this long after it was
                           accepted, however it trickles bytes (default 10)
  --max-connections N      at most N connections at once (default 1024); when all are taken,
                           a new one replaces the oldest not yet authenticated (once that one
                           has had 250 ms to send its auth), and only when every one is
                           authenticated is it refused
  --max-buffered-bytes N   at most N bytes of request frames being received or decoded, over
                           all connections (default 268435456); a request that would pass it
                           gets code 209 and its connection is closed
  --trace-requests FILE    append each decrypted non-auth request, one per line
  --admin ADDR:PORT        serve the control API and dashboard (loopback only; port 0 =
                           any free port; the second stdout line is `admin on http://ADDR/`)
  --admin-allow-remote     allow --admin on a non-loopback address (it has no authentication)
  --replay FILE            answer requests with the replies `mb proxy --record` wrote
  --replay-unmatched MODE  a request the recording lacks: tree (default: stubs and the
                           simulated tree answer) or error (code 211)
  --session-counts FILE    keep FILE as JSON {auths, disconnects}: sessions granted and
                           DISCONNECTs answered so far
  -h, --help               show this help
  -V, --version            print the version (as the only argument)

The first stdout line is `listening on ADDR:PORT` once the socket is bound.
SIGINT and SIGTERM stop the server cleanly (exit 0).";

/// Four frames of the default maximum size at once.
pub const DEFAULT_MAX_BUFFERED: usize = 4 * DEFAULT_MAX_FRAME;

#[derive(Debug, Clone)]
pub struct Options {
    pub listen: String,
    pub config: Option<PathBuf>,
    pub key1: Option<String>,
    pub key2: Option<String>,
    pub dataset: Option<PathBuf>,
    pub generate: Option<u64>,
    pub state: Option<PathBuf>,
    pub max_frame: usize,
    pub idle_timeout: Duration,
    pub auth_timeout: Duration,
    pub max_connections: usize,
    pub max_buffered: usize,
    pub trace_requests: Option<PathBuf>,
    /// --admin, --replay and friends (crate::double::flags).
    pub double: crate::double::flags::Flags,
    pub session_counts: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            listen: "127.0.0.1:7403".into(),
            config: None,
            key1: None,
            key2: None,
            dataset: None,
            generate: None,
            state: None,
            max_frame: DEFAULT_MAX_FRAME,
            idle_timeout: Duration::from_secs(300),
            auth_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_buffered: DEFAULT_MAX_BUFFERED,
            trace_requests: None,
            double: crate::double::flags::Flags::default(),
            session_counts: None,
        }
    }
}

/// A command line that cannot be run; the usage text follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    MissingValue(String),
    NotANumber {
        flag: String,
        value: String,
    },
    FrameTooSmall,
    BufferTooSmall,
    ZeroSeconds(String),
    UnknownArgument(String),
    DatasetAndGenerate,
    OneKeyOnly,
    /// A test-double flag's value is not one it takes (crate::double::flags).
    BadValue(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::MissingValue(flag) => write!(f, "{flag} needs a value"),
            UsageError::NotANumber { flag, value } => {
                write!(f, "{flag}: not a non-negative integer: {value}")
            }
            UsageError::FrameTooSmall => {
                write!(f, "--max-frame must be at least 16 (one cipher block)")
            }
            UsageError::BufferTooSmall => write!(f, "--max-buffered-bytes must be at least 16"),
            UsageError::ZeroSeconds(flag) => write!(f, "{flag} must be at least 1"),
            UsageError::UnknownArgument(arg) => write!(f, "unknown argument: {arg}"),
            UsageError::DatasetAndGenerate => write!(
                f,
                "--dataset and --generate cannot be combined (a dataset may say \"generate\")"
            ),
            UsageError::OneKeyOnly => write!(f, "--key1 and --key2 go together"),
            UsageError::BadValue(text) => write!(f, "{text}"),
        }
    }
}

impl std::error::Error for UsageError {}

/// `Ok(None)` means --help was asked for.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, UsageError> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (arg.as_str(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let value = || {
            inline
                .map(str::to_string)
                .or_else(|| args.next())
                .ok_or_else(|| UsageError::MissingValue(flag.to_string()))
        };
        if !set(&mut o, flag, value)? {
            return Err(UsageError::UnknownArgument(arg));
        }
    }
    check_combinations(&o)?;
    Ok(Some(o))
}

/// Applies one flag, taking its value from `value`; false when the flag is unknown.
fn set(
    o: &mut Options,
    flag: &str,
    value: impl FnOnce() -> Result<String, UsageError>,
) -> Result<bool, UsageError> {
    match flag {
        "--listen" => o.listen = value()?,
        "--config" => o.config = Some(value()?.into()),
        "--key1" => o.key1 = Some(value()?),
        "--key2" => o.key2 = Some(value()?),
        "--dataset" => o.dataset = Some(value()?.into()),
        "--generate" => o.generate = Some(number(flag, value()?)?),
        "--state" => o.state = Some(value()?.into()),
        "--max-frame" => {
            let bytes = number(flag, value()?)?;
            if bytes < 16 {
                return Err(UsageError::FrameTooSmall);
            }
            o.max_frame = usize::try_from(bytes).unwrap_or(usize::MAX);
        }
        "--idle-timeout" => o.idle_timeout = seconds(flag, value()?)?,
        "--auth-timeout" => o.auth_timeout = seconds(flag, value()?)?,
        "--max-connections" => o.max_connections = number(flag, value()?)?.max(1) as usize,
        "--max-buffered-bytes" => {
            let bytes = number(flag, value()?)?;
            if bytes < 16 {
                return Err(UsageError::BufferTooSmall);
            }
            o.max_buffered = usize::try_from(bytes).unwrap_or(usize::MAX);
        }
        "--trace-requests" => o.trace_requests = Some(value()?.into()),
        f if crate::double::flags::Flags::takes(f) => o.double.set(f, value)?,
        "--session-counts" => o.session_counts = Some(value()?.into()),
        _ => return Ok(false),
    }
    Ok(true)
}

fn number(flag: &str, value: String) -> Result<u64, UsageError> {
    value.parse().map_err(|_| UsageError::NotANumber {
        flag: flag.to_string(),
        value,
    })
}

/// A timeout of at least one second: a socket refuses a zero timeout.
fn seconds(flag: &str, value: String) -> Result<Duration, UsageError> {
    match number(flag, value)? {
        0 => Err(UsageError::ZeroSeconds(flag.to_string())),
        secs => Ok(Duration::from_secs(secs)),
    }
}

fn check_combinations(o: &Options) -> Result<(), UsageError> {
    if o.dataset.is_some() && o.generate.is_some() {
        return Err(UsageError::DatasetAndGenerate);
    }
    if o.key1.is_some() != o.key2.is_some() {
        return Err(UsageError::OneKeyOnly);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags_parse_with_space_or_equals() {
        let o = parse(args("--listen 127.0.0.1:0 --generate=10 --idle-timeout 2"))
            .unwrap()
            .unwrap();
        assert_eq!(o.listen, "127.0.0.1:0");
        assert_eq!(o.generate, Some(10));
        assert_eq!(o.idle_timeout, Duration::from_secs(2));
        assert!(parse(args("--help")).unwrap().is_none());
        assert!(parse(args("--bogus")).is_err());
        assert!(parse(args("--generate")).is_err());
        assert!(parse(args("--key1 x")).is_err());
        assert!(parse(args("--max-frame 15")).is_err());
        assert_eq!(
            parse(args("--max-frame 16")).unwrap().unwrap().max_frame,
            16
        );
        assert!(parse(args("--auth-timeout 0")).is_err());
        assert_eq!(
            parse(args("--max-buffered-bytes 4096"))
                .unwrap()
                .unwrap()
                .max_buffered,
            4096
        );
        assert_eq!(
            parse(args("--max-buffered-bytes 8")).unwrap_err(),
            UsageError::BufferTooSmall
        );
        let o = parse(args("--auth-timeout 1")).unwrap().unwrap();
        assert_eq!(o.auth_timeout, Duration::from_secs(1));
    }
}
