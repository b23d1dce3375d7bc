//! The SQL the launcher sends: user and replication setup, the status table, lag control and
//! waiting for replicas to catch up. All of it goes over each node's unix socket as the OS user
//! (unix_socket authentication), so it needs no password and works before any user exists.

use super::node::socket_path;
use super::{shared, Cluster, ClusterError, NodeInfo};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// Bound on one administrative statement (a login, a `SHOW`, a `CHANGE MASTER`).
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `unlag` waits for the replica to catch up.
const UNLAG_TIMEOUT: Duration = Duration::from_secs(60);

/// Driver options for a unix-socket login as `user` with no password.
pub(super) fn socket_opts(socket: &Path, user: &str) -> Opts {
    OptsBuilder::default()
        .socket(Some(socket.to_string_lossy()))
        .user(Some(user))
        .prefer_socket(false)
        .into()
}

/// Runs `fut` with the statement time limit, naming `node` in any error.
async fn bounded<T>(
    node: &str,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, ClusterError> {
    match tokio::time::timeout(STATEMENT_TIMEOUT, fut).await {
        Err(_) => Err(ClusterError::Timeout(format!("{node}: {what}"))),
        Ok(r) => r.map_err(|e| ClusterError::Sql {
            node: node.to_string(),
            source: Box::new(e),
        }),
    }
}

impl Cluster {
    /// An administrative connection to `node` over its socket.
    async fn admin(&self, node: &NodeInfo) -> Result<Conn, ClusterError> {
        let opts = socket_opts(&socket_path(&self.dir, &node.name), &self.socket_user);
        bounded(&node.name, "login", Conn::new(opts)).await
    }

    /// Runs `statements` in order on `node`.
    async fn exec(&self, node: &NodeInfo, statements: &[String]) -> Result<(), ClusterError> {
        let mut conn = self.admin(node).await?;
        for s in statements {
            bounded(&node.name, s, conn.query_drop(s.as_str())).await?;
        }
        let _ = conn.disconnect().await;
        Ok(())
    }

    /// The replica numbered `replica` (1-based).
    fn replica(&self, replica: usize) -> Result<&NodeInfo, ClusterError> {
        replica
            .checked_sub(1)
            .and_then(|i| self.replicas().get(i))
            .ok_or(ClusterError::NoSuchReplica(replica))
    }

    /// Creates the users on the primary (`docker/mariadb/users.sql`), then points every replica
    /// at it from an empty GTID position (`replica.sql`), so the replicas receive the users
    /// through replication.
    pub(super) async fn setup_replication(&self) -> Result<(), ClusterError> {
        self.exec(self.primary(), &shared::statements(shared::USERS_SQL))
            .await?;
        let follow = shared::replica_statements("127.0.0.1", self.primary().port);
        for r in self.replicas() {
            self.exec(r, &follow).await?;
        }
        Ok(())
    }

    /// A table with one line per node: port, pid and whether it is alive, `read_only`, the
    /// replication threads, `Seconds_Behind_Master`, `MASTER_DELAY` and `gtid_current_pos`.
    pub async fn status(&self) -> Result<String, ClusterError> {
        let mut out = format!(
            "{:<10} {:>6} {:>8} {:<6} {:<9} {:<4} {:<4} {:<7} {:<6} {}\n",
            "NAME",
            "PORT",
            "PID",
            "ALIVE",
            "READ_ONLY",
            "IO",
            "SQL",
            "BEHIND",
            "DELAY",
            "GTID_CURRENT_POS"
        );
        for node in &self.nodes {
            let alive = node.is_running();
            let cols = if alive {
                match self.node_status(node).await {
                    Ok(c) => c,
                    Err(e) => {
                        let mut cols = [(); 6].map(|_| String::new());
                        cols[0] = format!("error: {e}");
                        cols
                    }
                }
            } else {
                [(); 6].map(|_| "-".to_string())
            };
            let _ = writeln!(
                out,
                "{:<10} {:>6} {:>8} {:<6} {:<9} {:<4} {:<4} {:<7} {:<6} {}",
                node.name,
                node.port,
                node.pid,
                if alive { "yes" } else { "no" },
                cols[0],
                cols[1],
                cols[2],
                cols[3],
                cols[4],
                cols[5]
            );
        }
        Ok(out)
    }

    /// `read_only`, IO thread, SQL thread, seconds behind, `MASTER_DELAY` and
    /// `gtid_current_pos` of `node`.
    async fn node_status(&self, node: &NodeInfo) -> Result<[String; 6], ClusterError> {
        let mut conn = self.admin(node).await?;
        let vars: Option<(i64, String)> = bounded(
            &node.name,
            "variables",
            conn.query_first("SELECT @@read_only, @@gtid_current_pos"),
        )
        .await?;
        let slave: Option<Row> = bounded(
            &node.name,
            "SHOW SLAVE STATUS",
            conn.query_first("SHOW SLAVE STATUS"),
        )
        .await?;
        let _ = conn.disconnect().await;
        let (read_only, gtid) = vars.unwrap_or_default();
        let col = |name: &str| -> String {
            slave
                .as_ref()
                .and_then(|r| r.get_opt::<Option<String>, _>(name))
                .and_then(Result::ok)
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .unwrap_or_else(|| "-".into())
        };
        Ok([
            read_only.to_string(),
            col("Slave_IO_Running"),
            col("Slave_SQL_Running"),
            col("Seconds_Behind_Master"),
            col("SQL_Delay"),
            if gtid.is_empty() { "-".into() } else { gtid },
        ])
    }

    /// Makes replica `replica` (1-based) lag: with `seconds > 0` it applies events only
    /// `seconds` after they were written on the primary (`MASTER_DELAY`); with `0` it stops
    /// applying altogether (`STOP SLAVE SQL_THREAD`) while still receiving.
    pub async fn lag(&self, replica: usize, seconds: u32) -> Result<(), ClusterError> {
        let node = self.replica(replica)?;
        let statements: Vec<String> = if seconds == 0 {
            vec!["STOP SLAVE SQL_THREAD".into()]
        } else {
            vec![
                "STOP SLAVE".into(),
                format!("CHANGE MASTER TO MASTER_DELAY={seconds}"),
                "START SLAVE".into(),
            ]
        };
        self.exec(node, &statements).await
    }

    /// Undoes `lag`: no delay, both threads running, then waits (up to 60 s) until the replica
    /// has applied everything the primary has written.
    pub async fn unlag(&self, replica: usize) -> Result<(), ClusterError> {
        let node = self.replica(replica)?;
        let statements = [
            "STOP SLAVE",
            "CHANGE MASTER TO MASTER_DELAY=0",
            "START SLAVE",
        ];
        self.exec(node, &statements.map(String::from)).await?;
        self.wait_replica_caught_up(replica, UNLAG_TIMEOUT).await
    }

    /// Waits until every replica has applied the primary's `@@gtid_binlog_pos` as it is now.
    pub async fn wait_caught_up(&self, timeout: Duration) -> Result<(), ClusterError> {
        let target = self.primary_gtid_pos().await?;
        let deadline = Instant::now() + timeout;
        for node in self.replicas() {
            self.wait_gtid(node, &target, deadline).await?;
        }
        Ok(())
    }

    /// Waits until replica `replica` (1-based) has applied the primary's current
    /// `@@gtid_binlog_pos`.
    pub async fn wait_replica_caught_up(
        &self,
        replica: usize,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let node = self.replica(replica)?;
        let target = self.primary_gtid_pos().await?;
        self.wait_gtid(node, &target, Instant::now() + timeout)
            .await
    }

    /// The primary's `@@gtid_binlog_pos`.
    async fn primary_gtid_pos(&self) -> Result<String, ClusterError> {
        let primary = self.primary();
        let mut conn = self.admin(primary).await?;
        let pos: Option<String> = bounded(
            &primary.name,
            "gtid_binlog_pos",
            conn.query_first("SELECT @@gtid_binlog_pos"),
        )
        .await?;
        let _ = conn.disconnect().await;
        Ok(pos.unwrap_or_default())
    }

    /// `MASTER_GTID_WAIT(target)` on `node`, giving up at `deadline`.
    async fn wait_gtid(
        &self,
        node: &NodeInfo,
        target: &str,
        deadline: Instant,
    ) -> Result<(), ClusterError> {
        if target.is_empty() {
            return Ok(());
        }
        let secs = deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        let mut conn = self.admin(node).await?;
        let wait = tokio::time::timeout(
            Duration::from_secs_f64(secs) + STATEMENT_TIMEOUT,
            conn.exec_first("SELECT MASTER_GTID_WAIT(?, ?)", (target, secs)),
        );
        let result: Option<Option<i64>> = match wait.await {
            Err(_) => None,
            Ok(r) => r.map_err(|e| ClusterError::Sql {
                node: node.name.clone(),
                source: Box::new(e),
            })?,
        };
        let _ = conn.disconnect().await;
        match result {
            Some(Some(0)) => Ok(()),
            _ => Err(ClusterError::Timeout(format!(
                "{} did not reach GTID {target} in time",
                node.name
            ))),
        }
    }
}
