//! Command-line flags of `mikrobill-sim` and `mb serve`.

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
                           a new one replaces the oldest not yet authenticated, and only
                           when every one is authenticated is it refused
  --max-buffered-bytes N   at most N bytes of request frames being received or decoded, over
                           all connections (default 268435456); a request that would pass it
                           gets code 209 and its connection is closed
  --trace-requests FILE    append each decrypted non-auth request, one per line
  -h, --help               show this help

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
        }
    }
}

/// `Ok(None)` means --help was asked for.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let number = |v: String| -> Result<u64, String> {
            v.parse()
                .map_err(|_| format!("{flag}: not a non-negative integer: {v}"))
        };
        match flag.as_str() {
            "--listen" => o.listen = value()?,
            "--config" => o.config = Some(value()?.into()),
            "--key1" => o.key1 = Some(value()?),
            "--key2" => o.key2 = Some(value()?),
            "--dataset" => o.dataset = Some(value()?.into()),
            "--generate" => o.generate = Some(number(value()?)?),
            "--state" => o.state = Some(value()?.into()),
            "--max-frame" => {
                let bytes = number(value()?)?;
                if bytes < 16 {
                    return Err("--max-frame must be at least 16 (one cipher block)".into());
                }
                o.max_frame = usize::try_from(bytes).unwrap_or(usize::MAX);
            }
            "--idle-timeout" | "--auth-timeout" => {
                let secs = number(value()?)?;
                if secs == 0 {
                    return Err(format!("{flag} must be at least 1"));
                }
                let secs = Duration::from_secs(secs);
                if flag == "--idle-timeout" {
                    o.idle_timeout = secs;
                } else {
                    o.auth_timeout = secs;
                }
            }
            "--max-connections" => o.max_connections = number(value()?)?.max(1) as usize,
            "--max-buffered-bytes" => {
                let bytes = number(value()?)?;
                if bytes < 16 {
                    return Err("--max-buffered-bytes must be at least 16".into());
                }
                o.max_buffered = usize::try_from(bytes).unwrap_or(usize::MAX);
            }
            "--trace-requests" => o.trace_requests = Some(value()?.into()),
            _ => return Err(format!("unknown argument: {arg}")),
        }
    }
    if o.dataset.is_some() && o.generate.is_some() {
        return Err(
            "--dataset and --generate cannot be combined (a dataset may say \"generate\")".into(),
        );
    }
    if o.key1.is_some() != o.key2.is_some() {
        return Err("--key1 and --key2 go together".into());
    }
    Ok(Some(o))
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
        assert!(parse(args("--max-buffered-bytes 8")).is_err());
        let o = parse(args("--auth-timeout 1")).unwrap().unwrap();
        assert_eq!(o.auth_timeout, Duration::from_secs(1));
    }
}
