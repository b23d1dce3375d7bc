//! Where a statement goes. The router never sees bytes on the wire: it takes a statement's
//! [`Classification`] (judged from its text by [`classify`]) and the session's
//! [`SessionState`] and returns a [`Decision`]: a destination and a stable reason name.

pub mod classify;
pub mod rules;
pub mod session;
pub mod stats;

pub use classify::{Classification, Target};
pub use session::SessionState;

use crate::config::Consistency;
use classify::HintTarget;

/// Where a request should run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// The primary.
    Primary,
    /// Any replica the balancer picks (the primary when none qualifies).
    Replica,
    /// A backend by name (a hint, the open read-only transaction, the previous statement).
    Backend(std::sync::Arc<str>),
}

/// A routing decision and why it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Where to send the request.
    pub dest: Dest,
    /// Stable reason name (metrics, EXPLAIN ROUTE).
    pub reason: &'static str,
    /// The statement's own staleness bound (hint `rwproxy:max_lag_ms=N`).
    pub max_lag_ms: Option<u64>,
    /// A position a replica must have applied first (hint `rwproxy:after_gtid`).
    pub after_gtid: Option<String>,
    /// The request continues what an earlier one started on that very connection (a
    /// cursor, long data): nothing else may run there first, and it is never retried.
    pub follow: bool,
}

impl Decision {
    /// A decision with no staleness bound of its own.
    pub fn new(dest: Dest, reason: &'static str) -> Decision {
        Decision {
            dest,
            reason,
            max_lag_ms: None,
            after_gtid: None,
            follow: false,
        }
    }
}

fn to(dest: Dest, reason: &'static str) -> Decision {
    Decision::new(dest, reason)
}

/// Decides where a statement classified as `c` runs for a session in `state`.
///
/// Order matters: an open transaction keeps everything on its backend; a primary hint or
/// a primary-only statement goes to the primary; transactions, autocommit=0 and pins keep
/// the session on the primary; statements about the previous statement follow it; only
/// then may a read go to a replica.
///
/// `rule` is the target of the first matching `[[rules]]` entry; a hint in the statement
/// itself wins over it.
pub fn decide(
    c: &Classification,
    state: &SessionState,
    consistency: Consistency,
    rule: Option<&HintTarget>,
) -> Decision {
    if state.in_transaction() {
        let reason = if state.read_only_transaction() {
            "read-only-transaction"
        } else {
            "transaction"
        };
        return match &state.txn_backend {
            // Never split a transaction: the very connection it began on, no retry.
            Some(b) => Decision {
                follow: true,
                ..to(Dest::Backend(b.clone()), reason)
            },
            None => to(Dest::Primary, reason),
        };
    }
    let hinted = c.hint.as_ref().and_then(|h| h.target.as_ref());
    let (hint, by) = match (hinted, rule) {
        (Some(h), _) => (Some(h), "hint"),
        (None, Some(r)) => (Some(r), "rule"),
        (None, None) => (None, "hint"),
    };
    if let Some(HintTarget::Primary) = hint {
        return to(Dest::Primary, by);
    }
    if c.effects.contains(classify::Effects::BEGIN_READ_ONLY)
        && state.autocommit()
        && state.pin().is_none()
    {
        if consistency == Consistency::Primary {
            return to(Dest::Primary, "consistency-primary");
        }
        return to(Dest::Replica, "read-only-transaction");
    }
    if c.target == Target::Primary {
        return to(Dest::Primary, c.reason.as_str());
    }
    if !state.autocommit() {
        return to(Dest::Primary, "autocommit-off");
    }
    if let Some(pin) = state.pin() {
        return to(Dest::Primary, pin.as_str());
    }
    if c.target == Target::Previous {
        return match &state.last_backend {
            Some(b) => to(Dest::Backend(b.clone()), "previous-statement"),
            None => to(Dest::Primary, "previous-statement"),
        };
    }
    if consistency == Consistency::Primary {
        return to(Dest::Primary, "consistency-primary");
    }
    if let Some(HintTarget::Backend(name)) = hint {
        return to(Dest::Backend(name.as_str().into()), by);
    }
    Decision {
        max_lag_ms: c.hint.as_ref().and_then(|h| h.max_lag_ms),
        after_gtid: c.hint.as_ref().and_then(|h| h.after_gtid.clone()),
        ..to(Dest::Replica, c.reason.as_str())
    }
}
