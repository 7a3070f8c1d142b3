//! `mb --gateway URL --token-file FILE ...`: requests go to a mikrobill-gateway over HTTP(S)
//! instead of straight to a core, so scripts and the shell work the same from a host that holds
//! no keys and no cashier password.
//!
//! The gateway answers `POST /v1/process` with the core's reply unchanged (200), or with an error
//! JSON of the library's shape (`{"return":..,"result":..,"code":N}`) and a status that says what
//! kind of failure it is: its own refusals carry codes 9400..=9599, a library failure its code.

use std::path::Path;
use std::time::Duration;

use mikrobill::protocol::phpjson;
use serde_json::Value;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::Agent;

/// mb's own code for a gateway that could not be used: its TLS failed, or it answered something
/// that is not the gateway's API. In the gateway's range (9000 + HTTP 502, "bad gateway"); a
/// connection refused keeps the OS's errno, a host that does not resolve 9009 and a timeout
/// 9001, as they do without a gateway.
pub const UNUSABLE_GATEWAY: i64 = 9502;

/// The request is bounded by the library's whole-call deadline on the gateway's side; this one
/// only keeps mb from waiting forever on a gateway that stopped answering.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// The largest reply mb takes from a gateway: the library's default frame limit, which is also
/// the largest reply the gateway's own library client accepts by default.
const MAX_REPLY_BYTES: u64 = 64 * 1024 * 1024;

pub struct GatewayClient {
    agent: Agent,
    /// The URL without a trailing slash, e.g. `https://gw.example:8443`.
    base: String,
    /// Sent as `Authorization: Bearer`; never printed.
    token: String,
}

/// What a request through the gateway gave when it was not a core reply.
#[derive(Debug)]
pub struct GatewayFailure {
    /// The HTTP status, when the gateway answered.
    pub status: Option<u16>,
    pub code: i64,
    /// Safe to show: the gateway's or library's own text, or ours. Never holds the token.
    pub text: String,
}

impl GatewayFailure {
    fn unusable(text: String) -> GatewayFailure {
        GatewayFailure {
            status: None,
            code: UNUSABLE_GATEWAY,
            text,
        }
    }

