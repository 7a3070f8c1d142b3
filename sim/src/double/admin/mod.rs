//! The control API and dashboard (`--admin ADDR`): JSON over HTTP on a port of its own, served by
//! tiny_http. Loopback only unless `--admin-allow-remote`: the API can rewrite every reply.

pub mod api;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::thread;

use api::Admin;

/// Threads answering HTTP requests; the API is light and a dashboard polls a few routes.
const WORKERS: usize = 2;

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

/// Binds and serves in background threads; returns the bound address.
pub fn start(addr: SocketAddr, admin: Arc<Admin>) -> Result<SocketAddr, String> {
    let http = tiny_http::Server::http(addr)
        .map_err(|e| format!("cannot serve the control API on {addr}: {e}"))?;
    let bound = http
        .server_addr()
        .to_ip()
        .ok_or_else(|| "the control API is not on an IP socket".to_string())?;
    let http = Arc::new(http);
    for _ in 0..WORKERS {
        let http = Arc::clone(&http);
        let admin = Arc::clone(&admin);
        thread::Builder::new()
            .name("mikrobill-admin".into())
            .spawn(move || {
                for request in http.incoming_requests() {
                    admin.serve(request);
                }
            })
            .map_err(|e| format!("cannot start the control API thread: {e}"))?;
    }
    Ok(bound)
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
}
