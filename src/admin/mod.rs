//! The admin interfaces: a SQL port a mysql client can use (`SHOW BACKENDS`,
//! `UPDATE backends …`, `SHOW STATS`, `SHOW SESSIONS`, `SHOW DIGESTS`, `EXPLAIN ROUTE`,
//! `RELOAD CONFIG`, `SAVE CONFIG`), an HTTP endpoint (`/metrics`, `/health/*`,
//! `/api/backends`), hot reload, and `rwproxy status`.
//!
//! Both read the proxy's snapshots and atomics; changes go through the same atomics
//! and `ArcSwap` snapshots the query path reads, so nothing on that path takes a lock.

pub mod backends;
pub mod commands;
pub mod digest;
pub mod fingerprint;
pub mod http;
pub mod metrics;
pub mod parse;
pub mod reload;
pub mod save;
pub mod sql;
pub mod stats;
pub mod status;

use crate::server::Proxy;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Why the admin interfaces could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A listener could not bind.
    #[error("cannot listen on {addr} ({key}): {source}")]
    Bind {
        /// The config key.
        key: &'static str,
        /// The address.
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
}

/// The admin listeners that were started.
#[derive(Debug, Default)]
pub struct Running {
    /// The SQL admin port, if enabled.
    pub sql: Option<SocketAddr>,
    /// The HTTP endpoint, if enabled.
    pub http: Option<SocketAddr>,
}

async fn bind(key: &'static str, addr: &str) -> Result<Option<TcpListener>, AdminError> {
    if addr.is_empty() {
        return Ok(None);
    }
    TcpListener::bind(addr)
        .await
        .map(Some)
        .map_err(|source| AdminError::Bind {
            key,
            addr: addr.to_string(),
            source,
        })
}

/// Binds `[admin] listen` and `[admin] http` (either may be "" = off) and serves them
/// until `cancel` fires. Fails, with nothing started, if either cannot bind.
pub async fn start(proxy: &Arc<Proxy>, cancel: &CancellationToken) -> Result<Running, AdminError> {
    let config = proxy.config.load_full();
    let sql = bind("admin.listen", &config.admin.listen).await?;
    let http = bind("admin.http", &config.admin.http).await?;
    let mut running = Running::default();
    if let Some(l) = sql {
        running.sql = l.local_addr().ok();
        tracing::info!(listen = %config.admin.listen, "admin SQL port listening");
        tokio::spawn(sql::serve(l, proxy.clone(), cancel.clone()));
    }
    if let Some(l) = http {
        running.http = l.local_addr().ok();
        tracing::info!(listen = %config.admin.http, "admin HTTP listening");
        tokio::spawn(http::serve(l, proxy.clone(), cancel.clone()));
    }
    Ok(running)
}
