//! A cursor over the statements of one batch: the lexer with one token of lookahead,
//! statement boundaries at `;`, and the [`Scan`] that every consumed token is fed to.
//!
//! Statement handlers read as many tokens as they need through [`Cursor::next`] and
//! [`Cursor::peek`]; [`Cursor::finish`] feeds the rest of the statement to the scanner.

use super::keywords::{kw, Kw};
use super::lexer::{Kind, Lexer, Tok};
use super::scan::Scan;
use super::verdict::Effects;

/// The batch cursor.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    lex: Lexer<'a>,
    peeked: Option<Tok>,
    /// The current statement's scan.
    pub scan: Scan,
    /// Effects a handler found in the statement's structure.
    pub effects: Effects,
    /// Start of the text sqlparser should confirm, when the fast path can't decide.
    pub deep_from: Option<usize>,
    /// The current statement has ended (`;` or end of input consumed).
    stmt_done: bool,
    /// Where the current statement ended (the `;` or the end of input).
    pub end: usize,
    /// The whole input is used up.
    pub eof: bool,
    /// Unterminated string, identifier or comment somewhere.
    pub error: bool,
}

impl<'a> Cursor<'a> {
    /// A cursor at `pos` in `src`.
    pub(crate) fn new(src: &'a [u8], pos: usize, backslash: bool) -> Self {
        Cursor {
            lex: Lexer::new(src, pos, backslash),
            peeked: None,
            scan: Scan::new(),
            effects: Effects::NONE,
            deep_from: None,
            stmt_done: false,
            end: src.len(),
            eof: false,
            error: false,
        }
    }

    /// The text of a token.
    pub(crate) fn text(&self, t: Tok) -> &'a [u8] {
        &self.lex.src()[t.start..t.end]
    }

    /// The keyword a token spells (`Kw::Other` for anything but a word).
    pub(crate) fn kw_of(&self, t: Tok) -> Kw {
        if t.kind == Kind::Word {
            kw(self.text(t))
        } else {
            Kw::Other
        }
    }

    /// See [`Lexer::saw_backslash_quote`].
    pub(crate) fn saw_backslash_quote(&self) -> bool {
        self.lex.saw_backslash_quote()
    }

    /// Starts the next statement: a fresh scan and no handler state.
    pub(crate) fn restart(&mut self) {
        self.scan = Scan::new();
        self.effects = Effects::NONE;
        self.deep_from = None;
        self.stmt_done = false;
    }

    #[inline]
    fn raw(&mut self) -> Tok {
        match self.peeked.take() {
            Some(t) => t,
            None => self.lex.next_tok(),
        }
    }

    fn end_tok(&self) -> Tok {
        Tok {
            kind: Kind::End,
            start: self.end,
            end: self.end,
            exec: false,
        }
    }

    /// The next token of the current statement, fed to the scanner; `Kind::End` once
    /// the statement is over.
    #[inline]
    pub(crate) fn next(&mut self) -> Tok {
        if self.stmt_done {
            return self.end_tok();
        }
        let t = self.raw();
        match t.kind {
            Kind::Punct(b';') => {}
            Kind::End => self.eof = true,
            Kind::Error => {
                self.error = true;
                self.eof = true;
            }
            _ => {
                self.scan.feed(self.lex.src(), t);
                return t;
            }
        }
        self.stmt_done = true;
        self.end = t.start;
        self.end_tok()
    }

    /// The next token without consuming it (`Kind::End` at the end of the statement).
    pub(crate) fn peek(&mut self) -> Tok {
        if self.stmt_done {
            return self.end_tok();
        }
        let t = match self.peeked {
            Some(t) => t,
            None => {
                let t = self.lex.next_tok();
                self.peeked = Some(t);
                t
            }
        };
        match t.kind {
            Kind::Punct(b';') | Kind::End | Kind::Error => self.end_tok(),
            _ => t,
        }
    }

    /// The keyword of the next token, without consuming it.
    pub(crate) fn peek_kw(&mut self) -> Kw {
        let t = self.peek();
        self.kw_of(t)
    }

    /// Consumes the next token if it is the keyword `k`.
    pub(crate) fn eat(&mut self, k: Kw) -> bool {
        if self.peek_kw() == k {
            self.next();
            true
        } else {
            false
        }
    }

    /// Feeds the rest of the statement to the scanner: [`Cursor::next`] in a loop,
    /// written out so that the lexer and scanner state stay in registers.
    pub(crate) fn finish(&mut self) {
        if self.stmt_done {
            return;
        }
        if self.peeked.is_some() && self.next().kind == Kind::End {
            return;
        }
        let src = self.lex.src();
        loop {
            let t = self.lex.next_tok();
            match t.kind {
                Kind::Punct(b';') => {}
                Kind::End => self.eof = true,
                Kind::Error => {
                    self.error = true;
                    self.eof = true;
                }
                _ => {
                    self.scan.feed(src, t);
                    continue;
                }
            }
            self.stmt_done = true;
            self.end = t.start;
            return;
        }
    }

    /// Like [`Cursor::finish`] for a statement whose route is already decided, but
    /// without tokenizing the rest when no byte of it could matter: with no `;` there is
    /// no further statement, with no `@` no variable, and every deny-listed function
    /// (GET_LOCK, LAST_INSERT_ID, FOUND_ROWS, …) has a `_` in its name. (An unterminated
    /// quote then goes unnoticed: the statement was going to the primary anyway.)
    pub(crate) fn finish_decided(&mut self) {
        if self.stmt_done {
            return;
        }
        let from = self.peeked.map_or(self.lex.pos(), |t| t.start);
        let rest = self.lex.src().get(from..).unwrap_or_default();
        if may_matter(rest) {
            return self.finish();
        }
        self.peeked = None;
        self.lex.skip_to_end();
        self.stmt_done = true;
        self.eof = true;
        self.end = self.lex.src().len();
    }

    /// Consumes the rest of the input as one statement (a stored-program body whose
    /// `;` are its own), without scanning it.
    pub(crate) fn swallow(&mut self) {
        if self.stmt_done {
            return;
        }
        loop {
            let t = self.raw();
            match t.kind {
                Kind::End => break,
                Kind::Error => {
                    self.error = true;
                    break;
                }
                _ => {}
            }
        }
        self.eof = true;
        self.stmt_done = true;
        self.end = self.lex.src().len();
    }
}

/// True if `bytes` holds a `;`, `@` or `_`. Blocks of 32 bytes folded without an early
/// exit, so that the compiler vectorizes them.
#[inline(never)]
pub(crate) fn may_matter(bytes: &[u8]) -> bool {
    let hit =
        |acc: u8, &b: &u8| acc | u8::from(b == b';') | u8::from(b == b'@') | u8::from(b == b'_');
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        if block.iter().fold(0, hit) != 0 {
            return true;
        }
    }
    blocks.remainder().iter().fold(0, hit) != 0
}
