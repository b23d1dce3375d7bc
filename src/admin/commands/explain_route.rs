//! `EXPLAIN ROUTE <statement>` on the admin port: where the statement would go for a
//! fresh session right now (the proxy port answers the same for its own session), plus
//! which backends could take it if it is a read.

use super::{Ctx, Reply};
use crate::replication::balancer;
use crate::router::{classify::classify, decide, Dest, SessionState};
use crate::server::explain::{explain_row, EXPLAIN_COLUMNS};

/// Runs the command.
pub fn run(ctx: &Ctx, stmt: &str) -> Reply {
    let proxy = &ctx.proxy;
    let config = proxy.config.load();
    let class = classify(stmt.as_bytes());
    let state = SessionState::new(None);
    let rules = proxy.rules.load();
    let rule = rules.find(stmt.as_bytes(), "", None).cloned();
    let mut d = decide(
        &class,
        &state,
        config.proxy.consistency,
        rule.as_ref().map(|r| &r.target),
    );
    if d.max_lag_ms.is_none() {
        d.max_lag_ms = rule.and_then(|r| r.max_lag_ms);
    }
    let mut row = explain_row(&class, &d, &state);
    let topo = proxy.topology.load();
    let candidates = match &d.dest {
        Dest::Primary => topo.writer().map(|w| w.name.to_string()),
        Dest::Backend(n) => Some(n.to_string()),
        Dest::Replica => {
            let always = config.proxy.primary_reads == crate::config::PrimaryReads::Always;
            let mut names: Vec<String> = Vec::new();
            // Every backend the balancer could pick now, by excluding each pick in turn.
            while let Some(b) = balancer::pick_reader(
                &topo,
                &names.iter().map(String::as_str).collect::<Vec<_>>(),
                d.max_lag_ms,
                always,
            ) {
                names.push(b.name.to_string());
            }
            names.sort();
            Some(if names.is_empty() {
                "none (falls back to the primary)".to_string()
            } else {
                names.join(",")
            })
        }
    };
    row.push(candidates);
    let mut columns: Vec<&str> = EXPLAIN_COLUMNS.to_vec();
    columns.push("candidates");
    Reply::rows(&columns, vec![row])
}
