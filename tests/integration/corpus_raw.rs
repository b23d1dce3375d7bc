//! Corpus, part 6: raw-protocol scenarios mysql_async cannot produce, compared payload by
//! payload: server-side cursors (COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY, then
//! COM_STMT_FETCH until SERVER_STATUS_LAST_ROW_SENT), with and without CLIENT_DEPRECATE_EOF;
//! COM_STMT_RESET; a pipelined prepare + execute of statement 0xFFFFFFFF; LOAD DATA LOCAL
//! from clients with and without CLIENT_LOCAL_FILES; prepared statements for a client with
//! MARIADB_CLIENT_CACHE_METADATA. Other commands: `corpus_commands`.
//!
//! The one field normalised is the statement id in COM_STMT_PREPARE's OK: it counts
//! statements per server connection, and the proxy's backend connection may have served
//! earlier clients.

use crate::differential::{Ctx, Entry, Event};
use crate::rawclient::{caps, RawConn, Shape, *};
use crate::steps;

pub(crate) const MYSQL_TYPE_LONGLONG: u8 = 0x08;
pub(crate) const COM_INIT_DB: u8 = 0x02;
pub(crate) const COM_PROCESS_KILL: u8 = 0x0c;
pub(crate) const COM_PING: u8 = 0x0e;
pub(crate) const COM_RESET_CONNECTION: u8 = 0x1f;
pub(crate) const CLIENT_SESSION_TRACK: u32 = 1 << 23;

pub(crate) fn cmd(code: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![code];
    p.extend_from_slice(body);
    p
}

/// COM_STMT_EXECUTE with `flags` and BIGINT parameters.
pub(crate) fn execute(id: u32, flags: u8, params: &[i64]) -> Vec<u8> {
    let mut p = vec![COM_STMT_EXECUTE];
    p.extend_from_slice(&id.to_le_bytes());
    p.push(flags);
    p.extend_from_slice(&1u32.to_le_bytes());
    if !params.is_empty() {
        p.extend(std::iter::repeat_n(0u8, params.len().div_ceil(8)));
        p.push(1);
        for _ in params {
            p.extend_from_slice(&[MYSQL_TYPE_LONGLONG, 0]);
        }
        for v in params {
            p.extend_from_slice(&v.to_le_bytes());
        }
    }
    p
}

/// COM_STMT_FETCH of `rows` rows from statement `id`'s cursor.
pub(crate) fn fetch(id: u32, rows: u32) -> Vec<u8> {
    let mut p = vec![COM_STMT_FETCH];
    p.extend_from_slice(&id.to_le_bytes());
    p.extend_from_slice(&rows.to_le_bytes());
    p
}

/// Sends a command on `r`, records its response, returns it.
pub(crate) async fn send(
    c: &mut Ctx,
    r: &mut RawConn,
    payload: &[u8],
    shape: Shape,
) -> Option<Vec<Vec<u8>>> {
    let resp = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        r.command(payload, shape),
    )
    .await;
    match resp {
        Ok(resp) => {
            c.raw_log(&resp);
            resp.ok()
        }
        Err(_) => {
            c.push([Event::Failed(
                "raw: no complete response within 10 s".into(),
            )]);
            None
        }
    }
}

/// Prepares `sql`; records the response with the statement id zeroed; returns the id.
pub(crate) async fn prepare(c: &mut Ctx, r: &mut RawConn, sql: &str) -> Option<u32> {
    let mut resp = send_quiet(r, &cmd(COM_STMT_PREPARE, sql.as_bytes()), Shape::Prepare).await;
    let id = match resp.as_mut() {
        Ok(ps)
            if ps
                .first()
                .is_some_and(|p| p.first() == Some(&0) && p.len() >= 5) =>
        {
            let id = u32::from_le_bytes([ps[0][1], ps[0][2], ps[0][3], ps[0][4]]);
            ps[0][1..5].fill(0);
            Some(id)
        }
        _ => None,
    };
    c.raw_log(&resp);
    id
}

pub(crate) async fn send_quiet(
    r: &mut RawConn,
    payload: &[u8],
    shape: Shape,
) -> std::io::Result<Vec<Vec<u8>>> {
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        r.command(payload, shape),
    )
    .await
    {
        Ok(x) => x,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no complete response",
        )),
    }
}

/// Fetches `n` rows at a time until the server says the last row was sent.
async fn fetch_all(c: &mut Ctx, r: &mut RawConn, id: u32, n: u32) {
    let de = r.deprecate_eof();
    for _ in 0..20 {
        let Some(resp) = send(c, r, &fetch(id, n), Shape::Rows).await else {
            return;
        };
        let last = resp.last().cloned().unwrap_or_default();
        if last.first() != Some(&0xfe) || status_of(&last, de) & SERVER_STATUS_LAST_ROW_SENT != 0 {
            return;
        }
    }
}

