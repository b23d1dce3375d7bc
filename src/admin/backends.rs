//! The backends as the admin interfaces show them (one [`BackendRow`] per backend, for
//! `SHOW BACKENDS`, `/api/backends` and `/metrics`) and runtime changes to them
//! (`UPDATE backends`, `PUT /api/backends/{name}`). Changes go through the backend's
//! atomics, so sessions see them at their next statement and nobody is disconnected.

use super::parse::BackendChange;
use crate::replication::{Backend, BackendState};
use crate::server::Proxy;
use serde::Serialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Column names of `SHOW BACKENDS`, in order (the first sixteen are a contract with
/// `rwproxy bench --admin` and `rwproxy status`).
pub const COLUMNS: [&str; 22] = [
    "name",
    "address",
    "role",
    "state",
    "weight",
    "max_lag_ms",
    "lag_ms",
    "gtid",
    "conn_active",
    "conn_idle",
    "queries",
    "reads",
    "writes",
    "errors",
    "p50_ms",
    "p99_ms",
    "sql_errors",
    "outstanding",
    "connects",
    "writer",
    "read_only",
    "last_error",
];

/// One backend, as the admin interfaces show it.
#[derive(Debug, Clone, Serialize)]
pub struct BackendRow {
    /// Name.
    pub name: String,
    /// host:port.
    pub address: String,
    /// `primary` or `replica` (as configured).
    pub role: &'static str,
    /// online, lagging, down, offline, draining.
    pub state: &'static str,
    /// Read weight.
    pub weight: u32,
    /// Lag limit.
    pub max_lag_ms: u64,
    /// Replication lag the monitor measured last (replicas).
    pub lag_ms: Option<u64>,
    /// GTID position the monitor read last.
    pub gtid: Option<String>,
    /// Connections held by sessions.
    pub conn_active: u64,
    /// Connections idle in the pool.
    pub conn_idle: u64,
    /// Requests sent.
    pub queries: u64,
    /// Of those, routed as reads.
    pub reads: u64,
    /// Of those, writes, transaction and session traffic.
    pub writes: u64,
    /// Backend or connection failures.
    pub errors: u64,
    /// Median response time.
    pub p50_ms: Option<f64>,
    /// 99th percentile response time.
    pub p99_ms: Option<f64>,
    /// Requests answered with an ERR packet.
    pub sql_errors: u64,
    /// Requests in flight now.
    pub outstanding: u64,
    /// Connections opened since start.
    pub connects: u64,
    /// True if it takes writes now.
    pub writer: bool,
    /// `@@read_only`, as the monitor saw it.
    pub read_only: Option<bool>,
    /// The monitor's last error for it.
    pub last_error: Option<String>,
    /// Response time histogram (not serialized; `/metrics` uses it).
    #[serde(skip)]
    pub latency: crate::replication::latency::LatencySnapshot,
}

fn ms(v: Option<f64>) -> Option<String> {
    v.map(|x| format!("{x:.3}"))
}

impl BackendRow {
    /// The row as `SHOW BACKENDS` text, in [`COLUMNS`] order.
    pub fn cells(&self) -> Vec<Option<String>> {
        let s = |v: &dyn ToString| Some(v.to_string());
        vec![
            s(&self.name),
            s(&self.address),
            s(&self.role),
            s(&self.state),
            s(&self.weight),
            s(&self.max_lag_ms),
            self.lag_ms.map(|v| v.to_string()),
            self.gtid.clone(),
            s(&self.conn_active),
            s(&self.conn_idle),
            s(&self.queries),
            s(&self.reads),
            s(&self.writes),
            s(&self.errors),
            ms(self.p50_ms),
            ms(self.p99_ms),
            s(&self.sql_errors),
            s(&self.outstanding),
            s(&self.connects),
            s(&if self.writer { "yes" } else { "no" }),
            self.read_only
                .map(|r| if r { "1" } else { "0" }.to_string()),
            self.last_error.clone(),
        ]
    }
}

/// Every backend, in config order.
pub fn rows(proxy: &Proxy) -> Vec<BackendRow> {
    let topo = proxy.topology.load();
    topo.backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let health = topo.health.get(i).cloned().unwrap_or_default();
            let idle = proxy.pool.idle_of(b) as u64;
            let open = b.open_conns.load(Ordering::Relaxed);
            let latency = b.latency.snapshot();
            let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
            BackendRow {
                name: b.name.to_string(),
                address: b.address.clone(),
                role: match b.role {
                    crate::config::Role::Primary => "primary",
                    crate::config::Role::Replica => "replica",
                },
                state: b.state().as_str(),
                weight: b.weight(),
                max_lag_ms: b.max_lag_ms(),
                lag_ms: health.lag_ms,
                gtid: health.gtid,
                conn_active: open.saturating_sub(idle),
                conn_idle: idle,
                queries: b.requests(),
                reads: get(&b.reads),
                writes: get(&b.writes),
                errors: get(&b.errors),
                p50_ms: latency.quantile_ms(0.5),
                p99_ms: latency.quantile_ms(0.99),
                sql_errors: get(&b.sql_errors),
                outstanding: get(&b.outstanding),
                connects: get(&b.connects),
                writer: topo.is_writer(b),
                read_only: health.read_only,
                last_error: health.error,
                latency,
            }
        })
        .collect()
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// No backend of that name.
    #[error("no backend named '{0}' (SHOW BACKENDS lists them)")]
    Unknown(String),
    /// Nothing to change.
    #[error("nothing to change: set weight, max_lag_ms or state")]
    Empty,
}

