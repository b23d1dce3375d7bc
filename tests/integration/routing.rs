//! Read/write splitting on the real cluster, judged by what the servers saw (MariaDB's
//! per-table ROWS_READ counters), not by what the proxy says: autocommit reads reach the
//! replicas, writes, transactions and locking reads stay on the primary, session state
//! (temporary tables, variables, schema) holds, and a session reads its own writes.

use crate::harness::{caught_up, direct_opts, fresh_schema, proxy_opts, rows_read};
use mysql_async::prelude::*;

/// A schema with table `r` of 10 rows, replicated everywhere.
async fn setup(name: &str) -> String {
    let db = fresh_schema(name).await;
    let mut c = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    c.query_drop("CREATE TABLE r (id INT PRIMARY KEY, v VARCHAR(20))")
        .await
        .unwrap();
    c.query_drop("INSERT INTO r SELECT seq, CONCAT('v', seq) FROM seq_1_to_10")
        .await
        .unwrap();
    c.disconnect().await.unwrap();
    caught_up().await;
    db
}

fn delta(before: &[u64], after: &[u64]) -> Vec<u64> {
    before.iter().zip(after).map(|(b, a)| a - b).collect()
}

async fn proxy(db: &str) -> mysql_async::Conn {
    mysql_async::Conn::new(proxy_opts("app", "app", Some(db)))
        .await
        .expect("login via proxy")
}

#[tokio::test]
async fn autocommit_reads_reach_the_replicas() {
    let db = setup("route_reads").await;
    let before = rows_read(&db, "r");
    let mut c = proxy(&db).await;
    for i in 0..100 {
        let v: Option<String> = c
            .query_first(format!("SELECT v FROM r WHERE id = {}", i % 10 + 1))
            .await
            .unwrap();
        assert_eq!(v, Some(format!("v{}", i % 10 + 1)));
    }
    let stmt = c.prep("SELECT v FROM r WHERE id = ?").await.unwrap();
    for i in 0..100 {
        let v: Option<String> = c.exec_first(&stmt, (i % 10 + 1,)).await.unwrap();
        assert_eq!(v, Some(format!("v{}", i % 10 + 1)));
    }
    c.disconnect().await.unwrap();
    let d = delta(&before, &rows_read(&db, "r"));
    let on_replicas: u64 = d[1..].iter().sum();
    assert!(
        on_replicas >= 190,
        "200 reads, {on_replicas} on replicas: {d:?}"
    );
    assert!(d[1] > 0 && d[2] > 0, "both replicas serve reads: {d:?}");
}

#[tokio::test]
async fn writes_transactions_and_locking_reads_stay_on_the_primary() {
    let db = setup("route_primary").await;
    let before = rows_read(&db, "r");
    let mut c = proxy(&db).await;
    c.query_drop("BEGIN").await.unwrap();
    for id in 1..=10 {
        let _: Option<String> = c
            .query_first(format!("SELECT v FROM r WHERE id = {id}"))
            .await
            .unwrap();
    }
    c.query_drop("COMMIT").await.unwrap();
    for id in 1..=10 {
        let _: Option<String> = c
            .query_first(format!("SELECT v FROM r WHERE id = {id} FOR UPDATE"))
            .await
            .unwrap();
        let _: Option<String> = c
            .query_first(format!(
                "SELECT v FROM r WHERE id = {id} LOCK IN SHARE MODE"
            ))
            .await
            .unwrap();
    }
    c.query_drop("SET autocommit = 0").await.unwrap();
    for id in 1..=10 {
        let _: Option<String> = c
            .query_first(format!("SELECT v FROM r WHERE id = {id}"))
            .await
            .unwrap();
    }
    c.query_drop("COMMIT").await.unwrap();
    c.disconnect().await.unwrap();
    let d = delta(&before, &rows_read(&db, "r"));
    assert_eq!(d[1] + d[2], 0, "nothing read on replicas: {d:?}");
    assert!(d[0] >= 40, "all 40 reads on the primary: {d:?}");
}

#[tokio::test]
async fn read_only_transaction_runs_on_one_replica() {
    let db = setup("route_ro_txn").await;
    let before = rows_read(&db, "r");
    let mut c = proxy(&db).await;
    c.query_drop("START TRANSACTION READ ONLY").await.unwrap();
    for id in 1..=10 {
        let _: Option<String> = c
            .query_first(format!("SELECT v FROM r WHERE id = {id}"))
            .await
            .unwrap();
    }
    let err = c
        .query_drop("UPDATE r SET v = 'x' WHERE id = 1")
        .await
        .unwrap_err();
    assert!(
        format!("{err}").contains("READ ONLY") || format!("{err}").contains("read-only"),
        "{err}"
    );
    c.query_drop("COMMIT").await.unwrap();
    c.disconnect().await.unwrap();
    let d = delta(&before, &rows_read(&db, "r"));
    assert_eq!(d[0], 0, "nothing on the primary: {d:?}");
    assert!(d[1] == 0 || d[2] == 0, "one replica only: {d:?}");
    assert!(d[1] + d[2] >= 10, "{d:?}");
}

