//! Replica faults under a bounded autocommit read load: a crash (SIGKILL), a hang
//! (SIGSTOP) and idle pooled connections the server closed (`wait_timeout`). Clients
//! must see no errors; the figures (errors, detection and recovery times) are printed.
//! Also: a session ending while its replica hangs gives its connection up in bounded
//! time (the reset on its way back to the pool is bounded by `connect_timeout_ms`).

use crate::faults_util::*;
use crate::harness::{caught_up, env, node_sql, reads, rows_read};
use mysql_async::prelude::*;
use rwproxy::replication::BackendState;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn show(what: &str, load: &ReadLoad) {
    eprintln!(
        "[faults] {what}: {} reads ok, {} client errors {:?}; slow reads (done at, took): {:?}",
        load.ok,
        load.errors.len(),
        &load.errors[..load.errors.len().min(3)],
        &load.slow[..load.slow.len().min(8)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_replica_costs_no_read_errors_and_comes_back() {
    let _serial = SERIAL.lock().await;
    let db = setup("fault_crash").await;
    let p = fast_proxy().await;
    let replica1 = backend(&p, "replica1");
    wait_state(&replica1, BackendState::Online, Duration::from_secs(10)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let readers = read_load(p.port, &db, 4, &stop, epoch);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut cluster = cluster();
    let killed = Instant::now();
    tokio::task::block_in_place(|| cluster.kill("replica1")).unwrap();
    wait_state(&replica1, BackendState::Down, Duration::from_secs(5)).await;
    // From the start of the kill (which returns once the process is gone).
    let down = killed.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let load = finish(&stop, readers).await;
    eprintln!(
        "[faults] replica SIGKILL: Down after {:?} (monitor interval {INTERVAL_MS} ms), kill at {:?}",
        down,
        killed - epoch
    );
    show("replica SIGKILL", &load);
    assert!(
        load.errors.is_empty(),
        "{} client errors: {:?}",
        load.errors.len(),
        &load.errors[..load.errors.len().min(3)]
    );
    assert!(load.ok > 100, "the load ran: {} reads", load.ok);
    // Down within one interval and a probe timeout, with slack for a loaded machine.
    assert!(down < Duration::from_secs(3), "Down after {down:?}");

    cluster.restart("replica1").await.unwrap();
    let back = wait_state(&replica1, BackendState::Online, Duration::from_secs(30)).await;
    eprintln!("[faults] replica restart: Online again after {back:?}");
    caught_up().await;
    // Per-table counters do not survive a restart.
    node_sql(&env().cluster, "replica1", "SET GLOBAL userstat = 1");
    let before = rows_read(&db, "r");
    reads(p.port, &db, 200).await;
    let after = rows_read(&db, "r");
    assert!(
        after[1] > before[1],
        "replica1 serves reads again: {before:?} -> {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_replica_times_out_and_reads_move_away() {
    let _serial = SERIAL.lock().await;
    let db = setup("fault_hang").await;
    let p = fast_proxy().await;
    let replica1 = backend(&p, "replica1");
    wait_state(&replica1, BackendState::Online, Duration::from_secs(10)).await;
    let stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let readers = read_load(p.port, &db, 4, &stop, epoch);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cluster = cluster();
    let paused_at = epoch.elapsed();
    cluster.pause("replica1").unwrap();
    let guard = Paused("replica1");
    let down = wait_state(&replica1, BackendState::Down, Duration::from_secs(5)).await;
    // Keep it hung a while: no read may wait on it any more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let load = finish(&stop, readers).await;
    // Reads stalled by the hang end by this long after SIGSTOP.
    let moved = load
        .slow
        .iter()
        .map(|(done, _)| done.saturating_sub(paused_at))
        .max()
        .unwrap_or_default();
    eprintln!(
        "[faults] replica SIGSTOP: Down after {down:?}; last stalled read done {moved:?} after \
         SIGSTOP (backend_read_timeout_ms = 500, monitor timeout_ms = 300)"
    );
    show("replica SIGSTOP", &load);
    assert!(
        load.errors.is_empty(),
        "{} client errors: {:?}",
        load.errors.len(),
        &load.errors[..load.errors.len().min(3)]
    );
    assert!(load.ok > 100, "the load ran: {} reads", load.ok);
    assert!(down < Duration::from_secs(3), "Down after {down:?}");
    assert!(
        moved < Duration::from_secs(3),
        "reads stalled until {moved:?}"
    );

    cluster.resume("replica1").unwrap();
    std::mem::forget(guard);
    let back = wait_state(&replica1, BackendState::Online, Duration::from_secs(30)).await;
    eprintln!("[faults] replica SIGCONT: Online again after {back:?}");
    let before = rows_read(&db, "r");
    reads(p.port, &db, 200).await;
    let after = rows_read(&db, "r");
    assert!(
        after[1] > before[1],
        "replica1 serves reads again: {before:?} -> {after:?}"
    );
}

/// `SET GLOBAL wait_timeout` on every server, restored on drop.
struct WaitTimeout;

impl WaitTimeout {
    fn set(secs: u32) -> WaitTimeout {
        for n in &env().cluster.nodes {
            node_sql(
                &env().cluster,
                &n.name,
                &format!("SET GLOBAL wait_timeout = {secs}"),
            );
        }
        WaitTimeout
    }
}

impl Drop for WaitTimeout {
    fn drop(&mut self) {
        for n in &env().cluster.nodes {
            node_sql(&env().cluster, &n.name, "SET GLOBAL wait_timeout = 28800");
        }
    }
}

fn aborted_clients() -> u64 {
    env()
        .cluster
        .nodes
        .iter()
        .map(|n| {
            let out = node_sql(
                &env().cluster,
                &n.name,
                "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                 WHERE VARIABLE_NAME = 'ABORTED_CLIENTS'",
            );
            out.trim().parse::<u64>().unwrap_or(0)
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_pooled_connections_the_server_closed_are_never_seen() {
    let _serial = SERIAL.lock().await;
    let db = setup("fault_idle").await;
    let p = fast_proxy().await;
    let _wt = WaitTimeout::set(1);
    let mut errors = Vec::new();
    let before = aborted_clients();
    let port = p.port;
    for round in 0..3 {
        // Several clients at once, so the pool keeps several connections per backend.
        let mut clients = Vec::new();
        for c in 0..3 {
            let db = db.clone();
            clients.push(tokio::spawn(async move {
                let mut errs = Vec::new();
                let mut conn = match mysql_async::Conn::new(opts(port, &db)).await {
                    Ok(c) => c,
                    Err(e) => return vec![format!("connect: {e}")],
                };
                let w = conn
                    .query_drop(format!(
                        "UPDATE r SET v = v WHERE id = {}",
                        round * 3 + c + 1
                    ))
                    .await;
                if let Err(e) = w {
                    errs.push(format!("write: {e}"));
                }
                for i in 0..20 {
                    if let Err(e) = conn
                        .query_first::<i64, _>(format!("SELECT v FROM r WHERE id = {}", i + 1))
                        .await
                    {
                        errs.push(format!("read: {e}"));
                    }
                }
                let _ = conn.disconnect().await;
                errs
            }));
        }
        for c in clients {
            errors.extend(c.await.unwrap());
        }
        // Longer than wait_timeout: the servers close the pooled connections.
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }
    let closed = aborted_clients() - before;
    eprintln!(
        "[faults] idle pooled connections closed by wait_timeout = 1: {closed} closed by the \
         servers, {} client errors {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    assert!(
        closed > 0,
        "the servers closed idle connections (Aborted_clients)"
    );
    assert!(errors.is_empty(), "client errors: {errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_your_writes_wait_on_a_hung_replica_is_bounded() {
    let _serial = SERIAL.lock().await;
    let db = setup("fault_causal").await;
    // A slow monitor: the hung replicas still look Online when the read comes.
    let p = slow_monitor_proxy(
        "backend_read_timeout_ms = 500\ncausal_wait_ms = 500\nconnect_timeout_ms = 1000\n",
        |t| t,
    )
    .await;
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    for i in 1..=10 {
        let _: Option<i64> = c
            .query_first(format!("SELECT v FROM r WHERE id = {i}"))
            .await
            .unwrap();
    }
    let cluster = cluster();
    cluster.pause("replica1").unwrap();
    let _g1 = Paused("replica1");
    cluster.pause("replica2").unwrap();
    let _g2 = Paused("replica2");
    // The replicas cannot apply this: the next read must not wait for them forever.
    c.query_drop("UPDATE r SET v = 1000 WHERE id = 1")
        .await
        .unwrap();
    let t = Instant::now();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        c.query_first::<i64, _>("SELECT v FROM r WHERE id = 1"),
    )
    .await;
    let took = t.elapsed();
    eprintln!("[faults] read-your-writes read with both replicas hung: {read:?} after {took:?}");
    assert!(
        matches!(read, Ok(Ok(Some(1000)))),
        "{read:?} after {took:?}"
    );
    assert!(took < Duration::from_secs(6), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ending_while_its_replica_hangs_lets_go_of_the_connection() {
    let _serial = SERIAL.lock().await;
    let db = setup("fault_checkin").await;
    // No multiplexing: a session's connections are reset when it ends. Every read on
    // replica1; a slow monitor, so nothing else touches replica1's connections.
    let p = slow_monitor_proxy("multiplexing = false\nconnect_timeout_ms = 500\n", |t| {
        t.replace("weight = 1\n", "weight = 0\n")
            .replacen("weight = 0\n", "weight = 1\n", 1)
    })
    .await;
    let r1 = backend(&p, "replica1");
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    let v: Option<i64> = c.query_first("SELECT v FROM r WHERE id = 7").await.unwrap();
    assert_eq!(v, Some(7));
    let open = || r1.open_conns.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(open(), 1, "the read holds one replica1 connection");
    // The server's side of it: the one app connection in this test's schema.
    let probe = format!(
        "SELECT GROUP_CONCAT(ID) FROM information_schema.PROCESSLIST \
         WHERE USER = 'app' AND DB = '{db}'"
    );
    let threads = || {
        node_sql(&env().cluster, "replica1", &probe)
            .trim()
            .to_string()
    };
    let thread = threads();
    assert!(
        thread.parse::<u64>().is_ok(),
        "one connection on replica1: {thread}"
    );
    let cluster = cluster();
    cluster.pause("replica1").unwrap();
    let paused = Paused("replica1");
    let t = Instant::now();
    // The session ends; its replica1 connection is reset on its way back to the pool,
    // and the reset gets no answer.
    c.disconnect().await.unwrap();
    while open() > 0 && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t.elapsed();
    eprintln!("[faults] checkin to a hung replica gave its connection up after {took:?}");
    assert_eq!(
        open(),
        0,
        "the connection is still held after {took:?} ({} sessions, {} idle replica1 connections)",
        p.proxy.sessions.len(),
        p.proxy.pool.idle_of(&r1)
    );
    // Once awake, replica1 finds that connection closed: had the reset gone through
    // after all, the connection would be in the pool, its thread still there.
    drop(paused);
    let mut left = thread.clone();
    for _ in 0..100 {
        left = threads();
        if left == "NULL" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        left, "NULL",
        "replica1 still has the connection (thread {thread})"
    );
}
