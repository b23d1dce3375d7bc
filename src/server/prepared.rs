//! Binary-protocol prepared statements across backends and pooled connections. The
//! client sees ids the proxy gives out; each backend connection keeps the statements
//! prepared on it (`pool::stmt_cache`), and a statement command is bound to the connection
//! it runs on just before it is sent: prepared there first if that connection lacks it,
//! its id rewritten, and parameter types added when the connection's statement last ran
//! with other ones. So a session with prepared statements still gives its connections back
//! after each statement (multiplexing); only long data waiting for its execute and an open
//! cursor keep it on its connection. A PREPARE runs on the primary (its answer is the one
//! the client gets); a read's execute runs wherever reads go.

use super::session::{Flow, Session};
use crate::pool::stmt_cache;
use crate::pool::PoolError;
use crate::protocol::columns::ColumnDefs;
use crate::protocol::constants::com::COM_STMT_EXECUTE;
use crate::protocol::constants::ext_caps::MARIADB_CLIENT_CACHE_METADATA;
use crate::protocol::packets::ErrPacket;
use crate::protocol::response::{ResponseKind, ResponseWalker};
use crate::router::classify::Classification;
use crate::router::{Decision, Dest};
use bytes::Bytes;
use std::sync::Arc;

/// MariaDB's "the statement prepared last" id.
const LAST_PREPARED: u32 = u32::MAX;

/// ER_UNKNOWN_STMT_HANDLER.
const ER_UNKNOWN_STMT_HANDLER: u16 = 1243;

/// COM_STMT_EXECUTE flags that open a cursor (read-only, for update, scrollable).
const CURSOR_FLAGS: u8 = 0x07;

/// One prepared statement.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// COM_STMT_PREPARE payload, to prepare it on another connection.
    sql: Arc<[u8]>,
    /// Its `stmt_cache` key.
    hash: u64,
    /// The session-state fingerprint it was prepared under (the connections' statements
    /// are found by it).
    fp: u64,
    class: Classification,
    /// The matching `[[rules]]` target when it was prepared.
    rule: Option<crate::router::rules::Rule>,
    params: u16,
    /// Parameter types from the last execute that sent them.
    types: Option<Bytes>,
    /// Long data was sent (to the primary) since the last execute: the session stays on
    /// that connection until the execute.
    long_data: bool,
    /// The last execute asked for a cursor: the session stays on that connection for the
    /// fetches until a reset, close or another execute.
    cursor: bool,
    /// Backend of the last execute.
    last: Option<Arc<str>>,
    /// Its digest entry, once an execute was recorded (`SHOW DIGESTS`).
    digest: Option<crate::admin::digest::DigestRef>,
    /// The column definitions the client last got for it, when it caches them
    /// (MARIADB_CLIENT_CACHE_METADATA).
    columns: Option<Arc<ColumnDefs>>,
}

/// The session's prepared statements, by the id the client was given.
#[derive(Debug, Default)]
pub(crate) struct Statements {
    map: rustc_hash::FxHashMap<u32, Prepared>,
    last_prepared: Option<u32>,
    /// The last id given out.
    next_id: u32,
    /// Set whenever a statement takes long data or a cursor, cleared by a `pinned` that
    /// finds none: sessions that never use them (nearly all) never walk the map.
    // Atomic, not `Cell`: futures that hold `&Session` across an await must be `Send`,
    // so the session must be `Sync`. One task owns it.
    maybe_pinned: std::sync::atomic::AtomicBool,
}

impl Statements {
    /// True when a statement keeps the session on its connection: long data waiting
    /// for its execute, or an open cursor.
    pub(crate) fn pinned(&self) -> bool {
        if !self.maybe_pinned.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        let pinned = self.map.values().any(|p| p.long_data || p.cursor);
        self.maybe_pinned
            .store(pinned, std::sync::atomic::Ordering::Relaxed);
        pinned
    }

    fn resolve(&self, id: u32) -> u32 {
        match (id, self.last_prepared) {
            (LAST_PREPARED, Some(last)) => last,
            _ => id,
        }
    }

