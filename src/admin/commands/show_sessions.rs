//! `SHOW SESSIONS` (or `SHOW PROCESSLIST`): the proxy's client sessions, like a
//! processlist — id, client address, user, db, the backend serving it and that
//! backend's thread id, command, seconds in it, and the current (or last) statement.

use super::{Ctx, Reply};

/// Columns, in order.
pub const COLUMNS: [&str; 9] = [
    "id",
    "client",
    "user",
    "db",
    "backend",
    "backend_thread",
    "command",
    "time",
    "statement",
];

/// Runs the command.
pub fn run(ctx: &Ctx) -> Reply {
    let rows = ctx
        .proxy
        .sessions
        .list()
        .into_iter()
        .map(|s| {
            vec![
                Some(s.id.to_string()),
                s.peer.map(|p| p.to_string()),
                Some(s.user),
                s.db,
                s.backend.as_ref().map(|(b, _)| b.clone()),
                s.backend.as_ref().map(|(_, t)| t.to_string()),
                Some(s.command.to_string()),
                Some(format!("{:.1}", s.time.as_secs_f64())),
                (!s.statement.is_empty()).then_some(s.statement),
            ]
        })
        .collect();
    Reply::rows(&COLUMNS, rows)
}