/// Applies `change` to the backends named `names` (all of them must exist); returns how
/// many were changed. `who` names the requester in the log line.
pub fn apply(
    proxy: &Proxy,
    names: &[String],
    change: &BackendChange,
    who: &str,
) -> Result<usize, ChangeError> {
    if change == &BackendChange::default() {
        return Err(ChangeError::Empty);
    }
    let topo = proxy.topology.load();
    let targets: Vec<(usize, &Arc<Backend>)> = names
        .iter()
        .map(|n| {
            topo.backends
                .iter()
                .enumerate()
                .find(|(_, b)| *b.name == **n)
                .ok_or_else(|| ChangeError::Unknown(n.clone()))
        })
        .collect::<Result<_, _>>()?;
    for (i, b) in &targets {
        if let Some(w) = change.weight {
            let before = b.weight.swap(w, Ordering::Relaxed);
            tracing::info!(backend = %b.name, before, after = w, by = who, "{} weight {before} -> {w} (admin)", b.name);
        }
        if let Some(m) = change.max_lag_ms {
            let before = b.max_lag_ms.swap(m, Ordering::Relaxed);
            tracing::info!(backend = %b.name, before, after = m, by = who, "{} max_lag_ms {before} -> {m} (admin)", b.name);
        }
        if let Some(state) = change.state {
            set_state(proxy, b, state, topo.health.get(*i), who);
        }
    }
    Ok(targets.len())
}

/// Sets an admin state. `Online` hands the backend back to the monitor: it becomes
/// what the monitor's last look says (Down after a failed probe, Lagging above its lag
/// limit, else Online) and the monitor moves it from there.
pub fn set_state(
    proxy: &Proxy,
    b: &Backend,
    state: BackendState,
    health: Option<&crate::replication::Health>,
    who: &str,
) {
    let target = match state {
        BackendState::Online => monitor_view(b, health),
        other => other,
    };
    let before = b.state();
    if before == target {
        return;
    }
    b.set_state(target);
    if target == BackendState::Offline {
        proxy.pool.close_idle(&b.name);
    }
    tracing::warn!(
        backend = %b.name,
        from = before.as_str(),
        to = target.as_str(),
        cause = %format!("set by the admin ({who})"),
        "{} {}: set by the admin ({who})",
        b.name,
        target.as_str()
    );
}

/// What the monitor's last probe says about `b`, leaving Offline/Draining.
fn monitor_view(b: &Backend, health: Option<&crate::replication::Health>) -> BackendState {
    match health {
        Some(h) if h.error.is_some() && h.lag_ms.is_none() && h.read_only.is_none() => {
            BackendState::Down
        }
        Some(h) if h.lag_ms.is_some_and(|lag| lag > b.max_lag_ms()) => BackendState::Lagging,
        _ => BackendState::Online,
    }
}
