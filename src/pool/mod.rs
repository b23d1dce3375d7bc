//! Backend connections: connecting and logging in as a client would, an idle pool per
//! (backend, user, wire format), and resetting a connection before it is reused.

pub mod conn;
pub mod liveness;
pub mod login;
pub mod slot;
pub mod stmt_cache;
pub mod stream;
pub mod tls;

pub use conn::BackendConn;

use crate::protocol::packets::ErrPacket;
use crate::protocol::ProtocolError;
use crate::replication::Backend;
use crate::router;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a backend connection could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// TCP connect or login took longer than the connect timeout.
    #[error("timed out connecting to backend '{backend}' ({address}) after {ms} ms")]
    Timeout {
        /// Backend name.
        backend: String,
        /// Its address.
        address: String,
        /// The timeout.
        ms: u64,
    },
    /// The TCP connection failed.
    #[error("cannot connect to backend '{backend}' ({address}): {source}")]
    Connect {
        /// Backend name.
        backend: String,
        /// Its address.
        address: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The backend refused the login; its own error is passed on.
    #[error("backend '{backend}' refused login: {err}")]
    Refused {
        /// Backend name.
        backend: String,
        /// The backend's ERR packet.
        err: ErrPacket,
    },
    /// The backend asked for an auth method the proxy cannot answer.
    #[error("backend '{backend}' asks for auth plugin '{plugin}', which needs a password the proxy does not have or a method it does not support")]
    Unsupported {
        /// Backend name.
        backend: String,
        /// Plugin name.
        plugin: String,
    },
    /// The backend is at its `max_connections` and none came free in time (or too
    /// many requests already wait).
    #[error("rwproxy: backend '{backend}' has no free connection (max_connections = {max}); waited {waited_ms} ms")]
    Full {
        /// Backend name.
        backend: String,
        /// Its limit.
        max: u32,
        /// How long the request waited.
        waited_ms: u64,
    },
    /// TLS to the backend (`[proxy] backend_tls`) could not be established.
    #[error("backend '{backend}' ({address}): {source}")]
    Tls {
        /// Backend name.
        backend: String,
        /// Its address.
        address: String,
        /// What failed.
        source: tls::TlsError,
    },
    /// The wire broke during login or reset.
    #[error("backend '{backend}': {source}")]
    Protocol {
        /// Backend name.
        backend: String,
        /// What broke.
        source: ProtocolError,
    },
}

impl PoolError {
    /// The error as a client sees it: the backend's own error when it refused, else a
    /// 2003-class error naming the backend.
    pub fn to_err_packet(&self) -> ErrPacket {
        match self {
            PoolError::Refused { err, .. } => err.clone(),
            full @ PoolError::Full { .. } => ErrPacket::new(
                crate::protocol::constants::errors::ER_CON_COUNT_ERROR,
                "08004",
                full.to_string(),
            ),
            PoolError::Tls { .. } => ErrPacket::new(
                crate::protocol::constants::errors::CR_SSL_CONNECTION_ERROR,
                "HY000",
                format!("rwproxy: {self}"),
            ),
            other => ErrPacket::new(
                crate::protocol::constants::errors::CR_CONN_HOST_ERROR,
                "08S01",
                other.to_string(),
            ),
        }
    }
}

/// Identifies interchangeable connections: same backend, user and wire format.
#[derive(Debug, Clone, Eq)]
pub struct PoolKey {
    /// Backend name.
    pub backend: std::sync::Arc<str>,
    /// Backend user.
    pub user: std::sync::Arc<str>,
    /// Capability flags that change packet formats or semantics.
    pub caps: u32,
    /// MariaDB extended capabilities.
    pub ext_caps: u32,
    /// Collation id.
    pub charset: u8,
    /// The session worker that owns it (`server::workers::current`, 0 for the shared
    /// runtime): a connection is registered with its worker's reactor, so it goes to
    /// sessions on that worker, and its I/O does not wake another thread. Only at a
    /// backend's `max_connections` does a session borrow one of another worker's.
    pub worker: u16,
}

/// Keys are compared on every park: the names are shared `Arc`s, so equal pointers
/// settle it without comparing the text.
impl PartialEq for PoolKey {
    fn eq(&self, o: &Self) -> bool {
        self.worker == o.worker && self.eq_but_worker(o)
    }
}

