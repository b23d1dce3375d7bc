//! The local cluster launcher against real MariaDB servers: replication works, replicas refuse
//! writes from `app`, `lag`/`unlag` hold back and release one replica, and `down` stops
//! exactly the servers it started.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use rwproxy::cluster::{Cluster, ClusterSpec, NodeInfo};
use std::path::Path;
use std::time::{Duration, Instant};

const CATCH_UP: Duration = Duration::from_secs(30);

async fn connect(cluster: &Cluster, node: &NodeInfo) -> Conn {
    Conn::new(cluster.opts(node, "app", "app"))
        .await
        .unwrap_or_else(|e| panic!("connect to {} as app: {e}", node.name))
}

/// The `v` values in `clt.t` as `node` sees them.
async fn values(cluster: &Cluster, node: &NodeInfo) -> Vec<String> {
    let mut conn = connect(cluster, node).await;
    let rows: Vec<String> = conn.query("SELECT v FROM clt.t ORDER BY id").await.unwrap();
    conn.disconnect().await.unwrap();
    rows
}

#[tokio::test]
async fn cluster_replicates_refuses_replica_writes_and_lags_on_demand() {
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut cluster = Cluster::up(&ClusterSpec::new(tmp.path())).await.unwrap();
    eprintln!("cluster up in {:?}", started.elapsed());
    assert_eq!(cluster.replicas().len(), 2);
    assert!(tmp.path().join("cluster.toml").is_file());
    assert!(cluster.nodes.iter().all(NodeInfo::is_running));

    // A write on the primary shows up on both replicas.
    let primary = cluster.primary().clone();
    let mut p = connect(&cluster, &primary).await;
    p.query_drop("CREATE DATABASE clt").await.unwrap();
    p.query_drop("CREATE TABLE clt.t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))")
        .await
        .unwrap();
    p.query_drop("INSERT INTO clt.t (v) VALUES ('one')")
        .await
        .unwrap();
    cluster.wait_caught_up(CATCH_UP).await.unwrap();
    for r in cluster.replicas() {
        assert_eq!(values(&cluster, r).await, ["one"], "{}", r.name);
    }

    // app cannot write on a read_only replica.
    let mut r1 = connect(&cluster, &cluster.replicas()[0]).await;
    let err = r1
        .query_drop("INSERT INTO clt.t (v) VALUES ('bad')")
        .await
        .expect_err("write on a replica must fail");
    match err {
        mysql_async::Error::Server(e) => assert_eq!(e.code, 1290, "{e}"),
        other => panic!("unexpected error {other}"),
    }
    r1.disconnect().await.unwrap();

    // A stopped replica misses a new row that the other one gets.
    cluster.lag(1, 0).await.unwrap();
    p.query_drop("INSERT INTO clt.t (v) VALUES ('two')")
        .await
        .unwrap();
    cluster.wait_replica_caught_up(2, CATCH_UP).await.unwrap();
    assert_eq!(
        values(&cluster, &cluster.replicas()[1]).await,
        ["one", "two"]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(values(&cluster, &cluster.replicas()[0]).await, ["one"]);
    assert!(cluster
        .wait_caught_up(Duration::from_millis(500))
        .await
        .is_err());
    let status = cluster.status().await.unwrap();
    eprintln!("{status}");
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("replica1") && l.contains(" No ")),
        "{status}"
    );

    cluster.unlag(1).await.unwrap();
    assert_eq!(
        values(&cluster, &cluster.replicas()[0]).await,
        ["one", "two"]
    );
    cluster.wait_caught_up(CATCH_UP).await.unwrap();
    p.disconnect().await.unwrap();

    // Another process's view (the CLI) sees the same servers and does not stop them on drop.
    let opened = Cluster::open(tmp.path()).unwrap();
    assert_eq!(opened.nodes, cluster.nodes);
    drop(opened);
    assert!(cluster.nodes.iter().all(NodeInfo::is_running));

    let pids: Vec<u32> = cluster.nodes.iter().map(|n| n.pid).collect();
    cluster.down().unwrap();
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still exists"
        );
    }
    assert!(!tmp.path().join("cluster.toml").exists());
}

#[tokio::test]
async fn dropping_a_started_cluster_stops_it_and_lag_checks_the_replica_number() {
    let tmp = tempfile::tempdir().unwrap();
    let mut spec = ClusterSpec::new(tmp.path());
    spec.replicas = 1;
    spec.max_allowed_packet = Some(32 * 1024 * 1024);
    let cluster = Cluster::up(&spec).await.unwrap();
    let mut conn = connect(&cluster, cluster.primary()).await;
    let packet: Option<u64> = conn
        .query_first("SELECT @@max_allowed_packet")
        .await
        .unwrap();
    assert_eq!(packet, Some(32 * 1024 * 1024));
    conn.disconnect().await.unwrap();
    assert!(cluster
        .url(cluster.primary(), "app", "app")
        .starts_with("mysql://app:app@127.0.0.1:"));
    assert!(cluster.lag(2, 1).await.is_err());
    assert!(cluster.lag(0, 1).await.is_err());
    // A delayed replica still runs both threads.
    cluster.lag(1, 5).await.unwrap();
    cluster.unlag(1).await.unwrap();

    let nodes = cluster.nodes.clone();
    drop(cluster);
    for n in nodes {
        assert!(!n.is_running(), "{} still running", n.name);
        assert!(!Path::new(&format!("/proc/{}", n.pid)).exists());
    }
}