    /// An id for a new statement: from 1 up, as a server gives them.
    fn new_id(&mut self) -> u32 {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            let id = self.next_id;
            if id != 0 && id != LAST_PREPARED && !self.map.contains_key(&id) {
                return id;
            }
        }
    }

    fn by_id_bytes(&self, id: &[u8]) -> Option<&Prepared> {
        self.map.get(&self.id_of(id)?)
    }

    /// The statement id in the little-endian bytes `id`, resolved.
    fn id_of(&self, id: &[u8]) -> Option<u32> {
        Some(self.resolve(u32::from_le_bytes(id.get(..4)?.try_into().ok()?)))
    }

    /// SQL text of the statement whose little-endian id is `id`.
    pub(crate) fn sql(&self, id: &[u8]) -> Option<&[u8]> {
        self.by_id_bytes(id).and_then(|p| p.sql.get(1..))
    }

    /// Records an execution of the statement whose little-endian id is `id` under its
    /// digest, which the statement keeps (fingerprinted once per digest table).
    pub(crate) fn record_digest(
        &mut self,
        id: &[u8],
        digests: &crate::admin::digest::Digests,
        e: crate::admin::digest::Execution,
    ) {
        let Some(p) = self.id_of(id).and_then(|id| self.map.get_mut(&id)) else {
            return;
        };
        if let Some(sql) = p.sql.get(1..) {
            digests.record_kept(&mut p.digest, sql, e);
        }
    }
}

/// Where the parameter-types flag sits in an execute payload, and the types' length.
fn types_layout(params: u16) -> (usize, usize) {
    let bitmap = (params as usize).div_ceil(8);
    (1 + 4 + 1 + 4 + bitmap, 2 * params as usize)
}

/// A statement command made right for one connection: that connection's statement id,
/// the parameter types to add to an execute that sent none, and for a client that caches
/// column definitions, the ones the connection's statement last sent.
#[derive(Debug)]
pub(crate) struct Binding {
    id: [u8; 4],
    types: Option<(usize, Bytes)>,
    /// The connection statement's column definitions (a client that caches them only).
    pub(crate) columns: Option<Arc<ColumnDefs>>,
    /// The client has `columns` for its statement.
    pub(crate) client_has_columns: bool,
}

impl Binding {
    /// `payload` (a command on `stmt`) bound to the connection's statement `entry`;
    /// `caches` when the client caches column definitions.
    fn new(
        entry: &mut stmt_cache::Entry,
        stmt: &mut Prepared,
        payload: &[u8],
        caches: bool,
    ) -> Binding {
        let mut binding = Binding {
            id: entry.id.to_le_bytes(),
            types: None,
            columns: None,
            client_has_columns: true,
        };
        if caches {
            binding.client_has_columns = entry.columns == stmt.columns;
            if binding.client_has_columns {
                share_columns(&mut entry.columns, &mut stmt.columns);
            }
            binding.columns = entry.columns.clone();
        }
        if payload.first() == Some(&COM_STMT_EXECUTE) && stmt.params > 0 {
            let (flag_at, _) = types_layout(stmt.params);
            match payload.get(flag_at) {
                Some(&1) => entry.types = stmt.types.clone(),
                // The connection's statement last ran with other types than the
                // session's (another session's, or none): send the session's.
                Some(&0) if entry.types != stmt.types => {
                    if let Some(t) = &stmt.types {
                        binding.types = Some((flag_at, t.clone()));
                        entry.types = Some(t.clone());
                    }
                }
                _ => {}
            }
        }
        binding
    }

    /// The payload to send in place of `payload`, in pieces (the first `n` of the array).
    pub(crate) fn parts<'a>(&'a self, payload: &'a [u8]) -> ([&'a [u8]; 6], usize) {
        const TYPES_SENT: &[u8] = &[1];
        match &self.types {
            Some((flag_at, t)) => (
                [
                    &payload[..1],
                    &self.id,
                    &payload[5..*flag_at],
                    TYPES_SENT,
                    t,
                    &payload[flag_at + 1..],
                ],
                6,
            ),
            None => ([&payload[..1], &self.id, &payload[5..], &[], &[], &[]], 3),
        }
    }
}

