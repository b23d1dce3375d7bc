//! The vocabulary of a classification: where a statement may run ([`Target`]), why
//! ([`Reason`], a stable name for metrics and `EXPLAIN ROUTE`), and which side effects
//! the session layer must track ([`Effects`]).

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// Where a statement may run, judged from its text alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Must run on the primary: writes, locks, session commands, anything unknown.
    Primary,
    /// Safe on any replica that qualifies.
    Replica,
    /// Refers to the previous statement (`FOUND_ROWS()`, `ROW_COUNT()`, `SHOW WARNINGS`):
    /// run it wherever the previous statement ran.
    Previous,
}

impl Target {
    /// The stable name used in metrics and `EXPLAIN ROUTE`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Target::Primary => "primary",
            Target::Replica => "replica",
            Target::Previous => "previous",
        }
    }

    /// Rank for combining: the more cautious target wins (Primary > Previous > Replica).
    pub(crate) fn rank(self) -> u8 {
        match self {
            Target::Replica => 0,
            Target::Previous => 1,
            Target::Primary => 2,
        }
    }
}

/// Why a statement got its target. [`Reason::as_str`] names are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A plain read: SELECT, `WITH … SELECT`, SHOW, DESCRIBE, EXPLAIN SELECT, HELP.
    Read,
    /// INSERT, UPDATE, DELETE, REPLACE, LOAD, `WITH … UPDATE/DELETE`, EXPLAIN of a write.
    Write,
    /// CREATE, ALTER, DROP, RENAME, TRUNCATE.
    Ddl,
    /// GRANT, REVOKE, FLUSH, RESET, PURGE, OPTIMIZE, ANALYZE, START/STOP SLAVE, and such.
    Admin,
    /// `FOR UPDATE`, `FOR SHARE`, `LOCK IN SHARE MODE`, `NOWAIT`, `SKIP LOCKED`.
    LockingRead,
    /// `SELECT … INTO @v | OUTFILE | DUMPFILE`.
    SelectInto,
    /// `@v := …` inside a statement.
    UserVarAssign,
    /// GET_LOCK, RELEASE_LOCK, RELEASE_ALL_LOCKS, IS_USED_LOCK, IS_FREE_LOCK.
    NamedLock,
    /// LAST_INSERT_ID(), `@@identity`, `@@last_insert_id`.
    LastInsertId,
    /// NEXTVAL, LASTVAL, SETVAL, `NEXT VALUE FOR`, `PREVIOUS VALUE FOR`.
    Sequence,
    /// A built-in with side effects or a per-connection answer (LOAD_FILE, CONNECTION_ID).
    SideEffectFunction,
    /// A function not on the replica-safe allow-list (user-defined or stored functions).
    UnknownFunction,
    /// BEGIN, START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE SAVEPOINT.
    TransactionControl,
    /// XA transactions.
    Xa,
    /// SET of session variables, SET NAMES, USE: run on the primary and replayed.
    SessionCommand,
    /// SET GLOBAL / PERSIST: the primary only, never replayed.
    SetGlobal,
    /// PREPARE, EXECUTE, DEALLOCATE PREPARE at SQL level.
    SqlPrepare,
    /// CALL of a stored procedure.
    Call,
    /// DO.
    Do,
    /// HANDLER.
    Handler,
    /// KILL.
    Kill,
    /// LOCK TABLES / UNLOCK TABLES.
    LockTables,
    /// SHOW MASTER STATUS, SHOW BINLOG STATUS, SHOW BINARY LOGS, SHOW BINLOG EVENTS.
    ShowPrimaryStatus,
    /// SHOW PROCESSLIST, SHOW SLAVE STATUS, SHOW EXPLAIN FOR: per-server state.
    ServerState,
    /// SHOW WARNINGS/ERRORS/PROFILE, `@@warning_count`, GET DIAGNOSTICS.
    Diagnostics,
    /// FOUND_ROWS().
    FoundRows,
    /// ROW_COUNT().
    RowCount,
    /// A stored-program body (CREATE PROCEDURE …, BEGIN NOT ATOMIC …).
    Compound,
    /// The statement is inside an executable comment (`/*!40101 … */`).
    ExecutableComment,
    /// A rwproxy hint decided the target.
    Hint,
    /// Not valid UTF-8, unterminated quotes or comments, or sqlparser could not parse it.
    Unparseable,
    /// A leading keyword the classifier does not know.
    UnknownStatement,
    /// Nothing but whitespace and comments.
    Empty,
    /// A multi-statement batch with a write in it.
    MultiStatementWrite,
}

