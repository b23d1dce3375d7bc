//! The slow path: sqlparser (MySQL dialect) confirms what the fast path could not
//! settle alone — that a `WITH …`, `VALUES …` or `TABLE …` statement really is a query
//! and that no part of it writes. The fast path has already checked every call,
//! locking clause and INTO, so only the statement's shape is asked here.
//!
//! A full parse costs microseconds (see PROTOCOL-NOTES), so its verdicts are cached by
//! [`super::ClassifyCache`]. Anything sqlparser cannot parse goes to the primary.

use sqlparser::ast::{Query, SetExpr, Statement};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

/// Nesting sqlparser may recurse into before giving up.
const RECURSION_LIMIT: usize = 64;

/// What sqlparser made of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeepVerdict {
    /// A query with no data-changing part.
    Read,
    /// A query whose body writes (`WITH … UPDATE/DELETE/INSERT`).
    Write,
    /// Parsed, but not a single query.
    NotQuery,
    /// sqlparser could not parse it.
    Unparseable,
}

/// Parses `sql` (one statement) and says whether it is a read-only query.
pub(crate) fn analyze(sql: &str) -> DeepVerdict {
    // sqlparser is not expected to panic, but a parser bug must not take a session down.
    let parsed = std::panic::catch_unwind(|| {
        Parser::new(&MySqlDialect {})
            .with_recursion_limit(RECURSION_LIMIT)
            .try_with_sql(sql)
            .and_then(|mut p| p.parse_statements())
    });
    let statements = match parsed {
        Ok(Ok(s)) => s,
        _ => return DeepVerdict::Unparseable,
    };
    match statements.as_slice() {
        [Statement::Query(q)] => {
            if query_reads_only(q) {
                DeepVerdict::Read
            } else {
                DeepVerdict::Write
            }
        }
        _ => DeepVerdict::NotQuery,
    }
}

fn query_reads_only(q: &Query) -> bool {
    let ctes_read = q
        .with
        .as_ref()
        .is_none_or(|w| w.cte_tables.iter().all(|cte| query_reads_only(&cte.query)));
    ctes_read && set_expr_reads_only(&q.body)
}

fn set_expr_reads_only(body: &SetExpr) -> bool {
    match body {
        SetExpr::Select(_) | SetExpr::Values(_) | SetExpr::Table(_) => true,
        SetExpr::Query(q) => query_reads_only(q),
        SetExpr::SetOperation { left, right, .. } => {
            set_expr_reads_only(left) && set_expr_reads_only(right)
        }
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(
            analyze("WITH a AS (SELECT 1) SELECT * FROM a"),
            DeepVerdict::Read
        );
        assert_eq!(
            analyze(
                "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT n FROM r"
            ),
            DeepVerdict::Read
        );
        assert_eq!(analyze("VALUES (1,2)"), DeepVerdict::Read);
        assert_eq!(
            analyze("WITH a AS (SELECT 1) SELEC"),
            DeepVerdict::Unparseable
        );
        assert_eq!(analyze("UPDATE t SET a=1"), DeepVerdict::NotQuery);
    }
}
