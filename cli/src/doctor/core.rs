//! The core: its port open, this protocol spoken there, the login accepted, and how long the
//! connect and the login's round trip took.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use mikrobill::{Client, Config, Error};

use super::report::Report;
use crate::args::ConnectionArgs;
use crate::output::describe;
use crate::password;

/// `keys`: the kassa's, when they were read and no flag or environment names others.
pub fn check(
    report: &mut Report,
    args: &ConnectionArgs,
    kassa_keys: (Option<String>, Option<String>),
) {
    let address = format!("{}:{}", args.host, args.port);
    let timeout = Duration::from_millis(args.timeout_ms);
    let resolved = match (args.host.as_str(), args.port).to_socket_addrs() {
        Ok(mut addresses) => addresses.next(),
        Err(e) => {
            report.fail(
                "core port",
                &format!("{} does not resolve: {e}", args.host),
                "give --host the core's name or address",
            );
            return;
        }
    };
    let Some(socket) = resolved else {
        report.fail(
            "core port",
            &format!("{} has no address", args.host),
            "give --host the core's address",
        );
        return;
    };
    let started = Instant::now();
    match TcpStream::connect_timeout(&socket, timeout) {
        Ok(_) => report.ok(
            "core port",
            &format!(
                "{address} accepts connections ({})",
                millis(started.elapsed())
            ),
        ),
        Err(e) => {
            report.fail(
                "core port",
                &format!("{address}: {e}"),
                "start the core (or mikrobill-sim), check --host and --port (the API's port, usually \
                 7403) and that no firewall is in between",
            );
            report.skip("core login", "needs the port open");
            return;
        }
    }
    let password = match password::resolve(args) {
        Ok(p) => p,
        Err(message) => {
            report.fail(
                "core login",
                &message,
                "give the cashier's password (--password-file FILE)",
            );
            return;
        }
    };
    let keys = password::keys(args);
    let from_env =
        |flag: &Option<String>, env: &str| flag.is_some() || std::env::var_os(env).is_some();
    let key1 = match kassa_keys.0 {
        Some(key) if !from_env(&args.key1, "MIKROBILL_KEY1") => key,
        _ => keys.0,
    };
    let key2 = match kassa_keys.1 {
        Some(key) if !from_env(&args.key2, "MIKROBILL_KEY2") => key,
        _ => keys.1,
    };
    let mut config = Config::new(&args.host, args.port, &args.login, password, key1, key2);
    config.connect_timeout = timeout;
    config.io_timeout = timeout;
    let mut client = match Client::new(config) {
        Ok(c) => c,
        Err(e) => {
            report.fail(
                "core login",
                &describe(&e),
                "CRYPTO_KEY_1 must be base64 of 32 bytes and CRYPTO_KEY_2 of 16, as config.php and \
                 workparams hold them",
            );
            return;
        }
    };
    let started = Instant::now();
    match client.ensure_connected(None) {
        Ok(()) => {
            report.ok(
                "core login",
                &format!(
                    "{} accepted, connect and login round trip {}",
                    args.login,
                    millis(started.elapsed())
                ),
            );
            client.disconnect();
        }
        Err(e) => report.fail("core login", &describe(&e), fix_for(&e)),
    }
}

fn fix_for(error: &Error) -> &'static str {
    match error {
        Error::NullResponse(detail) if detail.contains("answers in") => {
            "give --port the core's API port (usually 7403): this one belongs to another service"
        }
        Error::NullResponse(_) | Error::MalformedReply(_) => {
            "the keys must be the core's: CRYPTO_KEY_1 from config.php and CRYPTO_KEY_2 from \
             workparams (mb doctor --kassa DIR reads them as the kassa does)"
        }
        Error::AuthRejected(_) => {
            "check the cashier's login and password, and that the cashier has the API right in \
             MikroBILL"
        }
        Error::Timeout(_) => {
            "the core did not answer in time: check that this port is the core's API port, or \
             raise --timeout-ms on a slow link"
        }
        _ => "check --host, --port and the core's state",
    }
}

fn millis(elapsed: Duration) -> String {
    format!("{:.1} ms", elapsed.as_secs_f64() * 1000.0)
}
