//! Read-shaped statements whose kind depends on more than the first keyword: SHOW
//! (most go to a replica, some name per-server or per-statement state), EXPLAIN and
//! DESCRIBE (a replica for a SELECT or a table, the primary for a write), and queries
//! that open with a parenthesis.

use super::cursor::Cursor;
use super::keywords::Kw;
use super::lexer::Kind;
use super::stmt::{primary, read, Base};
use super::verdict::{Reason, Target};

/// SHOW …: a replica, except the statements that describe the primary's binlog or a
/// server's own sessions and replication (primary), and the diagnostics of the previous
/// statement (wherever it ran).
pub(crate) fn show(cur: &mut Cursor<'_>) -> Base {
    let base = read(cur);
    let mut k = cur.peek_kw();
    if matches!(k, Kw::FULL | Kw::GLOBAL | Kw::SESSION) {
        cur.next();
        k = cur.peek_kw();
    }
    match k {
        Kw::MASTER | Kw::BINLOG | Kw::BINARY => primary(Reason::ShowPrimaryStatus),
        Kw::PROCESSLIST
        | Kw::SLAVE
        | Kw::REPLICA
        | Kw::SLAVES
        | Kw::REPLICAS
        | Kw::ALL
        | Kw::RELAYLOG
        | Kw::EXPLAIN
        | Kw::ANALYZE => primary(Reason::ServerState),
        Kw::WARNINGS | Kw::ERRORS | Kw::COUNT | Kw::PROFILE | Kw::PROFILES => {
            Base::ReadAs(Target::Previous, Reason::Diagnostics)
        }
        _ => base,
    }
}

/// EXPLAIN / DESCRIBE / DESC: skips the output options, then looks at what is explained.
pub(crate) fn explain(cur: &mut Cursor<'_>) -> Base {
    loop {
        let t = cur.peek();
        match cur.kw_of(t) {
            Kw::EXTENDED | Kw::PARTITIONS => {
                cur.next();
            }
            Kw::FORMAT => {
                cur.next();
                if cur.peek().kind == Kind::Punct(b'=') {
                    cur.next();
                }
                cur.next();
            }
            Kw::SELECT => return read(cur),
            Kw::WITH | Kw::VALUES | Kw::TABLE => {
                cur.deep_from = Some(t.start);
                return read(cur);
            }
            Kw::INSERT | Kw::UPDATE | Kw::DELETE | Kw::REPLACE => return primary(Reason::Write),
            // EXPLAIN ANALYZE runs the statement; EXPLAIN FOR CONNECTION names a
            // connection on one server.
            Kw::ANALYZE => return primary(Reason::Admin),
            Kw::FOR => return primary(Reason::ServerState),
            // A table name: EXPLAIN t is DESCRIBE t.
            Kw::Other if matches!(t.kind, Kind::Word | Kind::QuotedIdent) => return read(cur),
            _ if t.kind == Kind::Punct(b'(') => return parenthesized_body(cur, t.start),
            _ => return primary(Reason::UnknownStatement),
        }
    }
}

/// A statement that opened with `(` (already consumed): `(SELECT …) UNION (…)`.
pub(crate) fn parenthesized(cur: &mut Cursor<'_>, start: usize) -> Base {
    parenthesized_body(cur, start)
}

/// Skips opening parentheses, then expects a query keyword.
fn parenthesized_body(cur: &mut Cursor<'_>, start: usize) -> Base {
    while cur.peek().kind == Kind::Punct(b'(') {
        cur.next();
    }
    match cur.peek_kw() {
        Kw::SELECT => read(cur),
        Kw::WITH | Kw::VALUES | Kw::TABLE => {
            cur.deep_from = Some(start);
            read(cur)
        }
        _ => primary(Reason::UnknownStatement),
    }
}
