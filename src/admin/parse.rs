//! Admin statements, parsed with sqlparser (MySQL dialect) into [`AdminCommand`]s.
//!
//! `SHOW …`, `UPDATE backends …`, `SELECT …` (what clients send on connect) and `SET …`
//! go through sqlparser. Statements that are not SQL sqlparser knows are matched by
//! their leading words first: `RELOAD CONFIG`, `SAVE CONFIG`, `TRUNCATE DIGESTS`,
//! `FLUSH HOSTS` and `EXPLAIN ROUTE <statement>` (whose statement is the proxy's
//! classifier's business, not a parser's).

use crate::replication::BackendState;
use sqlparser::ast::{
    AssignmentTarget, BinaryOperator, Expr, InTarget, SelectItem, SetExpr, Statement,
    UnaryOperator, Value,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

/// What the admin port supports, for error hints.
pub const SUPPORTED: &str = "SHOW BACKENDS | SHOW STATS | SHOW SESSIONS | SHOW DIGESTS | \
    UPDATE backends SET weight = N, max_lag_ms = N, state = 'online'|'offline'|'draining' WHERE name = '…' | \
    EXPLAIN ROUTE <statement> | RELOAD CONFIG | SAVE CONFIG | TRUNCATE DIGESTS | FLUSH HOSTS";

/// Runtime changes to backends (SQL `UPDATE backends`, HTTP `PUT /api/backends/{name}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendChange {
    /// New read weight.
    pub weight: Option<u32>,
    /// New lag limit.
    pub max_lag_ms: Option<u64>,
    /// New admin state (Online hands the backend back to the monitor).
    pub state: Option<BackendState>,
}

/// A literal the admin `SELECT` can answer.
#[derive(Debug, Clone, PartialEq)]
pub enum SelectValue {
    /// A constant (number or string), shown as written.
    Literal(Option<String>),
    /// `@@name`.
    Variable(String),
    /// A function without arguments: DATABASE(), USER(), VERSION(), CONNECTION_ID() …
    Function(String),
}

/// One parsed admin statement.
#[derive(Debug, Clone, PartialEq)]
pub enum AdminCommand {
    /// `SHOW BACKENDS`.
    ShowBackends,
    /// `SHOW STATS`.
    ShowStats,
    /// `SHOW SESSIONS` (also `SHOW PROCESSLIST`).
    ShowSessions,
    /// `SHOW DIGESTS`.
    ShowDigests,
    /// `TRUNCATE DIGESTS`.
    TruncateDigests,
    /// `FLUSH HOSTS`: unblock client addresses blocked by `max_connect_errors`.
    FlushHosts,
    /// `UPDATE backends SET … WHERE name = '…'` (or `name IN (…)`).
    UpdateBackends {
        /// What changes.
        change: BackendChange,
        /// Which backends.
        names: Vec<String>,
    },
    /// `EXPLAIN ROUTE <statement>`.
    ExplainRoute(String),
    /// `RELOAD CONFIG`.
    ReloadConfig,
    /// `SAVE CONFIG`.
    SaveConfig,
    /// A table-less `SELECT` of literals, `@@variables` and simple functions, with the
    /// column names to show.
    Select(Vec<(String, SelectValue)>),
    /// `SET …`, `USE …`, `BEGIN`, `COMMIT`, `ROLLBACK`: accepted, nothing to do.
    Ignored,
}

/// Why a statement is not an admin command (the message of the ERR packet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

fn unsupported(what: &str) -> ParseError {
    ParseError(format!(
        "rwproxy admin: {what} is not supported here; supported: {SUPPORTED}"
    ))
}

fn leading_words(sql: &str, n: usize) -> Vec<String> {
    sql.split_whitespace()
        .take(n)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect()
}

/// Parses one admin statement.
pub fn parse(sql: &str) -> Result<AdminCommand, ParseError> {
    let sql = sql.trim().trim_end_matches(';').trim();
    let words = leading_words(sql, 3);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        ["RELOAD", "CONFIG"] => return Ok(AdminCommand::ReloadConfig),
        ["SAVE", "CONFIG"] => return Ok(AdminCommand::SaveConfig),
        ["TRUNCATE", "DIGESTS"] => return Ok(AdminCommand::TruncateDigests),
        ["FLUSH", "HOSTS"] => return Ok(AdminCommand::FlushHosts),
        ["EXPLAIN", "ROUTE", ..] => {
            let target = crate::server::explain::explain_route_target(sql.as_bytes())
                .ok_or_else(|| ParseError("EXPLAIN ROUTE needs a statement".into()))?;
            return Ok(AdminCommand::ExplainRoute(
                String::from_utf8_lossy(target).into_owned(),
            ));
        }
        _ => {}
    }
    let mut stmts = Parser::parse_sql(&MySqlDialect {}, sql)
        .map_err(|e| ParseError(format!("rwproxy admin: {e}; supported: {SUPPORTED}")))?;
    if stmts.len() != 1 {
        return Err(ParseError("rwproxy admin: one statement at a time".into()));
    }
    match stmts.remove(0) {
        Statement::ShowVariable { variable } => show(&variable),
        Statement::ShowProcessList { .. } => Ok(AdminCommand::ShowSessions),
        Statement::Update(u) => update(u),
        Statement::Query(q) => select(&q),
        Statement::Set(_)
        | Statement::Use(_)
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. } => Ok(AdminCommand::Ignored),
        other => {
            let first = other.to_string();
            let verb = first.split_whitespace().next().unwrap_or("this statement");
            Err(unsupported(verb))
        }
    }
}

