//! The no-lost-writes ledger: clients insert uniquely keyed rows and move money between
//! accounts in transactions through the proxy, recording what each was told, while a
//! chaos loop kills and restarts the replicas and the primary. Afterwards every
//! acknowledged write is on the primary exactly once and, after catch-up, on each
//! replica; failed ones nowhere; unknown ones at most once; balances add up, and each
//! account's balance is exactly what the transfers present say (nothing half-applied).

use crate::faults_util::*;
use crate::harness::{caught_up, env};
use mysql_async::prelude::*;
use rwproxy::replication::BackendState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ACCOUNTS: i64 = 20;
const OPENING: i64 = 1000;

/// What one client recorded.
#[derive(Default)]
struct Record {
    /// Insert key → outcome.
    inserts: Vec<(i64, Outcome)>,
    /// Transfer key → outcome.
    transfers: Vec<(i64, Outcome)>,
    /// Read-your-writes checks that did not see the acked insert.
    stale_reads: u64,
    /// Reads of own writes that failed (the first few, verbatim).
    read_errors: Vec<String>,
    /// Logins refused (primary away).
    login_errors: u64,
}

/// One transfer of `amount` from `src` to `dst`, keyed `k`. Updates go in account order
/// (no deadlocks between clients). An error before COMMIT is sent means it did not
/// commit (the server rolls back a broken session's transaction).
async fn transfer(c: &mut mysql_async::Conn, k: i64, src: i64, dst: i64, amount: i64) -> Outcome {
    let (lo, hi) = (src.min(dst), src.max(dst));
    let delta = |id: i64| if id == src { -amount } else { amount };
    let body = [
        "BEGIN".to_string(),
        format!(
            "UPDATE accounts SET balance = balance + ({}) WHERE id = {lo}",
            delta(lo)
        ),
        format!(
            "UPDATE accounts SET balance = balance + ({}) WHERE id = {hi}",
            delta(hi)
        ),
        format!("INSERT INTO transfers (k, src, dst, amount) VALUES ({k}, {src}, {dst}, {amount})"),
    ];
    for sql in &body {
        if c.query_drop(sql).await.is_err() {
            let _ = c.query_drop("ROLLBACK").await;
            return Outcome::Failed;
        }
    }
    judge(&c.query_drop("COMMIT").await)
}

