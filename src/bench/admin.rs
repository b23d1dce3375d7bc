//! `--admin HOST:PORT`: where the proxy sent reads and writes, from its SQL admin port.
//! `SHOW BACKENDS` is read before and after the run (columns `name`, `reads`, `writes`,
//! found by name) and the difference is reported per backend.

use super::BenchError;
use mysql_async::prelude::Queryable;
use std::time::Duration;

/// Reads and writes the proxy sent to one backend (totals, or a run's difference).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BackendCounters {
    /// Backend name.
    pub name: String,
    /// Statements routed there as reads.
    pub reads: u64,
    /// Statements routed there as writes, session or transaction traffic.
    pub writes: u64,
}

/// Where the admin port is and how to log in.
#[derive(Debug, Clone)]
pub struct AdminTarget {
    /// `host:port`.
    pub address: String,
    /// Admin user.
    pub user: String,
    /// Admin password.
    pub password: String,
}

impl AdminTarget {
    fn opts(&self) -> Result<mysql_async::Opts, BenchError> {
        let bad = || BenchError::Admin {
            address: self.address.clone(),
            reason: "--admin must be HOST:PORT".into(),
        };
        let (host, port) = self.address.rsplit_once(':').ok_or_else(bad)?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        Ok(mysql_async::OptsBuilder::default()
            .ip_or_hostname(host.trim_matches(['[', ']']))
            .tcp_port(port)
            .user(Some(&self.user))
            .pass(Some(&self.password))
            .prefer_socket(false)
            // Known values: the driver then sends no SELECT @@… of its own after login.
            .max_allowed_packet(Some(16 * 1024 * 1024))
            .wait_timeout(Some(28_800))
            .into())
    }

    /// `SHOW BACKENDS`: name, reads and writes of every backend.
    pub async fn snapshot(&self) -> Result<Vec<BackendCounters>, BenchError> {
        let fail = |reason: String| BenchError::Admin {
            address: self.address.clone(),
            reason,
        };
        let opts = self.opts()?;
        let work = async {
            let mut conn = mysql_async::Conn::new(opts)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let rows: Vec<mysql_async::Row> = conn
                .query("SHOW BACKENDS")
                .await
                .map_err(|e| fail(format!("SHOW BACKENDS: {e}")))?;
            let _ = conn.disconnect().await;
            parse(&rows).map_err(fail)
        };
        tokio::time::timeout(Duration::from_secs(10), work)
            .await
            .map_err(|_| fail("no answer within 10 s".into()))?
    }
}

fn parse(rows: &[mysql_async::Row]) -> Result<Vec<BackendCounters>, String> {
    let mut out = Vec::new();
    for row in rows {
        let col = |name: &str| {
            row.columns_ref()
                .iter()
                .position(|c| c.name_str().eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("SHOW BACKENDS has no `{name}` column"))
        };
        let (n, r, w) = (col("name")?, col("reads")?, col("writes")?);
        let num = |i: usize, what: &str| {
            row.get_opt::<u64, _>(i)
                .and_then(Result::ok)
                .ok_or_else(|| format!("SHOW BACKENDS: `{what}` is not a number"))
        };
        out.push(BackendCounters {
            name: row
                .get_opt::<String, _>(n)
                .and_then(Result::ok)
                .unwrap_or_default(),
            reads: num(r, "reads")?,
            writes: num(w, "writes")?,
        });
    }
    Ok(out)
}

/// `after - before` per backend (a backend missing before counts from zero).
pub fn diff(before: &[BackendCounters], after: &[BackendCounters]) -> Vec<BackendCounters> {
    after
        .iter()
        .map(|a| {
            let b = before.iter().find(|b| b.name == a.name);
            BackendCounters {
                name: a.name.clone(),
                reads: a.reads.saturating_sub(b.map_or(0, |b| b.reads)),
                writes: a.writes.saturating_sub(b.map_or(0, |b| b.writes)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, reads: u64, writes: u64) -> BackendCounters {
        BackendCounters {
            name: name.into(),
            reads,
            writes,
        }
    }

    #[test]
    fn diff_by_name() {
        let before = [c("primary", 10, 100), c("replica1", 50, 0)];
        let after = [
            c("replica1", 80, 0),
            c("primary", 12, 130),
            c("replica2", 5, 0),
        ];
        assert_eq!(
            diff(&before, &after),
            vec![
                c("replica1", 30, 0),
                c("primary", 2, 30),
                c("replica2", 5, 0)
            ]
        );
        // A proxy restarted mid-run (counters reset) gives zero, not an underflow.
        assert_eq!(
            diff(&[c("primary", 10, 10)], &[c("primary", 3, 3)]),
            vec![c("primary", 0, 0)]
        );
    }

    #[test]
    fn bad_addresses_are_refused_clearly() {
        let t = AdminTarget {
            address: "localhost".into(),
            user: "admin".into(),
            password: "admin".into(),
        };
        let e = t.opts().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("HOST:PORT"), "{e}");
    }
}
