//! Live client sessions by proxy connection id, so `KILL n` can find the backend thread
//! serving session `n` and `SHOW SESSIONS` can list them. The map changes only at
//! connect and disconnect; each session updates its own [`Activity`] per command (an
//! uncontended lock the admin port reads rarely).

use crate::replication::Backend;
use atomic_waker::AtomicWaker;
use dashmap::DashMap;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

/// Longest statement text kept for `SHOW SESSIONS`.
const MAX_SHOWN: usize = 512;

/// What a session is doing, for `SHOW SESSIONS`.
#[derive(Debug, Default)]
pub struct Activity {
    /// Command being run (`Query`, `Execute` …), None while idle.
    pub command: Option<&'static str>,
    /// Statement text (first [`MAX_SHOWN`] bytes) of the current or last query, as
    /// sent: made text only when `SHOW SESSIONS` asks, not on every statement.
    pub statement: Vec<u8>,
    /// When the current (or, while idle, the last) command started. Only one clock
    /// read per command: idle time counts from the last command's start.
    pub since: Option<Instant>,
    /// Current schema.
    pub db: Option<String>,
}

/// Where a session's statements run, as `KILL` sees it.
#[derive(Debug, Default)]
pub struct Serving {
    /// The backend and thread id serving the session now; None once its connections
    /// went back to the pool.
    pub now: Option<(Arc<Backend>, u32)>,
    /// Connections a KILL was sent to and has not answered yet. They must not go back
    /// to the pool while it is on its way: another session could take one, and the KILL
    /// with it.
    kills: Vec<(Arc<Backend>, u32)>,
}

/// True when both name the same backend connection.
fn same(a: &(Arc<Backend>, u32), backend: &Backend, thread: u32) -> bool {
    a.1 == thread && a.0.name == backend.name
}

impl Serving {
    /// Takes the connection serving the session now as a KILL's target, keeping it out
    /// of the pool until [`Serving::end_kill`]; None when nothing serves it.
    pub fn begin_kill(&mut self) -> Option<(Arc<Backend>, u32)> {
        let target = self.now.clone()?;
        self.kills.push(target.clone());
        Some(target)
    }

    /// The KILL sent to `target` has been answered (or given up).
    pub fn end_kill(&mut self, target: &(Arc<Backend>, u32)) {
        if let Some(i) = self.kills.iter().position(|k| same(k, &target.0, target.1)) {
            self.kills.swap_remove(i);
        }
    }

    /// The session gives connection `thread` of `backend` up: no KILL may find it from
    /// now on. True when it may go to the pool, false when a KILL is on its way to it
    /// (it must be closed instead).
    pub fn release(&mut self, backend: &Backend, thread: u32) -> bool {
        if self.now.as_ref().is_some_and(|n| same(n, backend, thread)) {
            self.now = None;
        }
        !self.kills.iter().any(|k| same(k, backend, thread))
    }
}

/// One row of `SHOW SESSIONS`.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Proxy connection id.
    pub id: u32,
    /// Client address.
    pub peer: Option<SocketAddr>,
    /// User.
    pub user: String,
    /// Current schema.
    pub db: Option<String>,
    /// Backend serving its statements now, and that backend's thread id.
    pub backend: Option<(String, u32)>,
    /// `Query`, `Execute` …, or `Sleep` while idle.
    pub command: &'static str,
    /// Time since the current (or, while idle, the last) command started.
    pub time: Duration,
    /// The statement running now (or last run).
    pub statement: String,
}

/// What other sessions may know about one session.
#[derive(Debug)]
pub struct SessionHandle {
    /// Proxy connection id (what the client saw in the greeting).
    pub id: u32,
    /// Authenticated user.
    pub user: Mutex<String>,
    /// The backend connection serving it, and those a KILL is on its way to.
    pub backend: Mutex<Serving>,
    /// Raised by `KILL CONNECTION` or shutdown.
    pub stop: StopSignal,
    /// Set while a `KILL CONNECTION` of this session is under way.
    pub killed: std::sync::atomic::AtomicBool,
    /// Client address.
    pub peer: Option<SocketAddr>,
    /// What it is doing.
    pub activity: Mutex<Activity>,
    /// Its place in its user's session count (`[[users]] max_connections`), from
    /// login; given back when the session leaves the registry.
    pub user_slot: Mutex<Option<super::limits::UserSlot>>,
}

impl SessionHandle {
    /// Notes that a command started: its name and, for statements, their text.
    pub fn begin(&self, command: &'static str, text: Option<&[u8]>) {
        let mut a = self.activity.lock().unwrap_or_else(|e| e.into_inner());
        a.command = Some(command);
        a.since = Some(Instant::now());
        if let Some(t) = text {
            let t = &t[..t.len().min(MAX_SHOWN)];
            a.statement.clear();
            a.statement.extend_from_slice(t);
        }
    }

    /// Notes that the command ended; `db` is the session's schema now.
    pub fn end(&self, db: Option<&str>) {
        let mut a = self.activity.lock().unwrap_or_else(|e| e.into_inner());
        a.command = None;
        if a.db.as_deref() != db {
            a.db = db.map(str::to_string);
        }
    }

