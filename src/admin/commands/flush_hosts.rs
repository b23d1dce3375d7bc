//! `FLUSH HOSTS`: forgets every client address's count of failed handshakes, so hosts
//! blocked by `[proxy] max_connect_errors` (ERR 1129) may connect again, as the same
//! statement does on MariaDB. Affected rows = addresses that were blocked.

use super::{Ctx, Reply};

/// Runs the command.
pub fn run(ctx: &Ctx) -> Reply {
    let limit = ctx.proxy.config.load().proxy.max_connect_errors;
    let unblocked = ctx.proxy.connect_errors.flush(limit);
    tracing::warn!(by = %ctx.who(), unblocked, "FLUSH HOSTS: client host error counts cleared");
    Reply::Ok {
        affected: unblocked as u64,
        info: format!("{unblocked} blocked host(s) unblocked"),
    }
}
