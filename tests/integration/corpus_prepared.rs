//! Corpus, part 3: prepared statements (COM_STMT_PREPARE / EXECUTE / CLOSE) with every
//! parameter type mysql_async sends, re-execution, closing, errors at prepare and at
//! execute, metadata changes, and stored procedures called through the binary protocol.

use crate::differential::{Ctx, Entry};
use crate::steps;
use mysql_async::prelude::*;
use mysql_async::Value;

/// One value of every kind the binary protocol carries.
fn all_params() -> Vec<Value> {
    vec![
        Value::NULL,
        Value::from(i8::MIN),
        Value::from(i16::MIN),
        Value::from(i32::MAX),
        Value::from(i64::MIN),
        Value::from(u8::MAX),
        Value::from(u16::MAX),
        Value::from(u32::MAX),
        Value::from(u64::MAX),
        Value::from(1.5f32),
        Value::from(-2.25e300f64),
        Value::Bytes(vec![0, 1, 0xfe, 0xff]),
        Value::from("émoji 😀 text"),
        Value::from(""),
        Value::Date(2024, 2, 29, 13, 14, 15, 123_456),
        Value::Date(2024, 1, 1, 0, 0, 0, 0),
        Value::Date(0, 0, 0, 0, 0, 0, 0),
        Value::Time(true, 1, 2, 3, 4, 5),
        Value::Time(false, 34, 22, 59, 59, 999_999),
        Value::Time(false, 0, 0, 0, 0, 0),
    ]
}

async fn typed_table(c: &mut Ctx) {
    c.q("CREATE TABLE t (id INT PRIMARY KEY, ti TINYINT, si SMALLINT, i INT, bi BIGINT, ub BIGINT UNSIGNED, \
         f FLOAT, d DOUBLE, de DECIMAL(20,6), b VARBINARY(10), s VARCHAR(40), dt DATETIME(6), da DATE, tm TIME(6), \
         ts TIMESTAMP(3) NULL, y YEAR, e ENUM('a','b'), j JSON, u UUID, ip INET6, bt BIT(8))")
        .await;
}

