//! One backend's monitor connection and the probes run on it. Every probe is bounded by
//! the monitor timeout; a failed connection is dropped and re-made with exponential
//! backoff and jitter, so a dead server is not hammered.

use super::topology::{Backend, Health};
use crate::config::{BackendTlsMode, BackendTlsSettings, MonitorConfig};
use mysql_async::prelude::*;
use mysql_async::{Conn, OptsBuilder, Row, SslOpts};
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What one probe found.
#[derive(Debug, Clone, Default)]
pub struct ProbeResult {
    /// Health as measured.
    pub health: Health,
    /// Why the probe failed.
    pub error: Option<String>,
    /// The heartbeat timestamp written (primary only), µs since the epoch.
    pub heartbeat_written: Option<u64>,
}

/// A backend's monitor connection.
pub struct Probe {
    /// The backend probed.
    pub backend: Arc<Backend>,
    opts: mysql_async::Opts,
    timeout: Duration,
    conn: Option<Conn>,
    retry_at: Option<Instant>,
    failures: u32,
    heartbeat_ready: bool,
    /// Consecutive checks within the readmission bound (see `monitor::next_state`).
    pub good_checks: u32,
}

/// The driver's TLS options for `[proxy] backend_tls`, so probes connect as the pool
/// does: "on" encrypts without checking the certificate, "verify" checks it against the
/// CA file (only it, when set) and the name override. The driver refuses a server that
/// does not offer TLS once TLS is asked for.
fn ssl_opts(tls: &BackendTlsSettings) -> Option<SslOpts> {
    match tls.mode {
        BackendTlsMode::Off => None,
        BackendTlsMode::On => Some(
            SslOpts::default()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true),
        ),
        BackendTlsMode::Verify => {
            let mut opts =
                SslOpts::default().with_danger_tls_hostname_override(tls.server_name.clone());
            if let Some(ca) = &tls.ca {
                opts = opts
                    .with_root_certs(vec![ca.clone().into()])
                    .with_disable_built_in_roots(true);
            }
            Some(opts)
        }
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

impl Probe {
    /// A probe for `backend` with the monitor's credentials.
    pub fn new(backend: Arc<Backend>, settings: &MonitorConfig) -> Probe {
        let (host, port) = backend
            .address
            .rsplit_once(':')
            .unwrap_or((&backend.address, "3306"));
        let opts = OptsBuilder::default()
            .ip_or_hostname(host.to_string())
            .tcp_port(port.parse().unwrap_or(3306))
            .user(Some(settings.user.clone()))
            .pass(Some(settings.password.to_string()))
            .prefer_socket(false)
            .ssl_opts(ssl_opts(&settings.tls))
            .into();
        Probe {
            backend,
            opts,
            timeout: Duration::from_millis(settings.timeout_ms),
            conn: None,
            retry_at: None,
            failures: 0,
            heartbeat_ready: false,
            good_checks: 0,
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        if let Some(c) = self.conn.take() {
            let _ = tokio::time::timeout(self.timeout, c.disconnect()).await;
        }
    }

    fn failed(&mut self, why: String) -> ProbeResult {
        if self.conn.is_none() && self.retry_at.is_some_and(|t| Instant::now() < t) {
            // Still backing off: no attempt was made, so nothing new failed.
            return ProbeResult {
                error: Some(why),
                ..ProbeResult::default()
            };
        }
        self.conn = None;
        self.failures = self.failures.saturating_add(1);
        let backoff = 100u64 << self.failures.min(6);
        let jitter = rand::rng().random_range(0..=backoff / 2);
        self.retry_at = Some(Instant::now() + Duration::from_millis(backoff + jitter));
        ProbeResult {
            error: Some(why),
            ..ProbeResult::default()
        }
    }

    async fn conn(&mut self) -> Result<&mut Conn, String> {
        if self.conn.is_none() {
            if self.retry_at.is_some_and(|t| Instant::now() < t) {
                return Err("down; waiting to retry".into());
            }
            let c = tokio::time::timeout(self.timeout, Conn::new(self.opts.clone()))
                .await
                .map_err(|_| format!("connect timed out after {} ms", self.timeout.as_millis()))?
                .map_err(|e| e.to_string())?;
            self.conn = Some(c);
            self.failures = 0;
            self.retry_at = None;
        }
        self.conn.as_mut().ok_or_else(|| "no connection".into())
    }

    /// Runs `sql`. After a timeout or a broken connection the connection is dropped:
    /// a query abandoned mid-way leaves its reply on the wire, where the next probe
    /// would read it as its own. A server's error (e.g. no such table) keeps it.
    async fn rows(&mut self, sql: &str) -> Result<Vec<Row>, String> {
        let timeout = self.timeout;
        let c = self.conn().await?;
        match tokio::time::timeout(timeout, c.query(sql)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(e @ mysql_async::Error::Server(_))) => Err(e.to_string()),
            Ok(Err(e)) => {
                self.conn = None;
                Err(e.to_string())
            }
            Err(_) => {
                self.conn = None;
                Err(format!("probe timed out after {} ms", timeout.as_millis()))
            }
        }
    }

    /// `@@read_only` and the GTID position variable `gtid_var`: the start of every probe.
    async fn position(&mut self, gtid_var: &str) -> Result<ProbeResult, ProbeResult> {
        let rows = match self
            .rows(&format!("SELECT @@read_only, @@{gtid_var}"))
            .await
        {
            Ok(r) => r,
            Err(e) => return Err(self.failed(e)),
        };
        let mut r = ProbeResult::default();
        if let Some(row) = rows.first() {
            // get_opt: a value of an unexpected type is "unknown", never a panic.
            r.health.read_only = row
                .get_opt::<i64, _>(0)
                .and_then(Result::ok)
                .map(|v| v != 0);
            r.health.gtid = row.get_opt::<String, _>(1).and_then(Result::ok);
        }
        Ok(r)
    }

    /// Primary: read_only, GTID position, and a heartbeat write.
    pub async fn check_primary(&mut self) -> ProbeResult {
        let mut r = match self.position("gtid_binlog_pos").await {
            Ok(r) => r,
            Err(failed) => return failed,
        };
        if !self.heartbeat_ready {
            let setup = "CREATE DATABASE IF NOT EXISTS rwproxy; CREATE TABLE IF NOT EXISTS \
                         rwproxy.heartbeat (id INT PRIMARY KEY, ts BIGINT NOT NULL) ENGINE=InnoDB";
            match self.rows(setup).await {
                Ok(_) => self.heartbeat_ready = true,
                Err(e) => r.health.error = Some(format!("heartbeat disabled: {e}")),
            }
        }
        if self.heartbeat_ready && r.health.read_only == Some(false) {
            let ts = now_us();
            if self
                .rows(&format!("REPLACE INTO rwproxy.heartbeat VALUES (1, {ts})"))
                .await
                .is_ok()
            {
                r.heartbeat_written = Some(ts);
            }
        }
        r
    }

    /// Replica: read_only, replication threads, GTID position and lag. `heartbeat` is
    /// the primary's previous heartbeat, which a caught-up replica has applied.
    pub async fn check_replica(&mut self, heartbeat: Option<u64>) -> ProbeResult {
        let mut r = match self.position("gtid_current_pos").await {
            Ok(r) => r,
            Err(failed) => return failed,
        };
        let status = match self.rows("SHOW REPLICA STATUS").await {
            Ok(rows) => rows.into_iter().next(),
            Err(e) => return self.failed(e),
        };
        let seconds_behind = status.as_ref().and_then(|s| {
            column(s, &["Seconds_Behind_Master", "Seconds_Behind_Source"])
                .and_then(|v| v.parse::<u64>().ok())
        });
        if let Some(s) = &status {
            let err = column(s, &["Last_SQL_Error"])
                .filter(|e| !e.is_empty())
                .or_else(|| column(s, &["Last_IO_Error"]).filter(|e| !e.is_empty()));
            r.health.error = err;
        }
        let applied = match self
            .rows("SELECT ts FROM rwproxy.heartbeat WHERE id = 1")
            .await
        {
            Ok(rows) => rows
                .first()
                .and_then(|row| row.get_opt::<i64, _>(0))
                .and_then(Result::ok)
                .map(|v| v as u64),
            Err(_) => None,
        };
        r.health.lag_ms = match (heartbeat, applied) {
            (Some(written), Some(seen)) => Some(written.saturating_sub(seen) / 1000),
            _ => match seconds_behind {
                Some(s) => Some(s * 1000),
                // Not replicating at all (or no heartbeat yet): treat as far behind.
                None if status.is_some() => Some(u64::MAX / 2),
                None => None,
            },
        };
        r
    }
}

/// The first of `names` present in a SHOW REPLICA STATUS row, as text (MariaDB keeps the
/// old column names; MySQL 8.4 renamed them).
fn column(row: &Row, names: &[&str]) -> Option<String> {
    let cols = row.columns_ref();
    names.iter().find_map(|n| {
        let i = cols.iter().position(|c| c.name_str() == *n)?;
        match row.as_ref(i)? {
            mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
            mysql_async::Value::Int(v) => Some(v.to_string()),
            mysql_async::Value::UInt(v) => Some(v.to_string()),
            _ => None,
        }
    })
}
