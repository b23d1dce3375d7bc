//! Multiplexing with prepared statements: sessions that prepare statements still share
//! a few backend connections, and a statement prepared on a pooled connection serves the
//! next session only where that is the same statement (same default schema) and with that
//! session's own parameter types.

use crate::corpus_raw::{cmd, execute, fetch, MYSQL_TYPE_LONGLONG};
use crate::harness::{caught_up, direct_opts, fresh_schema, inproc_proxy, opts};
use crate::multiplex::{cap_backends, logins, watch_open_conns};
use crate::rawclient::{
    status_of, RawConn, Shape, COM_QUERY, COM_STMT_CLOSE, COM_STMT_EXECUTE, COM_STMT_PREPARE,
    COM_STMT_SEND_LONG_DATA, CURSOR_TYPE_READ_ONLY, SERVER_STATUS_CURSOR_EXISTS,
    SERVER_STATUS_LAST_ROW_SENT,
};
use mysql_async::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

/// MYSQL_TYPE_VAR_STRING, a parameter type.
const VAR_STRING: u8 = 0xfd;

/// A schema with table `t` (ids 1..=20, names `{tag}{id}`) and an empty `log`.
async fn tagged_schema(tag: &str) -> String {
    let db = fresh_schema(&format!("mux_ps_{tag}")).await;
    let mut c = mysql_async::Conn::new(direct_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))")
        .await
        .unwrap();
    let rows: Vec<String> = (1..=20).map(|i| format!("({i}, '{tag}{i}')")).collect();
    c.query_drop(format!("INSERT INTO t VALUES {}", rows.join(",")))
        .await
        .unwrap();
    c.query_drop("CREATE TABLE log (id INT AUTO_INCREMENT PRIMARY KEY, client INT)")
        .await
        .unwrap();
    db
}

/// One client's work, all through prepared statements: reads whose text is the same in
/// every schema, with a string parameter for some clients and a number for others, then a
/// write it reads back. Returns the mismatches.
async fn prepared_round(
    port: u16,
    db: String,
    tag: &'static str,
    i: u64,
    all_in: Arc<Barrier>,
) -> Result<Vec<String>, String> {
    let mut c = mysql_async::Conn::new(opts(port, &db))
        .await
        .map_err(|e| e.to_string())?;
    let mut bad = Vec::new();
    for k in 0..10u64 {
        let id = (i + k) % 20 + 1;
        let echo: mysql_async::Value = if i % 3 == 0 {
            format!("s{i}").into()
        } else {
            (i as i64).into()
        };
        let want_echo = if i % 3 == 0 {
            format!("s{i}")
        } else {
            i.to_string()
        };
        let row: Option<(String, String)> = c
            .exec_first("SELECT name, CONCAT(?, '') FROM t WHERE id = ?", (echo, id))
            .await
            .map_err(|e| e.to_string())?;
        if row != Some((format!("{tag}{id}"), want_echo)) {
            bad.push(format!("client {i} ({tag}): id {id} read {row:?}"));
        }
        if k == 0 {
            // Every session has prepared and run a statement before any goes on
            // (bounded: a session that failed never arrives).
            tokio::time::timeout(Duration::from_secs(10), all_in.wait())
                .await
                .map_err(|_| format!("client {i}: the other sessions never got a connection"))?;
        }
    }
    c.exec_drop("INSERT INTO log (client) VALUES (?)", (i,))
        .await
        .map_err(|e| e.to_string())?;
    let n: Option<u64> = c
        .exec_first("SELECT COUNT(*) FROM log WHERE client = ?", (i,))
        .await
        .map_err(|e| e.to_string())?;
    if n != Some(1) {
        bad.push(format!("client {i} ({tag}): its insert counted {n:?}"));
    }
    c.disconnect().await.map_err(|e| e.to_string())?;
    Ok(bad)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_with_prepared_statements_share_two_connections_per_backend() {
    let (a, b) = (tagged_schema("a").await, tagged_schema("b").await);
    caught_up().await;
    let p = inproc_proxy(|t| cap_backends(t, 2)).await;
    let (max_open, watcher) = watch_open_conns(&p);
    // 24 sessions, each holding prepared statements, on at most 2 connections per backend:
    // only multiplexing lets them all run (a pinned session would hold its connections,
    // and the sessions wait for each other half-way).
    let all_in = Arc::new(Barrier::new(24));
    let tasks: Vec<_> = (0..24u64)
        .map(|i| {
            let (db, tag) = if i % 2 == 0 {
                (a.clone(), "a")
            } else {
                (b.clone(), "b")
            };
            tokio::spawn(prepared_round(p.port, db, tag, i, all_in.clone()))
        })
        .collect();
    let mut bad = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(b) => bad.extend(b),
            Err(e) => bad.push(format!("client failed: {e}")),
        }
    }
    watcher.abort();
    assert!(bad.is_empty(), "{} mismatches: {bad:#?}", bad.len());
    let max_open = max_open.load(Ordering::Relaxed);
    let connects = logins(&p);
    eprintln!("at most {max_open} connections open per backend; logins {connects:?}");
    assert!(max_open <= 2, "{max_open} connections to one backend");
}

