//! `UPDATE backends SET weight = …, max_lag_ms = …, state = '…' WHERE name = '…'`:
//! applied to the running backends at once (their atomics); sessions see it at their
//! next statement, none is dropped. `SAVE CONFIG` makes it survive a reload or restart.

use super::{Ctx, Reply};
use crate::admin::backends::{apply, ChangeError};
use crate::admin::parse::BackendChange;

/// Runs the command.
pub fn run(ctx: &Ctx, names: &[String], change: &BackendChange) -> Reply {
    match apply(&ctx.proxy, names, change, &ctx.who()) {
        Ok(n) => Reply::Ok {
            affected: n as u64,
            info: format!("{n} backend(s) changed; SAVE CONFIG writes it to the file"),
        },
        Err(e @ ChangeError::Unknown(_)) => Reply::error(1105, e.to_string()),
        Err(e @ ChangeError::Empty) => Reply::error(1105, e.to_string()),
    }
}