#[tokio::test]
async fn session_state_follows_reads_to_replicas() {
    let db = setup("route_session").await;
    let mut c = proxy(&db).await;
    // Variables and settings are replayed on the replicas before reads run there.
    c.query_drop("SET @greeting = 'hej', time_zone = '+05:00', sql_mode = 'PIPES_AS_CONCAT'")
        .await
        .unwrap();
    let (g, tz, cat): (String, String, String) = c
        .query_first("SELECT @greeting, @@time_zone, 'a' || 'b' FROM r WHERE id = 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (g.as_str(), tz.as_str(), cat.as_str()),
        ("hej", "+05:00", "ab")
    );
    // USE moves every later read.
    let other = fresh_schema("route_session_other").await;
    let mut d = mysql_async::Conn::new(direct_opts("app", "app", Some(&other)))
        .await
        .unwrap();
    d.query_drop("CREATE TABLE only_here (x INT)")
        .await
        .unwrap();
    d.disconnect().await.unwrap();
    caught_up().await;
    c.query_drop(format!("USE {other}")).await.unwrap();
    let n: i64 = c
        .query_first("SELECT COUNT(*) FROM only_here")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
    // A temporary table exists only on the primary: the session stays there.
    c.query_drop("CREATE TEMPORARY TABLE tmp (x INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO tmp VALUES (1), (2)")
        .await
        .unwrap();
    let n: i64 = c
        .query_first("SELECT COUNT(*) FROM tmp")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 2);
    let route: (String, String) = c
        .query_first("EXPLAIN ROUTE SELECT 1")
        .await
        .unwrap()
        .map(|r: mysql_async::Row| {
            (
                r.get::<String, _>(0).unwrap(),
                r.get::<String, _>(1).unwrap(),
            )
        })
        .unwrap();
    assert_eq!(route, ("primary".to_string(), "temp-table".to_string()));
    c.disconnect().await.unwrap();
}

#[tokio::test]
async fn a_session_reads_its_own_writes() {
    let db = setup("route_ryw").await;
    let mut c = proxy(&db).await;
    c.query_drop("CREATE TABLE w (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    for i in 0..50 {
        c.query_drop(format!("INSERT INTO w (v) VALUES ({i})"))
            .await
            .unwrap();
        let id: u64 = c
            .query_first("SELECT LAST_INSERT_ID()")
            .await
            .unwrap()
            .unwrap();
        let v: Option<i64> = c
            .query_first(format!("SELECT v FROM w WHERE id = {id}"))
            .await
            .unwrap();
        assert_eq!(v, Some(i), "read after write #{i} saw stale data");
    }
    let row: mysql_async::Row = c
        .query_first("EXPLAIN ROUTE SELECT v FROM w")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<String, _>(0).as_deref(), Some("replica"));
    c.disconnect().await.unwrap();
}

#[tokio::test]
async fn hints_and_rules_override_the_classifier() {
    let db = setup("route_rules").await;
    let rules =
        "\n[[rules]]\nmatch = \"(?i)^select v from r where id = 1$\"\nroute = \"primary\"\n\n\
                 [[rules]]\nmatch = \"(?i)where id = 2$\"\nroute = \"replica2\"\n";
    let proxy = crate::harness::inproc_proxy(|t| format!("{t}{rules}")).await;
    let opts = mysql_async::OptsBuilder::from_opts(proxy_opts("app", "app", Some(&db)))
        .tcp_port(proxy.port);
    let mut c = mysql_async::Conn::new(opts).await.unwrap();
    let before = rows_read(&db, "r");
    for _ in 0..10 {
        let _: Option<String> = c.query_first("SELECT v FROM r WHERE id = 1").await.unwrap();
    }
    let mid = rows_read(&db, "r");
    assert_eq!(delta(&before, &mid), [10, 0, 0], "rule: primary");
    for _ in 0..10 {
        let _: Option<String> = c.query_first("SELECT v FROM r WHERE id = 2").await.unwrap();
    }
    let after = rows_read(&db, "r");
    assert_eq!(delta(&mid, &after), [0, 0, 10], "rule: replica2 by name");
    for _ in 0..10 {
        let _: Option<String> = c
            .query_first("/* rwproxy:primary */ SELECT v FROM r WHERE id = 3")
            .await
            .unwrap();
    }
    assert_eq!(
        delta(&after, &rows_read(&db, "r")),
        [10, 0, 0],
        "hint: primary"
    );
    c.disconnect().await.unwrap();
}

#[tokio::test]
async fn sysbench_through_the_proxy_reads_on_replicas() {
    let db = setup("route_sysbench").await;
    let port = crate::harness::env().proxy_port.to_string();
    let sb = |extra: &[&str]| {
        let mut cmd = std::process::Command::new("sysbench");
        cmd.args([
            "oltp_read_write",
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
        ])
        .arg(format!("--mysql-port={port}"))
        .args([
            "--mysql-user=app",
            "--mysql-password=app",
            "--tables=1",
            "--table-size=500",
        ])
        .arg(format!("--mysql-db={db}"))
        .args(extra);
        let out = cmd
            .output()
            .expect("run sysbench (apt-get install -y sysbench)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "sysbench {extra:?} failed:\n{text}");
        text
    };
    sb(&["prepare"]);
    caught_up().await;
    // Without transactions, concurrent DELETE+INSERT of one id can collide (1062), as it
    // does against the server directly; the reads are what this test is about.
    for ps in ["auto", "disable"] {
        let before = rows_read(&db, "sbtest1");
        let text = sb(&[
            "--skip-trx=on",
            &format!("--db-ps-mode={ps}"),
            "--threads=2",
            "--time=4",
            "--mysql-ignore-errors=1213,1062",
            "run",
        ]);
        let errors: u64 = text
            .lines()
            .find(|l| l.trim_start().starts_with("ignored errors:"))
            .and_then(|l| l.split_whitespace().nth(2))
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        assert!(errors < 20, "ps-mode {ps}: {errors} errors\n{text}");
        let d = delta(&before, &rows_read(&db, "sbtest1"));
        assert!(
            d[1] > 0 && d[2] > 0,
            "ps-mode {ps}: replicas served reads: {d:?}"
        );
    }
}