/// The prepared-statement entries.
pub fn entries() -> Vec<Entry> {
    vec![
        steps!("every parameter type echoed", |c| {
            let ps = all_params();
            let marks = vec!["?"; ps.len()].join(", ");
            c.exec(&format!("SELECT {marks}"), ps).await;
        }),
        steps!("every parameter type stored and read back", |c| {
            typed_table(c).await;
            let ins = "INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
            if let Some(s) = c.prep(ins).await {
                let rows: Vec<Vec<Value>> = vec![
                    vec![
                        1.into(),
                        (-128i8).into(),
                        (-32768i16).into(),
                        i32::MIN.into(),
                        i64::MAX.into(),
                        u64::MAX.into(),
                        3.25f32.into(),
                        1e-300f64.into(),
                        "-12345678901234.123456".into(),
                        Value::Bytes(vec![0, 0xff]),
                        "ñ😀".into(),
                        Value::Date(1999, 12, 31, 23, 59, 59, 999_999),
                        Value::Date(2000, 2, 29, 0, 0, 0, 0),
                        Value::Time(true, 0, 1, 2, 3, 500_000),
                        Value::Date(2020, 5, 6, 7, 8, 9, 123_000),
                        2155u16.into(),
                        "b".into(),
                        "{\"a\": [1, null]}".into(),
                        "123e4567-e89b-12d3-a456-426655440000".into(),
                        "fe80::1".into(),
                        Value::Bytes(vec![0xa5]),
                    ],
                    vec![2.into(); 1]
                        .into_iter()
                        .chain(std::iter::repeat_n(Value::NULL, 20))
                        .collect(),
                    vec![
                        3.into(),
                        "7".into(),
                        8.5f64.into(),
                        "9".into(),
                        10u64.into(),
                        11i64.into(),
                        "1.25".into(),
                        12i32.into(),
                        13.0f32.into(),
                        "str".into(),
                        14i64.into(),
                        "2001-01-01 01:01:01.5".into(),
                        "2001-01-01".into(),
                        "-1:00:00".into(),
                        Value::NULL,
                        1901i32.into(),
                        1i32.into(),
                        "[]".into(),
                        Value::NULL,
                        "::".into(),
                        255u8.into(),
                    ],
                ];
                for r in rows {
                    c.run(&s, r).await;
                }
                c.close(s).await;
            }
            c.q("SELECT * FROM t ORDER BY id").await;
            c.exec("SELECT * FROM t ORDER BY id", ()).await;
            c.exec(
                "SELECT * FROM t WHERE dt > ? OR tm < ? OR u = ? ORDER BY id",
                (
                    Value::Date(1990, 1, 1, 0, 0, 0, 0),
                    Value::Time(false, 0, 0, 0, 0, 0),
                    "123e4567-e89b-12d3-a456-426655440000",
                ),
            )
            .await;
        }),
        steps!("re-execute with new parameters, then close", |c| {
            c.q("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, a VARCHAR(10))")
                .await;
            if let Some(ins) = c.prep("INSERT INTO t (a) VALUES (?)").await {
                for a in ["one", "two", "three"] {
                    c.run(&ins, (a,)).await;
                }
                c.run(&ins, (Value::NULL,)).await;
                let stale = ins.clone();
                c.close(ins).await;
                c.run(&stale, ("after close",)).await;
            }
            if let Some(sel) = c.prep("SELECT * FROM t WHERE id > ? ORDER BY id").await {
                c.run(&sel, (0,)).await;
                c.run(&sel, (2,)).await;
                c.run(&sel, ("1",)).await;
                c.run(&sel, (1, 2)).await;
                c.close(sel).await;
            }
        }),
        steps!("two statements open at once, interleaved with text", |c| {
            c.q("CREATE TABLE t (id INT PRIMARY KEY, a INT)").await;
            let a = c.prep("INSERT INTO t VALUES (?, ?)").await;
            let b = c.prep("SELECT SUM(a), COUNT(*) FROM t").await;
            if let (Some(a), Some(b)) = (a, b) {
                for i in 0..5 {
                    c.run(&a, (i, i * 10)).await;
                    c.run(&b, ()).await;
                    c.q("SELECT COUNT(*) FROM t").await;
                }
                c.close(a).await;
                c.run(&b, ()).await;
                c.close(b).await;
            }
        }),
        steps!("errors at prepare", |c| {
            c.prep("SELEC ?").await;
            c.prep("SELECT * FROM nope WHERE a = ?").await;
            c.prep("SELECT 1; SELECT 2").await;
            c.prep("SELECT ? FROM DUAL WHERE ? = nosuchcol").await;
            c.prep("").await;
            c.q("SELECT 'connection fine'").await;
        }),
        steps!("errors at execute", |c| {
            c.q("CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL, s TINYINT)")
                .await;
            if let Some(s) = c.prep("INSERT INTO t VALUES (?, ?, ?)").await {
                c.run(&s, (1, 1, 1)).await;
                c.run(&s, (1, 2, 2)).await;
                c.run(&s, (2, Value::NULL, 2)).await;
                c.run(&s, (3, 3, 1000)).await;
                c.run(&s, (4, "abc", 1)).await;
                c.run(&s, (5, 5, 5)).await;
                c.close(s).await;
            }
            c.exec("SELECT * FROM t WHERE id = ? / 0", (1,)).await;
            c.exec(
                "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'from execute'",
                (),
            )
            .await;
            c.q("SELECT * FROM t ORDER BY id").await;
        }),
        steps!("metadata changes between executions", |c| {
            c.q("CREATE TABLE t (id INT PRIMARY KEY, a INT)").await;
            c.q("INSERT INTO t VALUES (1, 1)").await;
            if let Some(s) = c.prep("SELECT * FROM t").await {
                c.run(&s, ()).await;
                c.q("ALTER TABLE t ADD COLUMN b VARCHAR(5) DEFAULT 'new'")
                    .await;
                c.run(&s, ()).await;
                c.q("ALTER TABLE t MODIFY a BIGINT UNSIGNED").await;
                c.run(&s, ()).await;
                c.q("DROP TABLE t").await;
                c.run(&s, ()).await;
                c.close(s).await;
            }
        }),
        steps!("prepared DDL, SET, SHOW and DO", |c| {
            c.exec("CREATE TABLE t (a INT)", ()).await;
            c.exec("SET @v = ?", ("prepared",)).await;
            c.exec("SELECT @v", ()).await;
            c.exec("SHOW TABLES", ()).await;
            c.exec("SHOW VARIABLES LIKE ?", ("autocommit",)).await;
            c.exec("DO ?", (1,)).await;
            c.exec("INSERT INTO t VALUES (?), (?), (?)", (1, 2, 3))
                .await;
            c.exec("SELECT LAST_INSERT_ID(?), ROW_COUNT()", (99,)).await;
            c.exec("DROP TABLE t", ()).await;
        }),
        steps!("many parameters", |c| {
            let n = 2000;
            let sql = format!("SELECT {}", vec!["? + 0"; n].join(", "));
            let ps: Vec<Value> = (0..n as i64).map(|i| Value::Int(i * 7919 - 1000)).collect();
            c.exec(&sql, ps).await;
            let concat = format!("SELECT CONCAT({})", vec!["?"; 300].join(", "));
            let ps: Vec<Value> = (0..300).map(|i| Value::from(format!("p{i}-é"))).collect();
            c.exec(&concat, ps).await;
        }),
        steps!("procedure with two result sets, prepared", |c| {
            c.q("CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(5))")
                .await;
            c.q("INSERT INTO t VALUES (1, 'x'), (2, 'y')").await;
            c.q(
                "CREATE PROCEDURE p(IN n INT) BEGIN SELECT * FROM t WHERE id <= n ORDER BY id; \
                 SELECT COUNT(*) AS c, 'é' AS s; END",
            )
            .await;
            c.q("CALL p(2)").await;
            if let Some(s) = c.prep("CALL p(?)").await {
                c.run(&s, (1,)).await;
                c.run(&s, (2,)).await;
                c.close(s).await;
            }
            c.exec("CALL p(5)", ()).await;
            c.q("SELECT 'after'").await;
        }),
        steps!("procedure with OUT parameters, prepared", |c| {
            c.q(
                "CREATE PROCEDURE p(IN x INT, OUT y INT, INOUT z VARCHAR(10)) \
                 BEGIN SELECT x AS seen; SET y = x * 2; SET z = CONCAT(IFNULL(z, ''), '!'); END",
            )
            .await;
            c.exec("CALL p(?, ?, ?)", (21, Value::NULL, "hi")).await;
            c.q("SET @z = 'v'").await;
            c.exec("CALL p(?, @y, @z)", (4,)).await;
            c.q("SELECT @y, @z").await;
            c.q("CREATE PROCEDURE pf() BEGIN SELECT 1; SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'late'; END").await;
            c.exec("CALL pf()", ()).await;
            c.q("SELECT 'usable'").await;
        }),
        steps!(
            "exec_batch: MariaDB bulk execution (COM_STMT_BULK_EXECUTE) where offered",
            |c| {
                c.q("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, a INT, s VARCHAR(10))")
                    .await;
                let rows: Vec<(i32, String)> = (0..50).map(|i| (i, format!("r{i}"))).collect();
                let r = c
                    .conn()
                    .exec_batch("INSERT INTO t (a, s) VALUES (?, ?)", rows)
                    .await;
                c.done("exec_batch insert", r);
                let r = c
                    .conn()
                    .exec_batch("UPDATE t SET a = a + 1 WHERE id = ?", (1..=5).map(|i| (i,)))
                    .await;
                c.done("exec_batch update", r);
                c.q("SELECT COUNT(*), SUM(a), MAX(id) FROM t").await;
                let r = c.conn().exec_batch("SELECT ? + 1", vec![(1,), (2,)]).await;
                c.done("exec_batch select", r);
                c.q("SELECT 'usable'").await;
            }
        ),
        steps!("prepared statements survive nothing across reset", |c| {
            if let Some(s) = c.prep("SELECT ? * 2").await {
                c.run(&s, (21,)).await;
                let r = c.conn().reset().await;
                c.done("reset", r);
                c.run(&s, (21,)).await;
            }
        }),
    ]
}
