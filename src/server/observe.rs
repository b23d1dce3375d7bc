//! What the admin side learns from each completed request: how it is counted on its
//! backend (read or write), routing counts by reason, statement digests, failed
//! statements, and the slow-statement log. Called once per request where its backend
//! is known (`dispatch`), it stays cheap: atomics, and for a text statement one
//! fingerprint pass and one map read (a prepared statement keeps its digest entry).

use super::forward::Request;
use super::session::Session;
use crate::admin::digest::Execution;
use crate::protocol::constants::com::{COM_QUERY, COM_STMT_EXECUTE};
use crate::protocol::response::ResponseWalker;
use crate::replication::{Backend, RequestKind};
use crate::router::{Decision, Dest};
use std::sync::atomic::Ordering;

/// Longest statement text written to the slow log.
const SLOW_LOG_TEXT: usize = 1024;

/// How a request with this decision counts on its backend: routed as a read (the
/// balancer's pick, a read the rules or hints sent to a named backend, a read-only
/// transaction), or as write, transaction or session traffic.
pub(crate) fn request_kind(decision: &Decision) -> RequestKind {
    match &decision.dest {
        Dest::Primary => RequestKind::Write,
        Dest::Replica => RequestKind::Read,
        Dest::Backend(_) if decision.reason == "transaction" => RequestKind::Write,
        Dest::Backend(_) => RequestKind::Read,
    }
}

impl Session {
    /// Records a request that got a complete response from `target` in `us` µs.
    pub(crate) fn observe(
        &mut self,
        req: &Request<'_>,
        decision: &Decision,
        target: &Backend,
        on_primary: bool,
        us: u64,
        walker: &ResponseWalker,
    ) {
        let proxy = &self.proxy;
        proxy.route_reasons.count(decision.reason, on_primary);
        let error = walker.error.is_some();
        if error {
            target.sql_errors.fetch_add(1, Ordering::Relaxed);
        }
        let (command, rest) = match req.payload.split_first() {
            Some((&c, rest)) => (c, rest),
            None => return,
        };
        let e = Execution {
            us,
            rows: walker.rows + walker.ok.as_ref().map_or(0, |ok| ok.affected_rows),
            on_primary,
            error,
        };
        match command {
            COM_QUERY => proxy.digests.record_sql(rest, e),
            COM_STMT_EXECUTE => self.stmts.record_digest(rest, &proxy.digests, e),
            _ => {}
        }
        let slow_ms = proxy.slow_ms.load(Ordering::Relaxed);
        if slow_ms > 0 && us >= slow_ms.saturating_mul(1000) {
            let text = match command {
                COM_QUERY => Some(rest),
                COM_STMT_EXECUTE => rest.get(..4).and_then(|id| self.stmts.sql(id)),
                _ => None,
            };
            let text = text.map(|t| String::from_utf8_lossy(&t[..t.len().min(SLOW_LOG_TEXT)]));
            tracing::warn!(
                id = self.handle.id,
                user = %self.login.user,
                backend = %target.name,
                ms = us / 1000,
                reason = decision.reason,
                statement = text.as_deref().unwrap_or(""),
                "slow statement"
            );
        }
    }

    /// Refuses a login while the primary is draining (the DBA wants its sessions to
    /// end, not new ones).
    pub(crate) fn login_gate(&self) -> Result<(), crate::protocol::packets::ErrPacket> {
        let topo = self.proxy.topology.load();
        match topo.writer() {
            Some(w) if w.state() == crate::replication::BackendState::Draining => {
                Err(crate::protocol::packets::ErrPacket::new(
                    crate::protocol::constants::errors::ER_CON_COUNT_ERROR,
                    "08004",
                    format!(
                        "rwproxy: primary '{}' is draining (set by the admin): no new sessions",
                        w.name
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Notes the command that starts now, for `SHOW SESSIONS`.
    pub(crate) fn note_begin(&self, payload: &[u8]) {
        use crate::protocol::constants::com::*;
        let Some((&c, rest)) = payload.split_first() else {
            return;
        };
        let (name, text) = match c {
            COM_QUERY => ("Query", Some(rest)),
            COM_STMT_PREPARE => ("Prepare", Some(rest)),
            COM_STMT_EXECUTE => ("Execute", rest.get(..4).and_then(|id| self.stmts.sql(id))),
            COM_STMT_FETCH => ("Fetch", None),
            COM_INIT_DB => ("Init DB", None),
            COM_PING => ("Ping", None),
            COM_CHANGE_USER => ("Change user", None),
            _ => ("Command", None),
        };
        self.handle.begin(name, text);
    }
}
