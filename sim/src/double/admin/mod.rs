//! The control API and dashboard (`--admin ADDR`): JSON over HTTP on a port of its own, served by
//! hyper on a one-thread tokio runtime beside the simulator's own threads. Loopback only unless
//! `--admin-allow-remote`: the API can rewrite every reply.

pub mod api;
mod security_headers;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use api::{Admin, Answer, MAX_BODY};

/// The address to bind, refusing non-loopback ones unless they are explicitly allowed.
pub fn check_address(addr: &str, allow_remote: bool) -> Result<SocketAddr, String> {
    let resolved: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("--admin {addr}: {e}"))?
        .collect();
    let Some(first) = resolved.first().copied() else {
        return Err(format!("--admin {addr}: resolves to no address"));
    };
    if !allow_remote {
        if let Some(remote) = resolved.iter().find(|a| !a.ip().is_loopback()) {
            return Err(format!(
                "--admin {addr}: {} is not a loopback address; the control API has no \
                 authentication, so add --admin-allow-remote to serve it there anyway",
                remote.ip()
            ));
        }
    }
    Ok(first)
}

/// Binds, then serves on a thread of its own; returns the bound address.
pub fn start(addr: SocketAddr, admin: Arc<Admin>) -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| format!("cannot serve the control API on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start the control API: {e}"))?;
    thread::Builder::new()
        .name("mikrobill-admin".into())
        .spawn(move || runtime.block_on(accept_loop(listener, admin)))
        .map_err(|e| format!("cannot start the control API thread: {e}"))?;
    Ok(bound)
}

/// Connections the control API serves at once. One more is accepted and closed at once, so a
/// crowd of idle peers costs neither descriptors nor memory beyond this many (each holds at most
/// a MAX_BODY body) and never reaches the API port's descriptors.
pub const MAX_CONNECTIONS: usize = 64;
/// A request's header must arrive within this, from the connection's start or the previous reply.
const HEADER_DEADLINE: Duration = Duration::from_secs(10);
/// A request's body must arrive within this once its header has.
const BODY_DEADLINE: Duration = Duration::from_secs(10);
/// No connection lasts longer (keep-alive included); the dashboard's script simply reconnects.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

async fn accept_loop(listener: std::net::TcpListener, admin: Arc<Admin>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mikrobill-sim: the control API cannot listen: {e}");
            return;
        }
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // EMFILE and friends: keep serving once descriptors free up.
                eprintln!("mikrobill-sim: control API accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream); // every slot taken: closed, so it holds nothing while it waits
            continue;
        };
        let admin = Arc::clone(&admin);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(Arc::clone(&admin), req));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_DEADLINE)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            // A peer that goes away mid-request, or outlives its deadline, is its own business.
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(slot);
        });
    }
}

/// Whether a Host header ("name", "name:port", "[v6]" or "[v6]:port") names loopback.
fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A web page the developer happens to visit must not drive the API: a POST must say JSON (so a
/// browser sends a CORS preflight first, which gets no CORS headers), and on a loopback port the
/// Host must be a loopback name (no DNS rebinding).
fn refuse(admin: &Admin, req: &Request<Incoming>) -> Option<Answer> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if !admin.allow_remote && !loopback_host(header(hyper::header::HOST)) {
        return Some(api::error(
            403,
            "the control API answers only to a loopback Host",
        ));
    }
    let json = header(hyper::header::CONTENT_TYPE)
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    // `handle` routes on the method in any case, so `post` must not slip past this check.
    if req.method().as_str().eq_ignore_ascii_case("POST") && !json {
        return Some(api::error(
            415,
            "a POST body must be Content-Type: application/json",
        ));
    }
    None
}

async fn handle(
    admin: Arc<Admin>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if let Some(answer) = refuse(&admin, &req) {
        return Ok(respond(answer));
    }
    let method = req.method().as_str().to_ascii_uppercase();
    let url = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let body = tokio::time::timeout(
        BODY_DEADLINE,
        Limited::new(req.into_body(), MAX_BODY).collect(),
    );
    let Ok(body) = body.await else {
        return Ok(respond(api::error(
            408,
            &format!("the request body did not arrive within {BODY_DEADLINE:?}"),
        )));
    };
    let answer = match body {
        Ok(body) => {
            let body = body.to_bytes();
            // The routes take locks and may fsync the state file: off the async thread.
            tokio::task::spawn_blocking(move || admin.route(&method, &url, &body))
                .await
                .unwrap_or_else(|_| api::error(500, "the control API handler failed"))
        }
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            api::error(413, &format!("request body over {MAX_BODY} bytes"))
        }
        Err(e) => api::error(400, &format!("cannot read the request body: {e}")),
    };
    Ok(respond(answer))
}

fn respond(answer: Answer) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(answer.body)));
    *response.status_mut() = hyper::StatusCode::from_u16(answer.status)
        .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(answer.content_type),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    security_headers::add(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_unless_allowed() {
        assert!(check_address("127.0.0.1:0", false).is_ok());
        assert!(check_address("[::1]:0", false).is_ok());
        let refused = check_address("0.0.0.0:0", false).unwrap_err();
        assert!(refused.contains("--admin-allow-remote"), "{refused}");
        assert!(check_address("0.0.0.0:0", true).is_ok());
        assert!(check_address("nonsense", false).is_err());
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "127.0.0.1:7480",
            "localhost:1",
            "LOCALHOST",
            "[::1]:80",
            "[::1]",
            "127.1.2.3",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example:7480",
            "10.0.0.1:80",
            "",
            "[::2]:1",
            "localhost.evil:1",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }
}
