//! The express lane: the statements an OLTP workload sends most — a single SELECT, a
//! single INSERT/UPDATE/DELETE/REPLACE, a bare BEGIN/COMMIT/ROLLBACK — classified
//! without the batch cursor and statement handlers.
//!
//! Every answer here is the one the general path gives (a test holds the two to the
//! same table and to every prefix of it); whenever a statement is anything else — a
//! `;`, a lexer error, a string that reads differently without backslash escapes — the
//! express lane declines and the general path decides.

use super::cursor::may_matter;
use super::keywords::Kw;
use super::lexer::{is_ident, is_space, Kind, Lexer, Tok};
use super::scan::{Mode, Scan};
use super::verdict::{Effects, Reason, Target};
use super::Classification;

/// Classifies `sql` (whose first statement starts at `start`) if it is one of the
/// express shapes; `None` sends it down the general path.
pub(crate) fn classify(sql: &[u8], start: usize) -> Option<Classification> {
    let rest = sql.get(start..)?;
    let len = rest
        .iter()
        .position(|&b| !is_ident(b))
        .unwrap_or(rest.len());
    if len == 0 || rest[0].is_ascii_digit() {
        return None;
    }
    let (word, tail) = rest.split_at(len);
    let (target, reason, effects) = match first_keyword(word) {
        Kw::SELECT => return select(sql, start, start + len),
        // Settled by the keyword; the tail can only add effects or statements when it
        // holds a `;`, `@` or `_` (see `Cursor::finish_decided`).
        Kw::INSERT | Kw::UPDATE | Kw::DELETE | Kw::REPLACE if !may_matter(tail) => {
            (Target::Primary, Reason::Write, Effects::NONE)
        }
        Kw::BEGIN if bare(tail) => (Target::Primary, Reason::TransactionControl, Effects::BEGIN),
        Kw::COMMIT | Kw::ROLLBACK if bare(tail) => (
            Target::Primary,
            Reason::TransactionControl,
            Effects::TXN_END,
        ),
        _ => return None,
    };
    Some(Classification {
        target,
        reason,
        effects,
        hint: None,
    })
}

/// The express keywords, by length and initial, compared in place.
fn first_keyword(word: &[u8]) -> Kw {
    let first = word.first().map_or(0, u8::to_ascii_uppercase);
    let (text, k): (&[u8], Kw) = match (word.len(), first) {
        (6, b'S') => (b"SELECT", Kw::SELECT),
        (6, b'I') => (b"INSERT", Kw::INSERT),
        (6, b'U') => (b"UPDATE", Kw::UPDATE),
        (6, b'D') => (b"DELETE", Kw::DELETE),
        (6, b'C') => (b"COMMIT", Kw::COMMIT),
        (7, b'R') => (b"REPLACE", Kw::REPLACE),
        (5, b'B') => (b"BEGIN", Kw::BEGIN),
        (8, b'R') => (b"ROLLBACK", Kw::ROLLBACK),
        _ => return Kw::Other,
    };
    if word.eq_ignore_ascii_case(text) {
        k
    } else {
        Kw::Other
    }
}

/// Only whitespace, with at most one `;` in it.
fn bare(tail: &[u8]) -> bool {
    let mut semis = 0;
    tail.iter().all(|&b| {
        semis += usize::from(b == b';');
        is_space(b) || (b == b';' && semis == 1)
    })
}

/// A single SELECT: the scanner over every token after the keyword, as the general
/// path's SELECT handler would run it.
fn select(sql: &[u8], start: usize, after: usize) -> Option<Classification> {
    let mut scan = Scan::new();
    let mut lex = Lexer::new(sql, after, true);
    scan.feed(
        sql,
        Tok {
            kind: Kind::Word,
            start,
            end: after,
            exec: false,
        },
    );
    scan.mode = Mode::Read;
    loop {
        let t = lex.next_tok();
        match t.kind {
            Kind::End => break,
            Kind::Punct(b';') | Kind::Error => return None,
            _ => scan.feed(sql, t),
        }
    }
    if lex.saw_backslash_quote() {
        return None;
    }
    let (target, reason) = if scan.with_write {
        (Target::Primary, Reason::Write)
    } else if let Some(r) = scan.primary {
        (Target::Primary, r)
    } else if scan.unbalanced() {
        (Target::Primary, Reason::Unparseable)
    } else if let Some(r) = scan.previous {
        (Target::Previous, r)
    } else {
        (Target::Replica, Reason::Read)
    };
    Some(Classification {
        target,
        reason,
        effects: scan.effects(),
        hint: None,
    })
}
