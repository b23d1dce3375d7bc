//! The backend connections one session holds — at most one per backend — and keeping
//! each in step with the session: a connection is checked out from the pool on first
//! use, starts in the session's initial schema, and gets the session's command history
//! (SET, SET NAMES, USE, COM_SET_OPTION …) replayed before its first statement.

use super::session::Session;
use crate::pool::login::FORMAT_CAPS;
use crate::pool::{BackendConn, Limits, PoolError, PoolKey, Want};
use crate::protocol::constants::caps::CLIENT_SESSION_TRACK;
use crate::protocol::constants::com::COM_QUERY;
use crate::protocol::constants::errors::CR_CONN_HOST_ERROR;
use crate::protocol::packets::ErrPacket;
use crate::protocol::response::ResponseKind;
use crate::replication::Backend;
use crate::router::session::SessionCommand;
use std::sync::Arc;
use std::time::Duration;

/// Pool keys a session keeps (one per backend it uses; more only after reloads).
const MAX_POOL_KEYS: usize = 16;

impl Session {
    /// The primary backend of the current topology.
    pub(crate) fn primary_backend(&self) -> Result<Arc<Backend>, ErrPacket> {
        let topo = self.proxy.topology.load();
        topo.writer()
            .or_else(|| topo.primary())
            .cloned()
            .ok_or_else(|| {
                ErrPacket::new(CR_CONN_HOST_ERROR, "08S01", "no primary backend configured")
            })
    }