    /// The library's error JSON shape, for `--json` output.
    pub fn to_json(&self) -> String {
        let mut body = String::from(r#"{"return":"#);
        phpjson::write_str(&mut body, &self.text);
        body.push_str(r#","result":"#);
        phpjson::write_str(&mut body, &self.text);
        body.push_str(&format!(r#","code":{}}}"#, self.code));
        body
    }

    /// The message mb prints on standard error.
    pub fn describe(&self) -> String {
        match self.status {
            Some(status) => format!(
                "the gateway answered HTTP {status}: {} (code {})",
                self.text, self.code
            ),
            None => format!("{} (code {})", self.text, self.code),
        }
    }
}

impl GatewayClient {
    /// A client for `url` with the token read from `token_file` (its first line) and, for a
    /// gateway whose certificate no public authority signed, the PEM certificates of `ca_file`.
    /// An `Err` is a message for the user (exit code 2).
    pub fn new(
        url: &str,
        token_file: &Path,
        ca_file: Option<&Path>,
        timeout: Duration,
    ) -> Result<GatewayClient, String> {
        let base = check_url(url)?;
        let token = read_token(token_file)?;
        let mut tls = TlsConfig::builder();
        if let Some(ca_file) = ca_file {
            tls = tls.root_certs(read_ca(ca_file)?);
        }
        let config = Agent::config_builder()
            // Every status comes back as a response: a refusal's body says why.
            .http_status_as_error(false)
            .timeout_connect(Some(timeout))
            .timeout_global(Some(timeout + DEADLINE_MARGIN))
            // A redirect would send the token wherever it points.
            .max_redirects(0)
            .tls_config(tls.build())
            .build();
        Ok(GatewayClient {
            agent: config.into(),
            base,
            token,
        })
    }

    /// The gateway's URL, for the shell's prompt.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// One request: the core's reply as its bytes, or why there is none.
    pub fn process(&self, path: &str, value_json: Option<&str>) -> Result<Vec<u8>, GatewayFailure> {
        let mut body = String::from(r#"{"path":"#);
        phpjson::write_str(&mut body, path);
        body.push_str(r#","value":"#);
        body.push_str(value_json.unwrap_or("null"));
        body.push('}');
        let response = self
            .agent
            .post(format!("{}/v1/process", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(transport_failure)?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .with_config()
            .limit(MAX_REPLY_BYTES)
            .read_to_vec()
            .map_err(transport_failure)?;
        if status == 200 {
            return Ok(bytes);
        }
        Err(refusal(status, &bytes))
    }

    /// Whether the gateway reaches its core and its login is accepted (`GET /v1/health`).
    pub fn check(&self) -> Result<(), GatewayFailure> {
        let response = self
            .agent
            .get(format!("{}/v1/health", self.base))
            .call()
            .map_err(transport_failure)?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(());
        }
        let bytes = response
            .into_body()
            .with_config()
            .limit(1024 * 1024)
            .read_to_vec()
            .map_err(transport_failure)?;
        let health: Option<Value> = serde_json::from_slice(&bytes).ok();
        let text = health
            .as_ref()
            .and_then(|h| h.get("status"))
            .and_then(Value::as_str)
            .unwrap_or("the gateway is not healthy")
            .to_string();
        let code = health
            .as_ref()
            .and_then(|h| h.get("code"))
            .and_then(Value::as_i64)
            .unwrap_or(UNUSABLE_GATEWAY);
        Err(GatewayFailure {
            status: Some(status),
            code,
            text,
        })
    }
}

/// The gateway's error JSON read back; anything else (a proxy's HTML page, say) is an unusable
/// gateway whose status is still reported.
fn refusal(status: u16, body: &[u8]) -> GatewayFailure {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|v| v.get("code")?.as_i64());
    let text = parsed.as_ref().and_then(|v| {
        v.get("return")
            .or_else(|| v.get("result"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    match (code, text) {
        (Some(code), Some(text)) => GatewayFailure {
            status: Some(status),
            code,
            text,
        },
        _ => GatewayFailure {
            status: Some(status),
            code: UNUSABLE_GATEWAY,
            text: "the answer is not the gateway's error JSON: is the URL a mikrobill-gateway?"
                .into(),
        },
    }
}

/// Why no answer came, with the code the same failure has without a gateway where there is one.
fn transport_failure(error: ureq::Error) -> GatewayFailure {
    match &error {
        ureq::Error::Io(io) => {
            // ureq hands a failed TLS handshake over as an I/O error around rustls's.
            if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                return tls_failure(tls);
            }
            if let Some(errno) = io.raw_os_error() {
                return GatewayFailure {
                    status: None,
                    code: i64::from(errno),
                    text: format!("cannot connect to the gateway: {io}"),
                };
            }
            if matches!(
                io.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) {
                return timed_out();
            }
            GatewayFailure::unusable(format!("the connection to the gateway failed: {io}"))
        }
        ureq::Error::Timeout(_) => timed_out(),
        ureq::Error::HostNotFound => GatewayFailure {
            status: None,
            code: mikrobill::code::HOST_NOT_RESOLVED,
            text: "the gateway's host name does not resolve".into(),
        },
        ureq::Error::Rustls(tls) => tls_failure(tls),
        ureq::Error::Tls(what) => tls_failure(what),
        ureq::Error::BodyExceedsLimit(limit) => {
            GatewayFailure::unusable(format!("the gateway's answer is over {limit} bytes"))
        }
        other => GatewayFailure::unusable(format!("the gateway could not be used: {other}")),
    }
}

fn tls_failure(error: &dyn std::fmt::Display) -> GatewayFailure {
    GatewayFailure::unusable(format!(
        "TLS with the gateway failed ({error}); for a certificate that no public authority \
         signed, give its CA with --gateway-ca FILE"
    ))
}

fn timed_out() -> GatewayFailure {
    GatewayFailure {
        status: None,
        code: mikrobill::code::TIMEOUT,
        text: "no answer from the gateway in time".into(),
    }
}

/// `http(s)://host[:port][/prefix]` without a trailing slash. Plain http only to a loopback
/// address: the token would cross the network in clear.
fn check_url(url: &str) -> Result<String, String> {
    let base = url.trim_end_matches('/');
    let Some(rest) = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
    else {
        return Err(format!(
            "--gateway {url}: give the gateway's URL, https://HOST[:PORT] (or http:// to a \
             loopback address)"
        ));
    };
    if base.starts_with("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if !is_loopback(host) {
            return Err(format!(
                "--gateway {url}: plain http is allowed only to a loopback address (the token \
                 would cross the network in clear); use https://"
            ));
        }
    }
    Ok(base.to_string())
}

/// Whether `host[:port]` names this machine: localhost, 127.0.0.0/8 or [::1].
fn is_loopback(host_port: &str) -> bool {
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The token: the first line of the file, trimmed. The file's contents never reach a message.
fn read_token(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("--token-file {}: {e}", file.display()))?;
    let token = text.lines().next().unwrap_or_default().trim();
    if token.is_empty() {
        return Err(format!(
            "--token-file {}: the first line is empty; put the token that \
             `mikrobill-gateway token new NAME` printed there",
            file.display()
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "--token-file {}: the token holds spaces or characters that cannot go in an HTTP \
             header",
            file.display()
        ));
    }
    Ok(token.to_string())
}

/// The CA certificates of a PEM file, as the only roots trusted for the gateway.
fn read_ca(file: &Path) -> Result<RootCerts, String> {
    let pem = std::fs::read(file).map_err(|e| format!("--gateway-ca {}: {e}", file.display()))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => certs.push(cert),
            Ok(_) => {}
            Err(e) => return Err(format!("--gateway-ca {}: {e}", file.display())),
        }
    }
    if certs.is_empty() {
        return Err(format!(
            "--gateway-ca {}: no PEM certificate in the file",
            file.display()
        ));
    }
    Ok(RootCerts::new_with_certs(&certs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert_eq!(
            check_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(check_url("http://localhost").is_ok());
        assert!(check_url("http://[::1]:80").is_ok());
        assert!(check_url("https://gw.example:8443").is_ok());
        assert!(check_url("http://gw.example:8080")
            .unwrap_err()
            .contains("loopback"));
        assert!(check_url("http://10.0.0.1")
            .unwrap_err()
            .contains("https://"));
        assert!(check_url("gw.example")
            .unwrap_err()
            .contains("https://HOST"));
    }

    #[test]
    fn a_refusal_keeps_the_gateways_code_and_text() {
        let failure = refusal(
            403,
            br#"{"return":"This token is read-only","result":"This token is read-only","code":9403}"#,
        );
        assert_eq!(failure.code, 9403);
        assert_eq!(
            failure.describe(),
            "the gateway answered HTTP 403: This token is read-only (code 9403)"
        );
        let html = refusal(502, b"<html>Bad Gateway</html>");
        assert_eq!(html.code, UNUSABLE_GATEWAY);
        assert!(html.describe().contains("HTTP 502"));
    }
}