/// COM_STMT_EXECUTE of statement `id` with one parameter, `value` of `ty`; the types are
/// sent only when `send_types` (else the server uses the statement's previous ones).
fn execute_one(id: u32, ty: u8, value: &[u8], send_types: bool) -> Vec<u8> {
    let mut p = vec![COM_STMT_EXECUTE];
    p.extend_from_slice(&id.to_le_bytes());
    p.push(0);
    p.extend_from_slice(&1u32.to_le_bytes());
    p.push(0); // null bitmap
    p.push(u8::from(send_types));
    if send_types {
        p.extend_from_slice(&[ty, 0]);
    }
    p.extend_from_slice(value);
    p
}

async fn prepare(r: &mut RawConn, sql: &str) -> u32 {
    let mut p = vec![COM_STMT_PREPARE];
    p.extend_from_slice(sql.as_bytes());
    let resp = r.command(&p, Shape::Prepare).await.unwrap();
    assert_eq!(resp[0][0], 0, "prepare failed: {:?}", resp[0]);
    u32::from_le_bytes(resp[0][1..5].try_into().unwrap())
}

/// The binary row of a one-column result.
async fn row_of(r: &mut RawConn, execute: &[u8]) -> Vec<u8> {
    let resp = r.command(execute, Shape::Results).await.unwrap();
    // Column count, column definition, [EOF,] row, EOF/OK.
    let de = r.deprecate_eof();
    let row: &Vec<u8> = if de { &resp[2] } else { &resp[3] };
    assert!(!row.is_empty() && row[0] == 0, "not a row: {resp:?}");
    row.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_statement_runs_with_each_sessions_own_parameter_types() {
    let db = fresh_schema("mux_ps_types").await;
    // One connection per backend, and both statements on replica1: the two sessions
    // take turns on one backend statement.
    let p = inproc_proxy(|t| cap_backends(t, 1)).await;
    let sql = "/* rwproxy:backend=replica1 */ SELECT ?";
    let connect = || async {
        let caps = crate::rawclient::caps::BASE;
        let (c, _) = RawConn::connect(p.port, "app", "app", Some(&db), caps)
            .await
            .unwrap();
        c
    };
    let (mut x, mut y) = (connect().await, connect().await);
    let (xs, ys) = (prepare(&mut x, sql).await, prepare(&mut y, sql).await);
    let number = |v: i64| {
        let mut row = vec![0, 0];
        row.extend_from_slice(&v.to_le_bytes());
        row
    };
    let text = |s: &str| {
        let mut row = vec![0, 0, s.len() as u8];
        row.extend_from_slice(s.as_bytes());
        row
    };
    for round in 0..3i64 {
        // Each session sends its types once, then relies on the server keeping them.
        let first = round == 0;
        let got = row_of(
            &mut x,
            &execute_one(xs, MYSQL_TYPE_LONGLONG, &(7 + round).to_le_bytes(), first),
        )
        .await;
        assert_eq!(got, number(7 + round), "x, round {round}");
        let word = format!("w{round}");
        let mut v = vec![word.len() as u8];
        v.extend_from_slice(word.as_bytes());
        let got = row_of(&mut y, &execute_one(ys, VAR_STRING, &v, first)).await;
        assert_eq!(got, text(&word), "y, round {round}");
    }
    let made: u64 = logins(&p).iter().sum();
    assert!(
        made <= 3,
        "the sessions did not share connections: {made} logins"
    );
}

/// With MARIADB_CLIENT_CACHE_METADATA a server leaves a statement's column definitions out
/// of an execute when they are what it last sent for that statement. Behind the proxy that
/// may have been to another session: a session that has not got them gets them anyway
/// (sequence ids renumbered), and one that has them gets the response as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_column_definitions_reach_a_session_that_has_not_got_them() {
    use crate::cached_metadata::caching_client;
    use crate::rawclient::caps::{BASE, CLIENT_DEPRECATE_EOF};
    let db = fresh_schema("mux_ps_meta").await;
    // One connection per backend: the sessions take turns on replica1's statement.
    let p = inproc_proxy(|t| cap_backends(t, 1)).await;
    let primary = crate::harness::env().cluster.primary().port;
    let sql = "/* rwproxy:backend=replica1 */ SELECT ? AS v";
    let seven = 7i64.to_le_bytes();
    let number = |id: u32, types: bool| execute_one(id, MYSQL_TYPE_LONGLONG, &seven, types);
    for caps in [BASE, BASE | CLIENT_DEPRECATE_EOF] {
        let connect = |port: u16| caching_client(port, &db, caps);
        // What the server sends a client that prepared the statement and runs it with a
        // number: the definitions (the parameter's type changed the column's), then not.
        let mut direct = connect(primary).await;
        let ds = prepare(&mut direct, sql).await;
        let first = direct.command(&number(ds, true), Shape::Results).await;
        let first = first.unwrap();
        assert_eq!(first[0].last(), Some(&1), "definitions not sent: {first:?}");
        let second = direct.command(&number(ds, false), Shape::Results).await;
        let second = second.unwrap();
        assert_eq!(
            second[0].last(),
            Some(&0),
            "definitions sent again: {second:?}"
        );

        let (mut x, mut y) = (connect(p.port).await, connect(p.port).await);
        let (xs, ys) = (prepare(&mut x, sql).await, prepare(&mut y, sql).await);
        let got = x.command(&number(xs, true), Shape::Results).await.unwrap();
        assert_eq!(got, first, "x's first execute, caps {caps:#x}");
        // replica1's statement last sent these definitions (to x), so it leaves them out
        // now; y has only its prepare's, and must get them.
        let got = y.command(&number(ys, true), Shape::Results).await.unwrap();
        assert_eq!(got, first, "y's first execute, caps {caps:#x}");
        for (r, id) in [(&mut x, xs), (&mut y, ys)] {
            let got = r.command(&number(id, false), Shape::Results).await.unwrap();
            assert_eq!(got, second, "a repeated execute, caps {caps:#x}");
        }
    }
}