/// A client: inserts (autocommit, then read back) and transfers until `stop`.
async fn client(port: u16, db: String, id: i64, stop: Arc<AtomicBool>) -> Record {
    let mut rec = Record::default();
    let mut conn: Option<mysql_async::Conn> = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut i = 0i64;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match mysql_async::Conn::new(opts(port, &db)).await {
                Ok(c) => conn.insert(c),
                Err(_) => {
                    rec.login_errors += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        i += 1;
        let k = id * 1_000_000 + i;
        let outcome = if i % 2 == 0 {
            let r = c
                .query_drop(format!("INSERT INTO ledger (k) VALUES ({k})"))
                .await;
            let o = judge(&r);
            rec.inserts.push((k, o));
            if o == Outcome::Acked {
                // Read-your-writes: the session's next read sees it.
                match c
                    .query_first::<i64, _>(format!("SELECT COUNT(*) FROM ledger WHERE k = {k}"))
                    .await
                {
                    Ok(Some(1)) => {}
                    Ok(_) => rec.stale_reads += 1,
                    Err(e) => rec.read_errors.push(e.to_string()),
                }
            }
            o
        } else {
            let src = (k * 7 + id) % ACCOUNTS + 1;
            let dst = (src + k % (ACCOUNTS - 1)) % ACCOUNTS + 1;
            let o = transfer(c, k, src, dst, k % 50 + 1).await;
            rec.transfers.push((k, o));
            o
        };
        if outcome != Outcome::Acked {
            // The session may be gone (the proxy closes it when its primary broke).
            conn = None;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    rec
}

/// Kills and restarts the replicas and the primary, one at a time, waiting after each
/// restart until the proxy has the node Online again. Returns what it did.
async fn chaos(p: &crate::harness::InProcProxy) -> Vec<String> {
    let mut cluster = cluster();
    let mut log = Vec::new();
    for name in ["replica1", "primary", "replica2", "primary"] {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let b = backend(p, name);
        let t = Instant::now();
        tokio::task::block_in_place(|| cluster.kill(name)).unwrap();
        wait_state(&b, BackendState::Down, Duration::from_secs(5)).await;
        let down = t.elapsed();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        cluster.restart(name).await.unwrap();
        wait_state(&b, BackendState::Online, Duration::from_secs(30)).await;
        log.push(format!(
            "{name}: Down {down:?} after the kill began, Online again after {:?}",
            t.elapsed()
        ));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    log
}

/// The state of one server: key counts, transfers present, balances.
struct Books {
    ledger: HashMap<i64, i64>,
    transfers: HashMap<i64, (i64, i64, i64, i64)>,
    balances: HashMap<i64, i64>,
}

async fn books(node: &rwproxy::cluster::NodeInfo, db: &str) -> Books {
    let opts = mysql_async::OptsBuilder::from_opts(env().cluster.opts(node, "app", "app"))
        .db_name(Some(db));
    let mut c = mysql_async::Conn::new(opts)
        .await
        .expect("connect to a node");
    let ledger: Vec<(i64, i64)> = c
        .query("SELECT k, COUNT(*) FROM ledger GROUP BY k")
        .await
        .unwrap();
    let transfers: Vec<(i64, i64, i64, i64, i64)> = c
        .query("SELECT k, COUNT(*), MIN(src), MIN(dst), MIN(amount) FROM transfers GROUP BY k")
        .await
        .unwrap();
    let balances: Vec<(i64, i64)> = c.query("SELECT id, balance FROM accounts").await.unwrap();
    let _ = c.disconnect().await;
    Books {
        ledger: ledger.into_iter().collect(),
        transfers: transfers
            .into_iter()
            .map(|(k, n, s, d, a)| (k, (n, s, d, a)))
            .collect(),
        balances: balances.into_iter().collect(),
    }
}

/// Checks one server's books against what the clients were told.
fn audit(name: &str, b: &Books, inserts: &[(i64, Outcome)], transfers: &[(i64, Outcome)]) -> usize {
    for (k, o) in inserts {
        let n = b.ledger.get(k).copied().unwrap_or(0);
        let ok = match o {
            Outcome::Acked => n == 1,
            Outcome::Failed => n == 0,
            Outcome::Unknown => n <= 1,
        };
        assert!(ok, "{name}: insert {k} ({o:?}) found {n} times");
    }
    for (k, o) in transfers {
        let n = b.transfers.get(k).map(|t| t.0).unwrap_or(0);
        let ok = match o {
            Outcome::Acked => n == 1,
            Outcome::Failed => n == 0,
            Outcome::Unknown => n <= 1,
        };
        assert!(ok, "{name}: transfer {k} ({o:?}) found {n} times");
    }
    let written: std::collections::HashSet<i64> =
        inserts.iter().chain(transfers).map(|(k, _)| *k).collect();
    assert!(
        b.ledger
            .keys()
            .chain(b.transfers.keys())
            .all(|k| written.contains(k)),
        "{name}: rows no client wrote"
    );
    // Each balance is the opening plus exactly the transfers present.
    let mut want: HashMap<i64, i64> = (1..=ACCOUNTS).map(|id| (id, OPENING)).collect();
    for (_, s, d, a) in b.transfers.values() {
        *want.entry(*s).or_default() -= a;
        *want.entry(*d).or_default() += a;
    }
    assert_eq!(
        b.balances, want,
        "{name}: balances do not match the transfers present"
    );
    let total: i64 = b.balances.values().sum();
    assert_eq!(total, ACCOUNTS * OPENING, "{name}: money created or lost");
    inserts
        .iter()
        .chain(transfers)
        .filter(|(k, o)| {
            *o == Outcome::Unknown && (b.ledger.contains_key(k) || b.transfers.contains_key(k))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_loses_and_doubles_nothing_through_crashes() {
    let _serial = SERIAL.lock().await;
    let db = setup("fault_ledger").await;
    let mut c = mysql_async::Conn::new(crate::harness::direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    c.query_drop(
        "CREATE TABLE ledger (id BIGINT AUTO_INCREMENT PRIMARY KEY, k BIGINT NOT NULL, KEY (k))",
    )
    .await
    .unwrap();
    c.query_drop(
        "CREATE TABLE transfers (id BIGINT AUTO_INCREMENT PRIMARY KEY, k BIGINT NOT NULL, \
         src INT NOT NULL, dst INT NOT NULL, amount INT NOT NULL, KEY (k))",
    )
    .await
    .unwrap();
    c.query_drop("CREATE TABLE accounts (id INT PRIMARY KEY, balance BIGINT NOT NULL)")
        .await
        .unwrap();
    c.query_drop(format!(
        "INSERT INTO accounts SELECT seq, {OPENING} FROM seq_1_to_{ACCOUNTS}"
    ))
    .await
    .unwrap();
    drop(c);
    caught_up().await;
    let p = fast_proxy().await;
    for name in ["primary", "replica1", "replica2"] {
        wait_state(
            &backend(&p, name),
            BackendState::Online,
            Duration::from_secs(10),
        )
        .await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (1..=4)
        .map(|id| tokio::spawn(client(p.port, db.clone(), id, stop.clone())))
        .collect();
    let started = Instant::now();
    let events = chaos(&p).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Record::default();
    for h in clients {
        let r = h.await.unwrap();
        all.inserts.extend(r.inserts);
        all.transfers.extend(r.transfers);
        all.stale_reads += r.stale_reads;
        all.read_errors.extend(r.read_errors);
        all.login_errors += r.login_errors;
    }
    let ran = started.elapsed();
    caught_up().await;
    let count = |v: &[(i64, Outcome)], o: Outcome| v.iter().filter(|(_, x)| *x == o).count();
    eprintln!("[ledger] chaos ({ran:?}): {events:?}");
    for (what, v) in [("inserts", &all.inserts), ("transfers", &all.transfers)] {
        eprintln!(
            "[ledger] {what}: acknowledged {}, failed {}, unknown {}",
            count(v, Outcome::Acked),
            count(v, Outcome::Failed),
            count(v, Outcome::Unknown)
        );
    }
    eprintln!(
        "[ledger] read-your-writes checks: {} stale, {} errors {:?}; logins refused: {}",
        all.stale_reads,
        all.read_errors.len(),
        &all.read_errors[..all.read_errors.len().min(3)],
        all.login_errors
    );
    let mut primary_books: Option<Books> = None;
    for node in &cluster().nodes {
        let b = books(node, &db).await;
        if let Some(p) = &primary_books {
            // A replica holds exactly what the primary holds.
            assert!(
                b.ledger == p.ledger && b.transfers == p.transfers && b.balances == p.balances,
                "{} differs from the primary",
                node.name
            );
        }
        let unknown_found = audit(&node.name, &b, &all.inserts, &all.transfers);
        eprintln!(
            "[ledger] {}: found {} ledger rows, {} transfers ({unknown_found} of the unknown \
             writes applied); balances sum to {}",
            node.name,
            b.ledger.len(),
            b.transfers.len(),
            b.balances.values().sum::<i64>()
        );
        primary_books.get_or_insert(b);
    }
    let acked = count(&all.inserts, Outcome::Acked) + count(&all.transfers, Outcome::Acked);
    assert!(acked > 100, "the workload ran: {acked} acknowledged writes");
    assert_eq!(all.stale_reads, 0, "read-your-writes violated");
}
