//! `EXPLAIN ROUTE <statement>`: answered by the proxy itself with one row saying where the
//! statement would go for this session right now, and why.

use super::session::{Flow, Session};
use crate::protocol::resultset::text_resultset;
use crate::router::Dest;

/// The statement after `EXPLAIN ROUTE`, if `sql` is such a request.
pub fn explain_route_target(sql: &[u8]) -> Option<&[u8]> {
    let start = sql.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &sql[start..];
    let word = |s: &[u8], w: &[u8]| {
        s.len() > w.len()
            && s[..w.len()].eq_ignore_ascii_case(w)
            && s[w.len()].is_ascii_whitespace()
    };
    if !word(rest, b"EXPLAIN") {
        return None;
    }
    let rest = rest[7..].trim_ascii_start();
    if !word(rest, b"ROUTE") {
        return None;
    }
    Some(rest[5..].trim_ascii())
}

/// True for `SELECT @@rwproxy_last_gtid` (any case, optional `;`).
pub fn asks_last_gtid(sql: &[u8]) -> bool {
    let t = sql.trim_ascii();
    let t = t.strip_suffix(b";").unwrap_or(t).trim_ascii();
    let Some(rest) = t
        .get(..6)
        .filter(|h| h.eq_ignore_ascii_case(b"SELECT"))
        .map(|_| &t[6..])
    else {
        return false;
    };
    rest.trim_ascii()
        .eq_ignore_ascii_case(b"@@rwproxy_last_gtid")
}

/// Columns of an EXPLAIN ROUTE answer.
pub const EXPLAIN_COLUMNS: [&str; 5] = ["route", "reason", "hint", "pins", "transaction"];

/// The EXPLAIN ROUTE row for a statement classified as `class`, decided as `d`, in a
/// session in `state` (the proxy port's own session, or a fresh one on the admin port).
pub fn explain_row(
    class: &crate::router::Classification,
    d: &crate::router::Decision,
    state: &crate::router::SessionState,
) -> Vec<Option<String>> {
    let route = match &d.dest {
        Dest::Primary => "primary".to_string(),
        Dest::Replica => "replica".to_string(),
        Dest::Backend(name) => name.to_string(),
    };
    let hint = class.hint.as_ref().map(|h| format!("{h:?}"));
    let pins = state.pin().map(|p| p.as_str().to_string());
    let txn = if state.in_transaction() { "yes" } else { "no" };
    vec![
        Some(route),
        Some(d.reason.to_string()),
        hint,
        pins,
        Some(txn.to_string()),
    ]
}

impl Session {
    /// Answers `SELECT @@rwproxy_last_gtid`: the primary's position after this session's
    /// last write (NULL before any), to hand to another connection as
    /// `/* rwproxy:after_gtid=… */`.
    pub(crate) async fn answer_last_gtid(&mut self, seq: u8) -> Flow {
        let _ = self.causal_position().await;
        let row = vec![self.state.causal_gtid.clone()];
        self.send_rows(&["@@rwproxy_last_gtid"], &[row], seq).await
    }

    /// Answers EXPLAIN ROUTE with columns route, reason, hint, pins, transaction.
    pub(crate) async fn explain_route(&mut self, stmt: &[u8], seq: u8) -> Flow {
        let class = crate::router::classify::classify(stmt);
        let d = self.decide(&class, self.rule_for(stmt));
        let row = explain_row(&class, &d, &self.state);
        self.send_rows(&EXPLAIN_COLUMNS, &[row], seq).await
    }

    /// Sends a small text result set the proxy made itself.
    async fn send_rows(&mut self, columns: &[&str], rows: &[Vec<Option<String>>], seq: u8) -> Flow {
        let packets = text_resultset(columns, rows, self.state.status, self.caps, self.ext_caps);
        let mut s = seq;
        for p in &packets {
            s = self.client.write_packet(s, p);
        }
        if self.client.flush().await.is_err() {
            return Flow::Close;
        }
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::explain_route_target;

    #[test]
    fn recognises_explain_route() {
        assert_eq!(
            explain_route_target(b" explain  route SELECT 1 "),
            Some(&b"SELECT 1"[..])
        );
        assert_eq!(explain_route_target(b"EXPLAIN SELECT 1"), None);
        assert_eq!(explain_route_target(b"EXPLAIN ROUTE"), None);
        assert!(super::asks_last_gtid(b" select  @@RWPROXY_LAST_GTID ;"));
        assert!(!super::asks_last_gtid(b"SELECT @@rwproxy_last_gtid, 1"));
    }
}
