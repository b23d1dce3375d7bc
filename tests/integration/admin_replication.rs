//! Admin changes judged by the servers themselves: SHOW BACKENDS shows a replica made to
//! lag, `UPDATE backends SET weight` changes the read split the replicas' `Com_select`
//! counters see, and `state = 'offline'` drains a replica under load with no client
//! error. These touch the shared replicas, so they hold the replication suite's lock.

use crate::admin_util::{admin, backends, com_select, num};
use crate::harness::{env, inproc_proxy, rows_read};
use crate::replication::{opts, setup, SERIAL};
use mysql_async::prelude::*;
use std::time::{Duration, Instant};

/// Com_select of replica1 and replica2.
fn selects() -> [u64; 2] {
    let c = &env().cluster;
    [com_select(c, "replica1"), com_select(c, "replica2")]
}

/// `conns` clients each running `per_conn` point reads (bounded), counting errors.
async fn read_load(port: u16, db: &str, conns: usize, per_conn: usize) -> usize {
    let mut tasks = Vec::new();
    for t in 0..conns {
        let o = opts(port, db);
        tasks.push(tokio::spawn(async move {
            let mut errors = 0;
            let mut c = mysql_async::Conn::new(o).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            for i in 0..per_conn {
                if Instant::now() > deadline {
                    break;
                }
                let q = format!("SELECT v FROM r WHERE id = {}", (i + t) % 100 + 1);
                if c.query_first::<i64, _>(q).await.is_err() {
                    errors += 1;
                }
            }
            let _ = c.disconnect().await;
            errors
        }));
    }
    let mut errors = 0;
    for t in tasks {
        errors += t.await.unwrap();
    }
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_backends_reflects_a_lagging_replica() {
    let _serial = SERIAL.lock().await;
    let p = inproc_proxy(|t| t.replace("max_lag_ms = 1000", "max_lag_ms = 400")).await;
    env().cluster.lag(1, 0).await.unwrap();
    let started = Instant::now();
    let row = loop {
        let b = tokio::task::spawn_blocking(move || backends(p.admin_port))
            .await
            .unwrap();
        let r1 = b["replica1"].clone();
        if r1["state"] == "lagging" {
            break r1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never lagging: {r1:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(num(&row, "lag_ms") > 400, "{row:?}");
    env().cluster.unlag(1).await.unwrap();
    let started = Instant::now();
    while tokio::task::spawn_blocking(move || backends(p.admin_port))
        .await
        .unwrap()["replica1"]["state"]
        != "online"
    {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "never back online"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_weight_changes_the_split() {
    let _serial = SERIAL.lock().await;
    let db = setup("adm_weight").await;
    let p = inproc_proxy(|t| t).await;
    let port = p.admin_port;
    tokio::task::spawn_blocking(move || {
        admin(
            port,
            "UPDATE backends SET weight = 4 WHERE name = 'replica1'",
        );
    })
    .await
    .unwrap();
    let before = selects();
    assert_eq!(read_load(p.port, &db, 4, 500).await, 0);
    let after = selects();
    let d = [after[0] - before[0], after[1] - before[1]];
    let share = d[0] as f64 / (d[0] + d[1]) as f64;
    eprintln!("weights 4:1, Com_select deltas {d:?}, replica1 share {share:.2}");
    // 4:1 is 0.8; the monitors' own SELECTs add a little to both sides.
    assert!(
        (0.68..0.9).contains(&share),
        "replica1 share {share:.2} of {d:?}"
    );
    tokio::task::spawn_blocking(move || {
        admin(
            port,
            "UPDATE backends SET weight = 1 WHERE name = 'replica1'",
        );
        admin(
            port,
            "UPDATE backends SET weight = 4 WHERE name = 'replica2'",
        );
    })
    .await
    .unwrap();
    let before = selects();
    assert_eq!(read_load(p.port, &db, 4, 500).await, 0);
    let after = selects();
    let d = [after[0] - before[0], after[1] - before[1]];
    let share = d[1] as f64 / (d[0] + d[1]) as f64;
    eprintln!("weights 1:4, Com_select deltas {d:?}, replica2 share {share:.2}");
    assert!(
        (0.68..0.9).contains(&share),
        "replica2 share {share:.2} of {d:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_drains_a_replica_without_client_errors() {
    let _serial = SERIAL.lock().await;
    let db = setup("adm_offline").await;
    let p = inproc_proxy(|t| t).await;
    let port = p.admin_port;
    let load = {
        let db = db.clone();
        let proxy_port = p.port;
        tokio::spawn(async move { read_load(proxy_port, &db, 4, 1500).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::spawn_blocking(move || {
        admin(
            port,
            "UPDATE backends SET state = 'offline' WHERE name = 'replica1'",
        );
    })
    .await
    .unwrap();
    // From here replica1 gets no reads of table r (the servers' own per-table count;
    // Com_select would also count the monitors' probes).
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = rows_read(&db, "r");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mid = rows_read(&db, "r");
    let errors = load.await.unwrap();
    assert_eq!(errors, 0, "client errors while draining");
    let (d1, d2) = (mid[1] - before[1], mid[2] - before[2]);
    eprintln!("replica1 offline: rows read in 700 ms: replica1 {d1}, replica2 {d2}");
    assert!(d2 > 50, "replica2 carries the load: {d2}");
    assert_eq!(d1, 0, "offline replica1 still served reads (replica2 {d2})");
    let b = tokio::task::spawn_blocking(move || backends(port))
        .await
        .unwrap();
    assert_eq!(b["replica1"]["state"], "offline");
    assert_eq!(
        b["replica1"]["conn_idle"], "0",
        "its idle connections closed"
    );
    tokio::task::spawn_blocking(move || {
        admin(
            port,
            "UPDATE backends SET state = 'online' WHERE name = 'replica1'",
        );
    })
    .await
    .unwrap();
    // Back online it serves reads again (ramping up: slow start).
    let before = rows_read(&db, "r");
    assert_eq!(read_load(p.port, &db, 2, 200).await, 0);
    let after = rows_read(&db, "r");
    assert!(after[1] > before[1], "replica1 serves reads again");
}
