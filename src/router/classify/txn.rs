//! Transaction control: BEGIN, START TRANSACTION, COMMIT, ROLLBACK and XA. The session
//! layer learns the real transaction state from the server's status flags; these
//! effects tell it what the statement meant to do (and `START TRANSACTION READ ONLY` may
//! run its whole transaction on one replica).

use super::cursor::Cursor;
use super::keywords::Kw;
use super::lexer::Kind;
use super::stmt::{primary, Base};
use super::verdict::{Effects, Reason, Target};

/// `BEGIN [WORK]`; `BEGIN NOT ATOMIC …` is a compound statement whose `;` are its own.
pub(crate) fn begin(cur: &mut Cursor<'_>) -> Base {
    match cur.peek_kw() {
        Kw::WORK => {}
        Kw::Other if cur.peek().kind == Kind::End => {}
        _ => {
            cur.swallow();
            return primary(Reason::Compound);
        }
    }
    cur.effects |= Effects::BEGIN;
    primary(Reason::TransactionControl)
}

/// `START TRANSACTION [READ ONLY | READ WRITE | WITH CONSISTENT SNAPSHOT][, …]`; any other
/// START (START SLAVE, START REPLICA) is admin.
pub(crate) fn start(cur: &mut Cursor<'_>) -> Base {
    if !cur.eat(Kw::TRANSACTION) {
        return primary(Reason::Admin);
    }
    cur.effects |= Effects::BEGIN;
    let mut read_only = false;
    loop {
        let t = cur.next();
        match cur.kw_of(t) {
            Kw::READ => read_only = cur.eat(Kw::ONLY),
            Kw::Other if t.kind == Kind::End => break,
            _ => {}
        }
    }
    if read_only {
        cur.effects |= Effects::BEGIN_READ_ONLY;
        return Base::Fixed(Target::Replica, Reason::TransactionControl);
    }
    primary(Reason::TransactionControl)
}

/// `COMMIT [WORK] [AND [NO] CHAIN] [[NO] RELEASE]`.
pub(crate) fn commit(cur: &mut Cursor<'_>) -> Base {
    cur.effects |= Effects::TXN_END;
    chain(cur);
    primary(Reason::TransactionControl)
}

/// `ROLLBACK [WORK] [TO [SAVEPOINT] sp] [AND [NO] CHAIN]`: only a full rollback ends the
/// transaction.
pub(crate) fn rollback(cur: &mut Cursor<'_>) -> Base {
    cur.eat(Kw::WORK);
    if cur.peek_kw() != Kw::TO {
        cur.effects |= Effects::TXN_END;
        chain(cur);
    }
    primary(Reason::TransactionControl)
}

/// `AND CHAIN` starts the next transaction at once.
fn chain(cur: &mut Cursor<'_>) {
    cur.eat(Kw::WORK);
    if cur.eat(Kw::AND) && !cur.eat(Kw::NO) && cur.eat(Kw::CHAIN) {
        cur.effects |= Effects::BEGIN;
    }
}

/// XA START/BEGIN begins and XA COMMIT/ROLLBACK ends a global transaction; XA stays on
/// the primary.
pub(crate) fn xa(cur: &mut Cursor<'_>) -> Base {
    match cur.peek_kw() {
        Kw::START | Kw::BEGIN => cur.effects |= Effects::BEGIN,
        Kw::COMMIT | Kw::ROLLBACK => cur.effects |= Effects::TXN_END,
        _ => {}
    }
    primary(Reason::Xa)
}