/// Queued checkouts wait up to 30 s (not the default 3 s): the other session of the pin
/// tests below waits out a pin, which a loaded machine may stretch.
fn patient_queue(text: String) -> String {
    text.replacen("[proxy]\n", "[proxy]\nqueue_timeout_ms = 30000\n", 1)
}

/// A raw session in `db` that changed a setting, so a connection it leaves needs a reset
/// before another session may use it.
async fn raw_with_a_setting(port: u16, db: &str) -> RawConn {
    let caps = crate::rawclient::caps::BASE;
    let (mut x, _) = RawConn::connect(port, "app", "app", Some(db), caps)
        .await
        .unwrap();
    let set = x
        .command(
            &cmd(COM_QUERY, b"SET SESSION sql_mode = 'ANSI_QUOTES'"),
            Shape::Results,
        )
        .await
        .unwrap();
    assert_eq!(set[0][0], 0, "SET failed: {set:?}");
    x
}

/// Starts another session that counts `t` on `backend`. It answers the count and whether
/// `released` was set by then.
fn other_session(
    port: u16,
    db: &str,
    backend: &str,
    released: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Result<(Option<u64>, bool), mysql_async::Error>> {
    let (released, db) = (released.clone(), db.to_string());
    let sql = format!("/* rwproxy:backend={backend} */ SELECT COUNT(*) FROM t");
    tokio::spawn(async move {
        let mut c = mysql_async::Conn::new(opts(port, &db)).await?;
        let n: Option<u64> = c.query_first(sql).await?;
        Ok((n, released.load(Ordering::SeqCst)))
    })
}

/// Waits for `other_session` and checks it waited for the release.
async fn waited_for_release(
    other: tokio::task::JoinHandle<Result<(Option<u64>, bool), mysql_async::Error>>,
) {
    let (n, after) = tokio::time::timeout(Duration::from_secs(10), other)
        .await
        .expect("the other session never got the connection")
        .unwrap()
        .unwrap();
    assert_eq!(n, Some(20));
    assert!(
        after,
        "the other session used the connection while it was held"
    );
}

/// An open cursor keeps its session on its connection. With one connection to the
/// backend, another session waits until the cursor is closed, and every row of the cursor
/// arrives. Parked with the cursor open, the connection would go to the other session,
/// reset first because the cursor's session changed a setting, and the fetches would fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_cursor_keeps_its_connection_from_other_sessions_until_closed() {
    let db = tagged_schema("cur").await;
    let p = inproc_proxy(|t| patient_queue(cap_backends(t, 1))).await;
    let mut x = raw_with_a_setting(p.port, &db).await;
    let sql = "/* rwproxy:backend=replica1 */ SELECT id FROM t ORDER BY id";
    let id = prepare(&mut x, sql).await;
    let opened = x
        .command(&execute(id, CURSOR_TYPE_READ_ONLY, &[]), Shape::Results)
        .await
        .unwrap();
    let last = opened.last().unwrap();
    assert!(
        status_of(last, x.deprecate_eof()) & SERVER_STATUS_CURSOR_EXISTS != 0,
        "no cursor opened: {opened:?}"
    );
    let released = Arc::new(AtomicBool::new(false));
    let other = other_session(p.port, &db, "replica1", &released);
    // Time for the other session to queue for the connection (or, wrongly, take it).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        let resp = x.command(&fetch(id, 4), Shape::Rows).await.unwrap();
        let (end, rows) = resp.split_last().unwrap();
        assert_eq!(end[0], 0xfe, "fetch failed: {resp:?}");
        // Binary rows: header, null bitmap, then the INT.
        ids.extend(
            rows.iter()
                .map(|r| i32::from_le_bytes(r[2..6].try_into().unwrap())),
        );
        if status_of(end, x.deprecate_eof()) & SERVER_STATUS_LAST_ROW_SENT != 0 {
            break;
        }
    }
    assert_eq!(ids, (1..=20).collect::<Vec<i32>>());
    released.store(true, Ordering::SeqCst);
    x.send_only(&cmd(COM_STMT_CLOSE, &id.to_le_bytes()))
        .await
        .unwrap();
    // The close has no reply; a statement after it shows the session went on.
    let one = x
        .command(&cmd(COM_QUERY, b"SELECT 1"), Shape::Results)
        .await
        .unwrap();
    assert_ne!(one[0][0], 0xff, "{one:?}");
    waited_for_release(other).await;
}

