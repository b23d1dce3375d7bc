//! Proxy-wide figures for `SHOW STATS` and `/metrics`: client connections, requests and
//! their rate, routing counters (to primary / replica, fallbacks, retries, causal
//! waits, skips and timeouts, pins by reason) and routes by reason.

use crate::server::Proxy;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Requests sent to any backend since start.
pub fn requests_total(proxy: &Proxy) -> u64 {
    proxy
        .topology
        .load()
        .backends
        .iter()
        .map(|b| b.requests())
        .sum()
}

/// Requests per second over the last second or so: the rate between the previous
/// sample and now, re-sampled at most once a second (so any caller's view is fresh
/// without a background task).
pub fn qps(proxy: &Proxy) -> f64 {
    let now = Instant::now();
    let total = requests_total(proxy);
    let mut s = proxy.qps_sample.lock().unwrap_or_else(|e| e.into_inner());
    let (at, before, rate) = *s;
    let elapsed = now.duration_since(at);
    if elapsed < Duration::from_millis(1000) {
        return rate;
    }
    let rate = total.saturating_sub(before) as f64 / elapsed.as_secs_f64();
    *s = (now, total, rate);
    rate
}

/// `SHOW STATS` as (name, value) pairs.
pub fn rows(proxy: &Proxy) -> Vec<(String, String)> {
    let c = &proxy.clients;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed).to_string();
    let mut v: Vec<(String, String)> = vec![
        (
            "uptime_s".into(),
            proxy.started.elapsed().as_secs().to_string(),
        ),
        ("clients_connected".into(), proxy.sessions.len().to_string()),
        ("clients_accepted".into(), get(&c.accepted)),
        ("client_auth_failures".into(), get(&c.auth_failures)),
        ("client_handshake_errors".into(), get(&c.handshake_errors)),
        ("client_too_many".into(), get(&c.too_many)),
        (
            "client_host_blocked".into(),
            get(&proxy.connect_errors.refused),
        ),
        (
            "hosts_blocked".into(),
            proxy
                .connect_errors
                .blocked(proxy.config.load().proxy.max_connect_errors)
                .to_string(),
        ),
        (
            "client_user_limit".into(),
            get(&proxy.user_sessions.refused),
        ),
        ("requests_total".into(), requests_total(proxy).to_string()),
        ("qps".into(), format!("{:.1}", qps(proxy))),
        ("config_reloads".into(), get(&proxy.reloads)),
        ("config_reload_failures".into(), get(&proxy.reload_failures)),
    ];
    // Totals to primary / replica are the sums of the per-reason counts (the statement
    // path counts each request once, by reason).
    let reasons = proxy.route_reasons.snapshot();
    let to_primary: u64 = reasons.iter().map(|r| r.to_primary).sum();
    let to_replica: u64 = reasons.iter().map(|r| r.to_replica).sum();
    v.push(("to_primary".into(), to_primary.to_string()));
    v.push(("to_replica".into(), to_replica.to_string()));
    v.extend(
        proxy
            .route_stats
            .snapshot()
            .into_iter()
            .map(|(k, n)| (k, n.to_string())),
    );
    for r in reasons {
        v.push((
            format!("route.{}.primary", r.reason),
            r.to_primary.to_string(),
        ));
        v.push((
            format!("route.{}.replica", r.reason),
            r.to_replica.to_string(),
        ));
    }
    v
}
