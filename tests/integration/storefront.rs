//! The storefront through the proxy on the real cluster: the schema and generated data
//! load (and reload) through rwproxy, and `rwproxy bench` (the real binary) runs the
//! workload with zero errors and zero stale reads under read-your-writes, commits
//! checkouts, and its reads reach the replicas by their own Com_select counters.

use crate::harness::{caught_up, direct_opts, env, node_sql, proxy_opts};
use mysql_async::prelude::*;
use rwproxy::storefront::{prepare, LoadOptions, Sizes};
use std::process::Command;

fn tiny() -> LoadOptions {
    LoadOptions {
        scale: 0.01,
        progress: false,
        ..LoadOptions::default()
    }
}

async fn count(db: &str, table: &str) -> u64 {
    let mut c = mysql_async::Conn::new(direct_opts("app", "app", Some(db)))
        .await
        .expect("connect to the primary");
    let n: Option<u64> = c
        .query_first(format!("SELECT COUNT(*) FROM {table}"))
        .await
        .expect("count");
    let _ = c.disconnect().await;
    n.unwrap_or(0)
}

/// Com_select of every server, primary first, read by the servers themselves.
fn com_select() -> Vec<u64> {
    let e = env();
    e.cluster
        .nodes
        .iter()
        .map(|n| {
            node_sql(
                &e.cluster,
                &n.name,
                "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                 WHERE VARIABLE_NAME = 'COM_SELECT'",
            )
            .trim()
            .parse()
            .expect("Com_select")
        })
        .collect()
}

/// Runs the real `rwproxy bench` against the shared proxy with `args`; returns its JSON.
fn bench(db: &str, args: &[&str]) -> serde_json::Value {
    let port = env().proxy_port.to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_rwproxy"))
        .args([
            "--log-level",
            "warn",
            "bench",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
        ])
        .args([
            "--user",
            "app",
            "--password",
            "app",
            "--database",
            db,
            "--json",
            "--quiet",
        ])
        .args(args)
        .output()
        .expect("run rwproxy bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rwproxy bench failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"))
}

fn num(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` missing or not a count in {v}"))
}

#[tokio::test]
async fn loads_through_the_proxy_and_reloads_cleanly() {
    let db = "sf_load";
    let sizes = prepare(proxy_opts("app", "app", None), db, &tiny())
        .await
        .expect("first load");
    assert_eq!(sizes, Sizes::at(0.01));
    // Loading again drops and recreates: same counts, no duplicate-key errors.
    prepare(proxy_opts("app", "app", None), db, &tiny())
        .await
        .expect("second load");
    assert_eq!(count(db, "products").await, sizes.products);
    assert_eq!(count(db, "inventory").await, sizes.products);
    assert_eq!(count(db, "customers").await, sizes.customers);
    assert_eq!(count(db, "orders").await, sizes.orders);
    assert_eq!(count(db, "payments").await, sizes.orders);
    assert!(count(db, "addresses").await >= sizes.customers);
    assert!(count(db, "order_items").await >= sizes.orders);
    // Every table replicated, with its foreign keys.
    caught_up().await;
    let e = env();
    let fks = node_sql(
        &e.cluster,
        "replica2",
        &format!(
            "SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS \
             WHERE CONSTRAINT_SCHEMA = '{db}'"
        ),
    );
    assert_eq!(fks.trim(), "11", "foreign keys on the replica");
    let utf8 = node_sql(
        &e.cluster,
        "replica1",
        &format!("SELECT COUNT(*) FROM {db}.customers WHERE full_name LIKE '%ö%'"),
    );
    assert!(
        utf8.trim().parse::<u64>().unwrap_or(0) > 0,
        "non-ASCII names survive"
    );
}

#[tokio::test]
async fn bench_through_the_proxy_reads_its_writes_and_reads_on_replicas() {
    let db = "sf_bench";
    prepare(proxy_opts("app", "app", None), db, &tiny())
        .await
        .expect("load");
    let orders_before = count(db, "orders").await;
    caught_up().await;
    let before = com_select();
    let report = bench(db, &["--concurrency", "4", "--duration", "5"]);
    let after = com_select();
    assert_eq!(report["mode"], "closed");
    assert_eq!(
        num(&report, "errors"),
        0,
        "errors: {}",
        report["errors_by_code"]
    );
    assert_eq!(num(&report, "stale_reads"), 0, "read-your-writes: {report}");
    let checkouts = num(&report, "checkouts");
    assert!(checkouts > 0, "no checkout committed: {report}");
    assert!(report["qps"].as_f64().unwrap_or(0.0) > 0.0);
    for action in [
        "home",
        "category",
        "product",
        "search",
        "add_to_cart",
        "checkout",
        "history",
    ] {
        assert!(
            report["actions"][action]["count"].as_u64().unwrap_or(0) > 0,
            "no {action} in {report}"
        );
        assert!(report["actions"][action]["p99_ms"].as_f64().is_some());
    }
    // The committed orders are on the primary.
    assert_eq!(count(db, "orders").await, orders_before + checkouts);
    // The replicas ran the reads, by their own counters (the monitor adds a few a second;
    // the workload's reads are hundreds at least).
    let statements = num(&report, "statements");
    for (i, (b, a)) in before.iter().zip(&after).enumerate().skip(1) {
        assert!(
            a - b > statements / 10,
            "replica{i}: Com_select grew by {} of {statements} statements",
            a - b
        );
    }
}

#[tokio::test]
async fn open_loop_keeps_its_schedule_without_errors() {
    let db = "sf_open";
    prepare(proxy_opts("app", "app", None), db, &tiny())
        .await
        .expect("load");
    let report = bench(db, &["--rate", "100", "--duration", "3"]);
    assert_eq!(report["mode"], "open");
    assert_eq!(
        num(&report, "errors"),
        0,
        "errors: {}",
        report["errors_by_code"]
    );
    assert_eq!(num(&report, "stale_reads"), 0);
    // ~300 arrivals due; each is run or counted as dropped.
    let ran = report["all"]["count"].as_u64().unwrap_or(0) + num(&report, "dropped");
    assert!((250..=301).contains(&ran), "{ran} arrivals in {report}");
}

#[test]
fn setup_failures_exit_non_zero_with_a_reason() {
    let port = env().proxy_port.to_string();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rwproxy"))
            .args(["bench", "--port", &port, "--duration", "1", "--quiet"])
            .args(args)
            .output()
            .expect("run rwproxy bench")
    };
    let out = run(&["--database", "sf_never_loaded"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--prepare"), "{err}");
    let closed = crate::harness::free_port().to_string();
    let out = run(&[
        "--database",
        "sf_never_loaded",
        "--admin",
        &format!("127.0.0.1:{closed}"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("admin port"), "{err}");
}
