//! Binary-protocol prepared statements across backends. A statement is always prepared on
//! the primary first, so the id the client sees is the primary's; a read statement is
//! prepared again, lazily, on a replica the first time an execute goes there, and the
//! execute's id is rewritten for that backend. Parameter types a client sent once are
//! remembered and added for a backend that has not seen them. SEND_LONG_DATA keeps the
//! next execute on the primary; FETCH and RESET follow the statement's last execute.

use super::session::{Flow, Session};
use crate::protocol::constants::com::COM_STMT_PREPARE;
use crate::protocol::response::ResponseKind;
use crate::router::classify::Classification;
use crate::router::{Decision, Dest};
use std::sync::Arc;

/// MariaDB's "the statement prepared last" id.
const LAST_PREPARED: u32 = u32::MAX;

/// One prepared statement.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// COM_STMT_PREPARE payload, to prepare it again elsewhere.
    prepare: Vec<u8>,
    class: Classification,
    /// The matching `[[rules]]` target when it was prepared.
    rule: Option<crate::router::rules::Rule>,
    params: u16,
    /// (backend name, that backend's id, whether it has seen parameter types).
    ids: Vec<(Arc<str>, u32, bool)>,
    /// Parameter types from the last execute that sent them.
    types: Option<bytes::Bytes>,
    /// Long data was sent (to the primary) since the last execute.
    long_data: bool,
    /// Backend of the last execute.
    last: Option<Arc<str>>,
    /// Its digest key, once an execute was recorded (`SHOW DIGESTS`).
    digest: Option<u64>,
}

/// The session's prepared statements, by client id (= the primary's id).
#[derive(Debug, Default)]
pub(crate) struct Statements {
    map: rustc_hash::FxHashMap<u32, Prepared>,
    last_prepared: Option<u32>,
}

impl Statements {
    /// True when the session has no prepared statement open.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn resolve(&self, id: u32) -> u32 {
        match (id, self.last_prepared) {
            (LAST_PREPARED, Some(last)) => last,
            _ => id,
        }
    }

    fn by_id_bytes(&self, id: &[u8]) -> Option<&Prepared> {
        let id = u32::from_le_bytes(id.get(..4)?.try_into().ok()?);
        self.map.get(&self.resolve(id))
    }

    /// SQL text of the statement whose little-endian id is `id`.
    pub(crate) fn sql(&self, id: &[u8]) -> Option<&[u8]> {
        self.by_id_bytes(id).and_then(|p| p.prepare.get(1..))
    }

    /// Digest key of the statement whose little-endian id is `id`, fingerprinted once.
    pub(crate) fn digest(
        &mut self,
        id: &[u8],
        digests: &crate::admin::digest::Digests,
    ) -> Option<u64> {
        let id = u32::from_le_bytes(id.get(..4)?.try_into().ok()?);
        let id = self.resolve(id);
        let p = self.map.get_mut(&id)?;
        if p.digest.is_none() {
            p.digest = digests.key(p.prepare.get(1..)?);
        }
        p.digest
    }
}

/// Where the parameter-types flag sits in an execute payload, and the types' length.
fn types_layout(params: u16) -> (usize, usize) {
    let bitmap = (params as usize).div_ceil(8);
    (1 + 4 + 1 + 4 + bitmap, 2 * params as usize)
}

impl Session {
    /// COM_STMT_PREPARE: on the primary; remembered for lazy prepares elsewhere.
    pub(crate) async fn stmt_prepare(&mut self, payload: &[u8], sql: &[u8], seq: u8) -> Flow {
        let class = self.cache.get_or_classify(sql);
        let rule = self.rule_for(sql);
        let decision = Decision::new(Dest::Primary, "prepare");
        let req = self.request(payload, seq, Some(ResponseKind::Prepare));
        let out = match self.dispatch(&decision, &req).await {
            Ok(out) => out,
            Err(flow) => return flow,
        };
        if let (Some(id), None) = (out.walker.statement_id, out.walker.error) {
            let primary = self.conns[out.idx].backend.name.clone();
            self.stmts.map.insert(
                id,
                Prepared {
                    prepare: payload.to_vec(),
                    class,
                    rule,
                    params: out.walker.params.unwrap_or(0),
                    ids: vec![(primary, id, false)],
                    types: None,
                    long_data: false,
                    last: None,
                    digest: None,
                },
            );
            self.stmts.last_prepared = Some(id);
        }
        Flow::Continue
    }

