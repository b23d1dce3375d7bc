//! Backend connections: connecting and logging in as a client would, an idle pool per
//! (backend, user, wire format), and resetting a connection before it is reused.

pub mod conn;
pub mod liveness;
pub mod login;

pub use conn::BackendConn;

use crate::protocol::packets::ErrPacket;
use crate::protocol::ProtocolError;
use crate::replication::Backend;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a backend connection could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// TCP connect or login took longer than the connect timeout.
    #[error("timed out connecting to backend '{backend}' ({address}) after {ms} ms")]
    Timeout {
        /// Backend name.
        backend: String,
        /// Its address.
        address: String,
        /// The timeout.
        ms: u64,
    },
    /// The TCP connection failed.
    #[error("cannot connect to backend '{backend}' ({address}): {source}")]
    Connect {
        /// Backend name.
        backend: String,
        /// Its address.
        address: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The backend refused the login; its own error is passed on.
    #[error("backend '{backend}' refused login: {err}")]
    Refused {
        /// Backend name.
        backend: String,
        /// The backend's ERR packet.
        err: ErrPacket,
    },
    /// The backend asked for an auth method the proxy cannot answer.
    #[error("backend '{backend}' asks for auth plugin '{plugin}', which needs a password the proxy does not have or a method it does not support")]
    Unsupported {
        /// Backend name.
        backend: String,
        /// Plugin name.
        plugin: String,
    },
    /// The wire broke during login or reset.
    #[error("backend '{backend}': {source}")]
    Protocol {
        /// Backend name.
        backend: String,
        /// What broke.
        source: ProtocolError,
    },
}

impl PoolError {
    /// The error as a client sees it: the backend's own error when it refused, else a
    /// 2003-class error naming the backend.
    pub fn to_err_packet(&self) -> ErrPacket {
        match self {
            PoolError::Refused { err, .. } => err.clone(),
            other => ErrPacket::new(
                crate::protocol::constants::errors::CR_CONN_HOST_ERROR,
                "08S01",
                other.to_string(),
            ),
        }
    }
}

/// Identifies interchangeable connections: same backend, user and wire format.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    /// Backend name.
    pub backend: std::sync::Arc<str>,
    /// Backend user.
    pub user: String,
    /// Capability flags that change packet formats or semantics.
    pub caps: u32,
    /// MariaDB extended capabilities.
    pub ext_caps: u32,
    /// Collation id.
    pub charset: u8,
}

/// Idle connections kept per key.
const MAX_IDLE_PER_KEY: usize = 64;

/// The idle pool.
#[derive(Debug, Default)]
pub struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<BackendConn>>>,
}

impl Pool {
    /// A connection for `key` whose schema is `schema`: an idle one when possible
    /// (switched with COM_INIT_DB if needed), else a new login.
    pub async fn checkout(
        &self,
        backend: &Arc<Backend>,
        key: &PoolKey,
        login: &login::Login,
        schema: Option<&str>,
        timeout: Duration,
    ) -> Result<BackendConn, PoolError> {
        while let Some(mut conn) = self.take_idle(key) {
            // A config reload replaced the backend of this name (new address): drop it.
            // ... or the server closed it while it sat idle (wait_timeout, restart).
            if !Arc::ptr_eq(&conn.backend, backend) || !liveness::usable(&conn, Instant::now()) {
                continue;
            }
            if conn.schema.as_deref() == schema {
                return Ok(conn);
            }
            if let Some(db) = schema {
                if conn.init_db(db).await.is_ok() {
                    return Ok(conn);
                }
            }
            // A connection with a schema cannot go back to none: drop it.
        }
        BackendConn::connect(backend.clone(), key.clone(), login, schema, timeout).await
    }

    fn take_idle(&self, key: &PoolKey) -> Option<BackendConn> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.get_mut(key).and_then(Vec::pop)
    }

    /// Returns a connection after COM_RESET_CONNECTION succeeds on it; drops it otherwise.
    pub async fn checkin(&self, mut conn: BackendConn) {
        // RESET keeps the schema, which a COM_QUERY `USE` may have moved: reset()
        // reads it back.
        // Retired by a reload, or taken offline by the DBA: close rather than keep.
        let unwanted = conn
            .backend
            .retired
            .load(std::sync::atomic::Ordering::Relaxed)
            || conn.backend.state() == crate::replication::BackendState::Offline;
        if unwanted || !conn.reusable || conn.reset().await.is_err() {
            return;
        }
        conn.applied = 0;
        conn.waited_gtid = None;
        conn.idle_since = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.entry(conn.key.clone()).or_default();
        if list.len() < MAX_IDLE_PER_KEY {
            list.push(conn);
        }
    }

    /// Number of idle connections (all keys).
    pub fn idle_count(&self) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.values().map(Vec::len).sum()
    }

    /// Idle connections per backend (the admin port's `conn_idle`); counts only those
    /// to `backend` itself, not to a backend of the same name a reload replaced.
    pub fn idle_of(&self, backend: &Arc<Backend>) -> usize {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.values()
            .flatten()
            .filter(|c| Arc::ptr_eq(&c.backend, backend))
            .count()
    }

    /// Closes the idle connections to backends named `name` (taken offline, removed or
    /// replaced by a reload).
    pub fn close_idle(&self, name: &str) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|k, _| &*k.backend != name);
    }
}