/// Makes equal definitions `a` and `b` one allocation, so that comparing them is comparing
/// pointers: both keep the one at the lower address. Every session's statement and every
/// connection's statement with these definitions ends up with that same one, whichever
/// pairs meet first (the sessions of a pool take turns on many connections).
fn share_columns(a: &mut Option<Arc<ColumnDefs>>, b: &mut Option<Arc<ColumnDefs>>) {
    if let (Some(x), Some(y)) = (a.as_ref(), b.as_ref()) {
        match Arc::as_ptr(x).cmp(&Arc::as_ptr(y)) {
            std::cmp::Ordering::Less => *b = a.clone(),
            std::cmp::Ordering::Greater => *a = b.clone(),
            std::cmp::Ordering::Equal => {}
        }
    }
}

impl Session {
    /// COM_STMT_PREPARE: on the primary, whose answer the client gets under an id of the
    /// proxy's; the statement stays on that connection for whoever uses it next.
    pub(crate) async fn stmt_prepare(&mut self, payload: &[u8], sql: &[u8], seq: u8) -> Flow {
        let class = self.cache.get_or_classify(sql);
        let rule = self.rule_for(sql);
        let decision = Decision::new(Dest::Primary, "prepare");
        let id = self.stmts.new_id();
        let mut req = self.request(payload, seq, Some(ResponseKind::Prepare));
        req.prepare_as = Some(id);
        let mut out = match self.dispatch(&decision, &req).await {
            Ok(out) => out,
            Err(flow) => return flow,
        };
        if let (Some(backend_id), None) = (out.walker.statement_id, out.walker.error) {
            let text: Arc<[u8]> = Arc::from(payload);
            let hash = stmt_cache::hash(&text);
            let conn = &mut self.conns[out.idx];
            let fp = conn.fp;
            // The client keeps the column definitions of the answer it got.
            let columns = out.walker.columns.take();
            let close = if conn.stmts.get_mut(fp, hash, &text).is_some() {
                // The connection has it already (prepared by an earlier session), and
                // keeps what that statement last sent.
                vec![backend_id]
            } else {
                conn.stmts
                    .insert(fp, hash, text.clone(), backend_id, columns.clone())
            };
            conn.close_statements(&close);
            self.stmts.map.insert(
                id,
                Prepared {
                    sql: text,
                    hash,
                    fp,
                    class,
                    rule,
                    params: out.walker.params.unwrap_or(0),
                    types: None,
                    long_data: false,
                    cursor: false,
                    last: None,
                    digest: None,
                    columns,
                },
            );
            self.stmts.last_prepared = Some(id);
        }
        Flow::Continue
    }

