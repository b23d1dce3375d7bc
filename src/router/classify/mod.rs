//! Statement classification: where a statement may run, judged from its text alone.
//!
//! [`classify`] is pure — no session state. The session layer combines its
//! [`Classification`] with transaction state, pins and consistency rules.
//!
//! How it decides (see DESIGN.md, "router/"):
//! 1. Not UTF-8 → primary, "unparseable".
//! 2. Leading comments are read for rwproxy hints (`hints`).
//! 3. A fast lexical path (`lexer`, `cursor`, `stmt`): the batch is split at `;`
//!    (outside quotes and comments), each statement's first keyword settles writes,
//!    DDL, transaction control and session commands; read candidates get one scan
//!    (`scan`) for locking clauses, INTO, user-variable assignment, side-effect
//!    variables and calls outside the built-in allow-list (`functions`). The commonest
//!    shapes — a lone SELECT, INSERT/UPDATE/DELETE/REPLACE, a bare BEGIN/COMMIT/ROLLBACK
//!    — take an express lane (`express`) that gives the same answers with less setup.
//! 4. What the fast path cannot settle — `WITH`, `VALUES`, `TABLE` — is confirmed by
//!    sqlparser (`deep`), whose verdicts [`ClassifyCache`] keeps.
//! 5. Batches: any primary statement makes the batch primary ("multi-statement-write"
//!    when one writes), effects are the union, [`Effects::MULTI_STATEMENT`] is set.
//! 6. A primary hint always wins; a replica hint overrides only cautious reads (see
//!    [`HintTarget::Replica`]).
//!
//! Anything unknown or unparseable goes to the primary: wrong toward the primary costs
//! speed, wrong toward a replica costs correctness.

mod cache;
mod cursor;
mod deep;
mod express;
mod functions;
mod hints;
mod keywords;
mod lexer;
mod reads;
mod scan;
mod set;
mod stmt;
mod txn;
mod verdict;

#[cfg(test)]
mod sweep_tests;
#[cfg(test)]
mod table_tests;

pub use cache::ClassifyCache;
pub use hints::{Hint, HintTarget};
pub use verdict::{Effects, Reason, Target};

use cursor::Cursor;
use deep::DeepVerdict;
use stmt::Verdict;

/// The classifier's answer for one COM_QUERY text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// Where the statement may run.
    pub target: Target,
    /// Why (stable name: [`Reason::as_str`]).
    pub reason: Reason,
    /// Side effects the session layer must track.
    pub effects: Effects,
    /// The rwproxy hint from the leading comments, if any.
    pub hint: Option<Hint>,
}

impl Classification {
    fn new(target: Target, reason: Reason, effects: Effects) -> Self {
        Classification {
            target,
            reason,
            effects,
            hint: None,
        }
    }
}

/// Classifies one COM_QUERY text (possibly a multi-statement batch). Never panics;
/// anything it cannot read goes to the primary.
pub fn classify(sql: &[u8]) -> Classification {
    classify_with(sql, &mut deep::analyze)
}

/// [`classify`] with the slow path supplied by the caller (the cache or sqlparser).
pub(crate) fn classify_with(
    sql: &[u8],
    deep: &mut dyn FnMut(&str) -> DeepVerdict,
) -> Classification {
    classify_lanes(sql, deep, true)
}

/// The classifier, with or without the express lane (tests compare the two).
fn classify_lanes(
    sql: &[u8],
    deep: &mut dyn FnMut(&str) -> DeepVerdict,
    express: bool,
) -> Classification {
    if !is_utf8(sql) {
        return Classification::new(Target::Primary, Reason::Unparseable, Effects::NONE);
    }
    // Most statements start with their keyword: no comments to read.
    let (hint, start) = match sql.first() {
        Some(b) if b.is_ascii_alphabetic() => (None, 0),
        _ => hints::leading(sql),
    };
    let fast = if express {
        express::classify(sql, start)
    } else {
        None
    };
    let mut c = match fast {
        Some(c) => c,
        None => general(sql, start, deep),
    };
    if let Some(h) = hint {
        apply_hint(&mut c, &h);
        c.hint = Some(h);
    }
    c
}

