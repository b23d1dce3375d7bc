//! Hot reload (`SIGHUP`, `RELOAD CONFIG`): read the file the proxy started from,
//! validate it completely, then apply it without dropping sessions.
//!
//! Semantics (as ProxySQL's `LOAD … FROM CONFIG` and MaxScale's reload): the file
//! wins. Every backend's weight, max_lag_ms and admin state become what the file says,
//! so runtime changes not written with `SAVE CONFIG` are undone. A backend whose
//! name, address and role are unchanged keeps its counters, health and connections; a
//! new name is added; a removed name, or one whose address or role changed, is retired
//! (sessions finish what they run there, its idle connections close, the replacement
//! starts fresh). Users, rules, `[proxy]` limits, `[admin]` slow_ms/digests/credentials
//! and `[monitor]` take effect at once (limits read at session start apply to new
//! sessions). New backend TLS settings apply to new backend connections; idle ones are
//! closed. Listener addresses and TLS files need a restart: the report says so.
//! An invalid file changes nothing and the error names the key.

use crate::config::{AdminState, Config};
use crate::replication::{Backend, BackendState, Topology};
use crate::server::Proxy;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Why a reload (or save) did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The proxy was not started from a file.
    #[error("no config file to reload: this proxy was not started with --config")]
    NoFile,
    /// The file is invalid; nothing changed.
    #[error("config not reloaded, the running config is unchanged: {0}")]
    Invalid(#[from] crate::config::ConfigError),
    /// Reading or writing the file failed.
    #[error("{0}")]
    Io(String),
}

/// What a reload changed.
#[derive(Debug, Default, Clone)]
pub struct ReloadReport {
    /// One line per change applied.
    pub changes: Vec<String>,
    /// Keys that changed but take effect only after a restart.
    pub restart_needed: Vec<String>,
}

/// The topology state an admin state in the file asks for.
pub fn backend_state(s: AdminState) -> BackendState {
    match s {
        AdminState::Online => BackendState::Online,
        AdminState::Offline => BackendState::Offline,
        AdminState::Draining => BackendState::Draining,
    }
}

/// Reloads from the proxy's config file; logs the outcome. For `SIGHUP`.
pub async fn reload_logged(proxy: &Proxy, why: &str) {
    match reload(proxy).await {
        Ok(r) => tracing::warn!(
            trigger = why,
            changes = %r.changes.join("; "),
            restart_needed = %r.restart_needed.join(", "),
            "config reloaded"
        ),
        Err(e) => tracing::error!(trigger = why, error = %e, "config reload refused"),
    }
}

