//! The one-pass token scanner behind the fast path.
//!
//! Every token of a statement is fed to a [`Scan`], which looks for what can make a
//! read unsafe on a replica, outside quotes, backticks and comments: locking clauses
//! (`FOR UPDATE`, `FOR SHARE`, `LOCK IN SHARE MODE`, `NOWAIT`, `SKIP LOCKED`), `INTO`,
//! `@v :=`, `NEXT/PREVIOUS VALUE FOR`, `@@identity`, `@@last_insert_id`, diagnostics
//! variables, and every `name (` call, which is checked against the function lists.
//! It also notices the main keyword after a `WITH` list (`WITH … UPDATE` is a write).
//!
//! The scanner keeps only the previous token and a nesting depth: no allocation.

use super::functions::{lookup, Func};
use super::keywords::{scan_kw, Kw};
use super::lexer::{Kind, Tok};
use super::verdict::{Effects, Reason};

/// How much of a statement matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The statement goes to the primary whatever it says: only effects matter, so
    /// calls are checked against the deny-list alone.
    Effects,
    /// A read candidate: every call is checked against the allow-list too.
    Read,
}

/// The previous token, as much of it as the next token's meaning depends on.
#[derive(Debug, Clone, Copy)]
enum Prev {
    /// Nothing yet, or a token that affects nothing.
    Other,
    /// A word; `call` is false when a following `(` cannot be a call (an alias after
    /// AS, a CTE name); `qualified` when it followed a `.` (`db.func`).
    /// Its text is `Scan::word_at`.
    Word { kw: Kw, call: bool, qualified: bool },
    /// A quoted identifier, string or number: a following `(` is an unknown call.
    Name { call: bool },
    /// `.`.
    Dot,
    /// `,`; `after_close` when it followed a `)` (the separator of a CTE list).
    Comma { after_close: bool },
    /// `)`.
    Close,
    /// A user variable.
    UserVar,
}

/// What a scan found, plus its running state.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// How calls are checked.
    pub mode: Mode,
    /// Parenthesis nesting depth.
    pub depth: u32,
    /// Bit `d` set: a WITH list at depth `d` has not reached its main keyword yet.
    cte: u64,
    prev: Prev,
    /// Byte range of the last word.
    word_at: (usize, usize),
    /// Where the previous token ended.
    prev_end: usize,
    /// After INTO: the user variables that follow are assigned.
    into_vars: bool,
    /// The first finding that sends the statement to the primary.
    pub primary: Option<Reason>,
    /// The first finding that ties the statement to the previous one.
    pub previous: Option<Reason>,
    /// Effects found (user-variable reads are counted apart: see [`Scan::effects`]).
    pub effects: Effects,
    /// User variables read and not assigned.
    pub user_reads: u32,
    /// A `)` closed more than was opened.
    pub unbalanced: bool,
    /// The main keyword after a top-level WITH list is UPDATE/DELETE/INSERT/REPLACE.
    pub with_write: bool,
}

impl Scan {
    /// A fresh scan in [`Mode::Effects`].
    pub(crate) fn new() -> Self {
        Scan {
            mode: Mode::Effects,
            depth: 0,
            cte: 0,
            prev: Prev::Other,
            word_at: (0, 0),
            prev_end: 0,
            into_vars: false,
            primary: None,
            previous: None,
            effects: Effects::NONE,
            user_reads: 0,
            unbalanced: false,
            with_write: false,
        }
    }

    /// Everything found, user-variable reads included.
    pub(crate) fn effects(&self) -> Effects {
        if self.user_reads > 0 {
            self.effects | Effects::USER_VAR_READ
        } else {
            self.effects
        }
    }

    /// Parentheses did not balance.
    pub(crate) fn unbalanced(&self) -> bool {
        self.unbalanced || self.depth != 0
    }

    fn set_primary(&mut self, r: Reason) {
        self.primary.get_or_insert(r);
    }

    fn set_previous(&mut self, r: Reason) {
        self.previous.get_or_insert(r);
    }

    fn cte_here(&self) -> bool {
        self.cte != 0 && self.depth < 64 && self.cte & (1 << self.depth) != 0
    }

    fn set_cte_here(&mut self, on: bool) {
        if self.depth < 64 {
            if on {
                self.cte |= 1 << self.depth;
            } else {
                self.cte &= !(1 << self.depth);
            }
        }
    }

    /// Feeds one token (never `;`, End or Error).
    #[inline(always)]
    pub(crate) fn feed(&mut self, src: &[u8], t: Tok) {
        let prev = self.prev;
        let into_vars = std::mem::replace(&mut self.into_vars, false);
        let adjacent = t.start == std::mem::replace(&mut self.prev_end, t.end);
        self.prev = match t.kind {
            Kind::Word => self.word(src, t, prev),
            Kind::Punct(b'(') => {
                self.open(src, prev);
                Prev::Other
            }
            Kind::Punct(b')') => {
                self.unbalanced |= self.depth == 0;
                self.depth = self.depth.saturating_sub(1);
                if self.depth < 63 {
                    self.cte &= (1u64 << (self.depth + 1)) - 1;
                }
                Prev::Close
            }
            Kind::Punct(b'.') => Prev::Dot,
            Kind::Punct(b',') => {
                self.into_vars = into_vars;
                Prev::Comma {
                    after_close: matches!(prev, Prev::Close),
                }
            }
            Kind::QuotedIdent | Kind::Str | Kind::Num => Prev::Name {
                call: !self.cte_name(prev),
            },
            // `'user'@'host'`: an account, not a variable.
            Kind::UserVar if adjacent && matches!(prev, Prev::Name { .. } | Prev::Word { .. }) => {
                Prev::Other
            }
            Kind::UserVar => {
                if into_vars {
                    self.effects |= Effects::USER_VAR_ASSIGN;
                    self.into_vars = true;
                } else {
                    self.user_reads += 1;
                }
                Prev::UserVar
            }
            Kind::Assign => {
                if matches!(prev, Prev::UserVar) {
                    self.user_reads = self.user_reads.saturating_sub(1);
                    self.effects |= Effects::USER_VAR_ASSIGN;
                    self.set_primary(Reason::UserVarAssign);
                }
                Prev::Other
            }
            Kind::SysVar => {
                self.sysvar(&src[t.start..t.end]);
                Prev::Other
            }
            _ => Prev::Other,
        };
    }

