//! Real client programs through the proxy: the `mariadb` command-line client (its output
//! must match the same script run straight against the primary) and sysbench's OLTP
//! workloads (prepared statements by default, and plain text queries), which must finish
//! with no errors and no reconnects. These are the clients users will point at the proxy
//! first, and they use protocol corners (multi-statements, COM_INIT_DB, COM_STATISTICS,
//! the prepared-statement protocol) that hand-written tests miss.

use crate::harness;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The script the `mariadb` client runs, with `{db}` replaced by the schema. DELIMITER
/// makes the client send the two SELECTs as one multi-statement COM_QUERY.
const CLI_SCRIPT: &str = r"use {db};
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20));
INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, NULL);
SELECT * FROM t ORDER BY id;
DELIMITER //
SELECT COUNT(*) AS n FROM t; UPDATE t SET v = 'three' WHERE id = 3; SELECT v FROM t WHERE id = 3 //
DELIMITER ;
SELECT * FROM no_such_table;
SELECT DATABASE(), 'after the error' AS still_running;
\s
SELECT 'end' AS marker;
";

/// Runs `cmd` with `stdin` as input, killing it after `limit`.
fn run_bounded(mut cmd: Command, stdin: &str, limit: Duration) -> Output {
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let stdin = stdin.to_string();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let _ = input.write_all(stdin.as_bytes());
    });
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = feeder.join();
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Fails with an install hint when `program` is not on PATH.
fn require(program: &str, package: &str) {
    if let Err(e) = Command::new(program).arg("--version").output() {
        panic!("{program} not found ({e}): install it with `apt-get install -y {package}`");
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The `mariadb` client on `port` as app/app, ignoring any option files.
fn mariadb_cli(port: u16, password: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new("mariadb");
    cmd.args(["--no-defaults", "-h127.0.0.1", "--protocol=tcp", "-uapp"])
        .arg(format!("-P{port}"))
        .arg(format!("-p{password}"))
        .args(extra);
    cmd
}

/// Output with what legitimately differs between two connections blanked out: the port,
/// connection id, uptime and server counters of `\s`, the port in any other line, and
/// the `-rwproxy` suffix the proxy adds to the server version in its greeting.
fn normalise(text: &[u8], port: u16) -> String {
    const VARYING: [&str; 4] = ["Connection id:", "TCP port:", "Uptime:", "Threads:"];
    String::from_utf8_lossy(text)
        .lines()
        .map(
            |line| match VARYING.iter().find(|p| line.trim_start().starts_with(*p)) {
                Some(p) => format!("{p} <varies>"),
                None if line.starts_with("Server version:") => line.replacen("-rwproxy", "", 1),
                None => line.replace(&port.to_string(), "<port>"),
            },
        )
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs [`CLI_SCRIPT`] with `--force` against `port` in a freshly created schema.
fn run_script(port: u16, db: &str) -> (Option<i32>, String, String) {
    block_on(harness::fresh_schema(db));
    let script = CLI_SCRIPT.replace("{db}", db);
    let out = run_bounded(
        mariadb_cli(port, "app", &["--force", "--table"]),
        &script,
        Duration::from_secs(60),
    );
    (
        out.status.code(),
        normalise(&out.stdout, port),
        normalise(&out.stderr, port),
    )
}

#[test]
fn mariadb_cli_script_matches_direct() {
    require("mariadb", "mariadb-client");
    let env = harness::env();
    let db = "real_clients_cli";
    let direct = run_script(env.cluster.primary().port, db);
    let proxied = run_script(env.proxy_port, db);
    // Sanity: the direct run really exercised the script.
    assert!(
        direct.1.contains("after the error") && direct.1.contains("three"),
        "{}",
        direct.1
    );
    assert!(direct.2.contains("ERROR 1146 (42S02)"), "{}", direct.2);
    assert_eq!(
        proxied.1, direct.1,
        "stdout through the proxy differs from direct"
    );
    assert_eq!(
        proxied.2, direct.2,
        "stderr through the proxy differs from direct"
    );
    assert_eq!(
        proxied.0, direct.0,
        "exit code through the proxy differs from direct"
    );
}

#[test]
fn mariadb_cli_wrong_password_is_1045() {
    require("mariadb", "mariadb-client");
    let env = harness::env();
    let out = run_bounded(
        mariadb_cli(env.proxy_port, "not-the-password", &["-e", "SELECT 1"]),
        "",
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "login with a wrong password succeeded"
    );
    assert!(stderr.contains("ERROR 1045 (28000)"), "{stderr}");
    assert!(stderr.contains("Access denied for user 'app'"), "{stderr}");
}

/// Totals from sysbench's final report.
#[derive(Debug)]
struct SysbenchReport {
    transactions: u64,
    queries: u64,
    ignored_errors: u64,
    reconnects: u64,
}

/// The first number after `label` on the line that starts with it.
fn stat(text: &str, label: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.trim_start().starts_with(label))?;
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn parse_report(text: &str) -> Option<SysbenchReport> {
    Some(SysbenchReport {
        transactions: stat(text, "transactions:")?,
        queries: stat(text, "queries:")?,
        ignored_errors: stat(text, "ignored errors:")?,
        reconnects: stat(text, "reconnects:")?,
    })
}

/// Runs `sysbench <test> <args> <action>` through the proxy on schema `db`; fails the
/// test with sysbench's own output when it exits non-zero.
fn sysbench(test: &str, db: &str, args: &[&str], action: &str, limit: Duration) -> String {
    let env = harness::env();
    let mut cmd = Command::new("sysbench");
    cmd.arg(test)
        .args([
            "--db-driver=mysql",
            "--mysql-host=127.0.0.1",
            "--mysql-user=app",
        ])
        .args(["--mysql-password=app", "--tables=2", "--table-size=1000"])
        .arg(format!("--mysql-port={}", env.proxy_port))
        .arg(format!("--mysql-db={db}"))
        .args(args)
        .arg(action);
    let out = run_bounded(cmd, "", limit);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sysbench {test} {action} through the proxy failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Checks a run's report: work was done, nothing reconnected, and at most
/// `max_ignored` errors were ignored (sysbench exits non-zero on any other error).
fn assert_clean_run(what: &str, output: &str, max_ignored: u64) -> SysbenchReport {
    let r = parse_report(output).unwrap_or_else(|| panic!("{what}: no report in:\n{output}"));
    assert!(
        r.transactions > 0 && r.queries > 0,
        "{what}: no work done: {r:?}\n{output}"
    );
    assert!(
        r.ignored_errors <= max_ignored,
        "{what}: errors: {r:?}\n{output}"
    );
    assert_eq!(r.reconnects, 0, "{what}: reconnects: {r:?}\n{output}");
    r
}

#[test]
fn sysbench_oltp_read_write_prepared_statements() {
    require("sysbench", "sysbench");
    let db = block_on(harness::fresh_schema("real_clients_sb_rw"));
    let limit = Duration::from_secs(120);
    sysbench("oltp_read_write", &db, &[], "prepare", limit);
    // Four writers on 2 x 1000 rows deadlock now and then straight against the server
    // too (ERR 1213, the transaction is rolled back and retried). Only 1213 is ignored,
    // so any other error is fatal to sysbench and fails the test; deadlocks stay rare.
    let out = sysbench(
        "oltp_read_write",
        &db,
        &[
            "--threads=4",
            "--time=10",
            "--report-interval=0",
            "--mysql-ignore-errors=1213",
        ],
        "run",
        limit,
    );
    let transactions = parse_report(&out).map_or(0, |r| r.transactions);
    let report = assert_clean_run("oltp_read_write", &out, transactions / 20);
    eprintln!("oltp_read_write through the proxy: {report:?}");
    sysbench("oltp_read_write", &db, &[], "cleanup", limit);
}

#[test]
fn sysbench_point_select_text_protocol() {
    require("sysbench", "sysbench");
    let db = block_on(harness::fresh_schema("real_clients_sb_ps_off"));
    let limit = Duration::from_secs(120);
    sysbench("oltp_point_select", &db, &[], "prepare", limit);
    // The run's sessions are not the one that loaded the tables: replicas catch up first.
    block_on(harness::caught_up());
    let out = sysbench(
        "oltp_point_select",
        &db,
        &[
            "--threads=4",
            "--time=5",
            "--report-interval=0",
            "--db-ps-mode=disable",
        ],
        "run",
        limit,
    );
    let report = assert_clean_run("oltp_point_select (ps disabled)", &out, 0);
    eprintln!("oltp_point_select --db-ps-mode=disable through the proxy: {report:?}");
    sysbench("oltp_point_select", &db, &[], "cleanup", limit);
}

#[test]
fn sysbench_report_parsing() {
    let sample = "SQL statistics:\n    queries performed:\n        read:  140\n\
                  \x20   transactions:                        10     (0.99 per sec.)\n\
                  \x20   queries:                             200    (19.9 per sec.)\n\
                  \x20   ignored errors:                      0      (0.00 per sec.)\n\
                  \x20   reconnects:                          0      (0.00 per sec.)\n";
    let r = parse_report(sample).expect("parsed");
    assert_eq!(
        (r.transactions, r.queries, r.ignored_errors, r.reconnects),
        (10, 200, 0, 0)
    );
}
