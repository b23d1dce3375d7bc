//! `SHOW STATS`: one (name, value) row per figure — client connections, requests and
//! QPS, routing to primary / replicas, fallbacks, retries, causal-read waits and their
//! outcomes, pins by reason, and `route.<reason>.primary|replica` counts.

use super::{Ctx, Reply};

/// Runs the command.
pub fn run(ctx: &Ctx) -> Reply {
    let rows = crate::admin::stats::rows(&ctx.proxy)
        .into_iter()
        .map(|(k, v)| vec![Some(k), Some(v)])
        .collect();
    Reply::rows(&["name", "value"], rows)
}
