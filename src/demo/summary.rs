//! The demo's closing table: per server, the reads and writes it counted itself during the
//! workload and the largest lag the proxy saw; then the workload's own figures.

use super::counters::Counters;
use crate::bench::plan::group;
use crate::bench::Report;
use crate::cluster::Cluster;
use std::collections::HashMap;
use std::fmt::Write as _;

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `primary`, `replica1`, ...
    pub name: String,
    /// `primary` or `replica`.
    pub role: &'static str,
    /// `127.0.0.1:port`.
    pub address: String,
    /// The server's statement counters during the workload.
    pub delta: Counters,
    /// Largest lag the proxy's monitor reported (replicas).
    pub max_lag_ms: Option<u64>,
}

/// Rows for every node of `cluster` (primary first).
pub fn rows(
    cluster: &Cluster,
    before: &[Counters],
    after: &[Counters],
    max_lag: &HashMap<String, u64>,
) -> Vec<Row> {
    cluster
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| Row {
            name: n.name.clone(),
            role: if i == 0 { "primary" } else { "replica" },
            address: format!("127.0.0.1:{}", n.port),
            delta: after
                .get(i)
                .copied()
                .unwrap_or_default()
                .since(before.get(i).copied().unwrap_or_default()),
            max_lag_ms: if i == 0 {
                None
            } else {
                max_lag.get(&n.name).copied()
            },
        })
        .collect()
}

/// The summary text.
pub fn render(rows: &[Row], report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== where the statements went, counted by each server itself"
    );
    let _ = writeln!(
        out,
        "  {:<10} {:<8} {:<17} {:>14} {:>15} {:>13}",
        "server", "role", "address", "reads (SELECT)", "writes (I/U/D)", "max lag seen"
    );
    for r in rows {
        let lag = r.max_lag_ms.map_or("-".to_string(), |l| format!("{l} ms"));
        let _ = writeln!(
            out,
            "  {:<10} {:<8} {:<17} {:>14} {:>15} {:>13}",
            r.name,
            r.role,
            r.address,
            group(r.delta.reads as f64),
            group(r.delta.writes as f64),
            lag
        );
    }
    let replica_reads: u64 = rows
        .iter()
        .filter(|r| r.role == "replica")
        .map(|r| r.delta.reads)
        .sum();
    let all_reads: u64 = rows.iter().map(|r| r.delta.reads).sum();
    let share = if all_reads == 0 {
        0.0
    } else {
        100.0 * replica_reads as f64 / all_reads as f64
    };
    let _ = writeln!(
        out,
        "  {share:.0}% of SELECTs ran on the replicas. A replica's writes are the primary's changes\n  \
         arriving by replication, not statements sent to it. Counts include rwproxy's own health\n  \
         probes and heartbeat (a few a second)."
    );
    let _ = writeln!(
        out,
        "\n== the workload: {} actions, QPS {}, TPS {:.1} (checkouts/s), p99 {:.2} ms, errors {}",
        report.all.count,
        group(report.qps),
        report.tps,
        report.all.p99_ms,
        report.errors
    );
    let _ = writeln!(
        out,
        "  stale reads: {} (each shopper reads its order history right after checking out; \
         read-your-writes makes that read wait for a replica that has the order, or go to the primary)\n",
        report.stale_reads
    );
    out.push_str(&report.to_text());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::ActionSummary;

    fn report() -> Report {
        let s = ActionSummary {
            count: 10,
            errors: 0,
            p50_ms: 1.0,
            p95_ms: 2.0,
            p99_ms: 3.0,
            max_ms: 4.0,
            mean_ms: 1.5,
        };
        Report {
            endpoint: "127.0.0.1:1".into(),
            mode: "closed",
            concurrency: Some(4),
            rate: None,
            duration_s: 5.0,
            qps: 1234.0,
            tps: 12.5,
            actions_per_s: 2.0,
            statements: 6170,
            checkouts: 62,
            out_of_stock: 1,
            errors: 0,
            errors_by_code: Default::default(),
            stale_reads: 0,
            dropped: 0,
            late: 0,
            actions: [("home", s.clone())].into_iter().collect(),
            all: s,
            backends: None,
        }
    }

    fn row(name: &str, role: &'static str, reads: u64, lag: Option<u64>) -> Row {
        Row {
            name: name.into(),
            role,
            address: "127.0.0.1:3307".into(),
            delta: Counters { reads, writes: 7 },
            max_lag_ms: lag,
        }
    }

    #[test]
    fn the_table_shows_each_server_and_the_replica_share() {
        let rows = [
            row("primary", "primary", 250, None),
            row("replica1", "replica", 400, Some(12)),
            row("replica2", "replica", 350, None),
        ];
        let text = render(&rows, &report());
        assert!(
            text.contains("75% of SELECTs ran on the replicas"),
            "{text}"
        );
        assert!(text.contains("12 ms"), "{text}");
        assert!(text.contains("stale reads: 0"), "{text}");
        assert!(text.contains("QPS 1,234"), "{text}");
        let primary = text
            .lines()
            .find(|l| l.trim_start().starts_with("primary"))
            .unwrap_or("");
        assert!(
            primary.trim_end().ends_with('-'),
            "no lag column for the primary: {primary}"
        );
    }

    #[test]
    fn counters_never_underflow() {
        let a = Counters {
            reads: 5,
            writes: 1,
        };
        let b = Counters {
            reads: 9,
            writes: 0,
        };
        assert_eq!(
            a.since(b),
            Counters {
                reads: 0,
                writes: 1
            }
        );
    }
}
