//! The primary crashes (SIGKILL) under a write load: writes fail with a clear error
//! within the connect timeout, reads go on from the replicas, writes resume once the
//! primary is back, with no proxy restart. Every write is judged by its client (acked,
//! failed, unknown) and checked on the server: acked exactly once, failed never,
//! unknown at most once (the proxy never re-sends a write). Also: a request larger than
//! the socket buffers, sent to a hung primary, fails within `backend_read_timeout_ms`.

use crate::faults_util::*;
use crate::harness::{caught_up, direct_opts};
use mysql_async::prelude::*;
use rwproxy::replication::BackendState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one writer saw.
#[derive(Default)]
struct Writes {
    /// Key → outcome.
    keys: Vec<(i64, Outcome)>,
    /// Failed statements and logins: (error code, how long the failure took).
    failures: Vec<(u16, Duration)>,
    /// Logins refused while the primary was away.
    login_errors: u64,
    /// First key acked after `resumed_after` was set.
    acked_after_restart: u64,
}

/// Inserts uniquely keyed rows (autocommit) until `stop`; keys are `base + i`.
async fn writer(
    port: u16,
    db: String,
    base: i64,
    stop: Arc<AtomicBool>,
    restarted: Arc<AtomicBool>,
) -> Writes {
    let mut w = Writes::default();
    let mut conn: Option<mysql_async::Conn> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => {
                let t = Instant::now();
                match mysql_async::Conn::new(opts(port, &db)).await {
                    Ok(c) => conn.insert(c),
                    Err(e) => {
                        w.login_errors += 1;
                        w.failures.push((code(&e), t.elapsed()));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                }
            }
        };
        i += 1;
        let k = base + i;
        let t = Instant::now();
        let r = c
            .query_drop(format!("INSERT INTO w (k) VALUES ({k})"))
            .await;
        let outcome = judge(&r);
        w.keys.push((k, outcome));
        match r {
            Ok(()) if restarted.load(Ordering::Relaxed) => w.acked_after_restart += 1,
            Ok(()) => {}
            Err(e) => {
                w.failures.push((code(&e), t.elapsed()));
                // The proxy closes a session whose primary connection broke.
                conn = None;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_primary_fails_writes_clearly_and_never_resends_them() {
    let _serial = SERIAL.lock().await;
    let db = setup("fault_primary").await;
    let mut direct = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    direct
        .query_drop(
            "CREATE TABLE w (id BIGINT AUTO_INCREMENT PRIMARY KEY, k BIGINT NOT NULL, KEY (k))",
        )
        .await
        .unwrap();
    drop(direct);
    caught_up().await;
    let p = fast_proxy().await;
    let primary = backend(&p, "primary");
    wait_state(&primary, BackendState::Online, Duration::from_secs(10)).await;
    let (stop, restarted) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let writers: Vec<_> = (0..3)
        .map(|n| {
            tokio::spawn(writer(
                p.port,
                db.clone(),
                n * 1_000_000,
                stop.clone(),
                restarted.clone(),
            ))
        })
        .collect();
    let read_stop = Arc::new(AtomicBool::new(false));
    let epoch = Instant::now();
    let readers = read_load(p.port, &db, 2, &read_stop, epoch);
    tokio::time::sleep(Duration::from_millis(700)).await;

    let mut cluster = cluster();
    let killed = Instant::now();
    tokio::task::block_in_place(|| cluster.kill("primary")).unwrap();
    wait_state(&primary, BackendState::Down, Duration::from_secs(5)).await;
    let down = killed.elapsed();
    // The outage, with writes failing and reads going on.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reads = finish(&read_stop, readers).await;
    cluster.restart("primary").await.unwrap();
    let back = killed.elapsed();
    restarted.store(true, Ordering::Relaxed);
    let online = wait_state(&primary, BackendState::Online, Duration::from_secs(30)).await;
    // Writes must resume through the same proxy.
    let resume_deadline = Instant::now() + Duration::from_secs(20);
    tokio::time::sleep(Duration::from_secs(2)).await;
    while Instant::now() < resume_deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut c = match mysql_async::Conn::new(opts(p.port, &db)).await {
            Ok(c) => c,
            Err(_) => continue,
        };
        if c.query_drop("SELECT 1 FROM w LIMIT 1 FOR UPDATE")
            .await
            .is_ok()
        {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Writes::default();
    for h in writers {
        let w = h.await.unwrap();
        all.keys.extend(w.keys);
        all.failures.extend(w.failures);
        all.login_errors += w.login_errors;
        all.acked_after_restart += w.acked_after_restart;
    }

    // What the primary holds, per key.
    let mut c = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    let rows: Vec<(i64, i64)> = c
        .query("SELECT k, COUNT(*) FROM w GROUP BY k")
        .await
        .unwrap();
    let found: HashMap<i64, i64> = rows.into_iter().collect();
    let count = |o: Outcome| all.keys.iter().filter(|(_, x)| *x == o).count();
    let unknown_found = all
        .keys
        .iter()
        .filter(|(k, o)| *o == Outcome::Unknown && found.contains_key(k))
        .count();
    let slowest_failure = all.failures.iter().map(|f| f.1).max().unwrap_or_default();
    let mut codes: HashMap<u16, usize> = HashMap::new();
    for (code, _) in &all.failures {
        *codes.entry(*code).or_default() += 1;
    }
    eprintln!(
        "[faults] primary SIGKILL: Down after {down:?}; restarted after {back:?}, Online {online:?} \
         later; writes acked {} (after restart {}), failed {}, unknown {} (of which applied \
         {unknown_found}); failed logins {}; error codes {codes:?}; slowest failure {slowest_failure:?}",
        count(Outcome::Acked),
        all.acked_after_restart,
        count(Outcome::Failed),
        count(Outcome::Unknown),
        all.login_errors,
    );
    eprintln!(
        "[faults] primary SIGKILL: reads during the outage: {} ok, {} errors {:?}",
        reads.ok,
        reads.errors.len(),
        &reads.errors[..reads.errors.len().min(3)]
    );
    // New clients log in on a replica while the primary is unreachable.
    assert_eq!(
        all.login_errors, 0,
        "logins refused during the primary's outage"
    );
    for (k, o) in &all.keys {
        let n = found.get(k).copied().unwrap_or(0);
        match o {
            Outcome::Acked => assert_eq!(n, 1, "acked write {k} found {n} times"),
            Outcome::Failed => assert_eq!(n, 0, "failed write {k} found {n} times"),
            Outcome::Unknown => assert!(n <= 1, "unknown write {k} found {n} times"),
        }
    }
    let keys: std::collections::HashSet<i64> = all.keys.iter().map(|(k, _)| *k).collect();
    assert!(found.keys().all(|k| keys.contains(k)), "rows nobody wrote");
    assert!(
        count(Outcome::Failed) + count(Outcome::Unknown) > 0,
        "the crash hit the load"
    );
    assert!(
        all.acked_after_restart > 0,
        "writes resumed after the restart"
    );
    // Each failure came within the connect timeout / write hold (1 s), with slack.
    assert!(
        slowest_failure < Duration::from_secs(5),
        "slowest failure {slowest_failure:?}"
    );
    assert!(
        reads.errors.is_empty(),
        "read errors during the outage: {:?}",
        reads.errors
    );
    assert!(reads.ok > 50, "reads went on: {}", reads.ok);
    caught_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_a_hung_primary_stops_taking_fails_in_bounded_time() {
    let _serial = SERIAL.lock().await;
    let db = setup("fault_big_request").await;
    // The monitor must not see the hang first: a fast one marks the primary down while
    // the proxy still reads and classifies the 32 MiB (about 0.3 s in a debug build),
    // and the request then waits for a writer instead of going to the hung primary.
    let p = slow_monitor_proxy(
        "backend_read_timeout_ms = 500\nconnect_timeout_ms = 1000\nwrite_hold_ms = 1000\n",
        |t| t,
    )
    .await;
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    c.query_drop("CREATE TABLE big (id INT PRIMARY KEY, b LONGBLOB)")
        .await
        .unwrap();
    // Larger than what the loopback socket buffers take, so sending it blocks.
    let insert = format!("INSERT INTO big VALUES (1, '{}')", "x".repeat(32 << 20));
    let cluster = cluster();
    cluster.pause("primary").unwrap();
    let paused = Paused("primary");
    let t = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(20), c.query_drop(&insert)).await;
    let took = t.elapsed();
    drop(paused);
    eprintln!("[faults] 32 MiB INSERT to a hung primary: {r:?} after {took:?}");
    let e = match &r {
        Ok(Err(e)) => e,
        other => panic!("the INSERT must fail, not {other:?} after {took:?}"),
    };
    assert_eq!(
        code(e),
        2013,
        "lost connection: its outcome is the server's"
    );
    // The send itself was cut off (not the wait for a reply after it).
    assert!(e.to_string().contains("took no data"), "{e}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // Cut off mid-packet, the statement never ran.
    let mut direct = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    let n: Option<i64> = direct
        .query_first("SELECT COUNT(*) FROM big")
        .await
        .unwrap();
    assert_eq!(n, Some(0));
}