impl PoolKey {
    /// Equal but for the worker: the connections of one key on different workers.
    pub fn eq_but_worker(&self, o: &Self) -> bool {
        let same = |a: &std::sync::Arc<str>, b: &std::sync::Arc<str>| {
            std::sync::Arc::ptr_eq(a, b) || a == b
        };
        self.caps == o.caps
            && self.ext_caps == o.ext_caps
            && self.charset == o.charset
            && same(&self.backend, &o.backend)
            && same(&self.user, &o.user)
    }
}

/// Hashes what `eq` compares (the names' text, not their pointers).
impl std::hash::Hash for PoolKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.backend.hash(h);
        self.user.hash(h);
        self.caps.hash(h);
        self.ext_caps.hash(h);
        self.charset.hash(h);
        self.worker.hash(h);
    }
}

/// Idle connections kept per key.
const MAX_IDLE_PER_KEY: usize = 256;

/// How far from the top of an idle list to look for a connection already in step.
const MATCH_SCAN: usize = 16;

/// What a checkout wants: a connection in this schema with this session state.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    /// The session's initial schema (a new or reset connection starts there).
    pub schema: Option<&'a str>,
    /// The session's state fingerprint; a pooled connection with the same one needs no
    /// replay.
    pub fp: u64,
}

/// Time limits of a checkout.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// To connect and log in.
    pub connect: Duration,
    /// To wait for a connection to come free when the backend is at its limit.
    pub queue: Duration,
    /// Requests that may wait for one backend at once.
    pub max_queued: usize,
}

impl Limits {
    /// The limits `[proxy]` sets.
    pub fn from_config(p: &crate::config::ProxyConfig) -> Limits {
        Limits {
            connect: Duration::from_millis(p.connect_timeout_ms),
            queue: Duration::from_millis(p.queue_timeout_ms),
            max_queued: p.max_queued,
        }
    }
}

/// The idle connections of one pool key. A session keeps the lists of its keys (see
/// [`Pool::list`]), so its checkout and park on every multiplexed statement take this
/// list's lock alone: no hashing of the key, no lookup, no lock shared by all keys (and,
/// with `[proxy] workers`, none shared between workers, whose keys differ).
#[derive(Debug)]
pub struct IdleList {
    key: PoolKey,
    // Boxed: a connection (336 bytes) moves in and out of this list and through the
    // session's futures on every multiplexed statement; a box makes each move a pointer.
    #[allow(clippy::vec_box)]
    conns: Mutex<Vec<Box<BackendConn>>>,
}

impl IdleList {
    /// The key of the connections it holds.
    pub fn key(&self) -> &PoolKey {
        &self.key
    }

    #[allow(clippy::vec_box)]
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Box<BackendConn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The idle pool.
#[derive(Debug, Default)]
pub struct Pool {
    /// The idle list of every key seen. Lock order: this map, then a list.
    lists: Mutex<FxHashMap<PoolKey, Arc<IdleList>>>,
    /// `[proxy] backend_tls`, built; None = plaintext.
    tls: arc_swap::ArcSwapOption<tls::BackendTls>,
    /// Whether `tls` is set: read on every park, where the flag is cheaper than a load.
    tls_on: std::sync::atomic::AtomicBool,
    /// `[proxy] pool_idle_timeout_ms` (0 = never).
    idle_timeout_ms: std::sync::atomic::AtomicU64,
    /// Bound on the reset at checkin (`[proxy] connect_timeout_ms`; 0 = none).
    reset_timeout_ms: std::sync::atomic::AtomicU64,
}

impl Pool {
    /// A connection for `key`: an idle one when possible, preferring one whose state
    /// fingerprint is `want.fp` (in step with the session already), else one brought
    /// back to a clean state in `want.schema`; else a new login, in a free slot under
    /// the backend's `max_connections`, waiting for one in a bounded queue if needed.
    pub async fn checkout(
        &self,
        backend: &Arc<Backend>,
        list: &IdleList,
        login: &login::Login,
        want: Want<'_>,
        limits: Limits,
    ) -> Result<Box<BackendConn>, PoolError> {
        // The place in the queue and when it was taken (the clock is read only then).
        let mut queued: Option<(slot::Queued, tokio::time::Instant)> = None;
        loop {
            // Once queued, the wakeup is registered before the look below: a connection
            // parked or a slot freed after the look then wakes this checkout itself. (A
            // wakeup that finds no registered waiter is kept as one permit, which two
            // queued checkouts could share, and the second would wait with a connection
            // idle.) A registered wakeup this checkout does not use passes to the next.
            let freed = backend.freed.notified();
            tokio::pin!(freed);
            if queued.is_some() {
                freed.as_mut().enable();
            }
            while let Some(conn) = take_idle(list, want.fp) {
                if let Some(conn) = ready(conn, backend, want, limits).await {
                    return Ok(conn);
                }
            }
            if let Some(slot) = slot::Slot::try_take(backend) {
                let (b, k) = (backend.clone(), list.key.clone());
                let tls = self.tls.load_full();
                let schema = want.schema;
                return BackendConn::connect(
                    slot,
                    b,
                    k,
                    login,
                    schema,
                    limits.connect,
                    tls.as_deref(),
                )
                .await;
            }
            // At the cap. An idle connection of this key that sessions on another
            // worker left is used here rather than closed: its readiness then comes from
            // that worker's reactor, and it goes back to that worker's list when parked.
            while let Some(conn) = self.borrow_idle(list, want.fp) {
                if let Some(conn) = ready(conn, backend, want, limits).await {
                    return Ok(conn);
                }
            }
            // Idle connections of other users hold slots: close one to make room.
            if self.close_one_idle(backend) {
                continue;
            }
            let Some((_, started)) = queued else {
                let Some(place) = slot::Queued::join(backend, limits.max_queued) else {
                    return Err(full(backend, None));
                };
                queued = Some((place, tokio::time::Instant::now()));
                // A connection parked before the join saw no queue and woke no one:
                // look again, registered for the wakeup.
                continue;
            };
            let left = limits.queue.saturating_sub(started.elapsed());
            if tokio::time::timeout(left, freed).await.is_err() {
                return Err(full(backend, Some(started)));
            }
        }
    }