async fn cursor_scenario(c: &mut Ctx, client_caps: u32) {
    c.q("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20), d DECIMAL(6,2), b BLOB)")
        .await;
    c.q("INSERT INTO t SELECT seq, CONCAT('row ', seq), seq / 4, IF(seq % 3, REPEAT('z', seq), NULL) FROM seq_1_to_10").await;
    let Some(mut r) = c.raw(client_caps).await else {
        return;
    };
    let Some(id) = prepare(c, &mut r, "SELECT * FROM t ORDER BY id").await else {
        return;
    };
    send(
        c,
        &mut r,
        &execute(id, CURSOR_TYPE_READ_ONLY, &[]),
        Shape::Results,
    )
    .await;
    fetch_all(c, &mut r, id, 3).await;
    // Re-executing reopens the cursor; a big fetch takes everything at once.
    send(
        c,
        &mut r,
        &execute(id, CURSOR_TYPE_READ_ONLY, &[]),
        Shape::Results,
    )
    .await;
    fetch_all(c, &mut r, id, 100).await;
    // Without the cursor flag the rows come with the execute.
    send(c, &mut r, &execute(id, 0, &[]), Shape::Results).await;
    let Some(pid) = prepare(c, &mut r, "SELECT id, a FROM t WHERE id > ? ORDER BY id").await else {
        return;
    };
    send(
        c,
        &mut r,
        &execute(pid, CURSOR_TYPE_READ_ONLY, &[6]),
        Shape::Results,
    )
    .await;
    fetch_all(c, &mut r, pid, 2).await;
    // A cursor on a statement without a result set, and text in between fetches.
    let Some(did) = prepare(c, &mut r, "DO ?").await else {
        return;
    };
    send(
        c,
        &mut r,
        &execute(did, CURSOR_TYPE_READ_ONLY, &[1]),
        Shape::Results,
    )
    .await;
    send(
        c,
        &mut r,
        &execute(id, CURSOR_TYPE_READ_ONLY, &[]),
        Shape::Results,
    )
    .await;
    send(c, &mut r, &fetch(id, 2), Shape::Rows).await;
    send(
        c,
        &mut r,
        &cmd(COM_QUERY, b"SELECT 'between fetches'"),
        Shape::Results,
    )
    .await;
    send(c, &mut r, &fetch(id, 2), Shape::Rows).await;
    send(
        c,
        &mut r,
        &cmd(COM_STMT_RESET, &id.to_le_bytes()),
        Shape::Single,
    )
    .await;
    // COM_STMT_CLOSE has no reply; the next command shows the connection is in step.
    let closed = r.send_only(&cmd(COM_STMT_CLOSE, &pid.to_le_bytes())).await;
    c.note(format!("close sent: {}", closed.is_ok()));
    send(c, &mut r, &execute(pid, 0, &[1]), Shape::Results).await;
    send(
        c,
        &mut r,
        &cmd(COM_QUERY, b"SELECT 'in step'"),
        Shape::Results,
    )
    .await;
}

/// Prepared statements for a client that caches column definitions: a server leaves them
/// out of an execute when they are what it last sent for the statement, and a text result
/// carries the "metadata follows" byte too.
async fn cached_metadata_scenario(c: &mut Ctx, client_caps: u32) {
    c.q("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20))")
        .await;
    c.q("INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')")
        .await;
    c.q("CREATE PROCEDURE two() BEGIN SELECT id FROM t; SELECT a, id FROM t; END")
        .await;
    let Some(mut r) = c
        .raw_ext(client_caps, caps::MARIADB_CLIENT_CACHE_METADATA)
        .await
    else {
        return;
    };
    // Reads pinned to one replica: on another one the statement is prepared afresh, and
    // that server sends the definitions once more (right, but not what the primary does).
    let hint = "/* rwproxy:backend=replica1 */ ";
    let typed = format!("{hint}SELECT id, a, ? AS p FROM t WHERE id >= ? ORDER BY id");
    let Some(id) = prepare(c, &mut r, &typed).await else {
        return;
    };
    for round in 0..3 {
        send(c, &mut r, &execute(id, 0, &[round, 2]), Shape::Results).await;
    }
    let Some(all) = prepare(c, &mut r, &format!("{hint}SELECT * FROM t ORDER BY id")).await else {
        return;
    };
    send(c, &mut r, &execute(all, 0, &[]), Shape::Results).await;
    send(c, &mut r, &execute(all, 0, &[]), Shape::Results).await;
    send(
        c,
        &mut r,
        &execute(all, CURSOR_TYPE_READ_ONLY, &[]),
        Shape::Results,
    )
    .await;
    fetch_all(c, &mut r, all, 2).await;
    // A procedure's result sets always come with their definitions.
    if let Some(call) = prepare(c, &mut r, "CALL two()").await {
        send(c, &mut r, &execute(call, 0, &[]), Shape::Results).await;
        send(c, &mut r, &execute(call, 0, &[]), Shape::Results).await;
    }
    send(c, &mut r, &execute(id, 0, &[7, 3]), Shape::Results).await;
    send(
        c,
        &mut r,
        &cmd(COM_QUERY, b"SELECT 'text' AS t, 2 AS n"),
        Shape::Results,
    )
    .await;
}

