//! Graceful shutdown of the real binary: on SIGTERM it stops accepting, closes idle
//! sessions, lets a session in a transaction finish it, and exits 0.

use crate::harness::{direct_opts, env, free_port, fresh_schema, opts};
use mysql_async::prelude::*;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_open_transactions_finish_and_exits_0() {
    let db = fresh_schema("shutdown_drain").await;
    let mut setup = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    setup
        .query_drop("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    crate::harness::caught_up().await;

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = env()
        .cluster
        .sample_config(&format!("127.0.0.1:{port}"))
        .replacen("[proxy]\n", "[proxy]\nshutdown_timeout_ms = 10000\n", 1)
        + "\n[admin]\nlisten = \"\"\nhttp = \"\"\n";
    let path = dir.path().join("rwproxy.toml");
    std::fs::write(&path, config).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_rwproxy"))
        .args(["--log-level", "warn", "run", "--config"])
        .arg(&path)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut in_txn = loop {
        match mysql_async::Conn::new(opts(port, &db)).await {
            Ok(c) => break c,
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("proxy did not come up: {e}"),
        }
    };
    let mut idle = mysql_async::Conn::new(opts(port, &db)).await.unwrap();
    in_txn.query_drop("BEGIN").await.unwrap();
    in_txn.query_drop("INSERT INTO t VALUES (1)").await.unwrap();

    let pid = child.id().expect("pid") as i32;
    // SAFETY: kill(2) on the pid of the proxy this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // New clients are refused; the idle one was closed; the transaction goes on.
    assert!(
        mysql_async::Conn::new(opts(port, &db)).await.is_err(),
        "a new client got in during shutdown"
    );
    match idle.query_drop("SELECT 1").await {
        Err(mysql_async::Error::Server(e)) => panic!("idle session: server error {e:?}"),
        Err(_) => {}
        Ok(()) => panic!("the idle session was not closed on shutdown"),
    }
    in_txn.query_drop("INSERT INTO t VALUES (2)").await.unwrap();
    in_txn.query_drop("COMMIT").await.unwrap();

    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("proxy exits after the transaction")
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    let n: i64 = setup
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        n, 2,
        "both writes of the finished transaction are on the primary"
    );
    let _ = setup.disconnect().await;
    drop(in_txn);
    drop(idle);
}
