//! Statement fingerprints for `SHOW DIGESTS`: the text with literals replaced by `?`,
//! comments dropped, whitespace collapsed, lower-cased outside quoted identifiers, and
//! value lists folded (`IN (?, ?, ?)` → `in (...)`, `VALUES (?, ?), (?, ?)` →
//! `values (...)`), so statements that differ only in their values share one digest.
//!
//! One pass over at most [`MAX_SCAN`] bytes into a reused buffer: tens to a few hundred
//! nanoseconds for a typical statement, cheap enough to run on every statement.

/// Bytes of a statement looked at; longer statements are fingerprinted by their start.
pub const MAX_SCAN: usize = 2048;

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Writes the fingerprint of `sql` into `out` (cleared first).
pub fn fingerprint(sql: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let sql = &sql[..sql.len().min(MAX_SCAN)];
    let mut i = 0;
    let mut space = false;
    let push_space = |out: &mut Vec<u8>, space: &mut bool| {
        if *space && !out.is_empty() {
            out.push(b' ');
        }
        *space = false;
    };
    while i < sql.len() {
        let b = sql[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                space = true;
                i += 1;
            }
            b'/' if sql.get(i + 1) == Some(&b'*') => {
                let end = find(sql, i + 2, b"*/").map_or(sql.len(), |e| e + 2);
                i = end;
                space = true;
            }
            b'#' => {
                i = find(sql, i, b"\n").unwrap_or(sql.len());
                space = true;
            }
            b'-' if sql.get(i + 1) == Some(&b'-')
                && sql.get(i + 2).is_none_or(|c| c.is_ascii_whitespace()) =>
            {
                i = find(sql, i, b"\n").unwrap_or(sql.len());
                space = true;
            }
            b'\'' | b'"' => {
                i = skip_quoted(sql, i);
                push_space(out, &mut space);
                out.push(b'?');
            }
            b'`' => {
                let end = skip_quoted(sql, i);
                push_space(out, &mut space);
                out.extend_from_slice(&sql[i..end]);
                i = end;
            }
            b'0'..=b'9' if !out.last().is_some_and(|&c| is_ident(c)) || space => {
                i = skip_number(sql, i);
                push_space(out, &mut space);
                out.push(b'?');
            }
            b')' => {
                space = false;
                out.push(b')');
                fold_list(out);
                i += 1;
            }
            b';' if sql[i + 1..].iter().all(u8::is_ascii_whitespace) => i = sql.len(),
            _ if is_ident(b) => {
                // A whole keyword or identifier at once.
                let end = sql[i..]
                    .iter()
                    .position(|&c| !is_ident(c))
                    .map_or(sql.len(), |p| i + p);
                push_space(out, &mut space);
                out.extend(sql[i..end].iter().map(u8::to_ascii_lowercase));
                i = end;
            }
            _ => {
                push_space(out, &mut space);
                out.push(b);
                i += 1;
            }
        }
    }
    if sql.len() == MAX_SCAN {
        out.extend_from_slice(" ...".as_bytes());
    }
}

fn find(sql: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    sql.get(from..)?
        .windows(pat.len())
        .position(|w| w == pat)
        .map(|p| p + from)
}

