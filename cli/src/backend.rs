//! Where `mb process` and `mb shell` send their requests: straight to a core through the
//! library, or to a mikrobill-gateway (`mb --gateway URL --token-file FILE`). Both give the core's
//! reply as its bytes, so what mb shows does not depend on the route.

use std::time::Duration;

use mikrobill::{CancelToken, Client, Error};

use crate::args::{ConnectionArgs, GatewayArgs};
use crate::connection;
use crate::gateway::{GatewayClient, GatewayFailure};
use crate::output::describe;

pub enum Backend {
    // Boxed: a client holds its buffers inline, the gateway client is a few pointers.
    Core(Box<Client>),
    Gateway(GatewayClient),
}

/// Why a request has no reply.
pub enum Failure {
    Library(Error),
    Gateway(GatewayFailure),
}

impl Failure {
    /// The library's error JSON shape, for `--json` output.
    pub fn to_json(&self) -> String {
        match self {
            Failure::Library(error) => error.to_json(),
            Failure::Gateway(failure) => failure.to_json(),
        }
    }

    /// What mb says on standard error, ending with the code.
    pub fn describe(&self) -> String {
        match self {
            Failure::Library(error) => describe(error),
            Failure::Gateway(failure) => failure.describe(),
        }
    }
}

impl Backend {
    /// The backend the command line names (no network yet). An `Err` is a message for the user
    /// (exit code 2).
    pub fn open(connection: &ConnectionArgs, gateway: &GatewayArgs) -> Result<Backend, String> {
        match &gateway.gateway {
            None => connection::client(connection).map(|c| Backend::Core(Box::new(c))),
            Some(url) => {
                let Some(token_file) = &gateway.token_file else {
                    return Err("--gateway needs --token-file FILE (the token's first line)".into());
                };
                GatewayClient::new(
                    url,
                    token_file,
                    gateway.gateway_ca.as_deref(),
                    Duration::from_millis(connection.timeout_ms),
                )
                .map(Backend::Gateway)
            }
        }
    }

    /// Sends one request; the reply is the core's bytes, UTF-8 or not.
    pub fn process(&mut self, path: &str, value_json: Option<&str>) -> Result<Vec<u8>, Failure> {
        match self {
            Backend::Core(client) => client
                .process_bytes(path, value_json, None)
                .map_err(Failure::Library),
            Backend::Gateway(gateway) => {
                gateway.process(path, value_json).map_err(Failure::Gateway)
            }
        }
    }

    /// [`Backend::process`], cancelled by `token` (code 9011) when it talks to a core; through a
    /// gateway the HTTP call runs to its end or its timeout.
    pub fn process_cancellable(
        &mut self,
        path: &str,
        value_json: Option<&str>,
        token: &CancelToken,
    ) -> Result<Vec<u8>, Failure> {
        match self {
            Backend::Core(client) => client
                .process_bytes(path, value_json, Some(token))
                .map_err(Failure::Library),
            Backend::Gateway(_) => self.process(path, value_json),
        }
    }

    /// Whether requests can be served now: the core reachable and the login accepted (through
    /// the gateway: its health).
    pub fn check(&mut self) -> bool {
        match self {
            Backend::Core(client) => client.check_connection(),
            Backend::Gateway(gateway) => gateway.check().is_ok(),
        }
    }

    /// Says goodbye to the core; a gateway keeps its own connections.
    pub fn disconnect(&mut self) {
        if let Backend::Core(client) = self {
            client.disconnect();
        }
    }
}
