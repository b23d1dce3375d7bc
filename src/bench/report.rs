//! The summary of a run: per-action latency percentiles, throughput, errors by code,
//! stale reads, and (with `--admin`) where the proxy sent reads and writes; as a table for
//! people and as one JSON object for machines.

use super::admin::BackendCounters;
use super::plan::group;
use super::runner::Ctx;
use super::stats::ActionSummary;
use super::Load;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Everything a run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// `host:port` the workload ran against.
    pub endpoint: String,
    /// `closed` or `open`.
    pub mode: &'static str,
    /// Closed loop: connections.
    pub concurrency: Option<u64>,
    /// Open loop: arrivals per second.
    pub rate: Option<f64>,
    /// Wall time of the run, seconds.
    pub duration_s: f64,
    /// Statements per second.
    pub qps: f64,
    /// Committed checkouts per second.
    pub tps: f64,
    /// Actions per second.
    pub actions_per_s: f64,
    /// Statements sent by successful actions.
    pub statements: u64,
    /// Committed checkouts.
    pub checkouts: u64,
    /// Checkouts rolled back for lack of stock (not errors).
    pub out_of_stock: u64,
    /// Failed actions and connection attempts.
    pub errors: u64,
    /// Errors by MySQL error code.
    pub errors_by_code: BTreeMap<String, u64>,
    /// Reads that missed a write the same connection had committed.
    pub stale_reads: u64,
    /// Open loop: arrivals dropped because every connection was busy.
    pub dropped: u64,
    /// Open loop: arrivals started more than 10 ms after their due time.
    pub late: u64,
    /// Latency per action.
    pub actions: BTreeMap<&'static str, ActionSummary>,
    /// Latency over all actions.
    pub all: ActionSummary,
    /// Reads and writes per backend during the run, from the proxy's admin port.
    pub backends: Option<Vec<BackendCounters>>,
}

impl Report {
    /// Builds the report from the run's measurements.
    pub fn new(ctx: &Ctx, endpoint: String, load: Load, took: Duration) -> Report {
        let s = &ctx.stats;
        let secs = took.as_secs_f64().max(1e-3);
        let (per, all) = s.summaries();
        let statements = s.statements.load(Ordering::Relaxed);
        let checkouts = s.checkouts.load(Ordering::Relaxed);
        let (mode, concurrency, rate) = match load {
            Load::Closed { concurrency } => ("closed", Some(concurrency), None),
            Load::Open { rate, .. } => ("open", None, Some(rate)),
        };
        let round = |v: f64| (v * 10.0).round() / 10.0;
        Report {
            endpoint,
            mode,
            concurrency,
            rate,
            duration_s: round(secs),
            qps: round(statements as f64 / secs),
            tps: round(checkouts as f64 / secs),
            actions_per_s: round(all.count as f64 / secs),
            statements,
            checkouts,
            out_of_stock: s.out_of_stock.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            errors_by_code: s
                .errors_by_code()
                .into_iter()
                .map(|(c, n)| (c.to_string(), n))
                .collect(),
            stale_reads: s.stale_reads.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            late: s.late.load(Ordering::Relaxed),
            actions: per.into_iter().map(|(a, sum)| (a.name(), sum)).collect(),
            all,
            backends: None,
        }
    }

    /// One JSON object.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The summary table.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let load = match (self.concurrency, self.rate) {
            (Some(c), _) => format!("closed loop, {c} connections"),
            (_, Some(r)) => format!("open loop, {} arrivals/s", group(r)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "storefront bench against {}: {load}, {:.1} s",
            self.endpoint, self.duration_s
        );
        let _ = writeln!(
            out,
            "  {:<12} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9}",
            "action", "count", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        let order = super::visit::Action::ALL.map(|a| a.name());
        let rows = order
            .iter()
            .filter_map(|n| self.actions.get(n).map(|s| (*n, s)))
            .chain(std::iter::once(("all", &self.all)));
        for (name, s) in rows {
            let _ = writeln!(
                out,
                "  {:<12} {:>9} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                name, s.count, s.errors, s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms
            );
        }
        let _ = writeln!(
            out,
            "  QPS {} (statements/s)   TPS {:.1} (checkouts/s)   actions/s {}",
            group(self.qps),
            self.tps,
            group(self.actions_per_s)
        );
        let _ = writeln!(
            out,
            "  checkouts {} committed, {} out of stock (rolled back)   stale reads {}",
            self.checkouts, self.out_of_stock, self.stale_reads
        );
        let codes: Vec<String> = self
            .errors_by_code
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        let _ = write!(out, "  errors {}", self.errors);
        if !codes.is_empty() {
            let _ = write!(out, " (by code {})", codes.join(", "));
        }
        if self.mode == "open" {
            let _ = write!(out, "   dropped {}   late {}", self.dropped, self.late);
        }
        out.push('\n');
        if let Some(backends) = &self.backends {
            let _ = writeln!(
                out,
                "  where the proxy sent statements (admin SHOW BACKENDS, during the run):"
            );
            let _ = writeln!(
                out,
                "    {:<14} {:>10} {:>10}",
                "backend", "reads", "writes"
            );
            for b in backends {
                let _ = writeln!(out, "    {:<14} {:>10} {:>10}", b.name, b.reads, b.writes);
            }
        }
        out
    }
}
