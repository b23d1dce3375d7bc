//! The server settings and setup SQL the launcher shares with the compose cluster's images:
//! `docker/mariadb/rwproxy.cnf` (every node's `mariadbd` options), `users.sql` (accounts,
//! run on the primary) and `replica.sql` (GTID replication, run on each replica). They are
//! embedded at build time, so the launcher, the demo, the tests and `docker/compose.yaml` all
//! start the same servers.

use super::ClusterError;
use std::path::{Path, PathBuf};

/// The server options of every node (`[mariadbd]` group), given to `mariadbd` as its
/// `--defaults-file`; per-node options go on the command line and override it.
pub const SERVER_CNF: &str = include_str!("../../docker/mariadb/rwproxy.cnf");
/// The accounts `app`, `monitor` and `repl`, created on the primary.
pub const USERS_SQL: &str = include_str!("../../docker/mariadb/users.sql");
/// `CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos` and `START SLAVE`, with
/// `@PRIMARY_HOST@` and `@PRIMARY_PORT@` left to fill in.
pub const REPLICA_SQL: &str = include_str!("../../docker/mariadb/replica.sql");

/// Privileges of `app`, as granted in `users.sql`: everything an application and the tests
/// need, but neither SUPER nor READ_ONLY ADMIN, so a write that reaches a `read_only`
/// replica fails with 1290 instead of silently breaking replication.
pub const APP_PRIVILEGES: &str = grant_list(USERS_SQL, b" ON *.* TO 'app'@'%';");

/// The file name the launcher writes [`SERVER_CNF`] to in the cluster directory.
const CNF_FILE: &str = "rwproxy.cnf";

/// The privilege list between the `GRANT ` that precedes `tail` and `tail`. Evaluated at
/// compile time: a `users.sql` without that grant fails the build.
const fn grant_list(sql: &'static str, tail: &[u8]) -> &'static str {
    let bytes = sql.as_bytes();
    let end = match find(bytes, tail, 0) {
        Some(end) => end,
        None => panic!("users.sql has no grant for 'app'@'%' on *.*"),
    };
    let (head, _) = bytes.split_at(end);
    let mut start = None;
    let mut from = 0;
    while let Some(at) = find(head, b"GRANT ", from) {
        start = Some(at + 6);
        from = at + 1;
    }
    let Some(start) = start else {
        panic!("users.sql: no GRANT before the grant for 'app'@'%'");
    };
    let (_, list) = head.split_at(start);
    match std::str::from_utf8(list) {
        Ok(s) => s,
        Err(_) => panic!("users.sql is not UTF-8"),
    }
}

/// The first position at or after `from` where `needle` occurs in `hay` (a const fn).
const fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + needle.len() <= hay.len() {
        let mut j = 0;
        while j < needle.len() && hay[i + j] == needle[j] {
            j += 1;
        }
        if j == needle.len() {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The statements of a setup file: each ends with `;` at the end of a line; whole-line `--`
/// comments and blank lines are dropped. The statements are returned without the `;`.
pub(super) fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with("--") {
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        match t.strip_suffix(';') {
            Some(last) => {
                current.push_str(last);
                out.push(std::mem::take(&mut current));
            }
            None => current.push_str(t),
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// The statements that make a replica follow the primary at `host:port`.
pub(super) fn replica_statements(host: &str, port: u16) -> Vec<String> {
    let sql = REPLICA_SQL
        .replace("@PRIMARY_HOST@", host)
        .replace("@PRIMARY_PORT@", &port.to_string());
    statements(&sql)
}

/// Writes [`SERVER_CNF`] to `dir/rwproxy.cnf` (through a rename, so a starting server never
/// reads half a file) and returns its path, for `mariadbd --defaults-file`.
pub(super) fn write_server_cnf(dir: &Path) -> Result<PathBuf, ClusterError> {
    let path = dir.join(CNF_FILE);
    let tmp = dir.join(format!("{CNF_FILE}.tmp"));
    std::fs::write(&tmp, SERVER_CNF)
        .map_err(ClusterError::io(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, &path)
        .map_err(ClusterError::io(format!("writing {}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_privileges_come_from_users_sql() {
        assert!(APP_PRIVILEGES.starts_with("SELECT, INSERT, UPDATE, DELETE"));
        assert!(APP_PRIVILEGES.ends_with("BINLOG MONITOR, SLAVE MONITOR"));
        assert!(!APP_PRIVILEGES.contains("SUPER"));
        assert!(!APP_PRIVILEGES.contains("READ_ONLY ADMIN"));
    }

    #[test]
    fn users_sql_creates_the_three_accounts() {
        let s = statements(USERS_SQL);
        assert_eq!(s.len(), 7, "{s:#?}");
        for user in ["app", "monitor", "repl"] {
            let create = format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{user}'");
            assert!(s.contains(&create), "{create} missing");
        }
        assert!(s.contains(&"GRANT ALL ON rwproxy.* TO 'monitor'@'%'".to_string()));
        assert!(s.iter().all(|st| !st.contains("--") && !st.ends_with(';')));
    }

    #[test]
    fn replica_sql_fills_in_the_primary() {
        let s = replica_statements("127.0.0.1", 4000);
        assert_eq!(s.len(), 2);
        assert!(s[0].starts_with("CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=4000,"));
        assert!(s[0].contains("MASTER_USE_GTID=slave_pos"));
        assert_eq!(s[1], "START SLAVE");
        assert!(s.iter().all(|st| !st.contains('@')));
    }

    #[test]
    fn statements_join_continued_lines_and_skip_comments() {
        let s = statements("-- c\nSELECT 1,\n  2;\n\n-- d\nSELECT 3;\nSELECT 4");
        assert_eq!(s, ["SELECT 1,\n2", "SELECT 3", "SELECT 4"]);
    }

    #[test]
    fn server_cnf_holds_the_shared_settings() {
        assert!(SERVER_CNF.contains("[mariadbd]"));
        for key in [
            "binlog-format = ROW",
            "gtid-strict-mode = 1",
            "log-slave-updates",
        ] {
            assert!(SERVER_CNF.contains(key), "{key} missing");
        }
        for per_node in ["server-id", "read-only", "datadir", "port"] {
            let set = SERVER_CNF
                .lines()
                .any(|l| l.trim_start().starts_with(per_node));
            assert!(!set, "{per_node} is per node, not shared");
        }
    }
}
