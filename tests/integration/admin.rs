//! The admin port with the real `mariadb` client: credentials, SHOW commands, runtime
//! changes, RELOAD and SAVE CONFIG, and `rwproxy status`. Tests that change a proxy
//! use an in-process proxy with its own config file and ports.

use crate::admin_util::{admin, backends, mariadb, num, table};
use crate::harness::{env, fresh_schema, inproc_proxy, proxy_opts};
use mysql_async::prelude::*;
use std::time::{Duration, Instant};

async fn setup(name: &str) -> String {
    let db = fresh_schema(name).await;
    let mut c = mysql_async::Conn::new(proxy_opts("app", "app", Some(&db)))
        .await
        .unwrap();
    c.query_drop("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO t SELECT seq, seq FROM seq_1_to_50")
        .await
        .unwrap();
    c.disconnect().await.unwrap();
    crate::harness::caught_up().await;
    db
}

fn opts(port: u16, db: &str) -> mysql_async::Opts {
    mysql_async::OptsBuilder::from_opts(proxy_opts("app", "app", Some(db)))
        .tcp_port(port)
        .into()
}

#[test]
fn credentials_are_per_port() {
    let e = env();
    let err = mariadb(e.admin_port, "admin", "wrong", "SHOW BACKENDS").unwrap_err();
    assert!(err.contains("ERROR 1045"), "wrong admin password: {err}");
    let err = mariadb(e.admin_port, "app", "app", "SHOW BACKENDS").unwrap_err();
    assert!(
        err.contains("ERROR 1045"),
        "a proxy user on the admin port: {err}"
    );
    let err = mariadb(e.proxy_port, "admin", "admin", "SELECT 1").unwrap_err();
    assert!(
        err.contains("ERROR 1045"),
        "the admin on the proxy port: {err}"
    );
    // What clients send on connect works; unknown statements say what is supported.
    let out = admin(e.admin_port, "SELECT @@version_comment LIMIT 1");
    assert!(out.contains("rwproxy admin"), "{out}");
    let out = admin(e.admin_port, "SET NAMES utf8mb4; SELECT 1");
    assert!(out.lines().any(|l| l == "1"), "{out}");
    let err = mariadb(e.admin_port, "admin", "admin", "DROP TABLE users").unwrap_err();
    assert!(
        err.contains("ERROR") && err.contains("SHOW BACKENDS") && err.contains("RELOAD CONFIG"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_commands_report_traffic() {
    let db = setup("adm_show").await;
    let p = inproc_proxy(|t| t).await;
    let header = admin(p.admin_port, "SHOW BACKENDS");
    let cols: Vec<&str> = header.lines().next().unwrap().split('\t').collect();
    assert_eq!(
        cols[..16],
        [
            "name",
            "address",
            "role",
            "state",
            "weight",
            "max_lag_ms",
            "lag_ms",
            "gtid",
            "conn_active",
            "conn_idle",
            "queries",
            "reads",
            "writes",
            "errors",
            "p50_ms",
            "p99_ms"
        ]
    );
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    let before = backends(p.admin_port);
    for i in 0..40 {
        let _: Option<i64> = c
            .query_first(format!("SELECT v FROM t WHERE id = {}", i % 50 + 1))
            .await
            .unwrap();
    }
    c.query_drop("UPDATE t SET v = v + 1 WHERE id = 1")
        .await
        .unwrap();
    let after = backends(p.admin_port);
    let delta = |name: &str, col: &str| num(&after[name], col) - num(&before[name], col);
    assert_eq!(delta("replica1", "reads") + delta("replica2", "reads"), 40);
    assert!(delta("primary", "writes") >= 1, "{after:?}");
    assert!(after["replica1"]["p99_ms"] != "NULL", "{after:?}");
    // The open session shows up with its last statement; the digest groups the reads.
    let sessions = table(&admin(p.admin_port, "SHOW SESSIONS"));
    let mine = sessions
        .iter()
        .find(|s| s["db"] == db)
        .expect("session listed");
    assert!(mine["statement"].starts_with("UPDATE t SET"), "{mine:?}");
    assert_eq!(mine["user"], "app");
    let digests = table(&admin(p.admin_port, "SHOW DIGESTS"));
    let reads = digests
        .iter()
        .find(|d| d["digest_text"] == "select v from t where id = ?")
        .unwrap_or_else(|| panic!("{digests:?}"));
    assert_eq!(num(reads, "count"), 40);
    assert_eq!(num(reads, "on_replica"), 40);
    let stats = table(&admin(p.admin_port, "SHOW STATS"));
    let stat = |k: &str| {
        stats
            .iter()
            .find(|r| r["name"] == k)
            .map(|r| r["value"].clone())
    };
    assert_eq!(stat("clients_connected").as_deref(), Some("1"));
    assert!(stat("route.read.replica").is_some(), "{stats:?}");
    let route = table(&admin(
        p.admin_port,
        "EXPLAIN ROUTE SELECT * FROM t FOR UPDATE",
    ));
    assert_eq!(route[0]["route"], "primary");
    let route = table(&admin(p.admin_port, "EXPLAIN ROUTE SELECT * FROM t"));
    assert_eq!(route[0]["route"], "replica");
    assert_eq!(route[0]["candidates"], "replica1,replica2");
    c.disconnect().await.unwrap();
}

/// A prepared statement's executions count under its digest again after `TRUNCATE
/// DIGESTS`: the statement's cached entry is renewed, not kept pointing at the old table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statement_digests_count_again_after_truncate() {
    let db = setup("adm_digest_ps").await;
    let p = inproc_proxy(|t| t).await;
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    let stmt = c.prep("SELECT v FROM t WHERE id = ?").await.unwrap();
    let count = |out: &str| {
        table(out)
            .iter()
            .find(|d| d["digest_text"] == "select v from t where id = ?")
            .map(|d| num(d, "count"))
    };
    for i in 1..=3 {
        let v: Option<i64> = c.exec_first(&stmt, (i,)).await.unwrap();
        assert_eq!(v, Some(i));
    }
    // A later statement's answer means the executes before it were recorded.
    c.query_drop("DO 1").await.unwrap();
    assert_eq!(count(&admin(p.admin_port, "SHOW DIGESTS")), Some(3));
    admin(p.admin_port, "TRUNCATE DIGESTS");
    assert_eq!(count(&admin(p.admin_port, "SHOW DIGESTS")), None);
    for i in 4..=5 {
        let v: Option<i64> = c.exec_first(&stmt, (i,)).await.unwrap();
        assert_eq!(v, Some(i));
    }
    c.query_drop("DO 1").await.unwrap();
    assert_eq!(count(&admin(p.admin_port, "SHOW DIGESTS")), Some(2));
    c.disconnect().await.unwrap();
}

/// `rwproxy status` prints the backends table of a running proxy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_the_backends() {
    let p = inproc_proxy(|t| t).await;
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_rwproxy"))
        .args(["status", "--admin"])
        .arg(format!("127.0.0.1:{}", p.admin_port))
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("NAME") && text.contains("replica2"), "{text}");
    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_rwproxy"))
        .args(["status", "--password", "nope", "--admin"])
        .arg(format!("127.0.0.1:{}", p.admin_port))
        .output()
        .await
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("1045"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_refuses_a_broken_file_and_applies_a_good_one() {
    let db = setup("adm_reload").await;
    let p = inproc_proxy(|t| t).await;
    let good = std::fs::read_to_string(&p.config_path).unwrap();
    // A session that must survive both reloads.
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    c.query_drop("SET @kept = 7").await.unwrap();
    let before = backends(p.admin_port);
    std::fs::write(
        &p.config_path,
        good.replacen("role = \"replica\"", "role = \"leader\"", 1),
    )
    .unwrap();
    let err = mariadb(p.admin_port, "admin", "admin", "RELOAD CONFIG").unwrap_err();
    assert!(
        err.contains("backends[1].role") && err.contains("unchanged"),
        "the reason names the key: {err}"
    );
    let after = backends(p.admin_port);
    for (name, row) in &before {
        assert_eq!(row["weight"], after[name]["weight"]);
        assert_eq!(row["address"], after[name]["address"]);
    }
    assert_eq!(
        p.proxy.config.load().backends[1].role,
        rwproxy::config::Role::Replica
    );
    // A good file: the new weight applies, the session lives on.
    std::fs::write(&p.config_path, good.replacen("weight = 1", "weight = 5", 1)).unwrap();
    admin(p.admin_port, "RELOAD CONFIG");
    assert_eq!(backends(p.admin_port)["replica1"]["weight"], "5");
    let kept: Option<i64> = c.query_first("SELECT @kept").await.unwrap();
    assert_eq!(kept, Some(7), "the session was not dropped");
    let v: Option<i64> = c.query_first("SELECT v FROM t WHERE id = 3").await.unwrap();
    assert_eq!(v, Some(3));
    c.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_config_round_trips_and_keeps_comments() {
    let p = inproc_proxy(|t| {
        let t = t.replacen("[[backends]]", "# hand-written note\n[[backends]]", 1);
        t.replacen(
            "max_lag_ms = 1000\n",
            "max_lag_ms = 1000   # the DBA's limit\n",
            1,
        )
    })
    .await;
    admin(
        p.admin_port,
        "UPDATE backends SET weight = 4, state = 'draining' WHERE name = 'replica1'",
    );
    admin(
        p.admin_port,
        "UPDATE backends SET max_lag_ms = 2500 WHERE name = 'replica2'",
    );
    admin(p.admin_port, "SAVE CONFIG");
    let saved = std::fs::read_to_string(&p.config_path).unwrap();
    assert!(
        saved.contains("# hand-written note\n[[backends]]"),
        "{saved}"
    );
    assert!(
        saved.contains("max_lag_ms = 1000   # the DBA's limit"),
        "{saved}"
    );
    assert!(saved.contains("weight = 4"), "{saved}");
    assert!(saved.contains("state = \"draining\""), "{saved}");
    assert!(saved.contains("max_lag_ms = 2500"), "{saved}");
    let c = rwproxy::config::Config::parse(&saved, &p.config_path).expect("saved file is valid");
    assert_eq!(c.backends[1].weight, 4);
    // Round trip: runtime back to defaults, then RELOAD brings the saved values back.
    admin(
        p.admin_port,
        "UPDATE backends SET weight = 1, state = 'online' WHERE name = 'replica1'",
    );
    admin(p.admin_port, "RELOAD CONFIG");
    let b = backends(p.admin_port);
    assert_eq!(b["replica1"]["weight"], "4");
    assert_eq!(b["replica1"]["state"], "draining");
    assert_eq!(b["replica2"]["max_lag_ms"], "2500");
}

/// A draining primary takes no new sessions; running ones go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_primary_refuses_new_sessions_only() {
    let p = inproc_proxy(|t| t).await;
    let mut old = mysql_async::Conn::new(opts(p.port, "mysql")).await.unwrap();
    admin(
        p.admin_port,
        "UPDATE backends SET state = 'draining' WHERE name = 'primary'",
    );
    let refused = mysql_async::Conn::new(opts(p.port, "mysql")).await;
    let err = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("draining"), "{err}");
    let one: Option<i64> = old
        .query_first("SELECT 1 FROM DUAL WHERE 1 = 1 FOR UPDATE")
        .await
        .unwrap();
    assert_eq!(one, Some(1));
    admin(
        p.admin_port,
        "UPDATE backends SET state = 'online' WHERE name = 'primary'",
    );
    let started = Instant::now();
    loop {
        match mysql_async::Conn::new(opts(p.port, "mysql")).await {
            Ok(c) => {
                c.disconnect().await.unwrap();
                break;
            }
            Err(e) => assert!(started.elapsed() < Duration::from_secs(5), "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    old.disconnect().await.unwrap();
}

/// RELOAD with a backend and a user removed, then back: the topology, the monitor and
/// logins follow; an open session is not dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_removes_and_adds_backends_and_users() {
    let db = setup("adm_reload_topo").await;
    let p = inproc_proxy(|t| t).await;
    let full = std::fs::read_to_string(&p.config_path).unwrap();
    let start = full
        .find("[[backends]]\nname = \"replica2\"")
        .expect("replica2 block");
    let end = start + full[start..].find("\n\n").expect("end of block");
    let users = full
        .find("[[users]]\nname = \"other\"")
        .expect("user other");
    let users_end = users + full[users..].find("\n\n").expect("end of user");
    let mut smaller = full.clone();
    assert!(users > end, "users come after the backends");
    smaller.replace_range(users..users_end, "");
    smaller.replace_range(start..end, "");
    let mut c = mysql_async::Conn::new(opts(p.port, &db)).await.unwrap();
    let other = |port| {
        mysql_async::OptsBuilder::from_opts(proxy_opts("other", "other", None)).tcp_port(port)
    };
    mysql_async::Conn::new(other(p.port))
        .await
        .unwrap()
        .disconnect()
        .await
        .unwrap();
    std::fs::write(&p.config_path, &smaller).unwrap();
    admin(p.admin_port, "RELOAD CONFIG");
    assert_eq!(backends(p.admin_port).len(), 2);
    let before = crate::harness::rows_read(&db, "t");
    for i in 0..20 {
        let _: Option<i64> = c
            .query_first(format!("SELECT v FROM t WHERE id = {}", i + 1))
            .await
            .unwrap();
    }
    let after = crate::harness::rows_read(&db, "t");
    assert_eq!(after[2], before[2], "removed replica2 got no reads");
    assert!(after[1] > before[1], "replica1 took them");
    let err = mysql_async::Conn::new(other(p.port))
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        err.unwrap_or_default().contains("1045"),
        "a removed user is refused"
    );
    // Back: replica2 is probed by the monitor again (its lag shows) and serves reads.
    std::fs::write(&p.config_path, &full).unwrap();
    admin(p.admin_port, "RELOAD CONFIG");
    let started = Instant::now();
    loop {
        let b = backends(p.admin_port);
        if b.len() == 3 && b["replica2"]["lag_ms"] != "NULL" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "replica2 not probed: {b:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v: Option<i64> = c.query_first("SELECT v FROM t WHERE id = 9").await.unwrap();
    assert_eq!(v, Some(9), "the session lived through both reloads");
    c.disconnect().await.unwrap();
}
