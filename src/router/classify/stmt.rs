//! One statement of a batch: the leading keyword decides most statements alone; the
//! handlers here and in `reads`, `set` and `txn` read a few more tokens where the kind
//! depends on them (CREATE TEMPORARY, LOCK TABLES, DROP PREPARE, …), and the scanner
//! settles the reads.

use super::cursor::Cursor;
use super::keywords::Kw;
use super::lexer::Kind;
use super::scan::Mode;
use super::verdict::{Effects, Reason, Target};
use super::{reads, set, txn};

/// What a handler decided before the scanner's findings are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// A read candidate: the scanner's findings decide, else `(target, reason)`.
    ReadAs(Target, Reason),
    /// Decided by structure alone.
    Fixed(Target, Reason),
}

/// A plain read.
pub(crate) const READ: Base = Base::ReadAs(Target::Replica, Reason::Read);

/// One statement's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Where it may run.
    pub target: Target,
    /// Why.
    pub reason: Reason,
    /// What it does to the session.
    pub effects: Effects,
    /// sqlparser must confirm a replica verdict on `src[from..end]`.
    pub deep: Option<(usize, usize)>,
}

/// Classifies the statement that starts at the cursor and consumes it, `;` included.
/// `None` for an empty statement.
pub(crate) fn classify_stmt(cur: &mut Cursor<'_>) -> Option<Verdict> {
    let first = cur.peek();
    if first.kind == Kind::End {
        cur.next();
        return None;
    }
    let base = dispatch_next(cur);
    match base {
        Base::Fixed(..) if cur.scan.mode == Mode::Effects => cur.finish_decided(),
        _ => cur.finish(),
    }
    let mut v = settle(cur, base);
    if first.exec && v.target != Target::Primary {
        v.target = Target::Primary;
        v.reason = Reason::ExecutableComment;
    }
    Some(v)
}

/// Reads a statement's first token and hands the statement to its handler.
pub(crate) fn dispatch_next(cur: &mut Cursor<'_>) -> Base {
    let first = cur.next();
    match first.kind {
        Kind::Word => dispatch(cur, cur.kw_of(first), first.start),
        Kind::Punct(b'(') => reads::parenthesized(cur, first.start),
        _ => primary(Reason::UnknownStatement),
    }
}

/// Applies the scanner's findings to a handler's decision.
fn settle(cur: &Cursor<'_>, base: Base) -> Verdict {
    let scan = &cur.scan;
    let mut effects = scan.effects() | cur.effects;
    let (target, reason) = match base {
        Base::Fixed(t, r) => {
            // A CALL's user-variable arguments may be OUT parameters.
            if r == Reason::Call && scan.user_reads > 0 {
                effects |= Effects::USER_VAR_ASSIGN;
            }
            (t, r)
        }
        Base::ReadAs(t, r) => {
            if scan.with_write {
                (Target::Primary, Reason::Write)
            } else if let Some(p) = scan.primary {
                (Target::Primary, p)
            } else if scan.unbalanced() {
                (Target::Primary, Reason::Unparseable)
            } else if let Some(p) = scan.previous {
                (Target::Previous, p)
            } else {
                (t, r)
            }
        }
    };
    let deep = match (target, cur.deep_from) {
        (Target::Replica, Some(from)) => Some((from, cur.end)),
        _ => None,
    };
    Verdict {
        target,
        reason,
        effects,
        deep,
    }
}

/// A statement for the primary.
pub(crate) fn primary(reason: Reason) -> Base {
    Base::Fixed(Target::Primary, reason)
}

/// A read candidate whose scanner checks every call.
pub(crate) fn read(cur: &mut Cursor<'_>) -> Base {
    cur.scan.mode = Mode::Read;
    READ
}