/// Reloads from the proxy's config file.
pub async fn reload(proxy: &Proxy) -> Result<ReloadReport, ReloadError> {
    let _one = proxy.reload_lock.lock().await;
    let path = proxy.config_path.as_ref().ok_or(ReloadError::NoFile)?;
    let outcome = Config::load(path)
        .map_err(ReloadError::from)
        .and_then(|new| apply(proxy, new));
    let counter = match outcome {
        Ok(_) => &proxy.reloads,
        Err(_) => &proxy.reload_failures,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    outcome
}

/// Applies a validated config to the running proxy.
pub fn apply(proxy: &Proxy, new: Config) -> Result<ReloadReport, ReloadError> {
    let rules = crate::router::rules::Rules::compile(&new.rules).map_err(|(k, r)| {
        ReloadError::Invalid(crate::config::ConfigError::Invalid {
            file: proxy.config_path.clone().unwrap_or_default(),
            key: k,
            reason: r,
        })
    })?;
    let old = proxy.config.load_full();
    let tls_settings = new.proxy.backend_tls_settings();
    // Built before anything changes: an unreadable CA file refuses the whole reload.
    let backend_tls = (old.proxy.backend_tls_settings() != tls_settings)
        .then(|| crate::pool::tls::BackendTls::from_settings(&tls_settings))
        .transpose()
        .map_err(|e| {
            ReloadError::Invalid(crate::config::ConfigError::Invalid {
                file: proxy.config_path.clone().unwrap_or_default(),
                key: "proxy.backend_tls_ca".into(),
                reason: e.to_string(),
            })
        })?;
    let mut report = ReloadReport::default();
    let restart = [
        ("proxy.listen", old.proxy.listen != new.proxy.listen),
        ("proxy.tls_cert", old.proxy.tls_cert != new.proxy.tls_cert),
        ("proxy.tls_key", old.proxy.tls_key != new.proxy.tls_key),
        ("proxy.workers", old.proxy.workers != new.proxy.workers),
        ("admin.listen", old.admin.listen != new.admin.listen),
        ("admin.http", old.admin.http != new.admin.http),
    ];
    report.restart_needed = restart
        .iter()
        .filter(|(_, changed)| *changed)
        .map(|(k, _)| k.to_string())
        .collect();
    apply_backends(proxy, &new, &mut report);
    proxy.pool.set_idle_timeout(new.proxy.pool_idle_timeout_ms);
    proxy.pool.set_reset_timeout(new.proxy.connect_timeout_ms);
    if let Some(tls) = backend_tls {
        // Idle connections were made under the old settings: none is reused.
        proxy.pool.set_tls(tls);
        for b in &new.backends {
            proxy.pool.close_idle(&b.name);
        }
        report
            .changes
            .push(format!("backend_tls {:?}", tls_settings.mode).to_lowercase());
    }
    let users = new
        .users
        .iter()
        .map(|u| {
            let secret = crate::protocol::auth::Secret::from_config(&u.password);
            (u.name.clone(), secret)
        })
        .collect();
    let names = |c: &Config| c.users.iter().map(|u| u.name.clone()).collect::<Vec<_>>();
    if names(&old) != names(&new) {
        report
            .changes
            .push(format!("users: {}", names(&new).join(", ")));
    }
    proxy.users.store(Arc::new(users));
    if old.rules.len() != new.rules.len() {
        report.changes.push(format!("{} rule(s)", new.rules.len()));
    }
    proxy.rules.store(Arc::new(rules));
    proxy.slow_ms.store(new.admin.slow_ms, Ordering::Relaxed);
    proxy
        .digests
        .enabled
        .store(new.admin.digests, Ordering::Relaxed);
    proxy
        .digests
        .max
        .store(new.admin.max_digests, Ordering::Relaxed);
    if old.monitor != new.monitor {
        report.changes.push("monitor settings".into());
    }
    proxy.config.store(Arc::new(new));
    Ok(report)
}

/// Backends: keep unchanged ones (with their counters), retire removed or replaced
/// ones, add new ones; weights, lag limits, connection limits and admin states as the file says.
fn apply_backends(proxy: &Proxy, new: &Config, report: &mut ReloadReport) {
    let current = proxy.topology.load_full();
    let mut backends = Vec::with_capacity(new.backends.len());
    for c in &new.backends {
        let kept = current
            .get(&c.name)
            .filter(|b| b.address == c.address && b.role == c.role)
            .cloned();
        let b = match kept {
            Some(b) => {
                let w = b.weight.swap(c.weight, Ordering::Relaxed);
                if w != c.weight {
                    report
                        .changes
                        .push(format!("{} weight {w} -> {}", c.name, c.weight));
                }
                let m = b.max_lag_ms.swap(c.max_lag_ms, Ordering::Relaxed);
                if m != c.max_lag_ms {
                    report
                        .changes
                        .push(format!("{} max_lag_ms {m} -> {}", c.name, c.max_lag_ms));
                }
                let n = b.max_conns.swap(c.max_connections, Ordering::Relaxed);
                if n != c.max_connections {
                    // Waiters may now fit under a raised limit.
                    b.freed.notify_waiters();
                    report.changes.push(format!(
                        "{} max_connections {n} -> {}",
                        c.name, c.max_connections
                    ));
                }
                b
            }
            None => {
                let what = if current.get(&c.name).is_some() {
                    "replaced (address or role changed)"
                } else {
                    "added"
                };
                report.changes.push(format!("{} {what}", c.name));
                Arc::new(Backend::new(c))
            }
        };
        let admin_set = matches!(b.state(), BackendState::Offline | BackendState::Draining);
        let wanted = backend_state(c.state);
        if wanted != BackendState::Online || admin_set {
            let health = current
                .backends
                .iter()
                .position(|x| Arc::ptr_eq(x, &b))
                .and_then(|i| current.health.get(i));
            if b.state() != wanted && (wanted != BackendState::Online || admin_set) {
                report
                    .changes
                    .push(format!("{} state {}", c.name, wanted.as_str()));
            }
            super::backends::set_state(proxy, &b, wanted, health, "config reload");
        }
        backends.push(b);
    }
    for old in &current.backends {
        if !backends.iter().any(|b| Arc::ptr_eq(b, old)) {
            old.retired.store(true, Ordering::Relaxed);
            proxy.pool.close_idle(&old.name);
            if !new.backends.iter().any(|c| c.name == *old.name) {
                report.changes.push(format!("{} removed", old.name));
            }
        }
    }
    let slow_start_ms = new.monitor.slow_start_ms;
    proxy.topology.rcu(|cur| {
        let health = backends
            .iter()
            .map(|b| {
                cur.backends
                    .iter()
                    .position(|x| Arc::ptr_eq(x, b))
                    .and_then(|i| cur.health.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        Topology {
            backends: backends.clone(),
            health,
            slow_start_ms,
        }
    });
}