impl Reason {
    /// The stable name used in metrics and `EXPLAIN ROUTE`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Read => "read",
            Reason::Write => "write",
            Reason::Ddl => "ddl",
            Reason::Admin => "admin",
            Reason::LockingRead => "locking-read",
            Reason::SelectInto => "select-into",
            Reason::UserVarAssign => "user-var-assign",
            Reason::NamedLock => "named-lock",
            Reason::LastInsertId => "last-insert-id",
            Reason::Sequence => "sequence",
            Reason::SideEffectFunction => "side-effect-function",
            Reason::UnknownFunction => "unknown-function",
            Reason::TransactionControl => "transaction-control",
            Reason::Xa => "xa",
            Reason::SessionCommand => "session-command",
            Reason::SetGlobal => "set-global",
            Reason::SqlPrepare => "sql-prepare",
            Reason::Call => "call",
            Reason::Do => "do",
            Reason::Handler => "handler",
            Reason::Kill => "kill",
            Reason::LockTables => "lock-tables",
            Reason::ShowPrimaryStatus => "show-primary-status",
            Reason::ServerState => "server-state",
            Reason::Diagnostics => "diagnostics",
            Reason::FoundRows => "found-rows",
            Reason::RowCount => "row-count",
            Reason::Compound => "compound-statement",
            Reason::ExecutableComment => "executable-comment",
            Reason::Hint => "hint",
            Reason::Unparseable => "unparseable",
            Reason::UnknownStatement => "unknown-statement",
            Reason::Empty => "empty",
            Reason::MultiStatementWrite => "multi-statement-write",
        }
    }

    /// Reasons a `/* rwproxy:replica */` hint may override: reads the classifier sent
    /// to the primary only out of caution. Writes, locks, session state never.
    pub(crate) fn replica_hint_may_override(self) -> bool {
        matches!(
            self,
            Reason::UnknownFunction
                | Reason::FoundRows
                | Reason::RowCount
                | Reason::Diagnostics
                | Reason::ServerState
                | Reason::ShowPrimaryStatus
        )
    }

    /// Reasons that make a batch a "multi-statement-write".
    pub(crate) fn is_write(self) -> bool {
        matches!(self, Reason::Write | Reason::Ddl)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Side effects the session layer must track: a small `Copy` bitset.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Effects(u32);

macro_rules! effects {
    ($($(#[$doc:meta])* $name:ident = $bit:expr;)*) => {
        impl Effects {
            $($(#[$doc])* pub const $name: Effects = Effects(1 << $bit);)*

            /// Every flag with its name, for `Debug` and logs.
            const NAMES: &'static [(Effects, &'static str)] =
                &[$((Effects::$name, stringify!($name))),*];
        }
    };
}

effects! {
    /// Session state to replay on every backend: `SET [SESSION] var = …`, SET NAMES,
    /// SET CHARACTER SET, SET TRANSACTION, `SET @v = constant`, USE db. Never set for
    /// a SET with a GLOBAL/PERSIST part (replaying it would change the replicas).
    SESSION_STATE = 0;
    /// `SET autocommit = …`.
    AUTOCOMMIT_CHANGE = 1;
    /// BEGIN, START TRANSACTION, XA START, COMMIT/ROLLBACK AND CHAIN.
    BEGIN = 2;
    /// START TRANSACTION READ ONLY.
    BEGIN_READ_ONLY = 3;
    /// COMMIT, ROLLBACK (not TO SAVEPOINT), XA COMMIT/ROLLBACK.
    TXN_END = 4;
    /// CREATE TEMPORARY TABLE.
    CREATE_TEMP_TABLE = 5;
    /// DROP TEMPORARY TABLE.
    DROP_TEMP_TABLE = 6;
    /// GET_LOCK, RELEASE_LOCK, RELEASE_ALL_LOCKS, IS_USED_LOCK, IS_FREE_LOCK.
    NAMED_LOCK = 7;
    /// LOCK TABLES.
    LOCK_TABLES = 8;
    /// UNLOCK TABLES.
    UNLOCK_TABLES = 9;
    /// A user variable assigned from data: `SELECT @v := …`, `SELECT … INTO @v`,
    /// `SET @v = (SELECT …)` or any computed value. Pins, never replayed.
    USER_VAR_ASSIGN = 10;
    /// The statement reads a user variable (`@v`).
    USER_VAR_READ = 11;
    /// LAST_INSERT_ID(), `@@identity`, `@@last_insert_id`.
    LAST_INSERT_ID = 12;
    /// FOUND_ROWS().
    FOUND_ROWS = 13;
    /// PREPARE / EXECUTE / DEALLOCATE PREPARE at SQL level.
    SQL_PREPARE = 14;
    /// More than one statement in the text.
    MULTI_STATEMENT = 15;
    /// KILL.
    KILL = 16;
    /// `SELECT SQL_CALC_FOUND_ROWS`: a FOUND_ROWS() may follow on the same connection.
    CALC_FOUND_ROWS = 17;
}

impl Effects {
    /// No effects.
    pub const NONE: Effects = Effects(0);

    /// Both sets of flags (a `const` form of `|`).
    pub const fn union(self, other: Effects) -> Effects {
        Effects(self.0 | other.0)
    }

    /// The raw bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// True when every flag of `other` is set here.
    pub fn contains(self, other: Effects) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Sets every flag of `other`.
    pub fn insert(&mut self, other: Effects) {
        self.0 |= other.0;
    }

    /// Clears every flag of `other`.
    pub fn remove(&mut self, other: Effects) {
        self.0 &= !other.0;
    }
}

impl BitOr for Effects {
    type Output = Effects;
    fn bitor(self, rhs: Effects) -> Effects {
        Effects(self.0 | rhs.0)
    }
}

impl BitOrAssign for Effects {
    fn bitor_assign(&mut self, rhs: Effects) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Effects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = f.debug_set();
        for (flag, name) in Effects::NAMES {
            if self.contains(*flag) {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_bits_and_debug() {
        let mut e = Effects::BEGIN | Effects::KILL;
        assert!(e.contains(Effects::BEGIN) && !e.contains(Effects::TXN_END));
        e.remove(Effects::BEGIN);
        assert_eq!(format!("{e:?}"), "{KILL}");
        assert!(Effects::NONE.is_empty());
        assert_eq!(
            Reason::MultiStatementWrite.to_string(),
            "multi-statement-write"
        );
    }
}
