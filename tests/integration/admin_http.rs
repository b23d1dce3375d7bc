//! The HTTP admin endpoint: `/metrics` read by a Prometheus text parser, with values
//! that move when traffic flows; health; the JSON API and its credentials; SIGHUP
//! reloads the real binary's config.

use crate::admin_util::{admin, http, table};
use crate::harness::{env, fresh_schema, inproc_proxy, proxy_opts};
use mysql_async::prelude::*;
use std::time::{Duration, Instant};

/// The value of the sample `name` whose labels include all of `labels`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

fn scrape(port: u16) -> prometheus_parse::Scrape {
    let (status, body) = http(port, "GET", "/metrics", None, None);
    assert_eq!(status, 200, "{body}");
    let lines = body.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("Prometheus text parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_traffic() {
    let db = fresh_schema("adm_metrics").await;
    let p = inproc_proxy(|t| t).await;
    let opts: mysql_async::Opts =
        mysql_async::OptsBuilder::from_opts(proxy_opts("app", "app", Some(&db)))
            .tcp_port(p.port)
            .into();
    let mut c = mysql_async::Conn::new(opts).await.unwrap();
    c.query_drop("CREATE TABLE m (id INT PRIMARY KEY)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO m VALUES (1), (2)").await.unwrap();
    crate::harness::caught_up().await;
    let before = scrape(p.http_port);
    let reads = |s: &prometheus_parse::Scrape| {
        ["replica1", "replica2"]
            .iter()
            .map(|b| {
                sample(
                    s,
                    "rwproxy_backend_requests_total",
                    &[("backend", b), ("kind", "read")],
                )
                .unwrap_or(0.0)
            })
            .sum::<f64>()
    };
    for _ in 0..30 {
        let _: Option<i64> = c
            .query_first("SELECT id FROM m WHERE id = 2")
            .await
            .unwrap();
    }
    let after = scrape(p.http_port);
    assert_eq!(reads(&after) - reads(&before), 30.0);
    let writes = |s: &prometheus_parse::Scrape| {
        sample(
            s,
            "rwproxy_backend_requests_total",
            &[("backend", "primary"), ("kind", "write")],
        )
        .unwrap_or(0.0)
    };
    assert!(writes(&after) >= 2.0);
    assert_eq!(
        sample(&after, "rwproxy_client_connections", &[]),
        Some(1.0),
        "one client session"
    );
    assert_eq!(
        sample(
            &after,
            "rwproxy_backend_state",
            &[("backend", "replica1"), ("state", "online")]
        ),
        Some(1.0)
    );
    let routed = sample(
        &after,
        "rwproxy_routes_total",
        &[("reason", "read"), ("dest", "replica")],
    );
    assert!(routed.unwrap_or(0.0) >= 30.0, "{routed:?}");
    let latency = after.samples.iter().find(|s| {
        s.metric == "rwproxy_backend_latency_seconds" && s.labels.get("backend") == Some("replica1")
    });
    assert!(latency.is_some(), "latency histogram present");
    // The monitor's lag reaches the gauge once it has probed the replica.
    let started = Instant::now();
    while sample(
        &scrape(p.http_port),
        "rwproxy_backend_lag_seconds",
        &[("backend", "replica1")],
    )
    .is_none()
    {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no lag gauge for replica1"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_backend_api() {
    let p = inproc_proxy(|t| t).await;
    assert_eq!(http(p.http_port, "GET", "/health/live", None, None).0, 200);
    let (status, body) = http(p.http_port, "GET", "/health/ready", None, None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(p.http_port, "GET", "/api/backends", None, None);
    assert_eq!(status, 200);
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(3), "{body}");
    let put = r#"{"weight": 7, "max_lag_ms": 300}"#;
    let (status, _) = http(
        p.http_port,
        "PUT",
        "/api/backends/replica2",
        Some(put),
        None,
    );
    assert_eq!(status, 401, "PUT needs the admin credentials");
    let (status, _) = http(
        p.http_port,
        "PUT",
        "/api/backends/replica2",
        Some(put),
        Some("admin:nope"),
    );
    assert_eq!(status, 401);
    let (status, body) = http(
        p.http_port,
        "PUT",
        "/api/backends/replica2",
        Some(put),
        Some("admin:admin"),
    );
    assert_eq!(status, 200, "{body}");
    let row: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(row["weight"], 7);
    let shown = table(&admin(p.admin_port, "SHOW BACKENDS"));
    assert!(shown
        .iter()
        .any(|r| r["name"] == "replica2" && r["max_lag_ms"] == "300"));
    let (status, _) = http(
        p.http_port,
        "PUT",
        "/api/backends/nope",
        Some(put),
        Some("admin:admin"),
    );
    assert_eq!(status, 404);
    let (status, body) = http(
        p.http_port,
        "PUT",
        "/api/backends/replica2",
        Some(r#"{"state": "sleepy"}"#),
        Some("admin:admin"),
    );
    assert_eq!(status, 400, "{body}");
    // Primary offline: no writable primary, not ready.
    admin(
        p.admin_port,
        "UPDATE backends SET state = 'offline' WHERE name = 'primary'",
    );
    let (status, body) = http(p.http_port, "GET", "/health/ready", None, None);
    assert_eq!(status, 503, "{body}");
    admin(
        p.admin_port,
        "UPDATE backends SET state = 'online' WHERE name = 'primary'",
    );
    assert_eq!(http(p.http_port, "GET", "/health/ready", None, None).0, 200);
}

/// SIGHUP makes the real binary reload its (unchanged) file.
#[test]
fn sighup_reloads_the_config() {
    let e = env();
    let reloads = || {
        table(&admin(e.admin_port, "SHOW STATS"))
            .into_iter()
            .find(|r| r["name"] == "config_reloads")
            .map(|r| r["value"].parse::<u64>().unwrap())
            .unwrap()
    };
    let before = reloads();
    let pid = crate::harness::proxy_pid();
    // SAFETY: kill(2) on the pid of the proxy this test binary started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGHUP) }, 0);
    let started = Instant::now();
    while reloads() == before {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no reload after SIGHUP"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
