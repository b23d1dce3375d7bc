//! `SHOW BACKENDS`: one row per backend — the contract's sixteen columns (name, address,
//! role, state, weight, max_lag_ms, lag_ms, gtid, conn_active, conn_idle, queries,
//! reads, writes, errors, p50_ms, p99_ms), then extras.

use super::{Ctx, Reply};
use crate::admin::backends::{rows, COLUMNS};

/// Runs the command.
pub fn run(ctx: &Ctx) -> Reply {
    let rows = rows(&ctx.proxy).iter().map(|r| r.cells()).collect();
    Reply::rows(&COLUMNS, rows)
}