    /// Sets the TLS new backend connections use (at start and on a config reload).
    pub fn set_tls(&self, tls: Option<Arc<tls::BackendTls>>) {
        self.tls_on
            .store(tls.is_some(), std::sync::atomic::Ordering::Relaxed);
        self.tls.store(tls);
    }

    /// The idle list of `key`, made the first time the key is seen.
    pub fn list(&self, key: &PoolKey) -> Arc<IdleList> {
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = lists.get(key) {
            return list.clone();
        }
        let list = Arc::new(IdleList {
            key: key.clone(),
            conns: Mutex::default(),
        });
        lists.insert(key.clone(), list.clone());
        list
    }

    /// An idle connection from the list of another worker's sessions with the same
    /// key otherwise (see `take_idle`).
    fn borrow_idle(&self, list: &IdleList, fp: u64) -> Option<Box<BackendConn>> {
        let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists
            .values()
            .filter(|l| l.key.worker != list.key.worker && l.key.eq_but_worker(&list.key))
            .find_map(|l| take_idle(l, fp))
    }

    /// Closes, in every list, the connections idle longer than `[proxy]
    /// pool_idle_timeout_ms`: a burst's extra connections, and the lists no statement
    /// parks into any more (those of another worker, or of a user gone quiet).
    pub fn sweep(&self, now: Instant) {
        let ms = self
            .idle_timeout_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        if ms == 0 {
            return;
        }
        let timeout = Duration::from_millis(ms);
        let mut closed = Vec::new();
        {
            let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
            let expired = |c: &BackendConn| now.saturating_duration_since(c.last_used) > timeout;
            for l in lists.values() {
                let mut conns = l.lock();
                if conns.iter().any(|c| expired(c)) {
                    // In order: the list's end is its most recently parked.
                    let (old, kept) = conns.drain(..).partition(|c| expired(c));
                    *conns = kept;
                    closed.push(old);
                }
            }
        }
        // Closed (dropped) outside the locks.
        drop(closed);
    }

    /// How often [`Pool::sweep`] should run: every half idle timeout, within 50 ms
    /// and 1 s (1 s when there is no timeout, to notice one set by a reload).
    pub fn sweep_period(&self) -> Duration {
        let ms = self
            .idle_timeout_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        match ms {
            0 => Duration::from_secs(1),
            ms => Duration::from_millis(ms / 2)
                .clamp(Duration::from_millis(50), Duration::from_secs(1)),
        }
    }

