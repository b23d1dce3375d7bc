//! `/metrics`: the proxy's counters in the OpenMetrics text format (which Prometheus
//! scrapes), encoded by the `prometheus-client` crate from a collector that reads the
//! atomics at scrape time — nothing is recorded twice, and each proxy in a process has
//! its own registry.
//!
//! Families (all prefixed `rwproxy_`): per backend `backend_requests_total{kind}`,
//! `backend_errors_total{type}`, `backend_latency_seconds` (histogram),
//! `backend_lag_seconds`, `backend_state{state}`, `backend_weight`,
//! `backend_connections{state}`, `backend_outstanding`, `backend_writer`; proxy-wide
//! `client_connections`, `clients_accepted_total`, `client_auth_failures_total`,
//! `clients_refused_host_blocked_total`, `clients_refused_user_limit_total`,
//! `hosts_blocked`,
//! `routes_total{reason,dest}`, `pins_total{reason}`, `fallbacks_total`,
//! `retries_total`, `causal_reads_total{outcome}`, `unknown_statements_total`,
//! `uptime_seconds`, `ready`.

use crate::router::session::Pin;
use crate::server::Proxy;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Reads a proxy's counters at scrape time.
#[derive(Clone)]
struct ProxyCollector(Arc<Proxy>);

impl std::fmt::Debug for ProxyCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyCollector")
    }
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, u64)],
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in series {
        if labels.is_empty() {
            // No `{}`: an empty family label set would be written as braces.
            return ConstCounter::new(*v).encode(m);
        }
        ConstCounter::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

fn gauge(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: &[(Labels, f64)],
) -> std::fmt::Result {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in series {
        if labels.is_empty() {
            return ConstGauge::new(*v).encode(m);
        }
        ConstGauge::new(*v).encode(m.encode_family(labels)?)?;
    }
    Ok(())
}

impl Collector for ProxyCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let p = &self.0;
        backends(p, &mut e)?;
        let stats = &p.route_stats;
        let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let reasons = p.route_reasons.snapshot();
        let mut routes: Vec<(Labels, u64)> = Vec::new();
        for r in &reasons {
            routes.push((
                vec![("reason", r.reason.as_str()), ("dest", "primary")],
                r.to_primary,
            ));
            routes.push((
                vec![("reason", r.reason.as_str()), ("dest", "replica")],
                r.to_replica,
            ));
        }
        counter(
            &mut e,
            "rwproxy_routes",
            "Statements routed, by reason and destination",
            &routes,
        )?;
        let pins: Vec<(Labels, u64)> = Pin::ALL
            .iter()
            .map(|&pin| {
                (
                    vec![("reason", pin.as_str())],
                    get(&stats.pins[pin as usize]),
                )
            })
            .collect();
        counter(
            &mut e,
            "rwproxy_pins",
            "Sessions pinned to the primary, by reason",
            &pins,
        )?;
        let one = |v: u64| vec![(Labels::new(), v)];
        counter(
            &mut e,
            "rwproxy_fallbacks",
            "Reads sent to the primary because no replica qualified",
            &one(get(&stats.fallbacks)),
        )?;
        counter(
            &mut e,
            "rwproxy_retries",
            "Reads retried on another backend",
            &one(get(&stats.retries)),
        )?;
        counter(
            &mut e,
            "rwproxy_unknown_statements",
            "Statements the classifier could not place (sent to the primary)",
            &one(get(&stats.unknown)),
        )?;
        let causal = [
            (vec![("outcome", "waited")], get(&stats.causal_waits)),
            (vec![("outcome", "timed_out")], get(&stats.causal_timeouts)),
            (vec![("outcome", "skipped")], get(&stats.causal_skips)),
        ];
        counter(
            &mut e,
            "rwproxy_causal_reads",
            "Read-your-writes checks: replica waits, their timeouts, waits skipped",
            &causal,
        )?;
        let c = &p.clients;
        gauge(
            &mut e,
            "rwproxy_client_connections",
            "Client sessions open now",
            &[(vec![], p.sessions.len() as f64)],
        )?;
        counter(
            &mut e,
            "rwproxy_clients_accepted",
            "Client connections accepted",
            &one(get(&c.accepted)),
        )?;
        counter(
            &mut e,
            "rwproxy_client_auth_failures",
            "Client logins refused (access denied)",
            &one(get(&c.auth_failures)),
        )?;
        counter(
            &mut e,
            "rwproxy_clients_refused_too_many",
            "Client connections refused with ERR 1040 (max_client_connections)",
            &one(get(&c.too_many)),
        )?;
        counter(
            &mut e,
            "rwproxy_clients_refused_host_blocked",
            "Client connections refused with ERR 1129 (max_connect_errors)",
            &one(get(&p.connect_errors.refused)),
        )?;
        counter(
            &mut e,
            "rwproxy_clients_refused_user_limit",
            "Client logins refused with ERR 1203 (a user's max_connections)",
            &one(get(&p.user_sessions.refused)),
        )?;
        gauge(
            &mut e,
            "rwproxy_hosts_blocked",
            "Client addresses blocked now by max_connect_errors",
            &[(
                vec![],
                p.connect_errors
                    .blocked(p.config.load().proxy.max_connect_errors) as f64,
            )],
        )?;
        gauge(
            &mut e,
            "rwproxy_uptime_seconds",
            "Seconds since start",
            &[(vec![], p.started.elapsed().as_secs_f64())],
        )?;
        let ready = super::http::readiness(p).is_ok();
        gauge(
            &mut e,
            "rwproxy_ready",
            "1 when a writable primary is known and the listener is up",
            &[(vec![], f64::from(u8::from(ready)))],
        )?;
        Ok(())
    }
}

