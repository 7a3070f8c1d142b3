//! What requests share: the part of the config a reload replaces (tokens, TLS, request limits),
//! the core connections, the audit log and the metrics.
//!
//! A request takes the live settings once, when it starts, and keeps them to its end; a reload
//! swaps in new ones for the requests that start later. So a reload never drops or changes a
//! request in flight.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};
use tokio_rustls::TlsAcceptor;

use crate::audit::AuditLog;
use crate::config::{self, ConfigError};
use crate::core_pool::CorePool;
use crate::metrics::Metrics;
use crate::tokens::TokenSet;

/// The settings a reload replaces.
pub struct Live {
    pub tokens: TokenSet,
    pub tls: Option<TlsAcceptor>,
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

impl Live {
    pub fn build(file: &config::File, previous: Option<&Live>) -> Result<Live, ConfigError> {
        let tokens =
            TokenSet::build(&file.tokens, previous.map(|p| &p.tokens)).map_err(ConfigError)?;
        let tls = match (&file.server.tls_cert, &file.server.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key).map_err(ConfigError)?),
            _ => None,
        };
        Ok(Live {
            tokens,
            tls,
            max_body_bytes: file.server.max_body_bytes,
            header_timeout: file.server.header_timeout(),
            body_timeout: file.server.body_timeout(),
        })
    }
}

pub struct Gateway {
    live: RwLock<Arc<Live>>,
    /// The config as last loaded, to tell which changed settings a reload cannot apply.
    loaded: Mutex<config::File>,
    config_path: PathBuf,
    pub pool: CorePool,
    pub audit: AuditLog,
    pub metrics: Metrics,
    /// The last health check's outcome (the library's reason when it failed) and when it ran:
    /// unauthenticated callers may ask often, the core is asked at most once a second.
    pub health: tokio::sync::Mutex<Option<(Instant, Result<(), mikrobill::Error>)>>,
}

impl Gateway {
    pub fn new(
        config_path: &Path,
        file: config::File,
        live: Live,
        pool: CorePool,
        audit: AuditLog,
    ) -> Gateway {
        Gateway {
            live: RwLock::new(Arc::new(live)),
            loaded: Mutex::new(file),
            config_path: config_path.to_path_buf(),
            pool,
            audit,
            metrics: Metrics::new(),
            health: tokio::sync::Mutex::new(None),
        }
    }

    pub fn live(&self) -> Arc<Live> {
        Arc::clone(&self.live.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Reads the config file again and applies its tokens, TLS files and request limits. A config
    /// that does not load leaves everything as it was. Returns what the operator should know:
    /// the settings that changed but need a restart.
    pub fn reload(&self) -> Result<Vec<String>, ConfigError> {
        let file = config::File::load(&self.config_path)?;
        let live = Live::build(&file, Some(&self.live()))?;
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let mut restart = Vec::new();
        if file.core != loaded.core {
            restart.push("[core]".to_string());
        }
        for (name, changed) in [
            ("listen", file.server.listen != loaded.server.listen),
            (
                "tls_cert/tls_key (on or off)",
                file.server.tls_cert.is_some() != loaded.server.tls_cert.is_some(),
            ),
            (
                "audit_log",
                file.server.audit_log != loaded.server.audit_log,
            ),
            (
                "max_connections",
                file.server.max_connections != loaded.server.max_connections,
            ),
            (
                "watch_config_ms",
                file.server.watch_config_ms != loaded.server.watch_config_ms,
            ),
        ] {
            if changed {
                restart.push(format!("[server] {name}"));
            }
        }
        // TLS cannot be switched on or off under a running listener: keep the current mode.
        let live = Live {
            tls: match (&self.live().tls, live.tls) {
                (Some(_), Some(new)) => Some(new),
                (old, _) => old.clone(),
            },
            ..live
        };
        *self.live.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(live);
        *loaded = file;
        Ok(restart)
    }

    /// Reloads and says how it went on standard error.
    pub fn reload_and_report(&self, why: &str) {
        match self.reload() {
            Ok(restart) => {
                eprintln!(
                    "mikrobill-gateway: config reloaded ({why}): {} tokens",
                    self.live().tokens.len()
                );
                if !restart.is_empty() {
                    eprintln!(
                        "mikrobill-gateway: changed but only applied on restart: {}",
                        restart.join(", ")
                    );
                }
            }
            Err(e) => eprintln!(
                "mikrobill-gateway: config reload ({why}) failed, the previous config stays: {e}"
            ),
        }
    }
}