    /// The backend that takes writes; while none is writable (a failover in progress),
    /// waits up to `[proxy] write_hold_ms` for one, then fails with a clear error.
    pub(crate) async fn writer(&self) -> Result<Arc<Backend>, ErrPacket> {
        let hold = Duration::from_millis(self.proxy.config.load().proxy.write_hold_ms);
        let deadline = tokio::time::Instant::now() + hold;
        loop {
            if let Some(w) = self.proxy.topology.load().writer() {
                return Ok(w.clone());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ErrPacket::new(
                    1290,
                    "HY000",
                    format!(
                        "rwproxy: no writable primary (every backend is read_only or down); waited {} ms (write_hold_ms)",
                        hold.as_millis()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// True if `b` takes writes now.
    pub(crate) fn is_writer(&self, b: &Backend) -> bool {
        self.proxy.topology.load().is_writer(b)
    }

    /// Index in `self.conns` of a connection to `backend` that is in step with the
    /// session, connecting and replaying the history as needed.
    pub(crate) async fn conn_to(&mut self, backend: &Arc<Backend>) -> Result<usize, PoolError> {
        let idx = match self
            .conns
            .iter()
            .position(|c| c.backend.name == backend.name)
        {
            Some(i) => i,
            None => {
                let list = self.pool_list(backend);
                let limits = Limits::from_config(&self.proxy.config.load().proxy);
                let want = Want {
                    schema: self.state.initial_schema.as_deref(),
                    fp: self.state.fingerprint,
                };
                let mut conn = self
                    .proxy
                    .pool
                    .checkout(backend, &self.pool_lists[list].1, &self.login, want, limits)
                    .await
                    .inspect_err(|_| backend.count_error())?;
                // Equal fingerprints: the connection has this session's settings already.
                conn.applied = if conn.fp == want.fp {
                    self.state.history.len()
                } else {
                    0
                };
                self.conns.push(conn);
                self.conns.len() - 1
            }
        };
        let behind = self.conns[idx].applied < self.state.history.len();
        // Nothing to replay (the common case): no timer, no config read. Otherwise
        // bounded like a login: a hung server must not hold the session.
        let replayed = if behind {
            let limit = Duration::from_millis(self.proxy.config.load().proxy.connect_timeout_ms);
            tokio::time::timeout(limit, replay(&mut self.conns[idx], &self.state.history))
                .await
                .unwrap_or_else(|_| {
                    Err(PoolError::Timeout {
                        backend: backend.name.to_string(),
                        address: backend.address.clone(),
                        ms: limit.as_millis() as u64,
                    })
                })
        } else {
            Ok(())
        };
        if let Err(e) = replayed {
            // The connection's session state is unknown now: never reuse it.
            self.conns.swap_remove(idx);
            return Err(e);
        }
        self.conns[idx].in_step_with(&self.state);
        Ok(idx)
    }

    /// Index in `self.pool_lists` of the idle list of this session's connections to
    /// `backend`, looked up the first time: a multiplexed session checks out and parks
    /// on every statement, and building the key and looking it up each time cost two
    /// shared reference counts, a hash of the names and the pool-wide lock.
    fn pool_list(&mut self, backend: &Arc<Backend>) -> usize {
        // The list's own key may hold other copies of the names (the first session to
        // use the key made it): the backend's name it was looked up for is kept.
        let known = self
            .pool_lists
            .iter()
            .position(|(name, _)| Arc::ptr_eq(name, &backend.name));
        if let Some(i) = known {
            return i;
        }
        // Lists of backends a reload replaced linger until the list is full.
        if self.pool_lists.len() >= MAX_POOL_KEYS {
            self.pool_lists.clear();
        }
        let key = PoolKey {
            backend: backend.name.clone(),
            user: self.pool_user.clone(),
            // Always with session tracking: OKs then report what a write committed
            // (`last_gtid`); a client that did not ask for it gets OKs without it (see
            // `forward`).
            caps: (self.caps & FORMAT_CAPS) | CLIENT_SESSION_TRACK,
            ext_caps: self.ext_caps,
            charset: self.charset,
            worker: super::workers::current(),
        };
        let list = self.proxy.pool.list(&key);
        self.pool_lists.push((backend.name.clone(), list));
        self.pool_lists.len() - 1
    }

    /// Multiplexing: gives the session's connections back to the pool, their settings
    /// kept, when nothing ties the session to them — no transaction, pin, prepared
    /// statement with long data or a cursor, or recent result the next statement may ask
    /// about (see `hold`).
    pub(crate) fn park_if_free(&mut self) {
        if self.conns.is_empty() || !self.multiplexing || self.hold > 0 || !self.unbound() {
            return;
        }
        // No KILL may reach a connection another session may take next.
        let mut serving = self
            .handle
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for c in self.conns.drain(..) {
            if serving.release(&c.backend, c.thread_id) {
                // The list its checkout came from, unless its key changed since.
                match self.pool_lists.iter().find(|(_, l)| *l.key() == c.key) {
                    Some((_, list)) => self.proxy.pool.park_in(list, c),
                    None => self.proxy.pool.park(c),
                }
            }
        }
        // Nothing serves the session now (not even a connection dropped earlier).
        serving.now = None;
    }

    /// Gives `c` back to the pool with a reset, unless a KILL is on its way to it
    /// (then it is closed: the KILL must not reach the connection's next user).
    fn check_in(&self, c: Box<BackendConn>) {
        let poolable = self
            .handle
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(&c.backend, c.thread_id);
        if poolable {
            let proxy = self.proxy.clone();
            tokio::spawn(async move { proxy.pool.checkin(c).await });
        }
    }

    /// True when the backend connections hold nothing of the session's beyond what
    /// its history replays.
    pub(crate) fn unbound(&self) -> bool {
        let st = &self.state;
        !st.in_transaction()
            && st.autocommit()
            && st.pins == 0
            && !st.sql_prepared
            && !self.stmts.pinned()
    }

    /// Publishes where the session's statements now run, for KILL.
    pub(crate) fn publish_backend(&self, idx: usize) {
        let c = &self.conns[idx];
        let mut slot = self
            .handle
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let same = slot
            .now
            .as_ref()
            .is_some_and(|(b, t)| Arc::ptr_eq(b, &c.backend) && *t == c.thread_id);
        if !same {
            slot.now = Some((c.backend.clone(), c.thread_id));
        }
    }

    /// Drops a connection whose state is unknown (mid-response failure).
    pub(crate) fn discard(&mut self, idx: usize) {
        if idx < self.conns.len() {
            self.conns.swap_remove(idx);
        }
    }

    /// Returns every connection but the primary's to the pool.
    pub(crate) fn release_replicas(&mut self) {
        let primary = self.primary_backend().ok();
        let (keep, give): (Vec<_>, Vec<_>) = self
            .conns
            .drain(..)
            .partition(|c| primary.as_ref().is_some_and(|p| p.name == c.backend.name));
        self.conns = keep;
        for c in give {
            self.check_in(c);
        }
    }

    /// Returns every connection to the pool: as they are when nothing ties them to the
    /// session (multiplexing), else reset.
    pub(crate) fn release_all(&mut self) {
        if self.multiplexing && self.unbound() {
            self.hold = 0;
            self.park_if_free();
            return;
        }
        for c in std::mem::take(&mut self.conns) {
            self.check_in(c);
        }
        self.handle
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .now = None;
    }
}

/// Applies the history entries `conn` has not seen yet.
async fn replay(conn: &mut BackendConn, history: &[SessionCommand]) -> Result<(), PoolError> {
    while let Some(cmd) = history.get(conn.applied) {
        let kind = match cmd.payload().first() {
            Some(&COM_QUERY) => ResponseKind::Query,
            _ => ResponseKind::Single,
        };
        conn.exec_quiet(cmd.payload(), kind).await?;
        if crate::pool::conn::touches_tracking(cmd.payload()) {
            conn.gtid_tracked = false;
        }
        conn.applied += 1;
    }
    Ok(())
}
