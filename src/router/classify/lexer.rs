//! A zero-allocation MySQL/MariaDB tokenizer for the classifier's fast path.
//!
//! It knows only what routing needs: where words, quoted identifiers, strings,
//! numbers, variables and punctuation begin and end, so that a keyword inside a string,
//! a backticked identifier or a comment never counts. Comments are skipped, except
//! executable comments (`/*! ... */`, `/*M!NNNNNN ... */`): their content is SQL the
//! server runs, so the lexer reads through them as if the markers were whitespace.
//!
//! Strings are read with backslash escapes (the server default). Because a session with
//! `NO_BACKSLASH_ESCAPES` reads `'a\'` differently, the lexer notes any backslash that
//! precedes a quote ([`Lexer::saw_backslash_quote`]); the caller then rescans without
//! escapes and keeps the more cautious answer.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An unquoted identifier or keyword.
    Word,
    /// A backticked identifier.
    QuotedIdent,
    /// A `'…'` or `"…"` literal.
    Str,
    /// Anything starting with a digit (numbers, hex, identifiers like `1abc`).
    Num,
    /// `@name`, `@'name'`, `` @`name` ``.
    UserVar,
    /// `@@name`, `@@session.name`, `@@global.name`.
    SysVar,
    /// `:=`.
    Assign,
    /// Any other single byte: `(`, `)`, `,`, `;`, `.`, `=`, `?`, …
    Punct(u8),
    /// An unterminated string, identifier or comment: the text is not SQL.
    Error,
    /// End of input.
    End,
}

/// One token: its kind and byte range in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tok {
    /// What it is.
    pub kind: Kind,
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The token came from inside an executable comment.
    pub exec: bool,
}

/// Byte classes, one table lookup per byte.
const WS: u8 = 1;
const IDENT: u8 = 2;

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            WS
        } else if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
            IDENT
        } else {
            0
        };
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = classes();

/// True for bytes that may continue an unquoted identifier.
#[inline]
pub(crate) fn is_ident(b: u8) -> bool {
    CLASS[b as usize] == IDENT
}

/// True for the whitespace bytes MySQL skips.
#[inline]
pub(crate) fn is_space(b: u8) -> bool {
    CLASS[b as usize] == WS
}

/// The tokenizer: a position in the input plus the flags described in the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    in_exec: bool,
    backslash: bool,
    bs_quote: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer over `src` starting at byte `pos`; `backslash` turns escapes on.
    pub(crate) fn new(src: &'a [u8], pos: usize, backslash: bool) -> Self {
        Lexer {
            src,
            pos,
            in_exec: false,
            backslash,
            bs_quote: false,
        }
    }

    /// The input.
    pub(crate) fn src(&self) -> &'a [u8] {
        self.src
    }

    /// The position of the next unread byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Gives up on the rest of the input (the caller has judged it unneeded).
    pub(crate) fn skip_to_end(&mut self) {
        self.pos = self.src.len();
        self.in_exec = false;
    }

    /// A backslash preceded a quote inside some string: the text reads differently
    /// under `NO_BACKSLASH_ESCAPES`.
    pub(crate) fn saw_backslash_quote(&self) -> bool {
        self.bs_quote
    }

    /// The next token (`Kind::End` forever once the input is used up).
    #[inline(always)]
    pub(crate) fn next_tok(&mut self) -> Tok {
        let src = self.src;
        let mut i = self.pos;
        while i < src.len() && is_space(src[i]) {
            i += 1;
        }
        self.pos = i;
        // Comments (and the end of an executable comment) take the slow path.
        if matches!(src.get(i), None | Some(b'/' | b'#' | b'-' | b'*')) {
            if let Err(at) = self.skip_trivia() {
                return self.tok(Kind::Error, at, self.src.len());
            }
        }
        let start = self.pos;
        let Some(&b) = self.src.get(start) else {
            if self.in_exec {
                return self.tok(Kind::Error, start, start);
            }
            return self.tok(Kind::End, start, start);
        };
        let kind = match b {
            b'\'' | b'"' => self.quoted(b, true),
            b'`' => self.quoted(b'`', false),
            b'@' => self.variable(),
            b'0'..=b'9' => {
                self.pos = self.ident_end(start + 1, true);
                Kind::Num
            }
            b':' if self.src.get(start + 1) == Some(&b'=') => {
                self.pos += 2;
                Kind::Assign
            }
            _ if is_ident(b) => {
                self.pos = self.ident_end(start + 1, false);
                Kind::Word
            }
            _ => {
                self.pos += 1;
                Kind::Punct(b)
            }
        };
        self.tok(kind, start, self.pos)
    }

    fn tok(&self, kind: Kind, start: usize, end: usize) -> Tok {
        Tok {
            kind,
            start,
            end,
            exec: self.in_exec,
        }
    }

    /// End of an identifier (or number, which may also hold dots) starting before `i`.
    #[inline(always)]
    fn ident_end(&self, mut i: usize, dots: bool) -> usize {
        while let Some(&b) = self.src.get(i) {
            if is_ident(b) || (dots && b == b'.') {
                i += 1;
            } else {
                break;
            }
        }
        i
    }

    /// Reads a quoted string or identifier whose opening `q` is at `self.pos`.
    fn quoted(&mut self, q: u8, escapes: bool) -> Kind {
        let mut i = self.pos + 1;
        let src = self.src;
        while i < src.len() {
            let b = src[i];
            if b == q {
                if src.get(i + 1) == Some(&q) {
                    i += 2;
                    continue;
                }
                self.pos = i + 1;
                return if q == b'`' {
                    Kind::QuotedIdent
                } else {
                    Kind::Str
                };
            }
            if b == b'\\' && escapes {
                if matches!(src.get(i + 1), Some(b'\'' | b'"')) {
                    self.bs_quote = true;
                }
                if self.backslash {
                    i += 2;
                    continue;
                }
            }
            i += 1;
        }
        self.pos = src.len();
        Kind::Error
    }

    /// Reads `@name`, `@'name'`, `@@name` or `@@scope.name`.
    fn variable(&mut self) -> Kind {
        let start = self.pos;
        if self.src.get(start + 1) == Some(&b'@') {
            self.pos = self.ident_end(start + 2, true);
            return Kind::SysVar;
        }
        match self.src.get(start + 1) {
            Some(&q @ (b'\'' | b'"' | b'`')) => {
                self.pos = start + 1;
                if self.quoted(q, q != b'`') == Kind::Error {
                    return Kind::Error;
                }
            }
            _ => self.pos = self.ident_end(start + 1, true),
        }
        Kind::UserVar
    }

    /// Skips whitespace and comments, entering and leaving executable comments.
    /// Returns the start of an unterminated comment as an error.
    #[cold]
    fn skip_trivia(&mut self) -> Result<(), usize> {
        let src = self.src;
        loop {
            while self.pos < src.len() && is_space(src[self.pos]) {
                self.pos += 1;
            }
            let rest = &src[self.pos.min(src.len())..];
            match rest {
                [b'/', b'*', ..] => {
                    let at = self.pos;
                    if let Some(body) = exec_comment_body(rest) {
                        self.in_exec = true;
                        self.pos += body;
                        continue;
                    }
                    match find_comment_end(rest) {
                        Some(len) => self.pos += len,
                        None => return Err(at),
                    }
                }
                [b'*', b'/', ..] if self.in_exec => {
                    self.in_exec = false;
                    self.pos += 2;
                }
                [b'#', ..] => self.pos += line_len(rest),
                [b'-', b'-', ..] if dash_comment(rest) => self.pos += line_len(rest),
                _ => return Ok(()),
            }
        }
    }
}

