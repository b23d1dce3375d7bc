//! Read-your-writes (`consistency = "read-your-writes"`): after a session writes, its
//! next read on a replica first waits, on that replica, until the replica has applied
//! the primary's binlog position as of the write (`MASTER_GTID_WAIT`), bounded by
//! `[proxy] causal_wait_ms`; if it cannot catch up in time, the read goes to the
//! primary instead. The position is read from the primary only once per write burst,
//! and a replica connection that already waited for it does not wait again. A hung
//! server cannot hold the wait longer than `causal_wait_ms` plus
//! `backend_read_timeout_ms`: its connection is then dropped.

use super::session::Session;
use crate::router::stats::RouteStats;

impl Session {
    /// Notes that the session may have written on the primary.
    pub(crate) fn note_write(&mut self) {
        // Also in "eventual" mode: @@rwproxy_last_gtid reports it, lazily.
        self.state.causal_dirty = true;
    }

    /// Notes a commit on the primary whose GTID its OK reported: the session's causal
    /// position moves to include it, with no question to the server.
    pub(crate) fn note_commit(&mut self, gtid: &str) {
        let pos = crate::replication::gtid::merge(self.state.causal_gtid.as_deref(), gtid);
        self.state.causal_gtid = Some(pos);
    }

    /// Learns the primary's binlog position if the session wrote since it last asked.
    /// Returns false when it cannot (the read should then go to the primary).
    pub(crate) async fn causal_position(&mut self) -> bool {
        if !self.state.causal_dirty {
            return true;
        }
        let Ok(primary) = self.primary_backend() else {
            return false;
        };
        let Ok(idx) = self.conn_to(&primary).await else {
            return false;
        };
        RouteStats::bump(&self.proxy.route_stats.causal_asks);
        let asked = self.bounded(idx, "SELECT @@gtid_binlog_pos", 0.0).await;
        let pos = match asked {
            Some(rows) => rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().next().flatten()),
            None => return false,
        };
        self.state.causal_gtid = pos.filter(|p| !p.is_empty());
        self.state.causal_dirty = false;
        true
    }

    /// Makes the replica connection `idx` wait until it has applied the session's last
    /// write. Returns false if it did not get there in time.
    pub(crate) async fn causal_wait(&mut self, idx: usize) -> bool {
        let Some(gtid) = self.state.causal_gtid.clone() else {
            return true;
        };
        self.wait_for(idx, gtid).await
    }

    /// Makes the replica connection `idx` wait until it has applied `gtid`.
    pub(crate) async fn wait_for(&mut self, idx: usize, gtid: String) -> bool {
        if self.conns[idx].waited_gtid.as_deref() == Some(gtid.as_str()) {
            return true;
        }
        // The monitor's last look at this replica already shows the position applied
        // (positions only grow): no need to ask the server.
        let seen = {
            let topo = self.proxy.topology.load();
            let name = &self.conns[idx].backend.name;
            let i = topo.backends.iter().position(|b| &b.name == name);
            i.and_then(|i| topo.health.get(i))
                .and_then(|h| h.gtid.clone())
        };
        if seen.is_some_and(|pos| crate::replication::gtid::reached(&pos, &gtid)) {
            RouteStats::bump(&self.proxy.route_stats.causal_skips);
            self.conns[idx].waited_gtid = Some(gtid);
            return true;
        }
        let stats = &self.proxy.route_stats;
        RouteStats::bump(&stats.causal_waits);
        let timeout = self.proxy.config.load().proxy.causal_wait_ms as f64 / 1000.0;
        // The position comes from the server itself (digits, dashes, commas).
        let safe = gtid
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b',');
        if !safe {
            return false;
        }
        let sql = format!("SELECT MASTER_GTID_WAIT('{gtid}', {timeout:.3})");
        let reached = match self.bounded(idx, &sql, timeout).await {
            Some(rows) => {
                rows.first()
                    .and_then(|r| r.first())
                    .and_then(|v| v.as_deref())
                    == Some("0")
            }
            None => false,
        };
        if reached {
            self.conns[idx].waited_gtid = Some(gtid);
        } else {
            RouteStats::bump(&self.proxy.route_stats.causal_timeouts);
        }
        reached
    }

    /// Runs the proxy's own `sql` on connection `idx`, which the server may take up to
    /// `secs` to answer, plus `backend_read_timeout_ms` for a slow server. None on an
    /// error; on a timeout the connection is out of step and is dropped.
    async fn bounded(
        &mut self,
        idx: usize,
        sql: &str,
        secs: f64,
    ) -> Option<Vec<Vec<Option<String>>>> {
        let limit = super::forward::read_limit(&self.proxy.config.load());
        let query = self.conns[idx].query(sql);
        let Some(limit) = limit else {
            return query.await.ok();
        };
        match tokio::time::timeout(limit + std::time::Duration::from_secs_f64(secs), query).await {
            Ok(done) => done.ok(),
            Err(_) => {
                tracing::warn!(backend = %self.conns[idx].backend.name, "no answer within backend_read_timeout_ms: connection dropped");
                self.conns[idx].backend.count_error();
                self.discard(idx);
                None
            }
        }
    }
}
