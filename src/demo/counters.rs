//! What each server says it did: `Com_select` (reads) and `Com_insert + Com_update +
//! Com_delete` (writes) from its own `information_schema.GLOBAL_STATUS`, read over a
//! direct connection, and the largest replication lag the proxy's monitor reported.

use super::DemoError;
use crate::cluster::Cluster;
use mysql_async::prelude::Queryable;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One server's statement counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// `Com_select`.
    pub reads: u64,
    /// `Com_insert + Com_update + Com_delete`.
    pub writes: u64,
}

impl Counters {
    /// `self - before`.
    pub fn since(self, before: Counters) -> Counters {
        Counters {
            reads: self.reads.saturating_sub(before.reads),
            writes: self.writes.saturating_sub(before.writes),
        }
    }
}

/// The counters of every node of `cluster`, primary first.
pub async fn read_all(cluster: &Cluster) -> Result<Vec<Counters>, DemoError> {
    let sql = "SELECT \
        SUM(IF(VARIABLE_NAME = 'COM_SELECT', VARIABLE_VALUE, 0)), \
        SUM(IF(VARIABLE_NAME IN ('COM_INSERT', 'COM_UPDATE', 'COM_DELETE'), VARIABLE_VALUE, 0)) \
        FROM information_schema.GLOBAL_STATUS \
        WHERE VARIABLE_NAME IN ('COM_SELECT', 'COM_INSERT', 'COM_UPDATE', 'COM_DELETE')";
    let mut out = Vec::new();
    for node in &cluster.nodes {
        let fail = |e: mysql_async::Error| DemoError::Counters(node.name.clone(), e.to_string());
        let mut conn = mysql_async::Conn::new(cluster.opts(node, "app", "app"))
            .await
            .map_err(fail)?;
        let row: Option<(u64, u64)> = conn.query_first(sql).await.map_err(fail)?;
        let _ = conn.disconnect().await;
        let (reads, writes) = row.unwrap_or_default();
        out.push(Counters { reads, writes });
    }
    Ok(out)
}

/// Samples the proxy's topology every 200 ms until `stop`, keeping the largest lag (ms)
/// seen per backend name.
pub async fn sample_lag(
    proxy: Arc<crate::server::Proxy>,
    stop: CancellationToken,
) -> HashMap<String, u64> {
    let mut max: HashMap<String, u64> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.cancelled() => return max,
        }
        let topo = proxy.topology.load();
        for (b, h) in topo.backends.iter().zip(&topo.health) {
            if let Some(lag) = h.lag_ms {
                let e = max.entry(b.name.to_string()).or_default();
                *e = (*e).max(lag);
            }
        }
    }
}
