//! Classifier benchmarks: the cost of deciding where a statement goes.
//!
//! - `sysbench`: the statements of sysbench `oltp_read_write` with literal values
//!   (10 point selects, 4 range selects — simple, SUM, ORDER BY, DISTINCT — an indexed
//!   and a non-indexed UPDATE, a DELETE, an INSERT, BEGIN and COMMIT per transaction),
//!   50 transactions with different ids and strings, 1,000 statements in all.
//! - `classify_one/*`: single sysbench statements (point select, DISTINCT range, INSERT,
//!   BEGIN), for the cost of each kind.
//! - `mixed`: 44 statements of every kind, CTEs and odd ones included, once through
//!   [`classify`] (CTEs parse with sqlparser every time) and once through a warm
//!   [`ClassifyCache`] (the session's path).
//!
//! Throughput is in statements: ns/statement = 1e9 / (elements per second).
//! Run with `cargo bench --bench classify` (`-- --quick` for a fast pass).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rwproxy::router::classify::{classify, ClassifyCache};
use std::hint::black_box;

/// A small deterministic generator, so every run sees the same statements.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn id(&mut self) -> u64 {
        1 + self.next() % 10_000
    }

    /// sysbench's `###########-###########-…` strings: `groups` groups of 11 digits.
    fn digits(&mut self, groups: usize) -> String {
        let parts: Vec<String> = (0..groups)
            .map(|_| format!("{:011}", self.next() % 100_000_000_000))
            .collect();
        parts.join("-")
    }
}

/// One oltp_read_write transaction per step, `txns` of them.
fn sysbench_set(txns: usize) -> Vec<String> {
    let mut r = Lcg(42);
    let mut out = Vec::new();
    for _ in 0..txns {
        out.push("BEGIN".to_string());
        for _ in 0..10 {
            out.push(format!("SELECT c FROM sbtest1 WHERE id={}", r.id()));
        }
        let a = r.id();
        out.push(format!(
            "SELECT c FROM sbtest1 WHERE id BETWEEN {a} AND {}",
            a + 99
        ));
        out.push(format!(
            "SELECT SUM(k) FROM sbtest1 WHERE id BETWEEN {a} AND {}",
            a + 99
        ));
        out.push(format!(
            "SELECT c FROM sbtest1 WHERE id BETWEEN {a} AND {} ORDER BY c",
            a + 99
        ));
        out.push(format!(
            "SELECT DISTINCT c FROM sbtest1 WHERE id BETWEEN {a} AND {} ORDER BY c",
            a + 99
        ));
        out.push(format!("UPDATE sbtest1 SET k=k+1 WHERE id={}", r.id()));
        out.push(format!(
            "UPDATE sbtest1 SET c='{}' WHERE id={}",
            r.digits(10),
            r.id()
        ));
        let id = r.id();
        out.push(format!("DELETE FROM sbtest1 WHERE id={id}"));
        out.push(format!(
            "INSERT INTO sbtest1 (id, k, c, pad) VALUES ({id}, {}, '{}', '{}')",
            r.id(),
            r.digits(10),
            r.digits(5)
        ));
        out.push("COMMIT".to_string());
    }
    out
}

/// Every kind of statement the classifier meets, a few of each.
const MIXED: &[&str] = &[
    "SELECT c FROM sbtest1 WHERE id=5021",
    "select * from `orders` o join customers c on c.id = o.customer_id where o.id = 17",
    "SELECT COUNT(*), MAX(created_at) FROM orders WHERE status IN ('new', 'paid')",
    "SELECT name FROM products WHERE description LIKE '%FOR UPDATE%' LIMIT 10",
    "SELECT * FROM t WHERE id = 1 FOR UPDATE",
    "SELECT * FROM t WHERE id = 1 LOCK IN SHARE MODE",
    "SELECT a INTO @x FROM t WHERE id = 3",
    "SELECT GET_LOCK('job', 10)",
    "SELECT LAST_INSERT_ID()",
    "SELECT FOUND_ROWS()",
    "SELECT my_udf(a) FROM t",
    "SELECT @@version, @@session.sql_mode",
    "SELECT NEXT VALUE FOR seq1",
    "/* rwproxy:replica */ SELECT * FROM reports WHERE day = CURDATE()",
    "/* app=shop */ SELECT id FROM carts WHERE user_id = 9 ORDER BY id DESC LIMIT 1",
    "(SELECT a FROM t1) UNION ALL (SELECT a FROM t2) ORDER BY a",
    "SELECT * FROM (SELECT id, RANK() OVER (PARTITION BY g ORDER BY v) r FROM t) x WHERE r = 1",
    "WITH recent AS (SELECT * FROM orders WHERE created_at > NOW() - INTERVAL 1 DAY) \
     SELECT customer_id, COUNT(*) FROM recent GROUP BY customer_id",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT n FROM r",
    "WITH ids AS (SELECT id FROM t WHERE x = 1) DELETE FROM t WHERE id IN (SELECT id FROM ids)",
    "INSERT INTO orders (customer_id, total) VALUES (9, 19.99)",
    "UPDATE products SET stock = stock - 1 WHERE id = 4 AND stock > 0",
    "DELETE FROM carts WHERE updated_at < '2024-01-01'",
    "REPLACE INTO kv (k, v) VALUES ('a', 'b')",
    "CREATE TEMPORARY TABLE tmp_ids (id INT PRIMARY KEY)",
    "DROP TEMPORARY TABLE IF EXISTS tmp_ids",
    "ALTER TABLE t ADD COLUMN c INT",
    "BEGIN",
    "START TRANSACTION READ ONLY",
    "COMMIT",
    "ROLLBACK TO SAVEPOINT s1",
    "SET NAMES utf8mb4",
    "SET autocommit = 0",
    "SET SESSION sql_mode = 'STRICT_TRANS_TABLES'",
    "USE shop",
    "SHOW TABLES",
    "SHOW WARNINGS",
    "SHOW MASTER STATUS",
    "DESCRIBE orders",
    "EXPLAIN SELECT * FROM orders WHERE id = 1",
    "SELECT 1; SELECT 2",
    "SELECT 1; UPDATE t SET a = 1",
    "/*!40101 SET character_set_client = utf8 */",
    "CALL refresh_stats()",
];

fn bench_sysbench(c: &mut Criterion) {
    let set = sysbench_set(50);
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(set.len() as u64));
    g.bench_function("sysbench", |b| {
        b.iter(|| {
            for s in &set {
                black_box(classify(black_box(s.as_bytes())));
            }
        })
    });
    g.finish();
}

/// Single statements, for a feel of the per-kind cost.
fn bench_single(c: &mut Criterion) {
    let set = sysbench_set(1);
    let mut g = c.benchmark_group("classify_one");
    for (name, sql) in [
        ("point_select", &set[1]),
        ("distinct_range", &set[14]),
        ("insert", &set[18]),
        ("begin", &set[0]),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(classify(black_box(sql.as_bytes()))))
        });
    }
    g.finish();
}

fn bench_mixed(c: &mut Criterion) {
    let mut g = c.benchmark_group("classify");
    g.throughput(Throughput::Elements(MIXED.len() as u64));
    g.bench_function("mixed_uncached", |b| {
        b.iter(|| {
            for s in MIXED {
                black_box(classify(black_box(s.as_bytes())));
            }
        })
    });
    let mut cache = ClassifyCache::new();
    g.bench_function("mixed_cached", |b| {
        b.iter(|| {
            for s in MIXED {
                black_box(cache.get_or_classify(black_box(s.as_bytes())));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_sysbench, bench_single, bench_mixed);
criterion_main!(benches);
