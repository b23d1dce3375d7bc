//! SET: session state the session layer records and replays on every backend, unless
//! it is global (primary only, never replayed), an account change (admin), a user
//! variable computed from data (pinned, not replayed), or `SET STATEMENT … FOR stmt`,
//! whose route is the inner statement's.

use super::cursor::Cursor;
use super::keywords::Kw;
use super::lexer::{Kind, Tok};
use super::scan::Scan;
use super::stmt::{dispatch_next, primary, Base};
use super::verdict::{Effects, Reason};

/// What the assignments of one SET amount to.
#[derive(Debug, Default)]
struct Summary {
    session: bool,
    global: bool,
    admin: bool,
    autocommit: bool,
    computed_user: bool,
    reads_user: bool,
}

/// The target of one assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Session { autocommit: bool },
    Global,
    User,
    Admin,
}

/// SET …
pub(crate) fn set(cur: &mut Cursor<'_>) -> Base {
    if cur.peek_kw() == Kw::STATEMENT {
        return set_statement(cur);
    }
    let mut s = Summary::default();
    loop {
        let item = item(cur);
        match item {
            Item::Session { autocommit } => {
                s.session = true;
                s.autocommit |= autocommit;
            }
            Item::Global => s.global = true,
            Item::User => {}
            Item::Admin => s.admin = true,
        }
        let (computed, more) = value(cur, &mut s.reads_user);
        if item == Item::User {
            if computed {
                s.computed_user = true;
            } else {
                s.session = true;
            }
        }
        if !more {
            break;
        }
    }
    summarize(cur, &s)
}

fn summarize(cur: &mut Cursor<'_>, s: &Summary) -> Base {
    // The scanner saw `@v =` as a read and `@v :=` as a data assignment; the SET
    // handler knows better.
    cur.scan.effects.remove(Effects::USER_VAR_ASSIGN);
    cur.scan.user_reads = 0;
    if s.reads_user {
        cur.effects |= Effects::USER_VAR_READ;
    }
    if s.admin {
        return primary(Reason::Admin);
    }
    if s.global {
        return primary(Reason::SetGlobal);
    }
    if s.session {
        cur.effects |= Effects::SESSION_STATE;
    }
    if s.autocommit {
        cur.effects |= Effects::AUTOCOMMIT_CHANGE;
    }
    if s.computed_user {
        cur.effects |= Effects::USER_VAR_ASSIGN;
        if !s.session {
            return primary(Reason::UserVarAssign);
        }
    }
    primary(Reason::SessionCommand)
}

/// Reads the left side of one assignment (scope and name).
fn item(cur: &mut Cursor<'_>) -> Item {
    let mut t = cur.next();
    let mut global = false;
    match cur.kw_of(t) {
        Kw::GLOBAL | Kw::PERSIST | Kw::PERSIST_ONLY => {
            global = true;
            t = cur.next();
        }
        Kw::SESSION | Kw::LOCAL => t = cur.next(),
        _ => {}
    }
    match t.kind {
        Kind::SysVar => sysvar_item(cur.text(t), global),
        Kind::UserVar => Item::User,
        _ if global => Item::Global,
        Kind::Word => match cur.kw_of(t) {
            Kw::PASSWORD | Kw::DEFAULT => Item::Admin,
            k => Item::Session {
                autocommit: k == Kw::AUTOCOMMIT,
            },
        },
        _ => Item::Session { autocommit: false },
    }
}

/// `@@[scope.]name`: global when the scope says so.
fn sysvar_item(text: &[u8], global: bool) -> Item {
    let body = text.get(2..).unwrap_or_default();
    let (scope, name) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (&body[..dot], &body[dot + 1..]),
        None => (&b""[..], body),
    };
    let scoped_global = [&b"global"[..], b"persist", b"persist_only"]
        .iter()
        .any(|s| scope.eq_ignore_ascii_case(s));
    if global || scoped_global {
        Item::Global
    } else {
        Item::Session {
            autocommit: name.eq_ignore_ascii_case(b"autocommit"),
        }
    }
}

/// Consumes `= value` up to a top-level comma. Returns whether the value is computed
/// (a call, a subquery, a system variable, a column-like word: replaying it elsewhere
/// could give another value) and whether more assignments follow.
fn value(cur: &mut Cursor<'_>, reads_user: &mut bool) -> (bool, bool) {
    let mut computed = false;
    let mut prev_end = usize::MAX;
    loop {
        let t = cur.next();
        match t.kind {
            Kind::End => return (computed, false),
            Kind::Punct(b',') if cur.scan.depth == 0 => return (computed, true),
            Kind::Punct(b'(') | Kind::SysVar => computed = true,
            // `'user'@'host'` (SET PASSWORD FOR …) is an account, not a variable.
            Kind::UserVar => *reads_user |= t.start != prev_end,
            Kind::Word => computed |= !literal_word(cur, t),
            _ => {}
        }
        let name = matches!(t.kind, Kind::Str | Kind::QuotedIdent | Kind::Word);
        prev_end = if name { t.end } else { usize::MAX };
    }
}

/// Words that are part of a literal (NULL, TRUE, DATE '…', _utf8mb4'…', X'…').
fn literal_word(cur: &Cursor<'_>, t: Tok) -> bool {
    let text = cur.text(t);
    if text.first() == Some(&b'_') {
        return true;
    }
    let literal = [
        "NULL", "TRUE", "FALSE", "ON", "OFF", "N", "X", "B", "DATE", "TIME",
    ];
    literal
        .iter()
        .any(|w| text.eq_ignore_ascii_case(w.as_bytes()))
        || text.eq_ignore_ascii_case(b"TIMESTAMP")
}

/// `SET STATEMENT var = value [, …] FOR statement`: the variables last one statement,
/// so the route is the inner statement's.
fn set_statement(cur: &mut Cursor<'_>) -> Base {
    loop {
        let t = cur.next();
        match t.kind {
            Kind::End => return primary(Reason::UnknownStatement),
            Kind::Word if cur.scan.depth == 0 && cur.kw_of(t) == Kw::FOR => break,
            _ => {}
        }
    }
    cur.scan = Scan::new();
    dispatch_next(cur)
}
