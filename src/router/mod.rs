//! Where a statement goes. The router never sees bytes: it takes the decoded command and
//! the session's state and returns a [`Route`]. In this first version every statement
//! goes to the primary; classification into reads and writes builds on this shape.

pub mod classify;
pub mod session;

pub use session::SessionState;

use crate::protocol::command::Command;

/// Where one request should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The primary: writes, transactions, anything session-sensitive.
    Primary,
    /// Any replica that qualifies (falls back per the balancer's policy).
    Replica,
    /// The backend the session already uses (prepared statements, cursors, pinned state).
    Current,
}

/// Decides the route of `command` for a session in `state`.
pub fn route(command: &Command<'_>, state: &SessionState) -> Route {
    match command {
        Command::StmtExecute(_)
        | Command::StmtFetch(_)
        | Command::StmtClose(_)
        | Command::StmtReset(_)
        | Command::StmtSendLongData(_)
            if state.has_backend =>
        {
            Route::Current
        }
        _ => Route::Primary,
    }
}
