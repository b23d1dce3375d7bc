//! Helpers for the admin tests: the real `mariadb` client against an admin port, its
//! batch output as rows, a minimal HTTP/1.1 client, and the servers' own counters.

// Shared by two test binaries (`integration`, `replication`); each uses part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

/// Runs `sql` with the `mariadb` client as `user` on 127.0.0.1:`port` in batch mode
/// (tab-separated, with a header line). Err carries the client's stderr.
pub fn mariadb(port: u16, user: &str, password: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("mariadb")
        .arg("--no-defaults")
        .args(["--protocol=TCP", "-h127.0.0.1"])
        .arg(format!("-P{port}"))
        .arg(format!("-u{user}"))
        .arg(format!("-p{password}"))
        .args(["-B", "-e", sql])
        .output()
        .expect("run the mariadb client (apt-get install -y mariadb-client)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs `sql` on the admin port as admin/admin; panics on an error.
pub fn admin(port: u16, sql: &str) -> String {
    mariadb(port, "admin", "admin", sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Batch output as rows keyed by column name.
pub fn table(out: &str) -> Vec<HashMap<String, String>> {
    let mut lines = out.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.split('\t').collect();
    lines
        .map(|l| {
            cols.iter()
                .zip(l.split('\t'))
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// `SHOW BACKENDS` on the admin port, by backend name.
pub fn backends(port: u16) -> HashMap<String, HashMap<String, String>> {
    table(&admin(port, "SHOW BACKENDS"))
        .into_iter()
        .map(|r| (r["name"].clone(), r))
        .collect()
}

/// A numeric column of a row.
pub fn num(row: &HashMap<String, String>, col: &str) -> u64 {
    row.get(col)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{col} in {row:?}"))
}

/// One HTTP/1.1 request to 127.0.0.1:`port`; returns the status and the body.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    basic_auth: Option<&str>,
) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.unwrap_or("");
    let auth = basic_auth
        .map(|a| {
            use base64::Engine;
            let enc = base64::engine::general_purpose::STANDARD.encode(a);
            format!("Authorization: Basic {enc}\r\n")
        })
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send http");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read http");
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// `Com_select` of node `name` (a server-side count of SELECT statements it ran).
pub fn com_select(cluster: &rwproxy::cluster::Cluster, name: &str) -> u64 {
    crate::harness::node_sql(
        cluster,
        name,
        "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'COM_SELECT'",
    )
    .trim()
    .parse()
    .expect("Com_select")
}
