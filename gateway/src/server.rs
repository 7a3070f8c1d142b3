//! The listener: accepts connections (at most `max_connections` at once), does the TLS
//! handshake within the header timeout, serves HTTP/1.1 with header and body deadlines, reloads
//! the config on SIGHUP or a change of its file, and on SIGTERM/SIGINT (Ctrl-C on Windows) stops
//! accepting, lets the requests in flight finish, and closes the core connections.

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::audit::AuditLog;
use crate::config;
use crate::core_pool::CorePool;
use crate::state::{Gateway, Live};

/// How long the requests in flight get to finish once a stop is asked for.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

pub struct Options {
    pub config_path: std::path::PathBuf,
    pub allow_plain_http_on_non_loopback: bool,
    /// Stops the gateway when it turns true, besides the signals (the Windows service's stop).
    pub stop: Option<watch::Receiver<bool>>,
}

/// Loads everything, binds, prints `listening on http(s)://ADDR` as the first line of standard
/// output, and serves until asked to stop.
pub fn run(options: Options) -> Result<(), String> {
    let file = config::File::load(&options.config_path).map_err(|e| e.to_string())?;
    let addr = file.server.listen_addr().map_err(|e| e.to_string())?;
    let tls = file.server.tls_cert.is_some();
    check_plain_http(addr.ip(), tls, options.allow_plain_http_on_non_loopback)?;
    let core = file.core_config().map_err(|e| e.to_string())?;
    let live = Live::build(&file, None).map_err(|e| e.to_string())?;
    let audit = AuditLog::open(file.server.audit_log.as_deref()).map_err(|e| {
        format!(
            "audit_log {}: {e}",
            file.server
                .audit_log
                .as_deref()
                .unwrap_or(Path::new("-"))
                .display()
        )
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Request JSON may nest up to PHP's 512 levels; parsing and dropping it recurse.
        .thread_stack_size(8 << 20)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let pool = CorePool::start(
        &core,
        file.core.connections,
        file.core.queue,
        Duration::from_millis(file.core.queue_wait_ms),
    )
    .map_err(|e| format!("[core]: {e}"))?;
    drop(core);
    let max_connections = file.server.max_connections;
    let watch_ms = file.server.watch_config_ms;
    let gateway = Arc::new(Gateway::new(&options.config_path, file, live, pool, audit));
    let listen = Listen {
        addr,
        tls,
        max_connections,
        watch_ms,
        external_stop: options.stop,
    };
    let result = runtime.block_on(serve(Arc::clone(&gateway), listen));
    runtime.shutdown_timeout(Duration::from_secs(1));
    gateway.pool.stop();
    result
}

/// Plain HTTP carries tokens in clear text: only on loopback, unless the operator says so (a TLS
/// terminating proxy in front, on a private network).
pub fn check_plain_http(ip: IpAddr, tls: bool, allowed: bool) -> Result<(), String> {
    if tls || ip.is_loopback() || allowed {
        return Ok(());
    }
    Err(format!(
        "plain HTTP on {ip}, which is not a loopback address, would send tokens in clear text: \
         set [server] tls_cert and tls_key, or pass --allow-plain-http-on-non-loopback"
    ))
}

struct Listen {
    addr: SocketAddr,
    tls: bool,
    max_connections: usize,
    watch_ms: u64,
    external_stop: Option<watch::Receiver<bool>>,
}

async fn serve(gateway: Arc<Gateway>, listen: Listen) -> Result<(), String> {
    let Listen {
        addr,
        tls,
        max_connections,
        watch_ms,
        external_stop,
    } = listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    println!(
        "listening on {}://{bound}",
        if tls { "https" } else { "http" }
    );
    let (stop_tx, stop) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    tokio::spawn(signals(Arc::clone(&gateway), Arc::clone(&stop_tx)));
    if let Some(mut external) = external_stop {
        let stop_tx = Arc::clone(&stop_tx);
        tokio::spawn(async move {
            while !*external.borrow_and_update() {
                if external.changed().await.is_err() {
                    return;
                }
            }
            let _ = stop_tx.send(true);
        });
    }
    if watch_ms > 0 {
        tokio::spawn(watch_config(
            Arc::clone(&gateway),
            Duration::from_millis(watch_ms),
        ));
    }
    let slots = Arc::new(Semaphore::new(max_connections));
    let mut stopping = stop.clone();
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            break;
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.changed() => break,
        };
        let (stream, client) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: wait rather than spin.
                eprintln!("mikrobill-gateway: accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let gateway = Arc::clone(&gateway);
        let stop = stop.clone();
        tokio::spawn(async move {
            connection(gateway, stream, client, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    // Every slot back means every connection ended.
    let drained =
        tokio::time::timeout(DRAIN_LIMIT, slots.acquire_many(max_connections as u32)).await;
    if drained.is_err() {
        eprintln!("mikrobill-gateway: some connections did not finish in time; closing them");
    }
    Ok(())
}

async fn connection(
    gateway: Arc<Gateway>,
    stream: TcpStream,
    client: SocketAddr,
    stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let live = gateway.live();
    match &live.tls {
        Some(acceptor) => {
            let handshake = tokio::time::timeout(live.header_timeout, acceptor.accept(stream));
            if let Ok(Ok(tls)) = handshake.await {
                http(gateway, TokioIo::new(tls), client, stop).await;
            }
        }
        None => http(gateway, TokioIo::new(stream), client, stop).await,
    }
}

async fn http<I>(
    gateway: Arc<Gateway>,
    io: TokioIo<I>,
    client: SocketAddr,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let header_timeout = gateway.live().header_timeout;
    let service = service_fn(move |request| {
        let gateway = Arc::clone(&gateway);
        // The settings a request sees are those current when it arrived (see state.rs).
        let live = gateway.live();
        async move { Ok::<_, Infallible>(crate::routes::handle(gateway, live, client, request).await) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    // Finishes the request in progress, then closes.
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.as_mut().await;
                    return;
                }
            }
        }
    }
}

#[cfg(unix)]
async fn signals(gateway: Arc<Gateway>, stop: Arc<watch::Sender<bool>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("mikrobill-gateway: cannot install the signal handlers");
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                let gateway = Arc::clone(&gateway);
                // Reading files and building TLS is blocking work.
                let _ = tokio::task::spawn_blocking(move || gateway.reload_and_report("SIGHUP")).await;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    eprintln!("mikrobill-gateway: stopping");
    let _ = stop.send(true);
}

#[cfg(not(unix))]
async fn signals(_gateway: Arc<Gateway>, stop: Arc<watch::Sender<bool>>) {
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("mikrobill-gateway: stopping");
        let _ = stop.send(true);
    }
}

/// Reloads when the config file's modification time or size changes (the documented way on
/// Windows; available everywhere).
async fn watch_config(gateway: Arc<Gateway>, every: Duration) {
    let stamp = |path: &Path| -> Option<(SystemTime, u64)> {
        let meta = std::fs::metadata(path).ok()?;
        Some((meta.modified().ok()?, meta.len()))
    };
    let mut last = stamp(gateway.config_path());
    loop {
        tokio::time::sleep(every).await;
        let now = stamp(gateway.config_path());
        if now.is_some() && now != last {
            last = now;
            let gateway = Arc::clone(&gateway);
            let _ = tokio::task::spawn_blocking(move || gateway.reload_and_report("file changed"))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_loopback_unless_allowed() {
        let public: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(check_plain_http("127.0.0.1".parse().unwrap(), false, false).is_ok());
        assert!(check_plain_http("::1".parse().unwrap(), false, false).is_ok());
        assert!(check_plain_http(public, false, false).is_err());
        assert!(check_plain_http(public, true, false).is_ok());
        assert!(check_plain_http(public, false, true).is_ok());
        assert!(check_plain_http("0.0.0.0".parse().unwrap(), false, false).is_err());
    }
}