/// The raw-protocol entries about statements and files; more in `corpus_commands`.
pub fn entries() -> Vec<Entry> {
    vec![
        steps!("cursor fetch (classic EOF)", |c| {
            cursor_scenario(c, caps::BASE).await;
        }),
        steps!("cursor fetch (CLIENT_DEPRECATE_EOF)", |c| {
            cursor_scenario(c, caps::BASE | caps::CLIENT_DEPRECATE_EOF).await
        }),
        steps!("cached column definitions (classic EOF)", |c| {
            cached_metadata_scenario(c, caps::BASE).await
        }),
        steps!("cached column definitions (CLIENT_DEPRECATE_EOF)", |c| {
            cached_metadata_scenario(c, caps::BASE | caps::CLIENT_DEPRECATE_EOF).await
        }),
        steps!(
            "LOAD DATA LOCAL from a client without CLIENT_LOCAL_FILES",
            |c| {
                c.q("CREATE TABLE t (a INT)").await;
                let Some(mut r) = c.raw(caps::BASE).await else {
                    return;
                };
                let sql = cmd(
                    COM_QUERY,
                    b"LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE t",
                );
                let resp = send_quiet(&mut r, &sql, Shape::Results).await;
                c.raw_log(&resp);
                send(
                    c,
                    &mut r,
                    &cmd(COM_QUERY, b"SELECT COUNT(*) FROM t"),
                    Shape::Results,
                )
                .await;
            }
        ),
        steps!(
            "LOAD DATA LOCAL from a raw client with CLIENT_LOCAL_FILES",
            |c| {
                c.q("CREATE TABLE t (a INT)").await;
                let Some(mut r) = c.raw(caps::BASE | caps::CLIENT_LOCAL_FILES).await else {
                    return;
                };
                let sql = cmd(COM_QUERY, b"LOAD DATA LOCAL INFILE 'raw.txt' INTO TABLE t");
                let Some(resp) = send(c, &mut r, &sql, Shape::Results).await else {
                    return;
                };
                if resp.first().and_then(|p| p.first()) == Some(&0xfb) {
                    let done = r.send_file(b"1\n2\n3\n").await;
                    c.raw_log(&done);
                }
                send(
                    c,
                    &mut r,
                    &cmd(COM_QUERY, b"SELECT SUM(a) FROM t"),
                    Shape::Results,
                )
                .await;
            }
        ),
        steps!(
            "pipelined prepare and execute of the last statement (id 0xFFFFFFFF)",
            |c| {
                let Some(mut r) = c.raw(caps::BASE).await else {
                    return;
                };
                let prep = cmd(COM_STMT_PREPARE, b"SELECT ? * 2 AS doubled");
                let exec = execute(u32::MAX, 0, &[21]);
                let sent = async {
                    r.send_only(&prep).await?;
                    r.send_only(&exec).await?;
                    let mut p = r.read_response(Shape::Prepare).await?;
                    if let Some(ok) = p.first_mut().filter(|ok| ok.len() >= 5) {
                        ok[1..5].fill(0);
                    }
                    // The execute's response numbers its packets from 1 again.
                    r.restart_sequence(1);
                    p.extend(r.read_response(Shape::Results).await?);
                    Ok(p)
                };
                let resp = tokio::time::timeout(std::time::Duration::from_secs(10), sent).await;
                match resp {
                    Ok(resp) => c.raw_log(&resp),
                    Err(_) => c.push([Event::Failed(
                        "raw: no complete response within 10 s".into(),
                    )]),
                }
                send(
                    c,
                    &mut r,
                    &cmd(COM_QUERY, b"SELECT 'in step'"),
                    Shape::Results,
                )
                .await;
            }
        ),
    ]
}