/// The per-backend families.
fn backends(p: &Proxy, e: &mut DescriptorEncoder) -> std::fmt::Result {
    let rows = super::backends::rows(p);
    let mut req = Vec::new();
    let mut err = Vec::new();
    let mut lag = Vec::new();
    let mut state = Vec::new();
    let mut weight = Vec::new();
    let mut conns = Vec::new();
    let mut outstanding = Vec::new();
    let mut writer = Vec::new();
    const STATES: [&str; 5] = ["online", "lagging", "down", "offline", "draining"];
    for r in &rows {
        let b = r.name.as_str();
        req.push((vec![("backend", b), ("kind", "read")], r.reads));
        req.push((vec![("backend", b), ("kind", "write")], r.writes));
        err.push((vec![("backend", b), ("type", "backend")], r.errors));
        err.push((vec![("backend", b), ("type", "sql")], r.sql_errors));
        if let Some(l) = r.lag_ms {
            lag.push((vec![("backend", b)], l as f64 / 1000.0));
        }
        for s in STATES {
            state.push((
                vec![("backend", b), ("state", s)],
                f64::from(u8::from(r.state == s)),
            ));
        }
        weight.push((vec![("backend", b)], f64::from(r.weight)));
        conns.push((
            vec![("backend", b), ("state", "active")],
            r.conn_active as f64,
        ));
        conns.push((vec![("backend", b), ("state", "idle")], r.conn_idle as f64));
        outstanding.push((vec![("backend", b)], r.outstanding as f64));
        writer.push((vec![("backend", b)], f64::from(u8::from(r.writer))));
    }
    counter(
        e,
        "rwproxy_backend_requests",
        "Requests sent to the backend, routed as reads or as writes/transaction/session traffic",
        &req,
    )?;
    counter(
        e,
        "rwproxy_backend_errors",
        "Requests that failed: backend/connection failures, or ERR answers",
        &err,
    )?;
    let mut m = e.encode_descriptor(
        "rwproxy_backend_latency_seconds",
        "Backend response time",
        None,
        MetricType::Histogram,
    )?;
    for r in &rows {
        let cumulative = r.latency.prometheus_buckets();
        let mut buckets = Vec::with_capacity(cumulative.len() + 1);
        let mut below = 0;
        for (le, n) in cumulative {
            buckets.push((le, n - below));
            below = n;
        }
        // f64::MAX is how prometheus-client writes `+Inf`.
        buckets.push((f64::MAX, r.latency.count - below));
        let labels: Labels = vec![("backend", r.name.as_str())];
        let mut f = m.encode_family(&labels)?;
        let sum = r.latency.sum_us as f64 / 1e6;
        f.encode_histogram::<NoLabelSet>(sum, r.latency.count, &buckets, None)?;
    }
    gauge(
        e,
        "rwproxy_backend_lag_seconds",
        "Replication lag the monitor measured last",
        &lag,
    )?;
    gauge(
        e,
        "rwproxy_backend_state",
        "1 for the backend's current state",
        &state,
    )?;
    gauge(e, "rwproxy_backend_weight", "Read weight", &weight)?;
    gauge(
        e,
        "rwproxy_backend_connections",
        "Backend connections held by sessions (active) or pooled (idle)",
        &conns,
    )?;
    gauge(
        e,
        "rwproxy_backend_outstanding",
        "Requests in flight",
        &outstanding,
    )?;
    gauge(
        e,
        "rwproxy_backend_writer",
        "1 for the backend that takes writes now",
        &writer,
    )?;
    Ok(())
}

/// The proxy's metrics as OpenMetrics text.
pub fn render(proxy: &Arc<Proxy>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ProxyCollector(proxy.clone())));
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        tracing::warn!(error = %e, "encoding /metrics failed");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "[[users]]\nname = \"a\"\npassword = \"a\"\n\
        [[backends]]\nname = \"p\"\naddress = \"127.0.0.1:1\"\nrole = \"primary\"\n\
        [[backends]]\nname = \"r\"\naddress = \"127.0.0.1:2\"\nrole = \"replica\"\n";

    #[test]
    fn renders_every_family_the_dashboard_uses() {
        let config = crate::config::Config::parse(CONFIG, std::path::Path::new("t.toml")).unwrap();
        let proxy = Proxy::new(config).unwrap();
        let r = proxy.topology.load().backends[1].clone();
        let f = r.begin_request(crate::replication::RequestKind::Read);
        f.finish();
        proxy.route_reasons.count("read", false);
        let text = render(&proxy);
        assert!(
            text.contains("rwproxy_backend_requests_total{backend=\"r\",kind=\"read\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("rwproxy_backend_latency_seconds_bucket{le=\"+Inf\",backend=\"r\"} 1")
                || text.contains(
                    "rwproxy_backend_latency_seconds_bucket{backend=\"r\",le=\"+Inf\"} 1"
                ),
            "{text}"
        );
        assert!(text.contains("rwproxy_client_connections 0"), "{text}");
        assert!(text.ends_with("# EOF\n"));
        let dashboard = include_str!("../../docker/grafana/dashboards/rwproxy.json");
        let names = regex::Regex::new(r"rwproxy_[a-z_]+").unwrap();
        for m in names.find_iter(dashboard) {
            let name = m.as_str();
            let family = name.trim_end_matches("_bucket");
            assert!(
                text.contains(family),
                "dashboard uses {name}, /metrics has no {family}"
            );
        }
    }
}
