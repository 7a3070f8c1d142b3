//! The library's settings from the command line.

use std::time::Duration;

use mikrobill::{Client, Config};

use crate::args::ConnectionArgs;
use crate::output::describe;
use crate::password;

/// A client for the given settings (no network yet: the first request connects). An `Err` is a
/// message for the user (exit code 2): clap already checked ranges, so what remains is a
/// password that could not be had or keys that are not base64 of an AES key and IV.
pub fn client(args: &ConnectionArgs) -> Result<Client, String> {
    let password = password::resolve(args)?;
    let (key1, key2) = password::keys(args);
    let mut config = Config::new(&args.host, args.port, &args.login, password, key1, key2);
    config.connect_timeout = Duration::from_millis(args.timeout_ms);
    config.io_timeout = Duration::from_millis(args.timeout_ms);
    Client::new(config).map_err(|e| describe(&e))
}