/// If `rest` opens an executable comment (`/*!`, `/*!NNNNN`, `/*M!NNNNNN`), the length of
/// the marker and version digits, after which SQL follows.
pub(crate) fn exec_comment_body(rest: &[u8]) -> Option<usize> {
    let mut i = match rest {
        [b'/', b'*', b'!', ..] => 3,
        [b'/', b'*', b'M' | b'm', b'!', ..] => 4,
        _ => return None,
    };
    let digits_end = i + 6;
    while i < digits_end && rest.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    Some(i)
}

/// Length of a `/* … */` comment at the start of `rest`, or `None` if it never closes.
pub(crate) fn find_comment_end(rest: &[u8]) -> Option<usize> {
    let body = rest.get(2..)?;
    body.windows(2).position(|w| w == b"*/").map(|p| p + 4)
}

/// Length of a `#` or `-- ` comment at the start of `rest`, up to and including `\n`.
pub(crate) fn line_len(rest: &[u8]) -> usize {
    match rest.iter().position(|&b| b == b'\n') {
        Some(p) => p + 1,
        None => rest.len(),
    }
}

/// `--` starts a comment only when followed by whitespace, a control byte or the end.
pub(crate) fn dash_comment(rest: &[u8]) -> bool {
    match rest.get(2) {
        None => true,
        Some(&b) => b <= b' ',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<Kind> {
        let mut lx = Lexer::new(sql.as_bytes(), 0, true);
        let mut out = Vec::new();
        loop {
            let t = lx.next_tok();
            out.push(t.kind);
            if matches!(t.kind, Kind::End | Kind::Error) {
                return out;
            }
        }
    }

    #[test]
    fn strings_comments_and_variables() {
        use Kind::*;
        assert_eq!(
            kinds("SELECT 'a''b\\'c', `x``y` -- no\n# no\n/* no */ @v := @@session.x ?"),
            vec![
                Word,
                Str,
                Punct(b','),
                QuotedIdent,
                UserVar,
                Assign,
                SysVar,
                Punct(b'?'),
                End
            ]
        );
        assert_eq!(kinds("SELECT 'open"), vec![Word, Error]);
        assert_eq!(kinds("SELECT /* open"), vec![Word, Error]);
        assert_eq!(
            kinds("SELECT 1--1"),
            vec![Word, Num, Punct(b'-'), Punct(b'-'), Num, End]
        );
    }

    #[test]
    fn executable_comments_are_read_through() {
        let sql = b"/*!40101 SET x=1 */ /*M!100100 y */";
        let mut lx = Lexer::new(sql, 0, true);
        let t = lx.next_tok();
        assert_eq!((t.kind, t.exec), (Kind::Word, true));
        assert_eq!(&sql[t.start..t.end], b"SET");
        let kinds: Vec<_> = std::iter::from_fn(|| {
            let t = lx.next_tok();
            (t.kind != Kind::End).then_some(t.kind)
        })
        .collect();
        assert_eq!(
            kinds,
            vec![Kind::Word, Kind::Punct(b'='), Kind::Num, Kind::Word]
        );
    }
}