    /// Closes one idle connection to `backend` (the oldest of some key); false if none.
    fn close_one_idle(&self, backend: &Arc<Backend>) -> bool {
        let victim = {
            let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
            lists.values().find_map(|l| {
                let mut conns = l.lock();
                let theirs = conns
                    .first()
                    .is_some_and(|c| Arc::ptr_eq(&c.backend, backend));
                theirs.then(|| conns.remove(0))
            })
        };
        victim.is_some()
    }

    /// Puts a connection back as it is, its session state kept (multiplexing: the
    /// next session with the same fingerprint uses it without a replay). Looks its
    /// list up by key; a session parks into the list it keeps with [`Pool::park_in`].
    pub fn park(&self, conn: Box<BackendConn>) {
        let list = self.list(&conn.key);
        self.park_in(&list, conn);
    }

    /// [`Pool::park`] into `list`, which must be the list of `conn.key`.
    pub fn park_in(&self, list: &IdleList, mut conn: Box<BackendConn>) {
        debug_assert!(list.key == conn.key);
        if !self.wanted(&conn) || !conn.reusable {
            return;
        }
        conn.applied = 0;
        let mut list = list.lock();
        if list.len() >= MAX_IDLE_PER_KEY {
            return;
        }
        list.push(conn);
        // Only a queued checkout waits for this. One that joins the queue looks at the
        // idle lists again after joining (see `checkout`), so it finds this connection
        // there if it missed the wakeup: the push above and its look are ordered by the
        // lock, and its join comes before its look. (Expired connections are closed by
        // `sweep`.)
        let backend = &list[list.len() - 1].backend;
        if backend.queued.load(std::sync::atomic::Ordering::Acquire) > 0 {
            backend.freed.notify_one();
        }
    }

