//! The set of backends, published as an immutable snapshot so the query path reads it
//! without a lock. Per-backend counters are atomics.

use crate::config::{Config, Role};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One backend server.
#[derive(Debug)]
pub struct Backend {
    /// Name from the config.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Primary or replica.
    pub role: Role,
    /// Read weight.
    pub weight: u32,
    /// Lag limit for reads.
    pub max_lag_ms: u64,
    /// Requests sent.
    pub queries: AtomicU64,
    /// Requests that failed with a backend or connection error.
    pub errors: AtomicU64,
    /// Connections opened.
    pub connects: AtomicU64,
}

impl Backend {
    /// Counts one request.
    pub fn count_query(&self) {
        self.queries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one failure.
    pub fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// An immutable snapshot of all backends.
#[derive(Debug)]
pub struct Topology {
    /// All backends, in config order.
    pub backends: Vec<Arc<Backend>>,
}

impl Topology {
    /// Builds the topology from a validated config.
    pub fn from_config(config: &Config) -> Topology {
        let backends = config
            .backends
            .iter()
            .map(|b| {
                Arc::new(Backend {
                    name: b.name.clone(),
                    address: b.address.clone(),
                    role: b.role,
                    weight: b.weight,
                    max_lag_ms: b.max_lag_ms,
                    queries: AtomicU64::new(0),
                    errors: AtomicU64::new(0),
                    connects: AtomicU64::new(0),
                })
            })
            .collect();
        Topology { backends }
    }

    /// The primary (a validated config has exactly one).
    pub fn primary(&self) -> Option<&Arc<Backend>> {
        self.backends.iter().find(|b| b.role == Role::Primary)
    }

    /// A backend by name.
    pub fn get(&self, name: &str) -> Option<&Arc<Backend>> {
        self.backends.iter().find(|b| b.name == name)
    }
}