fn show(variable: &[sqlparser::ast::Ident]) -> Result<AdminCommand, ParseError> {
    let words: Vec<String> = variable
        .iter()
        .map(|i| i.value.to_ascii_uppercase())
        .collect();
    match words
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["BACKENDS"] => Ok(AdminCommand::ShowBackends),
        ["STATS"] => Ok(AdminCommand::ShowStats),
        ["SESSIONS"] => Ok(AdminCommand::ShowSessions),
        ["DIGESTS"] => Ok(AdminCommand::ShowDigests),
        _ => Err(unsupported(&format!("SHOW {}", words.join(" ")))),
    }
}

/// A string or number literal (identifiers count as strings: `state = offline`).
fn literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(n.clone()),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        Expr::Identifier(i) => Some(i.value.clone()),
        Expr::Nested(inner) => literal(inner),
        _ => None,
    }
}

fn number<T: std::str::FromStr>(column: &str, e: &Expr) -> Result<T, ParseError> {
    literal(e)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ParseError(format!("{column} must be a non-negative integer, got {e}")))
}

fn update(u: sqlparser::ast::Update) -> Result<AdminCommand, ParseError> {
    let table = u.table.relation.to_string();
    let table = table.rsplit('.').next().unwrap_or("").trim_matches('`');
    if !table.eq_ignore_ascii_case("backends") || !u.table.joins.is_empty() {
        return Err(ParseError(format!(
            "rwproxy admin: only UPDATE backends is supported, not UPDATE {}",
            u.table
        )));
    }
    let mut change = BackendChange::default();
    for a in &u.assignments {
        let AssignmentTarget::ColumnName(col) = &a.target else {
            return Err(ParseError(
                "UPDATE backends: assign one column at a time".into(),
            ));
        };
        let col = col.to_string().to_ascii_lowercase();
        match col.as_str() {
            "weight" => change.weight = Some(number("weight", &a.value)?),
            "max_lag_ms" => change.max_lag_ms = Some(number("max_lag_ms", &a.value)?),
            "state" => {
                let s = literal(&a.value).unwrap_or_default();
                change.state = Some(BackendState::parse_admin(&s).ok_or_else(|| {
                    ParseError(format!(
                        "state must be 'online', 'offline' or 'draining', got {}",
                        a.value
                    ))
                })?);
            }
            other => {
                return Err(ParseError(format!(
                    "UPDATE backends: column '{other}' cannot be changed (weight, max_lag_ms, state can)"
                )))
            }
        }
    }
    let names = match &u.selection {
        Some(w) => where_names(w)?,
        None => {
            return Err(ParseError(
                "UPDATE backends needs WHERE name = '…' (or name IN (…))".into(),
            ))
        }
    };
    Ok(AdminCommand::UpdateBackends { change, names })
}

fn is_name_column(e: &Expr) -> bool {
    match e {
        Expr::Identifier(i) => i.value.eq_ignore_ascii_case("name"),
        Expr::CompoundIdentifier(p) => p
            .last()
            .is_some_and(|i| i.value.eq_ignore_ascii_case("name")),
        _ => false,
    }
}

fn where_names(w: &Expr) -> Result<Vec<String>, ParseError> {
    let bad = || {
        ParseError(format!(
            "UPDATE backends: WHERE must be name = '…' or name IN (…), not {w}"
        ))
    };
    match w {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } if is_name_column(left) => Ok(vec![literal(right).ok_or_else(bad)?]),
        Expr::In {
            expr,
            target: InTarget::List(list),
            negated: false,
            ..
        } if is_name_column(expr) => list.iter().map(|e| literal(e).ok_or_else(bad)).collect(),
        Expr::Nested(inner) => where_names(inner),
        _ => Err(bad()),
    }
}

fn select(q: &sqlparser::ast::Query) -> Result<AdminCommand, ParseError> {
    let SetExpr::Select(s) = q.body.as_ref() else {
        return Err(unsupported("this query"));
    };
    if !s.from.is_empty() {
        return Err(ParseError(format!(
            "rwproxy admin has no tables to SELECT from; supported: {SUPPORTED}"
        )));
    }
    let mut out = Vec::new();
    for item in &s.projection {
        let (expr, alias) = match item {
            SelectItem::UnnamedExpr(e) => (e, None),
            SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.value.clone())),
            _ => return Err(unsupported("SELECT *")),
        };
        let value = select_value(expr).ok_or_else(|| unsupported(&format!("SELECT {expr}")))?;
        out.push((alias.unwrap_or_else(|| expr.to_string()), value));
    }
    Ok(AdminCommand::Select(out))
}