    /// A name at a WITH list's depth right after WITH, RECURSIVE or a CTE separator is
    /// a CTE name: a `(` after it opens a column list, not a call.
    fn cte_name(&self, prev: Prev) -> bool {
        self.cte_here()
            && match prev {
                Prev::Word { kw, .. } => matches!(kw, Kw::WITH | Kw::RECURSIVE),
                Prev::Comma { after_close } => after_close,
                _ => false,
            }
    }

    #[inline(always)]
    fn word(&mut self, src: &[u8], t: Tok, prev: Prev) -> Prev {
        let text = &src[t.start..t.end];
        let k = scan_kw(text);
        self.word_at = (t.start, t.end);
        if text.len() == 19 && text.eq_ignore_ascii_case(b"SQL_CALC_FOUND_ROWS") {
            self.effects |= Effects::CALC_FOUND_ROWS;
        }
        if k == Kw::Other && self.cte == 0 {
            // Most words: an identifier or a keyword that needs no attention.
            let alias = matches!(prev, Prev::Word { kw: Kw::AS, .. });
            return Prev::Word {
                kw: k,
                call: !alias,
                qualified: matches!(prev, Prev::Dot),
            };
        }
        self.keyword(k, prev)
    }

    /// A word that is one of the scanner's keywords, or any word inside a WITH list.
    fn keyword(&mut self, k: Kw, prev: Prev) -> Prev {
        if let Prev::Word { kw: pk, .. } = prev {
            match (pk, k) {
                (Kw::FOR, Kw::UPDATE | Kw::SHARE) | (Kw::LOCK, Kw::IN) | (Kw::SKIP, Kw::LOCKED) => {
                    self.set_primary(Reason::LockingRead)
                }
                (Kw::NEXT | Kw::PREVIOUS, Kw::VALUE) => self.set_primary(Reason::Sequence),
                _ => {}
            }
        }
        let cte_name = self.cte_name(prev);
        match k {
            Kw::NOWAIT => self.set_primary(Reason::LockingRead),
            Kw::INTO => {
                self.set_primary(Reason::SelectInto);
                self.into_vars = true;
            }
            Kw::WITH => self.set_cte_here(true),
            Kw::AS | Kw::RECURSIVE => {}
            _ if self.cte_here() && !cte_name => {
                // The WITH list is over: this is its statement's main keyword.
                self.set_cte_here(false);
                let write = matches!(k, Kw::UPDATE | Kw::DELETE | Kw::INSERT | Kw::REPLACE);
                if write && self.depth == 0 {
                    self.with_write = true;
                }
            }
            _ => {}
        }
        let alias = matches!(prev, Prev::Word { kw: Kw::AS, .. });
        Prev::Word {
            kw: k,
            call: !(cte_name || alias),
            qualified: matches!(prev, Prev::Dot),
        }
    }

    /// An opening parenthesis: after a name, it is a call.
    fn open(&mut self, src: &[u8], prev: Prev) {
        let read = self.mode == Mode::Read;
        match prev {
            Prev::Word {
                call: true,
                qualified,
                ..
            } => {
                let (start, end) = self.word_at;
                let f = if qualified {
                    if read {
                        Func::Unknown
                    } else {
                        Func::Safe
                    }
                } else {
                    lookup(&src[start..end], !read)
                };
                self.call(f);
            }
            Prev::Name { call: true } if read => self.set_primary(Reason::UnknownFunction),
            _ => {}
        }
        self.depth = self.depth.saturating_add(1);
    }

    fn call(&mut self, f: Func) {
        match f {
            Func::Safe => {}
            Func::NamedLock => {
                self.effects |= Effects::NAMED_LOCK;
                self.set_primary(Reason::NamedLock);
            }
            Func::LastInsertId => {
                self.effects |= Effects::LAST_INSERT_ID;
                self.set_primary(Reason::LastInsertId);
            }
            Func::Sequence => self.set_primary(Reason::Sequence),
            Func::FoundRows => {
                self.effects |= Effects::FOUND_ROWS;
                self.set_previous(Reason::FoundRows);
            }
            Func::RowCount => self.set_previous(Reason::RowCount),
            Func::SideEffect => self.set_primary(Reason::SideEffectFunction),
            Func::Unknown => self.set_primary(Reason::UnknownFunction),
        }
    }

    /// `@@name`, `@@session.name`, …: the variables that name another statement's result.
    fn sysvar(&mut self, text: &[u8]) {
        let name = text.get(2..).unwrap_or_default();
        let name = match name.iter().rposition(|&b| b == b'.') {
            Some(dot) => &name[dot + 1..],
            None => name,
        };
        let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
        if is("identity") || is("last_insert_id") {
            self.effects |= Effects::LAST_INSERT_ID;
            self.set_primary(Reason::LastInsertId);
        } else if is("warning_count") || is("error_count") {
            self.set_previous(Reason::Diagnostics);
        }
    }
}
