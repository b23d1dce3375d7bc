//! Connection multiplexing: many client sessions share few backend connections, each
//! session keeping its own settings and its own insert ids, and a backend at its
//! `max_connections` makes requests wait in a bounded queue, then fail clearly.

use crate::harness::{caught_up, direct_opts, fresh_schema, inproc_proxy, opts, InProcProxy};
use mysql_async::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sets `max_connections = n` on every backend of a generated config.
pub(crate) fn cap_backends(text: String, n: u32) -> String {
    text.replace(
        "[[backends]]\n",
        &format!("[[backends]]\nmax_connections = {n}\n"),
    )
}

/// Backend logins the proxy made so far, per backend.
pub(crate) fn logins(p: &InProcProxy) -> Vec<u64> {
    p.proxy
        .topology
        .load()
        .backends
        .iter()
        .map(|b| b.connects.load(Ordering::Relaxed))
        .collect()
}

/// Samples the largest number of connections open to each backend while it runs.
pub(crate) fn watch_open_conns(p: &InProcProxy) -> (Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let max = Arc::new(AtomicU64::new(0));
    let (m, proxy) = (max.clone(), p.proxy.clone());
    let task = tokio::spawn(async move {
        loop {
            for b in &proxy.topology.load().backends {
                m.fetch_max(b.open_conns.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    (max, task)
}

/// One client's work: its own session variable, reads checked against the table, and
/// an insert whose LAST_INSERT_ID() it reads back. Returns the mismatches.
async fn client_round(c: &mut mysql_async::Conn, i: u64) -> Result<Vec<String>, String> {
    let mut bad = Vec::new();
    let var = i % 7;
    if i % 2 == 0 {
        // Half the clients carry a setting of their own.
        c.query_drop(format!("SET @v = {var}"))
            .await
            .map_err(|e| e.to_string())?;
    }
    for k in 0..3u64 {
        let id = (i * 3 + k) % 100 + 1;
        let row: Option<(u64, Option<u64>)> = c
            .query_first(format!("SELECT v, @v FROM t WHERE id = {id}"))
            .await
            .map_err(|e| e.to_string())?;
        let want_v = (i % 2 == 0).then_some(var);
        if row != Some((id * 10, want_v)) {
            bad.push(format!("client {i}: id {id} read {row:?}"));
        }
    }
    if i % 10 == 0 {
        c.query_drop(format!("INSERT INTO log (client) VALUES ({i})"))
            .await
            .map_err(|e| e.to_string())?;
        let id: Option<u64> = c
            .query_first("SELECT LAST_INSERT_ID()")
            .await
            .map_err(|e| e.to_string())?;
        let owner: Option<u64> = c
            .query_first(format!(
                "SELECT client FROM log WHERE id = {}",
                id.unwrap_or(0)
            ))
            .await
            .map_err(|e| e.to_string())?;
        // Read-your-writes: the row is visible wherever the read goes.
        if owner != Some(i) {
            bad.push(format!(
                "client {i}: LAST_INSERT_ID {id:?} belongs to {owner:?}"
            ));
        }
    }
    Ok(bad)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_clients_on_at_most_100_connections_per_backend() {
    const CLIENTS: u64 = 5000;
    const CAP: u32 = 100;
    let _alone = crate::harness::THOUSANDS_OF_CONNECTIONS.lock().await;
    // Both ends of every client connection are in this process.
    crate::harness::raise_fd_limit(2 * CLIENTS + 2000);
    let db = fresh_schema("mux_many").await;
    let mut setup = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    setup
        .query_drop("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    setup
        .query_drop("INSERT INTO t SELECT seq, seq * 10 FROM seq_1_to_100")
        .await
        .unwrap();
    setup
        .query_drop("CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, client INT)")
        .await
        .unwrap();
    caught_up().await;

    let p = inproc_proxy(|t| {
        cap_backends(t, CAP).replacen(
            "[proxy]\n",
            "[proxy]\nmax_client_connections = 6000\nqueue_timeout_ms = 20000\n",
            1,
        )
    })
    .await;
    let (max_open, watcher) = watch_open_conns(&p);
    let started = Instant::now();

    // Every client connects first and stays connected: 5,000 sessions at once.
    let gate = Arc::new(tokio::sync::Semaphore::new(64));
    let mut joins = Vec::new();
    for i in 0..CLIENTS {
        let (gate, o) = (gate.clone(), opts(p.port, &db));
        joins.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.unwrap();
            let conn = tokio::time::timeout(Duration::from_secs(120), mysql_async::Conn::new(o))
                .await
                .map_err(|_| format!("client {i}: connect timed out"))?
                .map_err(|e| format!("client {i}: connect: {e}"))?;
            drop(permit);
            Ok::<_, String>(conn)
        }));
    }
    let mut conns = Vec::new();
    for j in joins {
        conns.push(j.await.unwrap().expect("connect"));
    }
    let connected = started.elapsed();
    let sessions = p.proxy.sessions.len();
    assert_eq!(
        sessions as u64, CLIENTS,
        "all clients are connected at once"
    );

    // Then all of them work at once, each on its own session.
    let mut joins = Vec::new();
    for (i, mut c) in conns.into_iter().enumerate() {
        joins.push(tokio::spawn(async move {
            let r = tokio::time::timeout(Duration::from_secs(120), client_round(&mut c, i as u64))
                .await
                .unwrap_or_else(|_| Err(format!("client {i}: timed out")));
            (r, c)
        }));
    }
    let (mut errors, mut wrong, mut conns) = (Vec::new(), Vec::new(), Vec::new());
    for j in joins {
        let (r, c) = j.await.unwrap();
        match r {
            Ok(bad) => wrong.extend(bad),
            Err(e) => errors.push(e),
        }
        conns.push(c);
    }
    let worked = started.elapsed();
    let peak = max_open.load(Ordering::Relaxed);
    watcher.abort();
    let per_backend: Vec<u64> = p
        .proxy
        .topology
        .load()
        .backends
        .iter()
        .map(|b| b.connects.load(Ordering::Relaxed))
        .collect();
    for c in conns {
        let _ = c.disconnect().await;
    }
    eprintln!(
        "multiplexing: {CLIENTS} clients connected in {connected:?}, worked by {worked:?}; \
         peak open backend connections {peak} (cap {CAP}); connections opened per backend \
         {per_backend:?}; errors {}; wrong results {}",
        errors.len(),
        wrong.len()
    );
    assert!(
        errors.is_empty(),
        "errors: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert!(
        wrong.is_empty(),
        "wrong results: {:?}",
        &wrong[..wrong.len().min(5)]
    );
    assert!(peak <= CAP as u64, "{peak} connections to one backend");
    let logged: u64 = setup
        .query_first("SELECT COUNT(*) FROM log")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(logged, CLIENTS / 10, "every insert ran exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_keep_their_settings_on_one_shared_connection() {
    let db = fresh_schema("mux_settings").await;
    let mut setup = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    setup
        .query_drop("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, s VARCHAR(20))")
        .await
        .unwrap();
    caught_up().await;
    // One connection per backend: every session takes turns on the same one.
    let p = inproc_proxy(|t| cap_backends(t, 1)).await;
    let mut a = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    let mut b = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    a.query_drop("SET SESSION sql_mode = 'ANSI_QUOTES', @who = 'a'")
        .await
        .unwrap();
    b.query_drop("SET @who = 'b'").await.unwrap();
    for _ in 0..5 {
        let (who, mode): (String, String) = a
            .query_first("SELECT @who, @@sql_mode")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((who.as_str(), mode.as_str()), ("a", "ANSI_QUOTES"));
        let (who, mode): (String, String) = b
            .query_first("SELECT @who, @@sql_mode")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(who, "b");
        assert_ne!(mode, "ANSI_QUOTES");
    }
    // Each session's insert id is its own, even when the other inserts in between.
    a.query_drop("INSERT INTO t (s) VALUES ('a')")
        .await
        .unwrap();
    let a_id: u64 = a
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .unwrap()
        .unwrap();
    b.query_drop("INSERT INTO t (s) VALUES ('b')")
        .await
        .unwrap();
    let b_id: u64 = b
        .query_first("SELECT LAST_INSERT_ID()")
        .await
        .unwrap()
        .unwrap();
    assert_ne!(a_id, b_id);
    // Warnings stay readable by the session that caused them.
    // (b writes, on the primary: a read could queue behind a's held replica
    // connection until a's hold times out, and a is waiting for b here.)
    a.query_drop("SELECT CAST('x' AS SIGNED)").await.unwrap();
    b.query_drop("INSERT INTO t (s) VALUES ('w')")
        .await
        .unwrap();
    let warnings: Vec<(String, u32, String)> = a.query("SHOW WARNINGS").await.unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    // So does FOUND_ROWS() after SQL_CALC_FOUND_ROWS.
    let total: u64 = setup
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    caught_up().await;
    a.query_drop("SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1")
        .await
        .unwrap();
    b.query_drop("SET @x = 1").await.unwrap();
    let found: u64 = a.query_first("SELECT FOUND_ROWS()").await.unwrap().unwrap();
    assert_eq!(found, total);
    // A transaction keeps its connection: the other session's write waits for it (the
    // primary has one connection), then runs.
    a.query_drop("BEGIN").await.unwrap();
    a.query_drop("INSERT INTO t (s) VALUES ('txn')")
        .await
        .unwrap();
    let waiter = tokio::spawn(async move {
        let started = Instant::now();
        b.query_drop("INSERT INTO t (s) VALUES ('after')")
            .await
            .unwrap();
        (started.elapsed(), b)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.query_drop("COMMIT").await.unwrap();
    let (waited, b) = waiter.await.unwrap();
    eprintln!("a write queued behind an open transaction for {waited:?}");
    assert!(
        waited >= Duration::from_millis(250),
        "it did not wait: {waited:?}"
    );
    let open = logins(&p);
    assert!(
        open.iter().all(|&n| n <= 1),
        "one connection per backend: {open:?}"
    );
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_backend_queues_then_fails_with_1040() {
    let db = fresh_schema("mux_full").await;
    let mut setup = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    setup.query_drop("CREATE TABLE t (id INT)").await.unwrap();
    caught_up().await;
    let p = inproc_proxy(|t| {
        cap_backends(t, 1).replacen("[proxy]\n", "[proxy]\nqueue_timeout_ms = 500\n", 1)
    })
    .await;
    let mut holder = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    holder.query_drop("BEGIN").await.unwrap();
    holder.query_drop("INSERT INTO t VALUES (1)").await.unwrap();
    // The primary's one connection is in a transaction: a login (which needs the
    // primary) waits for it, then fails with a clear error.
    let started = Instant::now();
    let err = mysql_async::Conn::new(opts(p.port, &db))
        .await
        .expect_err("no primary connection is free");
    let waited = started.elapsed();
    let text = err.to_string();
    eprintln!("full backend: {text} (after {waited:?})");
    assert!(
        matches!(&err, mysql_async::Error::Server(e) if e.code == 1040),
        "{err:?}"
    );
    assert!(text.contains("max_connections = 1"), "{text}");
    holder.query_drop("COMMIT").await.unwrap();
    holder.disconnect().await.unwrap();
    caught_up().await;
    // Free again: the next client gets the connection.
    let mut next = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    let n: u64 = next
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 1);
    let timeouts: u64 = p
        .proxy
        .topology
        .load()
        .backends
        .iter()
        .map(|b| b.queue_timeouts.load(Ordering::Relaxed))
        .sum();
    assert_eq!(timeouts, 1);
    drop(next);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bursts_extra_connections_close_once_idle() {
    let db = fresh_schema("mux_idle").await;
    caught_up().await;
    let p =
        inproc_proxy(|t| t.replacen("[proxy]\n", "[proxy]\npool_idle_timeout_ms = 300\n", 1)).await;
    let primary_open = || {
        p.proxy
            .topology
            .load()
            .primary()
            .map(|b| b.open_conns.load(Ordering::Relaxed))
            .unwrap_or(0)
    };
    // A burst: 12 sessions in transactions at once, each holding a primary connection.
    let mut burst = Vec::new();
    for _ in 0..12 {
        let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
        c.query_drop("BEGIN").await.unwrap();
        c.query_drop("SELECT 1").await.unwrap();
        burst.push(c);
    }
    let peak = primary_open();
    for mut c in burst {
        c.query_drop("COMMIT").await.unwrap();
        c.disconnect().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Traffic goes on: each statement's return to the pool closes an expired one.
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    for _ in 0..20 {
        c.query_drop("DO 1").await.unwrap();
    }
    let after = primary_open();
    eprintln!("pool idle timeout: primary connections {peak} at the burst, {after} after it");
    assert!(peak >= 12, "{peak}");
    assert!(after <= 2, "{after} primary connections still open");
    drop(c);
}