/// Long data keeps its session on the connection that holds it until the execute: the
/// execute sees the data, and another session waits for the connection meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_data_keeps_its_connection_until_the_execute() {
    let db = tagged_schema("long").await;
    let p = inproc_proxy(|t| patient_queue(cap_backends(t, 1))).await;
    let mut x = raw_with_a_setting(p.port, &db).await;
    let id = prepare(&mut x, "SELECT CONCAT(?, '')").await;
    let data = "x".repeat(1000);
    let mut long = vec![COM_STMT_SEND_LONG_DATA];
    long.extend_from_slice(&id.to_le_bytes());
    long.extend_from_slice(&0u16.to_le_bytes());
    long.extend_from_slice(data.as_bytes());
    x.send_only(&long).await.unwrap();
    let released = Arc::new(AtomicBool::new(false));
    let other = other_session(p.port, &db, "primary", &released);
    tokio::time::sleep(Duration::from_millis(300)).await;
    released.store(true, Ordering::SeqCst);
    // The parameter's value is the long data: no value in the execute itself.
    let row = row_of(&mut x, &execute_one(id, VAR_STRING, &[], true)).await;
    // Header, null bitmap, then the string with a 2-byte length (0xfc).
    assert_eq!(&row[2..5], &[0xfc, 0xe8, 0x03], "{row:?}");
    assert_eq!(&row[5..], data.as_bytes());
    waited_for_release(other).await;
}