/// The general path: every statement of the batch through the cursor and handlers.
fn general(sql: &[u8], start: usize, deep: &mut dyn FnMut(&str) -> DeepVerdict) -> Classification {
    let first = batch(sql, start, true, deep);
    let mut c = first.class;
    if first.ambiguous && c.target != Target::Primary {
        // `\'` reads differently under NO_BACKSLASH_ESCAPES: keep the more cautious
        // reading, unless that reading is not even SQL (the server would reject it).
        let other = batch(sql, start, false, deep);
        if !other.error && other.class.target.rank() > c.target.rank() {
            let effects = c.effects | other.class.effects;
            c = other.class;
            c.effects = effects;
        }
    }
    c
}

/// UTF-8 validity, with the word-at-a-time ASCII check first (most SQL is ASCII).
fn is_utf8(sql: &[u8]) -> bool {
    sql.is_ascii() || std::str::from_utf8(sql).is_ok()
}

/// A batch's combined classification and how it was read.
struct Batch {
    class: Classification,
    /// A backslash preceded a quote in some string.
    ambiguous: bool,
    /// An unterminated string, identifier or comment.
    error: bool,
}

/// Classifies every statement from `start` and combines them.
fn batch(
    sql: &[u8],
    start: usize,
    backslash: bool,
    deep: &mut dyn FnMut(&str) -> DeepVerdict,
) -> Batch {
    let mut cur = Cursor::new(sql, start, backslash);
    let mut acc: Option<Verdict> = None;
    let mut effects = Effects::NONE;
    let (mut count, mut writes) = (0usize, false);
    loop {
        if let Some(v) = stmt::classify_stmt(&mut cur) {
            let v = confirm(sql, v, deep);
            count += 1;
            effects |= v.effects;
            writes |= v.target == Target::Primary && v.reason.is_write();
            if acc.is_none_or(|a| v.target.rank() > a.target.rank()) {
                acc = Some(v);
            }
        }
        if cur.eof {
            break;
        }
        cur.restart();
    }
    let class = match acc {
        _ if cur.error => Classification::new(Target::Primary, Reason::Unparseable, effects),
        None => Classification::new(Target::Primary, Reason::Empty, effects),
        Some(v) if count == 1 => Classification::new(v.target, v.reason, effects),
        Some(v) => {
            let reason = if writes {
                Reason::MultiStatementWrite
            } else {
                v.reason
            };
            Classification::new(v.target, reason, effects | Effects::MULTI_STATEMENT)
        }
    };
    Batch {
        class,
        ambiguous: cur.saw_backslash_quote(),
        error: cur.error,
    }
}

/// Asks the slow path about a replica verdict the fast path could not settle alone.
fn confirm(sql: &[u8], mut v: Verdict, deep: &mut dyn FnMut(&str) -> DeepVerdict) -> Verdict {
    let Some((from, to)) = v.deep else { return v };
    let text = sql.get(from..to).and_then(|b| std::str::from_utf8(b).ok());
    let verdict = text.map_or(DeepVerdict::Unparseable, deep);
    let reason = match verdict {
        DeepVerdict::Read => return v,
        DeepVerdict::Write => Reason::Write,
        DeepVerdict::NotQuery => Reason::UnknownStatement,
        DeepVerdict::Unparseable => Reason::Unparseable,
    };
    v.target = Target::Primary;
    v.reason = reason;
    v
}

/// A primary hint always wins; a replica hint moves only reads that went elsewhere out
/// of caution ([`Reason::replica_hint_may_override`]); a backend hint leaves the target.
fn apply_hint(c: &mut Classification, h: &Hint) {
    match h.target {
        Some(HintTarget::Primary) if c.target != Target::Primary => {
            c.target = Target::Primary;
            c.reason = Reason::Hint;
        }
        Some(HintTarget::Replica)
            if c.target != Target::Replica && c.reason.replica_hint_may_override() =>
        {
            c.target = Target::Replica;
            c.reason = Reason::Hint;
        }
        _ => {}
    }
}