/// The leading-keyword table.
fn dispatch(cur: &mut Cursor<'_>, k: Kw, start: usize) -> Base {
    match k {
        Kw::SELECT => read(cur),
        Kw::WITH | Kw::VALUES | Kw::TABLE => {
            cur.deep_from = Some(start);
            read(cur)
        }
        Kw::SHOW => reads::show(cur),
        Kw::DESC | Kw::DESCRIBE | Kw::EXPLAIN => reads::explain(cur),
        Kw::HELP => READ,
        Kw::INSERT | Kw::UPDATE | Kw::DELETE | Kw::REPLACE | Kw::LOAD => primary(Reason::Write),
        Kw::CREATE => create(cur),
        Kw::DROP => drop(cur),
        Kw::ALTER | Kw::RENAME | Kw::TRUNCATE => primary(Reason::Ddl),
        Kw::GRANT
        | Kw::REVOKE
        | Kw::FLUSH
        | Kw::RESET
        | Kw::PURGE
        | Kw::INSTALL
        | Kw::UNINSTALL
        | Kw::OPTIMIZE
        | Kw::REPAIR
        | Kw::ANALYZE
        | Kw::CHECK
        | Kw::CHECKSUM
        | Kw::CACHE
        | Kw::CHANGE
        | Kw::STOP
        | Kw::SHUTDOWN
        | Kw::BINLOG
        | Kw::BACKUP
        | Kw::SIGNAL
        | Kw::RESIGNAL => primary(Reason::Admin),
        Kw::KILL => {
            cur.effects |= Effects::KILL;
            primary(Reason::Kill)
        }
        Kw::LOCK => lock(cur, Effects::LOCK_TABLES),
        Kw::UNLOCK => lock(cur, Effects::UNLOCK_TABLES),
        Kw::CALL => primary(Reason::Call),
        Kw::DO => primary(Reason::Do),
        Kw::HANDLER => primary(Reason::Handler),
        Kw::PREPARE | Kw::EXECUTE | Kw::DEALLOCATE => {
            cur.effects |= Effects::SQL_PREPARE;
            primary(Reason::SqlPrepare)
        }
        Kw::GET => Base::Fixed(Target::Previous, Reason::Diagnostics),
        Kw::BEGIN => txn::begin(cur),
        Kw::START => txn::start(cur),
        Kw::COMMIT => txn::commit(cur),
        Kw::ROLLBACK => txn::rollback(cur),
        Kw::SAVEPOINT | Kw::RELEASE => primary(Reason::TransactionControl),
        Kw::XA => txn::xa(cur),
        Kw::SET => set::set(cur),
        Kw::USE => {
            cur.effects |= Effects::SESSION_STATE;
            primary(Reason::SessionCommand)
        }
        _ => primary(Reason::UnknownStatement),
    }
}

/// CREATE: notes TEMPORARY tables; a stored program (PROCEDURE, FUNCTION, TRIGGER,
/// EVENT, PACKAGE) has `;` in its body, so the rest of the input is one statement.
fn create(cur: &mut Cursor<'_>) -> Base {
    for _ in 0..16 {
        let t = cur.peek();
        match cur.kw_of(t) {
            Kw::TEMPORARY => cur.effects |= Effects::CREATE_TEMP_TABLE,
            Kw::PROCEDURE | Kw::FUNCTION | Kw::TRIGGER | Kw::EVENT | Kw::PACKAGE => {
                cur.swallow();
                return primary(Reason::Compound);
            }
            Kw::TABLE | Kw::SELECT | Kw::AS => break,
            _ if matches!(t.kind, Kind::End | Kind::Punct(b'(')) => break,
            _ => {}
        }
        cur.next();
    }
    primary(Reason::Ddl)
}

/// DROP: DROP TEMPORARY TABLE and DROP PREPARE are more than DDL.
fn drop(cur: &mut Cursor<'_>) -> Base {
    match cur.peek_kw() {
        Kw::TEMPORARY => {
            cur.effects |= Effects::DROP_TEMP_TABLE;
            primary(Reason::Ddl)
        }
        Kw::PREPARE => {
            cur.effects |= Effects::SQL_PREPARE;
            primary(Reason::SqlPrepare)
        }
        _ => primary(Reason::Ddl),
    }
}

/// LOCK/UNLOCK TABLE(S); other LOCK forms (LOCK INSTANCE FOR BACKUP) are admin.
fn lock(cur: &mut Cursor<'_>, effect: Effects) -> Base {
    if matches!(cur.peek_kw(), Kw::TABLES | Kw::TABLE) {
        cur.effects |= effect;
        primary(Reason::LockTables)
    } else {
        primary(Reason::Admin)
    }
}