/// The index after the quoted string starting at `start` (backslash escapes and doubled
/// quotes are part of it).
fn skip_quoted(sql: &[u8], start: usize) -> usize {
    let q = sql[start];
    let mut i = start + 1;
    while i < sql.len() {
        match sql[i] {
            b'\\' if q != b'`' => i += 2,
            c if c == q => {
                if sql.get(i + 1) == Some(&q) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    sql.len()
}

/// The index after the number starting at `start` (decimal, fraction, exponent, hex).
fn skip_number(sql: &[u8], start: usize) -> usize {
    let mut i = start;
    if sql[i] == b'0' && matches!(sql.get(i + 1), Some(b'x' | b'X' | b'b' | b'B')) {
        i += 2;
        while i < sql.len() && sql[i].is_ascii_hexdigit() {
            i += 1;
        }
        return i;
    }
    while i < sql.len() && (sql[i].is_ascii_digit() || sql[i] == b'.') {
        i += 1;
    }
    if i < sql.len() && matches!(sql[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < sql.len() && matches!(sql[j], b'+' | b'-') {
            j += 1;
        }
        if j < sql.len() && sql[j].is_ascii_digit() {
            i = j;
            while i < sql.len() && sql[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    i
}

/// After a `)`: a group holding only `?`, `,` and spaces becomes `(...)`, and a folded
/// group right after another (`(...), (...)`) merges into it.
fn fold_list(out: &mut Vec<u8>) {
    let Some(open) = out.iter().rposition(|&c| c == b'(') else {
        return;
    };
    let inner = &out[open + 1..out.len() - 1];
    if inner.is_empty() || !inner.iter().all(|c| matches!(c, b'?' | b',' | b' ')) {
        return;
    }
    // One value folds only as a list (`in (?)`, `values (?)`), not as a call's argument
    // (`sleep(?)`).
    let before = out[..open].trim_ascii_end();
    let word = before.rsplit(|&c| !is_ident(c)).next().unwrap_or_default();
    let list_word = word == b"in" || word == b"values" || word == b"value";
    if !inner.contains(&b',') && !list_word && !before.ends_with(b",") {
        return;
    }
    out.truncate(open);
    let before = out.len();
    let trimmed = out.trim_ascii_end().len();
    if out[..trimmed].ends_with(b"(...),") {
        out.truncate(trimmed - 1);
        return;
    }
    if trimmed < before {
        out.truncate(trimmed);
        out.push(b' ');
    }
    out.extend_from_slice(b"(...)");
}

/// A 64-bit hash of a fingerprint: 8 bytes a step, multiply-rotate mixing (the
/// classifier cache's hash; byte-at-a-time FNV was a third of the digest cost).
pub fn hash(fp: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = (fp.len() as u64).wrapping_mul(K);
    let mut chunks = fp.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let mut w = [0u8; 8];
    let tail = chunks.remainder();
    w[..tail.len()].copy_from_slice(tail);
    h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K);
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(s: &str) -> String {
        let mut out = Vec::new();
        fingerprint(s.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn literals_comments_and_lists_fold() {
        assert_eq!(
            fp("SELECT c FROM sbtest1 WHERE id=5021"),
            "select c from sbtest1 where id=?"
        );
        assert_eq!(
            fp("select  c from sbtest1\n where id = 7;"),
            "select c from sbtest1 where id = ?"
        );
        assert_eq!(
            fp("/* rwproxy:primary */ SELECT * FROM t WHERE a IN (1, 2,3) AND b = 'x''y'"),
            "select * from t where a in (...) and b = ?"
        );
        assert_eq!(
            fp("INSERT INTO t (a, b) VALUES (1, 'a'), (2, \"b\"),(3,'c')"),
            "insert into t (a, b) values (...)"
        );
        assert_eq!(
            fp("SELECT t1.c2, `T3`.x FROM t1 -- note\n"),
            "select t1.c2, `T3`.x from t1"
        );
        assert_eq!(fp("SELECT 1.5e3, 0xFF, -2"), "select ?, ?, -?");
        assert_eq!(fp("select now()"), "select now()");
        assert_eq!(fp("SELECT SLEEP(0.1), f(1, 2)"), "select sleep(?), f(...)");
        assert_eq!(
            fp("select * from t where a in (7)"),
            "select * from t where a in (...)"
        );
        assert_eq!(
            hash(fp("select 1").as_bytes()),
            hash(fp("SELECT 2").as_bytes())
        );
        let long = format!("SELECT '{}'", "x".repeat(5000));
        assert!(fp(&long).ends_with(" ..."));
    }
}
