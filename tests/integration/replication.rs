//! Lag-aware balancing, weights and read-your-writes on the real cluster, judged by the
//! servers' own per-table ROWS_READ counters.

pub use crate::harness::opts;
use crate::harness::{caught_up, direct_opts, env, fresh_schema, inproc_proxy, reads, rows_read};
use mysql_async::prelude::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// These tests change the shared replicas (stop, delay): one at a time.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A fresh schema `name` with a 100-row table `r`, on every server.
pub async fn setup(name: &str) -> String {
    let db = fresh_schema(name).await;
    let mut c = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    c.query_drop("CREATE TABLE r (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO r SELECT seq, seq FROM seq_1_to_100")
        .await
        .unwrap();
    c.disconnect().await.unwrap();
    caught_up().await;
    db
}

/// Driver options for user app on `port`, in schema `db`.
fn delta(before: &[u64], after: &[u64]) -> Vec<u64> {
    before.iter().zip(after).map(|(b, a)| a - b).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_gets_no_reads_until_it_catches_up() {
    let _serial = SERIAL.lock().await;
    let db = setup("repl_lag").await;
    let fast = |t: String| {
        t.replacen("[monitor]\n", "[monitor]\ninterval_ms = 100\n", 1)
            .replace("max_lag_ms = 1000", "max_lag_ms = 400")
    };
    let p = inproc_proxy(fast).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Stop replica1's SQL thread; the monitor's heartbeat keeps the primary writing.
    env().cluster.lag(1, 0).await.unwrap();
    let started = Instant::now();
    let replica1 = p.proxy.topology.load().get("replica1").cloned().unwrap();
    while replica1.state() != rwproxy::replication::BackendState::Lagging {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "replica1 never marked Lagging"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("lag start to exclusion: {:?}", started.elapsed());
    let before = rows_read(&db, "r");
    reads(p.port, &db, 200).await;
    let d = delta(&before, &rows_read(&db, "r"));
    assert_eq!(d[1], 0, "lagging replica1 got reads: {d:?}");
    assert!(d[2] >= 190, "replica2 took them: {d:?}");

    env().cluster.unlag(1).await.unwrap();
    let started = Instant::now();
    while replica1.state() != rwproxy::replication::BackendState::Online {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "replica1 never readmitted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = rows_read(&db, "r");
    reads(p.port, &db, 200).await;
    let d = delta(&before, &rows_read(&db, "r"));
    assert!(d[1] > 0, "readmitted replica1 serves reads again: {d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_spread_reads_and_change_at_runtime() {
    let _serial = SERIAL.lock().await;
    let db = setup("repl_weights").await;
    let weighted = |t: String| t.replacen("weight = 1", "weight = 3", 1);
    let p = inproc_proxy(weighted).await;
    let before = rows_read(&db, "r");
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(mysql_async::Conn::new(opts(p.port, &db)).await.unwrap());
    }
    let mut handles = Vec::new();
    for mut c in conns {
        handles.push(tokio::spawn(async move {
            for i in 0..2500 {
                let _: Option<i64> = c
                    .query_first(format!("SELECT v FROM r WHERE id = {}", i % 100 + 1))
                    .await
                    .unwrap();
            }
            c
        }));
    }
    let mut conns = Vec::new();
    for h in handles {
        conns.push(h.await.unwrap());
    }
    let d = delta(&before, &rows_read(&db, "r"));
    let share = d[1] as f64 / (d[1] + d[2]) as f64;
    eprintln!("weights 3:1 -> rows read {d:?}, replica1 share {share:.3}");
    assert!(d[1] + d[2] >= 9_900, "reads on replicas: {d:?}");
    assert!(
        (0.7125..=0.7875).contains(&share),
        "3:1 within ±5%: {share:.3} ({d:?})"
    );

    // Weight 0 at runtime: no reconnect, no more reads there.
    p.proxy
        .topology
        .load()
        .get("replica2")
        .unwrap()
        .weight
        .store(0, Ordering::Relaxed);
    let before = rows_read(&db, "r");
    for c in &mut conns {
        for i in 0..100 {
            let _: Option<i64> = c
                .query_first(format!("SELECT v FROM r WHERE id = {}", i + 1))
                .await
                .unwrap();
        }
    }
    let d = delta(&before, &rows_read(&db, "r"));
    assert_eq!(d[2], 0, "weight 0 gets nothing: {d:?}");
    assert!(d[1] >= 390, "{d:?}");
}

/// Inserts then reads back at once, `n` times; returns how many reads missed the row.
async fn insert_read_back(port: u16, db: &str, n: usize) -> usize {
    let mut c = mysql_async::Conn::new(opts(port, db)).await.unwrap();
    c.query_drop("CREATE TABLE IF NOT EXISTS w (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    let mut stale = 0;
    for i in 0..n {
        c.query_drop(format!("INSERT INTO w (v) VALUES ({i})"))
            .await
            .unwrap();
        let id = c.last_insert_id().unwrap_or(0);
        let v: Option<i64> = c
            .query_first(format!("SELECT v FROM w WHERE id = {id}"))
            .await
            .unwrap();
        stale += usize::from(v != Some(i as i64));
    }
    c.disconnect().await.unwrap();
    stale
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_with_delayed_replicas() {
    let _serial = SERIAL.lock().await;
    let db = setup("repl_ryw").await;
    // Replicas delayed by 1 s but within a generous lag limit, so they keep taking reads:
    // only read-your-writes stands between the session and stale data.
    let tolerant = |t: String| {
        t.replace("max_lag_ms = 1000", "max_lag_ms = 60000")
            .replacen("[proxy]\n", "[proxy]\ncausal_wait_ms = 5\n", 1)
    };
    let ryw = inproc_proxy(tolerant).await;
    let eventual = inproc_proxy(|t| {
        tolerant(t).replacen("[proxy]\n", "[proxy]\nconsistency = \"eventual\"\n", 1)
    })
    .await;
    env().cluster.lag(1, 1).await.unwrap();
    env().cluster.lag(2, 1).await.unwrap();
    let stale_ryw = insert_read_back(ryw.port, &db, 1000).await;
    let stats = &ryw.proxy.route_stats;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    // Each read learned its write's GTID from the committing OK (mysql_async does not
    // track session state: the proxy's backend connection did, and the client got OKs
    // without it), never by asking the primary.
    assert_eq!(get(&stats.causal_asks), 0, "positions asked for");
    assert!(
        get(&stats.causal_waits) + get(&stats.causal_skips) >= 1000,
        "every read after a write waited for (or was known past) that write"
    );
    let stale_eventual = insert_read_back(eventual.port, &db, 100).await;
    // Causality across connections: the writer's token, handed to an "eventual" reader.
    let mut writer = mysql_async::Conn::new(opts(ryw.port, &db)).await.unwrap();
    let mut reader = mysql_async::Conn::new(opts(eventual.port, &db))
        .await
        .unwrap();
    let mut stale_across = 0;
    for i in 0..50 {
        writer
            .query_drop(format!("INSERT INTO w (v) VALUES ({})", 10_000 + i))
            .await
            .unwrap();
        let token: Option<String> = writer
            .query_first("SELECT @@rwproxy_last_gtid")
            .await
            .unwrap()
            .flatten();
        let token = token.expect("a position after a write");
        let sql = format!(
            "/* rwproxy:after_gtid={token} */ SELECT COUNT(*) FROM w WHERE v = {}",
            10_000 + i
        );
        let n: i64 = reader.query_first(sql).await.unwrap().unwrap();
        stale_across += usize::from(n != 1);
    }
    writer.disconnect().await.unwrap();
    reader.disconnect().await.unwrap();
    assert_eq!(
        stale_across, 0,
        "after_gtid from @@rwproxy_last_gtid saw stale data"
    );
    env().cluster.unlag(1).await.unwrap();
    env().cluster.unlag(2).await.unwrap();
    eprintln!("stale reads: read-your-writes {stale_ryw}/1000, eventual {stale_eventual}/100");
    assert_eq!(stale_ryw, 0, "read-your-writes saw stale data");
    assert!(
        stale_eventual > 0,
        "eventual consistency on delayed replicas must show stale reads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn primary_reads_policy_when_no_replica_qualifies() {
    let _serial = SERIAL.lock().await;
    let db = setup("repl_primary_reads").await;
    let no_replicas = |t: String| t.replace("weight = 1", "weight = 0");
    let never = inproc_proxy(|t| {
        no_replicas(t).replacen("[proxy]\n", "[proxy]\nprimary_reads = \"never\"\n", 1)
    })
    .await;
    // The driver itself reads (@@max_allowed_packet…) while connecting, so the error may
    // come at connect time; either way it is the proxy's clear refusal.
    let outcome = match mysql_async::Conn::new(opts(never.port, &db)).await {
        Ok(mut c) => c.query_drop("SELECT v FROM r WHERE id = 1").await,
        Err(e) => Err(e),
    };
    match outcome {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 1105, "{e:?}");
            assert!(e.message.contains("primary_reads"), "{}", e.message);
        }
        other => panic!("expected a clear error, got {other:?}"),
    }

    let fallback = inproc_proxy(no_replicas).await;
    let before = rows_read(&db, "r");
    reads(fallback.port, &db, 50).await;
    let d = delta(&before, &rows_read(&db, "r"));
    assert_eq!(
        (d[0], d[1] + d[2]),
        (50, 0),
        "fallback reads on the primary: {d:?}"
    );
}

/// Makes `to` the primary the way an operator would: the old one turns read_only, `to`
/// catches up, stops replicating and turns writable, everyone else follows it.
async fn switchover(from: &str, to: &str) {
    let cluster = &env().cluster;
    crate::harness::node_sql(cluster, from, "SET GLOBAL read_only = 1");
    caught_up_to(from).await;
    crate::harness::node_sql(
        cluster,
        to,
        "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0",
    );
    let port = cluster
        .nodes
        .iter()
        .find(|n| n.name == to)
        .map(|n| n.port)
        .unwrap();
    for n in cluster.nodes.iter().filter(|n| n.name != to) {
        crate::harness::node_sql(
            cluster,
            &n.name,
            &format!(
                "STOP SLAVE; CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={port}, \
                 MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=current_pos, \
                 MASTER_CONNECT_RETRY=1; START SLAVE"
            ),
        );
    }
}

/// Waits until every other node has applied `source`'s binlog.
async fn caught_up_to(source: &str) {
    let cluster = &env().cluster;
    let pos = crate::harness::node_sql(cluster, source, "SELECT @@gtid_binlog_pos");
    for n in cluster.nodes.iter().filter(|n| n.name != source) {
        let r = crate::harness::node_sql(
            cluster,
            &n.name,
            &format!("SELECT MASTER_GTID_WAIT('{}', 30)", pos.trim()),
        );
        assert_eq!(r.trim(), "0", "{} did not catch up with {source}", n.name);
    }
}

/// Where a row with `v` is visible right now, straight from each server.
fn holders(db: &str, v: i64) -> Vec<bool> {
    let cluster = &env().cluster;
    cluster
        .nodes
        .iter()
        .map(|n| {
            crate::harness::node_sql(
                cluster,
                &n.name,
                &format!("SELECT COUNT(*) FROM {db}.w WHERE v = {v}"),
            )
            .trim()
                == "1"
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_follow_a_promoted_replica_without_a_restart() {
    let _serial = SERIAL.lock().await;
    let db = setup("repl_switch").await;
    let mut d = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    d.query_drop("CREATE TABLE w (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    d.disconnect().await.unwrap();
    caught_up().await;
    let p = inproc_proxy(|t| t.replacen("[monitor]\n", "[monitor]\ninterval_ms = 100\n", 1)).await;
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    c.query_drop("INSERT INTO w (v) VALUES (1)").await.unwrap();

    switchover("primary", "replica1").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let writer = p.proxy.topology.load().writer().map(|w| w.name.clone());
    // The same session, no reconnect: its write lands on the new primary at once.
    c.query_drop("INSERT INTO w (v) VALUES (2)").await.unwrap();
    let seen = holders(&db, 2);
    assert!(
        seen[1],
        "the write reached replica1, the new primary: {seen:?} (writer {writer:?})"
    );

    switchover("replica1", "primary").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.query_drop("INSERT INTO w (v) VALUES (3)").await.unwrap();
    assert!(holders(&db, 3)[0], "and back to the primary");
    c.disconnect().await.unwrap();
    caught_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_a_writable_primary_then_fail_clearly() {
    let _serial = SERIAL.lock().await;
    let db = setup("repl_hold").await;
    let p = inproc_proxy(|t| {
        t.replacen("[monitor]\n", "[monitor]\ninterval_ms = 100\n", 1)
            .replacen("[proxy]\n", "[proxy]\nwrite_hold_ms = 400\n", 1)
    })
    .await;
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    crate::harness::node_sql(&env().cluster, "primary", "SET GLOBAL read_only = 1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let err = c
        .query_drop("UPDATE r SET v = v + 1 WHERE id = 1")
        .await
        .unwrap_err();
    let held = started.elapsed();
    crate::harness::node_sql(&env().cluster, "primary", "SET GLOBAL read_only = 0");
    match err {
        mysql_async::Error::Server(e) => {
            assert_eq!(e.code, 1290, "{e:?}");
            assert!(e.message.contains("no writable primary"), "{}", e.message);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        held >= Duration::from_millis(350),
        "held {held:?} before failing"
    );
    // Reads went on meanwhile, and writes resume once the primary is writable again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.query_drop("UPDATE r SET v = v + 1 WHERE id = 1")
        .await
        .unwrap();
    c.disconnect().await.unwrap();
}
