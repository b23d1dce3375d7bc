//! Running one request: classify it, decide where it goes, send it there (falling back
//! to the primary, or retrying a read elsewhere when nothing has reached the client yet),
//! and update the session from the response and the statement's effects.

use super::forward::{self, ForwardError, Request};
use super::session::{Flow, Session};
use crate::config::PrimaryReads;
use crate::pool::PoolError;
use crate::protocol::constants::caps::{CLIENT_LOCAL_FILES, CLIENT_SESSION_TRACK};
use crate::protocol::constants::errors::CR_SERVER_LOST;
use crate::protocol::packets::ErrPacket;
use crate::protocol::response::{ResponseKind, ResponseWalker};
use crate::protocol::session_track::Strip;
use crate::replication::{balancer, Backend};
use crate::router::classify::{Classification, Effects, Reason};
use crate::router::session::{Pin, SessionCommand};
use crate::router::stats::RouteStats;
use crate::router::{self, Decision, Dest};
use bytes::Bytes;
use std::sync::Arc;

/// What a request did, when it got a complete response.
pub(crate) struct Outcome {
    /// The walked response.
    pub walker: ResponseWalker,
    /// Index of the connection it ran on.
    pub idx: usize,
    /// It ran on the backend that takes writes.
    pub on_writer: bool,
}

impl Session {
    /// COM_QUERY.
    pub(crate) async fn query(&mut self, payload: &[u8], sql: &[u8], seq: u8) -> Flow {
        if let Some((id, query_only)) = super::kill::parse_kill(sql) {
            return self.kill(id, query_only, seq.wrapping_add(1)).await;
        }
        if super::explain::asks_last_gtid(sql) {
            return self.answer_last_gtid(seq.wrapping_add(1)).await;
        }
        if let Some(stmt) = super::explain::explain_route_target(sql) {
            return self.explain_route(stmt, seq.wrapping_add(1)).await;
        }
        let class = self.cache.get_or_classify(sql);
        if self.state.txn_backend.is_some()
            && self.state.read_only_transaction()
            && class.reason.is_write()
        {
            // What the primary would answer; a replica would say "read-only server".
            let err = ErrPacket::new(
                1792,
                "25006",
                "Cannot execute statement in a READ ONLY transaction",
            );
            self.send_err(seq.wrapping_add(1), &err).await;
            return Flow::Continue;
        }
        let decision = self.decide(&class, self.rule_for(sql));
        let req = self.request(payload, seq, Some(ResponseKind::Query));
        let in_txn = self.state.in_transaction();
        match self.dispatch(&decision, &req).await {
            Ok(out) => {
                self.after(&class, payload, &out);
                self.note_if_write(class.target, in_txn, &out);
                Flow::Continue
            }
            Err(flow) => flow,
        }
    }

    /// After a statement that ran on the primary as a primary statement (or inside a
    /// transaction there), reads must not see older data: see `causal`.
    pub(crate) fn note_if_write(
        &mut self,
        target: crate::router::Target,
        in_txn: bool,
        out: &Outcome,
    ) {
        let Some(conn) = self.conns.get(out.idx) else {
            return;
        };
        if !out.on_writer {
            return;
        }
        if conn.gtid_tracked {
            // The connection reports what it commits: a statement that committed nothing
            // leaves nothing to wait for.
            if let Some(gtid) = &out.walker.last_gtid {
                self.note_commit(gtid);
            }
        } else if target == crate::router::Target::Primary || in_txn || self.state.in_transaction()
        {
            self.note_write();
        }
    }

    /// Routes a classified statement for this session, with the matching rule's target
    /// and, unless the statement has its own, the rule's staleness bound.
    pub(crate) fn decide(
        &self,
        class: &Classification,
        rule: Option<crate::router::rules::Rule>,
    ) -> Decision {
        let mut d = router::decide(
            class,
            &self.state,
            self.consistency,
            rule.as_ref().map(|r| &r.target),
        );
        if d.max_lag_ms.is_none() {
            d.max_lag_ms = rule.and_then(|r| r.max_lag_ms);
        }
        d
    }

    /// The first `[[rules]]` entry matching `sql` for this session.
    pub(crate) fn rule_for(&self, sql: &[u8]) -> Option<crate::router::rules::Rule> {
        let rules = self.proxy.rules.load();
        if rules.is_empty() {
            return None;
        }
        rules
            .find(sql, &self.login.user, self.state.schema.as_deref())
            .cloned()
    }