    /// Sets `[proxy] pool_idle_timeout_ms` (at start and on a config reload).
    pub fn set_idle_timeout(&self, ms: u64) {
        self.idle_timeout_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the bound on a checkin's reset, `[proxy] connect_timeout_ms` (at start and
    /// on a config reload).
    pub fn set_reset_timeout(&self, ms: u64) {
        self.reset_timeout_ms
            .store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Returns a connection after COM_RESET_CONNECTION succeeds on it (its session
    /// state, temporary tables, locks and statements gone); drops it otherwise.
    pub async fn checkin(&self, mut conn: Box<BackendConn>) {
        // RESET keeps the schema, which a COM_QUERY `USE` may have moved: reset()
        // reads it back.
        if !self.wanted(&conn) || !conn.reusable {
            return;
        }
        // Bounded like the reset that readies a connection at checkout: no client waits
        // on this one, but a hung server must not hold the connection (and its task).
        let ms = self
            .reset_timeout_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        let reset = if ms == 0 {
            conn.reset().await.is_ok()
        } else {
            matches!(
                tokio::time::timeout(Duration::from_millis(ms), conn.reset()).await,
                Ok(Ok(()))
            )
        };
        if !reset {
            return;
        }
        conn.waited_gtid = None;
        self.park(conn);
    }

    /// False for a connection to a backend retired by a reload or taken offline, or
    /// made before a reload turned backend TLS on or off.
    fn wanted(&self, conn: &BackendConn) -> bool {
        !conn
            .backend
            .retired
            .load(std::sync::atomic::Ordering::Relaxed)
            && conn.backend.state() != crate::replication::BackendState::Offline
            && conn.conn.stream().is_tls() == self.tls_on.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Number of idle connections (all keys).
    pub fn idle_count(&self) -> usize {
        let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists.values().map(|l| l.lock().len()).sum()
    }

    /// Idle connections per backend (the admin port's `conn_idle`); counts only those
    /// to `backend` itself, not to a backend of the same name a reload replaced.
    pub fn idle_of(&self, backend: &Arc<Backend>) -> usize {
        let lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists
            .values()
            .map(|l| {
                l.lock()
                    .iter()
                    .filter(|c| Arc::ptr_eq(&c.backend, backend))
                    .count()
            })
            .sum()
    }

    /// Closes the idle connections to backends named `name` (taken offline, removed or
    /// replaced by a reload). Lists no session keeps any more go too.
    pub fn close_idle(&self, name: &str) {
        let mut closed = Vec::new();
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists.retain(|k, l| {
            if &*k.backend != name {
                return true;
            }
            closed.append(&mut l.lock());
            // Only the map holds it: no session can park into it.
            Arc::strong_count(l) > 1
        });
        drop(lists);
        // Closed (dropped) outside the locks.
        drop(closed);
    }
}

/// `conn`, taken idle, made ready for `want`: None when it cannot serve (a reload
/// replaced its backend, the server closed it while it sat idle, or a reset failed).
async fn ready(
    conn: Box<BackendConn>,
    backend: &Arc<Backend>,
    want: Want<'_>,
    limits: Limits,
) -> Option<Box<BackendConn>> {
    // The clock is read here, not passed in: a caller's reading may predate a long
    // wait (a timed-out read retried elsewhere), and an old `now` would skip the check.
    if !Arc::ptr_eq(&conn.backend, backend) || !liveness::usable(&conn, Instant::now()) {
        return None;
    }
    if conn.fp == want.fp {
        return Some(conn);
    }
    // Bounded: a hung server must not hold the request in a reset.
    tokio::time::timeout(limits.connect, resync(conn, want))
        .await
        .ok()
        .flatten()
}

/// The most recently returned idle connection in `list`, or one of the latest whose
/// fingerprint is `fp`.
fn take_idle(list: &IdleList, fp: u64) -> Option<Box<BackendConn>> {
    let mut list = list.lock();
    let n = list.len();
    let i = (n.saturating_sub(MATCH_SCAN)..n)
        .rev()
        .find(|&i| list[i].fp == fp)
        .unwrap_or(n.checked_sub(1)?);
    Some(list.swap_remove(i))
}

/// Brings an idle connection with another session's state back to a clean state in
/// the wanted schema. None if it cannot be used.
async fn resync(mut conn: Box<BackendConn>, want: Want<'_>) -> Option<Box<BackendConn>> {
    let clean = router::session::base_fingerprint(conn.schema.as_deref());
    if conn.fp != clean {
        // Another session's settings: back to a clean state (one round trip).
        conn.reset().await.ok()?;
    }
    if conn.schema.as_deref() == want.schema {
        return Some(conn);
    }
    // A connection with a schema cannot go back to none.
    conn.init_db(want.schema?).await.ok()?;
    Some(conn)
}

/// The queue error for `backend`: its queue is full (`started` None), or the wait that
/// began at `started` timed out.
fn full(backend: &Arc<Backend>, started: Option<tokio::time::Instant>) -> PoolError {
    backend
        .queue_timeouts
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    PoolError::Full {
        backend: backend.name.to_string(),
        max: backend.max_conns.load(std::sync::atomic::Ordering::Relaxed),
        waited_ms: started.map_or(0, |s| s.elapsed().as_millis() as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::PoolKey;
    use std::hash::BuildHasher;

    fn key(backend: &str, user: &str, worker: u16) -> PoolKey {
        PoolKey {
            backend: backend.into(),
            user: user.into(),
            caps: 1,
            ext_caps: 0,
            charset: 45,
            worker,
        }
    }

    #[test]
    fn keys_with_equal_names_in_different_allocations_are_one_key() {
        let (a, b) = (key("replica1", "app", 0), key("replica1", "app", 0));
        assert!(!std::sync::Arc::ptr_eq(&a.backend, &b.backend));
        assert_eq!(a, b);
        let h = rustc_hash::FxBuildHasher;
        assert_eq!(h.hash_one(&a), h.hash_one(&b));
        assert_ne!(a, key("replica2", "app", 0));
        assert_ne!(a, key("replica1", "bob", 0));
        assert_ne!(a, key("replica1", "app", 1));
    }

    #[test]
    fn a_key_keeps_one_list_until_no_session_keeps_it_and_its_backend_is_closed() {
        let pool = super::Pool::default();
        let kept = pool.list(&key("replica1", "app", 0));
        // Equal keys made apart share the list.
        assert!(std::sync::Arc::ptr_eq(
            &kept,
            &pool.list(&key("replica1", "app", 0))
        ));
        let unkept = std::sync::Arc::downgrade(&pool.list(&key("replica1", "bob", 0)));
        let other = std::sync::Arc::downgrade(&pool.list(&key("replica2", "bob", 0)));
        pool.close_idle("replica1");
        // A list a session keeps stays the key's list: its parks must stay countable.
        assert!(std::sync::Arc::ptr_eq(
            &kept,
            &pool.list(&key("replica1", "app", 0))
        ));
        assert!(unkept.upgrade().is_none(), "nobody keeps it: gone");
        assert!(other.upgrade().is_some(), "another backend's list stays");
    }
}
