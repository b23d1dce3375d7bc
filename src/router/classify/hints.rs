//! rwproxy hints in the leading comments of a statement.
//!
//! Recognised anywhere in a comment before the first keyword — `/* … */`, `-- …` or
//! `# …` — as space- or comma-separated keys: `rwproxy:primary`, `rwproxy:replica`,
//! `rwproxy:backend=NAME`, `rwproxy:max_lag_ms=200`. Once a comment holds one
//! `rwproxy:` key, the keys after it may drop the prefix (`/* rwproxy:replica,
//! max_lag_ms=200 */`). Optimizer hints (`/*+ … */`) are not rwproxy hints, and an
//! executable comment (`/*! … */`) is SQL, so the leading comments end there.

use super::lexer::{dash_comment, exec_comment_body, find_comment_end, is_space, line_len};

/// Where a hint asks a statement to run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HintTarget {
    /// `rwproxy:primary`: always honoured.
    Primary,
    /// `rwproxy:replica`: honoured for reads only; a write stays on the primary.
    Replica,
    /// `rwproxy:backend=NAME`: a named backend. The classification's target is left as
    /// classified; the session layer resolves the name and must check its role.
    Backend(String),
}

/// A statement's rwproxy hint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Hint {
    /// The requested target, if any.
    pub target: Option<HintTarget>,
    /// `rwproxy:max_lag_ms=N`: the most replication lag this read accepts.
    pub max_lag_ms: Option<u64>,
    /// `rwproxy:after_gtid=D-S-N[,…]`: a replica must have applied this position first
    /// (causality carried across connections, e.g. from `@@rwproxy_last_gtid`).
    pub after_gtid: Option<String>,
}

const PREFIX: &[u8] = b"rwproxy:";

/// Reads the leading comments of `sql`: the hint they hold (if any) and the offset of
/// the first byte that is neither whitespace nor a plain comment.
pub(crate) fn leading(sql: &[u8]) -> (Option<Hint>, usize) {
    let mut pos = 0;
    let mut hint = Hint::default();
    loop {
        while pos < sql.len() && is_space(sql[pos]) {
            pos += 1;
        }
        let rest = &sql[pos..];
        let (len, body) = match rest {
            [b'/', b'*', ..] if exec_comment_body(rest).is_some() => break,
            [b'/', b'*', b'+', ..] => match find_comment_end(rest) {
                Some(len) => (len, &rest[..0]),
                None => break,
            },
            [b'/', b'*', ..] => match find_comment_end(rest) {
                Some(len) => (len, &rest[2..len - 2]),
                None => break,
            },
            [b'#', ..] => {
                let len = line_len(rest);
                (len, &rest[1..len])
            }
            [b'-', b'-', ..] if dash_comment(rest) => {
                let len = line_len(rest);
                (len, &rest[2..len])
            }
            _ => break,
        };
        read_keys(body, &mut hint);
        pos += len;
    }
    let found = hint.target.is_some() || hint.max_lag_ms.is_some() || hint.after_gtid.is_some();
    (found.then_some(hint), pos)
}

/// Applies the keys of one comment body to `hint`.
fn read_keys(body: &[u8], hint: &mut Hint) {
    if !contains_prefix(body) {
        return;
    }
    let mut on = false;
    for word in body.split(|&b| is_space(b)) {
        // Commas separate keys, except inside an after_gtid list (`0-1-7,1-2-3`).
        let gtid_list = |w: &[u8]| {
            let w = strip_prefix_ci(w, PREFIX).unwrap_or(w);
            w.len() > 11 && w[..11].eq_ignore_ascii_case(b"after_gtid=")
        };
        let items: Vec<&[u8]> = if gtid_list(word) {
            vec![word]
        } else {
            word.split(|&b| b == b',').collect()
        };
        for item in items {
            let key = match strip_prefix_ci(item, PREFIX) {
                Some(k) => {
                    on = true;
                    k
                }
                None if on => item,
                None => continue,
            };
            apply(key, hint);
        }
    }
}

/// Applies one `key` or `key=value`; unknown keys are ignored.
fn apply(key: &[u8], hint: &mut Hint) {
    let (name, value) = match key.iter().position(|&b| b == b'=') {
        Some(eq) => (&key[..eq], Some(&key[eq + 1..])),
        None => (key, None),
    };
    let is = |s: &str| name.eq_ignore_ascii_case(s.as_bytes());
    match value {
        None if is("primary") || is("master") => hint.target = Some(HintTarget::Primary),
        None if is("replica") || is("slave") => hint.target = Some(HintTarget::Replica),
        Some(v) if is("backend") && !v.is_empty() => {
            if let Ok(name) = std::str::from_utf8(v) {
                hint.target = Some(HintTarget::Backend(name.to_owned()));
            }
        }
        Some(v) if is("after_gtid") => {
            let valid = !v.is_empty()
                && v.iter()
                    .all(|b| b.is_ascii_digit() || *b == b'-' || *b == b',');
            if valid {
                hint.after_gtid = std::str::from_utf8(v).ok().map(str::to_owned);
            }
        }
        Some(v) if is("max_lag_ms") => {
            if let Some(ms) = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok()) {
                hint.max_lag_ms = Some(ms);
            }
        }
        _ => {}
    }
}

fn contains_prefix(body: &[u8]) -> bool {
    body.windows(PREFIX.len())
        .any(|w| w.eq_ignore_ascii_case(PREFIX))
}

fn strip_prefix_ci<'a>(item: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = item.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &item[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(sql: &str) -> Option<Hint> {
        leading(sql.as_bytes()).0
    }

    #[test]
    fn keys_prefixes_and_positions() {
        let h = hint("/* rwproxy:replica, max_lag_ms=200 */ SELECT 1").unwrap_or_default();
        assert_eq!(h.target, Some(HintTarget::Replica));
        assert_eq!(h.max_lag_ms, Some(200));
        let h = hint("-- app\n# rwproxy:backend=replica2\nSELECT 1").unwrap_or_default();
        assert_eq!(h.target, Some(HintTarget::Backend("replica2".into())));
        assert_eq!(hint("/* primary */ SELECT 1"), None);
        assert_eq!(hint("/*+ rwproxy:primary */ SELECT 1"), None);
        assert_eq!(hint("SELECT /* rwproxy:primary */ 1"), None);
        assert_eq!(hint("/*!40101 rwproxy:primary */ SELECT 1"), None);
        assert_eq!(hint("/* rwproxy:max_lag_ms=x */ SELECT 1"), None);
        let h = hint("/* rwproxy:after_gtid=0-1-7,1-2-3 */ SELECT 1").unwrap_or_default();
        assert_eq!(h.after_gtid.as_deref(), Some("0-1-7,1-2-3"));
        assert_eq!(
            hint("/* rwproxy:after_gtid=0-1-7'; DROP */ SELECT 1").map(|h| h.after_gtid),
            None
        );
        let (_, pos) = leading(b"  /* a */ -- b\n SELECT");
        assert_eq!(pos, 16);
    }
}