    /// A snapshot for `SHOW SESSIONS`.
    pub fn info(&self) -> SessionInfo {
        let user = self.user.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let backend = self
            .backend
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .now
            .as_ref()
            .map(|(b, t)| (b.name.to_string(), *t));
        let a = self.activity.lock().unwrap_or_else(|e| e.into_inner());
        SessionInfo {
            id: self.id,
            peer: self.peer,
            user,
            db: a.db.clone(),
            backend,
            command: a.command.unwrap_or("Sleep"),
            time: a.since.map(|s| s.elapsed()).unwrap_or_default(),
            statement: String::from_utf8_lossy(&a.statement).into_owned(),
        }
    }
}

/// Tells one session to end: raised once, by `KILL CONNECTION` or shutdown, and awaited
/// by the session between commands. A session polls it twice per command (while it waits
/// for the next one and when that arrives), so polling is an atomic load and a waker
/// registration; a `CancellationToken`'s took two mutexes per poll, 500 instructions per
/// point select.
#[derive(Debug, Default)]
pub struct StopSignal {
    raised: AtomicBool,
    waker: AtomicWaker,
}

impl StopSignal {
    /// Raises the signal and wakes the session if it waits on it.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// True once raised.
    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Completes once the signal is raised. Await it from one task only: it keeps one
    /// waker.
    pub async fn raised(&self) {
        poll_fn(|cx| {
            if self.is_raised() {
                return Poll::Ready(());
            }
            self.waker.register(cx.waker());
            // Raised between the look and the registration: its wake found no waker.
            if self.is_raised() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// The registry.
#[derive(Debug, Default)]
pub struct Registry {
    sessions: DashMap<u32, Arc<SessionHandle>>,
    next_id: AtomicU32,
    /// Set by [`stop_all`](Registry::stop_all): sessions registered later start stopped.
    stopping: AtomicBool,
}

impl Registry {
    /// Registers a new session from `peer` and returns its handle; after
    /// [`stop_all`](Registry::stop_all) its stop signal is raised already.
    pub fn register(&self, peer: Option<SocketAddr>) -> Arc<SessionHandle> {
        let id = loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
            if id != 0 && !self.sessions.contains_key(&id) {
                break id;
            }
        };
        let h = Arc::new(SessionHandle {
            id,
            user: Mutex::new(String::new()),
            backend: Mutex::new(Serving::default()),
            stop: StopSignal::default(),
            killed: Default::default(),
            peer,
            activity: Mutex::new(Activity::default()),
            user_slot: Mutex::new(None),
        });
        self.sessions.insert(id, h.clone());
        // After the insert: a `stop_all` that began earlier either finds this session in
        // the map or has set `stopping` before this look (both are SeqCst).
        if self.stopping.load(Ordering::SeqCst) {
            h.stop.raise();
        }
        h
    }

    /// Raises every session's stop signal, and that of every session registered from
    /// now on (shutdown).
    pub fn stop_all(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for h in self.sessions.iter() {
            h.stop.raise();
        }
    }

    /// Removes a session and gives back its place in its user's count.
    pub fn remove(&self, id: u32) {
        if let Some((_, h)) = self.sessions.remove(&id) {
            h.user_slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        }
    }

    /// Looks a session up.
    pub fn get(&self, id: u32) -> Option<Arc<SessionHandle>> {
        self.sessions.get(&id).map(|h| h.clone())
    }

    /// Every live session, by id.
    pub fn list(&self) -> Vec<SessionInfo> {
        let mut v: Vec<SessionInfo> = self.sessions.iter().map(|h| h.info()).collect();
        v.sort_by_key(|i| i.id);
        v
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BackendConfig, Role};

    fn backend(name: &str) -> Arc<Backend> {
        Arc::new(Backend::new(&BackendConfig {
            name: name.into(),
            address: "127.0.0.1:1".into(),
            role: Role::Replica,
            weight: 1,
            max_lag_ms: 1000,
            state: Default::default(),
            max_connections: 10,
        }))
    }

    #[test]
    fn a_connection_a_kill_is_on_its_way_to_stays_out_of_the_pool_until_answered() {
        let (r1, r2) = (backend("r1"), backend("r2"));
        let mut s = Serving {
            now: Some((r1.clone(), 7)),
            ..Default::default()
        };
        let target = s.begin_kill().expect("a connection serves the session");
        assert!(!s.release(&r1, 7), "the KILL's target must not be pooled");
        assert!(s.now.is_none(), "released: no later KILL finds it");
        assert!(
            s.release(&r1, 8) && s.release(&r2, 7),
            "other connections may"
        );
        s.end_kill(&target);
        assert!(s.release(&r1, 7), "after the answer it may be pooled again");
    }

    #[tokio::test]
    async fn stop_all_stops_live_sessions_and_those_registered_after_it() {
        let r = Registry::default();
        let live = r.register(None);
        assert!(!live.stop.is_raised());
        let waiting = tokio::spawn({
            let live = live.clone();
            async move { live.stop.raised().await }
        });
        tokio::task::yield_now().await;
        r.stop_all();
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the waiting session is woken")
            .unwrap();
        let late = r.register(None);
        assert!(late.stop.is_raised(), "a session registered after stop_all");
        late.stop.raised().await;
    }

    #[test]
    fn a_kill_finds_nothing_once_the_connection_went_back() {
        let r1 = backend("r1");
        let mut s = Serving {
            now: Some((r1.clone(), 7)),
            ..Default::default()
        };
        assert!(s.release(&r1, 7));
        assert!(s.begin_kill().is_none());
    }
}
