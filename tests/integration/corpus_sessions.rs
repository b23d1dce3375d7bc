//! Corpus, part 4: session behaviour: transactions seen from a second connection,
//! autocommit=0, session and user variables, USE, COM_PING, COM_RESET_CONNECTION,
//! COM_CHANGE_USER, temporary tables and locks, and state that must not leak into the
//! next session through the proxy's pooled backend connections.

use crate::differential::{Ctx, Entry};
use crate::steps;
use mysql_async::prelude::*;
use mysql_async::ChangeUserOpts;
use std::time::Duration;

/// Opens connection 1 (the observer) and switches back to connection 0.
pub async fn observer(c: &mut Ctx) {
    let schema = c.schema.clone();
    c.open("app", "app", Some(&schema)).await;
    c.cur = 0;
}

/// Runs `sql` on connection `i`, then makes connection 0 current again.
///
/// Read-your-writes holds within a session; what another session committed reaches
/// the replicas a moment later. So, as the issue asks, replicas catch up first.
pub async fn on(c: &mut Ctx, i: usize, sql: &str) {
    crate::harness::caught_up().await;
    c.cur = i;
    c.q(sql).await;
    c.cur = 0;
}

/// The session entries.
pub fn entries() -> Vec<Entry> {
    vec![
        steps!("BEGIN / COMMIT / ROLLBACK seen from another session", |c| {
            observer(c).await;
            c.q("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB")
                .await;
            c.q("BEGIN").await;
            c.q("INSERT INTO t VALUES (1), (2)").await;
            on(c, 1, "SELECT COUNT(*) FROM t").await;
            c.q("ROLLBACK").await;
            c.q("SELECT COUNT(*) FROM t").await;
            c.q("START TRANSACTION").await;
            c.q("INSERT INTO t VALUES (3)").await;
            c.q("SAVEPOINT s1").await;
            c.q("INSERT INTO t VALUES (4)").await;
            c.q("ROLLBACK TO SAVEPOINT s1").await;
            on(c, 1, "SELECT COUNT(*) FROM t").await;
            c.q("COMMIT").await;
            on(c, 1, "SELECT * FROM t ORDER BY id").await;
            c.q("ROLLBACK TO SAVEPOINT s1").await;
        }),
        steps!("autocommit=0 session", |c| {
            observer(c).await;
            c.q("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB")
                .await;
            c.q("SET autocommit = 0").await;
            c.q("SELECT @@autocommit, @@in_transaction").await;
            c.q("INSERT INTO t VALUES (1)").await;
            c.q("SELECT @@in_transaction").await;
            on(c, 1, "SELECT COUNT(*) FROM t").await;
            c.q("COMMIT").await;
            on(c, 1, "SELECT COUNT(*) FROM t").await;
            c.q("INSERT INTO t VALUES (2)").await;
            c.q("ROLLBACK").await;
            c.q("SET autocommit = 1").await;
            c.q("SELECT COUNT(*) FROM t").await;
        }),
        steps!("read-only transaction and isolation level", |c| {
            c.q("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB")
                .await;
            c.q("START TRANSACTION READ ONLY").await;
            c.q("SELECT COUNT(*) FROM t").await;
            c.q("INSERT INTO t VALUES (1)").await;
            c.q("COMMIT").await;
            c.q("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                .await;
            c.q("SELECT @@tx_isolation, @@session.transaction_isolation")
                .await;
            c.q("SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
                .await;
            c.q("BEGIN").await;
            c.q("SELECT @@tx_isolation").await;
            c.q("COMMIT").await;
        }),
        steps!(
            "SET NAMES with non-ASCII data, read back through the replicas",
            |c| {
                c.q("CREATE TABLE u (id INT PRIMARY KEY, s VARCHAR(40)) CHARSET utf8mb4")
                    .await;
                c.q("SET NAMES utf8mb4").await;
                c.q("INSERT INTO u VALUES (1, '€ ü 漢字 😀')").await;
                c.q("SELECT s, HEX(s), CHAR_LENGTH(s) FROM u").await;
                c.q("SET NAMES latin1").await;
                c.q("SELECT s, @@character_set_results FROM u").await;
                c.q("SET NAMES utf8mb4 COLLATE utf8mb4_bin").await;
                c.q("SELECT s = '€ ü 漢字 😀', @@collation_connection FROM u")
                    .await;
            }
        ),
        steps!("session variables set and read back", |c| {
            c.q("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ZERO_DATE'")
                .await;
            c.q("SELECT @@session.sql_mode, @@GLOBAL.sql_mode = @@session.sql_mode")
                .await;
            c.q("SELECT \"quoted identifier\" FROM DUAL").await;
            c.q("SET time_zone = '+05:30'").await;
            c.q("SELECT @@time_zone, FROM_UNIXTIME(0), CONVERT_TZ('2020-01-01 00:00:00', '+00:00', @@time_zone)").await;
            c.q("SET SESSION group_concat_max_len = 5, SESSION div_precision_increment = 10")
                .await;
            c.q("SELECT GROUP_CONCAT(seq), 1/3 FROM seq_1_to_9").await;
            c.q("SET NAMES latin1").await;
            c.q("SELECT 'ÿ', @@character_set_client, @@character_set_results, @@collation_connection").await;
            c.q("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci").await;
            c.q("SELECT '😀', @@collation_connection").await;
            c.q("SET @@session.max_statement_time = 0.000001").await;
            c.q("SET max_statement_time = 0").await;
        }),
        steps!("user variables", |c| {
            c.q("SET @x = 42, @s = 'str', @d = 1.5, @n = NULL, @b = X'00FF', @dt = NOW() - NOW()")
                .await;
            c.q("SELECT @x, @s, @d, @n, @b, @dt, @never_set").await;
            c.q("SELECT @x := @x + 1, @x").await;
            c.q("SELECT seq INTO @last FROM seq_1_to_3 ORDER BY seq DESC LIMIT 1")
                .await;
            c.q("SELECT @last").await;
            c.exec("SELECT @x, @s", ()).await;
        }),
        steps!("USE another schema then DATABASE()", |c| {
            let other = format!("{}_o", c.schema);
            c.q(format!("DROP DATABASE IF EXISTS {other}")).await;
            c.q(format!("CREATE DATABASE {other}")).await;
            c.q("CREATE TABLE here (a INT)").await;
            c.q(format!("USE {other}")).await;
            c.q("SELECT DATABASE()").await;
            c.q("CREATE TABLE there (b INT)").await;
            c.q("SHOW TABLES").await;
            c.q("SELECT * FROM here").await;
            c.q(format!("USE {}", c.schema)).await;
            c.q("SELECT DATABASE()").await;
            c.q("USE no_such_schema_at_all").await;
            c.q("SELECT DATABASE()").await;
            c.q(format!("DROP DATABASE {other}")).await;
            c.q("SELECT DATABASE()").await;
        }),
        steps!("dropping the current schema", |c| {
            let schema = c.schema.clone();
            c.q(format!("DROP DATABASE {schema}")).await;
            c.q("SELECT DATABASE()").await;
            c.q("CREATE TABLE t (a INT)").await;
            c.q(format!("CREATE DATABASE {schema}")).await;
        }),
        steps!("COM_PING", |c| {
            let r = c.conn().ping().await;
            c.done("ping", r);
            c.q("BEGIN").await;
            let r = c.conn().ping().await;
            c.done("ping", r);
            c.q("COMMIT").await;
        }),
        steps!("COM_RESET_CONNECTION", |c| {
            c.q("SET @x = 1, autocommit = 0, sql_mode = 'ANSI'").await;
            c.q("CREATE TEMPORARY TABLE tmp (a INT)").await;
            c.q("CREATE TABLE t (a INT) ENGINE=InnoDB").await;
            c.q("INSERT INTO t VALUES (1)").await;
            c.q("SELECT GET_LOCK('diff-reset-lock', 0)").await;
            let r = c.conn().reset().await;
            c.done("reset", r);
            c.q("SELECT @x, @@autocommit, @@sql_mode = @@GLOBAL.sql_mode, DATABASE(), @@in_transaction").await;
            c.q("SELECT * FROM tmp").await;
            c.q("SELECT COUNT(*) FROM t").await;
            c.q("SELECT IS_FREE_LOCK('diff-reset-lock')").await;
        }),
        steps!("COM_CHANGE_USER", |c| {
            c.q("SET @x = 1").await;
            c.q("CREATE TEMPORARY TABLE tmp (a INT)").await;
            c.q("SELECT CURRENT_USER()").await;
            let r = c
                .conn()
                .change_user(
                    ChangeUserOpts::default()
                        .with_user(Some("other".into()))
                        .with_pass(Some("other".into())),
                )
                .await;
            c.done("change_user", r);
            c.q("SELECT CURRENT_USER(), USER() LIKE 'other@%', DATABASE(), @x")
                .await;
            c.q("SELECT * FROM tmp").await;
            let r = c
                .conn()
                .change_user(
                    ChangeUserOpts::default()
                        .with_user(Some("app".into()))
                        .with_pass(Some("app".into())),
                )
                .await;
            c.done("change_user", r);
            c.q("SELECT CURRENT_USER()").await;
            let r = c
                .conn()
                .change_user(ChangeUserOpts::default().with_db_name(None))
                .await;
            c.done("change_user", r);
            c.q("SELECT CURRENT_USER(), DATABASE()").await;
        }),
        steps!("COM_CHANGE_USER with a wrong password", |c| {
            let r = c
                .conn()
                .change_user(
                    ChangeUserOpts::default()
                        .with_user(Some("other".into()))
                        .with_pass(Some("wrong".into())),
                )
                .await;
            c.done("change_user", r);
            c.q("SELECT CURRENT_USER()").await;
        }),
        steps!("temporary tables and named locks", |c| {
            observer(c).await;
            c.q("CREATE TEMPORARY TABLE tmp (id INT PRIMARY KEY, a VARCHAR(5))")
                .await;
            c.q("INSERT INTO tmp VALUES (1, 'x')").await;
            c.q("SELECT * FROM tmp").await;
            on(c, 1, "SELECT * FROM tmp").await;
            c.q("SELECT GET_LOCK('diff-named-lock', 0)").await;
            on(
                c,
                1,
                "SELECT GET_LOCK('diff-named-lock', 0), IS_FREE_LOCK('diff-named-lock')",
            )
            .await;
            c.q("SELECT RELEASE_LOCK('diff-named-lock'), RELEASE_LOCK('diff-named-lock')")
                .await;
            c.q("DROP TEMPORARY TABLE tmp").await;
            c.q("LOCK TABLES nope READ").await;
            c.q("CREATE TABLE t (a INT)").await;
            c.q("LOCK TABLES t WRITE").await;
            c.q("INSERT INTO t VALUES (1)").await;
            c.q("UNLOCK TABLES").await;
        }),
        steps!("CLIENT_FOUND_ROWS changes affected rows", |c| {
            let schema = c.schema.clone();
            c.q("CREATE TABLE t (id INT PRIMARY KEY, a INT)").await;
            c.q("INSERT INTO t VALUES (1, 1), (2, 2)").await;
            c.q("UPDATE t SET a = 1").await;
            let opts =
                mysql_async::OptsBuilder::from_opts(c.side.opts("app", "app", Some(&schema)))
                    .client_found_rows(true);
            c.open_opts(opts.into()).await;
            c.q("UPDATE t SET a = 1").await;
            c.q("INSERT INTO t VALUES (1, 1) ON DUPLICATE KEY UPDATE a = 1")
                .await;
            c.cur = 0;
            c.q("UPDATE t SET a = 1").await;
        }),
        steps!("a session without a default schema", |c| {
            c.open("app", "app", None).await;
            c.q("SELECT DATABASE()").await;
            c.q("CREATE TABLE t (a INT)").await;
            c.q(format!("USE {}", c.schema)).await;
            c.q("CREATE TABLE t (a INT)").await;
            c.q("SELECT DATABASE()").await;
        }),
        steps!(
            "a new session without a schema after the last one ran USE",
            |c| {
                // As below, with user `other`, whose pool on the proxy no other test touches.
                c.open("other", "other", None).await;
                c.q("USE mysql").await;
                if let Some(conn) = c.conns.pop() {
                    let _ = conn.disconnect().await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                c.open("other", "other", None).await;
                c.q("SELECT DATABASE()").await;
                if let Some(conn) = c.conns.pop() {
                    let _ = conn.disconnect().await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        ),
        steps!(
            "a new session starts in its own schema after the last one ran USE",
            |c| {
                // User `other` has a pool of its own on the proxy (no other test logs in as it),
                // so the next login gets the connection the last session of `other` used.
                let schema = c.schema.clone();
                for round in 0..2 {
                    c.open("other", "other", Some(&schema)).await;
                    c.q("SELECT DATABASE()").await;
                    c.q(if round == 0 {
                        "USE mysql"
                    } else {
                        "USE information_schema"
                    })
                    .await;
                    c.q("SELECT DATABASE()").await;
                    let last = c.conns.pop();
                    if let Some(conn) = last {
                        let _ = conn.disconnect().await;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                c.open("other", "other", Some(&schema)).await;
                c.q("SELECT DATABASE()").await;
                c.q("CREATE TABLE t (a INT)").await;
            }
        ),
        steps!("session state does not leak into the next session", |c| {
            let schema = c.schema.clone();
            c.q("CREATE TABLE t (a INT) ENGINE=InnoDB").await;
            c.open("other", "other", Some(&schema)).await;
            c.q("SET @leak = 'yes', SESSION sql_mode = 'ANSI', time_zone = '+03:00', autocommit = 0").await;
            c.q("SET NAMES latin1").await;
            c.q("CREATE TEMPORARY TABLE leak_tmp (a INT)").await;
            c.q("SELECT GET_LOCK('diff-leak-lock', 0)").await;
            c.q("BEGIN").await;
            c.q("INSERT INTO t VALUES (1)").await;
            if let Some(s) = c.prep("SELECT 'leaked statement'").await {
                std::mem::forget(s);
            }
            if let Some(conn) = c.conns.pop() {
                let _ = conn.disconnect().await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            for _ in 0..2 {
                c.open("other", "other", Some(&schema)).await;
                c.q("SELECT @leak, @@sql_mode = @@GLOBAL.sql_mode, @@time_zone, @@autocommit, @@character_set_client, \
                     @@character_set_results, DATABASE(), @@in_transaction, IS_FREE_LOCK('diff-leak-lock'), \
                     (SELECT COUNT(*) FROM t)").await;
                c.q("SELECT * FROM leak_tmp").await;
                if let Some(conn) = c.conns.pop() {
                    let _ = conn.disconnect().await;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }),
    ]
}
