//! The per-statement cost of the admin counters, measured piece by piece (what
//! `dispatch` → `observe` adds to each request):
//!
//! - `backend_request`: `begin_request` + `finish` — requests, reads/writes,
//!   outstanding, latency EWMA and histogram (`Instant::now` twice included);
//! - `route_reason`: one count in the lock-free by-reason table;
//! - `digest_text/*`: fingerprint + one map read + atomics for a text statement
//!   (sysbench's point select, an UPDATE, a 40-value IN list);
//! - `digest_prepared`: an execute's digest (key cached at first use);
//! - `session_activity`: what `SHOW SESSIONS` costs a session per command (two
//!   uncontended locks, one clock read, the statement text copied);
//! - `all_text_point_select`: the whole addition for one text point select.
//!
//! Run with `cargo bench --bench admin` (`-- --quick` for a fast pass).

use criterion::{criterion_group, criterion_main, Criterion};
use rwproxy::admin::digest::{Digests, Execution};
use rwproxy::config::Config;
use rwproxy::replication::{RequestKind, Topology};
use rwproxy::server::counters::ReasonCounters;
use std::hint::black_box;
use std::path::Path;

const CONFIG: &str = "[[users]]\nname = \"a\"\npassword = \"a\"\n\
    [[backends]]\nname = \"p\"\naddress = \"127.0.0.1:1\"\nrole = \"primary\"\n\
    [[backends]]\nname = \"r\"\naddress = \"127.0.0.1:2\"\nrole = \"replica\"\n";

const EXEC: Execution = Execution {
    us: 180,
    rows: 1,
    on_primary: false,
    error: false,
};

fn bench(c: &mut Criterion) {
    let topo = Topology::from_config(&Config::parse(CONFIG, Path::new("b.toml")).unwrap());
    let replica = topo.backends[1].clone();
    c.bench_function("backend_request", |b| {
        b.iter(|| black_box(replica.begin_request(RequestKind::Read).finish()))
    });
    let reasons = ReasonCounters::default();
    c.bench_function("route_reason", |b| {
        b.iter(|| reasons.count(black_box("read"), false))
    });
    let digests = Digests::default();
    let mut g = c.benchmark_group("digest_text");
    let in_list = format!(
        "SELECT * FROM t WHERE id IN ({})",
        (1..=40)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (name, sql) in [
        (
            "point_select",
            "SELECT c FROM sbtest1 WHERE id=5021".to_string(),
        ),
        (
            "update",
            "UPDATE sbtest3 SET k=k+1 WHERE id=4981".to_string(),
        ),
        ("in_list_40", in_list),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| digests.record_sql(black_box(sql.as_bytes()), EXEC))
        });
    }
    g.finish();
    // A prepared statement's execute: through the entry it keeps.
    let sql: &[u8] = b"SELECT c FROM sbtest1 WHERE id=?";
    let mut kept = None;
    c.bench_function("digest_prepared", |b| {
        b.iter(|| digests.record_kept(&mut kept, black_box(sql), EXEC))
    });
    let sessions = rwproxy::server::registry::Registry::default();
    let handle = sessions.register(None);
    let sql: &[u8] = b"SELECT c FROM sbtest1 WHERE id=5021";
    c.bench_function("session_activity", |b| {
        b.iter(|| {
            handle.begin("Query", Some(black_box(sql)));
            handle.end(Some("sbtest"));
        })
    });
    c.bench_function("all_text_point_select", |b| {
        b.iter(|| {
            handle.begin("Query", Some(black_box(sql)));
            let (us, _) = replica.begin_request(RequestKind::Read).finish();
            reasons.count("read", false);
            digests.record_sql(
                black_box(b"SELECT c FROM sbtest1 WHERE id=5021"),
                Execution { us, ..EXEC },
            );
            handle.end(Some("sbtest"));
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
