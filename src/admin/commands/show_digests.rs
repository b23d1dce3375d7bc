//! `SHOW DIGESTS`: statements grouped by fingerprint, the most total time first — count,
//! errors, total / mean / p99 time, rows, and how many ran on the primary and elsewhere.
//! `TRUNCATE DIGESTS` starts over.

use super::{Ctx, Reply};

/// Rows shown.
const TOP: usize = 100;

/// Columns, in order.
pub const COLUMNS: [&str; 10] = [
    "digest",
    "digest_text",
    "count",
    "errors",
    "total_ms",
    "mean_ms",
    "p99_ms",
    "rows",
    "on_primary",
    "on_replica",
];

/// Runs `SHOW DIGESTS`.
pub fn run(ctx: &Ctx) -> Reply {
    let f = |v: Option<f64>| v.map(|x| format!("{x:.3}"));
    let rows = ctx
        .proxy
        .digests
        .top(TOP)
        .into_iter()
        .map(|d| {
            vec![
                Some(format!("{:016x}", d.digest)),
                Some(d.text),
                Some(d.count.to_string()),
                Some(d.errors.to_string()),
                Some(format!("{:.3}", d.latency.sum_us as f64 / 1000.0)),
                f(d.latency.mean_ms()),
                f(d.latency.quantile_ms(0.99)),
                Some(d.rows.to_string()),
                Some(d.on_primary.to_string()),
                Some(d.on_replica.to_string()),
            ]
        })
        .collect();
    Reply::rows(&COLUMNS, rows)
}

/// Runs `TRUNCATE DIGESTS`.
pub fn truncate(ctx: &Ctx) -> Reply {
    ctx.proxy.digests.clear();
    Reply::Ok {
        affected: 0,
        info: "digests cleared".into(),
    }
}