    /// COM_INIT_DB and COM_SET_OPTION: run on the primary, then recorded for replay.
    pub(crate) async fn session_command(&mut self, payload: &[u8], seq: u8) -> Flow {
        let decision = Decision::new(Dest::Primary, "session-command");
        let req = self.request(payload, seq, Some(ResponseKind::Single));
        match self.dispatch(&decision, &req).await {
            Ok(out) if out.walker.error.is_none() => {
                let bytes = Bytes::copy_from_slice(payload);
                let cmd = if payload.first() == Some(&crate::protocol::constants::com::COM_INIT_DB)
                {
                    self.state.schema = Some(String::from_utf8_lossy(&payload[1..]).into_owned());
                    SessionCommand::InitDb(bytes)
                } else {
                    SessionCommand::SetOption(bytes)
                };
                self.record(cmd, out.idx);
                Flow::Continue
            }
            Ok(_) => Flow::Continue,
            Err(flow) => flow,
        }
    }

    /// COM_PING, COM_STATISTICS, COM_FIELD_LIST: answered by the primary.
    pub(crate) async fn simple_on_primary(&mut self, payload: &[u8], seq: u8) -> Flow {
        let kind = match payload.first() {
            Some(&crate::protocol::constants::com::COM_FIELD_LIST) => ResponseKind::Rows,
            _ => ResponseKind::Single,
        };
        let decision = Decision::new(Dest::Primary, "admin-command");
        let req = self.request(payload, seq, Some(kind));
        match self.dispatch(&decision, &req).await {
            Ok(_) => Flow::Continue,
            Err(flow) => flow,
        }
    }

    /// COM_RESET_CONNECTION: reset the primary, give the other connections back to the
    /// pool (it resets them), and forget the session's state.
    pub(crate) async fn reset_connection(&mut self, payload: &[u8], seq: u8) -> Flow {
        let decision = Decision::new(Dest::Primary, "session-command");
        let req = self.request(payload, seq, Some(ResponseKind::Single));
        match self.dispatch(&decision, &req).await {
            Ok(out) => {
                if out.walker.error.is_none() {
                    // The reset turned the connection's GTID tracking off again.
                    // The server dropped the connection's prepared statements.
                    self.conns[out.idx].stmts.clear();
                    if self.conns[out.idx].track_gtids().await.is_err() {
                        self.discard(out.idx);
                    }
                    self.release_replicas();
                    self.state.reset();
                    self.stmts = Default::default();
                    for c in &mut self.conns {
                        c.in_step_with(&self.state);
                    }
                }
                Flow::Continue
            }
            Err(flow) => flow,
        }
    }