    /// COM_STMT_EXECUTE: routed by the statement's class, like the statement itself.
    pub(crate) async fn stmt_execute(&mut self, payload: &[u8], id: u32, seq: u8) -> Flow {
        let id = self.stmts.resolve(id);
        let Some(stmt) = self.stmts.map.get_mut(&id) else {
            return self.unknown_statement(id, "mysqld_stmt_execute", seq).await;
        };
        let (flag_at, types_len) = types_layout(stmt.params);
        if stmt.params > 0 && payload.get(flag_at) == Some(&1) {
            let types = payload.get(flag_at + 1..flag_at + 1 + types_len);
            // Drivers re-send the same types on every execute: copy only a change.
            if stmt.types.as_deref() != types {
                stmt.types = types.map(Bytes::copy_from_slice);
            }
        }
        stmt.cursor = payload.get(5).is_some_and(|f| f & CURSOR_FLAGS != 0);
        if stmt.cursor {
            self.stmts
                .maybe_pinned
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let class = stmt.class.clone();
        let rule = stmt.rule.clone();
        let long_data = stmt.long_data;
        let mut decision = self.decide(&class, rule);
        if long_data {
            // The long data waits on the primary's connection.
            decision = Decision {
                follow: true,
                ..Decision::new(Dest::Primary, "long-data")
            };
        }
        let mut req = self.request(payload, seq, Some(ResponseKind::Execute));
        req.stmt = Some(id);
        let in_txn = self.state.in_transaction();
        let result = self.dispatch(&decision, &req).await;
        if let Ok(out) = &result {
            self.note_if_write(class.target, in_txn, out);
            self.after(&class, payload, out);
        }
        let ran_on = result.as_ref().ok().map(|o| o.idx);
        if let Some(stmt) = self.stmts.map.get_mut(&id) {
            stmt.long_data = false;
            stmt.last = ran_on.map(|i| self.conns[i].backend.name.clone());
            let failed = result.as_ref().map_or(true, |o| o.walker.error.is_some());
            if let (Some(i), true) = (ran_on, failed) {
                // Whether the server kept the types sent is unknown: send them next time.
                if let Some(e) = self.conns[i].stmts.get_mut(stmt.fp, stmt.hash, &stmt.sql) {
                    e.types = None;
                }
            }
            if failed {
                stmt.cursor = false;
            }
        }
        match result {
            Ok(_) => Flow::Continue,
            Err(flow) => flow,
        }
    }

    /// MariaDB's COM_STMT_BULK_EXECUTE: many rows of parameters, a write in practice;
    /// on the primary.
    pub(crate) async fn stmt_bulk_execute(&mut self, payload: &[u8], seq: u8) -> Flow {
        self.note_write();
        let id = payload
            .get(1..5)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let id = self.stmts.resolve(id);
        if !self.stmts.map.contains_key(&id) {
            return self
                .unknown_statement(id, "mysqld_stmt_bulk_execute", seq)
                .await;
        }
        self.stmt_on(payload, id, seq, None, Some(ResponseKind::Execute))
            .await
    }

    /// Binds statement command `payload` for the client's statement `id` to connection
    /// `idx`: prepares the statement there first if the connection lacks it, and gives
    /// its id there (and parameter types an execute must add).
    pub(crate) async fn bind(
        &mut self,
        idx: usize,
        id: u32,
        payload: &[u8],
    ) -> Result<Binding, PoolError> {
        let caches = self.caches_metadata();
        let conn = &mut self.conns[idx];
        let Some(stmt) = self.stmts.map.get_mut(&id) else {
            return Err(PoolError::Refused {
                backend: conn.backend.name.to_string(),
                err: unknown_statement_err(id, "mysqld_stmt_execute"),
            });
        };
        if let Some(entry) = conn.stmts.get_mut(stmt.fp, stmt.hash, &stmt.sql) {
            return Ok(Binding::new(entry, stmt, payload, caches));
        }
        // Prepared here under the connection's settings, which are the session's now.
        let walker = conn.exec_quiet(&stmt.sql, ResponseKind::Prepare).await?;
        let new_id = walker.statement_id.ok_or_else(|| PoolError::Protocol {
            backend: conn.backend.name.to_string(),
            source: crate::protocol::ProtocolError::Malformed("PREPARE OK without an id"),
        })?;
        stmt.fp = conn.fp;
        let close = conn
            .stmts
            .insert(stmt.fp, stmt.hash, stmt.sql.clone(), new_id, walker.columns);
        conn.close_statements(&close);
        let entry = conn
            .stmts
            .get_mut(stmt.fp, stmt.hash, &stmt.sql)
            .expect("statement just prepared");
        Ok(Binding::new(entry, stmt, payload, caches))
    }

    /// True when the client negotiated MARIADB_CLIENT_CACHE_METADATA.
    pub(crate) fn caches_metadata(&self) -> bool {
        self.ext_caps & MARIADB_CLIENT_CACHE_METADATA != 0
    }

    /// After statement `id` ran on connection `idx` with a result set: the client now has
    /// the definitions the connection's statement last sent, which may be new.
    pub(crate) fn columns_received(&mut self, idx: usize, id: u32, walker: &ResponseWalker) {
        let Some(stmt) = self.stmts.map.get_mut(&id) else {
            return;
        };
        stmt.columns = walker.columns.clone();
        if walker.columns_renewed {
            if let Some(e) = self.conns[idx].stmts.get_mut(stmt.fp, stmt.hash, &stmt.sql) {
                e.columns = walker.columns.clone();
            }
        }
    }

    /// Sends statement command `payload` for statement `id` to `backend` (default: the
    /// primary), on the connection the session holds there.
    async fn stmt_on(
        &mut self,
        payload: &[u8],
        id: u32,
        seq: u8,
        backend: Option<Arc<str>>,
        kind: Option<ResponseKind>,
    ) -> Flow {
        let dest = match backend {
            Some(name) => Dest::Backend(name),
            None => Dest::Primary,
        };
        let decision = Decision {
            follow: true,
            ..Decision::new(dest, "prepared-statement")
        };
        let mut req = self.request(payload, seq, kind);
        req.stmt = Some(id);
        match self.dispatch(&decision, &req).await {
            Ok(_) => Flow::Continue,
            Err(flow) => flow,
        }
    }

    /// ER_UNKNOWN_STMT_HANDLER, as the server words it.
    async fn unknown_statement(&mut self, id: u32, command: &str, seq: u8) -> Flow {
        self.send_err(seq.wrapping_add(1), &unknown_statement_err(id, command))
            .await;
        Flow::Continue
    }

    /// COM_STMT_SEND_LONG_DATA: to the primary, which then runs the next execute.
    pub(crate) async fn stmt_send_long_data(&mut self, payload: &[u8], id: u32, seq: u8) -> Flow {
        let id = self.stmts.resolve(id);
        let Some(stmt) = self.stmts.map.get_mut(&id) else {
            // No reply; the execute reports the unknown statement.
            return Flow::Continue;
        };
        stmt.long_data = true;
        self.stmts
            .maybe_pinned
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.stmt_on(payload, id, seq, None, None).await
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
        let Some(stmt) = self.stmts.map.get_mut(&id) else {
            let command = if fetch {
                "mysqld_stmt_fetch"
            } else {
                "mysqld_stmt_reset"
            };
            return self.unknown_statement(id, command, seq).await;
        };
        let last = stmt.last.clone();
        let kind = if fetch {
            ResponseKind::Rows
        } else {
            ResponseKind::Single
        };
        let flow = self.stmt_on(payload, id, seq, last, Some(kind)).await;
        if let (false, Some(stmt)) = (fetch, self.stmts.map.get_mut(&id)) {
            stmt.long_data = false;
            stmt.cursor = false;
        }
        flow
    }

    /// COM_STMT_CLOSE (no reply): the session forgets the statement. The connections
    /// keep theirs for the next session, unless long data or a cursor of this session's
    /// is still on one: then it is closed there.
    pub(crate) async fn stmt_close(&mut self, id: u32) -> Flow {
        let id = self.stmts.resolve(id);
        let Some(stmt) = self.stmts.map.remove(&id) else {
            return Flow::Continue;
        };
        if stmt.long_data || stmt.cursor {
            for conn in &mut self.conns {
                if let Some(backend_id) = conn.stmts.remove(stmt.fp, stmt.hash, &stmt.sql) {
                    conn.close_statements(&[backend_id]);
                }
            }
        }
        Flow::Continue
    }
}

fn unknown_statement_err(id: u32, command: &str) -> ErrPacket {
    ErrPacket::new(
        ER_UNKNOWN_STMT_HANDLER,
        "HY000",
        format!("Unknown prepared statement handler ({id}) given to {command}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::columns::Collector;

    fn defs(def: &[u8]) -> Option<Arc<ColumnDefs>> {
        let mut c = Collector::default();
        c.push(def);
        c.renewed(None)
    }

    #[test]
    fn equal_definitions_end_up_as_the_lowest_allocation_everywhere() {
        let copies: Vec<Option<Arc<ColumnDefs>>> = (0..4).map(|_| defs(b"\x03defa")).collect();
        let lowest = copies.iter().flatten().map(Arc::as_ptr).min().unwrap();
        let (mut a, mut b, mut c, mut d) = (
            copies[0].clone(),
            copies[1].clone(),
            copies[2].clone(),
            copies[3].clone(),
        );
        // Pairs meet in any order; each meeting keeps the lower of the two.
        share_columns(&mut a, &mut b);
        share_columns(&mut c, &mut d);
        share_columns(&mut b, &mut c);
        share_columns(&mut a, &mut d);
        share_columns(&mut a, &mut c);
        for x in [&a, &b, &c, &d] {
            assert_eq!(x.as_ref().map(Arc::as_ptr), Some(lowest));
        }
        // None stays None; other definitions are not this function's business.
        let (mut none, mut other) = (None, defs(b"\x03defb"));
        share_columns(&mut none, &mut other);
        assert!(none.is_none());
    }
}