fn select_value(e: &Expr) -> Option<SelectValue> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Null => Some(SelectValue::Literal(None)),
            Value::Boolean(b) => Some(SelectValue::Literal(Some(u8::from(*b).to_string()))),
            _ => literal(e).map(|s| SelectValue::Literal(Some(s))),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match select_value(expr)? {
            SelectValue::Literal(Some(s)) => Some(SelectValue::Literal(Some(format!("-{s}")))),
            _ => None,
        },
        Expr::Identifier(i) if i.value.starts_with("@@") => Some(SelectValue::Variable(
            i.value.trim_start_matches("@@").to_string(),
        )),
        Expr::CompoundIdentifier(p) if p.first().is_some_and(|i| i.value.starts_with("@@")) => {
            // @@session.x / @@global.x
            p.last().map(|i| SelectValue::Variable(i.value.clone()))
        }
        Expr::Function(f) => Some(SelectValue::Function(
            f.name.to_string().to_ascii_uppercase(),
        )),
        Expr::Nested(inner) => select_value(inner),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_statements() {
        assert_eq!(parse("show backends;"), Ok(AdminCommand::ShowBackends));
        assert_eq!(parse("SHOW STATS"), Ok(AdminCommand::ShowStats));
        assert_eq!(parse("show sessions"), Ok(AdminCommand::ShowSessions));
        assert_eq!(parse("SHOW PROCESSLIST"), Ok(AdminCommand::ShowSessions));
        assert_eq!(parse("show digests"), Ok(AdminCommand::ShowDigests));
        assert_eq!(parse("reload  config"), Ok(AdminCommand::ReloadConfig));
        assert_eq!(parse("SAVE CONFIG;"), Ok(AdminCommand::SaveConfig));
        assert_eq!(parse("flush hosts;"), Ok(AdminCommand::FlushHosts));
        assert_eq!(
            parse("EXPLAIN ROUTE SELECT * FROM t"),
            Ok(AdminCommand::ExplainRoute("SELECT * FROM t".into()))
        );
        assert_eq!(
            parse("UPDATE backends SET weight = 3, max_lag_ms=200, state='offline' WHERE name = 'replica1'"),
            Ok(AdminCommand::UpdateBackends {
                change: BackendChange {
                    weight: Some(3),
                    max_lag_ms: Some(200),
                    state: Some(BackendState::Offline)
                },
                names: vec!["replica1".into()]
            })
        );
        let Ok(AdminCommand::UpdateBackends { names, .. }) =
            parse("update BACKENDS set state = online where name in ('r1', 'r2')")
        else {
            panic!("IN list")
        };
        assert_eq!(names, ["r1", "r2"]);
        assert_eq!(parse("SET NAMES utf8mb4"), Ok(AdminCommand::Ignored));
        assert_eq!(parse("set autocommit=1"), Ok(AdminCommand::Ignored));
    }

    #[test]
    fn client_selects() {
        let Ok(AdminCommand::Select(cols)) = parse("select @@version_comment limit 1") else {
            panic!()
        };
        assert_eq!(cols[0].1, SelectValue::Variable("version_comment".into()));
        let Ok(AdminCommand::Select(cols)) =
            parse("SELECT @@max_allowed_packet,@@wait_timeout,@@socket")
        else {
            panic!()
        };
        assert_eq!(cols.len(), 3);
        assert_eq!(cols[0].0, "@@max_allowed_packet");
        let Ok(AdminCommand::Select(cols)) = parse("SELECT 1, 'a' AS x, DATABASE()") else {
            panic!()
        };
        assert_eq!(
            cols[0],
            ("1".into(), SelectValue::Literal(Some("1".into())))
        );
        assert_eq!(cols[1].0, "x");
        assert_eq!(cols[2].1, SelectValue::Function("DATABASE".into()));
    }

    #[test]
    fn errors_name_what_is_supported() {
        for bad in [
            "SELECT * FROM users",
            "DELETE FROM backends",
            "SHOW TABLES",
            "UPDATE backends SET weight = 2",
            "UPDATE backends SET address = 'x' WHERE name = 'a'",
            "UPDATE backends SET state = 'lagging' WHERE name = 'a'",
            "UPDATE users SET weight = 1 WHERE name = 'a'",
            "FLUSH LOGS",
            "gibberish here",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(!e.0.is_empty(), "{bad}");
        }
        assert!(parse("SHOW TABLES")
            .unwrap_err()
            .0
            .contains("SHOW BACKENDS"));
        assert!(parse("UPDATE backends SET weight = -1 WHERE name = 'a'").is_err());
    }
}