    pub(crate) fn request<'a>(
        &self,
        payload: &'a [u8],
        seq: u8,
        kind: Option<ResponseKind>,
    ) -> Request<'a> {
        Request {
            payload,
            patched: None,
            stmt: None,
            prepare_as: None,
            seq,
            kind,
            local_files: self.caps & CLIENT_LOCAL_FILES != 0,
            max_packet: self.max_packet,
            strip: if self.caps & CLIENT_SESSION_TRACK == 0 {
                Strip::All
            } else {
                Strip::LastGtid
            },
            client_caches_metadata: self.caches_metadata(),
            client_has_columns: true,
        }
    }

    /// The backend a decision names, falling back to the primary when it names none
    /// that can be used.
    fn resolve(&self, decision: &Decision, exclude: &[&str]) -> Result<Arc<Backend>, ErrPacket> {
        let topo = self.proxy.topology.load();
        let stats = &self.proxy.route_stats;
        let chosen = match &decision.dest {
            Dest::Primary => None,
            Dest::Replica => {
                let always = self.primary_reads == PrimaryReads::Always;
                balancer::pick_reader(&topo, exclude, decision.max_lag_ms, always)
            }
            Dest::Backend(name) => topo
                .get(name)
                .cloned()
                .filter(|b| !exclude.contains(&&*b.name)),
        };
        match chosen {
            Some(b) => Ok(b),
            None if decision.dest == Dest::Replica && self.primary_reads == PrimaryReads::Never => {
                Err(ErrPacket::new(
                    1105,
                    "HY000",
                    "rwproxy: no replica qualifies for this read (down, lagging or weight 0) and primary_reads = \"never\"",
                ))
            }
            None => {
                if decision.dest != Dest::Primary {
                    RouteStats::bump(&stats.fallbacks);
                }
                self.primary_backend()
            }
        }
    }

    /// Sends `req` where `decision` says and relays the response. Err carries what the
    /// session should do when the request could not complete (the client was told).
    pub(crate) async fn dispatch(
        &mut self,
        decision: &Decision,
        req: &Request<'_>,
    ) -> Result<Outcome, Flow> {
        let mut tried: Vec<Arc<str>> = Vec::new();
        let mut force_primary = false;
        loop {
            let excluded: Vec<&str> = tried.iter().map(|n| &**n).collect();
            let resolved = if force_primary || decision.dest == Dest::Primary {
                self.writer().await
            } else {
                self.resolve(decision, &excluded)
            };
            let target = match resolved {
                Ok(b) => b,
                Err(err) => return Err(self.fail(req, &err).await),
            };
            let is_primary = self.is_writer(&target);
            // A follow-up (cursor fetch, an execute bound to this backend's statement id)
            // must run on exactly this connection, next: no causal wait, no retry.
            // A plain read that ended up on the primary (no replica qualified, or
            // read-your-writes) is retried there once, on a fresh connection: the one
            // it had may have died with a primary restart, and a read is safe to repeat.
            let read_on_primary =
                decision.dest == Dest::Replica && !tried.iter().any(|n| *n == target.name);
            let retryable = (!is_primary || read_on_primary)
                && !self.state.in_transaction()
                && !decision.follow;
            let causal = !is_primary
                && !decision.follow
                && self.consistency == crate::config::Consistency::ReadYourWrites;
            if causal && !self.causal_position().await {
                force_primary = true;
                continue;
            }
            let idx = match self.conn_to(&target).await {
                Ok(i) => i,
                Err(e) if retryable => {
                    tracing::warn!(backend = %target.name, error = %e, "read moved off an unusable backend");
                    RouteStats::bump(&self.proxy.route_stats.retries);
                    tried.push(target.name.clone());
                    continue;
                }
                Err(e) => return Err(self.fail(req, &e.to_err_packet()).await),
            };
            if causal && !self.causal_wait(idx).await {
                force_primary = true;
                continue;
            }
            if let (false, Some(g)) = (is_primary || decision.follow, &decision.after_gtid) {
                if !self.wait_for(idx, g.clone()).await {
                    force_primary = true;
                    continue;
                }
            }
            let mut binding = match req.stmt {
                Some(id) => match self.bind(idx, id, req.payload).await {
                    Ok(b) => Some(b),
                    Err(e) => {
                        // A connection that failed mid-exchange is in an unknown state.
                        if !matches!(e, PoolError::Refused { .. }) {
                            self.discard(idx);
                        }
                        if retryable {
                            tracing::warn!(backend = %target.name, error = %e, "read moved off a backend that could not prepare it");
                            tried.push(target.name.clone());
                            continue;
                        }
                        return Err(self.fail(req, &e.to_err_packet()).await);
                    }
                },
                None => None,
            };
            let columns = binding.as_mut().and_then(|b| b.columns.take());
            let parts;
            let bound;
            let req = match &binding {
                Some(b) => {
                    parts = b.parts(req.payload);
                    bound = Request {
                        patched: Some(&parts.0[..parts.1]),
                        client_has_columns: b.client_has_columns,
                        ..*req
                    };
                    &bound
                }
                None => req,
            };
            self.publish_backend(idx);
            let in_flight = target.begin_request(super::observe::request_kind(decision));
            let conn = &mut self.conns[idx];
            let watch = self.watch.as_deref();
            let kind = req.kind.unwrap_or(ResponseKind::Single);
            let mut walker = ResponseWalker::new(kind, conn.caps);
            let forwarded =
                forward::forward(&mut self.client, conn, req, columns, &mut walker, watch).await;
            let (us, ended) = in_flight.finish();
            match forwarded {
                Ok(()) => {
                    self.conns[idx].last_used = ended;
                    if let (Some(id), Some(b)) = (req.stmt, &binding) {
                        if walker.had_result_set
                            && (walker.columns_renewed || !b.client_has_columns)
                        {
                            self.columns_received(idx, id, &walker);
                        }
                    }
                    self.observe(req, decision, &target, is_primary, us, &walker);
                    self.state.observe(walker.status, walker.ok.as_ref());
                    self.hold = if leaves_results(&walker) {
                        super::session::HOLD_AFTER_RESULT
                    } else {
                        self.hold.saturating_sub(1)
                    };
                    // Set only on a change: no allocation per statement.
                    if self.state.last_backend.as_deref() != Some(&*target.name) {
                        self.state.last_backend = Some(target.name.clone());
                    }
                    return Ok(Outcome {
                        walker,
                        idx,
                        on_writer: is_primary,
                    });
                }
                Err(ForwardError::Client(_)) => {
                    self.discard(idx);
                    return Err(Flow::Close);
                }
                Err(e @ ForwardError::Backend { sent, .. }) => {
                    target.count_error();
                    self.discard(idx);
                    tracing::warn!(id = self.handle.id, error = %e, "backend failed during a request");
                    let killed = self.handle.killed.load(std::sync::atomic::Ordering::SeqCst);
                    if killed {
                        // KILL CONNECTION: the server closes without a word; so do we.
                        return Err(Flow::Close);
                    }
                    if !sent && retryable && req.kind.is_some() {
                        RouteStats::bump(&self.proxy.route_stats.retries);
                        tried.push(target.name.clone());
                        continue;
                    }
                    if !sent && req.kind.is_some() {
                        let err = ErrPacket::new(
                            CR_SERVER_LOST,
                            "08S01",
                            format!("Lost connection to backend during query: {e}"),
                        );
                        self.send_err(req.seq.wrapping_add(1), &err).await;
                    }
                    // Part of a response was sent, or the primary's session (transaction,
                    // temporary tables, statements) is gone: the client must know.
                    return Err(if sent || is_primary {
                        Flow::Close
                    } else {
                        Flow::Continue
                    });
                }
            }
        }
    }

    async fn fail(&mut self, req: &Request<'_>, err: &ErrPacket) -> Flow {
        if req.kind.is_some() {
            self.send_err(req.seq.wrapping_add(1), err).await;
        }
        Flow::Continue
    }

    /// Appends a session command run on connection `idx`, which has now applied it.
    pub(crate) fn record(&mut self, cmd: SessionCommand, idx: usize) {
        let before = self.state.history.len();
        self.state.record(cmd);
        if self.state.history.len() > before {
            if let Some(c) = self.conns.get_mut(idx) {
                c.in_step_with(&self.state);
            }
        } else if self.state.add_pin(Pin::LongHistory) {
            self.proxy.route_stats.pinned(Pin::LongHistory);
        }
    }

    fn pin(&mut self, pin: Pin) {
        if self.state.add_pin(pin) {
            self.proxy.route_stats.pinned(pin);
        }
    }

    /// Updates the session from a statement that completed.
    pub(crate) fn after(&mut self, class: &Classification, payload: &[u8], out: &Outcome) {
        if matches!(
            class.reason,
            Reason::Unparseable | Reason::UnknownStatement | Reason::UnknownFunction
        ) {
            RouteStats::bump(&self.proxy.route_stats.unknown);
        }
        if out.walker.error.is_some() {
            return;
        }
        let e = class.effects;
        let text = payload.first() == Some(&crate::protocol::constants::com::COM_QUERY);
        if e.contains(Effects::SESSION_STATE) && crate::pool::conn::touches_tracking(payload) {
            // `last_gtid` may no longer be reported: positions are asked for instead.
            self.conns[out.idx].gtid_tracked = false;
        }
        if e.contains(Effects::SESSION_STATE) {
            if !text {
                self.pin(Pin::PreparedSessionChange);
            } else if e.contains(Effects::MULTI_STATEMENT) {
                self.pin(Pin::MixedBatch);
            } else {
                self.record(
                    SessionCommand::Query(Bytes::copy_from_slice(payload)),
                    out.idx,
                );
            }
        }
        if out.walker.schema_dropped {
            // The session has no schema now, but its other connections still do.
            self.pin(Pin::SchemaDropped);
        }
        if e.contains(Effects::CREATE_TEMP_TABLE) {
            self.pin(Pin::TempTable);
        }
        if e.contains(Effects::NAMED_LOCK) {
            self.pin(Pin::NamedLock);
        }
        if e.contains(Effects::LOCK_TABLES) {
            self.pin(Pin::LockTables);
        }
        if e.contains(Effects::USER_VAR_ASSIGN) {
            self.pin(Pin::UserVariable);
        }
        if e.contains(Effects::SQL_PREPARE) {
            self.state.sql_prepared = true;
        }
        if e.contains(Effects::CALC_FOUND_ROWS) {
            // FOUND_ROWS() is asked of the connection that ran this.
            self.hold = super::session::HOLD_AFTER_RESULT;
        }
        // A transaction stays on the connection it began on, even if the writer changes.
        if self.state.in_transaction() && self.state.txn_backend.is_none() {
            self.state.txn_backend = Some(self.conns[out.idx].backend.name.clone());
        }
    }
}

/// True when a response left something on its connection that a next statement may
/// ask about there: warnings or an error (SHOW WARNINGS), an insert id
/// (LAST_INSERT_ID()), affected rows (ROW_COUNT()).
fn leaves_results(w: &ResponseWalker) -> bool {
    w.error.is_some()
        || w.warnings > 0
        || w.ok
            .as_ref()
            .is_some_and(|ok| ok.last_insert_id > 0 || ok.affected_rows > 0)
}