    /// COM_STMT_EXECUTE: routed by the statement's class.
    pub(crate) async fn stmt_execute(&mut self, payload: &[u8], id: u32, seq: u8) -> Flow {
        let id = self.stmts.resolve(id);
        let Some(stmt) = self.stmts.map.get_mut(&id) else {
            // Unknown to us: the primary gives the proper error.
            return self
                .stmt_on_primary(payload, seq, Some(ResponseKind::Execute))
                .await;
        };
        let (flag_at, types_len) = types_layout(stmt.params);
        if stmt.params > 0 && payload.get(flag_at) == Some(&1) {
            let types = payload.get(flag_at + 1..flag_at + 1 + types_len);
            // Drivers re-send the same types on every execute: copy only a change.
            if stmt.types.as_deref() != types {
                stmt.types = types.map(bytes::Bytes::copy_from_slice);
            }
        }
        let class = stmt.class.clone();
        let rule = stmt.rule.clone();
        let long_data = stmt.long_data;
        let mut decision = self.decide(&class, rule);
        if long_data {
            decision = Decision::new(Dest::Primary, "long-data");
        }
        let target = match &decision.dest {
            Dest::Primary => None,
            _ => self.replica_for_execute(&decision, id).await,
        };
        let decision = match target {
            // Bound to that backend's statement id: no fallback, no retry elsewhere.
            Some(name) => Decision {
                follow: true,
                ..Decision::new(Dest::Backend(name), decision.reason)
            },
            None => Decision::new(Dest::Primary, decision.reason),
        };
        let backend_name = match &decision.dest {
            Dest::Backend(n) => n.clone(),
            _ => match self.primary_backend() {
                Ok(p) => p.name.clone(),
                Err(e) => {
                    self.send_err(seq.wrapping_add(1), &e).await;
                    return Flow::Continue;
                }
            },
        };
        let Some(stmt) = self.stmts.map.get(&id) else {
            return Flow::Continue;
        };
        let Some(&(_, backend_id, typed)) = stmt.ids.iter().find(|(b, _, _)| *b == backend_name)
        else {
            return self
                .stmt_on_primary(payload, seq, Some(ResponseKind::Execute))
                .await;
        };
        let id_bytes = backend_id.to_le_bytes();
        let needs_types = stmt.params > 0 && payload.get(flag_at) == Some(&0) && !typed;
        let types = stmt.types.clone();
        let with_types: [&[u8]; 6];
        let plain: [&[u8]; 3];
        let mut req = self.request(payload, seq, Some(ResponseKind::Execute));
        if payload.len() < 5 {
            return self
                .stmt_on_primary(payload, seq, Some(ResponseKind::Execute))
                .await;
        }
        match (&types, needs_types) {
            (Some(t), true) if payload.len() > flag_at => {
                with_types = [
                    &payload[..1],
                    &id_bytes,
                    &payload[5..flag_at],
                    &[1u8],
                    t,
                    &payload[flag_at + 1..],
                ];
                req.patched = Some(&with_types);
            }
            _ => {
                plain = [&payload[..1], &id_bytes, &payload[5..]];
                req.patched = Some(&plain);
            }
        }
        let sent_types = payload.get(flag_at) == Some(&1) || needs_types;
        let in_txn = self.state.in_transaction();
        let result = self.dispatch(&decision, &req).await;
        if let Ok(out) = &result {
            self.note_if_write(class.target, in_txn, out);
            self.after(&class, payload, out);
        }
        let ran_on = result
            .as_ref()
            .ok()
            .map(|o| self.conns[o.idx].backend.name.clone());
        if let Some(stmt) = self.stmts.map.get_mut(&id) {
            stmt.long_data = false;
            stmt.last = ran_on.clone();
            if let (Some(on), true) = (ran_on, sent_types) {
                for entry in stmt.ids.iter_mut().filter(|(b, _, _)| *b == on) {
                    entry.2 = true;
                }
            }
        }
        match result {
            Ok(_) => Flow::Continue,
            Err(flow) => flow,
        }
    }

    /// MariaDB's COM_STMT_BULK_EXECUTE: many rows of parameters, a write in practice;
    /// on the primary, with the primary's id (the client's).
    pub(crate) async fn stmt_bulk_execute(&mut self, payload: &[u8], seq: u8) -> Flow {
        self.note_write();
        self.stmt_on_primary(payload, seq, Some(ResponseKind::Execute))
            .await
    }

    /// Picks a replica for an execute and makes sure the statement is prepared there;
    /// None means "use the primary".
    async fn replica_for_execute(&mut self, decision: &Decision, id: u32) -> Option<Arc<str>> {
        let topo = self.proxy.topology.load_full();
        let backend = match &decision.dest {
            Dest::Backend(name) => topo.get(name).cloned(),
            _ => crate::replication::balancer::pick_replica(&topo, &[], decision.max_lag_ms),
        }?;
        if self.is_writer(&backend) {
            return None;
        }
        // The execute will carry this backend's statement id, so it cannot move later:
        // settle read-your-writes here, before committing to the replica.
        if self.consistency == crate::config::Consistency::ReadYourWrites {
            if !self.causal_position().await {
                return None;
            }
            let idx = self.conn_to(&backend).await.ok()?;
            if !self.causal_wait(idx).await {
                return None;
            }
        }
        let stmt = self.stmts.map.get(&id)?;
        if stmt.ids.iter().any(|(b, _, _)| *b == backend.name) {
            return Some(backend.name.clone());
        }
        let prepare = stmt.prepare.clone();
        debug_assert_eq!(prepare.first(), Some(&COM_STMT_PREPARE));
        let idx = self.conn_to(&backend).await.ok()?;
        let walker = match self.conns[idx]
            .exec_quiet(&prepare, ResponseKind::Prepare)
            .await
        {
            Ok(w) => w,
            Err(e) => {
                tracing::debug!(backend = %backend.name, error = %e, "lazy prepare failed; using the primary");
                if e.to_err_packet().code == crate::protocol::constants::errors::CR_CONN_HOST_ERROR
                {
                    self.discard(idx);
                }
                return None;
            }
        };
        let new_id = walker.statement_id?;
        self.stmts
            .map
            .get_mut(&id)?
            .ids
            .push((backend.name.clone(), new_id, false));
        Some(backend.name.clone())
    }

    /// Forwards a statement command unchanged to the primary.
    async fn stmt_on_primary(
        &mut self,
        payload: &[u8],
        seq: u8,
        kind: Option<ResponseKind>,
    ) -> Flow {
        let decision = Decision::new(Dest::Primary, "prepared-statement");
        let req = self.request(payload, seq, kind);
        match self.dispatch(&decision, &req).await {
            Ok(_) => Flow::Continue,
            Err(flow) => flow,
        }
    }

    /// COM_STMT_SEND_LONG_DATA: to the primary, which then runs the next execute.
    pub(crate) async fn stmt_send_long_data(&mut self, payload: &[u8], id: u32, seq: u8) -> Flow {
        let id = self.stmts.resolve(id);
        if let Some(stmt) = self.stmts.map.get_mut(&id) {
            stmt.long_data = true;
        }
        self.stmt_patched(payload, id, seq, None, None).await
    }

    /// COM_STMT_FETCH and COM_STMT_RESET: to the backend of the statement's last execute.
    pub(crate) async fn stmt_follow(
        &mut self,
        payload: &[u8],
        id: u32,
        seq: u8,
        fetch: bool,
    ) -> Flow {
        let id = self.stmts.resolve(id);
        let last = self.stmts.map.get_mut(&id).and_then(|s| {
            if !fetch {
                s.long_data = false;
            }
            s.last.clone()
        });
        let kind = if fetch {
            ResponseKind::Rows
        } else {
            ResponseKind::Single
        };
        self.stmt_patched(payload, id, seq, last, Some(kind)).await
    }

    /// Sends a statement command to `backend` (default: the primary) with that backend's id.
    async fn stmt_patched(
        &mut self,
        payload: &[u8],
        id: u32,
        seq: u8,
        backend: Option<Arc<str>>,
        kind: Option<ResponseKind>,
    ) -> Flow {
        let name = match backend {
            Some(name) => name,
            None => match self.primary_backend() {
                Ok(p) => p.name.clone(),
                Err(e) => {
                    if kind.is_some() {
                        self.send_err(seq.wrapping_add(1), &e).await;
                    }
                    return Flow::Continue;
                }
            },
        };
        let backend_id = self
            .stmts
            .map
            .get(&id)
            .and_then(|s| s.ids.iter().find(|(b, _, _)| *b == name))
            .map(|(_, i, _)| *i)
            .unwrap_or(id);
        if payload.len() < 5 {
            return self.stmt_on_primary(payload, seq, kind).await;
        }
        let id_bytes = backend_id.to_le_bytes();
        let parts: [&[u8]; 3] = [&payload[..1], &id_bytes, &payload[5..]];
        let mut req = self.request(payload, seq, kind);
        req.patched = Some(&parts);
        let decision = Decision {
            follow: true,
            ..Decision::new(Dest::Backend(name), "prepared-statement")
        };
        match self.dispatch(&decision, &req).await {
            Ok(_) => Flow::Continue,
            Err(flow) => flow,
        }
    }

    /// COM_STMT_CLOSE: on every backend that prepared it (no reply).
    pub(crate) async fn stmt_close(&mut self, id: u32) -> Flow {
        let id = self.stmts.resolve(id);
        let Some(stmt) = self.stmts.map.remove(&id) else {
            return Flow::Continue;
        };
        for (name, backend_id, _) in stmt.ids {
            let Some(conn) = self.conns.iter_mut().find(|c| c.backend.name == name) else {
                continue;
            };
            let mut p = vec![crate::protocol::constants::com::COM_STMT_CLOSE];
            p.extend_from_slice(&backend_id.to_le_bytes());
            conn.conn.write_packet(0, &p);
            // A broken connection shows up, and is dropped, on its next use.
            let _ = conn.conn.flush().await;
        }
        Flow::Continue
    }
}
